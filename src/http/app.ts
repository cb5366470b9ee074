// The Elysia app: every route family, and the one place where an error becomes
// an HTTP response with the contract's body. Unknown routes are 404, a known
// route with the wrong method is 405 with Allow.

import { Elysia } from 'elysia'
import { AssertionError } from '../assert'
import { InletError } from '../errors'
import { errorFields } from '../log'
import { fromPostgres } from '../store/outcomes'
import type { Deps } from './context'
import { adminRoutes } from './routes/admin'
import { deadLetterRoutes } from './routes/dead-letter-admin'
import { adminKeyRoutes } from './routes/admin-keys'
import { consoleRoutes } from './routes/console'
import { ingestRoutes } from './routes/ingest'
import { liveRoutes } from './routes/live'
import { opsRoutes } from './routes/ops'
import { erasureRoutes } from './routes/erasure'
import { exportRoutes } from './routes/export'
import { queryRoutes } from './routes/query'
import { reportRoutes } from './routes/reports'
import { segmentRoutes } from './routes/segment'
import { collectorAdminRoutes } from './routes/collector-admin'
import { posthogRoutes } from './routes/posthog'
import { posthogConfigRoutes } from './routes/posthog-config'
import { sdkSettingsRoutes } from './routes/sdk-settings'
import { snowplowRoutes } from './routes/snowplow'
import { webhookAdminRoutes } from './routes/webhook-admin'
import { webhookRoutes } from './routes/webhooks'
import { swagger } from './swagger'

export function createApp(deps: Deps) {
  const app = new Elysia()
    .onError(({ error, code, set, request }) => render(deps, app, request, error, code, set.headers as Record<string, string>))
    .use(swagger())
    .use(opsRoutes(deps))
    .use(consoleRoutes()) // issue 11: the console page and its assets
    .use(ingestRoutes(deps))
    .use(liveRoutes(deps)) // issue 11: before queryRoutes, whose /v1/events/:id would match /v1/events/stream
    .use(exportRoutes(deps)) // issue 13: before queryRoutes, whose /v1/events/:id would match /v1/events/export
    .use(queryRoutes(deps))
    .use(segmentRoutes(deps))
    .use(sdkSettingsRoutes()) // issue 12: the settings Segment's and RudderStack's browser SDKs load first
    .use(posthogRoutes(deps)) // issue 12: PostHog capture, and the config its SDKs load
    .use(posthogConfigRoutes())
    .use(snowplowRoutes(deps)) // issue 12: a Snowplow collector per collector token
    .use(webhookRoutes(deps))
    .use(reportRoutes(deps))
    .use(erasureRoutes(deps)) // issue 13: user erasure
  if (deps.config.adminToken) app.use(adminRoutes(deps, deps.config.adminToken))
  if (deps.config.adminToken) app.use(webhookAdminRoutes(deps, deps.config.adminToken))
  if (deps.config.adminToken) app.use(collectorAdminRoutes(deps, deps.config.adminToken)) // issue 12
  if (deps.config.adminToken) app.use(deadLetterRoutes(deps, deps.config.adminToken))
  if (deps.config.adminToken) app.use(adminKeyRoutes(deps, deps.config.adminToken)) // issue 11: the console lists keys
  return app
}

function allowedMethods(app: Elysia<any, any, any, any, any, any, any>, pathname: string): string[] {
  const methods = new Set<string>()
  for (const route of app.routes) {
    const pattern = new RegExp('^' + route.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*') + '$')
    if (pattern.test(pathname)) methods.add(route.method)
  }
  return [...methods]
}

function render(
  deps: Deps, app: Elysia<any, any, any, any, any, any, any>, request: Request,
  error: unknown, code: string | number, headers: Record<string, string>,
): Response {
  let e: InletError
  if (error instanceof InletError) e = error
  else if (code === 'NOT_FOUND') {
    const pathname = new URL(request.url).pathname
    const allow = allowedMethods(app, pathname)
    if (allow.length > 0) {
      headers.allow = allow.join(', ')
      e = new InletError('method_not_allowed', `${request.method} is not allowed on ${pathname}; use ${allow.join(', ')}`)
    } else e = new InletError('not_found', `no route ${request.method} ${pathname}`)
  } else if (code === 'PARSE') e = new InletError('malformed_json', 'the body is not valid JSON')
  else if (code === 'VALIDATION') {
    const v = error as { all?: { path: string; message: string }[] }
    e = new InletError('validation_failed', 'the request is invalid', (v.all ?? []).map(x => ({ path: x.path, message: x.message })))
  } else if (error instanceof AssertionError) {
    // A bug: loud, never passed off as load. The server stops (deps.onBug).
    deps.onBug(error, { method: request.method, url: request.url })
    e = new InletError('internal', 'internal error; it has been logged')
  } else if (fromPostgres(error)) {
    // Postgres slow, away, read-only or cancelled on a read: "not now", not a bug.
    e = new InletError('unavailable', 'the database is unavailable right now; retry shortly', undefined, 2, { cause: error })
  } else {
    deps.log('error', 'unhandled error', { method: request.method, url: request.url, ...errorFields(error) })
    e = new InletError('internal', 'internal error; it has been logged')
  }
  if (e.retryAfterS !== undefined) headers['retry-after'] = String(e.retryAfterS)
  if (e.status !== 404 && e.status !== 405) deps.live?.rejections.refused(request, e.status, e.code, e.message, e.details) // hook (issue 11)
  if (e.status >= 500) deps.log('warn', 'request failed', { method: request.method, url: request.url, code: e.code, ...errorFields(e.cause ?? e) })
  return new Response(JSON.stringify(e.body()), {
    status: e.status,
    headers: { ...headers, 'content-type': 'application/json' },
  })
}
