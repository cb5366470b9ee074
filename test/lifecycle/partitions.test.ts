// Day partitions of events (sql/007_partitions.sql, src/store/partitions.ts): made
// ahead at start-up and on every pass, the default partition emptied into days,
// the duplicate guarantee across partitions, and get-by-id reading one partition.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import postgres from 'postgres'
import type { Sql } from '../../src/store/db'
import { getEvent } from '../../src/store/events'
import { DAY_MS, dayStart, listPartitions, partitionName } from '../../src/store/partitions'
import { databaseUrl, startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
beforeAll(async () => {
  // The pass runs at start-up; the timer is pushed out of the way of the test's own passes.
  inlet = await startInlet({ LIFECYCLE_INTERVAL_MS: '86400000', PARTITION_AHEAD_DAYS: '3' })
  await inlet.lifecycle.tick()
})
afterAll(() => inlet.stop())

const where = async (projectId: number, id: string) =>
  (await inlet.sql`select tableoid::regclass::text as t from events where project_id = ${projectId} and id = ${id}`).map(r => r.t)

test('a new install has a partitioned events table with today and PARTITION_AHEAD_DAYS more', async () => {
  const [{ relkind }] = await inlet.sql`select relkind from pg_class where relname = 'events'`
  expect(relkind).toBe('p')
  const today = dayStart(Date.now())
  const days = (await listPartitions(inlet.sql, 'events')).map(p => p.dayMs)
  for (let d = 0; d <= 3; d++) expect(days).toContain(today + d * DAY_MS)
})

test('an event is stored in the partition of its day, one beyond the last partition in the default', async () => {
  const p = await inlet.project()
  const today = dayStart(Date.now())
  const r = await inlet.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: [
    { id: 'now', name: 'A', timestamp: new Date(today + 3_600_000).toISOString() },
    { id: 'late', name: 'A', timestamp: new Date(today + 3 * DAY_MS + DAY_MS - 1).toISOString() },
    { id: 'far', name: 'A', timestamp: new Date(today + 10 * DAY_MS).toISOString() },
  ] } })
  expect(r.status).toBe(200)
  expect(r.body.accepted).toBe(3)
  expect(await where(p.id, 'now')).toEqual([partitionName(today)])
  expect(await where(p.id, 'late')).toEqual([partitionName(today + 3 * DAY_MS)])
  expect(await where(p.id, 'far')).toEqual(['events_default'])
  // Found by id wherever it is.
  for (const id of ['now', 'late', 'far']) {
    const got = await inlet.request('GET', `/v1/events/${id}`, { key: p.api_key })
    expect(got.status).toBe(200)
    expect(got.body.id).toBe(id)
  }
})

test('a pass on a later day creates the partitions across the boundary and moves the waiting rows into their day', async () => {
  const p = await inlet.project()
  const today = dayStart(Date.now())
  const far = today + 12 * DAY_MS
  const r = await inlet.request('POST', '/v1/events', { key: p.api_key, body: { id: 'x', name: 'B', timestamp: new Date(far + 5).toISOString() } })
  expect(r.body.status).toBe('accepted')
  expect(await where(p.id, 'x')).toEqual(['events_default'])
  // Ten days later: today+10 .. today+13 are created; the row waiting for today+12 moves.
  expect(await inlet.lifecycle.tick(today + 10 * DAY_MS + 1000)).toBe(true)
  const days = (await listPartitions(inlet.sql, 'events')).map(d => d.dayMs)
  for (let d = 10; d <= 13; d++) expect(days).toContain(today + d * DAY_MS)
  expect(await where(p.id, 'x')).toEqual([partitionName(far)])
  // Exactly one copy, still found by id, still a duplicate when sent again.
  const again = await inlet.request('POST', '/v1/events', { key: p.api_key, body: { id: 'x', name: 'B', timestamp: new Date(far + 5).toISOString() } })
  expect(again.body.status).toBe('duplicate')
  expect((await inlet.request('GET', '/v1/events/x', { key: p.api_key })).body.timestamp).toBe(new Date(far + 5).toISOString())
})

test('the same id sent with timestamps in two different months is stored once: the second is a duplicate', async () => {
  const p = await inlet.project()
  const a = await inlet.request('POST', '/v1/events', { key: p.api_key, body: { id: 'same', name: 'C', timestamp: '2026-01-15T10:00:00Z' } })
  const b = await inlet.request('POST', '/v1/events', { key: p.api_key, body: { id: 'same', name: 'C', timestamp: '2026-03-15T10:00:00Z' } })
  // And concurrently, in one batch and in two requests at once, across partitions.
  const both = await Promise.all([0, 1].map(k => inlet.request('POST', '/v1/events', { key: p.api_key,
    body: { id: 'race', name: 'C', timestamp: new Date(Date.now() + k * 2 * DAY_MS).toISOString() } })))
  expect(a.body.status).toBe('accepted')
  expect(b.body.status).toBe('duplicate')
  expect(both.map(r => r.body.status).sort()).toEqual(['accepted', 'duplicate'])
  const rows = await inlet.sql`select id, "timestamp" from events where project_id = ${p.id} order by id`
  expect(rows.map(r => r.id)).toEqual(['race', 'same'])
  expect(rows[1].timestamp.toISOString()).toBe('2026-01-15T10:00:00.000Z')
  const [{ n }] = await inlet.sql`select count(*)::int as n from event_ids where project_id = ${p.id}`
  expect(n).toBe(2)
  // Counted once in the rollups too.
  const [{ c }] = await inlet.sql`select sum(events)::int as c from event_counts_minute where project_id = ${p.id}`
  expect(c).toBe(2)
})

test('get-by-id reads one entry of its day\'s partition, also in a day that was empty when the plan was made', async () => {
  const p = await inlet.project()
  const day = dayStart(Date.now()) + 2 * DAY_MS // made ahead: empty
  const table = partitionName(day)
  // One connection on generic plans, as postgres.js's prepared statements run from
  // their sixth execution on, for the connection's lifetime. It alone reads this day.
  const one = postgres(databaseUrl(), { max: 1, onnotice: () => {}, connection: { plan_cache_mode: 'force_generic_plan' } })
  try {
    expect(await getEvent(one, p.id, 'none', 5_000)).toBeNull() // the plan is made here
    // Then the day fills: 20,000 events of one name, 400 to a millisecond (a batch's
    // events share their arrival time).
    const at = (g: string) => one`${new Date(day + 3_600_000)}::timestamptz + (${one.unsafe(g)} / 400) * interval '1 ms'`
    await one`insert into events (project_id, id, type, name, "timestamp", received_at, properties, context)
      select ${p.id}, 'g' || g, 'track', 'Purchase', ${at('g')}, now(), '{}', '{}' from generate_series(1, 20000) g`
    await one`insert into event_ids (project_id, id, "timestamp") select ${p.id}, 'g' || g, ${at('g')} from generate_series(1, 20000) g`
    // The index scans of this transaction alone (pg_stat_get_xact_numscans), on every
    // partition's indexes: exact, with no wait for statistics to be reported.
    const { got, scans } = await one.begin(async tx => {
      const got = await getEvent(tx as unknown as Sql, p.id, 'g12345', 5_000)
      const scans = await tx`select c.relname as t, i.relname as i, pg_stat_get_xact_numscans(i.oid)::int as n
        from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class c on c.oid = x.indrelid
        where c.relname like 'events%' and pg_stat_get_xact_numscans(i.oid) > 0`
      return { got, scans }
    })
    expect(got?.id).toBe('g12345')
    expect(got?.timestamp).toBe(new Date(day + 3_600_000 + 30).toISOString())
    // One descent of (project_id, timestamp desc, id desc) in the event's day; none of
    // the name index, whose range for the project holds every event of the day before
    // this one; no other partition (pruned at run time).
    expect(scans.map(r => ({ t: r.t, i: /_project_id_timestamp_id_/.test(r.i) ? 'time' : r.i, n: r.n }))).toEqual([{ t: table, i: 'time', n: 1 }])
  } finally {
    await one.end()
  }
  // And through the API.
  expect((await inlet.request('GET', '/v1/events/g12345', { key: p.api_key })).body.id).toBe('g12345')
})
