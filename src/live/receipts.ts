// Recent receipts: when each recently acknowledged event was received and made
// durable, and where (Postgres or the spill). Postgres keeps received_at for ever,
// but the moment an event became durable exists only here, for the last
// RECEIPT_EVENTS_MAX events; older ones answer without it.
//
// Kept per flush, not per event: recording is on the hot path (every acknowledged
// event) and a lookup is a person opening one event in the console. A Map entry,
// key string and object per event cost ~6 µs of the HTTP thread per single-event
// request and ~80 MiB of RSS at 100,000 events (measured with wrk, 64 connections);
// one flush's ids (strings the rows already hold) and two typed arrays cost a few
// bytes an event, and a lookup scans at most RECEIPT_EVENTS_MAX ids (~1 ms).

import type { EventRow } from '../ingest/validate'
import type { DurableIn } from './hub'

export interface Receipt {
  receivedAtMs: number
  durableAtMs: number
  where: DurableIn
}

// The accepted events of one flush, oldest first; those before `start` are evicted.
interface Flush {
  ids: string[]
  projectIds: Int32Array
  receivedAtMs: Float64Array
  durableAtMs: number
  where: DurableIn
  start: number
}

export class Receipts {
  // Oldest first; `head` is the first flush still kept (the array is compacted now and then).
  private flushes: Flush[] = []
  private head = 0
  size = 0

  constructor(readonly entriesMax: number) {}

  record(rows: readonly EventRow[], accepted: (i: number) => boolean, where: DurableIn, durableAtMs: number): void {
    if (this.entriesMax === 0) return
    let n = 0
    for (let i = 0; i < rows.length; i++) if (accepted(i)) n++
    if (n === 0) return
    const f: Flush = { ids: new Array(n), projectIds: new Int32Array(n), receivedAtMs: new Float64Array(n), durableAtMs, where, start: 0 }
    for (let i = 0, k = 0; i < rows.length; i++) {
      if (!accepted(i)) continue
      f.ids[k] = rows[i].id
      f.projectIds[k] = rows[i].projectId
      f.receivedAtMs[k] = rows[i].receivedAtMs
      k++
    }
    this.flushes.push(f)
    this.size += n
    this.evict()
  }

  // The first receipt of the id (an id is accepted twice only across the spill and
  // Postgres, and keeps the spill's).
  get(projectId: number, id: string): Receipt | undefined {
    for (let j = this.head; j < this.flushes.length; j++) {
      const f = this.flushes[j]
      for (let k = f.start; k < f.ids.length; k++) {
        if (f.ids[k] === id && f.projectIds[k] === projectId) {
          return { receivedAtMs: f.receivedAtMs[k], durableAtMs: f.durableAtMs, where: f.where }
        }
      }
    }
    return undefined
  }

  private evict(): void {
    while (this.size > this.entriesMax) {
      const oldest = this.flushes[this.head]
      const drop = Math.min(this.size - this.entriesMax, oldest.ids.length - oldest.start)
      oldest.start += drop
      this.size -= drop
      if (oldest.start === oldest.ids.length) this.flushes[this.head++] = undefined as unknown as Flush
    }
    // Compact once the evicted slots are half the array, so it never grows without bound.
    if (this.head > 64 && this.head * 2 > this.flushes.length) {
      this.flushes = this.flushes.slice(this.head)
      this.head = 0
    }
  }
}
