// PostHog capture payloads (posthog-js, posthog-node and the other PostHog SDKs)
// turned into Inlet's event, so an unmodified PostHog SDK delivers into Inlet.
// Pure and total: any JSON value in, never a throw; every problem is reported with
// its path in PostHog's field names (`/distinct_id`, not `/user_id`).
//
//   uuid → id (a retried batch carries the same uuids, so it is stored once)
//   event → name, kept as sent ($pageview, $identify, $autocapture, …)
//   distinct_id (top level, else properties.distinct_id, as capture reads it) → user_id
//   properties.$anon_distinct_id, else $device_id → anonymous_id
//   properties.$session_id → session_id
//   properties → properties (less the project key posthog-js copies into them), with a
//     top-level $set / $set_once kept as properties.$set / $set_once, so posthog-js
//     (top level) and posthog-node (inside properties) land alike
//   $lib / $lib_version → context.library
//   timestamp, shifted by the clock skew sent_at reveals; else now - offset; else now
//
// Type: the call the event stands for, so `type` means the same across every SDK
// family (a PostHog $identify and a Segment identify are both `identify`): $identify
// and $set → identify, $create_alias → alias, $groupidentify → group, $pageview →
// page, $screen → screen, anything else → track. No new EventType value is needed.
// Session recordings ($snapshot, $snapshot_items) are not events: see isRecording.

import type { ErrorDetail } from '../errors'
import type { Format } from './index'
import { isObject, jsonType, parseTime, type RequestContext } from './validate'
import type { WireProblem } from './wire-decode'

export type PosthogType = 'track' | 'identify' | 'page' | 'screen' | 'group' | 'alias'

type Json = Record<string, unknown>

export interface PosthogRequest {
  // The project key: the batch's api_key/token, else the events' (all alike), else the query's.
  token: string | null
  // The client clock when it sent the request (batch sent_at, else the `_`/sent_at query), epoch ms.
  sentAtMs: number | null
  events: unknown[]
}

export interface MappedEvent {
  type: PosthogType | null
  event: Json
  // What the mapper itself found wrong, in PostHog's field names.
  errors: ErrorDetail[]
  // Renames a path of Inlet's event (from validation) to the field the client sent.
  rename(path: string): string
}

export interface MapContext {
  receivedAtMs: number
  sentAtMs: number | null
  skewMsMax: number
}

const TYPES: Record<string, PosthogType> = {
  $identify: 'identify', $set: 'identify', $create_alias: 'alias', $groupidentify: 'group', $pageview: 'page', $screen: 'screen',
}
const RECORDING_EVENTS = new Set(['$snapshot', '$snapshot_items'])
const TOKEN_KEYS = ['api_key', 'token', '$token'] as const

// Session recordings (posthog-js's rrweb snapshots) are refused by name, not stored.
export function isRecording(raw: unknown): boolean {
  return isObject(raw) && typeof raw.event === 'string' && RECORDING_EVENTS.has(raw.event)
}

function tokenOf(m: Json): string | null {
  for (const key of TOKEN_KEYS) if (typeof m[key] === 'string' && m[key] !== '') return m[key] as string
  const props = m.properties
  return isObject(props) && typeof props.token === 'string' && props.token !== '' ? props.token : null
}

// The query's sent-at is epoch ms (posthog-js's `_`); smaller numbers are seconds from old SDKs, ignored as capture does.
function querySentAt(query: URLSearchParams): number | null {
  const raw = query.get('_') ?? query.get('sent_at')
  const ms = raw !== null && /^\d{1,16}$/.test(raw) ? Number(raw) : NaN
  return Number.isFinite(ms) && ms > Date.UTC(2020, 0, 1) ? ms : null
}

// A decoded payload → its events, key and sent_at: an array of events (posthog-js
// before batching), `{ batch: [...] }` (/batch/, posthog-js, posthog-node), or one event.
export function splitPosthog(payload: unknown, query = new URLSearchParams()): { ok: true; request: PosthogRequest } | { ok: false; problem: WireProblem } {
  const bad = (message: string) => ({ ok: false as const, problem: { code: 'malformed_json' as const, message } })
  let events: unknown[]
  let token: string | null = null
  let sentAt = NaN
  if (Array.isArray(payload)) events = payload
  else if (isObject(payload) && 'batch' in payload) {
    if (!Array.isArray(payload.batch)) return bad(`batch must be an array, got ${jsonType(payload.batch)}`)
    events = payload.batch
    token = tokenOf({ api_key: payload.api_key, token: payload.token })
    sentAt = parseTime(payload.sent_at)
  } else if (isObject(payload)) events = [payload]
  else return bad(`the payload must be an event, an array of events or {"batch": [...]}, got ${jsonType(payload)}`)
  if (events.length === 0) return bad('the request holds no event')
  if (token === null) {
    const tokens = new Set(events.map(e => (isObject(e) ? tokenOf(e) : null)).filter(t => t !== null))
    if (tokens.size > 1) return { ok: false, problem: { code: 'malformed_json', message: 'the events carry different api_key/token values' } }
    token = tokens.values().next().value ?? query.get('token') ?? query.get('api_key')
  }
  return { ok: true, request: { token: token || null, sentAtMs: Number.isNaN(sentAt) ? querySentAt(query) : sentAt, events } }
}

// distinct_id may be a number (PostHog stringifies it); an empty one counts as absent.
function idText(errors: ErrorDetail[], value: unknown, path: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  errors.push({ path, message: `must be a string or a number, got ${jsonType(value)}` })
  return undefined
}

function bag(errors: ErrorDetail[], value: unknown, path: string): Json | null {
  if (value === undefined || value === null) return null
  if (isObject(value)) return value
  errors.push({ path, message: `must be an object, got ${jsonType(value)}` })
  return null
}

// The event's time on the server's clock: PostHog's rule (plugin-server's parseEventTimestamp).
function timestampOf(errors: ErrorDetail[], raw: Json, ctx: MapContext): { value: unknown; from: string } | null {
  if (raw.timestamp !== undefined && raw.timestamp !== null) {
    const ms = parseTime(raw.timestamp)
    if (Number.isNaN(ms)) return { value: raw.timestamp, from: '/timestamp' } // validation reports it
    const skew = ctx.sentAtMs === null ? 0 : ctx.receivedAtMs - ctx.sentAtMs
    return { value: ms + (Math.abs(skew) <= ctx.skewMsMax ? skew : 0), from: '/timestamp' }
  }
  if (raw.offset !== undefined && raw.offset !== null) {
    if (typeof raw.offset === 'number' && Number.isFinite(raw.offset) && Math.abs(raw.offset) <= ctx.skewMsMax) {
      return { value: ctx.receivedAtMs - Math.round(raw.offset), from: '/offset' }
    }
    errors.push({ path: '/offset', message: 'must be a number of milliseconds, within SKEW_MS_MAX' })
  }
  return null
}

// One PostHog event → Inlet's event shape.
export function mapPosthogEvent(raw: unknown, ctx: MapContext): MappedEvent {
  const errors: ErrorDetail[] = []
  if (!isObject(raw)) {
    return { type: null, event: {}, errors: [{ path: '', message: `must be an object, got ${jsonType(raw)}` }], rename: p => p }
  }
  const props = bag(errors, raw.properties, '/properties') ?? {}
  const setTop = bag(errors, raw.$set, '/$set')
  const setOnceTop = bag(errors, raw.$set_once, '/$set_once')
  const name = raw.event
  let type: PosthogType | null = typeof name === 'string' ? TYPES[name] ?? 'track' : 'track'
  if (isRecording(raw)) {
    errors.push({ path: '/event', message: `${name} is a session recording; Inlet stores events, not recordings` })
    type = null
  }
  const distinctFrom = raw.distinct_id !== undefined && raw.distinct_id !== null ? '/distinct_id'
    : raw.$distinct_id !== undefined && raw.$distinct_id !== null ? '/$distinct_id' : '/properties/distinct_id'
  const distinct = idText(errors, distinctFrom === '/properties/distinct_id' ? props.distinct_id : raw[distinctFrom.slice(1)], distinctFrom)
  if (distinct === undefined && !errors.some(e => e.path === distinctFrom)) errors.push({ path: '/distinct_id', message: 'required' })
  const anonFrom = props.$anon_distinct_id !== undefined && props.$anon_distinct_id !== null ? '$anon_distinct_id' : '$device_id'
  const uuid = raw.uuid === '' ? undefined : raw.uuid
  const { token: _t, $token: _s, api_key: _a, ...kept } = props
  const properties: Json = { ...kept }
  if (setTop) properties.$set = isObject(kept.$set) ? { ...kept.$set, ...setTop } : setTop
  if (setOnceTop) properties.$set_once = isObject(kept.$set_once) ? { ...kept.$set_once, ...setOnceTop } : setOnceTop
  const library = typeof props.$lib === 'string' ? { name: props.$lib, ...(typeof props.$lib_version === 'string' ? { version: props.$lib_version } : {}) } : null
  const event: Json = {
    id: uuid, name, user_id: distinct,
    anonymous_id: idText(errors, props[anonFrom], `/properties/${anonFrom}`),
    session_id: props.$session_id === '' ? undefined : props.$session_id,
    properties, context: library ? { library } : {},
  }
  const time = timestampOf(errors, raw, ctx)
  if (time) event.timestamp = time.value
  const renames: Record<string, string> = {
    '/id': '/uuid', '/name': '/event', '/user_id': distinctFrom, '/anonymous_id': `/properties/${anonFrom}`,
    '/session_id': '/properties/$session_id', '/timestamp': time?.from ?? '/timestamp', '/context/library': '/properties/$lib',
  }
  const rename = (path: string) => {
    for (const [from, to] of Object.entries(renames)) if (path === from || path.startsWith(`${from}/`)) return to + path.slice(from.length)
    // A top-level $set/$set_once was moved under properties; name it where it was sent.
    const moved = path.match(/^\/properties\/(\$set(?:_once)?)(\/.*)?$/)
    if (moved && (moved[1] === '$set' ? setTop : setOnceTop)) return `/${moved[1]}${moved[2] ?? ''}`
    return path
  }
  return { type, event, errors, rename }
}

// The ingest format of one capture request's events: each mapped here, its clock
// skew corrected from the request's sent_at, then validated by ingest/index.ts.
export function posthogFormat(sentAtMs: number | null, req: RequestContext, skewMsMax: number): Format {
  const ctx: MapContext = { receivedAtMs: req.receivedAtMs, sentAtMs, skewMsMax }
  return { type: 'track', invalid: 'the PostHog event is invalid', map: raw => mapPosthogEvent(raw, ctx) }
}
