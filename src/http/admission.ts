// Admission control: at most `countMax` requests, carrying at most `bytesMax` of
// declared body between them, are worked on at once; up to `queuedMax` more wait in
// arrival order holding nothing but Bun's native request, and past that a request
// is refused at once (503). A waiter whose client has gone is dropped. What requests
// cost in JS (parsed bodies, rows read, responses being built) is then bounded
// whatever the number of connections: 10,000 connections cost a bare Bun server
// ~15 MB, but Inlet working on 10,000 requests at once peaked at 437 MiB (bench w4),
// and 1,000 concurrent 200-event batches at 591 MiB (bench w1 stress), before this bound.

import { assert } from '../assert'

// What a chunked body (no Content-Length) is weighed at when admitted; http/body.ts
// weighs the rest as it reads (`grow`), through the function server.ts leaves on
// the request under this key.
export const CHUNKED_BODY_BYTES_FIRST = 64 * 1024
export const BODY_GROWTH = Symbol('inlet.bodyGrowth')
export type BodyGrowth = (totalBytes: number) => boolean
export type GrowableRequest = Request & { [BODY_GROWTH]?: BodyGrowth }

interface Waiter {
  bytes: number
  admit: () => void
}

export class Admission {
  private active = 0
  private activeBytes = 0
  private waiting: Waiter[] = []

  constructor(readonly countMax: number, readonly bytesMax: number, readonly queuedMax = Infinity) {
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

  // undefined: admitted now. A promise: admitted when it resolves (it rejects if
  // the signal `gone()` gives aborts first, and then nothing is held). null: the
  // queue is full. After an admission, call release(bytes) exactly once. `gone` is
  // a function because building a request's signal costs, and only waiters need one.
  acquire(bytes: number, goneSignal?: () => AbortSignal): Promise<void> | undefined | null {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.active++
      this.activeBytes += bytes
      return undefined
    }
    if (this.waiting.length >= this.queuedMax) return null
    return new Promise((admit, reject) => {
      const waiter: Waiter = { bytes, admit }
      this.waiting.push(waiter)
      if (!goneSignal) return
      const gone = goneSignal()
      const drop = () => {
        const i = this.waiting.indexOf(waiter)
        if (i < 0) return // already admitted
        this.waiting.splice(i, 1)
        reject(gone.reason ?? new Error('the client went away'))
        // A large body at the head may have been holding smaller ones back.
        this.admitWaiting()
      }
      waiter.admit = () => { gone.removeEventListener('abort', drop); admit() }
      gone.addEventListener('abort', drop, { once: true })
      if (gone.aborted) drop()
    })
  }

  // More bytes for a request already admitted (a chunked body, weighed as it
  // arrives): taken only if they fit now, or if it is the only request worked on.
  // Never waits: a request that holds bytes and waits for more could wait forever
  // on others doing the same, so a caller that is refused answers 503 instead.
  grow(bytes: number): boolean {
    if (this.activeBytes + bytes > this.bytesMax && this.active > 1) return false
    this.activeBytes += bytes
    return true
  }

  release(bytes: number): void {
    this.active--
    this.activeBytes -= bytes
    assert(this.active >= 0 && this.activeBytes >= 0, 'admission released more than acquired')
    this.admitWaiting()
  }

  // First come, first served: a large body waits for room rather than being
  // overtaken forever by small ones.
  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const next = this.waiting.shift()!
      this.active++
      this.activeBytes += next.bytes
      next.admit()
    }
  }
}
