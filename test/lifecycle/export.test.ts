// GET /v1/events/export: every matching event exactly once, in (timestamp, id)
// order, as NDJSON or CSV, gzip when asked; a dropped export resumed with `after`
// delivers the rest exactly once; bad parameters are 422s.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { gunzipSync } from 'node:zlib'
import { startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
let p: { id: number; api_key: string }
const N = 2_500
const T0 = Date.UTC(2026, 10, 1)

beforeAll(async () => {
  inlet = await startInlet({ EXPORT_PAGE_ROWS: '100', LIFECYCLE_INTERVAL_MS: '86400000' })
  p = await inlet.project()
  const q = await inlet.project()
  // Pairs of events share a timestamp, so the id breaks ties; ids are not in time order.
  const events = Array.from({ length: N }, (_, k) => ({
    id: `x${(k * 7919) % N}`, name: k % 4 ? 'View' : 'Buy, "now"', user_id: `u${k % 9}`,
    timestamp: new Date(T0 + Math.floor(k / 2) * 60_000).toISOString(), properties: { k, text: 'a,b\n"c"' },
  }))
  for (let i = 0; i < N; i += 1_000) {
    expect((await inlet.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: events.slice(i, i + 1_000) } })).body.accepted).toBe(Math.min(1_000, N - i))
  }
  await inlet.request('POST', '/v1/events', { key: q.api_key, body: { id: 'other', name: 'View', timestamp: new Date(T0).toISOString() } })
  // These days' partitions are made now (their rows waited in the default).
  await inlet.lifecycle.tick()
})
afterAll(() => inlet.stop())

const get = (path: string, headers: Record<string, string> = {}) => inlet.app.handle(new Request(`http://inlet.test${path}`,
  { headers: { authorization: `Bearer ${p.api_key}`, ...headers } }))
const lines = (text: string) => text.split('\n').filter(Boolean).map(l => JSON.parse(l))

async function expected(where = '') {
  return await inlet.sql.unsafe(`select id from events where project_id = $1 ${where} order by "timestamp", id`, [p.id])
}

test('an export streams every event of the project once, in (timestamp, id) order, as the read API returns them', async () => {
  const r = await get('/v1/events/export')
  expect(r.status).toBe(200)
  expect(r.headers.get('content-type')).toBe('application/x-ndjson')
  const got = lines(await r.text())
  expect(got.length).toBe(N)
  expect(got.map(e => e.id)).toEqual((await expected()).map(r => r.id))
  const one = (await inlet.request('GET', `/v1/events/${got[17].id}`, { key: p.api_key })).body
  expect(got[17]).toEqual(one)
})

test('from, to and name select exactly the events a query selects', async () => {
  const from = new Date(T0 + 100 * 60_000).toISOString()
  const to = new Date(T0 + 700 * 60_000).toISOString()
  const got = lines(await (await get(`/v1/events/export?from=${from}&to=${to}&name=${encodeURIComponent('Buy, "now"')}`)).text())
  const want = await expected(`and "timestamp" >= '${from}' and "timestamp" < '${to}' and name = 'Buy, "now"'`)
  expect(want.length).toBeGreaterThan(100)
  expect(got.map(e => e.id)).toEqual(want.map(r => r.id))
})

test('an export dropped part way and resumed with after=<last id received> delivers every event exactly once', async () => {
  const r = await get('/v1/events/export')
  const reader = r.body!.getReader()
  let text = ''
  // A few pages, then the connection drops (mid-line, as a real drop would).
  for (let i = 0; i < 4; i++) text += new TextDecoder().decode((await reader.read()).value)
  await reader.cancel()
  text = text.slice(0, text.length - 37)
  const complete = text.slice(0, text.lastIndexOf('\n') + 1)
  const first = lines(complete)
  expect(first.length).toBeGreaterThan(100)
  expect(first.length).toBeLessThan(N)
  const rest = lines(await (await get(`/v1/events/export?after=${first[first.length - 1].id}`)).text())
  const all = [...first, ...rest].map(e => e.id)
  expect(all).toEqual((await expected()).map(r => r.id))
  expect(new Set(all).size).toBe(N)
})

test('gzip when the client accepts it, the same bytes once decoded', async () => {
  const plain = await (await get('/v1/events/export?format=csv')).text()
  const z = await get('/v1/events/export?format=csv', { 'accept-encoding': 'gzip, br' })
  expect(z.headers.get('content-encoding')).toBe('gzip')
  const bytes = new Uint8Array(await z.arrayBuffer())
  expect(bytes.length).toBeLessThan(plain.length / 3)
  expect(gunzipSync(bytes).toString('utf8')).toBe(plain)
})

test('CSV has a header and one RFC 4180 record per event, quoting commas, quotes and line breaks', async () => {
  const text = await (await get('/v1/events/export?format=csv&name=' + encodeURIComponent('Buy, "now"'))).text()
  expect(text.startsWith('id,type,name,timestamp,received_at,user_id,anonymous_id,session_id,properties,context\r\n')).toBe(true)
  const records = text.split('\r\n').filter(Boolean)
  expect(records.length).toBe(1 + N / 4)
  expect(records[1]).toContain(',"Buy, ""now""",')
  expect(records[1]).toContain('\\n')
})

test('a bad format, from after to, or an unknown after id is a 422; no key is a 401', async () => {
  for (const q of ['format=xml', 'from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z', 'after=nope', 'from=yesterday']) {
    const r = await get(`/v1/events/export?${q}`)
    expect(r.status).toBe(422)
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('validation_failed')
  }
  // from equal to to: an empty export, not an error.
  const empty = await get('/v1/events/export?from=2026-11-01T00:00:00Z&to=2026-11-01T00:00:00Z')
  expect(empty.status).toBe(200)
  expect(await empty.text()).toBe('')
  const anonymous = await inlet.app.handle(new Request('http://inlet.test/v1/events/export'))
  expect(anonymous.status).toBe(401)
})

test('rows written by another tool with sub-millisecond timestamps are each exported once, across pages and after a resume', async () => {
  const s = await inlet.project()
  // 250 events 1.5 µs apart, written straight into Postgres: every page ends inside a millisecond.
  await inlet.sql`
    with t as (select k, timestamptz '2026-11-03 10:00:00+00' + k * interval '1.5 microseconds' as ts from generate_series(1, 250) k),
    ids as (insert into event_ids (project_id, id, "timestamp") select ${s.id}, 'sub' || k, ts from t)
    insert into events (project_id, id, type, name, "timestamp", received_at, properties, context)
    select ${s.id}, 'sub' || k, 'track', 'Imported', ts, ts, '{}', '{}' from t`
  await inlet.lifecycle.tick()
  const want = (await inlet.sql`select id from events where project_id = ${s.id} order by "timestamp", id`).map(r => r.id)
  const exportOf = async (query = '') => lines(await (await inlet.app.handle(new Request(`http://inlet.test/v1/events/export${query}`,
    { headers: { authorization: `Bearer ${s.api_key}` } }))).text()).map(e => e.id)
  expect(await exportOf()).toEqual(want)
  expect(await exportOf(`?after=${want[149]}`)).toEqual(want.slice(150))
})
