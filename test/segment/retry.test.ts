// When Inlet answers 503 for a while, the unmodified SDKs back off, retry, and every
// event is stored exactly once.
//
// How Inlet is made to answer 503, honestly: Postgres is slow. A table lock holds the
// one flusher's INSERT and a filler request fills the tiny buffer behind it
// (test/support/full-buffer.ts); releasing the lock lets everything through.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import RudderAnalytics from '@rudderstack/rudder-sdk-node'
import { Analytics } from '@segment/analytics-node'
import { bufferFullAnswers, fillBuffer as fillRig, fullBufferEnv } from '../support/full-buffer'
import { type SegmentServer, startSegmentServer, until } from './harness'

const QUEUE = 4
// Generous: the SDKs back off for seconds between retries, and the machine may be busy.
const TEST_MS = 120_000

let inlet: SegmentServer
beforeAll(async () => {
  inlet = await startSegmentServer(fullBufferEnv(QUEUE))
}, TEST_MS)
afterAll(async () => { await inlet?.stop() }, TEST_MS)

const fillBuffer = () => fillRig(inlet, QUEUE)

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
