import { describe, expect, test } from 'bun:test'
import { AssertionError } from '../../src/assert'
import { Ack } from '../../src/pipeline/ack'
import { EventQueue } from '../../src/pipeline/queue'
import { RingBuffer } from '../../src/pipeline/ring-buffer'

describe('ring buffer', () => {
  test('a capacity of 1 works: push, full, shift, push again', () => {
    const r = new RingBuffer<number>(1)
    expect(r.push(1)).toBe(true)
    expect(r.push(2)).toBe(false)
    expect(r.shift()).toBe(1)
    expect(r.push(3)).toBe(true)
    expect(r.shift()).toBe(3)
    expect(r.shift()).toBeUndefined()
  })

  test('it keeps FIFO order across wrap-around', () => {
    const r = new RingBuffer<number>(3)
    const out: number[] = []
    for (let i = 0; i < 10; i++) {
      r.pushAssumeCapacity(i)
      if (r.free === 0) out.push(r.shift()!)
    }
    while (r.count) out.push(r.shift()!)
    expect(out).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  test('pushAssumeCapacity on a full ring is a bug and asserts', () => {
    const r = new RingBuffer<number>(1)
    r.push(1)
    expect(() => r.pushAssumeCapacity(2)).toThrow(AssertionError)
  })
})

describe('event queue', () => {
  const row = (bytes: number) => ({ bytes }) as any
  const entries = (...sizes: number[]) => {
    const ack = new Ack(sizes.length)
    return sizes.map((b, slot) => ({ row: row(b), ack, slot }))
  }

  test('a request goes in whole or not at all, by count and by bytes', () => {
    const q = new EventQueue(3, 100)
    expect(q.offer(entries(10, 10))).toBe(true)
    expect(q.offer(entries(10, 10))).toBe(false) // 4 events > 3
    expect(q.offer(entries(81))).toBe(false) // 101 bytes > 100
    expect(q.offer(entries(80))).toBe(true) // exactly 100 bytes
    expect([q.depth, q.bytes]).toEqual([3, 100])
  })

  test('take respects the batch rows and bytes, but always moves at least one entry', () => {
    const q = new EventQueue(10, 1000)
    q.offer(entries(50, 50, 50, 500))
    expect(q.take(2, 1000).length).toBe(2)
    expect(q.take(10, 60).length).toBe(1)
    expect(q.take(10, 60).length).toBe(1) // 500 bytes > 60, taken alone
    expect([q.depth, q.bytes]).toEqual([0, 0])
  })
})
