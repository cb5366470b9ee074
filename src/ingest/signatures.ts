// Webhook signatures: is this body, byte for byte, what the holder of the secret
// sent? Checked over the raw bytes before anything parses them, in constant time
// (crypto.timingSafeEqual on fixed-length digests), against every live secret
// (two during a rotation), with a timestamp tolerance where the scheme signs one.
//
//   stripe       Stripe-Signature: t=<unix s>,v1=<hex>[,v1=<hex>…]   HMAC-SHA256 of `${t}.${body}`
//   github       X-Hub-Signature-256: sha256=<hex>                   HMAC-SHA256 of the body
//   hmac-sha256  X-Signature: sha256=<hex>                           HMAC-SHA256 of the body

import { createHmac, timingSafeEqual } from 'node:crypto'

export const SCHEMES = ['stripe', 'github', 'hmac-sha256'] as const
export type Scheme = (typeof SCHEMES)[number]

export type Verification = { ok: true } | { ok: false; reason: string }

const HEX_SHA256 = /^[0-9a-f]{64}$/i
// A Stripe header lists a v1 per live secret of the sender (two during its own
// rotation); more than this is not a real sender and only costs comparisons.
const STRIPE_SIGNATURES_MAX = 8

export function hmacSha256(secret: string, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', secret)
  for (const p of parts) h.update(p)
  return h.digest()
}

// Whether any given hex signature equals any expected digest. Every pair is
// compared, with no early exit, so the time taken does not say which matched or
// how close a wrong one came; only the (public) number of candidates shows.
function anyMatches(expected: Buffer[], given: string[]): boolean {
  let ok = false
  for (const hex of given) {
    if (!HEX_SHA256.test(hex)) continue
    const candidate = Buffer.from(hex, 'hex')
    for (const digest of expected) ok = timingSafeEqual(digest, candidate) || ok
  }
  return ok
}

// `sha256=<hex>`, the GitHub and generic form.
function prefixedHex(header: string | null): string | null {
  if (header === null) return null
  const m = /^\s*sha256=([0-9a-f]+)\s*$/i.exec(header)
  return m ? m[1] : null
}

function verifyStripe(secrets: string[], header: string | null, body: Uint8Array, nowMs: number, toleranceS: number): Verification {
  if (header === null) return { ok: false, reason: 'the Stripe-Signature header is missing' }
  let t: string | undefined
  const v1: string[] = []
  for (const item of header.split(',')) {
    const at = item.indexOf('=')
    const k = item.slice(0, at).trim()
    const v = item.slice(at + 1).trim()
    if (k === 't' && t === undefined) t = v
    else if (k === 'v1' && v1.length < STRIPE_SIGNATURES_MAX) v1.push(v)
  }
  if (t === undefined || !/^\d{1,12}$/.test(t) || v1.length === 0) {
    return { ok: false, reason: 'the Stripe-Signature header has no t= timestamp or no v1= signature' }
  }
  // Both directions: a timestamp far in the future is as suspect as a stale one.
  if (Math.abs(nowMs / 1000 - Number(t)) > toleranceS) {
    return { ok: false, reason: `the Stripe-Signature timestamp is more than ${toleranceS} s from now (a stale or replayed delivery)` }
  }
  const signed = Buffer.from(`${t}.`)
  const expected = secrets.map(s => hmacSha256(s, signed, body))
  return anyMatches(expected, v1) ? { ok: true } : { ok: false, reason: 'no v1 signature in Stripe-Signature matches the body' }
}

function verifyPlain(secrets: string[], header: string | null, headerName: string, body: Uint8Array): Verification {
  const hex = prefixedHex(header)
  if (hex === null) return { ok: false, reason: `the ${headerName} header is missing or not sha256=<hex>` }
  const expected = secrets.map(s => hmacSha256(s, body))
  return anyMatches(expected, [hex]) ? { ok: true } : { ok: false, reason: `the ${headerName} signature does not match the body` }
}

// `secrets`: the live secrets of the source, current first. Never empty.
export function verifySignature(
  scheme: Scheme, secrets: string[], headers: Headers, body: Uint8Array, nowMs: number, toleranceS: number,
): Verification {
  switch (scheme) {
    case 'stripe': return verifyStripe(secrets, headers.get('stripe-signature'), body, nowMs, toleranceS)
    case 'github': return verifyPlain(secrets, headers.get('x-hub-signature-256'), 'X-Hub-Signature-256', body)
    case 'hmac-sha256': return verifyPlain(secrets, headers.get('x-signature'), 'X-Signature', body)
  }
}

// What a sender puts in its headers: used by tests, the bench, and the README's curl examples.
export function signatureHeaders(scheme: Scheme, secret: string, body: Uint8Array | string, nowMs = Date.now()): Record<string, string> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  if (scheme === 'stripe') {
    const t = String(Math.floor(nowMs / 1000))
    return { 'stripe-signature': `t=${t},v1=${hmacSha256(secret, Buffer.from(`${t}.`), bytes).toString('hex')}` }
  }
  const value = `sha256=${hmacSha256(secret, bytes).toString('hex')}`
  return scheme === 'github' ? { 'x-hub-signature-256': value } : { 'x-signature': value }
}
