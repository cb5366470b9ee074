// The Snowplow decoder and mapper against what @snowplow/node-tracker and
// @snowplow/browser-tracker really sent (test/fixtures/snowplow-*), and against hostile input.

import { describe, expect, test } from 'bun:test'
import { gzipSync } from 'node:zlib'
import { loadConfig } from '../../src/config'
import { mappedRow } from '../../src/ingest/foreign-row'
import { mapSnowplowEvent } from '../../src/ingest/snowplow'
import { decodeSnowplowPost, snowplowQueryEvent } from '../../src/ingest/snowplow-decode'
import type { RequestContext } from '../../src/ingest/validate'
import { bodyOf, type Fixture, fixtures } from './fixtures'

const limits = loadConfig({}).limits
const LIMIT = limits.BODY_BYTES_MAX
const req = (receivedAtMs: number): RequestContext => ({ projectId: 1, receivedAtMs, skewMs: 0, idempotencyKey: null, single: false })
const ctxAt = (receivedAtMs: number) => ({ receivedAtMs, skewMsMax: limits.SKEW_MS_MAX, nestedBytesMax: limits.EVENT_BYTES_MAX })

// Every tp2 event of a fixture: the POST envelopes' items and the GET pixels' queries.
function mapFixture(f: Fixture) {
  return f.requests.filter(r => r.method === 'GET' || r.method === 'POST').flatMap(r => {
    let events: unknown[]
    if (r.method === 'GET') events = [snowplowQueryEvent(new URLSearchParams(r.query))]
    else {
      const d = decodeSnowplowPost(bodyOf(r), LIMIT)
      if (!d.ok) throw new Error(`${f.sdk}/${f.scenario}: ${d.problem.message}`)
      events = d.value
    }
    return events.map(raw => {
      const m = mapSnowplowEvent(raw, ctxAt(r.receivedAtMs))
      return { raw: raw as Record<string, string>, m, row: mappedRow(m, 0, req(r.receivedAtMs), limits), r }
    })
  })
}

const all = [...fixtures('snowplow-node'), ...fixtures('snowplow-browser')]
const props = (row: ReturnType<typeof mapFixture>[number]['row']) => (row.ok ? JSON.parse(row.row.properties) : null)
const context = (row: ReturnType<typeof mapFixture>[number]['row']) => (row.ok ? JSON.parse(row.row.context) : null)
const ORDER_CONTEXT = { schema: 'iglu:com.acme/order_context/jsonschema/1-0-0', data: { orderId: 'o-42', items: 2 } }

describe('recorded Snowplow traffic', () => {
  test('every fixture exists for both trackers, POST and GET', () => {
    expect(all.map(f => `${f.sdk}/${f.scenario}`).sort()).toEqual([
      'snowplow-browser/get', 'snowplow-browser/post',
      'snowplow-node/get-base64', 'snowplow-node/get-plain', 'snowplow-node/post-base64', 'snowplow-node/post-plain', 'snowplow-node/retry-503',
    ])
  })

  test('every POST body decodes to the envelope\'s data and every GET query to its fields, as the recorder saw them', () => {
    for (const f of all) {
      for (const r of f.requests) {
        if (r.method === 'POST') expect(decodeSnowplowPost(bodyOf(r), LIMIT)).toEqual({ ok: true, value: (r.decoded!.json as { data: unknown[] }).data })
        if (r.method === 'GET') expect(snowplowQueryEvent(new URLSearchParams(r.query))).toEqual(r.decoded!.query!)
      }
    }
  })

  test('every recorded event maps and validates with no problem, keeping eid, uid and its session', () => {
    for (const f of all) {
      const events = mapFixture(f)
      expect(events.length).toBeGreaterThan(0)
      for (const { raw, m, row, r } of events) {
        expect(m.errors).toEqual([])
        if (!row.ok) throw new Error(`${f.sdk}/${f.scenario} ${raw.e} was rejected: ${JSON.stringify(row.errors)}`)
        expect(row.row.id).toBe(raw.eid)
        expect(row.row.userId).toBe('u1')
        expect(row.row.sessionId).toBe(raw.sid)
        expect(row.row.anonymousId).toBe(raw.duid)
        expect(context(row).library).toEqual({ name: 'snowplow', version: raw.tv })
        expect(context(row).tp2.aid).toBe('inlet-app')
        // Device-stamped times are moments before the request arrived (same clock); ttm is checked below.
        if (!raw.ttm) expect(Math.abs(row.row.timestampMs - r.receivedAtMs)).toBeLessThan(120_000)
      }
    }
  })

  test('page views, pings, structured and self-describing events get their names, properties and contexts', () => {
    for (const f of all.filter(x => x.scenario !== 'retry-503')) {
      const by = Object.fromEntries(mapFixture(f).map(e => [e.raw.e === 'ue' ? e.row.ok && e.row.row.name : e.raw.e, e]))
      expect(by.pv.m.type).toBe('page')
      expect(by.pv.row.ok && by.pv.row.row.name).toBe('$page')
      expect(props(by.pv.row).url).toBe(by.pv.raw.url)
      expect(by.pp.row.ok && by.pp.row.row.name).toBe('$page_ping')
      expect(by.se.row.ok && by.se.row.row.name).toBe('checkout:add-to-basket')
      expect(props(by.se.row)).toEqual({ category: 'checkout', action: 'add-to-basket', label: 'sku-1', property: 'size', value: 42 })
      expect(by.se.m.type).toBe('track')
      expect(props(by.purchase.row)).toEqual({ total: 19.99, currency: 'EUR' })
      expect(context(by.purchase.row).event_schema).toBe('iglu:com.acme/purchase/jsonschema/1-0-2')
      // Contexts, from base64url cx or JSON co, land as the list the tracker sent.
      expect(context(by.purchase.row).contexts).toContainEqual(ORDER_CONTEXT)
      if (f.sdk === 'snowplow-node') {
        expect(context(by.se.row).contexts).toEqual([ORDER_CONTEXT])
        expect(props(by.screen_view.row)).toEqual({ name: 'Home', id: '0190b5a0-0000-7000-8000-0000000000aa' })
        // The true timestamp (ttm) is trusted as sent, with no skew correction.
        expect(by.purchase.row.ok && by.purchase.row.row.timestampMs).toBe(Date.parse('2026-01-02T03:04:05.678Z'))
      } else {
        // The browser tracker's own webPage context rides along with the event's.
        expect(context(by.pv.row).contexts.map((c: { schema: string }) => c.schema)).toContain('iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0')
      }
    }
  })

  test('the node tracker: a POST answered 503 comes again with the same eids, so it maps to the same ids', () => {
    const f = all.find(x => x.sdk === 'snowplow-node' && x.scenario === 'retry-503')!
    const posts = f.requests.filter(r => r.method === 'POST')
    expect(posts.map(p => p.status)).toEqual([503, 200])
    const ids = (r: typeof posts[number]) => mapFixture({ ...f, requests: [r] }).map(e => e.row.ok && e.row.row.id)
    expect(ids(posts[1])).toEqual(ids(posts[0]))
  })
})

const ctx = ctxAt(Date.UTC(2026, 0, 2))
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
const ue = (data: unknown, schema = 'iglu:com.acme/x/jsonschema/1-0-0') => ({ schema: 'iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0', data: { schema, data } })

describe('Snowplow decoding limits and hostile events', () => {
  const envelope = JSON.stringify({ schema: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4', data: [{ e: 'pv' }] })

  test('a body exactly at the limit decodes, one byte more is 413, and a gzip bomb stops at the limit', () => {
    expect(decodeSnowplowPost(new TextEncoder().encode(envelope), envelope.length).ok).toBe(true)
    expect(decodeSnowplowPost(new TextEncoder().encode(envelope), envelope.length - 1)).toMatchObject({ ok: false, problem: { code: 'payload_too_large' } })
    expect(decodeSnowplowPost(gzipSync(Buffer.alloc(20 * 1024 * 1024, 32)), 1024 * 1024)).toMatchObject({ ok: false, problem: { code: 'payload_too_large' } })
  })

  test('a body that is not a payload_data envelope with events is a 400 saying what is wrong', () => {
    const cases: [string, string][] = [
      ['[1]', 'got array'], ['{"schema":"iglu:x/y/jsonschema/1-0-0","data":[]}', 'schema must be'],
      ['{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":{}}', 'data must be an array'],
      ['{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[]}', 'no event'], ['{', 'not valid JSON'],
    ]
    for (const [body, message] of cases) {
      expect(decodeSnowplowPost(new TextEncoder().encode(body), LIMIT)).toEqual({ ok: false, problem: { code: 'malformed_json', message: expect.stringContaining(message) } })
    }
  })

  test('any JSON value maps without throwing, each wrong field reported at its tp2 path', () => {
    for (const raw of [null, 2, 'pv', [], {}, { e: 7 }, { e: 'ue', ue_px: 5 }, { e: 'se', se_ca: {} }, { e: 'pv', co: '[' }]) {
      expect(() => mapSnowplowEvent(raw, ctx)).not.toThrow()
    }
    expect(mapSnowplowEvent({ e: 'xx' }, ctx).errors).toEqual([{ path: '/e', message: 'must be one of pv, pp, se, ue, tr, ti' }])
    expect(mapSnowplowEvent({ e: 'se', se_ac: 'a' }, ctx).errors).toEqual([{ path: '/se_ca', message: 'required' }])
    expect(mapSnowplowEvent({ e: 'ue' }, ctx).errors).toEqual([{ path: '/ue_pr', message: expect.stringContaining('required') }])
    expect(mapSnowplowEvent({ e: 'ue', ue_px: '!!!' }, ctx).errors).toEqual([{ path: '/ue_px', message: 'ue_px is not valid base64' }])
    expect(mapSnowplowEvent({ e: 'ue', ue_pr: JSON.stringify(ue({}, 'not-iglu')) }, ctx).errors).toEqual([{ path: '/ue_pr/data/schema', message: expect.stringContaining('Iglu URI') }])
    expect(mapSnowplowEvent({ e: 'pv', cx: b64url({ schema: 'iglu:x/y/jsonschema/1-0-0', data: [] }) }, ctx).errors).toEqual([{ path: '/cx/schema', message: expect.stringContaining('contexts') }])
    expect(mapSnowplowEvent({ e: 'pv', dtm: 'yesterday', uid: ['u'] }, ctx).errors.map(e => e.path).sort()).toEqual(['/dtm', '/uid'])
  })

  test('a base64url event decoding to exactly its byte limit maps; one byte more is reported, not decoded', () => {
    const payload = ue({ k: 'v' })
    const size = JSON.stringify(payload).length
    expect(mapSnowplowEvent({ e: 'ue', ue_px: b64url(payload) }, { ...ctx, nestedBytesMax: size }).errors).toEqual([])
    expect(mapSnowplowEvent({ e: 'ue', ue_px: b64url(payload) }, { ...ctx, nestedBytesMax: size - 1 }).errors).toEqual([{ path: '/ue_px', message: expect.stringContaining(`over ${size - 1} bytes`) }])
  })

  test('validation errors come back in tp2 names: a too-long uid is /uid, a bad ue property is under /ue_pr', () => {
    const row = mappedRow(mapSnowplowEvent({ e: 'ue', uid: 'u'.repeat(500), ue_pr: JSON.stringify(ue({ bad: 'a\u0000b' })) }, ctx), 0, req(ctx.receivedAtMs), limits)
    expect(row.ok).toBe(false)
    if (!row.ok) expect(row.errors.map(e => e.path)).toEqual(['/uid', '/ue_pr/data/data/bad'])
  })

  test('timestamps: dtm is shifted by the skew stm reveals, ttm is kept, a skew past SKEW_MS_MAX is ignored', () => {
    const stm = ctx.receivedAtMs - 60_000 // the device clock is a minute slow
    expect(mapSnowplowEvent({ e: 'pv', dtm: String(stm - 5000), stm: String(stm) }, ctx).event.timestamp).toBe(ctx.receivedAtMs - 5000)
    expect(mapSnowplowEvent({ e: 'pv', ttm: '1767323045678', dtm: '1', stm: '2' }, ctx).event.timestamp).toBe(1767323045678)
    expect(mapSnowplowEvent({ e: 'pv', dtm: '1000', stm: '0' }, { ...ctx, skewMsMax: 1000 }).event.timestamp).toBe(1000)
    expect(mapSnowplowEvent({ e: 'pv' }, ctx).event.timestamp).toBeUndefined()
  })

  test('a self-describing event nested past JSON_DEPTH_MAX is refused under /ue_pr, without overflowing the stack', () => {
    let deep: Record<string, unknown> = {}
    for (let i = 0; i < 50_000; i++) deep = { a: deep }
    const row = mappedRow(mapSnowplowEvent({ e: 'ue', ue_pr: ue(deep) }, ctx), 0, req(ctx.receivedAtMs), limits)
    expect(row.ok).toBe(false)
    if (!row.ok) expect(row.errors).toEqual([{ path: expect.stringMatching(/^\/ue_pr\/data\/data(\/a)+$/), message: expect.stringContaining('JSON_DEPTH_MAX') }])
  })

  test('unknown tp2 fields are kept in context.tp2, and a __proto__ field stays data', () => {
    const raw = Object.fromEntries([['e', 'pv'], ['__proto__', 'x'], ['f_pdf', '1'], ['res', '1280x720']])
    const m = mapSnowplowEvent(raw, ctx)
    expect(({} as Record<string, unknown>).x).toBeUndefined()
    expect(Object.getOwnPropertyNames((m.event.context as { tp2: object }).tp2).sort()).toEqual(['__proto__', 'f_pdf', 'res'])
  })
})
