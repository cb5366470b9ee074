// GET /v1/events/stream, GET /v1/events/{id}/receipt, GET /v1/debug/rejections: what
// the console shows, for any client. Registered before GET /v1/events/:id. Keys
// come in a header only: a key in a URL ends up in logs, browser history and
// proxies, so a URL carrying one is refused before anything else.

import { Elysia, t } from 'elysia'
import { assert } from '../../assert'
import { InletError } from '../../errors'
import { findReceipt } from '../../live/receipt'
import { sseResponse } from '../../live/stream'
import { authenticate, type Deps } from '../context'
import { json } from '../respond'
import { doc } from '../schemas'

const KEY_PARAMS = ['key', 'api_key', 'apikey', 'token', 'access_token', 'write_key', 'writekey', 'authorization']

function refuseKeyInUrl(request: Request): void {
  const params = new URL(request.url).searchParams
  for (const name of params.keys()) {
    if (KEY_PARAMS.includes(name.toLowerCase())) {
      throw new InletError('unauthorized', `the API key must not be in the URL (query parameter ${name}); `
        + 'send it in a header: Authorization: Bearer <key>, or X-API-Key: <key>')
    }
  }
}

const Problem = t.Object({ path: t.String(), message: t.String() })

const Receipt = t.Object({
  id: t.String(),
  status: t.Union(['stored', 'spilled', 'dead_letter', 'rejected', 'unknown'].map(s => t.Literal(s))),
  received_at: t.Optional(t.Nullable(t.String({ format: 'date-time' }))),
  durable_at: t.Optional(t.Nullable(t.String({ format: 'date-time', description: 'null once the event is older than the last RECEIPT_EVENTS_MAX' }))),
  durable_in: t.Optional(t.Nullable(t.Union([t.Literal('postgres'), t.Literal('spill')]))),
  errors: t.Optional(t.Array(Problem)),
}, { title: 'Receipt' })

const Rejection = t.Object({
  at: t.String({ format: 'date-time' }), route: t.String(), status: t.Integer(), code: t.String(), message: t.String(),
  id: t.Optional(t.String()), name: t.Optional(t.String()), index: t.Optional(t.Integer({ description: 'position in its batch' })),
  errors: t.Optional(t.Array(Problem)),
}, { title: 'Rejection' })

function streamDoc() {
  const d = doc({
    tag: 'query', summary: 'Live stream of this project\'s events as they become durable (Server-Sent Events)', ok: t.String(),
    errors: [401, 429, 503],
    description: 'A `text/event-stream` (try `curl -N -H "Authorization: Bearer <key>" …/v1/events/stream`). Messages: '
      + '`event: ready` first, once the subscription is in place (every event durable from then on is streamed); `event: event` with `{"durable_in": "postgres"|"spill", "event": <the event as GET /v1/events/{id} returns it>}`, '
      + 'sent once the event is durable (never a duplicate); `event: heartbeat` every STREAM_HEARTBEAT_MS when quiet; '
      + '`event: lagged` with `{"missed": n}` when this subscriber fell more than STREAM_BUFFER_EVENTS_MAX events behind '
      + 'and n events were dropped for it (ingest never waits for a stream). Filters match exactly. At most '
      + 'STREAM_SUBSCRIBERS_MAX streams are open at once (503 past it). The key goes in a header: a key in the URL is refused with 401.',
  })
  d.responses[200] = { description: 'the stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }
  return d
}

export function liveRoutes(deps: Deps) {
  assert(deps.live !== undefined, 'the live routes need deps.live')
  const live = deps.live
  const l = deps.config.limits
  // A stream quiet for HTTP_IDLE_TIMEOUT_S is closed by the server: beat at least twice within it.
  const timing = { heartbeatMs: Math.min(l.STREAM_HEARTBEAT_MS, l.HTTP_IDLE_TIMEOUT_S * 500), coalesceMs: l.STREAM_COALESCE_MS }
  return new Elysia()
    .get('/v1/events/stream', async ({ request, query, set }) => {
      refuseKeyInUrl(request)
      const owner = await authenticate(deps, request, set)
      const sub = live.hub.subscribe(owner.projectId, {
        name: query.name || undefined, userId: query.user_id || undefined, type: query.type || undefined,
      })
      if (!sub) throw new InletError('overloaded', `${l.STREAM_SUBSCRIBERS_MAX} live streams are open (STREAM_SUBSCRIBERS_MAX); retry later`, undefined, 5)
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(set.headers)) if (v !== undefined) headers[k] = String(v)
      set.headers = {}
      return sseResponse(live.hub, sub, timing, request.signal, headers)
    }, {
      query: t.Object({
        name: t.Optional(t.String({ description: 'only events with this name' })),
        user_id: t.Optional(t.String({ description: 'only events of this user_id' })),
        type: t.Optional(t.String({ description: 'only events of this type (track, identify, page, screen, group, alias, webhook)' })),
      }, { additionalProperties: true }),
      detail: streamDoc(),
    })
    .get('/v1/events/:id/receipt', async ({ request, params, set }) => {
      refuseKeyInUrl(request)
      const owner = await authenticate(deps, request, set)
      return json(await findReceipt({
        sql: deps.sql, live, spill: deps.spill, deadlineMs: deps.config.limits.PG_STATEMENT_TIMEOUT_MS, reachable: deps.health.postgresReachable,
      }, owner.projectId, params.id), set)
    }, {
      detail: doc({
        tag: 'query', summary: 'Where an event is, and when it was received and made durable', ok: Receipt, errors: [401, 429, 503],
        description: '`stored` (in Postgres), `spilled` (acknowledged, waiting in the local spill for Postgres), `dead_letter` '
          + '(acknowledged, but Postgres refused it as data), `rejected` (refused recently, with `errors`: from the rejection log) '
          + 'or `unknown`. `durable_at`/`durable_in` are known for the last RECEIPT_EVENTS_MAX acknowledged events; older ones '
          + 'found in Postgres answer with `received_at` and `durable_at: null`.',
      }),
    })
    .get('/v1/debug/rejections', async ({ request, query, set }) => {
      refuseKeyInUrl(request)
      const owner = await authenticate(deps, request, set)
      let limit = l.REJECTIONS_PER_PROJECT_MAX
      if (query.limit !== undefined) {
        limit = Number(query.limit)
        if (!Number.isInteger(limit) || limit < 1 || limit > l.REJECTIONS_PER_PROJECT_MAX) {
          throw new InletError('validation_failed', 'query parameter limit is invalid', [
            { path: '/limit', message: `must be an integer from 1 to ${l.REJECTIONS_PER_PROJECT_MAX}` },
          ])
        }
      }
      return json({ data: live.rejections.recent(owner.projectId, limit) }, set)
    }, {
      query: t.Object({ limit: t.Optional(t.String({ description: `1..REJECTIONS_PER_PROJECT_MAX (default: all kept)` })) }, { additionalProperties: true }),
      detail: doc({
        tag: 'query', summary: 'This project\'s recent refusals, newest first, with their reasons', ok: t.Object({ data: t.Array(Rejection) }),
        errors: [401, 422, 429],
        description: 'Kept in memory, per process: the last REJECTIONS_PER_PROJECT_MAX refusals of each of the '
          + 'REJECTION_PROJECTS_MAX most recently refused projects: invalid events (also those of a batch answered 200) with '
          + 'each problem\'s JSON path, 413s, 429s, and webhook deliveries with a bad signature.',
      }),
    })
}
