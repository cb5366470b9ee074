// The rollups that counts and retention read (event_counts_minute, event_counts_hour,
// event_users_day) equal a recomputation from the stored events after duplicates,
// partial batches, replays of the same rows (what the spill drainer does) and
// concurrent flushes of overlapping batches.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { EventRow } from '../../src/ingest/validate'
import { insertEvents } from '../../src/store/write'
import { startInlet, type TestInlet } from '../support/inlet'
import { bruteCounts, generate, type Ev } from './brute'
import { expectExact } from './exact'

const DAY = 86_400_000
const START = Date.UTC(2026, 8, 1, 7)

let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet({ REPORT_CACHE_ENTRIES_MAX: '0' }) })
afterAll(() => inlet.stop())

const wire = (e: Ev) => ({ id: e.id, name: e.name, timestamp: new Date(e.t).toISOString(), user_id: e.user_id, anonymous_id: e.anonymous_id })

test('rollups stay exact through partial batches, in-batch duplicates and re-sent batches over HTTP', async () => {
  const p = await inlet.project()
  const events = generate(7, 'h', START, 3, 300)
  const accepted: Ev[] = []
  for (let i = 0; i < events.length; i += 500) {
    const chunk = events.slice(i, i + 500)
    // Every 50th event is invalid (no name), and the batch ends with copies of its first 5 (valid) events.
    const body = chunk.map((e, k) => (k % 50 === 7 ? { ...wire(e), name: undefined } : wire(e)))
    body.push(...chunk.slice(0, 5).map(wire))
    const r = await inlet.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: body } })
    expect(r.status).toBe(200)
    expect(r.body.rejected).toBe(chunk.filter((_, k) => k % 50 === 7).length)
    expect(r.body.duplicates).toBe(5)
    accepted.push(...chunk.filter((_, k) => k % 50 !== 7))
    // The same batch again: every event a duplicate, nothing counted twice.
    const again = await inlet.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: body } })
    expect(again.body.accepted).toBe(0)
  }
  const [{ n }] = await inlet.sql`select count(*)::int as n from events where project_id = ${p.id}`
  expect(n).toBe(accepted.length)
  await expectExact(inlet.sql, p.id)
  const r = await inlet.request('GET', `/v1/reports/counts?interval=hour&from=${START}&to=${START + 4 * DAY}`, { key: p.api_key })
  expect(r.body.series).toEqual(bruteCounts(accepted, START, START + 4 * DAY, 'hour'))
})

test('rollups stay exact when the same rows are replayed, as the spill drainer does after a crash', async () => {
  const p = await inlet.project()
  const rows: EventRow[] = generate(8, 'r', START, 2, 400).map(e => ({
    projectId: p.id, id: e.id, type: 'track', name: e.name, timestampMs: e.t, receivedAtMs: START,
    userId: e.user_id ?? null, anonymousId: e.anonymous_id ?? null, sessionId: null, properties: '{}', context: '{}', bytes: 1,
  }))
  const first = await insertEvents(inlet.sql, rows.slice(0, 1000))
  expect(first.every(v => v === 'accepted')).toBe(true)
  // A replay overlapping what was committed, then the whole log again.
  const replay = await insertEvents(inlet.sql, rows.slice(500))
  expect(replay.filter(v => v === 'duplicate').length).toBe(500)
  const all = await insertEvents(inlet.sql, rows)
  expect(all.every(v => v === 'duplicate')).toBe(true)
  await expectExact(inlet.sql, p.id)
})

test('rollups stay exact when concurrent flushes carry overlapping batches', async () => {
  const p = await inlet.project()
  const rows: EventRow[] = generate(9, 'c', START, 2, 400).map(e => ({
    projectId: p.id, id: e.id, type: 'track', name: e.name, timestampMs: e.t, receivedAtMs: START,
    userId: e.user_id ?? null, anonymousId: e.anonymous_id ?? null, sessionId: null, properties: '{}', context: '{}', bytes: 1,
  }))
  const third = Math.floor(rows.length / 3)
  const verdicts = await Promise.all([
    insertEvents(inlet.sql, rows.slice(0, 2 * third)),
    insertEvents(inlet.sql, rows.slice(third)),
    insertEvents(inlet.sql, rows.slice(0, third).concat(rows.slice(2 * third))),
  ])
  expect(verdicts.flat().filter(v => v === 'accepted').length).toBe(rows.length)
  const [{ n }] = await inlet.sql`select count(*)::int as n from events where project_id = ${p.id}`
  expect(n).toBe(rows.length)
  await expectExact(inlet.sql, p.id)
})
