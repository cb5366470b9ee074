// An erasure of a user with events in Postgres and in the spill, Postgres away
// while some of them were acknowledged: once answered, the job waits for the
// spill to drain and then erases those too; rollups equal a recount after.

import { afterEach, expect, test } from 'bun:test'
import { type Degradable, startDegradable, until } from '../durability/support'
import { expectExact } from '../reports/exact'

let d: Degradable | undefined
afterEach(async () => {
  await d?.stop()
  d = undefined
})

test('events acknowledged from the spill while Postgres was away are erased once they drain, with everything else of the user', async () => {
  d = await startDegradable({ LIFECYCLE_INTERVAL_MS: '86400000', REPORT_CACHE_ENTRIES_MAX: '0', DRAIN_BATCH_ROWS_MAX: '10' })
  const p = await d.project()
  const now = Date.now()
  const ev = (id: string, user: string, k: number) => ({ id, name: k % 2 ? 'A' : 'B', user_id: user, timestamp: new Date(now - k * 600_000).toISOString() })
  const stored = await d.request('POST', '/v1/events/batch', { key: p.api_key,
    body: { events: Array.from({ length: 200 }, (_, k) => ev(`s${k}`, k % 2 ? 'gone' : 'kept', k)) } })
  expect(stored.body.accepted).toBe(200)

  d.proxy.blackhole(true)
  for (let b = 0; b < 5; b++) {
    const r = await d.request('POST', '/v1/events/batch', { key: p.api_key,
      body: { events: Array.from({ length: 40 }, (_, k) => ev(`w${b}-${k}`, k % 4 ? 'gone' : 'kept', k)) } })
    expect(r.status).toBe(200)
  }
  expect(d.inlet.deps.spill!.pendingFor(p.id)).toBe(200)

  d.proxy.blackhole(false)
  await until('the probe to see Postgres again', () => d!.inlet.deps.health.postgresUp(), 10_000)
  // Asked for while the spill still holds the user's events (drained 10 at a time).
  const del = await d.request('DELETE', '/v1/users/gone', { key: p.api_key })
  expect(del.status).toBe(202)
  let job: any
  await until('the erasure to finish', async () => {
    job = (await d!.request('GET', `/v1/erasures/${del.body.id}`, { key: p.api_key })).body
    return job.status === 'done'
  }, 60_000)
  expect(d.inlet.deps.spill!.pendingFor(p.id)).toBe(0)
  expect(job.events_erased).toBe(100 + 150)
  const [{ gone, kept }] = await d.direct`select count(*) filter (where user_id = 'gone')::int as gone,
    count(*) filter (where user_id = 'kept')::int as kept from events where project_id = ${p.id}`
  expect(gone).toBe(0)
  expect(kept).toBe(100 + 50)
  await expectExact(d.direct, p.id)
}, 90_000)
