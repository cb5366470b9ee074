// TypeBox schemas of the contract, for the OpenAPI document. Ingest bodies are
// validated per event by ingest/validate.ts (a schema failure must not sink a
// whole batch), so these schemas document the bodies rather than gate them. Those
// that show a limit take it from the configuration, so the docs say what this
// server enforces.

import { t } from 'elysia'
import type { Config } from '../config'

type Limits = Config['limits']

export const Time = t.Union([t.String({ format: 'date-time' }), t.Number({ description: 'epoch milliseconds' })])

export const eventIn = (l: Limits) => t.Object({
  id: t.Optional(t.String({ maxLength: l.ID_CHARS_MAX, description: 'idempotency key of this event (ID_CHARS_MAX)' })),
  name: t.String({ minLength: 1, maxLength: l.NAME_CHARS_MAX, description: 'NAME_CHARS_MAX' }),
  timestamp: t.Optional(Time),
  user_id: t.Optional(t.String({ maxLength: l.ID_CHARS_MAX })),
  anonymous_id: t.Optional(t.String({ maxLength: l.ID_CHARS_MAX })),
  session_id: t.Optional(t.String({ maxLength: l.ID_CHARS_MAX })),
  properties: t.Optional(t.Record(t.String(), t.Unknown(), { description: `at most ${l.PROPERTIES_KEYS_MAX} keys, ${l.JSON_DEPTH_MAX} deep` })),
  context: t.Optional(t.Record(t.String(), t.Unknown())),
}, { title: 'EventIn', description: `at most ${l.EVENT_BYTES_MAX} bytes serialised (EVENT_BYTES_MAX)` })

export const batchIn = (l: Limits) => t.Object({
  events: t.Array(eventIn(l), { minItems: 1, maxItems: l.BATCH_EVENTS_MAX, description: 'BATCH_EVENTS_MAX' }),
  sent_at: t.Optional(Time),
}, { title: 'BatchIn', description: `at most ${l.BODY_BYTES_MAX} bytes after gzip decoding (BODY_BYTES_MAX)` })

export const Event = t.Object({
  id: t.String(), type: t.String(), name: t.String(),
  timestamp: t.String({ format: 'date-time' }), received_at: t.String({ format: 'date-time' }),
  user_id: t.Nullable(t.String()), anonymous_id: t.Nullable(t.String()), session_id: t.Nullable(t.String()),
  properties: t.Record(t.String(), t.Unknown()), context: t.Record(t.String(), t.Unknown()),
}, { title: 'Event' })

export const Verdict = t.Object({ id: t.String(), status: t.Union([t.Literal('accepted'), t.Literal('duplicate')]) })

const Problem = t.Object({ path: t.String(), message: t.String() })

export const BatchOut = t.Object({
  accepted: t.Integer(), duplicates: t.Integer(), rejected: t.Integer(),
  results: t.Array(t.Object({
    index: t.Integer(), id: t.Optional(t.String()),
    status: t.Union([t.Literal('accepted'), t.Literal('duplicate'), t.Literal('rejected')]),
    errors: t.Optional(t.Array(Problem)),
  })),
}, { title: 'BatchOut' })

export const ErrorBody = t.Object({
  error: t.Object({ code: t.String(), message: t.String(), details: t.Optional(t.Array(t.Unknown())) }),
}, { title: 'Error' })

export const EventList = t.Object({ data: t.Array(Event), next_cursor: t.Nullable(t.String()) }, { title: 'EventList' })

export const Plan = t.Union([t.Literal('free'), t.Literal('pro'), t.Literal('enterprise')])

export const ProjectIn = t.Object({
  name: t.String({ minLength: 1, maxLength: 200 }),
  plan: t.Optional(Plan),
  rate_limit_rpm: t.Optional(t.Nullable(t.Integer({ minimum: 1, maximum: 10_000_000 }))),
  // Whole UTC days of events kept (src/store/retention.ts); 0: forever; null: RETENTION_DAYS_DEFAULT.
  retention_days: t.Optional(t.Nullable(t.Integer({ minimum: 0, maximum: 36_600 }))),
}, { title: 'ProjectIn' })

export const ProjectPatch = t.Partial(ProjectIn, { title: 'ProjectPatch' })

export const Project = t.Object({
  id: t.Integer(), name: t.String(), plan: Plan, rate_limit_rpm: t.Integer(),
  rate_limit_override: t.Nullable(t.Integer()), retention_days: t.Nullable(t.Integer()),
  created_at: t.String({ format: 'date-time' }),
}, { title: 'Project' })

const json = (schema: object) => ({ 'application/json': { schema } })

const STATUS_TEXT: Record<number, string> = {
  200: 'OK', 201: 'Created', 400: 'Malformed JSON', 401: 'Missing, unknown or revoked key', 404: 'Not found',
  413: 'Payload too large', 422: 'Validation failed', 429: 'Rate limited (see Retry-After)',
  503: 'Cannot make the write durable now (see Retry-After)',
}

// An OpenAPI operation for a route, written by hand so that Elysia does not
// validate bodies or responses on the hot path: ingest validates per event itself.
export function doc(o: {
  tag: string; summary: string; description?: string; body?: object
  ok: object; okStatus?: number; errors?: number[]
  // The success answer's media type when it is not JSON (a tracking pixel, a script).
  okType?: string
}) {
  const responses: Record<string, unknown> = {
    [o.okStatus ?? 200]: { description: STATUS_TEXT[o.okStatus ?? 200], content: o.okType ? { [o.okType]: { schema: o.ok } } : json(o.ok) },
  }
  for (const s of o.errors ?? []) responses[s] = { description: STATUS_TEXT[s], content: json(ErrorBody) }
  return {
    tags: [o.tag], summary: o.summary, description: o.description, responses,
    ...(o.body ? { requestBody: { required: true, content: json(o.body) } } : {}),
  } as Record<string, any>
}
