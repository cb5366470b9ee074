// The real, unmodified Segment and RudderStack Node SDKs against the real server:
// every call lands once, with the right type, name, ids, properties and context.
// Also the two shapes analytics.js (the browser library) sends: a text/plain body
// and the write key in the body.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import RudderAnalytics from '@rudderstack/rudder-sdk-node'
import { Analytics } from '@segment/analytics-node'
import { type SegmentServer, startSegmentServer, type StoredRow } from './harness'

let inlet: SegmentServer
// A real server and SDK round trips: generous bounds for a busy machine.
const TEST_MS = 60_000
beforeAll(async () => { inlet = await startSegmentServer() }, TEST_MS)
afterAll(async () => { await inlet?.stop() }, TEST_MS)

const byType = (rows: StoredRow[]) => Object.fromEntries(rows.map(r => [r.type, r]))

// Timestamps come from the SDK's clock (the same as ours here), so a stored one is
// near now; an hour is far wider than any slow run and far narrower than a unit bug.
function recent(date: Date) {
  expect(Math.abs(date.getTime() - Date.now())).toBeLessThan(3600_000)
}

test('the Segment Node SDK delivers track, identify, page, screen, group and alias, each stored once', async () => {
  const { id, api_key } = await inlet.project()
  const analytics = new Analytics({ writeKey: api_key, host: inlet.url, flushAt: 2, maxRetries: 3 })
  const failures: unknown[] = []
  analytics.on('error', e => failures.push(e))
  analytics.track({ userId: 'u1', event: 'Order Completed', properties: { total: 19.99, currency: 'EUR' }, context: { ip: '203.0.113.9' } })
  analytics.identify({ userId: 'u1', traits: { email: 'ada@example.com', plan: 'pro' } })
  analytics.page({ userId: 'u1', category: 'Docs', name: 'Pricing', properties: { url: 'https://example.com/pricing' } })
  analytics.screen({ anonymousId: 'anon-1', name: 'Home', properties: { variant: 'b' } })
  analytics.group({ userId: 'u1', groupId: 'org-7', traits: { name: 'Acme' } })
  analytics.alias({ userId: 'u1', previousId: 'anon-1' })
  await analytics.closeAndFlush()
  expect(failures).toEqual([])

  const rows = await inlet.rows(id)
  expect(rows.length).toBe(6)
  expect(new Set(rows.map(r => r.id)).size).toBe(6)
  for (const r of rows) {
    expect(r.id).toStartWith('node-next-') // the SDK's messageId, kept as the event's id
    expect(r.context.library).toEqual({ name: '@segment/analytics-node', version: expect.any(String) })
    recent(r.timestamp)
  }
  const t = byType(rows)
  expect(t.track).toMatchObject({ name: 'Order Completed', user_id: 'u1', anonymous_id: null, properties: { total: 19.99, currency: 'EUR' } })
  expect(t.track.context.ip).toBe('203.0.113.9')
  expect(t.identify).toMatchObject({ name: '$identify', user_id: 'u1', properties: { email: 'ada@example.com', plan: 'pro' } })
  expect(t.page).toMatchObject({ name: '$page', user_id: 'u1' })
  expect(t.page.properties).toEqual({ url: 'https://example.com/pricing', category: 'Docs', name: 'Pricing' })
  expect(t.screen).toMatchObject({ name: '$screen', user_id: null, anonymous_id: 'anon-1' })
  expect(t.screen.properties).toEqual({ variant: 'b', name: 'Home' })
  expect(t.group).toMatchObject({ name: '$group', user_id: 'u1' })
  expect(t.group.properties).toEqual({ name: 'Acme', groupId: 'org-7' })
  expect(t.alias).toMatchObject({ name: '$alias', user_id: 'u1' })
  expect(t.alias.properties).toEqual({ previousId: 'anon-1' })
}, TEST_MS)

// Wraps an SDK call's completion callback in a promise.
function delivered(call: (done: (err?: unknown) => void) => void): Promise<unknown> {
  return new Promise(resolve => call(err => resolve(err ?? null)))
}

test('the RudderStack Node SDK, gzip on, delivers all six calls, each stored once', async () => {
  const { id, api_key } = await inlet.project()
  const client = new RudderAnalytics(api_key, { dataPlaneUrl: inlet.url, flushAt: 3, logLevel: 'error' })
  expect((client as unknown as { gzip: boolean }).gzip).toBe(true)
  const results = [
    delivered(done => client.track({ userId: 42 as unknown as string, event: 'Order Completed', properties: { total: 19.99 }, context: { ip: '203.0.113.9' } }, done)),
    delivered(done => client.identify({ userId: 'u1', traits: { email: 'ada@example.com' } }, done)),
    delivered(done => client.page({ userId: 'u1', category: 'Docs', name: 'Pricing', properties: { url: '/pricing' } }, done)),
    delivered(done => client.screen({ anonymousId: 'anon-1', name: 'Home', properties: { variant: 'b' } }, done)),
    delivered(done => client.group({ userId: 'u1', groupId: 'org-7', traits: { name: 'Acme' } }, done)),
    delivered(done => client.alias({ userId: 'u1', previousId: 'anon-1' }, done)),
  ]
  await client.flush()
  expect(await Promise.all(results)).toEqual([null, null, null, null, null, null])

  const rows = await inlet.rows(id)
  expect(rows.length).toBe(6)
  expect(new Set(rows.map(r => r.id)).size).toBe(6)
  for (const r of rows) {
    expect(r.context.library).toEqual({ name: 'analytics-node', version: expect.any(String) })
    recent(r.timestamp) // from originalTimestamp: RudderStack sends no timestamp
  }
  const t = byType(rows)
  // The SDK turns the number 42 into the string "42".
  expect(t.track).toMatchObject({ name: 'Order Completed', user_id: '42', properties: { total: 19.99 } })
  expect(t.track.context.ip).toBe('203.0.113.9')
  expect(t.identify).toMatchObject({ name: '$identify', user_id: 'u1', properties: { email: 'ada@example.com' } })
  expect(t.page.properties).toEqual({ url: '/pricing', category: 'Docs', name: 'Pricing' })
  expect(t.page).toMatchObject({ name: '$page', user_id: 'u1' })
  expect(t.screen).toMatchObject({ name: '$screen', anonymous_id: 'anon-1', properties: { variant: 'b', name: 'Home' } })
  expect(t.group).toMatchObject({ name: '$group', user_id: 'u1', properties: { name: 'Acme', groupId: 'org-7' } })
  expect(t.alias).toMatchObject({ name: '$alias', user_id: 'u1', properties: { previousId: 'anon-1' } })
}, TEST_MS)

test('a text/plain body with the write key inside, as analytics.js posts it to /v1/t, is stored', async () => {
  const { id, api_key } = await inlet.project()
  const sentAt = new Date().toISOString()
  const body = {
    timestamp: sentAt, integrations: {}, type: 'track', event: 'Signed Up', properties: { plan: 'free' },
    context: { page: { path: '/signup', url: 'https://example.com/signup' }, userAgent: 'Mozilla/5.0', library: { name: 'analytics.js', version: 'next-1.70.0' } },
    messageId: 'ajs-next-1732320000000-0f7c', anonymousId: 'b1e7c0de-0000-4000-8000-000000000001',
    writeKey: api_key, userId: null, sentAt, _metadata: { bundled: ['Segment.io'], unbundled: [] },
  }
  const r = await fetch(`${inlet.url}/v1/t`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) })
  expect(r.status).toBe(200)
  expect(r.headers.get('access-control-allow-origin')).toBe('*')
  expect(await r.json()).toEqual({ success: true, id: 'ajs-next-1732320000000-0f7c', status: 'accepted' })
  const [row, ...rest] = await inlet.rows(id)
  expect(rest).toEqual([])
  expect(row).toMatchObject({
    id: 'ajs-next-1732320000000-0f7c', type: 'track', name: 'Signed Up', user_id: null,
    anonymous_id: 'b1e7c0de-0000-4000-8000-000000000001', properties: { plan: 'free' },
    context: { page: { path: '/signup' }, userAgent: 'Mozilla/5.0' },
  })
}, TEST_MS)

test('a batch with writeKey in the body and no Authorization header is stored; a wrong writeKey is 401', async () => {
  const { id, api_key } = await inlet.project()
  const batch = [
    { type: 'identify', messageId: 'wk-1', userId: 'u9', traits: { email: 'x@example.com' } },
    { type: 'track', messageId: 'wk-2', userId: 'u9', event: 'Clicked' },
  ]
  const post = (writeKey: string) => fetch(`${inlet.url}/v1/batch`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ writeKey, batch }),
  })
  const ok = await post(api_key)
  expect(ok.status).toBe(200)
  expect(await ok.json()).toMatchObject({ success: true, accepted: 2, duplicates: 0, rejected: 0 })
  const denied = await post('not-a-key')
  expect(denied.status).toBe(401)
  expect(await denied.json()).toMatchObject({ error: { code: 'unauthorized' } })
  expect((await inlet.rows(id)).map(r => [r.id, r.type, r.name])).toEqual([['wk-1', 'identify', '$identify'], ['wk-2', 'track', 'Clicked']])
}, TEST_MS)

test('analytics.js batching posts to /v1/b with the write key in a text/plain body; its events are stored', async () => {
  const { id, api_key } = await inlet.project()
  const body = {
    writeKey: api_key, sentAt: new Date().toISOString(),
    batch: [
      { type: 'page', messageId: 'ajs-b-1', anonymousId: 'a-1', name: 'Home', properties: { path: '/' }, writeKey: api_key },
      { type: 'track', messageId: 'ajs-b-2', anonymousId: 'a-1', event: 'Viewed', writeKey: api_key },
    ],
  }
  const r = await fetch(`${inlet.url}/v1/b`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(body) })
  expect(r.status).toBe(200)
  expect(await r.json()).toMatchObject({ success: true, accepted: 2 })
  expect((await inlet.rows(id)).map(r => [r.id, r.name, r.anonymous_id])).toEqual([['ajs-b-1', '$page', 'a-1'], ['ajs-b-2', 'Viewed', 'a-1']])
}, TEST_MS)
