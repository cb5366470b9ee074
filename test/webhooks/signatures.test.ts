// The signature schemes on their own, against vectors computed elsewhere (GitHub's
// documented example; openssl for Stripe's `t.body`), and the edges of each header
// format. The end-to-end behaviour is in webhooks.test.ts.

import { describe, expect, test } from 'bun:test'
import { signatureHeaders, verifySignature } from '../../src/ingest/signatures'

const h = (o: Record<string, string>) => new Headers(o)
const bytes = (s: string) => Buffer.from(s)

describe('github', () => {
  // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
  const secret = "It's a Secret to Everybody"
  const signature = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17'

  test('GitHub\'s documented example verifies', () => {
    expect(verifySignature('github', [secret], h({ 'x-hub-signature-256': signature }), bytes('Hello, World!'), 0, 300)).toEqual({ ok: true })
    expect(signatureHeaders('github', secret, 'Hello, World!')['x-hub-signature-256']).toBe(signature)
  })

  test('one changed byte, a different secret, or an upper-case hex digit changed fails', () => {
    expect(verifySignature('github', [secret], h({ 'x-hub-signature-256': signature }), bytes('Hello, World?'), 0, 300).ok).toBe(false)
    expect(verifySignature('github', ['another'], h({ 'x-hub-signature-256': signature }), bytes('Hello, World!'), 0, 300).ok).toBe(false)
    expect(verifySignature('github', [secret], h({ 'x-hub-signature-256': signature.replace('7571', '7572') }), bytes('Hello, World!'), 0, 300).ok).toBe(false)
  })

  test('a truncated, over-long or non-hex signature fails without throwing', () => {
    for (const bad of [signature.slice(0, -2), signature + '00', 'sha256=' + 'z'.repeat(64), 'sha1=757107ea', '']) {
      expect(verifySignature('github', [secret], h({ 'x-hub-signature-256': bad }), bytes('Hello, World!'), 0, 300).ok).toBe(false)
    }
  })
})

describe('stripe', () => {
  const secret = 'whsec_test_secret'
  const body = '{"id":"evt_1","type":"charge.succeeded"}'
  const t = 1_700_000_000
  // printf '%s' "1700000000.$body" | openssl dgst -sha256 -hmac whsec_test_secret
  const v1 = 'c0475716eb2200f1fe97fcf35a3c05d1fd4f8ba9a07a596730c8d18bb87c0672'
  const at = (seconds: number) => (t + seconds) * 1000

  test('a signature computed by openssl over `t.body` verifies at t and within the tolerance', () => {
    const header = h({ 'stripe-signature': `t=${t},v1=${v1}` })
    expect(verifySignature('stripe', [secret], header, bytes(body), at(0), 300)).toEqual({ ok: true })
    expect(verifySignature('stripe', [secret], header, bytes(body), at(300), 300)).toEqual({ ok: true })
    expect(verifySignature('stripe', [secret], header, bytes(body), at(-300), 300)).toEqual({ ok: true })
  })

  test('one second past the tolerance either way is refused as stale', () => {
    const header = h({ 'stripe-signature': `t=${t},v1=${v1}` })
    const late = verifySignature('stripe', [secret], header, bytes(body), at(301), 300)
    expect(late.ok).toBe(false)
    expect(!late.ok && late.reason).toContain('300 s')
    expect(verifySignature('stripe', [secret], header, bytes(body), at(-301), 300).ok).toBe(false)
  })

  test('the timestamp is signed: moving t to a fresh time breaks the signature', () => {
    const header = h({ 'stripe-signature': `t=${t + 3600},v1=${v1}` })
    expect(verifySignature('stripe', [secret], header, bytes(body), at(3600), 300).ok).toBe(false)
  })

  test('spaces, extra schemes and several v1 entries are tolerated; v0 alone is not enough', () => {
    const ok = h({ 'stripe-signature': ` t=${t} , v0=${v1}, v1=${'ab'.repeat(32)}, v1=${v1} ` })
    expect(verifySignature('stripe', [secret], ok, bytes(body), at(0), 300).ok).toBe(true)
    const v0only = h({ 'stripe-signature': `t=${t},v0=${v1}` })
    expect(verifySignature('stripe', [secret], v0only, bytes(body), at(0), 300).ok).toBe(false)
  })

  test('a header without t=, with a non-numeric t, or without any v1 is refused', () => {
    for (const bad of [`v1=${v1}`, `t=abc,v1=${v1}`, `t=${t}`, `t=${t},v1=`, '', ',,,', '=']) {
      expect(verifySignature('stripe', [secret], h({ 'stripe-signature': bad }), bytes(body), at(0), 300).ok).toBe(false)
    }
  })
})

describe('hmac-sha256 and rotation', () => {
  test('X-Signature: sha256=<hex> over the raw body verifies; the bare hex without sha256= does not', () => {
    const { 'x-signature': sig } = signatureHeaders('hmac-sha256', 'generic-secret-0001', '{"a":1}')
    expect(verifySignature('hmac-sha256', ['generic-secret-0001'], h({ 'x-signature': sig }), bytes('{"a":1}'), 0, 300).ok).toBe(true)
    expect(verifySignature('hmac-sha256', ['generic-secret-0001'], h({ 'x-signature': sig.slice(7) }), bytes('{"a":1}'), 0, 300).ok).toBe(false)
  })

  test('the raw bytes are what is verified: the same JSON re-serialised differently fails', () => {
    const { 'x-signature': sig } = signatureHeaders('hmac-sha256', 'generic-secret-0001', '{"a": 1}')
    expect(verifySignature('hmac-sha256', ['generic-secret-0001'], h({ 'x-signature': sig }), bytes('{"a":1}'), 0, 300).ok).toBe(false)
  })

  test('with two live secrets a delivery signed with either verifies, and one signed with neither does not', () => {
    const live = ['new-secret-0000001', 'old-secret-0000001']
    for (const secret of live) {
      const headers = h(signatureHeaders('stripe', secret, '{}', at0()))
      expect(verifySignature('stripe', live, headers, bytes('{}'), at0(), 300).ok).toBe(true)
    }
    const other = h(signatureHeaders('stripe', 'third-secret-000001', '{}', at0()))
    expect(verifySignature('stripe', live, other, bytes('{}'), at0(), 300).ok).toBe(false)
  })
})

function at0() {
  return 1_800_000_000_000
}
