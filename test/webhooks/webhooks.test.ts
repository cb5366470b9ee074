// Webhook intake end to end, in-process: a source per scheme, deliveries signed the
// way Stripe, GitHub and a generic HMAC sender sign them, and everything that must
// be refused (401, nothing stored) when the signature is wrong, missing or stale.

import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from 'bun:test'
import { type Scheme, signatureHeaders } from '../../src/ingest/signatures'
import { ADMIN_TOKEN, startInlet, type TestInlet } from '../support/inlet'

// Big bodies and real waits: generous, so a busy machine is slow, not failing.
setDefaultTimeout(30_000)

let inlet: TestInlet
let project: { id: number; api_key: string }
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
const SECRET = 'whsec_test_0123456789abcdef'

beforeAll(async () => {
  inlet = await startInlet()
  project = await inlet.project({ plan: 'enterprise' })
})
afterAll(async () => { await inlet.stop() })

async function source(scheme: Scheme, extra: Record<string, unknown> = {}, secret = SECRET) {
  const r = await inlet.request('POST', `/admin/projects/${project.id}/webhook-sources`, { headers: admin, body: { name: `${scheme} source`, scheme, secret, ...extra } })
  expect(r.status).toBe(201)
  return r.body as { id: number; token: string; url: string }
}

const deliver = (url: string, body: string, headers: Record<string, string>) =>
  inlet.request('POST', url, { raw: body, headers: { 'content-type': 'application/json', ...headers } })

const stored = async (sourceId: number) =>
  Number((await inlet.sql`select count(*) from events where project_id = ${project.id} and (context->'webhook'->>'source_id')::bigint = ${sourceId}`)[0].count)

describe('creating a source', () => {
  test('a source is created with a one-time token and its URL; only the token hash is stored', async () => {
    const s = await source('hmac-sha256')
    expect(s.token).toMatch(/^wh_[0-9A-Za-z]{10}_[0-9A-Za-z]{32}$/)
    expect(s.url).toBe(`/v1/webhooks/${s.token}`)
    const [row] = await inlet.sql`select * from webhook_sources where id = ${s.id}`
    expect(JSON.stringify(row)).not.toContain(s.token)
    expect(row.token_prefix).toBe(s.token.slice(0, 13))
  })

  test('creating a source needs the admin token, an existing project, a known scheme and a 16-character secret', async () => {
    const body = { name: 'x', scheme: 'hmac-sha256', secret: SECRET }
    expect((await inlet.request('POST', `/admin/projects/${project.id}/webhook-sources`, { body })).status).toBe(401)
    expect((await inlet.request('POST', '/admin/projects/999999999/webhook-sources', { headers: admin, body })).status).toBe(404)
    const bad = await inlet.request('POST', `/admin/projects/${project.id}/webhook-sources`, { headers: admin, body: { ...body, scheme: 'md5' } })
    expect([bad.status, bad.body.error.code]).toEqual([422, 'validation_failed'])
    const short = await inlet.request('POST', `/admin/projects/${project.id}/webhook-sources`, { headers: admin, body: { ...body, secret: 'x'.repeat(15) } })
    expect(short.status).toBe(422)
  })

  test('listing a project\'s sources shows neither secrets nor tokens', async () => {
    const s = await source('stripe')
    const r = await inlet.request('GET', `/admin/projects/${project.id}/webhook-sources`, { headers: admin })
    expect(r.status).toBe(200)
    expect(r.body.data.some((x: any) => x.id === s.id && x.scheme === 'stripe')).toBe(true)
    expect(JSON.stringify(r.body)).not.toContain(SECRET)
    expect(JSON.stringify(r.body)).not.toContain(s.token)
  })
})

describe('valid deliveries', () => {
  test('a Stripe-signed delivery is stored as a webhook event named by type, with the payload in properties', async () => {
    const s = await source('stripe')
    const body = JSON.stringify({ id: 'evt_1', type: 'checkout.session.completed', data: { object: { amount_total: 1999 } } })
    const r = await deliver(s.url, body, signatureHeaders('stripe', SECRET, body))
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ id: 'evt_1', status: 'accepted' })
    const [row] = await inlet.sql`select * from events where project_id = ${project.id} and id = ${r.body.id}`
    expect(row).toMatchObject({ type: 'webhook', name: 'checkout.session.completed' })
    expect(row.properties).toEqual(JSON.parse(body))
    expect(row.context).toEqual({ webhook: { source_id: s.id, source: 'stripe source', scheme: 'stripe' } })
    const read = await inlet.request('GET', `/v1/events/${encodeURIComponent(r.body.id)}`, { key: project.api_key })
    expect(read.body).toMatchObject({ type: 'webhook', name: 'checkout.session.completed' })
  })

  test('a Stripe header with several v1 signatures verifies when any one matches', async () => {
    const s = await source('stripe')
    const body = JSON.stringify({ id: 'evt_multi', type: 'invoice.paid' })
    const good = signatureHeaders('stripe', SECRET, body)['stripe-signature']
    const [tPart, v1Part] = good.split(',')
    const header = `${tPart},v1=${'0'.repeat(64)},${v1Part},v0=abc`
    const r = await deliver(s.url, body, { 'stripe-signature': header })
    expect([r.status, r.body.status]).toEqual([200, 'accepted'])
  })

  test('a GitHub-signed delivery is named and identified by X-GitHub-Event and X-GitHub-Delivery', async () => {
    const s = await source('github')
    const body = JSON.stringify({ action: 'opened', number: 7 })
    const headers = { ...signatureHeaders('github', SECRET, body), 'x-github-event': 'pull_request', 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' }
    const r = await deliver(s.url, body, headers)
    expect(r.body).toEqual({ id: '72d3162e-cc78-11e3-81ab-4c9367dc0958', status: 'accepted' })
    const [row] = await inlet.sql`select name, properties from events where project_id = ${project.id} and id = ${r.body.id}`
    expect(row).toEqual({ name: 'pull_request', properties: { action: 'opened', number: 7 } })
  })

  test('an HMAC-signed delivery takes its name and id from the configured JSON paths', async () => {
    const s = await source('hmac-sha256', { name_path: 'event.kind', id_path: 'event.uuid' })
    const body = JSON.stringify({ event: { kind: 'feedback.received', uuid: 'f-42' }, score: 9 })
    const r = await deliver(s.url, body, signatureHeaders('hmac-sha256', SECRET, body))
    expect(r.body).toEqual({ id: 'f-42', status: 'accepted' })
    const [row] = await inlet.sql`select name from events where project_id = ${project.id} and id = ${r.body.id}`
    expect(row.name).toBe('feedback.received')
  })

  test('a redelivery of the same event answers duplicate and stores one row', async () => {
    const s = await source('stripe')
    const body = JSON.stringify({ id: 'evt_again', type: 'charge.succeeded' })
    const first = await deliver(s.url, body, signatureHeaders('stripe', SECRET, body))
    // Stripe signs each attempt afresh: a later timestamp, same event.
    const second = await deliver(s.url, body, signatureHeaders('stripe', SECRET, body, Date.now() + 60_000))
    expect([first.body.status, second.body.status]).toEqual(['accepted', 'duplicate'])
    expect(await stored(s.id)).toBe(1)
  })

  test('a payload without an id is identified by its hash, so a byte-identical redelivery is a duplicate', async () => {
    const s = await source('hmac-sha256')
    const body = JSON.stringify({ type: 'ping' })
    const a = await deliver(s.url, body, signatureHeaders('hmac-sha256', SECRET, body))
    const b = await deliver(s.url, body, signatureHeaders('hmac-sha256', SECRET, body))
    expect(a.body.id).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect([a.body.status, b.body.status]).toEqual(['accepted', 'duplicate'])
  })

  test('an event id is the project\'s (API.md): the same id from a second source of the project is a duplicate', async () => {
    const a = await source('hmac-sha256')
    const b = await source('hmac-sha256')
    const body = JSON.stringify({ id: 'shared-1', type: 'order.created' })
    const ra = await deliver(a.url, body, signatureHeaders('hmac-sha256', SECRET, body))
    const rb = await deliver(b.url, body, signatureHeaders('hmac-sha256', SECRET, body))
    expect([ra.body, rb.body]).toEqual([{ id: 'shared-1', status: 'accepted' }, { id: 'shared-1', status: 'duplicate' }])
    expect(await stored(a.id) + await stored(b.id)).toBe(1)
  })

  test('a delivery carries the project\'s RateLimit headers', async () => {
    const s = await source('hmac-sha256')
    const body = JSON.stringify({ id: 'rl', type: 'x' })
    const r = await deliver(s.url, body, signatureHeaders('hmac-sha256', SECRET, body))
    expect(r.headers.get('ratelimit-limit')).toBe('10000')
    expect(Number(r.headers.get('ratelimit-remaining'))).toBeGreaterThan(0)
  })
})

describe('refused deliveries store nothing', () => {
  const cases: [string, Scheme, (body: string) => { body: string; headers: Record<string, string> }][] = [
    ['a tampered body (Stripe)', 'stripe', body => ({ body: body.replace('100', '999'), headers: signatureHeaders('stripe', SECRET, body) })],
    ['a tampered body (GitHub)', 'github', body => ({ body: body + ' ', headers: signatureHeaders('github', SECRET, body) })],
    ['a tampered body (HMAC)', 'hmac-sha256', body => ({ body: body.replace('"a"', '"b"'), headers: signatureHeaders('hmac-sha256', SECRET, body) })],
    ['a wrong secret (Stripe)', 'stripe', body => ({ body, headers: signatureHeaders('stripe', 'whsec_wrong_secret_000000', body) })],
    ['a wrong secret (GitHub)', 'github', body => ({ body, headers: signatureHeaders('github', 'wrong_secret_0000000000', body) })],
    ['a wrong secret (HMAC)', 'hmac-sha256', body => ({ body, headers: signatureHeaders('hmac-sha256', 'wrong_secret_0000000000', body) })],
    ['a stale timestamp, 301 s old (Stripe)', 'stripe', body => ({ body, headers: signatureHeaders('stripe', SECRET, body, Date.now() - 301_000) })],
    ['a timestamp 301 s in the future (Stripe)', 'stripe', body => ({ body, headers: signatureHeaders('stripe', SECRET, body, Date.now() + 301_000) })],
    ['a missing signature (Stripe)', 'stripe', body => ({ body, headers: {} })],
    ['a missing signature (GitHub)', 'github', body => ({ body, headers: {} })],
    ['a missing signature (HMAC)', 'hmac-sha256', body => ({ body, headers: {} })],
    ['a signature header without sha256= (HMAC)', 'hmac-sha256', body => ({ body, headers: { 'x-signature': signatureHeaders('hmac-sha256', SECRET, body)['x-signature'].slice(7) } })],
    ['a Stripe header without t=', 'stripe', body => ({ body, headers: { 'stripe-signature': signatureHeaders('stripe', SECRET, body)['stripe-signature'].replace(/^t=\d+,/, '') } })],
    ['another scheme\'s header (GitHub header to an HMAC source)', 'hmac-sha256', body => ({ body, headers: signatureHeaders('github', SECRET, body) })],
  ]
  for (const [what, scheme, make] of cases) {
    test(`${what} answers 401 unauthorized and stores nothing`, async () => {
      const s = await source(scheme)
      const original = JSON.stringify({ id: 'evt_bad', type: 'a', amount: 100 })
      const { body, headers } = make(original)
      const r = await deliver(s.url, body, { 'x-github-event': 'push', 'x-github-delivery': 'd-1', ...headers })
      expect([r.status, r.body.error.code]).toEqual([401, 'unauthorized'])
      expect(typeof r.body.error.message).toBe('string')
      expect(await stored(s.id)).toBe(0)
    })
  }

  test('a timestamp 299 s old is still inside the Stripe tolerance', async () => {
    const s = await source('stripe')
    const body = JSON.stringify({ id: 'evt_edge', type: 'a' })
    const r = await deliver(s.url, body, signatureHeaders('stripe', SECRET, body, Date.now() - 299_000))
    expect(r.status).toBe(200)
  })

  test('an unknown token answers 404 not_found', async () => {
    const body = JSON.stringify({ id: 'x', type: 'a' })
    const r = await deliver('/v1/webhooks/wh_unknown0000_00000000000000000000000000000000', body, signatureHeaders('hmac-sha256', SECRET, body))
    expect([r.status, r.body.error.code]).toEqual([404, 'not_found'])
  })

  test('a validly signed payload that is not a JSON object answers 400 and stores nothing', async () => {
    const s = await source('hmac-sha256')
    for (const body of ['[1,2]', '{"id": ', '"text"']) {
      const r = await deliver(s.url, body, signatureHeaders('hmac-sha256', SECRET, body))
      expect([r.status, r.body.error.code]).toEqual([400, 'malformed_json'])
    }
    expect(await stored(s.id)).toBe(0)
  })

  test('a validly signed payload without a name at its path answers 422 and stores nothing', async () => {
    const s = await source('hmac-sha256', { name_path: 'meta.event' })
    const body = JSON.stringify({ id: 'n1', meta: {} })
    const r = await deliver(s.url, body, signatureHeaders('hmac-sha256', SECRET, body))
    expect([r.status, r.body.error.code, r.body.error.details[0].path]).toEqual([422, 'validation_failed', '/meta/event'])
    expect(await stored(s.id)).toBe(0)
  })

  test('a signed payload with a NUL character is refused before it reaches Postgres', async () => {
    const s = await source('hmac-sha256')
    const body = '{"id":"nul","type":"a","note":"x\\u0000y"}'
    const r = await deliver(s.url, body, signatureHeaders('hmac-sha256', SECRET, body))
    expect([r.status, r.body.error.details[0].path]).toEqual([422, '/properties/note'])
  })
})

describe('limits', () => {
  test('deliveries spend from the owning project\'s rate limit, checked before the body is read or verified', async () => {
    const small = await inlet.project({ rate_limit_rpm: 2 })
    const r = await inlet.request('POST', `/admin/projects/${small.id}/webhook-sources`, { headers: admin, body: { name: 'limited', scheme: 'hmac-sha256', secret: SECRET } })
    const body = (id: string) => JSON.stringify({ id, type: 'x' })
    expect((await deliver(r.body.url, body('1'), signatureHeaders('hmac-sha256', SECRET, body('1')))).status).toBe(200)
    // The project's API calls share the bucket.
    expect((await inlet.request('GET', '/v1/events?limit=1', { key: small.api_key })).status).toBe(200)
    // Unsigned and not even JSON: still a 429, since the limit comes first.
    const limited = await deliver(r.body.url, 'junk', {})
    expect([limited.status, limited.body.error.code, limited.headers.get('retry-after'), limited.headers.get('ratelimit-limit')]).toEqual([429, 'rate_limited', '30', '2'])
    const rows = await inlet.sql`select count(*) from events where project_id = ${small.id}`
    expect(Number(rows[0].count)).toBe(1)
  })

  test('a gzip delivery is verified over its decoded bytes, and a gzip bomb answers 413', async () => {
    const s = await source('hmac-sha256')
    const body = JSON.stringify({ id: 'gz', type: 'compressed' })
    const r = await deliver(s.url, Bun.gzipSync(Buffer.from(body)) as unknown as string, { ...signatureHeaders('hmac-sha256', SECRET, body), 'content-encoding': 'gzip' })
    expect([r.status, r.body.status]).toEqual([200, 'accepted'])
    const bomb = Bun.gzipSync(new Uint8Array(64 * 1024 * 1024).fill(0x20), { level: 9 })
    const b = await deliver(s.url, bomb as unknown as string, { ...signatureHeaders('hmac-sha256', SECRET, 'x'), 'content-encoding': 'gzip' })
    expect([b.status, b.body.error.code]).toEqual([413, 'payload_too_large'])
  })

  test('an over-long token answers 404 without a lookup', async () => {
    const r = await deliver(`/v1/webhooks/${'w'.repeat(129)}`, '{}', {})
    expect([r.status, r.body.error.code]).toEqual([404, 'not_found'])
  })
})

describe('secret rotation', () => {
  test('after a rotation both secrets verify during the overlap, and the old one stops after it', async () => {
    const s = await source('stripe')
    const NEW = 'whsec_rotated_secret_000001'
    const r = await inlet.request('POST', `/admin/webhook-sources/${s.id}/rotate`, { headers: admin, body: { secret: NEW, overlap_s: 6 } })
    expect(r.status).toBe(200)
    expect(Date.parse(r.body.previous_expires_at)).toBeGreaterThan(Date.now())
    // The source cache lives KEY_CACHE_TTL_MS (2 s): poll until the new secret is seen.
    const send = (secret: string, id: string) => {
      const body = JSON.stringify({ id, type: 'rotated' })
      return deliver(s.url, body, signatureHeaders('stripe', secret, body))
    }
    let n = 0
    const deadline = Date.now() + 5_000
    while ((await send(NEW, `probe${n++}`)).status !== 200) {
      expect(Date.now()).toBeLessThan(deadline)
      await Bun.sleep(100)
    }
    const old = await send(SECRET, 'old-during-overlap')
    expect([old.status, old.body.status]).toEqual([200, 'accepted'])
    // After the overlap the old secret is refused; the new one still works.
    await Bun.sleep(Math.max(0, Date.parse(r.body.previous_expires_at) - Date.now()) + 200)
    const late = await send(SECRET, 'old-after-overlap')
    expect([late.status, late.body.error.code]).toEqual([401, 'unauthorized'])
    expect((await send(NEW, 'new-after-overlap')).status).toBe(200)
  }, 30_000)

  test('rotating needs the admin token and a known source', async () => {
    const s = await source('github')
    expect((await inlet.request('POST', `/admin/webhook-sources/${s.id}/rotate`, { body: { secret: SECRET } })).status).toBe(401)
    expect((await inlet.request('POST', '/admin/webhook-sources/999999999/rotate', { headers: admin, body: { secret: SECRET } })).status).toBe(404)
    expect((await inlet.request('POST', `/admin/webhook-sources/${s.id}/rotate`, { headers: admin, body: { secret: 'short' } })).status).toBe(422)
  })
})
