// The real, unmodified @snowplow/node-tracker against the real server, through a
// collector token's URL: page views, structured, self-describing, page ping, screen
// view, link click and ecommerce transaction (and item) events, some with a context, by POST (base64, the default) and by the GET
// pixel (plain JSON), each stored once with its type, name, ids, properties and
// context; and a POST Inlet refuses with 503 (a really full buffer) is sent again
// by the tracker and stored once.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import {
  buildEcommerceTransaction, buildEcommerceTransactionItem, buildLinkClick, buildPagePing, buildPageView, buildScreenView,
  buildSelfDescribingEvent, buildStructEvent, newTracker, type Tracker,
} from '@snowplow/node-tracker'
import { bufferFullAnswers, fillBuffer } from '../support/full-buffer'
import { named, QUEUE, recent, type Row, type SdkServer, startSdkServer, until } from './harness'

let inlet: SdkServer
const TEST_MS = 90_000
beforeAll(async () => { inlet = await startSdkServer() }, TEST_MS)
afterAll(async () => { await inlet?.stop() }, TEST_MS)

const ORDER_CONTEXT = { schema: 'iglu:com.acme/order_context/jsonschema/1-0-0', data: { orderId: 'o-42', items: 2 } }
const TRUE_TIME = Date.parse('2026-01-02T03:04:05.678Z')

function tracker(endpoint: string, eventMethod: 'post' | 'get', encodeBase64: boolean, failures: unknown[]): Tracker {
  const t = newTracker({ namespace: 'inlet-ns', appId: 'inlet-app', encodeBase64 }, {
    endpoint, eventMethod, bufferSize: eventMethod === 'post' ? 10 : 1,
    onRequestFailure: f => failures.push(f),
  })
  t.setUserId('u1')
  t.setDomainUserId('duid-0001')
  t.setNetworkUserId('nuid-0001')
  t.setSessionId('6f1c2d9e-0000-4000-8000-000000000001')
  return t
}

async function trackAll(t: Tracker): Promise<void> {
  t.track(buildPageView({ pageUrl: 'https://example.com/pricing', pageTitle: 'Pricing', referrer: 'https://google.com/' }), [ORDER_CONTEXT])
  t.track(buildStructEvent({ category: 'checkout', action: 'add-to-basket', label: 'sku-1', property: 'size', value: 42 }), [ORDER_CONTEXT])
  t.track(buildSelfDescribingEvent({ event: { schema: 'iglu:com.acme/purchase/jsonschema/1-0-2', data: { total: 19.99, currency: 'EUR' } } }),
    [ORDER_CONTEXT], { type: 'ttm', value: TRUE_TIME })
  t.track(buildPagePing({ pageUrl: 'https://example.com/pricing', minXOffset: 0, maxXOffset: 10, minYOffset: 0, maxYOffset: 500 }))
  t.track(buildScreenView({ name: 'Home', id: '0190b5a0-0000-7000-8000-0000000000aa' }))
  t.track(buildLinkClick({ targetUrl: 'https://example.com/docs', elementId: 'docs-link' }))
  t.track(buildEcommerceTransaction({ orderId: 'o-42', total: 19.99, currency: 'EUR' }))
  t.track(buildEcommerceTransactionItem({ orderId: 'o-42', sku: 'sku-1', price: 9.99, quantity: 2, currency: 'EUR' }))
  await t.flush()
}

function checkCalls(rows: Row[]) {
  expect(rows.map(r => r.name).sort()).toEqual(['$page', '$page_ping', '$transaction', '$transaction_item', 'checkout:add-to-basket', 'link_click', 'purchase', 'screen_view'])
  expect(new Set(rows.map(r => r.id)).size).toBe(8)
  for (const r of rows) {
    expect(r).toMatchObject({ user_id: 'u1', anonymous_id: 'duid-0001', session_id: '6f1c2d9e-0000-4000-8000-000000000001' })
    expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4/) // the tracker's eid
    expect(r.context.library).toEqual({ name: 'snowplow', version: expect.stringMatching(/^node-/) })
    expect(r.context.tp2).toMatchObject({ aid: 'inlet-app', p: 'srv', tna: 'inlet-ns', nuid: 'nuid-0001' })
  }
  const [page] = named(rows, '$page')
  expect(page).toMatchObject({ type: 'page', properties: { url: 'https://example.com/pricing', title: 'Pricing', referrer: 'https://google.com/' } })
  expect(page.context.contexts).toEqual([ORDER_CONTEXT])
  const [se] = named(rows, 'checkout:add-to-basket')
  expect(se).toMatchObject({ type: 'track', properties: { category: 'checkout', action: 'add-to-basket', label: 'sku-1', property: 'size', value: 42 } })
  expect(se.context.contexts).toEqual([ORDER_CONTEXT])
  const [ue] = named(rows, 'purchase')
  expect(ue).toMatchObject({ type: 'track', properties: { total: 19.99, currency: 'EUR' } })
  expect(ue.context.event_schema).toBe('iglu:com.acme/purchase/jsonschema/1-0-2')
  expect(ue.timestamp.getTime()).toBe(TRUE_TIME) // ttm, the true timestamp, as sent
  // The tracker leaves out offsets of 0.
  expect(named(rows, '$page_ping')[0].properties).toEqual({ url: 'https://example.com/pricing', max_x: 10, max_y: 500 })
  expect(named(rows, 'screen_view')[0].properties).toMatchObject({ name: 'Home', id: '0190b5a0-0000-7000-8000-0000000000aa' })
  expect(named(rows, 'link_click')[0].properties).toMatchObject({ targetUrl: 'https://example.com/docs', elementId: 'docs-link' })
  expect(named(rows, '$transaction')[0].properties).toEqual({ order_id: 'o-42', total: 19.99, currency: 'EUR' })
  expect(named(rows, '$transaction_item')[0].properties).toEqual({ order_id: 'o-42', sku: 'sku-1', price: 9.99, quantity: 2, currency: 'EUR' })
  for (const r of rows) if (r.name !== 'purchase') expect(recent(r.timestamp)).toBe(true)
}

test('node-tracker by POST (base64) delivers page view, structured, self-describing, page ping, screen view, link click and a transaction with its item, each stored once', async () => {
  const { id } = await inlet.project()
  const failures: unknown[] = []
  await trackAll(tracker(await inlet.collector(id), 'post', true, failures))
  expect(failures).toEqual([])
  checkCalls(await inlet.events(id))
}, TEST_MS)

test('node-tracker by the GET pixel (plain JSON contexts) delivers the same eight events, each stored once', async () => {
  const { id } = await inlet.project()
  const failures: unknown[] = []
  const t = tracker(await inlet.collector(id), 'get', false, failures)
  await trackAll(t)
  // bufferSize 1: each event went in its own request, flushed as it was tracked.
  await until(async () => (await inlet.events(id)).length >= 8)
  expect(failures).toEqual([])
  checkCalls(await inlet.events(id))
}, TEST_MS)

test('a POST Inlet refused with 503 (a full buffer) is sent again at the next flush, same eids, and stored once', async () => {
  const { id } = await inlet.project()
  const failures: { status?: number; willRetry: boolean }[] = []
  const t = tracker(await inlet.collector(id), 'post', true, failures)
  const release = await fillBuffer(inlet, QUEUE)
  const refusedBefore = await bufferFullAnswers(inlet.url)
  await trackAll(t)
  // The tracker is told of the refusal after Inlet counted it.
  await until(async () => failures.length > 0)
  expect(await bufferFullAnswers(inlet.url)).toBe(refusedBefore + 1)
  expect(failures).toMatchObject([{ status: 503, willRetry: true }])
  expect(await inlet.events(id)).toEqual([])
  await release()
  // The tracker keeps a failed batch and sends it with its next flush.
  await t.flush()
  expect(failures.length).toBe(1)
  checkCalls(await inlet.events(id))
}, TEST_MS)
