// The day index's arrays (src/store/day-views.ts): built from rows in any order, and
// merged, they hold each user once, sorted, with that user's times ascending;
// also for a day of more rows than the packed sort takes (2^21).

import { expect, test } from 'bun:test'
import { build, type DayView, merge } from '../../src/store/day-views'
import { prng } from '../reports/brute'

// The view as a map user → sorted times, built naively.
function naive(users: number[], times: number[]): Map<number, number[]> {
  const m = new Map<number, number[]>()
  users.forEach((u, i) => { if (!m.has(u)) m.set(u, []); m.get(u)!.push(times[i]) })
  for (const t of m.values()) t.sort((a, b) => a - b)
  return new Map([...m].sort((a, b) => a[0] - b[0]))
}
function asMap(v: DayView): Map<number, number[]> {
  const m = new Map<number, number[]>()
  for (let i = 0; i < v.users.length; i++) m.set(v.users[i], [...v.times.subarray(v.start[i], v.start[i + 1])])
  return m
}
function rows(seed: number, n: number, usersMax: number) {
  const r = prng(seed)
  const users = Array.from({ length: n }, () => Math.floor(r() * usersMax))
  const times = Array.from({ length: n }, () => 1_700_000_000_000 + Math.floor(r() * 86_400_000))
  return { users, times }
}

test('a view holds each user once, in order, with their times ascending', () => {
  const { users, times } = rows(1, 5_000, 700)
  const v = build(users, times, false)
  expect([...v.users]).toEqual([...naive(users, times).keys()])
  expect(asMap(v)).toEqual(naive(users, times))
  expect([...build(users, [], true).users]).toEqual([...naive(users, times).keys()])
})

test('two views merged equal one built from all their rows', () => {
  const a = rows(2, 3_000, 400), b = rows(3, 200, 600)
  const all = { users: a.users.concat(b.users), times: a.times.concat(b.times) }
  expect(asMap(merge(build(a.users, a.times, false), build(b.users, b.times, false), false))).toEqual(naive(all.users, all.times))
  expect([...merge(build(a.users, [], true), build(b.users, [], true), true).users]).toEqual([...naive(all.users, all.times).keys()])
})

test('a day of more than 2^21 rows of one name is built too (it was refused by an assertion)', () => {
  const { users, times } = rows(4, 2 ** 21 + 1_000, 50_000)
  const v = build(users, times, false)
  expect(v.times.length).toBe(users.length)
  expect(asMap(v)).toEqual(naive(users, times))
})
