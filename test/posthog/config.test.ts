// What PostHog SDKs load besides capture: /flags/ and /decide/ (no flags, no
// recordings), and posthog-js's remote config as JSON and as the script it tries
// first, each readable cross-origin.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet() })
afterAll(async () => { await inlet.stop() })

const ORIGIN = 'http://127.0.0.1:5999'

test('/flags/ and /decide/ answer "no flags, no recordings" to POST and GET, any body, with no key needed', async () => {
  for (const [method, path] of [['POST', '/flags/?v=2'], ['POST', '/decide/?v=3'], ['GET', '/flags/'], ['POST', '/flags']]) {
    const r = await inlet.request(method, path, { raw: method === 'POST' ? '{"token":"anything","distinct_id":"u1"}' : undefined, headers: { origin: ORIGIN } })
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ flags: {}, featureFlags: {}, errorsWhileComputingFlags: false, sessionRecording: false, quotaLimited: [] })
    expect(r.body.supportedCompression).toContain('gzip-js')
    expect(r.headers.get('access-control-allow-origin')).toBe(ORIGIN)
  }
})

test('the remote config turns everything off and sends events to /i/v0/e/, as JSON and as the script posthog-js loads', async () => {
  const json = await inlet.request('GET', '/array/ik_abc_123/config', { headers: { origin: ORIGIN } })
  expect(json.status).toBe(200)
  expect(json.body).toMatchObject({ token: 'ik_abc_123', analytics: { endpoint: '/i/v0/e/' }, sessionRecording: false, surveys: false, heatmaps: false })
  expect(json.headers.get('access-control-allow-origin')).toBe(ORIGIN)
  const script = await inlet.request('GET', '/array/ik_abc_123/config.js')
  expect(script.status).toBe(200)
  expect(script.headers.get('content-type')).toStartWith('text/javascript')
  // Run it as a browser would: it registers the same config under the token.
  const window: Record<string, any> = {}
  new Function('window', script.body)(window)
  expect(window._POSTHOG_REMOTE_CONFIG.ik_abc_123).toEqual({ config: json.body, siteApps: [] })
})

test('a token that is not a key\'s characters gets no config, so nothing but a key reaches the script', async () => {
  const r = await inlet.request('GET', `/array/${encodeURIComponent('x";alert(1);"')}/config.js`)
  expect(r.status).toBe(404)
  expect(r.body.error.code).toBe('not_found')
})
