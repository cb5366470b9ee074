// PostHog-compatible capture: /e/, /i/v0/e/, /capture/, /batch/, /track/ and /i/v0/ai/batch/ (with
// or without the slash; GET with `data=` or POST) take what PostHog's SDKs send,
// unchanged, so posthog-js and posthog-node pointed at Inlet deliver into it. The
// body is decoded the way PostHog's capture decodes it (ingest/posthog-decode.ts:
// gzip sniffed, base64 forms, `data=`), then each event is mapped and validated on
// its own (ingest/posthog.ts) through the one ingest entry point.
//
// The project key is the PostHog project token: `api_key`/`token` in the body (or
// in each event, or `?token=`), as PostHog reads it; or an Inlet key header, which
// wins and is checked before the body is read. It is an API key or a collector token
// (`ct_…`): the one to give posthog-js, whose token anyone can read in the page.
//
// Answers, as the SDKs depend on them (docs/sdk-wire-formats.md):
// - exactly 200 `{"status": 1, accepted, duplicates, rejected, results}` once the
//   events are durable; posthog-js retries any other 2xx. 204 for `beacon=1`
//   (sendBeacon reads nothing). Some events invalid: still 200, with their errors
//   in `results` (PostHog has no partial answer, so no SDK shows them: the console's
//   rejection log does). Every event invalid: 422, which both SDKs drop.
// - a full buffer: 503 + Retry-After, which both SDKs retry with the same uuids.
// - a spent rate limit: 503 + Retry-After, code `rate_limited`, not 429, because
//   posthog-js drops every 4xx (429 included) and would lose the events; posthog-node
//   retries either. The cost: a browser over its limit retries up to 10 times with
//   backoff from 3 s, and its key is in the body, so each retry is read before it is
//   refused.
// - session recordings are not events: /s/ is refused with 422 unread, and a
//   $snapshot inside a capture batch is rejected on its own.

import { Elysia, t } from 'elysia'
import type { Config } from '../../config'
import { InletError } from '../../errors'
import { decodePosthog } from '../../ingest/posthog-decode'
import { posthogFormat, splitPosthog } from '../../ingest/posthog'
import type { KeyOwner } from '../../store/projects'
import { keyFromHeaders } from '../auth'
import { readBody } from '../body'
import { authenticateWriter, type Deps, requestContextOf } from '../context'
import { credentialedCors, credentialedPreflight } from '../cors'
import { json } from '../respond'
import { BatchOut, doc, ErrorBody } from '../schemas'

type SetHeaders = { headers: Record<string, string | number>; status?: number | string }

// /i/v0/ai/batch/ is where posthog-node's captureAi sends ($ai_* events), in the /batch/ format.
export const CAPTURE_PATHS = ['/e', '/i/v0/e', '/capture', '/batch', '/track', '/i/v0/ai/batch'] as const

// A rate limit spent, answered so that every PostHog SDK retries it (see above).
async function authenticatePosthog(deps: Deps, request: Request, set: SetHeaders, key: string | null): Promise<KeyOwner> {
  if (key === null) throw new InletError('unauthorized', 'a project key is required: api_key or token in the body, ?token=, or an Authorization header')
  try {
    return await authenticateWriter(deps, request, set, key)
  } catch (e) {
    if (!(e instanceof InletError) || e.code !== 'rate_limited') throw e
    throw new InletError('rate_limited', `${e.message}; answered 503 so PostHog SDKs retry (posthog-js drops a 429)`, undefined, e.retryAfterS, { status: 503 })
  }
}

async function capture(deps: Deps, request: Request, set: SetHeaders): Promise<Response> {
  const limits = deps.config.limits
  Object.assign(set.headers, credentialedCors(request))
  const query = new URL(request.url).searchParams
  const headerKey = keyFromHeaders(request.headers)
  let owner = headerKey ? await authenticatePosthog(deps, request, set, headerKey) : null
  const body = request.method === 'GET' ? new Uint8Array(0) : await readBody(request, limits.BODY_BYTES_MAX)
  const decoded = decodePosthog({
    method: request.method, contentType: request.headers.get('content-type'), contentEncoding: request.headers.get('content-encoding'), query, body,
  }, limits.BODY_BYTES_MAX)
  if (!decoded.ok) throw new InletError(decoded.problem.code, decoded.problem.message)
  const split = splitPosthog(decoded.value.payload, query)
  if (!split.ok) throw new InletError(split.problem.code, split.problem.message)
  owner ??= await authenticatePosthog(deps, request, set, split.request.token)
  const events = split.request.events
  if (events.length > limits.BATCH_EVENTS_MAX) {
    throw new InletError('payload_too_large', `the request has ${events.length} events, over BATCH_EVENTS_MAX (${limits.BATCH_EVENTS_MAX})`)
  }
  const req = requestContextOf(deps, request, owner.projectId, false)
  const result = await deps.ingest.many(req, events, posthogFormat(split.request.sentAtMs, req, limits.SKEW_MS_MAX), request)
  if (result.rejected === result.results.length) throw new InletError('validation_failed', 'every event in the request is invalid', result.results)
  if (query.get('beacon') === '1') {
    const headers = Object.fromEntries(Object.entries(set.headers).map(([k, v]) => [k, String(v)]))
    set.headers = {}
    return new Response(null, { status: 204, headers })
  }
  return json({ status: 1, ...result }, set)
}

const CaptureOk = t.Object({ status: t.Literal(1), ...BatchOut.properties }, { title: 'PosthogCaptureOk' })

const posthogEvent = (l: Config['limits']) => t.Object({
  event: t.String({ minLength: 1, maxLength: l.NAME_CHARS_MAX, description: 'the name, kept as sent ($pageview, $identify, …)' }),
  distinct_id: t.Optional(t.Union([t.String(), t.Number()], { description: 'user_id; else properties.distinct_id (posthog-js)' })),
  uuid: t.Optional(t.String({ maxLength: l.ID_CHARS_MAX, description: 'the event id: a retried batch is stored once' })),
  timestamp: t.Optional(t.String({ format: 'date-time', description: 'shifted by the clock skew sent_at reveals' })),
  offset: t.Optional(t.Number({ description: 'ms before sending, when there is no timestamp' })),
  properties: t.Optional(t.Record(t.String(), t.Unknown(), { description: '$anon_distinct_id/$device_id → anonymous_id, $session_id → session_id' })),
  $set: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'kept as properties.$set' })),
  $set_once: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'kept as properties.$set_once' })),
}, { title: 'PosthogEvent' })

const captureBody = (l: Config['limits']) => t.Object({
  api_key: t.Optional(t.String({ description: 'the project key (or `token`, here or in each event)' })),
  batch: t.Array(posthogEvent(l), { maxItems: l.BATCH_EVENTS_MAX }),
  sent_at: t.Optional(t.String({ format: 'date-time', description: 'client clock at sending; corrects clock skew' })),
}, { title: 'PosthogBatch', description: 'Also accepted: one event, or an array of events. The body may be gzip (sniffed), a `data=` base64 form, or `?data=` on GET.' })

export function posthogRoutes(deps: Deps) {
  const limits = deps.config.limits
  const handler = ({ request, set }: { request: Request; set: SetHeaders }) => capture(deps, request, set)
  const app = new Elysia()
  for (const path of CAPTURE_PATHS) {
    const detail = doc({
      tag: 'posthog', summary: `PostHog capture ${path}/`, body: captureBody(limits), ok: CaptureOk, errors: [400, 401, 413, 422, 503],
      description: 'What posthog-js and posthog-node send, unchanged. Each event is mapped (`uuid` → id, `event` → name, `distinct_id` → user_id, '
        + '`$device_id`/`$anon_distinct_id` → anonymous_id, `$session_id` → session_id; type identify/alias/group/page/screen/track from the event name) '
        + 'and validated on its own: 200 when any is stored (the others in `results`), 422 when none is. 204 with `beacon=1`. '
        + 'A spent rate limit answers **503** + Retry-After (code `rate_limited`): posthog-js drops every 4xx. '
        + 'Key: `api_key`/`token` in the body or events, `?token=`, or an Authorization/X-API-Key header; an API key or a '
        + 'collector token (`ct_…`, write-only: the one for a browser). $snapshot events are rejected.',
    })
    app.post(path, handler, { parse: 'none', detail })
    app.get(path, handler, { detail: { ...detail, summary: `${detail.summary} (GET, data= in the query)`, requestBody: undefined } })
    app.options(path, ({ request }) => credentialedPreflight(request, 'GET, POST, OPTIONS'), { detail: { hide: true } })
  }
  const recordings = ({ request, set }: { request: Request; set: SetHeaders }) => {
    Object.assign(set.headers, credentialedCors(request))
    throw new InletError('validation_failed', 'session recordings are not supported: Inlet stores events, not recordings; '
      + 'turn recording off in the SDK (posthog-js: disable_session_recording: true)')
  }
  app.post('/s', recordings, {
    parse: 'none',
    detail: doc({ tag: 'posthog', summary: 'PostHog session recordings: refused', ok: ErrorBody, okStatus: 422, description: 'Always 422, the body unread; nothing is stored. PostHog SDKs drop a 4xx.' }),
  })
  app.options('/s', ({ request }) => credentialedPreflight(request, 'POST, OPTIONS'), { detail: { hide: true } })
  return app
}
