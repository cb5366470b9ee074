// Per-event validation and normalisation: a raw JSON value in, an EventRow ready for
// the buffer (or the list of what is wrong with it, each with its JSON path) out.
// Everything Postgres would refuse (NUL characters, unpaired surrogates) is caught
// here, so an acknowledged event can always be written.

import type { Config } from '../config'
import type { ErrorDetail } from '../errors'

import type { EventRow, EventType } from '../event'

export type { EventRow, EventType } from '../event'

// What the request adds to each of its events.
export interface RequestContext {
  projectId: number
  receivedAtMs: number
  // received_at - sent_at: the client's clock error, added to every timestamp.
  skewMs: number
  // Idempotency-Key header: event i's id becomes `${key}:${i}` (or the key itself for a single event).
  idempotencyKey: string | null
  single: boolean
}

export type Validated =
  | { ok: true; row: EventRow }
  | { ok: false; errors: ErrorDetail[]; tooLarge?: boolean }

type Limits = Config['limits']

// Earliest and latest timestamps accepted: Postgres takes far more, but a date
// outside these is a unit bug (seconds sent as milliseconds) the client wants to hear about.
const TIMESTAMP_MS_MIN = Date.UTC(1970, 0, 1)
const TIMESTAMP_MS_MAX = Date.UTC(2200, 0, 1)
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$/i

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// Parses an ISO-8601 string with a zone, or epoch milliseconds. Returns NaN when invalid.
export function parseTime(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value) : NaN
  if (typeof value !== 'string' || !ISO_WITH_ZONE.test(value)) return NaN
  return Date.parse(value)
}

function badText(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain NUL (\\u0000) characters'
  if (!s.isWellFormed()) return 'must not contain unpaired UTF-16 surrogates'
  return null
}

function text(
  errors: ErrorDetail[], raw: Record<string, unknown>, key: string, maxChars: number, required: boolean,
): string | null {
  const value = raw[key]
  if (value === undefined || value === null) {
    if (required) errors.push({ path: `/${key}`, message: 'required' })
    return null
  }
  if (typeof value !== 'string') {
    errors.push({ path: `/${key}`, message: `must be a string, got ${jsonType(value)}` })
    return null
  }
  if (value.length === 0 || value.length > maxChars) {
    errors.push({ path: `/${key}`, message: `must be 1 to ${maxChars} characters, got ${value.length}` })
    return null
  }
  const bad = badText(value)
  if (bad) {
    errors.push({ path: `/${key}`, message: bad })
    return null
  }
  return value
}

export function jsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

// Walks a properties/context value once, checking depth, width and strings.
// Stops at the first problem: one clear error beats a thousand similar ones.
function checkJson(value: unknown, path: string, depth: number, limits: Limits): ErrorDetail | null {
  if (typeof value === 'string') {
    const bad = badText(value)
    return bad ? { path, message: bad } : null
  }
  if (typeof value !== 'object' || value === null) return null
  if (depth > limits.JSON_DEPTH_MAX) {
    return { path, message: `nesting is deeper than JSON_DEPTH_MAX (${limits.JSON_DEPTH_MAX})` }
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const e = checkJson(value[i], `${path}/${i}`, depth + 1, limits)
      if (e) return e
    }
    return null
  }
  const keys = Object.keys(value)
  if (keys.length > limits.PROPERTIES_KEYS_MAX) {
    return { path, message: `has ${keys.length} keys, over PROPERTIES_KEYS_MAX (${limits.PROPERTIES_KEYS_MAX})` }
  }
  for (const key of keys) {
    const child = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`
    const bad = badText(key)
    if (bad) return { path: child, message: `key ${bad}` }
    const e = checkJson((value as Record<string, unknown>)[key], child, depth + 1, limits)
    if (e) return e
  }
  return null
}

function object(errors: ErrorDetail[], raw: Record<string, unknown>, key: string, limits: Limits): string {
  const value = raw[key]
  if (value === undefined || value === null) return '{}'
  if (!isObject(value)) {
    errors.push({ path: `/${key}`, message: `must be an object, got ${jsonType(value)}` })
    return '{}'
  }
  const e = checkJson(value, `/${key}`, 1, limits)
  if (e) {
    // Never serialise what failed the check: JSON.stringify of a 100,000-deep
    // object overflows the stack (a 500 instead of a 422).
    errors.push(e)
    return '{}'
  }
  return JSON.stringify(value)
}

// Validates one event of a request. `index` is its position in the batch (0 for single).
export function validateEvent(
  raw: unknown, index: number, type: EventType, req: RequestContext, limits: Limits,
): Validated {
  if (!isObject(raw)) return { ok: false, errors: [{ path: '', message: `must be an object, got ${jsonType(raw)}` }] }
  const errors: ErrorDetail[] = []
  const name = text(errors, raw, 'name', limits.NAME_CHARS_MAX, true)
  let id = text(errors, raw, 'id', limits.ID_CHARS_MAX, false)
  const userId = text(errors, raw, 'user_id', limits.ID_CHARS_MAX, false)
  const anonymousId = text(errors, raw, 'anonymous_id', limits.ID_CHARS_MAX, false)
  const sessionId = text(errors, raw, 'session_id', limits.ID_CHARS_MAX, false)
  const properties = object(errors, raw, 'properties', limits)
  const context = object(errors, raw, 'context', limits)
  let timestampMs = req.receivedAtMs
  if (raw.timestamp !== undefined && raw.timestamp !== null) {
    const t = parseTime(raw.timestamp)
    if (Number.isNaN(t) || t + req.skewMs < TIMESTAMP_MS_MIN || t + req.skewMs > TIMESTAMP_MS_MAX) {
      errors.push({ path: '/timestamp', message: 'must be an ISO-8601 time with a zone, or epoch milliseconds, between 1970 and 2200' })
    } else {
      timestampMs = t + req.skewMs
    }
  }
  if (errors.length > 0) return { ok: false, errors }
  if (id === null && req.idempotencyKey !== null) id = req.single ? req.idempotencyKey : `${req.idempotencyKey}:${index}`
  if (id === null) id = Bun.randomUUIDv7()
  // Bytes as stored; the property bags dominate, the rest is near enough by length.
  const bytes = Buffer.byteLength(properties) + Buffer.byteLength(context) + name!.length + id.length
    + (userId?.length ?? 0) + (anonymousId?.length ?? 0) + (sessionId?.length ?? 0) + 64
  const row: EventRow = {
    projectId: req.projectId, id, type, name: name!, timestampMs, receivedAtMs: req.receivedAtMs,
    userId, anonymousId, sessionId, properties, context, bytes,
  }
  if (bytes > limits.EVENT_BYTES_MAX) {
    return { ok: false, errors: [{ path: '', message: `event is ${bytes} bytes serialised, over EVENT_BYTES_MAX (${limits.EVENT_BYTES_MAX})` }], tooLarge: true }
  }
  return { ok: true, row }
}
