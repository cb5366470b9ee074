// POST /v1/events and /v1/events/batch as API.md describes them, checked against
// the rows Postgres holds.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
let key: string
let projectId: number
beforeAll(async () => {
  inlet = await startInlet()
  ;({ id: projectId, api_key: key } = await inlet.project())
})
afterAll(async () => { await inlet.stop() })

const rows = async (where = '') =>
  Number((await inlet.sql.unsafe(`select count(*) from events where project_id = ${projectId} ${where}`))[0].count)

describe('POST /v1/events', () => {
  test('an accepted event is stored whole, with its fields as sent', async () => {
    const event = {
      id: 'ord_8f2c1', name: 'Purchase', timestamp: '2026-11-22T10:00:00Z', user_id: 'u_42',
      anonymous_id: 'a_9', session_id: 's_1', properties: { amount: 19.99, items: [{ sku: 'x' }] }, context: { ip: '203.0.113.9' },
    }
    const r = await inlet.request('POST', '/v1/events', { key, body: event })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ id: 'ord_8f2c1', status: 'accepted' })
    const [row] = await inlet.sql`select * from events where project_id = ${projectId} and id = 'ord_8f2c1'`
    expect(row).toMatchObject({ type: 'track', name: 'Purchase', user_id: 'u_42', anonymous_id: 'a_9', session_id: 's_1' })
    expect(row.properties).toEqual(event.properties)
    expect(row.context).toEqual(event.context)
    expect(row.timestamp.toISOString()).toBe('2026-11-22T10:00:00.000Z')
  })

  test('the same event sent twice is stored once and the second is reported duplicate, the stored one unchanged', async () => {
    const first = await inlet.request('POST', '/v1/events', { key, body: { id: 'dup-1', name: 'A', properties: { v: 1 } } })
    const second = await inlet.request('POST', '/v1/events', { key, body: { id: 'dup-1', name: 'B', properties: { v: 2 } } })
    expect(first.body).toEqual({ id: 'dup-1', status: 'accepted' })
    expect(second.body).toEqual({ id: 'dup-1', status: 'duplicate' })
    expect(await rows(`and id = 'dup-1'`)).toBe(1)
    const [row] = await inlet.sql`select name, properties from events where project_id = ${projectId} and id = 'dup-1'`
    expect(row).toEqual({ name: 'A', properties: { v: 1 } })
  })

  test('50 concurrent copies of one event store one row: one accepted, 49 duplicates', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () =>
      inlet.request('POST', '/v1/events', { key, body: { id: 'conc-1', name: 'Concurrent' } })))
    expect(results.every(r => r.status === 200)).toBe(true)
    expect(results.filter(r => r.body.status === 'accepted').length).toBe(1)
    expect(results.filter(r => r.body.status === 'duplicate').length).toBe(49)
    expect(await rows(`and id = 'conc-1'`)).toBe(1)
  })

  test('an event without id gets a time-ordered UUIDv7', async () => {
    const r = await inlet.request('POST', '/v1/events', { key, body: { name: 'NoId' } })
    expect(r.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  test('Idempotency-Key becomes the id of a single event without one, so a retry is a duplicate', async () => {
    const headers = { 'idempotency-key': 'retry-abc' }
    const a = await inlet.request('POST', '/v1/events', { key, headers, body: { name: 'Retry' } })
    const b = await inlet.request('POST', '/v1/events', { key, headers, body: { name: 'Retry' } })
    expect(a.body).toEqual({ id: 'retry-abc', status: 'accepted' })
    expect(b.body).toEqual({ id: 'retry-abc', status: 'duplicate' })
  })

  test('X-Sent-At shifts the timestamp by the client clock error', async () => {
    const sentAt = new Date(Date.now() - 3_600_000).toISOString() // client clock one hour behind
    const r = await inlet.request('POST', '/v1/events', {
      key, headers: { 'x-sent-at': sentAt }, body: { id: 'skew-1', name: 'Skew', timestamp: '2026-01-01T00:00:00Z' },
    })
    expect(r.status).toBe(200)
    const [row] = await inlet.sql`select "timestamp" from events where project_id = ${projectId} and id = 'skew-1'`
    const shiftMs = row.timestamp.getTime() - Date.parse('2026-01-01T00:00:00Z')
    expect(Math.abs(shiftMs - 3_600_000)).toBeLessThan(60_000)
  })

  test('epoch milliseconds are accepted as a timestamp', async () => {
    await inlet.request('POST', '/v1/events', { key, body: { id: 'epoch-1', name: 'E', timestamp: 1_763_805_600_123 } })
    const [row] = await inlet.sql`select "timestamp" from events where project_id = ${projectId} and id = 'epoch-1'`
    expect(row.timestamp.getTime()).toBe(1_763_805_600_123)
  })

  test('an invalid event answers 422 with each problem at its JSON path, and stores nothing', async () => {
    const before = await rows()
    const r = await inlet.request('POST', '/v1/events', { key, body: { id: 5, properties: [], timestamp: 'yesterday' } })
    expect(r.status).toBe(422)
    expect(r.body.error.code).toBe('validation_failed')
    const paths = r.body.error.details.map((d: { path: string }) => d.path).sort()
    expect(paths).toEqual(['/id', '/name', '/properties', '/timestamp'])
    expect(await rows()).toBe(before)
  })

  test('a body that is not JSON answers 400 malformed_json; a JSON array answers 400 too', async () => {
    const a = await inlet.request('POST', '/v1/events', { key, raw: '{"name": ' })
    const b = await inlet.request('POST', '/v1/events', { key, raw: '[{"name":"x"}]' })
    expect([a.status, a.body.error.code, b.status, b.body.error.code]).toEqual([400, 'malformed_json', 400, 'malformed_json'])
  })

  test('a missing or unknown key answers 401 unauthorized', async () => {
    const none = await inlet.request('POST', '/v1/events', { body: { name: 'X' } })
    const wrong = await inlet.request('POST', '/v1/events', { key: 'ik_nope_nope', body: { name: 'X' } })
    expect([none.status, none.body.error.code, wrong.status, wrong.body.error.code]).toEqual([401, 'unauthorized', 401, 'unauthorized'])
  })

  test('the key is accepted as Bearer, X-API-Key, and Basic user name', async () => {
    const basic = `Basic ${Buffer.from(`${key}:`).toString('base64')}`
    const variants: Record<string, string>[] = [{ authorization: `Bearer ${key}` }, { 'x-api-key': key }, { authorization: basic }]
    for (const headers of variants) {
      const r = await inlet.request('POST', '/v1/events', { headers, body: { name: 'Auth' } })
      expect(r.status).toBe(200)
    }
  })

  test('every authenticated response carries the RateLimit headers', async () => {
    const ok = await inlet.request('POST', '/v1/events', { key, body: { name: 'H' } })
    const bad = await inlet.request('POST', '/v1/events', { key, body: {} })
    for (const r of [ok, bad]) {
      expect(Number(r.headers.get('ratelimit-limit'))).toBe(10_000)
      expect(r.headers.get('ratelimit-remaining')).toMatch(/^\d+$/)
      expect(r.headers.get('ratelimit-reset')).toMatch(/^\d+$/)
    }
  })

  test('a gzip body is decoded', async () => {
    const raw = Bun.gzipSync(JSON.stringify({ id: 'gz-1', name: 'Gzip' }))
    const r = await inlet.request('POST', '/v1/events', { key, raw, headers: { 'content-encoding': 'gzip' } })
    expect(r.body).toEqual({ id: 'gz-1', status: 'accepted' })
  })
})

describe('POST /v1/events/batch', () => {
  test('9 valid and 1 invalid event: 9 rows stored, the invalid one reported at its index with its path', async () => {
    const events = Array.from({ length: 10 }, (_, i) => ({ id: `pb-${i}`, name: 'Step' }))
    events[5] = { id: 'pb-5' } as any
    const r = await inlet.request('POST', '/v1/events/batch', { key, body: { events } })
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ accepted: 9, duplicates: 0, rejected: 1 })
    expect(r.body.results).toHaveLength(10)
    expect(r.body.results.map((x: { index: number }) => x.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(r.body.results[5]).toEqual({ index: 5, status: 'rejected', errors: [{ path: '/name', message: 'required' }] })
    expect(r.body.results[0]).toEqual({ index: 0, id: 'pb-0', status: 'accepted' })
    expect(await rows(`and id like 'pb-%'`)).toBe(9)
  })

  test('a batch with every event invalid answers 422 with the per-event results in details', async () => {
    const r = await inlet.request('POST', '/v1/events/batch', { key, body: { events: [{}, { name: 7 }] } })
    expect(r.status).toBe(422)
    expect(r.body.error.code).toBe('validation_failed')
    expect(r.body.error.details.map((d: { index: number; status: string }) => [d.index, d.status])).toEqual([[0, 'rejected'], [1, 'rejected']])
  })

  test('duplicates inside one batch and against stored rows are reported as duplicate', async () => {
    await inlet.request('POST', '/v1/events', { key, body: { id: 'bd-0', name: 'X' } })
    const r = await inlet.request('POST', '/v1/events/batch', {
      key, body: { events: [{ id: 'bd-0', name: 'X' }, { id: 'bd-1', name: 'X' }, { id: 'bd-1', name: 'X' }] },
    })
    expect(r.body.results.map((x: { status: string }) => x.status)).toEqual(['duplicate', 'accepted', 'duplicate'])
    expect(r.body).toMatchObject({ accepted: 1, duplicates: 2, rejected: 0 })
    expect(await rows(`and id like 'bd-%'`)).toBe(2)
  })

  test('an Idempotency-Key retry of a batch without ids adds no rows', async () => {
    const body = { events: [{ name: 'A' }, { name: 'B' }, { name: 'C' }] }
    const headers = { 'idempotency-key': 'batch-retry-1' }
    const a = await inlet.request('POST', '/v1/events/batch', { key, headers, body })
    const count = await rows()
    const b = await inlet.request('POST', '/v1/events/batch', { key, headers, body })
    expect(a.body.results.map((x: { id: string }) => x.id)).toEqual(['batch-retry-1:0', 'batch-retry-1:1', 'batch-retry-1:2'])
    expect(b.body).toMatchObject({ accepted: 0, duplicates: 3 })
    expect(await rows()).toBe(count)
  })

  test('sent_at in the body corrects every event timestamp of the batch', async () => {
    const sent_at = new Date(Date.now() + 120_000).toISOString() // client clock two minutes ahead
    await inlet.request('POST', '/v1/events/batch', {
      key, body: { sent_at, events: [{ id: 'bs-1', name: 'S', timestamp: '2026-05-01T12:00:00Z' }] },
    })
    const [row] = await inlet.sql`select "timestamp" from events where project_id = ${projectId} and id = 'bs-1'`
    const shiftMs = row.timestamp.getTime() - Date.parse('2026-05-01T12:00:00Z')
    expect(Math.abs(shiftMs + 120_000)).toBeLessThan(60_000)
  })

  test('events missing, empty or not an array answers 422 at /events; a non-object body 400', async () => {
    for (const body of [{}, { events: [] }, { events: {} }]) {
      const r = await inlet.request('POST', '/v1/events/batch', { key, body })
      expect(r.status).toBe(422)
      expect(r.body.error.details[0].path).toBe('/events')
    }
    const r = await inlet.request('POST', '/v1/events/batch', { key, body: [1] })
    expect(r.status).toBe(400)
  })
})
