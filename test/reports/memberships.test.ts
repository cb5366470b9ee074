// The membership cache (src/store/memberships.ts) lets a flush skip user-day
// memberships it knows are stored; it must never skip one that is not: a duplicate
// whose content differs teaches it nothing, an evicted entry only costs a no-op
// upsert, and after memberships are deleted (erasure, retention) a clear brings
// them back. Checked against event_users_day itself, on the real write statement.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { EventRow } from '../../src/event'
import { MembershipCache } from '../../src/store/memberships'
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

test('a duplicate with other content teaches the cache nothing: the next real event of that name still writes its membership', async () => {
  const p = await inlet.project()
  const cache = new MembershipCache(1_000)
  expect(await insertEvents(inlet.sql, [row(p.id, 'e1', 'A', 'u')], { memberships: cache })).toEqual(['accepted'])
  // Same id, another name: a duplicate, stored as the first copy, its membership not.
  expect(await insertEvents(inlet.sql, [row(p.id, 'e1', 'B', 'u')], { memberships: cache })).toEqual(['duplicate'])
  expect(await memberships(p.id)).toEqual(['*/2026-11-02/u', 'A/2026-11-02/u'])
  expect(cache.needs(row(p.id, 'e2', 'B', 'u'))).toBe(true)
  expect(cache.needs(row(p.id, 'e3', 'A', 'u'))).toBe(false)
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
