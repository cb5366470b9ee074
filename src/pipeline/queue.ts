// The ingest buffer: events waiting for a flusher, bounded by count AND bytes.
// A request's events go in all together or not at all, so a full buffer answers
// 503 with nothing half-queued.

import { assert } from '../assert'
import type { EventRow } from '../ingest/validate'
import type { Ack } from './ack'
import { RingBuffer } from './ring-buffer'

export interface Entry {
  row: EventRow
  ack: Ack
  slot: number
}

export class EventQueue {
  private readonly ring: RingBuffer<Entry>
  bytes = 0
  private waiters: (() => void)[] = []

  constructor(readonly eventsMax: number, readonly bytesMax: number) {
    this.ring = new RingBuffer(eventsMax)
  }

  get depth(): number {
    return this.ring.count
  }

  // All of `entries` are queued, or none are (false: no space).
  offer(entries: Entry[]): boolean {
    let bytes = 0
    for (const e of entries) bytes += e.row.bytes
    if (entries.length > this.ring.free || this.bytes + bytes > this.bytesMax) return false
    for (const e of entries) this.ring.pushAssumeCapacity(e)
    this.bytes += bytes
    this.wake()
    return true
  }

  // Takes everything waiting, up to a batch's rows and bytes. Always takes at least
  // one entry when any waits, so an event as big as the byte cap still moves.
  take(rowsMax: number, bytesMax: number): Entry[] {
    const batch: Entry[] = []
    let bytes = 0
    while (batch.length < rowsMax) {
      const next = this.ring.peek()
      if (!next) break
      if (batch.length > 0 && bytes + next.row.bytes > bytesMax) break
      this.ring.shift()
      bytes += next.row.bytes
      batch.push(next)
    }
    this.bytes -= bytes
    assert(this.bytes >= 0, 'queue byte count went negative')
    return batch
  }

  private closed = false

  // Resolves when there is something to take, or at once after close().
  waitForWork(): Promise<void> {
    if (this.ring.count > 0 || this.closed) return Promise.resolve()
    return new Promise(resolve => this.waiters.push(resolve))
  }

  close(): void {
    this.closed = true
    this.wake()
  }

  wake(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}
