// A PostHog capture request → its JSON payload, the way PostHog's capture
// (rust/capture payload/common.rs, decompression.rs) reads one: the payload may be
// the body or a `data=` query parameter; the body may be gzip (Content-Encoding, a
// `compression=gzip|gzip-js` hint, or just the gzip magic bytes: posthog-js sends
// gzip as text/plain with no hint at all), a form whose `data` field is base64
// (`compression=base64`, older browsers and sendBeacon), or whole-body base64.
// Then the payload is split into its events, its project key and its sent_at.

import { base64Capped, type Decoded, fail, gunzipCapped, isGzip, looksBase64, parseJsonBytes } from './wire-decode'

export interface PosthogWire {
  method: string
  contentType: string | null
  contentEncoding: string | null
  query: URLSearchParams
  // The body as read from the socket (a Content-Encoding: gzip body may already be inflated).
  body: Uint8Array
}

export type Compression = 'gzip' | 'base64' | 'lz64' | 'none'

function hint(value: string | null | undefined): Compression | null {
  const v = value?.trim().toLowerCase()
  if (v === 'gzip' || v === 'gzip-js') return 'gzip'
  if (v === 'base64' || v === 'b64') return 'base64'
  if (v === 'lz64' || v === 'lz-string') return 'lz64'
  return null
}

const text = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
const isForm = (contentType: string | null) => (contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')

// The payload bytes and the compression they are in, before inflating or parsing.
function unwrap(wire: PosthogWire, limit: number): Decoded<{ bytes: Uint8Array; compression: Compression }> {
  const queryData = wire.query.get('data')
  // A query decoder turns base64's '+' into ' ' when the sender did not escape it.
  let bytes: Uint8Array = queryData ? Buffer.from(queryData.replaceAll(' ', '+'), 'latin1') : wire.body
  if (bytes.byteLength === 0) return fail('malformed_json', 'the request holds no payload (no body and no data= parameter)')
  let compression = hint(wire.query.get('compression'))
  const encoding = wire.contentEncoding?.trim().toLowerCase()
  if ((encoding === 'gzip' || encoding === 'x-gzip') && isGzip(bytes)) {
    const inflated = gunzipCapped(bytes, limit, 'the gzip body')
    if (!inflated.ok) return inflated
    bytes = inflated.value
  }
  // Whole-payload base64 (capture's "optimistic" first step); JSON and gzip never look like it.
  const raw = text(bytes)
  if (!isForm(wire.contentType) && !isGzip(bytes) && looksBase64(raw) && raw.length % 4 !== 1) {
    const decoded = base64Capped(raw, limit, 'the base64 payload')
    if (!decoded.ok) return decoded
    bytes = decoded.value
    // A base64 hint names this very layer (`GET /e/?data=<base64>&compression=base64`): it is decoded now.
    if (compression === 'base64') compression = null
  } else if (isForm(wire.contentType) && !queryData) {
    const form = new URLSearchParams(raw)
    compression = hint(form.get('compression')) ?? compression
    const data = form.get('data')
    if (data === null) return fail('malformed_json', 'the form body has no data field')
    // A form decoder turns base64's '+' into ' '; base64Capped puts them back.
    if (compression === null && looksBase64(data.replaceAll(' ', '+'), false)) compression = 'base64'
    bytes = Buffer.from(data, 'latin1')
  }
  if (compression === null) compression = isGzip(bytes) ? 'gzip' : 'none'
  return { ok: true, value: { bytes, compression } }
}

// The JSON payload of a capture request, every decoding step held to `limit` bytes.
export function decodePosthog(wire: PosthogWire, limit: number): Decoded<{ payload: unknown; compression: Compression }> {
  const unwrapped = unwrap(wire, limit)
  if (!unwrapped.ok) return unwrapped
  let { bytes, compression } = unwrapped.value
  if (compression === 'lz64') return fail('malformed_json', 'compression=lz64 is not supported; posthog-js sends gzip-js or base64 when the server offers only those')
  if (compression === 'gzip' || isGzip(bytes)) {
    const inflated = gunzipCapped(bytes, limit, 'the gzip payload')
    if (!inflated.ok) return inflated
    bytes = inflated.value
  } else if (compression === 'base64') {
    const decoded = base64Capped(text(bytes), limit, 'the base64 payload')
    if (!decoded.ok) return decoded
    bytes = decoded.value
  }
  const parsed = parseJsonBytes(bytes, limit, 'the payload')
  return parsed.ok ? { ok: true, value: { payload: parsed.value, compression } } : parsed
}
