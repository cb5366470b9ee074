// The HTTP server around the app: connection hygiene set explicitly (idle timeout
// closes slowloris clients; the body cap is enforced again by http/body.ts with the
// contract's error), admission control, and one latency observation per request.
// It runs for every request, so it does no more than that: no URL parsing, no
// labels built per call, no timeout calls when the two timeouts agree.
//
// Timeouts as Bun 1.4 applies them (measured with raw sockets, test/security/connections.test.ts):
// - headers trickled byte by byte: Bun closes the connection ~10 s after it opened,
//   whatever idleTimeout says (uWS's fixed header timeout);
// - a request whose body stalls or trickles, or whose answer does not come (a read
//   waiting on Postgres): its timer is not reset by body bytes, so it is closed
//   HTTP_REQUEST_TIMEOUT_MS after its headers (set per request below when it
//   differs from the idle timeout; with the defaults both are 30 s, one timer);
// - an idle keep-alive connection: closed after HTTP_IDLE_TIMEOUT_S.
// uWS counts timeouts in 4 s ticks, so each fires within about 4 s of its limit.

import { InletError } from '../errors'
import type { CounterSeries, HistogramSeries } from '../metrics'
import type { createApp } from './app'
import { Admission, BODY_GROWTH, CHUNKED_BODY_BYTES_FIRST, type GrowableRequest } from './admission'
import type { Deps } from './context'
import { errorResponse } from './respond'

const queueFull = () => new InletError('overloaded',
  'too many requests are waiting for a turn (HTTP_REQUESTS_QUEUED_MAX); retry shortly', undefined, 1)

const REPORTS = new Set(['/v1/reports/counts', '/v1/reports/funnel', '/v1/reports/retention'])
const SEGMENT = new Set(['track', 'identify', 'page', 'screen', 'group', 'alias', 'batch', 'import', 't', 'i', 'p', 's', 'g', 'a', 'b'])
const POSTHOG = new Set(['e', 'i/v0/e', 'i/v0/ai/batch', 'capture', 'batch', 'track', 'flags', 'decide'])
const OPS = new Set(['/', '/health', '/ready', '/metrics', '/console'])

// Metric label for a path: a fixed set, so label cardinality is bounded whatever
// paths clients send. The commonest first.
export function routeLabel(path: string): string {
  if (path === '/v1/events' || path === '/v1/events/batch') return path
  if (path.startsWith('/v1/events/')) return path === '/v1/events/stream' ? path : '/v1/events/:id'
  if (path.startsWith('/v1/webhooks/')) return '/v1/webhooks/:token'
  if (path.startsWith('/v1/snowplow/')) return '/v1/snowplow/:token'
  if (POSTHOG.has(path.slice(1, path.endsWith('/') ? -1 : undefined))) return '/posthog'
  if (path.startsWith('/v1/reports/')) return REPORTS.has(path) ? path : '/v1/reports/other'
  if (path.startsWith('/v1/') && SEGMENT.has(path.slice(4))) return path
  if (path.startsWith('/admin/')) return '/admin'
  if (OPS.has(path)) return path
  if (path.startsWith('/swagger')) return '/swagger'
  if (path.startsWith('/console/')) return '/console'
  return 'other'
}

// The path of a request URL (`http://host:port/path?query`) without building a URL.
function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start < 0) return '/'
  const query = url.indexOf('?', start)
  return query < 0 ? url.slice(start) : url.slice(start, query)
}

// Elysia finds the path by searching for '/' from index 11 of the URL, so a Host of
// under four characters (`Host: api`, a container name) routed `/v1/events` as
// `/events`. Such requests get a URL with a longer host; the rest go as they are.
const ELYSIA_PATH_FROM = 11
function routable(request: Request): Request {
  const url = request.url
  const start = url.indexOf('/', url.indexOf('//') + 2)
  if (start >= ELYSIA_PATH_FROM) return request
  const routed: GrowableRequest = new Request(`http://localhost${start < 0 ? '/' : url.slice(start)}`, request)
  routed[BODY_GROWTH] = (request as GrowableRequest)[BODY_GROWTH]
  return routed
}

interface RouteStats {
  seconds: HistogramSeries
  byStatus: Map<number, CounterSeries>
}

export function startServer(deps: Deps, app: ReturnType<typeof createApp>) {
  const l = deps.config.limits
  // Let Bun accept a little more than the decoded-body limit on the wire (gzip of
  // incompressible data grows slightly); http/body.ts enforces the real limit.
  const wireBytesMax = l.BODY_BYTES_MAX + 1024 * 1024
  const admission = new Admission(l.HTTP_REQUESTS_ACTIVE_MAX, l.HTTP_BODY_BYTES_ACTIVE_MAX, l.HTTP_REQUESTS_QUEUED_MAX)
  // Bun's per-request timeout counts whole seconds.
  const requestTimeoutS = Math.max(1, Math.ceil(l.HTTP_REQUEST_TIMEOUT_MS / 1000))
  const retime = requestTimeoutS !== l.HTTP_IDLE_TIMEOUT_S
  // Per route label: its latency series and its series per status, resolved once.
  const stats = new Map<string, RouteStats>()
  const statsOf = (route: string): RouteStats => {
    let s = stats.get(route)
    if (!s) stats.set(route, (s = { seconds: deps.metrics.requestSeconds.child({ route }), byStatus: new Map() }))
    return s
  }
  const debug = deps.config.logLevel === 'debug'
  const server = Bun.serve({
    port: deps.config.port,
    hostname: deps.config.host,
    // INLET_PROCESSES > 1 (src/supervisor.ts): the processes share the port.
    reusePort: deps.config.processes > 1,
    maxRequestBodySize: wireBytesMax,
    idleTimeout: l.HTTP_IDLE_TIMEOUT_S,
    development: false,
    async fetch(request, srv) {
      const started = performance.now()
      if (retime) srv.timeout(request, requestTimeoutS)
      // Weighed by the declared body; a chunked body by what has arrived, as it is
      // read (http/body.ts grows the weight; past the room left it answers 503).
      // Not request.body: touching it makes Bun build a stream for every request.
      let bytes = 0
      const method = request.method
      if (method !== 'GET' && method !== 'HEAD') {
        const declared = request.headers.get('content-length')
        if (declared !== null) bytes = Math.min(Number(declared) || 0, l.BODY_BYTES_MAX)
        else {
          bytes = Math.min(CHUNKED_BODY_BYTES_FIRST, l.BODY_BYTES_MAX)
          ;(request as GrowableRequest)[BODY_GROWTH] = total => {
            if (total <= bytes) return true
            if (!admission.grow(total - bytes)) return false
            bytes = total
            return true
          }
        }
      }
      const waited = admission.acquire(bytes, () => request.signal)
      if (waited === null) {
        deps.metrics.overloaded.inc({ reason: 'admission_queue_full' })
        return errorResponse(queueFull())
      }
      if (waited) {
        // Rejected only when the client has gone: nobody reads this answer.
        try { await waited } catch { return new Response(null, { status: 499 }) }
      }
      let response: Response
      try {
        response = await app.handle(routable(request))
      } finally {
        admission.release(bytes)
      }
      // The timeout set above stays on the connection: give keep-alive its idle timeout back.
      if (retime) srv.timeout(request, l.HTTP_IDLE_TIMEOUT_S)
      const path = pathOf(request.url)
      const s = statsOf(routeLabel(path))
      const seconds = (performance.now() - started) / 1000
      s.seconds.observe(seconds)
      const status = response.status
      let counter = s.byStatus.get(status)
      if (!counter) s.byStatus.set(status, (counter = deps.metrics.requests.child({ route: routeLabel(path), status: String(status) })))
      counter.inc()
      if (debug) {
        deps.log('debug', 'request', { method, path, status, ms: Math.round(seconds * 1e4) / 10, ip: srv.requestIP(request)?.address })
      }
      return response
    },
  })
  return server
}
