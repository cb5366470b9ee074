// A fixed-capacity FIFO ring. `push` reports "no space"; `pushAssumeCapacity` is
// for callers that checked `free` first and asserts instead (TigerBeetle's shape).

import { assert } from '../assert'

export class RingBuffer<T> {
  private readonly items: (T | undefined)[]
  private head = 0
  count = 0

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, 'ring capacity must be a positive integer')
    this.items = new Array(capacity)
  }

  get free(): number {
    return this.capacity - this.count
  }

  push(item: T): boolean {
    if (this.count === this.capacity) return false
    this.pushAssumeCapacity(item)
    return true
  }

  pushAssumeCapacity(item: T): void {
    assert(this.count < this.capacity, 'ring buffer is full')
    this.items[(this.head + this.count) % this.capacity] = item
    this.count++
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head]
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.capacity
    this.count--
    return item
  }
}
