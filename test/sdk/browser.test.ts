// The real, unmodified browser SDKs in headless Chromium against the real server:
// posthog-js, @snowplow/browser-tracker, @segment/analytics-next and
// @rudderstack/analytics-js, each bundled from node_modules onto a test page served
// from its own loopback origin (so every request to Inlet is cross-origin and its
// CORS is real), with every host but 127.0.0.1 unresolvable. Each SDK fires page,
// track and identify (and what else it has); every call is checked in Postgres,
// stored once with its type, name, ids, properties and context; and a delivery Inlet
// refuses with 503 (a really full buffer) is retried by the SDK and stored once.
// With no Chromium every test here is reported as skipped (test/support/browser.ts).

import { afterAll, beforeAll, expect } from 'bun:test'
import type { Browser } from 'playwright-core'
import { browserTest, findChromium } from '../support/browser'
import { bufferFullAnswers, fillBuffer } from '../support/full-buffer'
import { type BrowserSdk, launchBrowser, openSdkPage, type PageServer, type SdkPage, startPageServer } from './browser-sdks'
import { named, QUEUE, recent, type Row, type SdkServer, startSdkServer, until } from './harness'

// Page loads, SDK start-up and, for the retries, the SDKs' own backoff (posthog-js
// waits 3-6 s): generous bounds, so a busy machine is slower, never failing.
const TEST_MS = 120_000

let inlet: SdkServer
let pages: PageServer
let browser: Browser
const chromium = findChromium()
beforeAll(async () => {
  if (!chromium.found) return
  ;[inlet, pages, browser] = await Promise.all([startSdkServer(), startPageServer(), launchBrowser(chromium.path)])
}, TEST_MS)
afterAll(async () => {
  await browser?.close()
  await pages?.stop()
  await inlet?.stop()
}, TEST_MS)

// A fresh browser context (no cookies, no storage) with the SDK's page loaded.
async function open(sdk: BrowserSdk): Promise<SdkPage> {
  return await openSdkPage(browser, pages, sdk, inlet.url)
}

// Polls Postgres until every name has at least one stored row, then returns them all.
// Bounded below the test's timeout: a test that times out has its processes killed
// by bun, the shared server among them, and every later test of the file fails too.
const ROWS_WAIT_MS = 60_000
async function rowsWith(projectId: number, names: string[]): Promise<Row[]> {
  let rows: Row[] = []
  const deadline = Date.now() + ROWS_WAIT_MS
  await until(async () => {
    rows = await inlet.events(projectId)
    if (names.every(n => rows.some(r => r.name === n))) return true
    if (Date.now() > deadline) throw new Error(`not stored within ${ROWS_WAIT_MS} ms: ${names.filter(n => !rows.some(r => r.name === n)).join(', ')} (stored: ${rows.map(r => r.name).join(', ') || 'none'})`)
    return false
  }, 50)
  return rows
}

function one(rows: Row[], name: string): Row {
  const found = named(rows, name)
  expect(found.map(r => r.name)).toEqual([name])
  return found[0]
}

// The page reached no other host, and (for a clean start) logged no error.
function clean(p: SdkPage) {
  expect(p.strayRequests).toEqual([])
  expect(p.errors).toEqual([])
}

// Holds the buffer full until the SDK has been refused at least once, then lets go.
// Bounded, and released whatever happens: a wait that never ends would hold the
// events table locked past the test's timeout, and every later test of the file
// would fail behind it (seen once in CI: the GET pixel's refusal never counted).
const REFUSAL_WAIT_MS = 30_000
async function throughA503(send: () => Promise<void>): Promise<void> {
  const release = await fillBuffer(inlet, QUEUE)
  try {
    const refusedBefore = await bufferFullAnswers(inlet.url)
    await send()
    const deadline = Date.now() + REFUSAL_WAIT_MS
    await until(async () => {
      const refused = await bufferFullAnswers(inlet.url)
      if (refused > refusedBefore) return true
      if (Date.now() > deadline) throw new Error(`the SDK was not refused within ${REFUSAL_WAIT_MS} ms (buffer_full answers: ${refused}, before: ${refusedBefore})`)
      return false
    })
  } finally {
    await release()
  }
}

// posthog-js: opt_out_useragent_filter because it drops every event of an automated
// browser otherwise, as its own message advises for end-to-end tests; disable_surveys
// because it would load its surveys script from Inlet, which serves none (README).
const POSTHOG_OPTIONS = {
  opt_out_useragent_filter: true, disable_surveys: true, person_profiles: 'always', request_queue_config: { flush_interval_ms: 100 },
}

browserTest('posthog-js starts cleanly and delivers $pageview, capture, identify, group, $set, alias and $pageleave, each stored once', async () => {
  const { id } = await inlet.project()
  // The page's key is a collector token: write-only, since anyone can read it there.
  const key = await inlet.collectorToken(id)
  const p = await open('posthog-js')
  await p.page.evaluate(([url, key, options]) => {
    const ph = (globalThis as any).posthog
    ph.init(key, { api_host: url, ...(options as object) })
    ph.capture('Order Completed', { total: 19.99, currency: 'EUR' })
    ph.identify('u1', { email: 'ada@example.com' }, { first_seen: '2026-01-01' })
    ph.group('company', 'org-7', { name: 'Acme' })
    ph.setPersonProperties({ plan: 'pro' })
    ph.alias('alias-1')
  }, [inlet.url, key, POSTHOG_OPTIONS] as const)
  await rowsWith(id, ['$pageview', 'Order Completed', '$identify', '$groupidentify', '$set', '$create_alias'])
  // Leaving the page sends $pageleave by sendBeacon (beacon=1, answered 204).
  const { deviceId, sessionId } = await p.page.evaluate(() => ({ deviceId: (globalThis as any).posthog.get_property('$device_id'), sessionId: (globalThis as any).posthog.get_session_id() }))
  await p.page.goto('about:blank')
  const rows = await rowsWith(id, ['$pageleave'])
  clean(p)
  await p.close()
  expect(new Set(rows.map(r => r.id)).size).toBe(rows.length)
  for (const r of rows) {
    expect(r.anonymous_id).toBe(deviceId)
    expect(r.session_id).toBe(sessionId)
    expect(r.context.library).toEqual({ name: 'web', version: expect.any(String) })
    expect(r.properties.token).toBeUndefined() // the project key posthog-js copies into every event is not stored
    expect(recent(r.timestamp)).toBe(true)
  }
  expect(one(rows, '$pageview')).toMatchObject({ type: 'page', properties: { $current_url: `${pages.origin}/posthog-js.html` } })
  // Before identify, posthog-js's distinct_id is its anonymous device id.
  expect(one(rows, 'Order Completed')).toMatchObject({ type: 'track', user_id: deviceId, properties: { total: 19.99, currency: 'EUR' } })
  expect(one(rows, '$identify')).toMatchObject({ type: 'identify', user_id: 'u1', properties: { $set: { email: 'ada@example.com' }, $set_once: { first_seen: '2026-01-01' } } })
  expect(one(rows, '$groupidentify')).toMatchObject({ type: 'group', properties: { $group_type: 'company', $group_key: 'org-7', $group_set: { name: 'Acme' } } })
  expect(one(rows, '$set')).toMatchObject({ type: 'identify', user_id: 'u1', properties: { $set: { plan: 'pro' } } })
  expect(one(rows, '$create_alias')).toMatchObject({ type: 'alias', user_id: 'u1', properties: { alias: 'alias-1' } })
  expect(one(rows, '$pageleave').type).toBe('track')
}, TEST_MS)

browserTest('posthog-js retries a batch Inlet refused with 503 (a full buffer), and it is stored once', async () => {
  const { id } = await inlet.project()
  const key = await inlet.collectorToken(id)
  const p = await open('posthog-js')
  await p.page.evaluate(([url, key, options]) => (globalThis as any).posthog.init(key, { api_host: url, ...(options as object) }), [inlet.url, key, POSTHOG_OPTIONS] as const)
  // Started, its $pageview stored: the next capture goes in a batch of its own.
  await rowsWith(id, ['$pageview'])
  await throughA503(() => p.page.evaluate(() => { (globalThis as any).posthog.capture('Retried Event', { attempt: 1 }) }))
  // posthog-js backs off 3-6 s, then sends the same batch again (with retry_count=1).
  const rows = await rowsWith(id, ['Retried Event'])
  await p.close()
  expect(one(rows, 'Retried Event')).toMatchObject({ type: 'track', properties: { attempt: 1 } })
  expect(rows.length).toBe(2)
}, TEST_MS)

const ORDER_CONTEXT = { schema: 'iglu:com.acme/order_context/jsonschema/1-0-0', data: { orderId: 'o-42', items: 2 } }

browserTest('@snowplow/browser-tracker by POST delivers a page view, a structured and a self-describing event after setUserId, each stored once', async () => {
  const { id } = await inlet.project()
  const collector = await inlet.collector(id)
  const p = await open('snowplow-browser')
  await p.page.evaluate(([url, context]) => {
    const sp = (globalThis as any).snowplow
    sp.newTracker('sp1', url, { appId: 'inlet-app', eventMethod: 'post', contexts: { webPage: true } })
    sp.setUserId('u1') // Snowplow's identify: every later event carries uid
    sp.trackPageView({ title: 'Pricing' })
    sp.trackStructEvent({ category: 'checkout', action: 'add-to-basket', label: 'sku-1', property: 'size', value: 42 })
    sp.trackSelfDescribingEvent({ event: { schema: 'iglu:com.acme/purchase/jsonschema/1-0-2', data: { total: 19.99, currency: 'EUR' } }, context: [context] })
  }, [collector, ORDER_CONTEXT] as const)
  const rows = await rowsWith(id, ['$page', 'checkout:add-to-basket', 'purchase'])
  // The tracker's domain user id and session, from its first-party cookie.
  const cookie = (await p.page.context().cookies()).find(c => c.name.startsWith('_sp_id'))!.value.split('.')
  clean(p)
  await p.close()
  expect(rows.length).toBe(3)
  for (const r of rows) {
    expect(r).toMatchObject({ user_id: 'u1', anonymous_id: cookie[0], session_id: cookie[5] })
    expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4/) // the tracker's eid
    expect(r.context.library).toEqual({ name: 'snowplow', version: expect.stringMatching(/^js-/) })
    expect(r.context.tp2).toMatchObject({ aid: 'inlet-app', p: 'web', tna: 'sp1' })
    expect(r.context.page).toMatchObject({ url: `${pages.origin}/snowplow-browser.html` })
    // Its web_page context rides on every event.
    expect(r.context.contexts.map((c: { schema: string }) => c.schema)).toContain('iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0')
    expect(recent(r.timestamp)).toBe(true)
  }
  expect(one(rows, '$page')).toMatchObject({ type: 'page', properties: { url: `${pages.origin}/snowplow-browser.html`, title: 'Pricing' } })
  expect(one(rows, 'checkout:add-to-basket')).toMatchObject({ type: 'track', properties: { category: 'checkout', action: 'add-to-basket', label: 'sku-1', property: 'size', value: 42 } })
  const ue = one(rows, 'purchase')
  expect(ue).toMatchObject({ type: 'track', properties: { total: 19.99, currency: 'EUR' } })
  expect(ue.context.contexts).toContainEqual(ORDER_CONTEXT)
  expect(ue.context.event_schema).toBe('iglu:com.acme/purchase/jsonschema/1-0-2')
}, TEST_MS)

browserTest('@snowplow/browser-tracker by the GET pixel sends an event Inlet refused with 503 (a full buffer) again, and it is stored once', async () => {
  const { id } = await inlet.project()
  const collector = await inlet.collector(id)
  const p = await open('snowplow-browser')
  await p.page.evaluate(url => (globalThis as any).snowplow.newTracker('sp2', url, {
    appId: 'inlet-app', eventMethod: 'get', onRequestFailure: () => { (globalThis as any).refusals = ((globalThis as any).refusals ?? 0) + 1 },
  }), collector)
  await throughA503(() => p.page.evaluate(() => { (globalThis as any).snowplow.trackStructEvent({ category: 'checkout', action: 'retried' }) }))
  // The tracker keeps the refused event and sends it before the next one, but only
  // once it has taken in the refusal: an event tracked while that request is still
  // open is queued behind it and nothing sends the queue again (no retry timer).
  // Inlet counts the 503 when it answers, the tracker a little later.
  await p.page.waitForFunction(() => (globalThis as any).refusals > 0, null, { timeout: REFUSAL_WAIT_MS })
  await p.page.evaluate(() => { (globalThis as any).snowplow.trackPageView({ title: 'After' }) })
  const rows = await rowsWith(id, ['checkout:retried', '$page'])
  await p.close()
  expect(rows.map(r => r.name)).toEqual(['checkout:retried', '$page'])
}, TEST_MS)

browserTest('@segment/analytics-next, given cdnURL: Inlet, delivers page, track, identify, group and alias, each stored once', async () => {
  const { id } = await inlet.project()
  const key = await inlet.collectorToken(id)
  const p = await open('segment-next')
  const anonymousId = await p.page.evaluate(async ([url, key]) => {
    const [analytics] = await (globalThis as any).AnalyticsBrowser.load({ writeKey: key, cdnURL: url })
    await analytics.page('Docs', 'Pricing', { plan: 'pro' })
    await analytics.track('Order Completed', { total: 19.99, currency: 'EUR' })
    await analytics.identify('u1', { email: 'ada@example.com' })
    await analytics.group('org-7', { name: 'Acme' })
    await analytics.alias('u1', 'anon-1')
    return analytics.user().anonymousId() as string
  }, [inlet.url, key] as const)
  const rows = await rowsWith(id, ['$page', 'Order Completed', '$identify', '$group', '$alias'])
  clean(p)
  await p.close()
  expect(rows.length).toBe(5)
  for (const r of rows) {
    expect(r.id).toStartWith('ajs-next-') // the SDK's messageId
    expect(r.anonymous_id).toBe(anonymousId)
    expect(r.context.library).toEqual({ name: 'analytics.js', version: expect.stringMatching(/^npm:next-/) })
    expect(r.context.page).toMatchObject({ url: `${pages.origin}/segment-next.html` })
    expect(recent(r.timestamp)).toBe(true)
  }
  expect(one(rows, '$page')).toMatchObject({ type: 'page', user_id: null, properties: { name: 'Pricing', category: 'Docs', plan: 'pro', path: '/segment-next.html' } })
  expect(one(rows, 'Order Completed')).toMatchObject({ type: 'track', user_id: null, properties: { total: 19.99, currency: 'EUR' } })
  expect(one(rows, '$identify')).toMatchObject({ type: 'identify', user_id: 'u1', properties: { email: 'ada@example.com' } })
  expect(one(rows, '$group')).toMatchObject({ type: 'group', user_id: 'u1', properties: { name: 'Acme', groupId: 'org-7' } })
  expect(one(rows, '$alias')).toMatchObject({ type: 'alias', user_id: 'u1', properties: { previousId: 'anon-1' } })
}, TEST_MS)

browserTest('@segment/analytics-next retries a call Inlet refused with 503 (a full buffer), and it is stored once', async () => {
  const { id } = await inlet.project()
  const key = await inlet.collectorToken(id)
  const p = await open('segment-next')
  await p.page.evaluate(async ([url, key]) => {
    const [analytics] = await (globalThis as any).AnalyticsBrowser.load({ writeKey: key, cdnURL: url })
    ;(globalThis as any).analytics = analytics
  }, [inlet.url, key] as const)
  await throughA503(() => p.page.evaluate(() => { void (globalThis as any).analytics.track('Retried Event', { attempt: 1 }) }))
  const rows = await rowsWith(id, ['Retried Event'])
  await p.close()
  expect(rows.map(r => [r.type, r.name])).toEqual([['track', 'Retried Event']])
}, TEST_MS)

browserTest('@rudderstack/analytics-js, given configUrl: Inlet, delivers page, track, identify, group and alias, each stored once', async () => {
  const { id } = await inlet.project()
  const key = await inlet.collectorToken(id)
  const p = await open('rudderstack-js')
  await p.page.evaluate(([url, key]) => {
    const rudder = new (globalThis as any).RudderAnalytics()
    rudder.load(key, url, { configUrl: url, logLevel: 'ERROR' })
    rudder.page('Docs', 'Pricing', { plan: 'pro' })
    rudder.track('Order Completed', { total: 19.99, currency: 'EUR' })
    rudder.identify('u1', { email: 'ada@example.com' })
    rudder.group('org-7', { name: 'Acme' })
    rudder.alias('u1', 'anon-1')
    ;(globalThis as any).rudder = rudder
  }, [inlet.url, key] as const)
  const rows = await rowsWith(id, ['$page', 'Order Completed', '$identify', '$group', '$alias'])
  const anonymousId = await p.page.evaluate(() => (globalThis as any).rudder.getAnonymousId() as string)
  clean(p)
  await p.close()
  expect(rows.length).toBe(5)
  for (const r of rows) {
    expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4/) // the SDK's messageId
    expect(r.anonymous_id).toBe(anonymousId)
    expect(r.context.library).toMatchObject({ name: 'RudderLabs JavaScript SDK', version: expect.any(String) })
    expect(r.context.page).toMatchObject({ url: `${pages.origin}/rudderstack-js.html` })
    expect(recent(r.timestamp)).toBe(true) // from originalTimestamp: RudderStack sends no timestamp
  }
  // Before identify RudderStack sends userId "", which is no user.
  expect(one(rows, '$page')).toMatchObject({ type: 'page', user_id: null, properties: { name: 'Pricing', category: 'Docs', plan: 'pro' } })
  expect(one(rows, 'Order Completed')).toMatchObject({ type: 'track', user_id: null, properties: { total: 19.99, currency: 'EUR' } })
  expect(one(rows, '$identify')).toMatchObject({ type: 'identify', user_id: 'u1', properties: { email: 'ada@example.com' } })
  expect(one(rows, '$group')).toMatchObject({ type: 'group', user_id: 'u1', properties: { name: 'Acme', groupId: 'org-7' } })
  expect(one(rows, '$alias')).toMatchObject({ type: 'alias', user_id: 'u1', properties: { previousId: 'anon-1' } })
}, TEST_MS)

browserTest('@rudderstack/analytics-js retries a call Inlet refused with 503 (a full buffer), and it is stored once', async () => {
  const { id } = await inlet.project()
  const key = await inlet.collectorToken(id)
  const p = await open('rudderstack-js')
  await p.page.evaluate(([url, key]) => {
    const rudder = new (globalThis as any).RudderAnalytics()
    rudder.load(key, url, { configUrl: url, logLevel: 'ERROR' })
    ;(globalThis as any).rudder = rudder
  }, [inlet.url, key] as const)
  // Loaded (its source config fetched) before the buffer fills.
  await p.page.waitForFunction(() => new Promise(resolve => (globalThis as any).rudder.ready(() => resolve(true))))
  await throughA503(() => p.page.evaluate(() => { (globalThis as any).rudder.track('Retried Event', { attempt: 1 }) }))
  const rows = await rowsWith(id, ['Retried Event'])
  await p.close()
  expect(rows.map(r => [r.type, r.name])).toEqual([['track', 'Retried Event']])
}, TEST_MS)
