// Both sides of every ingest limit: exactly at the limit passes, one more fails
// with the contract's status and body, and nothing is stored for the failure.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startInlet, type TestInlet } from '../support/inlet'

// Small limits keep the bodies small; the rules are the same at the defaults.
const env = {
  BODY_BYTES_MAX: '4096', EVENT_BYTES_MAX: '2048', BATCH_EVENTS_MAX: '5', JSON_DEPTH_MAX: '4',
  ID_CHARS_MAX: '16', NAME_CHARS_MAX: '10', PROPERTIES_KEYS_MAX: '3', QUEUE_EVENTS_MAX: '1000', QUEUE_BYTES_MAX: '1048576',
}
let inlet: TestInlet
let key: string
beforeAll(async () => {
  inlet = await startInlet(env)
  ;({ api_key: key } = await inlet.project())
})
afterAll(async () => { await inlet.stop() })

const post = (body: unknown, path = '/v1/events') => inlet.request('POST', path, { key, body })
const nest = (depth: number): unknown => (depth === 1 ? { leaf: 1 } : { n: nest(depth - 1) })

describe('ingest limits', () => {
  test('name: 10 characters pass, 11 are rejected at /name', async () => {
    expect((await post({ name: 'n'.repeat(10) })).status).toBe(200)
    const r = await post({ name: 'n'.repeat(11) })
    expect([r.status, r.body.error.details[0].path]).toEqual([422, '/name'])
  })

  test('id: 16 characters pass, 17 are rejected at /id', async () => {
    expect((await post({ id: 'i'.repeat(16), name: 'x' })).status).toBe(200)
    const r = await post({ id: 'j'.repeat(17), name: 'x' })
    expect([r.status, r.body.error.details[0].path]).toEqual([422, '/id'])
  })

  test('depth: properties nested 4 deep pass, 5 deep are rejected', async () => {
    expect((await post({ name: 'd', properties: nest(4) })).status).toBe(200)
    const r = await post({ name: 'd', properties: nest(5) })
    expect(r.status).toBe(422)
    expect(r.body.error.details[0].message).toContain('JSON_DEPTH_MAX')
  })

  test('properties: 3 keys pass, 4 are rejected', async () => {
    expect((await post({ name: 'k', properties: { a: 1, b: 2, c: 3 } })).status).toBe(200)
    const r = await post({ name: 'k', properties: { a: 1, b: 2, c: 3, d: 4 } })
    expect([r.status, r.body.error.details[0].path]).toEqual([422, '/properties'])
  })

  test('batch: 5 events pass, 6 answer 413 payload_too_large', async () => {
    const events = (n: number) => Array.from({ length: n }, () => ({ name: 'b' }))
    expect((await post({ events: events(5) }, '/v1/events/batch')).status).toBe(200)
    const r = await post({ events: events(6) }, '/v1/events/batch')
    expect([r.status, r.body.error.code]).toEqual([413, 'payload_too_large'])
  })

  test('body: 4096 bytes pass, 4097 answer 413 and store nothing', async () => {
    // A batch of small events padded so the whole body is exactly `bytes` long.
    const sized = (bytes: number) => {
      const events = [0, 1, 2].map(() => ({ name: 'b', context: { pad: '' } }))
      const padding = bytes - JSON.stringify({ events }).length
      events.forEach((e, i) => { e.context.pad = 'p'.repeat(Math.floor(padding / 3) + (i === 2 ? padding % 3 : 0)) })
      return JSON.stringify({ events })
    }
    const count = async () => Number((await inlet.sql`select count(*) from events`)[0].count)
    const before = await count()
    expect(sized(4096).length).toBe(4096)
    const at = await inlet.request('POST', '/v1/events/batch', { key, raw: sized(4096) })
    expect([at.status, at.body.accepted]).toEqual([200, 3])
    const over = await inlet.request('POST', '/v1/events/batch', { key, raw: sized(4097) })
    expect([over.status, over.body.error.code]).toEqual([413, 'payload_too_large'])
    expect(await count()).toBe(before + 3)
  })

  test('event: serialised size at EVENT_BYTES_MAX passes, one byte over answers 413 (single) or is rejected (batch)', async () => {
    // Serialised size: 64 bytes of fixed overhead + id + name + properties + context ('{}').
    let n = 0
    const event = (bytes: number) => ({ id: String(n++ % 10), name: 'e', properties: { p: 'x'.repeat(bytes - 64 - 1 - 1 - 2 - '{"p":""}'.length) } })
    expect((await post(event(2048))).status).toBe(200)
    const single = await post(event(2049))
    expect([single.status, single.body.error.code]).toEqual([413, 'payload_too_large'])
    const batch = await post({ events: [event(2048), event(2049)] }, '/v1/events/batch')
    expect(batch.body).toMatchObject({ accepted: 1, rejected: 1 })
    expect(batch.body.results[1].errors[0].message).toContain('EVENT_BYTES_MAX')
  })

  test('a gzip body that decodes past BODY_BYTES_MAX answers 413 (no gzip bomb)', async () => {
    const bomb = Bun.gzipSync(JSON.stringify({ name: 'g', context: { pad: 'z'.repeat(1_000_000) } }))
    expect(bomb.byteLength).toBeLessThan(4096)
    const r = await inlet.request('POST', '/v1/events', { key, raw: bomb, headers: { 'content-encoding': 'gzip' } })
    expect([r.status, r.body.error.code]).toEqual([413, 'payload_too_large'])
  })

  test('NUL characters and unpaired surrogates are rejected before they reach Postgres', async () => {
    const nul = await inlet.request('POST', '/v1/events', { key, raw: '{"name":"a\\u0000b"}' })
    const lone = await inlet.request('POST', '/v1/events', { key, raw: '{"name":"ok","properties":{"s":"\\ud800"}}' })
    expect([nul.status, nul.body.error.details[0].path]).toEqual([422, '/name'])
    expect([lone.status, lone.body.error.details[0].path]).toEqual([422, '/properties/s'])
  })
})

describe('the ingest buffer', () => {
  test('a full buffer answers 503 overloaded with Retry-After and keeps every acknowledged event', async () => {
    // Block the flushers behind a row lock so events pile up in a 3-event buffer.
    const small = await startInlet({ QUEUE_EVENTS_MAX: '3', BATCH_EVENTS_MAX: '3', FLUSHERS: '1', PG_POOL_MAX: '3' })
    const { api_key, id } = await small.project()
    const reserved = await small.sql.reserve()
    await reserved`begin`
    await reserved`lock table events in exclusive mode`
    // The first request is taken by the only flusher, which waits on the table lock...
    const blocked = small.request('POST', '/v1/events', { key: api_key, body: { id: 'lock', name: 'L' } })
    await Bun.sleep(100)
    // ...the next three fill the buffer, and one more finds no room.
    const queued = small.request('POST', '/v1/events/batch', { key: api_key, body: { events: [{ id: 'q1', name: 'Q' }, { id: 'q2', name: 'Q' }, { id: 'q3', name: 'Q' }] } })
    await Bun.sleep(50)
    const full = await small.request('POST', '/v1/events', { key: api_key, body: { id: 'over', name: 'O' } })
    expect([full.status, full.body.error.code, full.headers.get('retry-after')]).toEqual([503, 'overloaded', '1'])
    await reserved`rollback`
    reserved.release()
    expect((await blocked).body.status).toBe('accepted')
    expect((await queued).body.accepted).toBe(3)
    const stored = await small.sql`select id from events where project_id = ${id} order by id`
    expect(stored.map(r => r.id)).toEqual(['lock', 'q1', 'q2', 'q3'])
    await small.stop()
  })
})
