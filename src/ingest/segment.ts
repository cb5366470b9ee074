// Segment's HTTP Tracking API messages (and RudderStack's, the same shape) turned
// into Inlet's event, so that an unmodified Segment or RudderStack SDK delivers into
// Inlet. The mapping runs before validation, and validation's errors are renamed
// back to the Segment field a client sent (`/user_id` → `/userId`), so a rejected
// message points at its own field.
//
//   messageId → id            event → name (track); `$identify`, `$page`, … otherwise
//   userId → user_id          anonymousId → anonymous_id (numbers become strings)
//   properties + traits → properties (an identify with no traits: context.traits, as
//                          RudderStack's browser SDK sends them; plus page/screen `name`/`category`,
//                          group `groupId`, alias `previousId`, so nothing is lost)
//   context → context (a batch's top-level context is merged under each message's)
//   timestamp, else originalTimestamp (RudderStack), shifted by the clock skew that
//   the message's sentAt (else the batch's) reveals.
//
// Not stored: `integrations` (Segment's destination routing), `_metadata`,
// `channel`, `type`, `writeKey`, `sentAt`, `version` — transport details, not event data.

import type { Config } from '../config'
import type { ErrorDetail } from '../errors'
import type { Format } from './index'
import type { EventType, RequestContext } from './validate'
import { isObject, jsonType, parseTime } from './validate'

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
  const context = bag(errors, raw, 'context')
  // RudderStack's browser SDK sends an identify's traits only as context.traits (the
  // user's traits, which Segment's spec puts there on other calls): they are the
  // identify's properties then. Either way context keeps them.
  const fromContext = type === 'identify' && (raw.traits === undefined || raw.traits === null) && isObject(context.traits)
  const traits = fromContext ? context.traits as Message : bag(errors, raw, 'traits')
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

// The ingest format of Segment messages: each mapped (and its clock skew corrected)
// here, validated by ingest/index.ts, with validation's paths in Segment's names.
// `fixed` is the type a single-call route implies; in a batch each message names its own.
export function segmentFormat(fixed: SegmentType | null, req: RequestContext, limits: Limits, batchContext?: Message): Format {
  return {
    type: 'track',
    invalid: `the ${fixed ?? 'batch'} call is invalid`,
    map: raw => {
      const m = mapMessage(raw, fixed, req, limits, batchContext)
      return { type: m.type as EventType | null, event: m.event, errors: m.errors, rename: path => rename(path, m.origins) }
    },
  }
}
