// Snowplow tracker protocol v2 on the wire → the flat tp2 field maps of its events:
// a POST to /com.snowplowanalytics.snowplow/tp2 carries the self-describing envelope
// `{"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
// "data": [<event>, …]}`; the GET /i pixel carries one event in its query string.
// Also the nested self-describing JSON inside an event (ue_pr / base64url ue_px, the
// event; co / base64url cx, its contexts), decoded with the size held to a limit.

import type { ErrorDetail } from '../errors'
import { isObject, jsonType } from './validate'
import { base64Json, type Decoded, fail, gunzipCapped, isGzip, parseJsonBytes, parseJsonText } from './wire-decode'

export const PAYLOAD_DATA_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-'
export const UNSTRUCT_EVENT_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-'
export const CONTEXTS_SCHEMA = 'iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-'

// The events of a tp2 POST body (a gzip body is inflated first, its output capped at `limit`).
export function decodeSnowplowPost(body: Uint8Array, limit: number): Decoded<unknown[]> {
  let bytes = body
  if (isGzip(bytes)) {
    const inflated = gunzipCapped(bytes, limit)
    if (!inflated.ok) return inflated
    bytes = inflated.value
  }
  const parsed = parseJsonBytes(bytes, limit, 'the body')
  if (!parsed.ok) return parsed
  const envelope = parsed.value
  if (!isObject(envelope)) return fail('malformed_json', `the body must be a payload_data envelope {"schema", "data": [...]}, got ${jsonType(envelope)}`)
  if (typeof envelope.schema !== 'string' || !envelope.schema.startsWith(PAYLOAD_DATA_SCHEMA)) {
    return fail('malformed_json', `schema must be ${PAYLOAD_DATA_SCHEMA}<n>, got ${JSON.stringify(envelope.schema ?? null).slice(0, 200)}`)
  }
  if (!Array.isArray(envelope.data)) return fail('malformed_json', `data must be an array of events, got ${jsonType(envelope.data)}`)
  if (envelope.data.length === 0) return fail('malformed_json', 'the request holds no event')
  return { ok: true, value: envelope.data }
}

// The GET pixel's one event: every query parameter is a tp2 field (the last wins when repeated).
export function snowplowQueryEvent(query: URLSearchParams): Record<string, string> {
  return Object.fromEntries(query)
}

export interface Nested {
  value: unknown
  // Where the client sent it: `/ue_pr` or `/ue_px`, `/co` or `/cx`.
  from: string
}

// A self-describing JSON sent as JSON text (`jsonKey`) or base64url (`b64Key`), checked
// to be the envelope with the expected schema. Problems go to `errors`, under the key sent.
export function selfDescribing(
  errors: ErrorDetail[], raw: Record<string, unknown>, jsonKey: string, b64Key: string, schema: string, limit: number,
): Nested | null {
  const key = raw[jsonKey] !== undefined && raw[jsonKey] !== null && raw[jsonKey] !== '' ? jsonKey : b64Key
  const sent = raw[key]
  if (sent === undefined || sent === null || sent === '') return null
  const from = `/${key}`
  let decoded: Decoded<unknown>
  if (isObject(sent)) decoded = { ok: true, value: sent } // a tracker that sends it already parsed
  else if (typeof sent !== 'string') {
    errors.push({ path: from, message: `must be a string, got ${jsonType(sent)}` })
    return null
  } else if (key === b64Key) decoded = base64Json(sent, limit, key)
  else if (sent.length > limit) decoded = fail('payload_too_large', `${key} is over ${limit} bytes`)
  else decoded = parseJsonText(sent, key)
  if (!decoded.ok) {
    errors.push({ path: from, message: decoded.problem.message })
    return null
  }
  const envelope = decoded.value
  if (!isObject(envelope) || typeof envelope.schema !== 'string' || !envelope.schema.startsWith(schema)) {
    errors.push({ path: `${from}/schema`, message: `must be ${schema}<n>` })
    return null
  }
  return { value: envelope.data, from }
}

// `iglu:com.acme/purchase/jsonschema/1-0-2` → its parts; null when it is not an Iglu URI.
export function igluParts(uri: unknown): { vendor: string; name: string; format: string; version: string } | null {
  if (typeof uri !== 'string') return null
  const m = uri.match(/^iglu:([a-zA-Z0-9_.-]+)\/([a-zA-Z0-9_.-]+)\/([a-zA-Z0-9_.-]+)\/(\d+-\d+-\d+)$/)
  return m ? { vendor: m[1], name: m[2], format: m[3], version: m[4] } : null
}
