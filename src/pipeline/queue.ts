// The ingest buffer: requests waiting for a flusher, bounded by events AND bytes.
// A request goes in whole or not at all (a full buffer answers 503 with nothing
// half-queued), and comes out whole: a flush takes whole requests, so a request's
// events are always committed in one transaction, never split between a committed
// flush and a failed one.

import { assert } from '../assert'
import type { EventRow } from '../event'
import type { Ack } from './ack'
import { RingBuffer } from './ring-buffer'

export interface Pending {
  rows: EventRow[]
  bytes: number
  ack: Ack
}

export class EventQueue {
  // A request holds at least one event, so eventsMax requests is never the bound that bites.
  private readonly ring: RingBuffer<Pending>
  depth = 0
  bytes = 0
  private waiters: { rows: number; resolve: () => void }[] = []
  private closed = false

  constructor(readonly eventsMax: number, readonly bytesMax: number) {
    this.ring = new RingBuffer(eventsMax)
  }

  // The request is queued, or nothing is (false: no space).
  offer(p: Pending): boolean {
    if (this.depth + p.rows.length > this.eventsMax || this.bytes + p.bytes > this.bytesMax) return false
    this.ring.pushAssumeCapacity(p)
    this.depth += p.rows.length
    this.bytes += p.bytes
    this.wake()
    return true
  }

  // Takes whole requests while the batch stays within rowsMax and bytesMax, and
  // always the first one, however large: a request over the caps is flushed alone.
  take(rowsMax: number, bytesMax: number): Pending[] {
    const batch: Pending[] = []
    let rows = 0
    let bytes = 0
    for (;;) {
      const next = this.ring.peek()
      if (!next) break
      if (batch.length > 0 && (rows + next.rows.length > rowsMax || bytes + next.bytes > bytesMax)) break
      this.ring.shift()
      rows += next.rows.length
      bytes += next.bytes
      batch.push(next)
    }
    this.depth -= rows
    this.bytes -= bytes
    assert(this.depth >= 0 && this.bytes >= 0, 'queue counts went negative')
    return batch
  }

  // Resolves when at least `rows` events wait (one request, whatever its size, when
  // rows is 1), or at once after close().
  waitForWork(rows = 1): Promise<void> {
    if (this.ready(rows)) return Promise.resolve()
    return new Promise(resolve => this.waiters.push({ rows, resolve }))
  }

  // One waiting request is always enough for rows <= 1, whatever its event count.
  private ready(rows: number): boolean {
    return this.closed || (this.ring.count > 0 && (rows <= 1 || this.depth >= rows))
  }

  close(): void {
    this.closed = true
    this.wake()
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]
      if (!this.ready(w.rows)) continue
      this.waiters.splice(i, 1)
      w.resolve()
    }
  }
}
