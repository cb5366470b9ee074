// The HTTP server around the app: connection hygiene set explicitly (idle timeout
// closes slowloris clients; the body cap is enforced again by http/body.ts with the
// contract's error), and one latency observation per request.
//
// Timeouts as Bun 1.4 applies them (measured with raw sockets, test/security/connections.test.ts):
// - headers trickled byte by byte: Bun closes the connection ~10 s after it opened,
//   whatever idleTimeout says (uWS's fixed header timeout);
// - a request whose body stalls or trickles, or whose answer does not come (a read
//   waiting on Postgres): its timer is not reset by body bytes, so it is closed
//   HTTP_REQUEST_TIMEOUT_MS after its headers (set per request below);
// - an idle keep-alive connection: closed after HTTP_IDLE_TIMEOUT_S.
// uWS counts timeouts in 4 s ticks, so each fires within about 4 s of its limit.

import { InletError } from '../errors'
import type { createApp } from './app'
import { Admission } from './admission'
import type { Deps } from './context'
import { errorResponse } from './respond'

const queueFull = () => new InletError('overloaded',
  'too many requests are waiting for a turn (HTTP_REQUESTS_QUEUED_MAX); retry shortly', undefined, 1)

// Metric label for a path: a fixed set, so label cardinality is bounded.
export function routeLabel(pathname: string): string {
  if (pathname === '/v1/events' || pathname === '/v1/events/batch') return pathname
  if (pathname.startsWith('/v1/events/')) return '/v1/events/:id'
  if (pathname.startsWith('/v1/webhooks/')) return '/v1/webhooks/:token'
  if (pathname.startsWith('/v1/snowplow/')) return '/v1/snowplow/:token'
  if (/^\/(e|i\/v0\/e|i\/v0\/ai\/batch|capture|batch|track|flags|decide)\/?$/.test(pathname)) return '/posthog'
  if (pathname.startsWith('/v1/reports/')) return pathname.length < 40 ? pathname : '/v1/reports/other'
  if (/^\/v1\/(track|identify|page|screen|group|alias|batch|import)$/.test(pathname)) return pathname
  if (pathname.startsWith('/admin/')) return '/admin'
  if (['/', '/health', '/ready', '/metrics'].includes(pathname)) return pathname
  if (pathname.startsWith('/swagger')) return '/swagger'
  return 'other'
}

export function startServer(deps: Deps, app: ReturnType<typeof createApp>) {
  // Let Bun accept a little more than the decoded-body limit on the wire (gzip of
  // incompressible data grows slightly); http/body.ts enforces the real limit.
  const wireBytesMax = deps.config.limits.BODY_BYTES_MAX + 1024 * 1024
  const l = deps.config.limits
  // Bun's per-request timeout counts whole seconds.
  const admission = new Admission(l.HTTP_REQUESTS_ACTIVE_MAX, l.HTTP_BODY_BYTES_ACTIVE_MAX, l.HTTP_REQUESTS_QUEUED_MAX)
  const requestTimeoutS = Math.max(1, Math.ceil(l.HTTP_REQUEST_TIMEOUT_MS / 1000))
  const server = Bun.serve({
    port: deps.config.port,
    hostname: deps.config.host,
    maxRequestBodySize: wireBytesMax,
    idleTimeout: l.HTTP_IDLE_TIMEOUT_S,
    development: false,
    async fetch(request, srv) {
      const started = performance.now()
      // Not request.body: touching it makes Bun build a stream for every request.
      const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
      srv.timeout(request, requestTimeoutS)
      // Weighed by the declared body; a chunked body is counted as one maximal body.
      const declared = hasBody ? request.headers.get('content-length') : '0'
      const bytes = declared === null ? l.BODY_BYTES_MAX : Math.min(Number(declared) || 0, l.BODY_BYTES_MAX)
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
        response = await app.handle(request)
      } finally {
        admission.release(bytes)
      }
      // The timeout set above stays on the connection: give keep-alive its idle timeout back.
      srv.timeout(request, l.HTTP_IDLE_TIMEOUT_S)
      const seconds = (performance.now() - started) / 1000
      const path = new URL(request.url).pathname
      const route = routeLabel(path)
      deps.metrics.requestSeconds.observe(seconds, { route })
      deps.metrics.requests.inc({ route, status: String(response.status) })
      if (deps.config.logLevel === 'debug') {
        deps.log('debug', 'request', { method: request.method, path, status: response.status, ms: Math.round(seconds * 1e4) / 10, ip: srv.requestIP(request)?.address })
      }
      return response
    },
  })
  return server
}
