// The real, unmodified posthog-node against the real server, gzip on (its default):
// every call type it has that sends events (capture, identify, alias, groupIdentify,
// setPersonProperties, unsetPersonProperties, captureException, captureAi, each
// *Immediate variant, and the flag reads) is stored once, with the right type, name, ids, properties
// and context; and a batch Inlet refuses with 503 (a really full buffer) is retried
// by the SDK and stored once.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { PostHog } from 'posthog-node'
import { bufferFullAnswers, fillBuffer } from '../support/full-buffer'
import { named, QUEUE, recent, type SdkServer, startSdkServer, until } from './harness'

let inlet: SdkServer
// A real server and SDK round trips (and, for the retry, the SDK's own backoff): generous bounds.
const TEST_MS = 90_000
beforeAll(async () => { inlet = await startSdkServer() }, TEST_MS)
afterAll(async () => { await inlet?.stop() }, TEST_MS)

const ORDER_UUID = '0190b5a0-0000-7000-8000-0000000000c1'

test('posthog-node, gzip on, delivers every call type, each stored once with its type, name, ids, properties and context', async () => {
  const { id, api_key } = await inlet.project()
  const client = new PostHog(api_key, { host: inlet.url, flushAt: 100, flushInterval: 0 })
  const failures: unknown[] = []
  client.on('error', e => failures.push(e))
  client.capture({
    distinctId: 'u1', event: 'Order Completed', properties: { total: 19.99, currency: 'EUR', $set: { plan: 'pro' } },
    groups: { company: 'org-7' }, uuid: ORDER_UUID, timestamp: new Date('2026-01-02T03:04:05.678Z'),
  })
  client.capture({ distinctId: 'u1', event: 'Signed Up', properties: { source: 'ads' } })
  client.identify({ distinctId: 'u1', properties: { email: 'ada@example.com', $set_once: { first_seen: '2026-01-01' } } })
  client.alias({ distinctId: 'u1', alias: 'anon-1' })
  client.groupIdentify({ groupType: 'company', groupKey: 'org-7', properties: { name: 'Acme' }, distinctId: 'u1' })
  client.setPersonProperties({ distinctId: 'u1', properties: { plan: 'enterprise' }, propertiesOnce: { signup: 'web' } })
  client.unsetPersonProperties({ distinctId: 'u2', properties: ['plan'] })
  client.captureException(new Error('payment failed'), 'u1', { order: 42 })
  // LLM analytics: its own route (/i/v0/ai/batch/), the /batch/ format.
  client.captureAi({ distinctId: 'u1', event: '$ai_generation', properties: { $ai_model: 'gpt-x', $ai_input_tokens: 12 } })
  // Flag reads ask /flags/ (answered "no flags"); evaluateFlags' getFlag queues a $feature_flag_called event.
  const flags = await client.evaluateFlags('u1')
  expect(flags.getFlag('new-checkout')).toBeUndefined()
  expect(await client.getFeatureFlag('beta', 'u3', { sendFeatureFlagEvents: false })).toBeUndefined()
  expect(await client.isFeatureEnabled('beta', 'u3', { sendFeatureFlagEvents: false })).toBeUndefined()
  expect(await client.getFeatureFlagPayload('beta', 'u3')).toBeUndefined()
  expect(await client.getAllFlags('u3')).toEqual({})
  await client.captureImmediate({ distinctId: 'u1', event: 'Immediate Event', properties: { now: true } })
  await client.identifyImmediate({ distinctId: 'u4', properties: { email: 'bo@example.com' } })
  await client.aliasImmediate({ distinctId: 'u4', alias: 'anon-4' })
  await client.groupIdentifyImmediate({ groupType: 'company', groupKey: 'org-8', properties: { name: 'Beta' }, distinctId: 'u4' })
  await client.captureExceptionImmediate(new Error('refund failed'), 'u4')
  await client.captureAiImmediate({ distinctId: 'u4', event: '$ai_span', properties: { $ai_span_name: 'retrieve' } })
  await client.shutdown()
  expect(failures).toEqual([])
  // The /flags/ answer offers gzip-js, so the SDK kept compressing.
  expect((client as unknown as { disableCompression: boolean }).disableCompression).toBe(false)

  const all = await inlet.events(id)
  // The calls of the second user (the *Immediate variants) and of the unset, checked below.
  const later = all.filter(r => r.user_id === 'u4')
  const [unset] = all.filter(r => r.user_id === 'u2')
  expect(unset).toMatchObject({ type: 'identify', name: '$set', properties: { $unset: ['plan'] } })
  expect(later.map(r => [r.type, r.name]).sort()).toEqual([
    ['alias', '$create_alias'], ['group', '$groupidentify'], ['identify', '$identify'], ['track', '$ai_span'], ['track', '$exception'],
  ])
  expect(named(later, '$identify')[0].properties.$set).toEqual({ email: 'bo@example.com' })
  const rows = all.filter(r => r.user_id === 'u1')
  expect(rows.length).toBe(all.length - later.length - 1)
  const names = ['Order Completed', 'Signed Up', '$identify', '$create_alias', '$groupidentify', '$set', '$exception', '$ai_generation', '$feature_flag_called', 'Immediate Event']
  expect(rows.map(r => r.name).sort()).toEqual([...names].sort())
  expect(new Set(all.map(r => r.id)).size).toBe(all.length)
  const one = (name: string) => {
    const found = named(rows, name)
    expect(found.length).toBe(1)
    return found[0]
  }
  for (const r of all) {
    expect(r.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/) // the SDK's own uuid v7, kept as the event's id
    expect(r.context.library).toEqual({ name: 'posthog-node', version: expect.any(String) })
    expect(r.properties.$lib).toBe('posthog-node')
  }
  const order = one('Order Completed')
  expect(order).toMatchObject({ id: ORDER_UUID, type: 'track', properties: { total: 19.99, currency: 'EUR', $set: { plan: 'pro' }, $groups: { company: 'org-7' } } })
  // Its explicit timestamp, corrected by the (here, near-zero) skew sent_at reveals.
  expect(Math.abs(order.timestamp.getTime() - Date.parse('2026-01-02T03:04:05.678Z'))).toBeLessThan(5_000)
  expect(one('Signed Up')).toMatchObject({ type: 'track', properties: { source: 'ads' } })
  expect(one('$identify')).toMatchObject({ type: 'identify', properties: { $set: { email: 'ada@example.com' }, $set_once: { first_seen: '2026-01-01' } } })
  expect(one('$create_alias')).toMatchObject({ type: 'alias', properties: { alias: 'anon-1' } })
  expect(one('$groupidentify')).toMatchObject({ type: 'group', properties: { $group_type: 'company', $group_key: 'org-7', $group_set: { name: 'Acme' } } })
  expect(one('$set')).toMatchObject({ type: 'identify', properties: { $set: { plan: 'enterprise' }, $set_once: { signup: 'web' } } })
  expect(one('$exception').properties.$exception_list[0]).toMatchObject({ type: 'Error', value: 'payment failed' })
  expect(one('$feature_flag_called')).toMatchObject({ type: 'track', properties: { $feature_flag: 'new-checkout' } })
  expect(one('Immediate Event').properties.now).toBe(true)
  expect(one('$ai_generation')).toMatchObject({ type: 'track', properties: { $ai_model: 'gpt-x', $ai_input_tokens: 12 } })
  for (const r of all) if (r.id !== ORDER_UUID) expect(recent(r.timestamp)).toBe(true)
}, TEST_MS)

test('posthog-node retries a batch Inlet refused with 503 (a full buffer), and it is stored once', async () => {
  const { id, api_key } = await inlet.project()
  const release = await fillBuffer(inlet, QUEUE)
  const refusedBefore = await bufferFullAnswers(inlet.url)
  // The retry count and delay are the SDK's own options (3 retries, 3 s apart by default).
  const client = new PostHog(api_key, { host: inlet.url, flushAt: 100, flushInterval: 0, fetchRetryCount: 50, fetchRetryDelay: 200 })
  const failures: unknown[] = []
  client.on('error', e => failures.push(e))
  const uuids = ['0190b5a0-0000-7000-8000-0000000000d1', '0190b5a0-0000-7000-8000-0000000000d2', '0190b5a0-0000-7000-8000-0000000000d3']
  for (const [i, uuid] of uuids.entries()) client.capture({ distinctId: 'u1', event: `Retried ${i}`, uuid })
  const flushed = client.flush()
  // Inlet refuses the batch more than once...
  await until(async () => (await bufferFullAnswers(inlet.url)) >= refusedBefore + 2)
  expect(await inlet.events(id)).toEqual([])
  // ...then Postgres catches up and the SDK's next retry of the same batch goes through.
  await release()
  await flushed
  await client.shutdown()
  expect(failures).toEqual([])
  const rows = await inlet.events(id)
  expect(rows.map(r => [r.id, r.name])).toEqual(uuids.map((u, i) => [u, `Retried ${i}`]))
}, TEST_MS)
