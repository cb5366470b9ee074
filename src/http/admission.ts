// Admission control: at most `countMax` requests, carrying at most `bytesMax` of
// declared body between them, are worked on at once; the rest wait in arrival
// order holding nothing but Bun's native request. What requests cost in JS (parsed
// bodies, rows read, responses being built) is then bounded whatever the number of
// connections: 10,000 connections cost a bare Bun server ~15 MB, but Inlet working
// on 10,000 requests at once peaked at 437 MiB (bench w4), and 1,000 concurrent
// 200-event batches at 591 MiB (bench w1 stress), before this bound.

import { assert } from '../assert'

interface Waiter {
  bytes: number
  admit: () => void
}

export class Admission {
  private active = 0
  private activeBytes = 0
  private waiting: Waiter[] = []

  constructor(readonly countMax: number, readonly bytesMax: number) {
    assert(countMax > 0 && bytesMax > 0, 'admission needs room for at least one request')
  }

  get queued(): number {
    return this.waiting.length
  }

  // A request fits when there is a slot and room for its bytes, or when nothing
  // else is active (a single body up to BODY_BYTES_MAX always gets through).
  private fits(bytes: number): boolean {
    return this.active < this.countMax && (this.activeBytes + bytes <= this.bytesMax || this.active === 0)
  }

  // Resolves when the caller may proceed; call release(bytes) exactly once after.
  acquire(bytes: number): Promise<void> | undefined {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.active++
      this.activeBytes += bytes
      return undefined
    }
    return new Promise(admit => this.waiting.push({ bytes, admit }))
  }

  release(bytes: number): void {
    this.active--
    this.activeBytes -= bytes
    assert(this.active >= 0 && this.activeBytes >= 0, 'admission released more than acquired')
    // First come, first served: a large body waits for room rather than being
    // overtaken forever by small ones.
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const next = this.waiting.shift()!
      this.active++
      this.activeBytes += next.bytes
      next.admit()
    }
  }
}
