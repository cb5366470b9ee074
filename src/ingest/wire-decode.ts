// The bounded decoding steps the foreign wire formats share (PostHog, Snowplow):
// gzip, base64 and base64url, UTF-8, JSON. Each step holds its output to a byte
// limit the caller passes (no gzip bomb, no base64 blow-up) and reports a problem
// instead of throwing, so a decoder built from them is total.

import { gunzipSync } from 'node:zlib'
import type { ErrorCode } from '../errors'

// What is wrong with a request as a whole: the route answers it with this code's status.
export interface WireProblem {
  code: Extract<ErrorCode, 'malformed_json' | 'payload_too_large'>
  message: string
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; problem: WireProblem }

export const fail = (code: WireProblem['code'], message: string): { ok: false; problem: WireProblem } =>
  ({ ok: false, problem: { code, message } })

const tooLarge = (what: string, limit: number) => fail('payload_too_large', `${what} is over ${limit} bytes decoded`)

const utf8 = new TextDecoder('utf-8', { fatal: true })

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 8
}

// Output capped while inflating: a 10 MB bomb of zeros stops at `limit`, it is never built.
export function gunzipCapped(bytes: Uint8Array, limit: number, what = 'the gzip body'): Decoded<Uint8Array> {
  try {
    return { ok: true, value: gunzipSync(bytes, { maxOutputLength: Math.max(1, limit) }) }
  } catch (cause) {
    if ((cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return tooLarge(what, limit)
    return fail('malformed_json', `${what} is not valid gzip`)
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/
// Senders differ: Snowplow trackers use base64url without padding, older ones standard
// base64; posthog-js standard base64 whose '+' a form decoder may have turned into ' '.
const ANY_BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/

export function looksBase64(text: string, strict = true): boolean {
  return text.length > 0 && (strict ? BASE64.test(text) || BASE64URL.test(text) : ANY_BASE64.test(text))
}

// Base64 or base64url text → bytes; refuses anything else rather than skipping bad
// characters as Buffer.from does, and refuses before decoding what would exceed `limit`.
export function base64Capped(text: string, limit: number, what: string): Decoded<Uint8Array> {
  const clean = text.replaceAll(' ', '+').replace(/[\r\n]/g, '')
  if (!ANY_BASE64.test(clean) || clean.length % 4 === 1) return fail('malformed_json', `${what} is not valid base64`)
  const padding = clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0
  if (Math.floor(((clean.length - padding) * 3) / 4) > limit) return tooLarge(what, limit)
  return { ok: true, value: Buffer.from(clean.replaceAll('-', '+').replaceAll('_', '/'), 'base64') }
}

export function utf8Text(bytes: Uint8Array, what: string): Decoded<string> {
  try {
    return { ok: true, value: utf8.decode(bytes) }
  } catch {
    return fail('malformed_json', `${what} is not valid UTF-8`)
  }
}

export function parseJsonText(text: string, what: string): Decoded<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (cause) {
    const detail = cause instanceof SyntaxError ? `: ${cause.message}` : ''
    return fail('malformed_json', `${what} is not valid JSON${detail}`)
  }
}

export function parseJsonBytes(bytes: Uint8Array, limit: number, what: string): Decoded<unknown> {
  if (bytes.byteLength > limit) return tooLarge(what, limit)
  const text = utf8Text(bytes, what)
  return text.ok ? parseJsonText(text.value, what) : text
}

// A JSON document sent base64-encoded (Snowplow's ue_px/cx, PostHog's data=), decoded and parsed.
export function base64Json(text: string, limit: number, what: string): Decoded<unknown> {
  const bytes = base64Capped(text, limit, what)
  return bytes.ok ? parseJsonBytes(bytes.value, limit, what) : bytes
}
