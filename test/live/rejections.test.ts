// GET /v1/debug/rejections: what is refused is recorded with its reasons (per-event
// paths, also from a batch answered 200; 413; 429; a bad webhook signature), scoped
// to the project, and bounded on both axes: REJECTIONS_PER_PROJECT_MAX entries per
// project, REJECTION_PROJECTS_MAX projects.

import { afterEach, describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import { ADMIN_TOKEN, startInlet, type TestInlet } from '../support/inlet'

let t: TestInlet | undefined
afterEach(async () => { await t?.stop(); t = undefined })

const rejections = async (inlet: TestInlet, key: string, query = '') =>
  (await inlet.request('GET', `/v1/debug/rejections${query}`, { key })).body.data as any[]

const refuse = (inlet: TestInlet, key: string, id: string) =>
  inlet.request('POST', '/v1/events', { key, body: { id, properties: [] } })

describe('the rejection log', () => {
  test('an invalid event is recorded with its id, route, status and every problem\'s path', async () => {
    t = await startInlet()
    const p = await t.project()
    expect((await refuse(t, p.api_key, 'bad-1')).status).toBe(422)
    const [r] = await rejections(t, p.api_key)
    expect(r).toMatchObject({ route: 'POST /v1/events', status: 422, code: 'validation_failed', id: 'bad-1' })
    expect(r.errors).toEqual([{ path: '/name', message: 'required' }, { path: '/properties', message: expect.stringContaining('object') }])
    expect(Date.now() - Date.parse(r.at)).toBeLessThan(60_000)
  })

  test('the invalid events of a batch answered 200 are recorded one by one with their index', async () => {
    t = await startInlet()
    const p = await t.project()
    const r = await t.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: [{ id: 'ok', name: 'A' }, { id: 'b1', name: 5 }, { name: 'B', timestamp: 'yesterday' }] } })
    expect(r.status).toBe(200)
    const got = await rejections(t, p.api_key)
    expect(got.map(x => [x.index, x.id, x.name, x.errors[0].path])).toEqual([[2, undefined, 'B', '/timestamp'], [1, 'b1', '5', '/name']])
    expect(got[0].route).toBe('POST /v1/events/batch')
  })

  test('a 413, a 429 and a webhook with a bad signature are recorded for the project', async () => {
    t = await startInlet({ BODY_BYTES_MAX: '2048', EVENT_BYTES_MAX: '1024' })
    const p = await t.project()
    expect((await t.request('POST', '/v1/events', { key: p.api_key, body: { name: 'Big', properties: { x: 'y'.repeat(3000) } } })).status).toBe(413)
    const slow = await t.project({ rate_limit_rpm: 1 })
    expect((await t.request('POST', '/v1/events', { key: slow.api_key, body: { name: 'A' } })).status).toBe(200)
    expect((await t.request('POST', '/v1/events', { key: slow.api_key, body: { name: 'A' } })).status).toBe(429)
    const source = await t.request('POST', `/admin/projects/${p.id}/webhook-sources`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { name: 'hooks', scheme: 'hmac-sha256', secret: 'a-secret-of-16-chars-or-more' },
    })
    const body = JSON.stringify({ type: 'charge.succeeded', id: 'evt_1' })
    const wrong = createHmac('sha256', 'not-the-secret-at-all').update(body).digest('hex')
    expect((await t.request('POST', source.body.url, { raw: body, headers: { 'x-signature': `sha256=${wrong}` } })).status).toBe(401)

    const mine = await rejections(t, p.api_key)
    expect(mine.map(x => [x.status, x.code, x.route])).toEqual([
      [401, 'unauthorized', 'POST /v1/webhooks/:token'], [413, 'payload_too_large', 'POST /v1/events'],
    ])
    expect(JSON.stringify(mine)).not.toContain(source.body.token)
    // The limited project's bucket is spent, so its log is read in-process.
    expect(t.deps.live!.rejections.recent(slow.id, 10).map(x => [x.status, x.code])).toEqual([[429, 'rate_limited']])
  })

  test('a project reads only its own refusals', async () => {
    t = await startInlet()
    const [a, b] = [await t.project(), await t.project()]
    await refuse(t, a.api_key, 'a-bad')
    expect(await rejections(t, b.api_key)).toEqual([])
    expect((await rejections(t, a.api_key)).map(x => x.id)).toEqual(['a-bad'])
  })

  test('REJECTIONS_PER_PROJECT_MAX refusals are kept, newest first; one more forgets the oldest', async () => {
    t = await startInlet({ REJECTIONS_PER_PROJECT_MAX: '3' })
    const p = await t.project()
    for (const id of ['r1', 'r2', 'r3']) await refuse(t, p.api_key, id)
    expect((await rejections(t, p.api_key)).map(x => x.id)).toEqual(['r3', 'r2', 'r1'])
    await refuse(t, p.api_key, 'r4')
    expect((await rejections(t, p.api_key)).map(x => x.id)).toEqual(['r4', 'r3', 'r2'])
    expect((await rejections(t, p.api_key, '?limit=1')).map(x => x.id)).toEqual(['r4'])
  })

  test('limit may be 1 to REJECTIONS_PER_PROJECT_MAX; one more is a 422', async () => {
    t = await startInlet({ REJECTIONS_PER_PROJECT_MAX: '3' })
    const p = await t.project()
    expect((await t.request('GET', '/v1/debug/rejections?limit=3', { key: p.api_key })).status).toBe(200)
    const r = await t.request('GET', '/v1/debug/rejections?limit=4', { key: p.api_key })
    expect(r.status).toBe(422)
    expect(r.body.error.details).toEqual([{ path: '/limit', message: 'must be an integer from 1 to 3' }])
  })

  test('REJECTION_PROJECTS_MAX projects are kept; one more forgets the one refused least recently', async () => {
    t = await startInlet({ REJECTION_PROJECTS_MAX: '2' })
    const [a, b, c] = [await t.project(), await t.project(), await t.project()]
    await refuse(t, a.api_key, 'a1')
    await refuse(t, b.api_key, 'b1')
    await refuse(t, a.api_key, 'a2') // a is now the most recently refused
    expect(t.deps.live!.rejections.projectCount).toBe(2)
    await refuse(t, c.api_key, 'c1')
    expect(t.deps.live!.rejections.projectCount).toBe(2)
    expect((await rejections(t, b.api_key)).map(x => x.id)).toEqual([])
    expect((await rejections(t, a.api_key)).map(x => x.id)).toEqual(['a2', 'a1'])
    expect((await rejections(t, c.api_key)).map(x => x.id)).toEqual(['c1'])
  })

  test('an entry stays small whatever was sent: long ids and many problems are cut', async () => {
    t = await startInlet()
    const p = await t.project()
    const properties: Record<string, unknown> = {}
    const raw = { id: 'x'.repeat(5000), name: 7, timestamp: 'no', user_id: 1, anonymous_id: 2, session_id: 3, properties: 4, context: 5 }
    expect((await t.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: [raw, { name: 'ok', properties }] } })).status).toBe(200)
    const [r] = await rejections(t, p.api_key)
    expect(r.id.length).toBe(200)
    expect(r.errors.length).toBeLessThanOrEqual(8)
  })
})
