// Retention per project (src/store/retention.ts): expired days dropped whole when
// every project has let them go, deleted in batches otherwise, their rollups and
// ids with them, so rollups equal a recount of what is kept; and the admin API's
// retention_days, both sides of its limits. Its own database: a pass applies to
// every project in it.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import postgres from 'postgres'
import { DAY_MS, dayStart, listPartitions, partitionName } from '../../src/store/partitions'
import { expectExact } from '../reports/exact'
import { ADMIN_TOKEN, startInlet, type TestInlet } from '../support/inlet'

const adminUrl = process.env.INLET_TEST_ADMIN_URL!
const name = `inlet_retention_${Date.now()}_${process.pid}`
const admin = postgres(adminUrl, { max: 1, idle_timeout: 1, connect_timeout: 10, onnotice: () => {} })
let inlet: TestInlet
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const today = dayStart(Date.now())

beforeAll(async () => {
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  inlet = await startInlet({ RETENTION_DAYS_DEFAULT: '20', RETENTION_BATCH_ROWS: '7', LIFECYCLE_INTERVAL_MS: '86400000',
    REPORT_CACHE_ENTRIES_MAX: '0', MEMBERSHIP_CACHE_ENTRIES_MAX: '0' }, url.toString())
})
afterAll(async () => {
  await inlet?.stop()
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end({ timeout: 5 })
})

// One event every 6 hours for `days` days back from today, three users, two names.
const history = (prefix: string, days: number) => Array.from({ length: days * 4 }, (_, k) => ({
  id: `${prefix}${k}`, name: k % 2 ? 'A' : 'B', user_id: `u${k % 3}`,
  timestamp: new Date(today - days * DAY_MS + k * 6 * 3_600_000 + 60_000).toISOString(),
}))

const send = async (key: string, events: object[]) => {
  const r = await inlet.request('POST', '/v1/events/batch', { key, body: { events } })
  expect(r.status).toBe(200)
  return r.body
}
const count = async (projectId: number) => (await inlet.sql`
  select count(*)::int as n, min("timestamp") as oldest from events where project_id = ${projectId}`)[0]
const ids = async (projectId: number) =>
  (await inlet.sql`select count(*)::int as n from event_ids where project_id = ${projectId}`)[0].n

test('retention_days is 0 to 36600 or null; anything else is a 422 that changes nothing', async () => {
  const created = await inlet.request('POST', '/admin/projects', { headers: auth, body: { name: 'r', retention_days: 36_600 } })
  expect(created.status).toBe(201)
  expect(created.body.retention_days).toBe(36_600)
  const path = `/admin/projects/${created.body.id}`
  for (const bad of [-1, 36_601, 1.5, 'thirty', true]) {
    const r = await inlet.request('PATCH', path, { headers: auth, body: { retention_days: bad } })
    expect(r.status).toBe(422)
    expect(r.body.error.code).toBe('validation_failed')
    const r2 = await inlet.request('POST', '/admin/projects', { headers: auth, body: { name: 'bad', retention_days: bad } })
    expect(r2.status).toBe(422)
  }
  expect((await inlet.request('GET', path, { headers: auth })).body.retention_days).toBe(36_600)
  expect((await inlet.sql`select count(*)::int as n from projects where name = 'bad'`)[0].n).toBe(0)
  expect((await inlet.request('PATCH', path, { headers: auth, body: { retention_days: 0 } })).body.retention_days).toBe(0)
  expect((await inlet.request('PATCH', path, { headers: auth, body: { retention_days: null } })).body.retention_days).toBeNull()
  // Gone again, so that every project of this database keeps a finite time (the next test drops partitions).
  await inlet.sql`delete from api_keys where project_id = ${created.body.id}`
  await inlet.sql`delete from projects where id = ${created.body.id}`
})

test('expired days go whole when every project let them go, by batches otherwise; rollups equal a recount after', async () => {
  const a = await inlet.project({ name: 'a30' })
  await inlet.request('PATCH', `/admin/projects/${a.id}`, { headers: auth, body: { retention_days: 30 } })
  const b = await inlet.project({ name: 'b-default' }) // RETENTION_DAYS_DEFAULT: 20
  await send(a.api_key, history('a', 60))
  await send(b.api_key, history('b', 60))
  expect((await count(a.id)).n).toBe(240)
  await expectExact(inlet.sql, a.id)

  // The pass first gives the old days their partitions (they waited in the default), then expires.
  expect(await inlet.lifecycle.tick()).toBe(true)
  const aLeft = await count(a.id)
  const bLeft = await count(b.id)
  // a keeps 30 whole days before today and today's part; b keeps 20.
  expect(aLeft.n).toBe(history('a', 60).filter(e => Date.parse(e.timestamp) >= today - 30 * DAY_MS).length)
  expect(bLeft.n).toBe(history('b', 60).filter(e => Date.parse(e.timestamp) >= today - 20 * DAY_MS).length)
  expect(aLeft.oldest.getTime()).toBeGreaterThanOrEqual(today - 30 * DAY_MS)
  expect(bLeft.oldest.getTime()).toBeGreaterThanOrEqual(today - 20 * DAY_MS)
  expect(await ids(a.id)).toBe(aLeft.n)
  expect(await ids(b.id)).toBe(bLeft.n)
  await expectExact(inlet.sql, a.id)
  await expectExact(inlet.sql, b.id)
  // Days before today - 30 were dropped as tables; the days a keeps and b does not remain.
  const days = (await listPartitions(inlet.sql, 'events')).map(p => p.dayMs)
  expect(days).not.toContain(today - 31 * DAY_MS)
  expect(days).toContain(today - 25 * DAY_MS)
  expect((await inlet.sql`select to_regclass(${partitionName(today - 40 * DAY_MS)}) as t`)[0].t).toBeNull()
  // A report over the whole range counts only what is kept.
  const r = await inlet.request('GET', `/v1/reports/counts?interval=day&from=${new Date(today - 59 * DAY_MS).toISOString()}&to=${new Date(today + DAY_MS).toISOString()}`, { key: b.api_key })
  expect(r.status).toBe(200)
  expect(r.body.series.reduce((s: number, x: { events: number }) => s + x.events, 0)).toBe(bLeft.n)

  // The same ids sent again: kept ones are duplicates; expired ones are accepted
  // again (their ids left with them) and removed again by the next pass.
  const again = await send(b.api_key, history('b', 60))
  expect(again.duplicates).toBe(bLeft.n)
  expect(again.accepted).toBe(240 - bLeft.n)
  await inlet.lifecycle.tick()
  expect((await count(b.id)).n).toBe(bLeft.n)
  await expectExact(inlet.sql, b.id)
})

test('a project that keeps forever keeps its old days; the others lose theirs by batches', async () => {
  const c = await inlet.project({ name: 'forever' })
  await inlet.request('PATCH', `/admin/projects/${c.id}`, { headers: auth, body: { retention_days: 0 } })
  const d = await inlet.project({ name: 'd-default' })
  await send(c.api_key, history('c', 45))
  await send(d.api_key, history('d', 45))
  await inlet.lifecycle.tick()
  expect((await count(c.id)).n).toBe(180)
  expect((await count(d.id)).n).toBe(history('d', 45).filter(e => Date.parse(e.timestamp) >= today - 20 * DAY_MS).length)
  expect(await ids(c.id)).toBe(180)
  await expectExact(inlet.sql, c.id)
  await expectExact(inlet.sql, d.id)
  // Partitions holding the forever project's days stay.
  const days = (await listPartitions(inlet.sql, 'events')).map(p => p.dayMs)
  expect(days).toContain(today - 44 * DAY_MS)
})

test('/metrics gives the bytes of each table and the oldest kept event, as of the last pass', async () => {
  await inlet.lifecycle.tick()
  const r = await inlet.app.handle(new Request('http://inlet.test/metrics'))
  const text = await r.text()
  const bytes = (table: string) => Number(new RegExp(`inlet_table_bytes\\{table="${table}"\\} (\\d+)`).exec(text)?.[1])
  expect(bytes('events')).toBeGreaterThan(8192)
  expect(bytes('event_ids')).toBeGreaterThan(8192)
  expect(bytes('event_counts_minute')).toBeGreaterThan(0)
  const oldest = Number(/^inlet_oldest_event_timestamp_seconds (\S+)$/m.exec(text)?.[1])
  const [{ t }] = await inlet.sql`select min("timestamp") as t from events`
  expect(oldest).toBe(t.getTime() / 1000)
})
