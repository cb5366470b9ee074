// The Snowplow collector in-process: collector tokens through the admin API (shown
// once, hashed, listed without the token, revoked), the recorded tracker requests
// replayed byte for byte (POST envelopes and GET pixels, base64 and plain),
// partial success, the statuses trackers do and do not retry, limits on both sides
// and CORS with credentials.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { gzipSync } from 'node:zlib'
import { ADMIN_TOKEN, startInlet, type TestInlet } from '../support/inlet'
import { bodyOf, fixtures, type FixtureRequest } from '../wire/fixtures'

setDefaultTimeout(30_000)

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
const ORIGIN = 'http://127.0.0.1:5999'
const TP2 = '/com.snowplowanalytics.snowplow/tp2'
const SCHEMA = 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4'

let inlet: TestInlet
// A revocation must be seen at once here, not within the default 2 s.
beforeAll(async () => { inlet = await startInlet({ KEY_CACHE_TTL_MS: '0' }) })
afterAll(async () => { await inlet.stop() })

async function collector(projectId: number, via = inlet) {
  const r = await via.request('POST', `/admin/projects/${projectId}/collector-tokens`, { headers: admin, body: { name: 'web' } })
  expect(r.status).toBe(201)
  return r.body as { id: number; token: string; prefix: string; snowplow_collector: string }
}

const rows = async (projectId: number) => await inlet.sql`
  select id, type, name, user_id, anonymous_id, session_id, properties, context from events where project_id = ${projectId} order by id`

const postEvents = (url: string, data: unknown[], headers: Record<string, string> = {}, via = inlet) =>
  via.request('POST', `${url}${TP2}`, { body: { schema: SCHEMA, data }, headers: { 'content-type': 'application/json; charset=UTF-8', ...headers } })

const se = (eid: string, extra: Record<string, string> = {}) => ({ e: 'se', eid, se_ca: 'checkout', se_ac: 'pay', dtm: String(Date.now()), p: 'web', tv: 'js-test', ...extra })

describe('collector tokens', () => {
  test('a token is created with its collector URL and shown once; only its hash and prefix are stored', async () => {
    const { id } = await inlet.project()
    const c = await collector(id)
    expect(c.token).toMatch(/^ct_[0-9A-Za-z]{10}_[0-9A-Za-z]{32}$/)
    expect(c.prefix).toBe(c.token.slice(0, 13))
    expect(c.snowplow_collector).toBe(`/v1/snowplow/${c.token}`)
    const [row] = await inlet.sql`select * from collector_tokens where id = ${c.id}`
    expect(JSON.stringify(row)).not.toContain(c.token)
    const list = await inlet.request('GET', `/admin/projects/${id}/collector-tokens`, { headers: admin })
    expect(list.body.data).toEqual([{ id: c.id, name: 'web', prefix: c.prefix, created_at: expect.any(String), revoked_at: null }])
    expect(JSON.stringify(list.body)).not.toContain(c.token)
  })

  test('managing tokens needs the admin token, an existing project and a name', async () => {
    const { id } = await inlet.project()
    expect((await inlet.request('POST', `/admin/projects/${id}/collector-tokens`, { body: { name: 'x' } })).status).toBe(401)
    expect((await inlet.request('POST', '/admin/projects/999999999/collector-tokens', { headers: admin, body: { name: 'x' } })).status).toBe(404)
    expect((await inlet.request('POST', `/admin/projects/${id}/collector-tokens`, { headers: admin, body: { name: '' } })).status).toBe(422)
    expect((await inlet.request('GET', '/admin/projects/999999999/collector-tokens', { headers: admin })).status).toBe(404)
    expect((await inlet.request('DELETE', '/admin/collector-tokens/ct_nope', { headers: admin })).status).toBe(404)
  })

  test('a revoked token\'s URL answers 401 (which trackers never retry) and stores nothing; an unknown one too', async () => {
    const { id } = await inlet.project()
    const c = await collector(id)
    expect((await postEvents(c.snowplow_collector, [se('sp-rv1')])).status).toBe(200)
    const revoked = await inlet.request('DELETE', `/admin/collector-tokens/${c.prefix}`, { headers: admin })
    expect(revoked.body).toMatchObject({ id: c.id, prefix: c.prefix, revoked_at: expect.any(String) })
    const after = await postEvents(c.snowplow_collector, [se('sp-rv2')])
    expect([after.status, after.body.error.code]).toEqual([401, 'unauthorized'])
    expect((await inlet.request('GET', `${c.snowplow_collector}/i?e=pv&eid=sp-rv3`)).status).toBe(401)
    expect((await postEvents('/v1/snowplow/ct_unknown_token', [se('sp-rv4')])).status).toBe(401)
    expect((await rows(id)).map(r => r.id)).toEqual(['sp-rv1'])
  })
})

// A recorded request sent again to this collector URL, as the tracker sent it.
const replay = (r: FixtureRequest, url: string) => inlet.request(r.method, `${url}${r.method === 'GET' ? '/i' : TP2}${r.query ? `?${r.query}` : ''}`, {
  raw: r.method === 'POST' ? bodyOf(r) : undefined,
  headers: Object.fromEntries(Object.entries(r.headers).filter(([k]) => ['content-type', 'content-encoding', 'origin'].includes(k))),
})

describe('recorded tracker requests, replayed', () => {
  for (const f of [...fixtures('snowplow-node'), ...fixtures('snowplow-browser')]) {
    test(`${f.sdk}/${f.scenario}: every request is answered as the tracker expects and every event stored once by its eid`, async () => {
      const { id } = await inlet.project()
      const c = await collector(id)
      const sent: Record<string, string>[] = []
      for (const r of f.requests.filter(x => x.method !== 'OPTIONS')) {
        const answer = await replay(r, c.snowplow_collector)
        expect(answer.status).toBe(200)
        if (r.method === 'GET') {
          expect([answer.headers.get('content-type'), answer.headers.get('cache-control')]).toEqual(['image/gif', 'no-cache, no-store, must-revalidate'])
          sent.push(Object.fromEntries(new URLSearchParams(r.query)))
        } else {
          expect(answer.body).toMatchObject({ status: 'ok', rejected: 0 })
          sent.push(...(r.decoded!.json as { data: Record<string, string>[] }).data)
        }
      }
      const stored = await rows(id)
      // The recorded retry (retry-503) sends the same eids again: stored once.
      expect(stored.map(r => r.id).sort()).toEqual([...new Set(sent.map(e => e.eid))].sort())
      for (const row of stored) {
        const e = sent.find(x => x.eid === row.id)!
        expect(row.user_id).toBe(e.uid ?? null)
        expect(row.session_id).toBe(e.sid ?? null)
        expect(row.type).toBe(e.e === 'pv' ? 'page' : 'track')
        expect(row.context.tp2.aid).toBe(e.aid)
      }
    })
  }
})

describe('answers', () => {
  test('some invalid events: 200 with their errors at their tp2 paths; every event invalid: 422 (not retried); not an envelope: 400', async () => {
    const { id } = await inlet.project()
    const c = await collector(id)
    const mixed = await postEvents(c.snowplow_collector, [se('sp-a1'), { e: 'se', eid: 'sp-a2', se_ca: 'checkout' }])
    expect(mixed.status).toBe(200)
    expect(mixed.body).toMatchObject({ status: 'ok', accepted: 1, rejected: 1 })
    expect(mixed.body.results[1].errors).toContainEqual({ path: '/se_ac', message: 'required' })
    const none = await postEvents(c.snowplow_collector, [{ e: 'zz', eid: 'sp-a3' }])
    expect([none.status, none.body.error.code]).toEqual([422, 'validation_failed'])
    const notEnvelope = await inlet.request('POST', `${c.snowplow_collector}${TP2}`, { body: { data: [se('sp-a4')] } })
    expect([notEnvelope.status, notEnvelope.body.error.code]).toEqual([400, 'malformed_json'])
    const pixel = await inlet.request('GET', `${c.snowplow_collector}/i?e=se&eid=sp-a5&se_ca=checkout`)
    expect(pixel.status).toBe(422)
    expect((await rows(id)).map(r => r.id)).toEqual(['sp-a1'])
  })

  test('a refused event is in the project\'s rejection log under its eid, with the token left out of the route', async () => {
    const project = await inlet.project()
    const c = await collector(project.id)
    expect((await inlet.request('GET', `${c.snowplow_collector}/i?e=se&eid=sp-rj1&se_ca=checkout`)).status).toBe(422)
    expect((await postEvents(c.snowplow_collector, [se('sp-rj2'), { e: 'pv', eid: 'sp-rj3', dtm: 'soon' }])).status).toBe(200)
    const log = (await inlet.request('GET', '/v1/debug/rejections', { key: project.api_key })).body.data as any[]
    expect(log.map(r => [r.route, r.status, r.id, r.errors[0].path])).toEqual([
      [`POST /v1/snowplow/:token${TP2}`, 422, 'sp-rj3', '/dtm'], ['GET /v1/snowplow/:token/i', 422, 'sp-rj1', '/se_ac'],
    ])
    expect(JSON.stringify(log)).not.toContain(c.token)
  })

  test('a gzip body is read, and a POST sent twice answers 200 both times and is stored once', async () => {
    const { id } = await inlet.project()
    const c = await collector(id)
    const body = gzipSync(JSON.stringify({ schema: SCHEMA, data: [se('sp-z1'), se('sp-z2')] }))
    const send = () => inlet.request('POST', `${c.snowplow_collector}${TP2}`, { raw: body, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } })
    expect((await send()).body).toMatchObject({ accepted: 2, duplicates: 0 })
    expect((await send()).body).toMatchObject({ accepted: 0, duplicates: 2 })
    expect((await rows(id)).map(r => r.id)).toEqual(['sp-z1', 'sp-z2'])
  })

  test('a project\'s rate limit is spent by its collector: the first request is stored, the next is 429 with Retry-After', async () => {
    const { id } = await inlet.project({ rate_limit_rpm: 1 })
    const c = await collector(id)
    expect((await inlet.request('GET', `${c.snowplow_collector}/i?${new URLSearchParams(se('sp-l1'))}`)).status).toBe(200)
    const limited = await inlet.request('GET', `${c.snowplow_collector}/i?${new URLSearchParams(se('sp-l2'))}`)
    expect([limited.status, limited.body.error.code]).toEqual([429, 'rate_limited'])
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await rows(id)).map(r => r.id)).toEqual(['sp-l1'])
  })

  test('CORS with credentials: the Origin is echoed on answers and errors, and a preflight allows what the tracker asks', async () => {
    const { id } = await inlet.project()
    const c = await collector(id)
    const ok = await postEvents(c.snowplow_collector, [se('sp-c1')], { origin: ORIGIN })
    expect([ok.headers.get('access-control-allow-origin'), ok.headers.get('access-control-allow-credentials')]).toEqual([ORIGIN, 'true'])
    const denied = await postEvents('/v1/snowplow/ct_unknown', [se('sp-c2')], { origin: ORIGIN })
    expect([denied.status, denied.headers.get('access-control-allow-origin'), denied.headers.get('access-control-allow-credentials')]).toEqual([401, ORIGIN, 'true'])
    for (const path of [TP2, '/i']) {
      const pre = await inlet.request('OPTIONS', `${c.snowplow_collector}${path}`, {
        headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,sp-anonymous' },
      })
      expect(pre.status).toBe(204)
      expect([pre.headers.get('access-control-allow-origin'), pre.headers.get('access-control-allow-credentials')]).toEqual([ORIGIN, 'true'])
      expect(pre.headers.get('access-control-allow-headers')).toBe('content-type,sp-anonymous')
    }
  })
})

describe('limits, both sides', () => {
  let small: TestInlet
  beforeAll(async () => { small = await startInlet({ BATCH_EVENTS_MAX: '3', BODY_BYTES_MAX: '2048', EVENT_BYTES_MAX: '2048' }) })
  afterAll(async () => { await small.stop() })

  test('BATCH_EVENTS_MAX events in one POST are stored; one more is 413 and stores nothing', async () => {
    const { id } = await small.project()
    const c = await collector(id, small)
    expect((await postEvents(c.snowplow_collector, [se('b1'), se('b2'), se('b3')], {}, small)).body).toMatchObject({ accepted: 3 })
    const over = await postEvents(c.snowplow_collector, [se('b4'), se('b5'), se('b6'), se('b7')], {}, small)
    expect([over.status, over.body.error.code]).toEqual([413, 'payload_too_large'])
    expect((await small.sql`select count(*)::int as n from events where project_id = ${id}`)[0].n).toBe(3)
  })

  test('a body of exactly BODY_BYTES_MAX is read; one byte more is 413', async () => {
    const { id } = await small.project()
    const c = await collector(id, small)
    // Two events share the padding, so each stays well under EVENT_BYTES_MAX.
    const body = (n: number) => {
      const base = JSON.stringify({ schema: SCHEMA, data: [se(`pad-${n}-a`, { se_la: 'A' }), se(`pad-${n}-b`, { se_la: 'B' })] })
      const pad = n - base.length
      return base.replace('"se_la":"A"', `"se_la":"${'a'.repeat(Math.floor(pad / 2) + 1)}"`).replace('"se_la":"B"', `"se_la":"${'b'.repeat(Math.ceil(pad / 2) + 1)}"`)
    }
    const send = (text: string) => small.request('POST', `${c.snowplow_collector}${TP2}`, { raw: text, headers: { 'content-type': 'application/json' } })
    expect(body(2048).length).toBe(2048)
    expect((await send(body(2048))).body).toMatchObject({ accepted: 2 })
    expect((await send(body(2049))).status).toBe(413)
  })
})
