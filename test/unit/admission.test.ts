import { expect, test } from 'bun:test'
import { AssertionError } from '../../src/assert'
import { Admission } from '../../src/http/admission'

test('a capacity of 1 admits one at a time, in arrival order', async () => {
  const a = new Admission(1)
  const order: number[] = []
  expect(a.acquire()).toBeUndefined()
  const waiters = [1, 2, 3].map(n => a.acquire()!.then(() => order.push(n)))
  expect(a.queued).toBe(3)
  for (let i = 0; i < 3; i++) {
    a.release()
    await Bun.sleep(0)
  }
  await Promise.all(waiters)
  expect(order).toEqual([1, 2, 3])
  a.release()
  expect(a.acquire()).toBeUndefined() // the slot is free again
})

test('exactly max are admitted at once; one more waits', () => {
  const a = new Admission(3)
  expect([a.acquire(), a.acquire(), a.acquire()]).toEqual([undefined, undefined, undefined])
  expect(a.acquire()).toBeInstanceOf(Promise)
})

test('releasing more than was acquired is a bug and asserts', () => {
  const a = new Admission(2)
  expect(() => a.release()).toThrow(AssertionError)
})
