// Recent receipts: when each recently acknowledged event was received and made
// durable, and where (Postgres or the spill). Postgres keeps received_at for ever,
// but the moment an event became durable exists only here, for the last
// RECEIPT_EVENTS_MAX events; older ones answer without it. Insertion order is
// age order (a Map keeps it), so evicting the oldest is O(1).

import type { EventRow } from '../ingest/validate'
import type { DurableIn } from './hub'

export interface Receipt {
  receivedAtMs: number
  durableAtMs: number
  where: DurableIn
}

const key = (projectId: number, id: string) => `${projectId}\u0001${id}`

export class Receipts {
  private entries = new Map<string, Receipt>()

  constructor(readonly entriesMax: number) {}

  get size(): number {
    return this.entries.size
  }

  record(rows: readonly EventRow[], accepted: (i: number) => boolean, where: DurableIn, durableAtMs: number): void {
    if (this.entriesMax === 0) return
    for (let i = 0; i < rows.length; i++) {
      if (!accepted(i)) continue
      const k = key(rows[i].projectId, rows[i].id)
      if (this.entries.size >= this.entriesMax && !this.entries.has(k)) {
        const oldest = this.entries.keys().next().value
        if (oldest !== undefined) this.entries.delete(oldest)
      }
      this.entries.set(k, { receivedAtMs: rows[i].receivedAtMs, durableAtMs, where })
    }
  }

  get(projectId: number, id: string): Receipt | undefined {
    return this.entries.get(key(projectId, id))
  }
}
