// The membership cache (src/store/memberships.ts) lets a flush skip user-day
// memberships it knows are stored; it must never skip one that is not: a duplicate
// whose content differs teaches it nothing, an evicted entry only costs a no-op
// upsert, and after memberships are deleted (erasure, retention) a clear brings
// them back. Checked against event_users_day itself, on the real write statement.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { EventRow } from '../../src/event'
import { MembershipCache, NEEDS_ALL, NEEDS_ANY, NEEDS_NAME } from '../../src/store/memberships'
import { insertEvents } from '../../src/store/write'
import { startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet() })
afterAll(() => inlet.stop())

const DAY = Date.UTC(2026, 10, 2, 9)
const row = (projectId: number, id: string, name: string, user: string, t = DAY): EventRow => ({
  projectId, id, type: 'track', name, timestampMs: t, receivedAtMs: Date.now(), userId: user, anonymousId: null,
  sessionId: null, properties: '{}', context: '{}', bytes: 64,
})
const memberships = async (projectId: number) => (await inlet.sql`
  select name, day::text as day, user_key from event_users_day where project_id = ${projectId} order by 1, 2, 3`)
  .map(r => `${r.name || '*'}/${r.day}/${r.user_key}`)
const summaries = async (projectId: number) => (await inlet.sql`
  select name, user_key, hours, (extract(epoch from first_at) * 1000)::int8 as first_ms
  from event_users_day where project_id = ${projectId} order by 1, 2`)
  .map(r => `${r.name || '*'}/${r.user_key} hours=${(r.hours as number).toString(2)} first=+${(Number(r.first_ms) - DAY) / 60_000}min`)

test('a duplicate with other content teaches the cache nothing: the next real event of that name still writes its membership', async () => {
  const p = await inlet.project()
  const cache = new MembershipCache(1_000)
  expect(await insertEvents(inlet.sql, [row(p.id, 'e1', 'A', 'u')], { memberships: cache })).toEqual(['accepted'])
  // Same id, another name: a duplicate, stored as the first copy, its membership not.
  expect(await insertEvents(inlet.sql, [row(p.id, 'e1', 'B', 'u')], { memberships: cache })).toEqual(['duplicate'])
  expect(await memberships(p.id)).toEqual(['*/2026-11-02/u', 'A/2026-11-02/u'])
  expect(cache.needs(row(p.id, 'e2', 'B', 'u'))).toBe(NEEDS_NAME)
  expect(cache.needs(row(p.id, 'e3', 'A', 'u'))).toBe(0)
  expect(await insertEvents(inlet.sql, [row(p.id, 'e2', 'B', 'u')], { memberships: cache })).toEqual(['accepted'])
  expect(await memberships(p.id)).toEqual(['*/2026-11-02/u', 'A/2026-11-02/u', 'B/2026-11-02/u'])
})

test('a known membership is not sent again, and after memberships are deleted a clear brings them back', async () => {
  const p = await inlet.project()
  const cache = new MembershipCache(1_000)
  await insertEvents(inlet.sql, [row(p.id, 'k1', 'A', 'u')], { memberships: cache })
  // Deleted behind the cache's back (what an erasure does), then cleared as erasure must.
  await inlet.sql`delete from event_users_day where project_id = ${p.id}`
  await insertEvents(inlet.sql, [row(p.id, 'k2', 'A', 'u')], { memberships: cache })
  expect(await memberships(p.id)).toEqual([]) // skipped: the cache was told nothing
  cache.clear()
  await insertEvents(inlet.sql, [row(p.id, 'k3', 'A', 'u')], { memberships: cache })
  expect(await memberships(p.id)).toEqual(['*/2026-11-02/u', 'A/2026-11-02/u'])
})

test('a cache of 2 entries evicts and stays exact; a cache of 0 writes every membership', async () => {
  for (const size of [0, 2]) {
    const p = await inlet.project()
    const cache = new MembershipCache(size)
    const rows = ['u1', 'u2', 'u3', 'u1', 'u2'].map((u, i) => row(p.id, `s${size}-${i}`, i % 2 ? 'A' : 'B', u, DAY + i * 60_000))
    for (const r of rows) await insertEvents(inlet.sql, [r], { memberships: cache })
    expect(cache.size).toBeLessThanOrEqual(size)
    const [{ n }] = await inlet.sql`select count(*)::int as n from (select distinct name, user_id from events where project_id = ${p.id}) x`
    const [{ users }] = await inlet.sql`select count(distinct user_id)::int as users from events where project_id = ${p.id}`
    expect((await memberships(p.id)).length).toBe(n + users)
  }
})

test('an event in a known hour, not earlier than the known first time, is skipped; a new hour or an earlier time is written', async () => {
  const p = await inlet.project()
  const cache = new MembershipCache(1_000)
  const H = 3_600_000
  // DAY is 09:00 UTC: bit 9.
  await insertEvents(inlet.sql, [row(p.id, 'h1', 'A', 'u', DAY + 30 * 60_000)], { memberships: cache })
  expect(await summaries(p.id)).toEqual([`*/u hours=${(1 << 9).toString(2)} first=+30min`, `A/u hours=${(1 << 9).toString(2)} first=+30min`])
  // Same hour, later: nothing to write for either row.
  expect(cache.needs(row(p.id, 'h2', 'A', 'u', DAY + 40 * 60_000))).toBe(0)
  // Same hour, earlier: both rows get an earlier first time.
  expect(cache.needs(row(p.id, 'h3', 'A', 'u', DAY + 10 * 60_000))).toBe(NEEDS_ALL)
  // Another name in a known hour, later: only its own row.
  expect(cache.needs(row(p.id, 'h4', 'B', 'u', DAY + 50 * 60_000))).toBe(NEEDS_NAME)
  await insertEvents(inlet.sql, [row(p.id, 'h2', 'A', 'u', DAY + 40 * 60_000), row(p.id, 'h3', 'A', 'u', DAY + 10 * 60_000),
    row(p.id, 'h4', 'B', 'u', DAY + 50 * 60_000)], { memberships: cache })
  // A new hour of a known name: both rows gain the bit (the any-event row too, once).
  expect(cache.needs(row(p.id, 'h5', 'B', 'u', DAY + 2 * H))).toBe(NEEDS_ALL)
  await insertEvents(inlet.sql, [row(p.id, 'h5', 'B', 'u', DAY + 2 * H)], { memberships: cache })
  expect(cache.needs(row(p.id, 'h6', 'A', 'u', DAY + 2 * H + 1))).toBe(NEEDS_NAME)
  const bits = (...h: number[]) => h.reduce((m, x) => m | (1 << x), 0).toString(2)
  expect(await summaries(p.id)).toEqual([
    `*/u hours=${bits(9, 11)} first=+10min`, `A/u hours=${bits(9)} first=+10min`, `B/u hours=${bits(9, 11)} first=+50min`])
  // Without a cache every row is sent and the stored row is only ever widened, never narrowed.
  await insertEvents(inlet.sql, [row(p.id, 'h7', 'B', 'u', DAY + 3 * 60_000)])
  expect(await summaries(p.id)).toEqual([
    `*/u hours=${bits(9, 11)} first=+3min`, `A/u hours=${bits(9)} first=+10min`, `B/u hours=${bits(9, 11)} first=+3min`])
  expect(NEEDS_ANY | NEEDS_NAME).toBe(NEEDS_ALL)
})

test('a row with no user needs no membership', () => {
  const cache = new MembershipCache(10)
  expect(cache.needs({ ...row(1, 'n', 'A', 'u'), userId: null })).toBe(0)
  expect(new MembershipCache(0).needs(row(1, 'n', 'A', 'u'))).toBe(NEEDS_ALL)
})

test('a full cache forgets its oldest entry first, and only that one', () => {
  const cache = new MembershipCache(4) // two rows' memberships: any-event and by name
  const [a, b, c] = ['ua', 'ub', 'uc'].map((u, i) => row(1, `o${i}`, 'A', u, DAY))
  cache.committed([a, b])
  expect([cache.needs(a), cache.needs(b)]).toEqual([0, 0])
  cache.committed([c]) // evicts a's two entries
  expect(cache.size).toBe(4)
  expect([cache.needs(a), cache.needs(b), cache.needs(c)]).toEqual([NEEDS_ALL, 0, 0])
})
