// The Segment-compatible routes in-process, on the real database: the mapping, the
// answers Segment's SDKs rely on (a batch is 200 whatever its messages), the error
// paths named after Segment's fields, skew correction, dedupe, and both sides of limits.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { gzipSync } from 'node:zlib'
import { startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet({ BATCH_EVENTS_MAX: '3', EVENT_BYTES_MAX: String(64 * 1024) }) }, 30_000)
afterAll(async () => { await inlet.stop() }, 30_000)

const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` })
const rows = (projectId: number) => inlet.sql`
  select id, type, name, user_id, anonymous_id, properties, context, "timestamp"
  from events where project_id = ${projectId} order by id`
const count = async (projectId: number) => (await inlet.sql`select count(*)::int as n from events where project_id = ${projectId}`)[0].n

test('a batch with some invalid messages answers 200 with per-message results and stores only the valid ones', async () => {
  const p = await inlet.project()
  const r = await inlet.request('POST', '/v1/batch', {
    headers: basic(p.api_key),
    body: { batch: [
      { type: 'track', messageId: 'ok-1', userId: 'u1', event: 'Paid' },
      { type: 'track', messageId: 'bad-1', userId: 'u1' },
      { type: 'group', messageId: 'bad-2', userId: 'u1', traits: { name: 'Acme' } },
    ] },
  })
  expect(r.status).toBe(200)
  expect(r.body).toEqual({
    success: true, accepted: 1, duplicates: 0, rejected: 2,
    results: [
      { index: 0, id: 'ok-1', status: 'accepted' },
      { index: 1, status: 'rejected', errors: [{ path: '/event', message: 'required' }] },
      { index: 2, status: 'rejected', errors: [{ path: '/groupId', message: 'required' }] },
    ],
  })
  expect((await rows(p.id)).map(e => e.id)).toEqual(['ok-1'])
})

test('a batch whose every message is invalid still answers 200, because Segment SDKs drop a batch on a 4xx', async () => {
  const p = await inlet.project()
  const r = await inlet.request('POST', '/v1/batch', {
    key: p.api_key,
    body: { batch: [
      { type: 'launch', userId: { id: 1 } },
      'nope',
      { type: 'alias', userId: 'u1', traits: 7, timestamp: 'soon' },
    ] },
  })
  expect(r.status).toBe(200)
  expect(r.body).toMatchObject({ success: true, accepted: 0, rejected: 3 })
  // Every problem of a message at once, named as the client named it.
  expect(r.body.results.map((x: any) => x.errors.map((e: any) => e.path))).toEqual([
    ['/type', '/userId'], [''], ['/traits', '/previousId', '/timestamp'],
  ])
  expect(await count(p.id)).toBe(0)
})

test('a single track call with an invalid message answers 422 naming Segment\'s fields and stores nothing', async () => {
  const p = await inlet.project()
  const r = await inlet.request('POST', '/v1/track', {
    key: p.api_key, body: { event: 'x'.repeat(201), userId: 'u1', messageId: 'm'.repeat(129), timestamp: 'yesterday' },
  })
  expect(r.status).toBe(422)
  expect(r.body.error.code).toBe('validation_failed')
  expect(r.body.error.details.map((d: any) => d.path).sort()).toEqual(['/event', '/messageId', '/timestamp'])
  const traits = await inlet.request('POST', '/v1/identify', { key: p.api_key, body: { userId: 'u1', traits: { bad: 'a\u0000' } } })
  expect(traits.status).toBe(422)
  expect(traits.body.error.details).toEqual([{ path: '/traits/bad', message: 'must not contain NUL (\\u0000) characters' }])
  const page = await inlet.request('POST', '/v1/page', { key: p.api_key, body: { userId: 'u1', name: 'a\u0000', properties: { path: '/' } } })
  expect(page.status).toBe(422)
  expect(page.body.error.details).toEqual([{ path: '/name', message: 'must not contain NUL (\\u0000) characters' }])
  expect(await count(p.id)).toBe(0)
})

test('a body that is not JSON answers 400, a batch that is not an array 422, and nothing is stored', async () => {
  const p = await inlet.project()
  const notJson = await inlet.request('POST', '/v1/batch', { key: p.api_key, raw: '{"batch": [' })
  expect(notJson.status).toBe(400)
  expect(notJson.body.error.code).toBe('malformed_json')
  const notArray = await inlet.request('POST', '/v1/batch', { key: p.api_key, body: { batch: { type: 'track' } } })
  expect(notArray.status).toBe(422)
  expect(notArray.body.error.details).toEqual([{ path: '/batch', message: 'must be an array' }])
  expect(await count(p.id)).toBe(0)
})

test('a retried batch with the same messageIds is stored once and answers duplicates', async () => {
  const p = await inlet.project()
  const body = { batch: [{ type: 'track', messageId: 'r-1', userId: 'u', event: 'A' }, { type: 'identify', messageId: 'r-2', userId: 'u' }] }
  const first = await inlet.request('POST', '/v1/batch', { key: p.api_key, body })
  const again = await inlet.request('POST', '/v1/import', { key: p.api_key, body })
  expect(first.body).toMatchObject({ success: true, accepted: 2, duplicates: 0 })
  expect(again.body).toMatchObject({ success: true, accepted: 0, duplicates: 2 })
  expect(await count(p.id)).toBe(2)
})

test('numeric userId, anonymousId and groupId are stored as strings; an empty userId counts as absent', async () => {
  const p = await inlet.project()
  const r = await inlet.request('POST', '/v1/group', {
    key: p.api_key, body: { messageId: 'g-1', userId: 42, anonymousId: 7, groupId: 9, traits: { seats: 3 } },
  })
  expect(r).toMatchObject({ status: 200, body: { success: true, id: 'g-1', status: 'accepted' } })
  const empty = await inlet.request('POST', '/v1/track', { key: p.api_key, body: { messageId: 't-1', userId: '', anonymousId: 'a', event: 'E' } })
  expect(empty.status).toBe(200)
  const [g, t] = await rows(p.id)
  expect(g).toMatchObject({ type: 'group', name: '$group', user_id: '42', anonymous_id: '7', properties: { seats: 3, groupId: '9' } })
  expect(t).toMatchObject({ user_id: null, anonymous_id: 'a' })
})

test('an identify with its traits only in context.traits (RudderStack\'s browser SDK) has them as properties; top-level traits win', async () => {
  const p = await inlet.project()
  const send = (messageId: string, extra: Record<string, unknown>) => inlet.request('POST', '/v1/identify', {
    key: p.api_key, body: { messageId, userId: 'u1', context: { traits: { email: 'ada@example.com' } }, ...extra },
  })
  expect((await send('ct-1', {})).status).toBe(200)
  expect((await send('ct-2', { traits: { plan: 'pro' } })).status).toBe(200)
  const track = await inlet.request('POST', '/v1/track', { key: p.api_key, body: { messageId: 'ct-3', userId: 'u1', event: 'E', context: { traits: { email: 'x' } } } })
  expect(track.status).toBe(200)
  const [a, b, c] = await rows(p.id)
  expect([a.properties, b.properties, c.properties]).toEqual([{ email: 'ada@example.com' }, { plan: 'pro' }, {}])
  expect(a.context.traits).toEqual({ email: 'ada@example.com' })
})

test('timestamps are shifted by the sender\'s clock error: the message\'s sentAt, else the batch\'s', async () => {
  const p = await inlet.project()
  const hour = 3600_000
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  // The sender's clock is an hour behind: its sentAt is an hour before our now.
  const behind = new Date(Date.now() - hour).toISOString()
  const ahead = new Date(Date.now() + 2 * hour).toISOString()
  const r = await inlet.request('POST', '/v1/batch', {
    key: p.api_key,
    body: { sentAt: behind, batch: [
      { type: 'track', messageId: 's-1', event: 'A', anonymousId: 'a', timestamp: '2026-01-01T00:00:00Z' },
      { type: 'track', messageId: 's-2', event: 'B', anonymousId: 'a', originalTimestamp: '2026-01-01T00:00:00Z', sentAt: ahead },
      { type: 'track', messageId: 's-3', event: 'C', anonymousId: 'a', originalTimestamp: '2026-01-01T00:00:00Z', sentAt: 'garbage' },
    ] },
  })
  expect(r.body.accepted).toBe(3)
  const [a, b, c] = (await rows(p.id)).map(e => (e.timestamp as Date).getTime() - t0)
  // The correction is received_at - sentAt: the shift plus the request's own time,
  // which a minute bounds on any machine.
  for (const [got, shift] of [[a, hour], [b, -2 * hour], [c, hour]]) {
    expect(got).toBeGreaterThanOrEqual(shift)
    expect(got).toBeLessThan(shift + 60_000)
  }
})

test('a batch-level context is merged under each message\'s own context', async () => {
  const p = await inlet.project()
  await inlet.request('POST', '/v1/batch', {
    key: p.api_key,
    body: { context: { ip: '203.0.113.9', locale: 'en' }, batch: [{ type: 'track', messageId: 'c-1', event: 'A', anonymousId: 'a', context: { locale: 'de' } }] },
  })
  expect((await rows(p.id))[0].context).toEqual({ ip: '203.0.113.9', locale: 'de' })
})

test('with an Idempotency-Key header, messages without a messageId get ids <key>:<index>', async () => {
  const p = await inlet.project()
  const r = await inlet.request('POST', '/v1/batch', {
    key: p.api_key, headers: { 'idempotency-key': 'req-9' },
    body: { batch: [{ type: 'track', event: 'A', anonymousId: 'a' }, { type: 'page', anonymousId: 'a' }] },
  })
  expect(r.body.results.map((x: any) => x.id)).toEqual(['req-9:0', 'req-9:1'])
})

test('a gzipped body with a form Content-Type, as RudderStack sends it, is read as JSON', async () => {
  const p = await inlet.project()
  const r = await inlet.request('POST', '/v1/batch', {
    headers: { ...basic(p.api_key), 'content-encoding': 'gzip', 'content-type': 'application/x-www-form-urlencoded' },
    raw: gzipSync(JSON.stringify({ batch: [{ type: 'screen', messageId: 'z-1', anonymousId: 'a', name: 'Home' }] })),
  })
  expect(r.body).toMatchObject({ success: true, accepted: 1 })
  expect((await rows(p.id))[0]).toMatchObject({ name: '$screen', properties: { name: 'Home' } })
})

test('a batch of exactly BATCH_EVENTS_MAX messages is taken; one more is 413 and nothing is stored', async () => {
  const p = await inlet.project()
  const batch = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => ({ type: 'track', messageId: `${prefix}${i}`, event: 'E', anonymousId: 'a' }))
  const over = await inlet.request('POST', '/v1/batch', { key: p.api_key, body: { batch: batch(4, 'o') } })
  expect(over.status).toBe(413)
  expect(over.body.error.code).toBe('payload_too_large')
  expect(await count(p.id)).toBe(0)
  const at = await inlet.request('POST', '/v1/batch', { key: p.api_key, body: { batch: batch(3, 'a') } })
  expect(at.body).toMatchObject({ success: true, accepted: 3 })
  expect(await count(p.id)).toBe(3)
})

test('Segment\'s 32 KB message cap is not imposed; Inlet\'s EVENT_BYTES_MAX is (413 alone, rejected in a batch)', async () => {
  const p = await inlet.project()
  const big = (kib: number) => ({ event: 'Big', anonymousId: 'a', properties: { blob: 'x'.repeat(kib * 1024) } })
  const over32k = await inlet.request('POST', '/v1/track', { key: p.api_key, body: { ...big(40), messageId: 'b-40' } })
  expect(over32k).toMatchObject({ status: 200, body: { success: true, status: 'accepted' } })
  const overLimit = await inlet.request('POST', '/v1/track', { key: p.api_key, body: { ...big(65), messageId: 'b-65' } })
  expect(overLimit.status).toBe(413)
  const inBatch = await inlet.request('POST', '/v1/batch', { key: p.api_key, body: { batch: [{ type: 'track', ...big(65), messageId: 'b-65' }] } })
  expect(inBatch.status).toBe(200)
  expect(inBatch.body.results[0]).toMatchObject({ status: 'rejected', errors: [{ path: '' }] })
  expect((await rows(p.id)).map(e => e.id)).toEqual(['b-40'])
})

test('no key, or an unknown one, is 401; the header key is used over the body\'s writeKey', async () => {
  const p = await inlet.project()
  const body = { writeKey: p.api_key, event: 'E', anonymousId: 'a', messageId: 'k-1' }
  expect((await inlet.request('POST', '/v1/track', { body: { event: 'E', anonymousId: 'a' } })).status).toBe(401)
  expect((await inlet.request('POST', '/v1/track', { body: { ...body, writeKey: 'wrong' } })).status).toBe(401)
  expect((await inlet.request('POST', '/v1/track', { headers: basic('wrong'), body })).status).toBe(401)
  expect(await count(p.id)).toBe(0)
})

test('a spent rate limit answers 429 with Retry-After, which the SDKs wait for before retrying', async () => {
  const p = await inlet.project({ plan: 'free', rate_limit_rpm: 1 })
  const call = () => inlet.request('POST', '/v1/batch', { headers: basic(p.api_key), body: { batch: [] } })
  expect((await call()).status).toBe(200)
  const limited = await call()
  expect(limited.status).toBe(429)
  expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
  expect(limited.headers.get('access-control-allow-origin')).toBe('*')
})

test('a browser preflight is answered 204 with the CORS headers analytics.js needs', async () => {
  const r = await inlet.request('OPTIONS', '/v1/t', { headers: { origin: 'https://example.com', 'access-control-request-method': 'POST' } })
  expect(r.status).toBe(204)
  expect(r.headers.get('access-control-allow-origin')).toBe('*')
  expect(r.headers.get('access-control-allow-methods')).toContain('POST')
})

test('every Segment route is documented in the OpenAPI document under the segment tag', async () => {
  const { body } = await inlet.request('GET', '/swagger/json')
  for (const path of ['track', 'identify', 'page', 'screen', 'group', 'alias', 'batch', 'import', 't', 'i', 'p', 's', 'g', 'a', 'b']) {
    expect(body.paths[`/v1/${path}`]?.post?.tags).toEqual(['segment'])
  }
  expect(body.paths['/v1/batch'].post.requestBody.content['application/json'].schema).toBeDefined()
})
