// The PostHog decoder and mapper against what posthog-node and posthog-js really
// sent (test/fixtures/posthog-*), and against hostile input.

import { describe, expect, test } from 'bun:test'
import { gzipSync } from 'node:zlib'
import { loadConfig } from '../../src/config'
import { mappedRow } from '../../src/ingest/foreign-row'
import { decodePosthog, type PosthogWire } from '../../src/ingest/posthog-decode'
import { isRecording, mapPosthogEvent, splitPosthog } from '../../src/ingest/posthog'
import type { RequestContext } from '../../src/ingest/validate'
import { captureWrites, type Fixture, fixtures, posthogWire } from './fixtures'

const limits = loadConfig({}).limits
const LIMIT = limits.BODY_BYTES_MAX
const TOKEN = 'phc_recorder_project_token'
const req = (receivedAtMs: number): RequestContext => ({ projectId: 1, receivedAtMs, skewMs: 0, idempotencyKey: null, single: false })

// Every captured event of a fixture, decoded, split and mapped as a route would.
function mapFixture(f: Fixture) {
  return captureWrites(f).flatMap(r => {
    const decoded = decodePosthog(posthogWire(r), LIMIT)
    if (!decoded.ok) throw new Error(`${f.sdk}/${f.scenario} ${r.path}: ${decoded.problem.message}`)
    const split = splitPosthog(decoded.value.payload, new URLSearchParams(r.query))
    if (!split.ok) throw new Error(split.problem.message)
    return split.request.events.map(raw => {
      const m = mapPosthogEvent(raw, { receivedAtMs: r.receivedAtMs, sentAtMs: split.request.sentAtMs, skewMsMax: limits.SKEW_MS_MAX })
      return { raw: raw as Record<string, any>, m, row: mappedRow(m, 0, req(r.receivedAtMs), limits), token: split.request.token, r }
    })
  })
}

const all = [...fixtures('posthog-node'), ...fixtures('posthog-js')]

describe('recorded PostHog traffic', () => {
  test('every fixture exists for both SDKs and every scenario sent capture writes', () => {
    expect(all.map(f => `${f.sdk}/${f.scenario}`).sort()).toEqual([
      'posthog-js/base64', 'posthog-js/gzip', 'posthog-js/uncompressed',
      'posthog-node/calls-gzip', 'posthog-node/calls-plain', 'posthog-node/retry-503',
    ])
    for (const f of all) expect(captureWrites(f).length).toBeGreaterThan(0)
  })

  test('every capture body decodes to exactly what the recorder decoded, whatever its encoding', () => {
    const seen = new Set<string>()
    for (const f of all) {
      for (const r of captureWrites(f)) {
        const d = decodePosthog(posthogWire(r), LIMIT)
        expect(d.ok).toBe(true)
        if (d.ok) {
          expect(d.value.payload).toEqual(r.decoded!.json)
          seen.add(d.value.compression)
        }
      }
    }
    // The recordings cover gzip (node by header, js by magic bytes), base64 forms and plain JSON.
    expect([...seen].sort()).toEqual(['base64', 'gzip', 'none'])
  })

  test('every recorded event maps and validates with no problem, keeping uuid, name and distinct_id', () => {
    for (const f of all) {
      for (const { raw, m, row, token, r } of mapFixture(f)) {
        expect(token).toBe(TOKEN)
        expect(m.errors).toEqual([])
        expect(row.ok).toBe(true)
        if (!row.ok) continue
        expect(row.row.id).toBe(raw.uuid)
        expect(row.row.name).toBe(raw.event)
        expect(row.row.userId).toBe(raw.distinct_id ?? raw.properties.distinct_id)
        // The project key posthog-js copies into properties is an Inlet API key: never stored.
        expect(JSON.parse(row.row.properties).token).toBeUndefined()
        expect(JSON.parse(row.row.context).library.name).toBe(f.sdk === 'posthog-js' ? 'web' : 'posthog-node')
        // SDK-stamped times are moments before the request arrived (same clock); the one explicit past timestamp is checked below.
        if (raw.uuid !== '0190b5a0-0000-7000-8000-000000000001') expect(Math.abs(row.row.timestampMs - r.receivedAtMs)).toBeLessThan(120_000)
      }
    }
  })

  test('posthog-node: each call maps to its type, with its properties, groups and an explicit timestamp kept', () => {
    const events = mapFixture(all.find(f => f.scenario === 'calls-plain')!)
    const by = Object.fromEntries(events.map(e => [e.raw.event, e]))
    expect(Object.keys(by).sort()).toEqual(['$create_alias', '$exception', '$feature_flag_called', '$groupidentify', '$identify', '$set',
      'Immediate Event', 'Order Completed', 'Signed Up'])
    const types = Object.fromEntries(events.map(e => [e.raw.event, e.m.type]))
    expect(types).toMatchObject({ 'Order Completed': 'track', $identify: 'identify', $set: 'identify', $create_alias: 'alias', $groupidentify: 'group', $exception: 'track' })
    const order = by['Order Completed']
    if (!order.row.ok) throw new Error('Order Completed was rejected')
    expect(order.row.row.id).toBe('0190b5a0-0000-7000-8000-000000000001')
    expect(JSON.parse(order.row.row.properties)).toMatchObject({ total: 19.99, currency: 'EUR', $set: { plan: 'pro' }, $groups: { company: 'org-7' } })
    // The SDK's clock is the server's here, so the skew correction is within the run's few ms.
    expect(Math.abs(order.row.row.timestampMs - Date.parse('2026-01-02T03:04:05.678Z'))).toBeLessThan(1000)
    const identify = by.$identify.row
    expect(identify.ok && JSON.parse(identify.row.properties)).toMatchObject({ $set: { email: 'ada@example.com' }, $set_once: { first_seen: '2026-01-01' } })
    const alias = by.$create_alias.row
    expect(alias.ok && JSON.parse(alias.row.properties)).toMatchObject({ alias: 'anon-1' })
    const group = by.$groupidentify.row
    expect(group.ok && JSON.parse(group.row.properties)).toMatchObject({ $group_type: 'company', $group_key: 'org-7', $group_set: { name: 'Acme' } })
  })

  test('posthog-node: a batch answered 503 is sent again with the same uuids, so it maps to the same ids', () => {
    const f = all.find(x => x.scenario === 'retry-503')!
    const writes = captureWrites(f)
    expect(writes.map(w => w.status)).toEqual([503, 200, 200])
    const ids = (w: typeof writes[number]) => mapFixture({ ...f, requests: [w] }).map(e => e.row.ok && e.row.row.id)
    expect(ids(writes[1])).toEqual(ids(writes[0]))
  })

  test('posthog-js: page, track, identify, group, alias, $set, autocapture and pageleave carry session, device and user', () => {
    for (const f of all.filter(x => x.sdk === 'posthog-js')) {
      const events = mapFixture(f)
      const names = events.map(e => e.raw.event)
      for (const n of ['$pageview', 'Order Completed', '$identify', '$groupidentify', '$set', '$create_alias', '$autocapture', '$pageleave']) expect(names).toContain(n)
      for (const e of events) {
        if (!e.row.ok) throw new Error(`${e.raw.event} was rejected`)
        expect(e.row.row.sessionId).toBe(e.raw.properties.$session_id)
        expect(e.row.row.anonymousId).toBe(e.raw.properties.$device_id)
      }
      const by = Object.fromEntries(events.map(e => [e.raw.event, e]))
      expect(by.$pageview.m.type).toBe('page')
      expect(by.$identify.row.ok && by.$identify.row.row.userId).toBe('u1')
      // posthog-js sends $set/$set_once at the event's top level; they are kept under properties.
      expect(by.$identify.row.ok && JSON.parse(by.$identify.row.row.properties).$set).toMatchObject({ email: 'ada@example.com' })
      expect(by.$set.row.ok && JSON.parse(by.$set.row.row.properties).$set).toEqual({ plan: 'pro' })
      expect(by['Order Completed'].row.ok && JSON.parse(by['Order Completed'].row.row.properties)).toMatchObject({ total: 19.99, currency: 'EUR' })
    }
  })
})

const wire = (body: Uint8Array | string, extra: Partial<PosthogWire> = {}): PosthogWire => ({
  method: 'POST', contentType: 'application/json', contentEncoding: null, query: new URLSearchParams(),
  body: typeof body === 'string' ? new TextEncoder().encode(body) : body, ...extra,
})
const ctx = { receivedAtMs: Date.UTC(2026, 0, 2), sentAtMs: null, skewMsMax: limits.SKEW_MS_MAX }

describe('PostHog decoding limits and hostile bodies', () => {
  const event = JSON.stringify({ api_key: 'k', batch: [{ event: 'x', distinct_id: 'u', properties: {} }] })

  test('a gzip body exactly at the limit decodes; one byte more is 413, and a bomb is stopped at the limit', () => {
    const at = decodePosthog(wire(gzipSync(event)), event.length)
    expect(at.ok).toBe(true)
    const over = decodePosthog(wire(gzipSync(event)), event.length - 1)
    expect(over).toEqual({ ok: false, problem: { code: 'payload_too_large', message: expect.stringContaining(`${event.length - 1} bytes`) } })
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 32))
    expect(decodePosthog(wire(bomb), 1024 * 1024)).toMatchObject({ ok: false, problem: { code: 'payload_too_large' } })
  })

  test('a base64 form body decoding to exactly the limit passes; one byte over is refused before it is decoded', () => {
    const data = Buffer.from(event).toString('base64')
    const form = { contentType: 'application/x-www-form-urlencoded', query: new URLSearchParams('compression=base64') }
    expect(decodePosthog(wire(`data=${encodeURIComponent(data)}`, form), event.length).ok).toBe(true)
    expect(decodePosthog(wire(`data=${encodeURIComponent(data)}`, form), event.length - 1)).toMatchObject({ ok: false, problem: { code: 'payload_too_large' } })
  })

  test('a GET\'s data= parameter decodes with or without compression=base64, and with its + signs left unescaped', () => {
    // '>>>' makes a '+' in the base64 text, which an unescaped query turns into ' '.
    const payload = [{ event: 'x>>>', distinct_id: 'u', properties: {} }]
    const data = Buffer.from(JSON.stringify(payload)).toString('base64')
    expect(data).toContain('+')
    for (const query of [`data=${encodeURIComponent(data)}`, `data=${encodeURIComponent(data)}&compression=base64`, `data=${data}`]) {
      expect(decodePosthog(wire('', { method: 'GET', query: new URLSearchParams(query) }), LIMIT)).toMatchObject({ ok: true, value: { payload } })
    }
  })

  test('malformed gzip, base64, UTF-8 and JSON are each a 400 that says which', () => {
    const cases: [PosthogWire, string][] = [
      [wire(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3])), 'not valid gzip'],
      [wire('data=***', { contentType: 'application/x-www-form-urlencoded', query: new URLSearchParams('compression=base64') }), 'not valid base64'],
      [wire(Buffer.from([0x7b, 0xff, 0x7d])), 'not valid UTF-8'],
      [wire('{"batch": ['), 'not valid JSON'],
      [wire(''), 'no payload'],
      [wire('x', { query: new URLSearchParams('compression=lz64') }), 'lz64 is not supported'],
    ]
    for (const [w, message] of cases) expect(decodePosthog(w, LIMIT)).toEqual({ ok: false, problem: { code: 'malformed_json', message: expect.stringContaining(message) } })
  })

  test('the payload must be an event, an array or a batch, with at least one event and one token', () => {
    expect(splitPosthog(42)).toMatchObject({ ok: false, problem: { message: expect.stringContaining('got number') } })
    expect(splitPosthog({ batch: 'x' })).toMatchObject({ ok: false, problem: { message: 'batch must be an array, got string' } })
    expect(splitPosthog([])).toMatchObject({ ok: false, problem: { message: 'the request holds no event' } })
    expect(splitPosthog([{ token: 'a' }, { token: 'b' }])).toMatchObject({ ok: false, problem: { message: expect.stringContaining('different') } })
    expect(splitPosthog({ event: 'x', properties: { token: 't1' } })).toMatchObject({ ok: true, request: { token: 't1', events: [{ event: 'x' }] } })
    expect(splitPosthog({ event: 'x' }, new URLSearchParams('token=q1&_=1767323045678'))).toMatchObject({ ok: true, request: { token: 'q1', sentAtMs: 1767323045678 } })
    // A seconds-sized `_` (old SDKs) is ignored as capture ignores it.
    expect(splitPosthog({ event: 'x' }, new URLSearchParams('_=1767323045'))).toMatchObject({ ok: true, request: { token: null, sentAtMs: null } })
  })

  test('any JSON value maps without throwing, each wrong field reported at its PostHog path', () => {
    for (const raw of [null, 1, 'x', [], true, {}, { event: 1 }, { properties: [] }, { $set: 5, distinct_id: {} }]) {
      expect(() => mapPosthogEvent(raw, ctx)).not.toThrow()
    }
    const m = mapPosthogEvent({ event: 'x', distinct_id: { a: 1 }, properties: 'no', $set: 5, offset: 'soon' }, ctx)
    expect(m.errors).toEqual([
      { path: '/properties', message: 'must be an object, got string' },
      { path: '/$set', message: 'must be an object, got number' },
      { path: '/distinct_id', message: 'must be a string or a number, got object' },
      { path: '/offset', message: 'must be a number of milliseconds, within SKEW_MS_MAX' },
    ])
    const row = mappedRow(mapPosthogEvent({ event: '', distinct_id: 7, uuid: 'x'.repeat(500), properties: { $session_id: 3 } }, ctx), 0, req(ctx.receivedAtMs), limits)
    expect(row.ok).toBe(false)
    if (!row.ok) expect(row.errors.map(e => e.path)).toEqual(['/event', '/uuid', '/properties/$session_id'])
  })

  test('timestamps: sent_at corrects the client clock, offset counts back from now, a skew past SKEW_MS_MAX is ignored', () => {
    const sentAtMs = ctx.receivedAtMs - 60_000 // the client clock is a minute slow
    const shifted = mapPosthogEvent({ event: 'x', distinct_id: 'u', timestamp: new Date(sentAtMs - 5000).toISOString() }, { ...ctx, sentAtMs })
    expect(shifted.event.timestamp).toBe(ctx.receivedAtMs - 5000)
    expect(mapPosthogEvent({ event: 'x', distinct_id: 'u', offset: 1500 }, ctx).event.timestamp).toBe(ctx.receivedAtMs - 1500)
    const wild = mapPosthogEvent({ event: 'x', distinct_id: 'u', timestamp: '2026-01-01T00:00:00Z' }, { ...ctx, sentAtMs: 0, skewMsMax: 1000 })
    expect(wild.event.timestamp).toBe(Date.parse('2026-01-01T00:00:00Z'))
  })

  test('session recording snapshots are recognised and reported, not mapped to an event type', () => {
    expect(isRecording({ event: '$snapshot', properties: { $snapshot_data: [] } })).toBe(true)
    expect(isRecording({ event: '$pageview' })).toBe(false)
    const m = mapPosthogEvent({ event: '$snapshot_items', distinct_id: 'u' }, ctx)
    expect(m.type).toBeNull()
    expect(m.errors).toEqual([{ path: '/event', message: expect.stringContaining('session recording') }])
  })

  test('properties nested past JSON_DEPTH_MAX are refused at their PostHog path, without overflowing the stack', () => {
    let deep: Record<string, unknown> = {}
    for (let i = 0; i < 100_000; i++) deep = { a: deep }
    const row = mappedRow(mapPosthogEvent({ event: 'x', distinct_id: 'u', $set: deep }, ctx), 0, req(ctx.receivedAtMs), limits)
    expect(row.ok).toBe(false)
    if (!row.ok) expect(row.errors).toEqual([{ path: expect.stringMatching(/^\/\$set(\/a)+$/), message: expect.stringContaining('JSON_DEPTH_MAX') }])
  })

  test('a hostile __proto__ property stays data and never reaches the prototype', () => {
    const raw = JSON.parse('{"event":"x","distinct_id":"u","properties":{"__proto__":{"polluted":true},"token":"k"}}')
    const row = mappedRow(mapPosthogEvent(raw, ctx), 0, req(ctx.receivedAtMs), limits)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(row.ok && JSON.parse(row.row.properties)).toEqual(JSON.parse('{"__proto__":{"polluted":true}}'))
  })
})
