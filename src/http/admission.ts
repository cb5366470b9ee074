// Admission control: at most `max` requests are being worked on at once; the rest
// wait, in arrival order, holding nothing but Bun's native request. What a request
// costs in JS (parsed body, rows read, the response being built) is then bounded
// by max x one request's worth, whatever the number of connections: 10,000
// connections cost a bare Bun server ~15 MB, but 10,000 requests worked on at once
// cost Inlet ~400 MB (measured in W4 before this bound).

import { assert } from '../assert'

export class Admission {
  private active = 0
  private waiting: (() => void)[] = []
  private head = 0

  constructor(readonly max: number) {
    assert(max > 0, 'admission needs at least one slot')
  }

  get queued(): number {
    return this.waiting.length - this.head
  }

  // Resolves when the caller holds a slot; call release() exactly once after.
  acquire(): Promise<void> | undefined {
    if (this.active < this.max) {
      this.active++
      return undefined
    }
    return new Promise(resolve => this.waiting.push(resolve))
  }

  release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head]
      this.waiting[this.head++] = undefined as never
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.head)
        this.head = 0
      }
      next() // the slot passes straight to the next in line
      return
    }
    this.active--
    assert(this.active >= 0, 'admission released more than acquired')
  }
}
