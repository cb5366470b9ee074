// Segment-compatible ingest: POST /v1/track, /identify, /page, /screen, /group,
// /alias, /batch and /import take Segment's HTTP Tracking API bodies unchanged, so
// an unmodified Segment or RudderStack SDK pointed at Inlet delivers into it. The
// one-letter paths (/v1/t, /v1/i, … and /v1/b for a batch) are where Segment's
// browser library (analytics.js) posts, with the write key in a text/plain body.
//
// Answers, as those SDKs expect:
// - 200 {"success": true, …} only once the events are durable;
// - a batch always answers 200 once its body is a readable batch, with per-event
//   results beside `success`, even when every message is invalid: Segment's SDKs
//   drop a whole batch on a 4xx, and retrying invalid messages would never help;
// - a single call (/v1/track, …) with an invalid message answers 422 (413 when it is
//   over EVENT_BYTES_MAX), like Segment's own API answers a malformed call with a 4xx:
//   the SDK does not retry it, and a client calling these paths directly hears why;
// - 429 and 503 carry Retry-After, so the SDKs back off and retry; `messageId`
//   makes those retries land once.
// Segment's own 32 KB per-message and 500 KB per-batch caps are not imposed; Inlet's
// BODY_BYTES_MAX, EVENT_BYTES_MAX and BATCH_EVENTS_MAX apply.

import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import type { Config } from '../../config'
import { SEGMENT_TYPES, segmentFormat, type SegmentType } from '../../ingest/segment'
import { isObject } from '../../ingest/validate'
import type { KeyOwner } from '../../store/projects'
import { keyFromHeaders } from '../auth'
import { readJson } from '../body'
import { json } from '../respond'
import { authenticateWriter, type Deps, requestContextOf } from '../context'
import { BatchOut, doc, Time } from '../schemas'

type SetHeaders = { headers: Record<string, string | number>; status?: number | string }

// Browsers post analytics.js's text/plain bodies cross-origin; the write key is public
// by design (it sits in every page), and no cookie is read, so any origin may call.
// analytics-next adds Authorization (so every call preflights) and X-Retry-Count on a
// retry; @rudderstack/analytics-js adds AnonymousId and SentAt. A preflight not
// allowing one of them makes the browser drop the call, so a preflight allows the
// headers it asks for (these routes read no cookie: nothing is exposed by that).
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, content-encoding, x-sent-at, idempotency-key, anonymousid, sentat, x-retry-count',
  'access-control-max-age': '86400',
}

const SHORT: Record<SegmentType, string> = { track: 't', identify: 'i', page: 'p', screen: 's', group: 'g', alias: 'a' }

const SingleOk = t.Object({
  success: t.Literal(true),
  id: t.String({ description: 'the stored event\'s id (the messageId, when one was sent)' }),
  status: t.Union([t.Literal('accepted'), t.Literal('duplicate')]),
}, { title: 'SegmentOk' })

// OpenAPI schemas of the bodies (documentation only: ingest/ validates each message on its own).
type Limits = Config['limits']
const Id = t.Union([t.String(), t.Number()])
const Bag = t.Record(t.String(), t.Unknown())

const common = (l: Limits) => ({
  messageId: t.Optional(t.String({ maxLength: l.ID_CHARS_MAX, description: 'idempotency key: a retried message is stored once' })),
  userId: t.Optional(Id),
  anonymousId: t.Optional(Id),
  context: t.Optional(Bag),
  integrations: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'accepted and not stored' })),
  timestamp: t.Optional(Time),
  originalTimestamp: t.Optional(t.String({ format: 'date-time', description: 'RudderStack; used when timestamp is absent' })),
  sentAt: t.Optional(t.String({ format: 'date-time', description: 'client clock at sending; corrects clock skew' })),
  writeKey: t.Optional(t.String({ description: 'the project key, when not sent as Basic auth user name' })),
})

const segmentMessage = (l: Limits) => t.Object({
  ...common(l),
  type: t.Optional(t.Union(SEGMENT_TYPES.map(s => t.Literal(s)), { description: 'required in a batch; implied by the path otherwise' })),
  event: t.Optional(t.String({ minLength: 1, maxLength: l.NAME_CHARS_MAX, description: 'track: the event name' })),
  name: t.Optional(t.String({ description: 'page/screen: kept as properties.name' })),
  category: t.Optional(t.String({ description: 'page/screen: kept as properties.category' })),
  properties: t.Optional(Bag),
  traits: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'identify/group: stored as properties' })),
  groupId: t.Optional(t.Union([Id], { description: 'group: required, kept as properties.groupId' })),
  previousId: t.Optional(t.Union([Id], { description: 'alias: required, kept as properties.previousId' })),
}, { title: 'SegmentMessage' })

const segmentBatch = (l: Limits) => t.Object({
  batch: t.Array(segmentMessage(l), { maxItems: l.BATCH_EVENTS_MAX }),
  context: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'merged under each message\'s context' })),
  sentAt: t.Optional(Time),
  writeKey: t.Optional(t.String()),
}, { title: 'SegmentBatch' })

const BatchOk = t.Object({ success: t.Literal(true), ...BatchOut.properties }, { title: 'SegmentBatchOk' })

const AUTH_TEXT = 'Authentication: HTTP Basic with the project key as user name (what the SDKs send), '
  + 'Bearer, X-API-Key, or `writeKey` in the body (analytics.js). The key may be a collector token (`ct_…`, write-only), '
  + 'the credential to put in a browser page. '

// The key comes from a header when there is one, so the body is read only after the
// caller is known and rate-limited; otherwise it is read first, for its writeKey.
async function authenticatedBody(deps: Deps, request: Request, set: SetHeaders): Promise<{ owner: KeyOwner; value: unknown }> {
  const limit = deps.config.limits.BODY_BYTES_MAX
  const headerKey = keyFromHeaders(request.headers)
  if (headerKey) {
    const owner = await authenticateWriter(deps, request, set, headerKey)
    return { owner, value: (await readJson(request, limit)).value }
  }
  const { value } = await readJson(request, limit)
  const writeKey = isObject(value) && typeof value.writeKey === 'string' ? value.writeKey : null
  return { owner: await authenticateWriter(deps, request, set, writeKey), value }
}

export function segmentRoutes(deps: Deps) {
  const limits = deps.config.limits

  const single = (type: SegmentType) => async ({ request, set }: { request: Request; set: SetHeaders }) => {
    Object.assign(set.headers, CORS)
    const { owner, value } = await authenticatedBody(deps, request, set)
    if (!isObject(value)) throw new InletError('malformed_json', `the body must be a JSON object (a Segment ${type} call)`)
    deps.live?.rejections.attribute(request, owner.projectId, { id: value.messageId, name: type === 'track' ? value.event : `$${type}` }) // hook (issue 11)
    // The message's own sentAt is read per message (ingest/segment.ts); only X-Sent-At here.
    const req = requestContextOf(deps, request, owner.projectId, true)
    const stored = await deps.ingest.one(req, value, segmentFormat(type, req, limits))
    return json({ success: true, ...stored }, set)
  }

  const batch = async ({ request, set }: { request: Request; set: SetHeaders }) => {
    Object.assign(set.headers, CORS)
    const { owner, value } = await authenticatedBody(deps, request, set)
    if (!isObject(value)) throw new InletError('malformed_json', 'the body must be a JSON object: {"batch": [...]}')
    const messages = value.batch
    if (!Array.isArray(messages)) {
      throw new InletError('validation_failed', 'batch must be an array of messages', [{ path: '/batch', message: 'must be an array' }])
    }
    if (messages.length > limits.BATCH_EVENTS_MAX) {
      throw new InletError('payload_too_large', `the batch has ${messages.length} messages, over BATCH_EVENTS_MAX (${limits.BATCH_EVENTS_MAX})`)
    }
    const context = value.context ?? {}
    if (!isObject(context)) {
      throw new InletError('validation_failed', 'context must be an object', [{ path: '/context', message: 'must be an object' }])
    }
    const req = requestContextOf(deps, request, owner.projectId, false, value.sentAt)
    const result = await deps.ingest.many(req, messages, segmentFormat(null, req, limits, context), request)
    return json({ success: true, ...result }, set)
  }

  // A preflight is needed only when a browser adds headers (Authorization, gzip);
  // analytics.js's text/plain posts go without one.
  const preflight = ({ request, set }: { request: Request; set: SetHeaders }) => {
    Object.assign(set.headers, CORS)
    const asked = request.headers.get('access-control-request-headers')
    if (asked) set.headers['access-control-allow-headers'] = asked
    set.status = 204
    return ''
  }

  const app = new Elysia()
  for (const type of SEGMENT_TYPES) {
    for (const path of [`/v1/${type}`, `/v1/${SHORT[type]}`]) {
      app.post(path, single(type), {
        parse: 'none',
        detail: doc({
          tag: 'segment', body: segmentMessage(limits), ok: SingleOk, errors: [400, 401, 413, 422, 429, 503],
          summary: path === `/v1/${type}` ? `Segment ${type} call` : `Segment ${type} call (analytics.js path)`,
          description: `One Segment ${type} message, stored with type \`${type}\``
            + (type === 'track' ? ' and its `event` as name. ' : ` and name \`$${type}\`. `)
            + 'Answers once the event is durable. An invalid message is refused with 422 (413 over EVENT_BYTES_MAX); '
            + 'use /v1/batch for partial success. ' + AUTH_TEXT,
        }),
      })
      app.options(path, preflight, { detail: { hide: true } })
    }
  }
  for (const path of ['/v1/batch', '/v1/import', '/v1/b']) {
    app.post(path, batch, {
      parse: 'none',
      detail: doc({
        tag: 'segment', body: segmentBatch(limits), ok: BatchOk, errors: [400, 401, 413, 422, 429, 503],
        summary: path === '/v1/b' ? 'Segment batch (analytics.js path)' : `Segment ${path.slice(4)} (batch, partial success)`,
        description: 'Each message is mapped and validated on its own: valid ones are stored, invalid ones reported in '
          + '`results`, and the answer is 200 even when every message is invalid (Segment\'s SDKs drop a whole batch on a 4xx). '
          + '4xx only when the body is not a batch at all, or has over BATCH_EVENTS_MAX messages. ' + AUTH_TEXT,
      }),
    })
    app.options(path, preflight, { detail: { hide: true } })
  }
  return app
}
