// When Inlet answers 503 for a while, the unmodified SDKs back off, retry, and every
// event is stored exactly once.
//
// How Inlet is made to answer 503, honestly: Postgres is slow. The test holds an
// EXCLUSIVE lock on the events table (reads of keys and projects still work, so auth
// does), the one flusher's INSERT waits on it, a filler request fills the tiny buffer
// behind it, and from then on every ingest request is refused with 503 + Retry-After
// (buffer full). FLUSH_COMMIT_MS_MAX is at its maximum so the slow commit is waited
// for rather than given up. Releasing the lock lets everything through.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import RudderAnalytics from '@rudderstack/rudder-sdk-node'
import { Analytics } from '@segment/analytics-node'
import { bufferFullAnswers, type SegmentServer, startSegmentServer, until } from './harness'

const QUEUE = 4
// Generous: the SDKs back off for seconds between retries, and the machine may be busy.
const TEST_MS = 120_000

let inlet: SegmentServer
beforeAll(async () => {
  inlet = await startSegmentServer({
    FLUSHERS: '1', QUEUE_EVENTS_MAX: String(QUEUE), BATCH_EVENTS_MAX: String(QUEUE),
    FLUSH_COMMIT_MS_MAX: '600000', PG_STATEMENT_TIMEOUT_MS: '3600000',
  })
}, TEST_MS)
afterAll(async () => { await inlet?.stop() }, TEST_MS)

// Fills Inlet's buffer behind a flush that waits on a table lock. Returns the
// release: it drops the lock and checks that the fillers were then acknowledged.
async function fillBuffer(): Promise<() => Promise<void>> {
  const filler = await inlet.project()
  const locked = Promise.withResolvers<void>()
  const release = Promise.withResolvers<void>()
  const transaction = inlet.sql.begin(async tx => {
    await tx`lock table events in exclusive mode`
    locked.resolve()
    await release.promise
  })
  await locked.promise
  const post = (path: string, body: unknown) => fetch(`${inlet.url}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${filler.api_key}` }, body: JSON.stringify(body),
  })
  // First one event, taken by the flusher, whose INSERT then waits on the lock...
  const first = post('/v1/events', { name: 'filler' })
  await until(async () => (await inlet.sql`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock'`)[0].n > 0)
  // ...then a full buffer's worth behind it.
  const rest = post('/v1/events/batch', { events: Array.from({ length: QUEUE }, () => ({ name: 'filler' })) })
  await until(async () => ((await (await fetch(`${inlet.url}/ready`)).json()) as { buffer: { depth: number } }).buffer.depth === QUEUE)
  return async () => {
    release.resolve()
    await transaction
    expect((await first).status).toBe(200)
    expect((await rest).status).toBe(200)
  }
}

test('the Segment Node SDK retries through 503s and every event is stored exactly once', async () => {
  const { id, api_key } = await inlet.project()
  const release = await fillBuffer()
  const refusedBefore = await bufferFullAnswers(inlet.url)
  const analytics = new Analytics({ writeKey: api_key, host: inlet.url, flushAt: 3 })
  const statuses: number[] = []
  const failures: unknown[] = []
  analytics.on('http_response', r => statuses.push(r.status))
  analytics.on('error', e => failures.push(e))
  analytics.track({ userId: 'u1', event: 'Order Completed', properties: { total: 5 } })
  analytics.identify({ userId: 'u1', traits: { plan: 'pro' } })
  analytics.page({ userId: 'u1', name: 'Pricing' })
  analytics.screen({ userId: 'u1', name: 'Home' })
  analytics.group({ userId: 'u1', groupId: 'org-7' })
  analytics.alias({ userId: 'u1', previousId: 'anon-1' })
  const flushed = analytics.closeAndFlush()

  // Inlet refuses the SDK's requests (two batches of three) more than once...
  await until(async () => (await bufferFullAnswers(inlet.url)) >= refusedBefore + 3)
  expect(statuses.filter(s => s !== 503)).toEqual([])
  // ...then Postgres catches up, and the SDK's next retries go through.
  await release()
  await flushed
  expect(failures).toEqual([])
  expect(statuses.filter(s => s === 200).length).toBe(2)

  const rows = await inlet.rows(id)
  expect(rows.map(r => r.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'screen', 'track'])
  expect(new Set(rows.map(r => r.id)).size).toBe(6)
}, TEST_MS)

test('the RudderStack Node SDK retries through 503s and every event is stored exactly once', async () => {
  const { id, api_key } = await inlet.project()
  const release = await fillBuffer()
  const refusedBefore = await bufferFullAnswers(inlet.url)
  // retryCount is the SDK's own setting; its default (3) gives up after about 3 s
  // when Inlet asks for Retry-After: 1, less than this test may need on a busy machine.
  const client = new RudderAnalytics(api_key, { dataPlaneUrl: inlet.url, flushAt: 3, retryCount: 10, logLevel: 'none' })
  const results = ([
    ['track', { userId: 'u1', event: 'Order Completed' }],
    ['identify', { userId: 'u1', traits: { plan: 'pro' } }],
    ['page', { userId: 'u1', name: 'Pricing' }],
    ['screen', { userId: 'u1', name: 'Home' }],
    ['group', { userId: 'u1', groupId: 'org-7' }],
    ['alias', { userId: 'u1', previousId: 'anon-1' }],
  ] as const).map(([call, message]) =>
    new Promise(resolve => (client as any)[call](message, (err: unknown) => resolve(err ?? null))))
  const flushed = client.flush()

  await until(async () => (await bufferFullAnswers(inlet.url)) >= refusedBefore + 3)
  await release()
  await flushed
  expect(await Promise.all(results)).toEqual([null, null, null, null, null, null])

  const rows = await inlet.rows(id)
  expect(rows.map(r => r.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'screen', 'track'])
  expect(new Set(rows.map(r => r.id)).size).toBe(6)
}, TEST_MS)
