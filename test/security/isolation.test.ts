// Cross-tenant isolation: two projects with known events (some with the same ids,
// names and users), and every read route called with the other project's key. No
// route returns, counts or lets one infer the other project's events; ids are
// per project, never global.

import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from 'bun:test'
import { signatureHeaders } from '../../src/ingest/signatures'
import { ADMIN_TOKEN, startInlet, type TestInlet } from '../support/inlet'

// Big bodies and real waits: generous, so a busy machine is slow, not failing.
setDefaultTimeout(30_000)

let inlet: TestInlet
let A: { id: number; api_key: string }
let B: { id: number; api_key: string }
let aWebhookId: string
const HOUR = 3_600_000
const t0 = Math.floor((Date.now() - 6 * HOUR) / HOUR) * HOUR

// A has a funnel Signup → Purchase for 5 users; B has 2 users doing only its own events.
const aEvents = [
  { id: 'shared-1', name: 'Signup', user_id: 'u-shared', timestamp: t0, properties: { owner: 'A' } },
  ...Array.from({ length: 5 }, (_, i) => ({ id: `a-signup-${i}`, name: 'Signup', user_id: `ua${i}`, timestamp: t0 + i * 1000, properties: { owner: 'A' } })),
  ...Array.from({ length: 5 }, (_, i) => ({ id: `a-purchase-${i}`, name: 'Purchase', user_id: `ua${i}`, timestamp: t0 + HOUR + i * 1000, properties: { owner: 'A' } })),
  { id: 'a-secret', name: 'A-Only', user_id: 'ua-secret', timestamp: t0 + 2 * HOUR, properties: { owner: 'A' } },
]
const bEvents = [
  { id: 'shared-1', name: 'Visit', user_id: 'u-shared', timestamp: t0 + 30_000, properties: { owner: 'B' } },
  { id: 'b-1', name: 'Visit', user_id: 'ub1', timestamp: t0 + 60_000, properties: { owner: 'B' } },
]
const aIds = new Set(aEvents.map(e => e.id))

beforeAll(async () => {
  inlet = await startInlet()
  A = await inlet.project({ name: 'tenant-a' })
  B = await inlet.project({ name: 'tenant-b' })
  const a = await inlet.request('POST', '/v1/events/batch', { key: A.api_key, body: { events: aEvents } })
  const b = await inlet.request('POST', '/v1/events/batch', { key: B.api_key, body: { events: bEvents } })
  // The same id in two projects is two events: ids are per project.
  expect([a.body.accepted, b.body.accepted]).toEqual([aEvents.length, bEvents.length])
  const source = await inlet.request('POST', `/admin/projects/${A.id}/webhook-sources`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { name: 'a-hook', scheme: 'hmac-sha256', secret: 'tenant-a-secret-0123' } })
  const body = JSON.stringify({ id: 'wh-1', type: 'Signup' })
  const w = await inlet.request('POST', source.body.url, { raw: body, headers: signatureHeaders('hmac-sha256', 'tenant-a-secret-0123', body) })
  expect(w.status).toBe(200)
  aWebhookId = w.body.id
  aIds.add(aWebhookId)
})
afterAll(async () => { await inlet.stop() })

const asB = (path: string) => inlet.request('GET', path, { key: B.api_key })
const asA = (path: string) => inlet.request('GET', path, { key: A.api_key })
const owners = (events: { properties: { owner?: string } }[]) => new Set(events.map(e => e.properties.owner))

describe('events', () => {
  test('GET /v1/events/{id} of the other project answers the same 404 as an id that exists nowhere', async () => {
    const strip = (b: any) => JSON.stringify(b).replace(/\\"[^"\\]*\\"/g, '"…"')
    const nowhere = await asB('/v1/events/never-existed')
    for (const id of ['a-secret', 'a-signup-0', aWebhookId]) {
      const r = await asB(`/v1/events/${encodeURIComponent(id)}`)
      expect(r.status).toBe(404)
      expect(strip(r.body)).toBe(strip(nowhere.body))
    }
  })

  test('an id both projects used returns each project its own event', async () => {
    expect((await asB('/v1/events/shared-1')).body).toMatchObject({ name: 'Visit', properties: { owner: 'B' } })
    expect((await asA('/v1/events/shared-1')).body).toMatchObject({ name: 'Signup', properties: { owner: 'A' } })
  })

  test('the list, walked page by page with its cursor, holds only the caller\'s events', async () => {
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const r = await asB(`/v1/events?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      expect(r.status).toBe(200)
      expect(owners(r.body.data)).toEqual(new Set(['B']))
      seen.push(...r.body.data.map((e: { id: string }) => e.id))
      cursor = r.body.next_cursor
    } while (cursor)
    expect(seen.sort()).toEqual(['b-1', 'shared-1'])
  })

  test('filters by the other project\'s names, users and time range find nothing of it', async () => {
    for (const q of ['name=A-Only', 'name=Signup', 'name=Purchase', 'user_id=ua-secret', 'user_id=ua0', `from=${t0 + HOUR}&to=${t0 + 3 * HOUR}`]) {
      const r = await asB(`/v1/events?${q}`)
      expect([q, r.status, r.body.data]).toEqual([q, 200, []])
    }
    // The shared user id finds only B's event.
    const shared = await asB('/v1/events?user_id=u-shared')
    expect(shared.body.data.map((e: any) => e.properties.owner)).toEqual(['B'])
  })

  test('a cursor issued to project A, replayed with B\'s key, pages through B\'s events only', async () => {
    const page = await asA('/v1/events?limit=2')
    expect(page.body.next_cursor).toBeString()
    const r = await asB(`/v1/events?cursor=${encodeURIComponent(page.body.next_cursor)}`)
    expect(r.status).toBe(200)
    for (const e of r.body.data) expect(e.properties.owner).toBe('B')
  })
})

describe('reports', () => {
  const range = `from=${new Date(t0 - HOUR).toISOString()}&to=${new Date(t0 + 4 * HOUR).toISOString()}`

  test('counts with B\'s key total B\'s events only, and the other project\'s names count zero', async () => {
    const all = await asB(`/v1/reports/counts?interval=hour&${range}`)
    expect(all.status).toBe(200)
    const total = all.body.series.reduce((n: number, b: { events: number }) => n + b.events, 0)
    expect(total).toBe(bEvents.length)
    for (const name of ['Signup', 'Purchase', 'A-Only']) {
      const r = await asB(`/v1/reports/counts?interval=hour&name=${name}&${range}`)
      expect(r.status).toBe(200)
      expect(r.body.series.reduce((n: number, b: { events: number; users: number }) => n + b.events + b.users, 0)).toBe(0)
    }
    // The same query with A's key does see A's funnel, so the zeros above mean something.
    const a = await asA(`/v1/reports/counts?interval=hour&name=Signup&${range}`)
    expect(a.body.series.reduce((n: number, b: { events: number }) => n + b.events, 0)).toBe(6)
  })

  test('a funnel over the other project\'s steps finds no users', async () => {
    const r = await asB(`/v1/reports/funnel?steps=Signup,Purchase&within=7200&${range}`)
    expect(r.status).toBe(200)
    expect(r.body.steps.map((s: { users: number }) => s.users)).toEqual([0, 0])
    const a = await asA(`/v1/reports/funnel?steps=Signup,Purchase&within=7200&${range}`)
    expect(a.body.steps.map((s: { users: number }) => s.users)).toEqual([6, 5])
  })

  test('retention of the other project\'s cohort event finds no cohort users', async () => {
    const r = await asB(`/v1/reports/retention?cohort_event=Signup&return_event=any&interval=day&periods=2&${range}`)
    expect(r.status).toBe(200)
    expect(r.body.cohorts.reduce((n: number, c: { users: number }) => n + c.users, 0)).toBe(0)
    const a = await asA(`/v1/reports/retention?cohort_event=Signup&return_event=any&interval=day&periods=2&${range}`)
    expect(a.body.cohorts.reduce((n: number, c: { users: number }) => n + c.users, 0)).toBe(6)
  })
})

describe('credentials', () => {
  test('a key never reaches the admin routes, and the admin list of webhook sources shows no token', async () => {
    const r = await inlet.request('GET', `/admin/projects/${A.id}`, { key: B.api_key })
    expect([r.status, r.body.error.code]).toEqual([401, 'unauthorized'])
    const w = await inlet.request('GET', `/admin/projects/${A.id}/webhook-sources`, { key: A.api_key })
    expect(w.status).toBe(401)
  })
})
