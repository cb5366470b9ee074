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
