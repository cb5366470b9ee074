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
  const request = (...sizes: number[]) => ({
    rows: sizes.map(bytes => ({ bytes }) as any), bytes: sizes.reduce((a, b) => a + b, 0), ack: new Ack(sizes.length),
  })

  test('a request goes in whole or not at all, by count and by bytes', () => {
    const q = new EventQueue(3, 100)
    expect(q.offer(request(10, 10))).toBe(true)
    expect(q.offer(request(10, 10))).toBe(false) // 4 events > 3
    expect(q.offer(request(81))).toBe(false) // 101 bytes > 100
    expect(q.offer(request(80))).toBe(true) // exactly 100 bytes
    expect([q.depth, q.bytes]).toEqual([3, 100])
  })

  test('a capacity of 1 event holds one single-event request', () => {
    const q = new EventQueue(1, 100)
    expect(q.offer(request(10))).toBe(true)
    expect(q.offer(request(10))).toBe(false)
    expect(q.take(1, 100).length).toBe(1)
    expect(q.offer(request(10))).toBe(true)
  })

  test('take moves whole requests within the batch rows and bytes, and always the first one', () => {
    const q = new EventQueue(20, 2000)
    q.offer(request(50, 50)); q.offer(request(50)); q.offer(request(500, 10, 10)); q.offer(request(5))
    // 2 rows, then a third request would make 3 > 2: stops at the request boundary.
    expect(q.take(2, 1000).map(p => p.rows.length)).toEqual([2])
    // The next request alone fits 60 bytes; the 520-byte one does not join it.
    expect(q.take(10, 60).map(p => p.rows.length)).toEqual([1])
    // Over both caps, it is taken alone, whole: a request is never split.
    expect(q.take(1, 60).map(p => p.rows.length)).toEqual([3])
    expect(q.take(10, 1000).map(p => p.rows.length)).toEqual([1])
    expect([q.depth, q.bytes]).toEqual([0, 0])
  })

  test('waitForWork(rows) resolves only once that many events wait, or on close', async () => {
    const q = new EventQueue(1000, 100_000)
    const state = { small: false, large: false }
    void q.waitForWork().then(() => { state.small = true })
    void q.waitForWork(5).then(() => { state.large = true })
    q.offer(request(1, 1, 1))
    await Bun.sleep(0)
    expect(state).toEqual({ small: true, large: false }) // 3 < 5: the second still waits
    q.offer(request(1))
    await Bun.sleep(0)
    expect(state.large).toBe(false) // 4 < 5
    q.offer(request(1))
    await Bun.sleep(0)
    expect(state.large).toBe(true) // exactly 5
    const closing = q.waitForWork(10_000)
    q.close()
    await closing // resolves although 10,000 never arrive
  })
})
