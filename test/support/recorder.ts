// A small recording HTTP server that answers the way the real receivers of three
// wire formats answer (PostHog's capture, a Snowplow collector, Segment's tracking
// API), and keeps every request it saw: method, path, query, headers, the raw body
// bytes. It is not Inlet: it is what the SDK fixtures are recorded against, so the
// recordings show what an unmodified SDK sends when it is answered as it expects.
//
// The answers are copied from the receivers' code, not guessed:
//   PostHog capture (rust/capture): router.rs's permissive CorsLayer (origin and
//     request headers mirrored, credentials allowed, GET/POST/OPTIONS), 200
//     {"status":"Ok"} (serde's rendering of CaptureResponseCode::Ok), 204 when
//     `beacon=1`; /flags/ and /decide/ answered "no flags, no recordings".
//   Snowplow collector (stream-collector core/Service.scala): POST → 200 text/plain
//     "ok"; GET /i → a 1x1 GIF with Cache-Control no-cache, no-store,
//     must-revalidate; Access-Control-Allow-Origin the request's Origin (else *),
//     Access-Control-Allow-Credentials true, a `sp` network-user-id cookie;
//     preflight: Allow-Headers Content-Type, SP-Anonymous, Max-Age 3600.
//   Segment (api.segment.io; segmentio/segment-docs, HTTP API "Errors"): 200 for
//     every request but oversize (32 KB a call, 500 KB a batch) and bad JSON, which
//     are 400; body {"success":true}, CORS open; plus the settings the analytics.js
//     CDN serves, pointing the SDK back at this server. RudderStack: its control
//     plane's sourceConfig, and the data plane's 200 "OK".

import { gunzipSync } from 'node:zlib'

export type Flavor = 'posthog' | 'snowplow' | 'segment' | 'rudderstack'

export interface RecordedRequest {
  method: string
  path: string
  query: string
  headers: Record<string, string>
  bodyBase64: string
  status: number
  receivedAtMs: number
}

export interface Recorder {
  url: string
  flavor: Flavor
  requests: RecordedRequest[]
  // Answers the next `n` writes (not preflights, not config reads) with 503, to force retries.
  failNext(n: number): void
  // Waits until `check` holds over what was recorded. No deadline: the caller's timeout bounds it.
  until(check: (requests: RecordedRequest[]) => boolean): Promise<void>
  stop(): Promise<void>
}

// Headers that only describe this machine's connection; everything else is kept.
const NOISE = new Set(['host', 'connection', 'accept-language', 'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform'])

const GIF = Buffer.from('R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64')

function cors(flavor: Flavor, req: Request): Record<string, string> {
  const origin = req.headers.get('origin')
  const h: Record<string, string> = { 'access-control-allow-origin': origin ?? '*', 'access-control-allow-credentials': 'true' }
  if (flavor === 'posthog') h.vary = 'origin, access-control-request-method, access-control-request-headers'
  return h
}

function preflight(flavor: Flavor, req: Request): Response {
  const headers = cors(flavor, req)
  if (flavor === 'snowplow') {
    headers['access-control-allow-headers'] = 'Content-Type, SP-Anonymous'
    headers['access-control-max-age'] = '3600'
  } else {
    headers['access-control-allow-methods'] = 'GET, POST, OPTIONS'
    headers['access-control-allow-headers'] = req.headers.get('access-control-request-headers') ?? '*'
  }
  return new Response(null, { status: 200, headers })
}

// posthog-js asks for its flags (and, with config=true, its remote config) at start.
// "No flags, no recordings": every feature posthog-js would load a script for is off.
export const POSTHOG_FLAGS_ANSWER = {
  flags: {},
  featureFlags: {},
  featureFlagPayloads: {},
  errorsWhileComputingFlags: false,
  quotaLimited: [],
  requestId: '00000000-0000-4000-8000-000000000000',
  sessionRecording: false,
  supportedCompression: ['gzip', 'gzip-js'],
  autocapture_opt_out: false,
  capturePerformance: false,
  heatmaps: false,
  surveys: false,
  siteApps: [],
  toolbarParams: {},
  isAuthenticated: false,
  defaultIdentifiedOnly: true,
  elementsChainAsString: true,
}

// /array/<token>/config: the remote config posthog-js loads before its flags.
export const POSTHOG_REMOTE_CONFIG = {
  token: '', supportedCompression: ['gzip', 'gzip-js'], hasFeatureFlags: false, captureDeadClicks: false,
  capturePerformance: false, autocapture_opt_out: false, autocaptureExceptions: false, analytics: { endpoint: '/i/v0/e/' },
  elementsChainAsString: true, sessionRecording: false, heatmaps: false, surveys: false, defaultIdentifiedOnly: true, siteApps: [],
}

function answer(flavor: Flavor, req: Request, url: URL, fail: boolean, self: string, options: RecorderOptions): { status: number; response: Response; write: boolean } {
  const headers = cors(flavor, req)
  const json = (status: number, body: unknown, write = true) => ({
    status, write, response: Response.json(body, { status, headers }),
  })
  const path = url.pathname
  if (flavor === 'posthog') {
    if (path.startsWith('/static/')) return { status: 404, write: false, response: new Response('not found', { status: 404, headers }) }
    if (/^\/array\/[^/]+\/config(\.js)?$/.test(path)) {
      const config = { ...POSTHOG_REMOTE_CONFIG, token: path.split('/')[2], supportedCompression: options.supportedCompression ?? POSTHOG_REMOTE_CONFIG.supportedCompression }
      // No scripts are served (Inlet serves none): posthog-js then falls back to the JSON config.
      if (path.endsWith('.js')) return { status: 404, write: false, response: new Response('not found', { status: 404, headers }) }
      return json(200, config, false)
    }
    if (/^\/(flags|decide)\/?$/.test(path)) {
      return json(200, { ...POSTHOG_FLAGS_ANSWER, supportedCompression: options.supportedCompression ?? POSTHOG_FLAGS_ANSWER.supportedCompression }, false)
    }
    if (fail) return { status: 503, write: true, response: new Response('transient error, please retry', { status: 503, headers }) }
    if (url.searchParams.get('beacon') === '1') return { status: 204, write: true, response: new Response(null, { status: 204, headers }) }
    return json(200, { status: 'Ok' })
  }
  if (flavor === 'snowplow') {
    const all = { ...headers, 'set-cookie': `sp=00000000-0000-4000-a000-00000000000a; Path=/; Max-Age=31536000; SameSite=None; Secure; HttpOnly` }
    if (fail) return { status: 503, write: true, response: new Response('Service Unavailable', { status: 503, headers: all }) }
    if (req.method === 'GET') {
      return {
        status: 200, write: true,
        response: new Response(GIF, { headers: { ...all, 'content-type': 'image/gif', 'cache-control': 'no-cache, no-store, must-revalidate' } }),
      }
    }
    return { status: 200, write: true, response: new Response('ok', { headers: { ...all, 'content-type': 'text/plain; charset=UTF-8' } }) }
  }
  if (flavor === 'segment') {
    // The analytics.js CDN's settings for a write key, sending the SDK back here.
    const settings = path.match(/^\/v1\/projects\/([^/]+)\/settings$/)
    if (settings) {
      return json(200, {
        integrations: { 'Segment.io': { apiKey: settings[1], apiHost: `${self.replace(/^https?:\/\//, '')}/v1`, protocol: 'http', unbundledIntegrations: [], addBundledMetadata: true } },
        plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } }, group: { __default: { enabled: true } } },
        edgeFunction: {}, analyticsNextEnabled: true, middlewareSettings: {}, enabledMiddleware: {}, metrics: { sampleRate: 0 },
        legacyVideoPluginsEnabled: false, remotePlugins: [],
      }, false)
    }
    if (fail) return json(503, { success: false })
    return json(200, { success: true })
  }
  // RudderStack: the control plane's source config, then the data plane's answer ("OK").
  if (path === '/sourceConfig' || path === '/sourceConfig/') {
    const writeKey = url.searchParams.get('writeKey') ?? ''
    return json(200, {
      isHosted: true,
      source: {
        config: { statsCollection: { errorReports: { enabled: false }, metrics: { enabled: false } } },
        id: 'recorder-source', name: 'recorder', writeKey, enabled: true, workspaceId: 'recorder-workspace',
        updatedAt: '2026-01-01T00:00:00.000Z', destinations: [],
      },
    }, false)
  }
  if (fail) return { status: 503, write: true, response: new Response('Service Unavailable', { status: 503, headers }) }
  return { status: 200, write: true, response: new Response('OK', { headers: { ...headers, 'content-type': 'text/plain; charset=utf-8' } }) }
}

export interface RecorderOptions {
  // PostHog: the compressions the remote config and /flags/ offer (capture accepts gzip-js,
  // lz64 and base64; posthog-js picks gzip-js when offered, else base64).
  supportedCompression?: string[]
}

export async function startRecorder(flavor: Flavor, options: RecorderOptions = {}): Promise<Recorder> {
  const requests: RecordedRequest[] = []
  let failing = 0
  let self = ''
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const url = new URL(req.url)
      const body = new Uint8Array(await req.arrayBuffer())
      const headers: Record<string, string> = {}
      req.headers.forEach((value, key) => { if (!NOISE.has(key)) headers[key] = value })
      let status: number
      let response: Response
      if (req.method === 'OPTIONS') {
        response = preflight(flavor, req)
        status = response.status
      } else {
        const probe = answer(flavor, req, url, false, self, options)
        const fail = probe.write && failing > 0
        if (fail) failing--
        ;({ status, response } = fail ? answer(flavor, req, url, true, self, options) : probe)
      }
      requests.push({
        method: req.method, path: url.pathname, query: url.search.replace(/^\?/, ''), headers,
        bodyBase64: Buffer.from(body).toString('base64'), status, receivedAtMs: Date.now(),
      })
      return response
    },
  })
  self = `http://127.0.0.1:${server.port}`
  return {
    url: self,
    flavor,
    requests,
    failNext(n) { failing = n },
    async until(check) {
      while (!check(requests)) await Bun.sleep(20)
    },
    async stop() { await server.stop(true) },
  }
}

// The request as a reader wants to see it: the body decoded the way its receiver would
// (gzip, a form with a base64 `data=` field, JSON, a query string), for the fixture files.
export function decodedBody(r: RecordedRequest): unknown {
  let bytes = Buffer.from(r.bodyBase64, 'base64')
  const out: Record<string, unknown> = {}
  if (bytes.length === 0) return r.query ? { query: Object.fromEntries(new URLSearchParams(r.query)) } : null
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    bytes = gunzipSync(bytes)
    out.gzip = true
  }
  const text = bytes.toString('utf8')
  if ((r.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    const form = Object.fromEntries(new URLSearchParams(text))
    out.form = form
    if (typeof form.data === 'string') {
      try { out.json = JSON.parse(Buffer.from(form.data, 'base64').toString('utf8')) } catch { out.data = form.data }
    }
    return out
  }
  try { out.json = JSON.parse(text) } catch { out.text = text }
  return out
}
