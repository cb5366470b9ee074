// PostHog-compatible capture in-process: the recorded requests of posthog-node and
// posthog-js replayed byte for byte (every encoding they use), the key wherever
// PostHog reads it, partial success, beacons, recordings, limits on both sides, the
// rate-limit answer PostHog's SDKs retry, and CORS as the browser needs it.

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { gzipSync } from 'node:zlib'
import { ADMIN_TOKEN, startInlet, type TestInlet } from '../support/inlet'
import { bodyOf, captureWrites, fixtures, type FixtureRequest } from '../wire/fixtures'

setDefaultTimeout(30_000)

let inlet: TestInlet
// A revocation must be seen at once here, not within the default 2 s.
beforeAll(async () => { inlet = await startInlet({ KEY_CACHE_TTL_MS: '0' }) })
afterAll(async () => { await inlet.stop() })

const ORIGIN = 'http://127.0.0.1:5999'

// A recorded request sent again to Inlet as the SDK sent it; the key as a header
// (the recorded body names the recorder's token, not an Inlet key).
const replay = (r: FixtureRequest, key: string) => inlet.request(r.method, `${r.path}${r.query ? `?${r.query}` : ''}`, {
  raw: bodyOf(r), key,
  headers: Object.fromEntries(Object.entries(r.headers).filter(([k]) => ['content-type', 'content-encoding', 'origin'].includes(k))),
})

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  inlet.request('POST', path, { raw: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } })

const rows = async (projectId: number) => await inlet.sql`
  select id, type, name, user_id, anonymous_id, session_id, properties, context from events where project_id = ${projectId} order by id`

const recordedEvents = (requests: FixtureRequest[]) => requests.flatMap(r => {
  const json = r.decoded!.json as any
  return Array.isArray(json) ? json : Array.isArray(json.batch) ? json.batch : [json]
})

describe('recorded SDK requests, replayed', () => {
  for (const f of [...fixtures('posthog-node'), ...fixtures('posthog-js')]) {
    test(`${f.sdk}/${f.scenario}: every capture request is answered 200 and every event stored once by its uuid`, async () => {
      const project = await inlet.project()
      const writes = captureWrites(f)
      for (const r of writes) {
        const answer = await replay(r, project.api_key)
        expect(answer.status).toBe(200)
        expect(answer.body).toMatchObject({ status: 1, rejected: 0 })
      }
      const sent = recordedEvents(writes)
      const stored = await rows(project.id)
      // A recorded retry (posthog-node's retry-503) resends the same uuids: stored once.
      expect(stored.map(r => r.id).sort()).toEqual([...new Set(sent.map(e => e.uuid as string))].sort())
      for (const row of stored) {
        const e = sent.find(x => x.uuid === row.id)
        expect(row.name).toBe(e.event)
        expect(row.user_id).toBe(e.distinct_id ?? e.properties.distinct_id)
        expect(row.properties.token).toBeUndefined()
      }
    })
  }

  test('posthog-js\'s gzip body is recognised by its bytes alone: text/plain, no hint, no Content-Encoding', async () => {
    const project = await inlet.project()
    const [r] = captureWrites(fixtures('posthog-js').find(f => f.scenario === 'gzip')!)
    expect([r.headers['content-type'], r.headers['content-encoding'] ?? 'none', r.query]).toEqual(['text/plain', 'none', ''])
    expect((await replay(r, project.api_key)).status).toBe(200)
    expect((await rows(project.id)).length).toBe(1)
  })
})

describe('the project key', () => {
  const event = (extra: Record<string, unknown> = {}) => ({ event: 'Signed Up', distinct_id: 'u1', uuid: crypto.randomUUID(), ...extra })

  test('is read from api_key in the batch, from token in each event, from properties.token, and from ?token=', async () => {
    const project = await inlet.project()
    const key = project.api_key
    expect((await post('/batch/', { api_key: key, batch: [event()] })).status).toBe(200)
    expect((await post('/e/', [event({ token: key })])).status).toBe(200)
    expect((await post('/capture/', event({ properties: { token: key } }))).status).toBe(200)
    expect((await post(`/track/?token=${key}`, event())).status).toBe(200)
    expect((await post('/i/v0/e/', event(), { authorization: `Bearer ${key}` })).status).toBe(200)
    expect((await rows(project.id)).length).toBe(5)
  })

  test('a collector token is a project token that writes and reads nothing; revoked, it is 401', async () => {
    const project = await inlet.project()
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
    const created = await inlet.request('POST', `/admin/projects/${project.id}/collector-tokens`, { headers: admin, body: { name: 'web' } })
    const token = created.body.token as string
    expect((await post('/e/', { api_key: token, batch: [event({ uuid: 'ph-ct1' })] })).status).toBe(200)
    expect((await inlet.request('GET', '/v1/events/ph-ct1', { key: token })).status).toBe(401)
    expect((await inlet.request('GET', '/v1/events/ph-ct1', { key: project.api_key })).status).toBe(200)
    await inlet.request('DELETE', `/admin/collector-tokens/${created.body.prefix}`, { headers: admin })
    expect((await post('/e/', { api_key: token, batch: [event({ uuid: 'ph-ct2' })] })).status).toBe(401)
    expect((await rows(project.id)).map(r => r.id)).toEqual(['ph-ct1'])
  })

  test('no key is 401, an unknown key is 401, and neither stores anything', async () => {
    const none = await post('/e/', event())
    expect([none.status, none.body.error.code]).toEqual([401, 'unauthorized'])
    expect(none.body.error.message).toContain('api_key or token')
    const unknown = await post('/batch/', { api_key: 'ik_nope', batch: [event({ uuid: 'never-stored' })] })
    expect(unknown.status).toBe(401)
    expect((await inlet.sql`select count(*)::int as n from events where id = 'never-stored'`)[0].n).toBe(0)
  })
})

describe('answers', () => {
  test('a batch sent twice (an SDK retry) answers 200 both times and is stored once', async () => {
    const { id, api_key } = await inlet.project()
    const body = { api_key, batch: [{ event: 'a', distinct_id: 'u1', uuid: 'ph-r1' }, { event: 'b', distinct_id: 'u1', uuid: 'ph-r2' }] }
    expect((await post('/batch/', body)).body).toMatchObject({ status: 1, accepted: 2, duplicates: 0 })
    expect((await post('/batch/', body)).body).toMatchObject({ status: 1, accepted: 0, duplicates: 2 })
    expect((await rows(id)).map(r => r.id)).toEqual(['ph-r1', 'ph-r2'])
  })

  test('some invalid events: 200 with each one\'s errors at its PostHog path; every event invalid: 422 and nothing stored', async () => {
    const { id, api_key } = await inlet.project()
    const mixed = await post('/batch/', { api_key, batch: [{ event: 'ok', distinct_id: 'u1', uuid: 'ph-m1' }, { event: 'no-user', uuid: 'ph-m2' }] })
    expect(mixed.status).toBe(200)
    expect(mixed.body).toMatchObject({ status: 1, accepted: 1, rejected: 1 })
    expect(mixed.body.results[1]).toEqual({ index: 1, status: 'rejected', errors: [{ path: '/distinct_id', message: 'required' }] })
    const none = await post('/batch/', { api_key, batch: [{ event: '', distinct_id: 'u1', uuid: 'ph-m3' }] })
    expect([none.status, none.body.error.code]).toEqual([422, 'validation_failed'])
    expect(none.body.error.details[0].errors[0].path).toBe('/event')
    expect((await rows(id)).map(r => r.id)).toEqual(['ph-m1'])
    // The console's rejection log names each refused event by its uuid.
    const log = (await inlet.request('GET', '/v1/debug/rejections', { key: api_key })).body.data as any[]
    expect(log.filter(r => r.index !== undefined).map(r => [r.route, r.id, r.name, r.errors[0].path])).toEqual([
      ['POST /batch/', 'ph-m3', '', '/event'], ['POST /batch/', 'ph-m2', 'no-user', '/distinct_id'],
    ])
  })

  test('a beacon (beacon=1) is answered 204 with no body once stored', async () => {
    const { id, api_key } = await inlet.project()
    const r = await inlet.request('POST', '/e/?beacon=1', { raw: gzipSync(JSON.stringify({ api_key, batch: [{ event: '$pageleave', distinct_id: 'u1', uuid: 'ph-b1' }] })), headers: { 'content-type': 'text/plain' } })
    expect([r.status, r.body]).toEqual([204, ''])
    expect((await rows(id)).map(r => [r.id, r.name])).toEqual([['ph-b1', '$pageleave']])
  })

  test('a GET with the batch base64 in data= is stored like a POST', async () => {
    const { id, api_key } = await inlet.project()
    const data = Buffer.from(JSON.stringify([{ event: '$pageview', distinct_id: 'u1', uuid: 'ph-g1', token: api_key }])).toString('base64')
    const r = await inlet.request('GET', `/e/?data=${encodeURIComponent(data)}&compression=base64`)
    expect(r.status).toBe(200)
    expect((await rows(id)).map(r => [r.id, r.type])).toEqual([['ph-g1', 'page']])
  })

  test('session recordings are never stored: a $snapshot is rejected on its own, and /s/ is refused unread with 422', async () => {
    const { id, api_key } = await inlet.project()
    const r = await post('/e/', { api_key, batch: [{ event: '$snapshot', distinct_id: 'u1', uuid: 'ph-s1', properties: { $snapshot_data: [] } }, { event: 'x', distinct_id: 'u1', uuid: 'ph-s2' }] })
    expect(r.body.results[0].errors[0].message).toContain('session recording')
    const s = await post('/s/', { api_key, batch: [{ event: '$snapshot', distinct_id: 'u1', uuid: 'ph-s3' }] })
    expect([s.status, s.body.error.code]).toEqual([422, 'validation_failed'])
    expect(s.body.error.message).toContain('disable_session_recording')
    expect((await rows(id)).map(r => r.id)).toEqual(['ph-s2'])
  })

  test('a spent rate limit answers 503 with Retry-After and code rate_limited (posthog-js drops a 429); the request before it is stored', async () => {
    const { id, api_key } = await inlet.project({ rate_limit_rpm: 1 })
    const first = await post('/e/', { api_key, batch: [{ event: 'x', distinct_id: 'u1', uuid: 'ph-l1' }] })
    expect(first.status).toBe(200)
    const second = await post('/e/', { api_key, batch: [{ event: 'x', distinct_id: 'u1', uuid: 'ph-l2' }] })
    expect([second.status, second.body.error.code]).toEqual([503, 'rate_limited'])
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(second.headers.get('ratelimit-remaining')).toBe('0')
    expect((await rows(id)).map(r => r.id)).toEqual(['ph-l1'])
  })

  test('CORS: answers echo the Origin with credentials, errors too, and a preflight allows the headers asked for', async () => {
    const { api_key } = await inlet.project()
    const ok = await post('/e/', { api_key, batch: [{ event: 'x', distinct_id: 'u1' }] }, { origin: ORIGIN })
    expect([ok.headers.get('access-control-allow-origin'), ok.headers.get('access-control-allow-credentials')]).toEqual([ORIGIN, 'true'])
    const bad = await post('/e/', { batch: [{ event: 'x', distinct_id: 'u1' }] }, { origin: ORIGIN })
    expect([bad.status, bad.headers.get('access-control-allow-origin')]).toEqual([401, ORIGIN])
    const pre = await inlet.request('OPTIONS', '/i/v0/e/', { headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-headers')).toBe('content-type')
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST')
  })
})

describe('limits, both sides', () => {
  let small: TestInlet
  beforeAll(async () => { small = await startInlet({ BATCH_EVENTS_MAX: '3', BODY_BYTES_MAX: '4096', EVENT_BYTES_MAX: '4096' }) })
  afterAll(async () => { await small.stop() })
  const batch = (key: string, n: number, prefix: string) => ({ api_key: key, batch: Array.from({ length: n }, (_, i) => ({ event: 'x', distinct_id: 'u', uuid: `${prefix}-${i}` })) })

  test('BATCH_EVENTS_MAX events are stored; one more is 413 and stores nothing', async () => {
    const { id, api_key } = await small.project()
    const at = await small.request('POST', '/batch/', { body: batch(api_key, 3, 'at') })
    expect(at.body).toMatchObject({ status: 1, accepted: 3 })
    const over = await small.request('POST', '/batch/', { body: batch(api_key, 4, 'over') })
    expect([over.status, over.body.error.code]).toEqual([413, 'payload_too_large'])
    expect((await small.sql`select count(*)::int as n from events where project_id = ${id}`)[0].n).toBe(3)
  })

  test('a gzip body inflating to exactly BODY_BYTES_MAX is read; one byte more is 413 (posthog-node halves its batch on 413)', async () => {
    const { api_key } = await small.project()
    const json = (n: number) => {
      const base = JSON.stringify({ api_key, batch: [{ event: 'x', distinct_id: 'u', properties: { pad: '' } }] })
      return base.replace('"pad":""', `"pad":"${'p'.repeat(n - base.length)}"`)
    }
    const send = (text: string) => small.request('POST', '/batch/', { raw: gzipSync(text), headers: { 'content-type': 'text/plain' } })
    expect((await send(json(4096))).status).toBe(200)
    expect((await send(json(4097))).status).toBe(413)
  })
})
