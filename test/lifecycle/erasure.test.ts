// User erasure (src/store/erasure.ts, DELETE /v1/users/{id}): every event of the
// user leaves Postgres, event_ids, the dead letters and the spill; rollups equal a
// recount after, with ingest running meanwhile; a job left open by a stopped
// process is finished by the next; bad requests are 4xx and store nothing.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { EventRow } from '../../src/event'
import { createErasure, runErasure } from '../../src/store/erasure'
import { dayStart, listPartitions, partitionName } from '../../src/store/partitions'
import { expectExact } from '../reports/exact'
import { startInlet, type TestInlet } from '../support/inlet'

const DAY_MS = 86_400_000
let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet({ LIFECYCLE_INTERVAL_MS: '86400000', RETENTION_BATCH_ROWS: '13', REPORT_CACHE_ENTRIES_MAX: '0' }) })
afterAll(() => inlet.stop())

const now = Date.now()
// 3 users over 10 days and 3 names; 'u1' also appears as the anonymous_id of events without a user_id.
const history = (prefix: string): { id: string; name: string; user_id?: string; anonymous_id: string; timestamp: string }[] => Array.from({ length: 300 }, (_, k) => ({
  id: `${prefix}${k}`, name: ['A', 'B', 'C'][k % 3],
  ...(k % 10 === 9 ? { anonymous_id: 'u1' } : { user_id: `u${k % 3}`, anonymous_id: `anon${k % 5}` }),
  timestamp: new Date(now - 10 * DAY_MS + k * 2_880_000).toISOString(),
}))

const waitDone = async (key: string, id: number) => {
  for (let i = 0; i < 300; i++) {
    const r = await inlet.request('GET', `/v1/erasures/${id}`, { key })
    expect(r.status).toBe(200)
    if (r.body.status === 'done') return r.body
    await Bun.sleep(50)
  }
  throw new Error('the erasure did not finish')
}
const userRows = async (projectId: number, column: 'user_id' | 'anonymous_id', key: string) =>
  (await inlet.sql.unsafe(`select count(*)::int as n from events where project_id = $1 and ${column} = $2`, [projectId, key]))[0].n as number

test('erasing a user_id removes its events everywhere, keeps everyone else\'s, and leaves rollups equal to a recount', async () => {
  const p = await inlet.project()
  const events = history('e')
  const r = await inlet.request('POST', '/v1/events/batch', { key: p.api_key, body: { events } })
  expect(r.body.accepted).toBe(300)
  const target = events.filter(e => e.user_id === 'u1').length
  // One of u1's events waits in the dead-letter table, one in the spill.
  await inlet.sql`insert into dead_letter (project_id, id, type, name, "timestamp", received_at, user_id, properties, context, sqlstate, error)
    values (${p.id}, 'dl1', 'track', 'A', now(), now(), 'u1', '{}', '{}', '22P02', 'test')`
  const spilled: EventRow = { projectId: p.id, id: 'sp1', type: 'track', name: 'A', timestampMs: now, receivedAtMs: now,
    userId: 'u1', anonymousId: null, sessionId: null, properties: '{}', context: '{}', bytes: 10 }
  ;(inlet.deps.spill as unknown as { write(rows: EventRow[]): unknown }).write([spilled])
  const others = await userRows(p.id, 'user_id', 'u2')

  const del = await inlet.request('DELETE', '/v1/users/u1', { key: p.api_key })
  expect(del.status).toBe(202)
  expect(typeof del.body.id).toBe('number')
  // Ingest goes on during the erasure, for other users and the same days.
  const more = await inlet.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: history('m').filter(e => e.user_id !== 'u1') } })
  expect(more.status).toBe(200)
  const job = await waitDone(p.api_key, del.body.id)
  // The stored events, the spilled one (drained, then erased) and nothing else.
  expect(job.events_erased).toBe(target + 1)
  expect(await userRows(p.id, 'user_id', 'u1')).toBe(0)
  expect(await userRows(p.id, 'user_id', 'u2')).toBe(others * 2)
  expect(inlet.deps.spill!.pendingFor(p.id)).toBe(0)
  expect((await inlet.sql`select count(*)::int as n from dead_letter where project_id = ${p.id}`)[0].n).toBe(0)
  const [ids] = await inlet.sql`select (select count(*) from event_ids where project_id = ${p.id})::int as i,
    (select count(*) from events where project_id = ${p.id})::int as e`
  expect(ids.i).toBe(ids.e)
  // Events without a user_id whose anonymous_id is 'u1' are not that user_id's: kept, with their memberships.
  expect(await userRows(p.id, 'anonymous_id', 'u1')).toBe(60)
  await expectExact(inlet.sql, p.id)
  expect((await inlet.request('GET', '/v1/events/e1', { key: p.api_key })).status).toBe(404)
  const [{ c }] = await inlet.sql`select count(*)::int as c from event_counts_minute where project_id = ${p.id} and events = 0`
  expect(c).toBe(0)

  // Then by anonymous_id.
  const anon = await inlet.request('DELETE', '/v1/users/u1?kind=anonymous_id', { key: p.api_key })
  expect(anon.status).toBe(202)
  expect((await waitDone(p.api_key, anon.body.id)).events_erased).toBe(60)
  expect(await userRows(p.id, 'anonymous_id', 'u1')).toBe(0)
  await expectExact(inlet.sql, p.id)
  // The users-by-day report no longer sees u1 on any day.
  const [{ m }] = await inlet.sql`select count(*)::int as m from event_users_day where project_id = ${p.id} and user_key = 'u1'`
  expect(m).toBe(0)
})

test('an erasure left open by a stopped process is finished by the next one at start-up', async () => {
  const first = await startInlet({ LIFECYCLE_INTERVAL_MS: '86400000' })
  const p = await first.project()
  await first.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: history('k') } })
  await first.stop()
  // Durable before any work: the row a DELETE writes before its 202.
  const job = await createErasure(inlet.sql, p.id, 'user_id', 'u0')
  const next = await startInlet({ LIFECYCLE_INTERVAL_MS: '86400000' })
  try {
    for (let i = 0; i < 200 && (await next.sql`select status from erasures where id = ${job.id}`)[0].status !== 'done'; i++) await Bun.sleep(50)
    expect((await next.sql`select status from erasures where id = ${job.id}`)[0].status).toBe('done')
    expect(await userRows(p.id, 'user_id', 'u0')).toBe(0)
    await expectExact(inlet.sql, p.id)
  } finally {
    await next.stop()
  }
})

test('a bad kind is a 422, an unknown or another project\'s erasure a 404, no key a 401; none stores a job', async () => {
  const p = await inlet.project()
  const q = await inlet.project()
  const [{ n: before }] = await inlet.sql`select count(*)::int as n from erasures`
  const bad = await inlet.request('DELETE', '/v1/users/u1?kind=email', { key: p.api_key })
  expect(bad.status).toBe(422)
  expect(bad.body.error.details[0].path).toBe('/kind')
  const long = await inlet.request('DELETE', `/v1/users/${'x'.repeat(129)}`, { key: p.api_key })
  expect(long.status).toBe(422)
  const atLimit = await inlet.request('DELETE', `/v1/users/${'x'.repeat(128)}`, { key: p.api_key })
  expect(atLimit.status).toBe(202)
  expect((await inlet.request('DELETE', '/v1/users/u1')).status).toBe(401)
  expect((await inlet.request('GET', `/v1/erasures/${atLimit.body.id}`, { key: q.api_key })).status).toBe(404)
  expect((await inlet.request('GET', '/v1/erasures/999999999', { key: p.api_key })).status).toBe(404)
  expect((await inlet.request('GET', '/v1/erasures/abc', { key: p.api_key })).status).toBe(404)
  const [{ n: after }] = await inlet.sql`select count(*)::int as n from erasures`
  expect(after).toBe(before + 1)
})

test('a cached report of the project is forgotten when its erasure finishes: the next one counts without the user', async () => {
  const cached = await startInlet({ LIFECYCLE_INTERVAL_MS: '86400000', REPORT_CACHE_TTL_MS: '600000' })
  try {
    const p = await cached.project()
    await cached.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: history('r') } })
    const path = `/v1/reports/counts?interval=day&from=${new Date(now - 11 * DAY_MS).toISOString()}&to=${new Date(now + DAY_MS).toISOString()}`
    const total = (r: { body: { series: { events: number }[] } }) => r.body.series.reduce((s, x) => s + x.events, 0)
    expect(total(await cached.request('GET', path, { key: p.api_key }))).toBe(300)
    expect((await cached.request('GET', path, { key: p.api_key })).headers.get('x-inlet-report-cache')).toBe('hit')
    const del = await cached.request('DELETE', '/v1/users/u1', { key: p.api_key })
    for (let i = 0; i < 200 && (await cached.request('GET', `/v1/erasures/${del.body.id}`, { key: p.api_key })).body.status !== 'done'; i++) await Bun.sleep(25)
    const after = await cached.request('GET', path, { key: p.api_key })
    expect(after.headers.get('x-inlet-report-cache')).toBe('miss')
    expect(total(after)).toBe(300 - history('r').filter(e => e.user_id === 'u1').length)
  } finally {
    await cached.stop()
  }
})

test('events of the same user sent while its erasure runs leave the rollups equal to a recount, whichever side of it they land', async () => {
  const p = await inlet.project()
  await inlet.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: history('c') } })
  const del = await inlet.request('DELETE', '/v1/users/u1', { key: p.api_key })
  expect(del.status).toBe(202)
  // Same user, same days and names, in small batches while the job deletes 13 rows at a time.
  for (let b = 0; b < 10; b++) {
    const r = await inlet.request('POST', '/v1/events/batch', { key: p.api_key,
      body: { events: Array.from({ length: 10 }, (_, k) => ({ id: `late${b}-${k}`, name: ['A', 'B'][k % 2], user_id: 'u1',
        timestamp: new Date(now - (k % 10) * DAY_MS).toISOString() })) } })
    expect(r.body.accepted).toBe(10)
  }
  await waitDone(p.api_key, del.body.id)
  await expectExact(inlet.sql, p.id)
  const [{ n }] = await inlet.sql`select count(*)::int as n from events where project_id = ${p.id} and user_id = 'u1' and id not like 'late%'`
  expect(n).toBe(0)
})

test('rows the lifecycle moves out of the default partition into a new day while an erasure runs are erased too', async () => {
  const p = await inlet.project()
  // A past day with no partition: its rows wait in the default partition.
  const day = dayStart(now - 200 * DAY_MS)
  expect((await listPartitions(inlet.sql, 'events')).map(x => x.dayMs)).not.toContain(day)
  const events = Array.from({ length: 20 }, (_, k) => ({ id: `old${k}`, name: 'A', user_id: k % 2 ? 'gone' : 'kept', timestamp: new Date(day + k * 60_000).toISOString() }))
  expect((await inlet.request('POST', '/v1/events/batch', { key: p.api_key, body: { events } })).body.accepted).toBe(20)
  const job = await createErasure(inlet.sql, p.id, 'user_id', 'gone')
  const name = partitionName(day)
  const from = new Date(day).toISOString()
  const to = new Date(day + DAY_MS).toISOString()
  let status: Promise<string> | undefined
  // What the lifecycle's pass does for that day (partitions.ts), held open until the
  // erasure, which listed the tables before this commits, waits on the default.
  await inlet.sql.begin(async tx => {
    await tx`lock table events_default in access exclusive mode`
    await tx.unsafe(`create table ${name} (like events including defaults)`)
    await tx.unsafe(`with m as (delete from events_default where "timestamp" >= $1 and "timestamp" < $2 returning *)
      insert into ${name} select * from m`, [from, to])
    await tx.unsafe(`alter table events attach partition ${name} for values from ('${from}') to ('${to}')`)
    status = runErasure(inlet.sql, p.id, job.id, { rows: 7, spillPending: () => 0 })
    for (let i = 0; ; i++) {
      const [w] = await inlet.sql`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%delete from events_default%'`
      if (w) break
      expect(i).toBeLessThan(600)
      await Bun.sleep(50)
    }
  })
  expect(await status!).toBe('done')
  expect(await userRows(p.id, 'user_id', 'gone')).toBe(0)
  expect(await userRows(p.id, 'user_id', 'kept')).toBe(10)
  expect((await inlet.sql`select events_erased from erasures where id = ${job.id}`)[0].events_erased).toBe(10)
  await expectExact(inlet.sql, p.id)
})
