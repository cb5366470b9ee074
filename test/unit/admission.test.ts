import { expect, test } from 'bun:test'
import { AssertionError } from '../../src/assert'
import { Admission } from '../../src/http/admission'

test('a capacity of 1 admits one at a time, in arrival order', async () => {
  const a = new Admission(1, 1000)
  const order: number[] = []
  expect(a.acquire(10)).toBeUndefined()
  const waiters = [1, 2, 3].map(n => a.acquire(10)!.then(() => order.push(n)))
  expect(a.queued).toBe(3)
  for (let i = 0; i < 4; i++) {
    a.release(10)
    await Bun.sleep(0)
  }
  await Promise.all(waiters)
  expect(order).toEqual([1, 2, 3])
  expect(a.acquire(10)).toBeUndefined() // every slot was given back
})

test('exactly max requests are admitted at once; one more waits', () => {
  const a = new Admission(3, 1000)
  expect([a.acquire(1), a.acquire(1), a.acquire(1)]).toEqual([undefined, undefined, undefined])
  expect(a.acquire(1)).toBeInstanceOf(Promise)
})

test('bytes are bounded too: exactly bytesMax fits, one byte more waits for room', () => {
  const a = new Admission(10, 100)
  expect(a.acquire(60)).toBeUndefined()
  expect(a.acquire(40)).toBeUndefined()
  const waiting = a.acquire(1)
  expect(waiting).toBeInstanceOf(Promise)
  a.release(40)
  expect(a.queued).toBe(0)
})

test('a body larger than bytesMax is still admitted when nothing else is active', () => {
  const a = new Admission(10, 100)
  expect(a.acquire(500)).toBeUndefined()
  expect(a.acquire(1)).toBeInstanceOf(Promise)
})

test('releasing more than was acquired is a bug and asserts', () => {
  const a = new Admission(2, 100)
  expect(() => a.release(1)).toThrow(AssertionError)
})

test('exactly queuedMax requests wait their turn; one more is refused at once (null: the server answers 503)', () => {
  const a = new Admission(1, 100, 2)
  expect(a.acquire(1)).toBeUndefined()
  expect(a.acquire(1)).toBeInstanceOf(Promise)
  expect(a.acquire(1)).toBeInstanceOf(Promise)
  expect(a.acquire(1)).toBeNull()
  expect(a.queued).toBe(2)
})

test('a queue of 0 refuses every request that cannot start at once', () => {
  const a = new Admission(1, 100, 0)
  expect(a.acquire(1)).toBeUndefined()
  expect(a.acquire(1)).toBeNull()
})

test('a waiter whose client has gone is dropped: it holds no place, and the ones behind it move up', async () => {
  const a = new Admission(1, 100, 10)
  expect(a.acquire(1)).toBeUndefined()
  const gone = new AbortController()
  const dropped = a.acquire(1, () => gone.signal)!
  const next = a.acquire(1)!
  expect(a.queued).toBe(2)
  gone.abort()
  await expect(dropped).rejects.toBeDefined()
  expect(a.queued).toBe(1)
  a.release(1)
  await next // admitted in the dropped one's place
  expect(a.queued).toBe(0)
  expect(a.acquire(1)).toBeInstanceOf(Promise) // the slot is held by `next`, as it should be
})

test('a client already gone when it would queue is dropped at once', async () => {
  const a = new Admission(1, 100, 10)
  a.acquire(1)
  const gone = new AbortController()
  gone.abort()
  await expect(a.acquire(1, () => gone.signal)!).rejects.toBeDefined()
  expect(a.queued).toBe(0)
})

test('a chunked body grows its weight as it arrives: exactly the room left fits, one byte more is refused at once, and alone it always fits', () => {
  const a = new Admission(10, 100)
  expect(a.acquire(30)).toBeUndefined() // another request
  expect(a.acquire(10)).toBeUndefined() // the chunked one, at its first weight
  expect(a.grow(60)).toBe(true) // 100 of 100
  expect(a.grow(1)).toBe(false) // never waits
  a.release(30)
  expect(a.grow(500)).toBe(true) // the only request worked on
  a.release(570)
  expect(a.acquire(100)).toBeUndefined() // everything was given back
})
