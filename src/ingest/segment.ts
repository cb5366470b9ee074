// Segment's HTTP Tracking API messages (and RudderStack's, the same shape) turned
// into Inlet's event, so that an unmodified Segment or RudderStack SDK delivers into
// Inlet. The mapping runs before validation, and validation's errors are renamed
// back to the Segment field a client sent (`/user_id` → `/userId`), so a rejected
// message points at its own field.
//
//   messageId → id            event → name (track); `$identify`, `$page`, … otherwise
//   userId → user_id          anonymousId → anonymous_id (numbers become strings)
//   properties + traits → properties (plus page/screen `name`/`category`,
//                          group `groupId`, alias `previousId`, so nothing is lost)
//   context → context (a batch's top-level context is merged under each message's)
//   timestamp, else originalTimestamp (RudderStack), shifted by the clock skew that
//   the message's sentAt (else the batch's) reveals.
//
// Not stored: `integrations` (Segment's destination routing), `_metadata`,
// `channel`, `type`, `writeKey`, `sentAt`, `version` — transport details, not event data.

import { t } from 'elysia'
import type { Config } from '../config'
import type { ErrorDetail } from '../errors'
import type { Prepared } from './batch'
import type { EventType, RequestContext, Validated } from './validate'
import { isObject, jsonType, parseTime, validateEvent } from './validate'

export const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const
export type SegmentType = (typeof SEGMENT_TYPES)[number]

type Limits = Config['limits']
type Message = Record<string, unknown>

// Where each of Inlet's fields came from in the message, for renaming error paths.
interface Origins {
  name: string
  timestamp: string
  properties: (key: string | undefined) => string
}

// The event, and what is wrong with the message that validation cannot see
// (an unknown type, a missing groupId); `type` is null when the message has none.
interface Mapped {
  type: SegmentType | null
  event: Message
  origins: Origins
  errors: ErrorDetail[]
}

// Segment ids may be numbers (its SDKs historically accepted them); Inlet stores text.
// An empty string is treated as absent, as Segment does.
function id(errors: ErrorDetail[], m: Message, key: string, required: boolean): string | undefined {
  const value = m[key]
  if (value === undefined || value === null || value === '') {
    if (required) errors.push({ path: `/${key}`, message: 'required' })
    return undefined
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'string') return value
  errors.push({ path: `/${key}`, message: `must be a string or a number, got ${jsonType(value)}` })
  return undefined
}

function bag(errors: ErrorDetail[], m: Message, key: string): Message {
  const value = m[key]
  if (value === undefined || value === null) return {}
  if (isObject(value)) return value
  errors.push({ path: `/${key}`, message: `must be an object, got ${jsonType(value)}` })
  return {}
}

function messageType(errors: ErrorDetail[], m: Message): SegmentType | null {
  const raw = typeof m.type === 'string' ? m.type.toLowerCase() : m.type
  if (SEGMENT_TYPES.includes(raw as SegmentType)) return raw as SegmentType
  errors.push({
    path: '/type',
    message: raw === undefined || raw === null ? 'required' : `must be one of ${SEGMENT_TYPES.join(', ')}`,
  })
  return null
}

// The clock error of the sender: received_at - sentAt. A message's own sentAt wins
// over the request's (`req.skewMs`, from the batch's sentAt or X-Sent-At); a sentAt
// that is not a valid time, or a correction beyond SKEW_MS_MAX, is ignored.
function skewOf(m: Message, req: RequestContext, skewMsMax: number): number {
  const sentMs = parseTime(m.sentAt)
  if (Number.isNaN(sentMs)) return req.skewMs
  const skew = req.receivedAtMs - sentMs
  return Math.abs(skew) <= skewMsMax ? skew : 0
}

// One Segment message → Inlet's event shape. `fixed` is the type a single-call
// route implies (/v1/track); in a batch each message names its own `type`.
export function mapMessage(
  raw: Message, fixed: SegmentType | null, req: RequestContext, limits: Limits, batchContext: Message = {},
): Mapped {
  const errors: ErrorDetail[] = []
  const type = fixed ?? messageType(errors, raw)
  const properties = bag(errors, raw, 'properties')
  const traits = bag(errors, raw, 'traits')
  const context = bag(errors, raw, 'context')
  const event: Message = {
    id: id(errors, raw, 'messageId', false),
    user_id: id(errors, raw, 'userId', false),
    anonymous_id: id(errors, raw, 'anonymousId', false),
    context: Object.keys(batchContext).length > 0 ? { ...batchContext, ...context } : context,
  }
  const extra: Message = {}
  if (type === 'page' || type === 'screen') {
    if (raw.name !== undefined && raw.name !== null) extra.name = raw.name
    if (raw.category !== undefined && raw.category !== null && properties.category === undefined) extra.category = raw.category
  } else if (type === 'group') extra.groupId = id(errors, raw, 'groupId', true)
  else if (type === 'alias') extra.previousId = id(errors, raw, 'previousId', true)
  // An unknown type is reported as /type already; its placeholder name keeps it from being reported twice.
  event.name = type === 'track' ? raw.event : `$${type ?? 'unknown'}`
  event.properties = { ...properties, ...traits, ...extra }
  const timestampKey = raw.timestamp !== undefined && raw.timestamp !== null ? 'timestamp' : 'originalTimestamp'
  const timestamp = raw[timestampKey]
  if (timestamp !== undefined && timestamp !== null) {
    const ms = parseTime(timestamp)
    // An invalid time is passed on as it is, for validation to report.
    event.timestamp = Number.isNaN(ms) ? timestamp : ms + skewOf(raw, req, limits.SKEW_MS_MAX)
  }
  const origins: Origins = {
    name: type === 'track' ? '/event' : '/type',
    timestamp: `/${timestampKey}`,
    // A key copied from the message's top level (name, groupId, …) is named as itself.
    properties: key => (key === undefined ? '/properties' : key in extra ? '' : key in traits ? '/traits' : '/properties'),
  }
  return { type, event, origins, errors }
}

const RENAMES: Record<string, string> = { '/id': '/messageId', '/user_id': '/userId', '/anonymous_id': '/anonymousId' }

// Validation speaks Inlet's field names; the client sent Segment's.
function rename(path: string, origins: Origins): string {
  const [, head = '', key] = path.split('/', 3)
  const top = `/${head}`
  if (RENAMES[top]) return RENAMES[top] + path.slice(top.length)
  if (top === '/name') return origins.name + path.slice(top.length)
  if (top === '/timestamp') return origins.timestamp + path.slice(top.length)
  if (top === '/properties') return origins.properties(key?.replaceAll('~1', '/').replaceAll('~0', '~')) + path.slice(top.length)
  return path
}

// One Segment message → a row ready for the buffer, or what is wrong with it.
// The timestamp is already skew-corrected here, per message, so validation gets no skew.
export function segmentRow(
  raw: unknown, index: number, fixed: SegmentType | null, req: RequestContext, limits: Limits, batchContext?: Message,
): Validated {
  if (!isObject(raw)) return { ok: false, errors: [{ path: '', message: `must be an object, got ${jsonType(raw)}` }] }
  const m = mapMessage(raw, fixed, req, limits, batchContext)
  const v = validateEvent(m.event, index, (m.type ?? 'track') as EventType, { ...req, skewMs: 0 }, limits)
  if (v.ok && m.errors.length === 0) return v
  const invalid = v.ok ? [] : v.errors.map(e => ({ path: rename(e.path, m.origins), message: e.message }))
  // Every problem at once, in Segment's field names; tooLarge only when size is the sole problem.
  return { ok: false, errors: [...m.errors, ...invalid], tooLarge: !v.ok && v.tooLarge && m.errors.length === 0 }
}

// A batch's messages → rows, each validated on its own (batch.ts's `outcome` merges the verdicts).
export function prepareSegment(raws: unknown[], req: RequestContext, limits: Limits, batchContext?: Message): Prepared {
  const prepared: Prepared = { rows: [], indexes: [], rejected: new Map() }
  for (let i = 0; i < raws.length; i++) {
    const v = segmentRow(raws[i], i, null, req, limits, batchContext)
    if (v.ok) {
      prepared.rows.push(v.row)
      prepared.indexes.push(i)
    } else prepared.rejected.set(i, v.errors)
  }
  return prepared
}

// OpenAPI schemas of the bodies (documentation only: messages are validated one by one above).
const Time = t.Union([t.String({ format: 'date-time' }), t.Number({ description: 'epoch milliseconds' })])
const Id = t.Union([t.String(), t.Number()])
const Bag = t.Record(t.String(), t.Unknown())

const common = {
  messageId: t.Optional(t.String({ maxLength: 128, description: 'idempotency key: a retried message is stored once' })),
  userId: t.Optional(Id),
  anonymousId: t.Optional(Id),
  context: t.Optional(Bag),
  integrations: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'accepted and not stored' })),
  timestamp: t.Optional(Time),
  originalTimestamp: t.Optional(t.String({ format: 'date-time', description: 'RudderStack; used when timestamp is absent' })),
  sentAt: t.Optional(t.String({ format: 'date-time', description: 'client clock at sending; corrects clock skew' })),
  writeKey: t.Optional(t.String({ description: 'the project key, when not sent as Basic auth user name' })),
}

export const SegmentMessage = t.Object({
  ...common,
  type: t.Optional(t.Union(SEGMENT_TYPES.map(s => t.Literal(s)), { description: 'required in a batch; implied by the path otherwise' })),
  event: t.Optional(t.String({ minLength: 1, maxLength: 200, description: 'track: the event name' })),
  name: t.Optional(t.String({ description: 'page/screen: kept as properties.name' })),
  category: t.Optional(t.String({ description: 'page/screen: kept as properties.category' })),
  properties: t.Optional(Bag),
  traits: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'identify/group: stored as properties' })),
  groupId: t.Optional(t.Union([Id], { description: 'group: required, kept as properties.groupId' })),
  previousId: t.Optional(t.Union([Id], { description: 'alias: required, kept as properties.previousId' })),
}, { title: 'SegmentMessage' })

export const SegmentBatch = t.Object({
  batch: t.Array(SegmentMessage),
  context: t.Optional(t.Record(t.String(), t.Unknown(), { description: 'merged under each message\'s context' })),
  sentAt: t.Optional(Time),
  writeKey: t.Optional(t.String()),
}, { title: 'SegmentBatch' })
