// What Segment's and RudderStack's browser SDKs need of Inlet before and around
// their calls: the settings they load first (pointing them back at this server, as
// the browser reached it), and CORS that allows every header they send.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { ADMIN_TOKEN, startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet() })
afterAll(async () => { await inlet.stop() })

const ORIGIN = 'http://127.0.0.1:5999'

test('Segment settings send analytics-next back to this server, with no destinations, remote plugins or metrics', async () => {
  const r = await inlet.request('GET', '/v1/projects/ik_write_key/settings', { headers: { origin: ORIGIN } })
  expect(r.status).toBe(200)
  expect(r.body.integrations).toEqual({
    'Segment.io': { apiKey: 'ik_write_key', apiHost: 'inlet.test/v1', protocol: 'http', unbundledIntegrations: [], addBundledMetadata: true },
  })
  expect(r.body).toMatchObject({ remotePlugins: [], metrics: { sampleRate: 0 }, legacyVideoPluginsEnabled: false })
  expect(r.headers.get('access-control-allow-origin')).toBe(ORIGIN)
})

test('behind a proxy the settings name the host and scheme the browser used (X-Forwarded-Host/-Proto); a forged host is ignored', async () => {
  const proxied = await inlet.request('GET', '/v1/projects/k/settings', { headers: { 'x-forwarded-host': 'events.example.com, inner', 'x-forwarded-proto': 'https' } })
  expect(proxied.body.integrations['Segment.io']).toMatchObject({ apiHost: 'events.example.com/v1', protocol: 'https' })
  const forged = await inlet.request('GET', '/v1/projects/k/settings', { headers: { 'x-forwarded-host': 'evil.example/x?', 'x-forwarded-proto': 'gopher' } })
  expect(forged.body.integrations['Segment.io']).toMatchObject({ apiHost: 'inlet.test/v1', protocol: 'http' })
})

test('RudderStack\'s source config is an enabled source with no destinations, for the write key it was asked with', async () => {
  const basic = `Basic ${Buffer.from('ik_rudder_key:').toString('base64')}`
  for (const [path, headers] of [['/sourceConfig/?p=npm&v=3.34.1&writeKey=ik_rudder_key', {}], ['/sourceConfig', { authorization: basic }]] as const) {
    const r = await inlet.request('GET', path, { headers: { origin: ORIGIN, ...headers } })
    expect(r.status).toBe(200)
    expect(r.body.source).toMatchObject({ writeKey: 'ik_rudder_key', enabled: true, destinations: [] })
    expect(r.body.source.config.statsCollection).toEqual({ errorReports: { enabled: false }, metrics: { enabled: false } })
    expect(r.headers.get('access-control-allow-origin')).toBe(ORIGIN)
  }
  const pre = await inlet.request('OPTIONS', '/sourceConfig/', { headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } })
  expect([pre.status, pre.headers.get('access-control-allow-headers')]).toEqual([204, 'authorization'])
})

test('a /v1 preflight allows what analytics-next and rudderstack-js send: Authorization, AnonymousId, SentAt', async () => {
  for (const path of ['/v1/page', '/v1/t', '/v1/batch']) {
    const r = await inlet.request('OPTIONS', path, { headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'anonymousid,authorization,content-type,sentat,x-retry-count' } })
    expect(r.status).toBe(204)
    const allowed = r.headers.get('access-control-allow-headers')!.split(',').map(h => h.trim())
    for (const h of ['authorization', 'content-type', 'anonymousid', 'sentat', 'x-retry-count']) expect(allowed).toContain(h)
  }
})

test('a collector token is a write key for the browser SDKs: it writes through /v1 (Basic or in the body) and reads nothing', async () => {
  const { id, api_key } = await inlet.project()
  const created = await inlet.request('POST', `/admin/projects/${id}/collector-tokens`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { name: 'web' } })
  const token = created.body.token as string
  const basic = { authorization: `Basic ${Buffer.from(`${token}:`).toString('base64')}`, 'content-type': 'application/json' }
  expect((await inlet.request('POST', '/v1/track', { headers: basic, body: { messageId: 'ct-w1', anonymousId: 'a', event: 'Viewed' } })).status).toBe(200)
  const inBody = await inlet.request('POST', '/v1/t', { raw: JSON.stringify({ writeKey: token, type: 'track', messageId: 'ct-w2', anonymousId: 'a', event: 'Viewed' }), headers: { 'content-type': 'text/plain' } })
  expect(inBody.status).toBe(200)
  expect((await inlet.request('GET', '/v1/events', { headers: basic })).status).toBe(401)
  expect((await inlet.request('GET', '/v1/events', { key: api_key })).body.data.map((e: { id: string }) => e.id).sort()).toEqual(['ct-w1', 'ct-w2'])
})
