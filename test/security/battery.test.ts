// The bad-input battery: well over 1,000 generated hostile requests (fast-check)
// against the real server as a child process. Every one must get a 4xx with the
// contract's error body; none a 5xx; nothing may be stored for any of them; and the
// server's resident memory after the battery stays within a small bound of before.
// Kinds: malformed JSON, wrong types, huge and deep bodies, gzip bombs and bad gzip,
// invalid UTF-8, NUL characters and bytes, lone surrogates, SQL-looking strings in
// keys, ids, paths and query parameters, junk credentials, bad webhook signatures,
// lying Content-Length (raw sockets), unknown routes and wrong methods; and the same
// against the PostHog capture and Snowplow collector routes.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import fc from 'fast-check'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { signatureHeaders } from '../../src/ingest/signatures'
import { ADMIN_TOKEN, databaseUrl } from '../support/inlet'
import { type ServerProcess, startServer } from '../support/server'

const KiB = 1024
const MiB = 1024 * KiB
// Small limits keep "huge" bodies quick to send; the rules are the same at the defaults.
const BODY_BYTES_MAX = 256 * KiB
const CASES = 1_200
const WARMUP_CASES = 300
// Growth of the server's RSS allowed across the battery, after a warm-up battery
// has grown the heap and allocator pools to their working size.
const RSS_GROWTH_BYTES_MAX = 48 * MiB

let server: ServerProcess
let dataDir: string
let key: string
let projectId: number
let webhookUrl: string
let collectorUrl: string
const sql = postgres(databaseUrl(), { max: 1, onnotice: () => {} })

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'inlet-battery-'))
  server = await startServer({
    DATABASE_URL: databaseUrl(), INLET_ADMIN_TOKEN: ADMIN_TOKEN, INLET_DATA_DIR: dataDir,
    BODY_BYTES_MAX: String(BODY_BYTES_MAX), EVENT_BYTES_MAX: String(BODY_BYTES_MAX / 2),
  })
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
  const p = await (await fetch(`${server.url}/admin/projects`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'battery', rate_limit_rpm: 10_000_000 }) })).json() as { id: number; api_key: string }
  ;({ api_key: key, id: projectId } = p)
  const s = await (await fetch(`${server.url}/admin/projects/${projectId}/webhook-sources`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'b', scheme: 'stripe', secret: 'battery-secret-0123456789' }) })).json() as { url: string }
  webhookUrl = s.url
  const c = await (await fetch(`${server.url}/admin/projects/${projectId}/collector-tokens`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'b' }) })).json() as { snowplow_collector: string }
  collectorUrl = c.snowplow_collector
})
afterAll(async () => {
  await server.kill()
  await sql.end()
  rmSync(dataDir, { recursive: true, force: true })
})

// One hostile request and the statuses it may get (all 4xx).
interface Case {
  kind: string
  method: string
  path: string
  headers: Record<string, string>
  body?: string | Uint8Array | (() => ReadableStream<Uint8Array>)
  // Sent as is over a raw socket instead (lying Content-Length).
  wire?: string
  statuses: number[]
  // The bytes after a too-short Content-Length can arrive in the same packet, where Bun's
  // parser reads them as a second request, answers its own bare 400 and closes before
  // Inlet's answer to the first is written: a 400 all the same, but not one Inlet renders.
  bunMayAnswer?: true
}

const auth = () => ({ authorization: `Bearer ${key}` })
const ingest = fc.constantFrom('/v1/events', '/v1/events/batch')
const enc = (s: string) => encodeURIComponent(s)

const SQLISH = [
  "' or '1'='1", "'; drop table events; --", '1; select pg_sleep(5)', "\\'; delete from projects where '1'='1",
  '$$; truncate api_keys; $$', "' union select key_sha256 from api_keys --", '%27%20or%201%3D1', '1)) or ((1=1',
]
const sqlish = fc.tuple(fc.constantFrom(...SQLISH), fc.string({ maxLength: 10 })).map(([a, b]) => a + b)

// Text that is not a JSON object (so no route can take it as an event).
const malformed = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat()).map(([v, cut]) => { const s = JSON.stringify({ name: 'x', v }); return s.slice(0, cut % s.length) }),
  fc.constantFrom('{', '{"name":', '{"name":"x",}', "{'name':'x'}", '{"name":"x"}}', 'NaN', '{"name":"x" "id":1}', '\u0000', '{"name":"\u0001"}'),
).filter(s => { try { const v = JSON.parse(s); return typeof v !== 'object' || v === null || Array.isArray(v) } catch { return true } })

// An event whose name is certainly invalid, plus other fields of wrong types.
const badName = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.constant(''), fc.string({ minLength: 201, maxLength: 300 }), fc.object({ maxDepth: 1 }))
const wrongTyped = fc.record({
  name: badName,
  id: fc.option(fc.oneof(fc.integer(), fc.string({ minLength: 129, maxLength: 140 }), fc.constant({})), { nil: undefined }),
  timestamp: fc.option(fc.oneof(fc.constantFrom('yesterday', '2026-13-45T99:99:99Z', '2026-01-01', '1e400'), fc.boolean(), fc.constant(-1e20)), { nil: undefined }),
  properties: fc.option(fc.oneof(fc.array(fc.integer()), fc.string(), fc.integer(), fc.boolean()), { nil: undefined }),
  user_id: fc.option(fc.oneof(fc.integer(), fc.constant([]), fc.string({ minLength: 129, maxLength: 130 })), { nil: undefined }),
}, { requiredKeys: ['name'] })

const posthog = fc.constantFrom('/e/', '/i/v0/e/', '/batch/', '/capture/', '/track/')
// A PostHog event that cannot be stored: its name is invalid, or it has no distinct_id.
const wrongTypedPosthog = fc.oneof(
  fc.record({ event: badName, distinct_id: fc.string({ minLength: 1, maxLength: 10 }), uuid: fc.option(fc.oneof(fc.integer(), fc.string({ minLength: 129, maxLength: 140 })), { nil: undefined }) }),
  fc.record({ event: fc.string({ minLength: 1, maxLength: 20 }), properties: fc.option(fc.oneof(fc.array(fc.integer()), fc.string(), fc.integer()), { nil: undefined }) }),
)

const nest = (depth: number, leaf: string, open: string, close: string) => open.repeat(depth) + leaf + close.repeat(depth)

const invalidUtf8 = fc.constantFrom([0xff], [0xfe], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80], [0xf4, 0x90, 0x80, 0x80])

const bombs = [16, 64].map(mib => Bun.gzipSync(new Uint8Array(mib * MiB).fill(0x20), { level: 9 }))
  .concat([Bun.gzipSync(Buffer.from(JSON.stringify({ name: 'g', properties: { p: 'z'.repeat(2 * BODY_BYTES_MAX) } })))])

const streamOf = (bytes: Uint8Array) => () => {
  let at = 0
  return new ReadableStream<Uint8Array>({ pull(c) { if (at >= bytes.length) return c.close(); c.enqueue(bytes.subarray(at, (at += 16 * KiB))) } })
}

const cases: fc.Arbitrary<Case>[] = [
  fc.tuple(ingest, malformed).map(([path, body]) => ({ kind: 'malformed JSON', method: 'POST', path, headers: auth(), body, statuses: [400] })),
  fc.tuple(fc.constantFrom('/v1/track', '/v1/identify', '/v1/page'), malformed).map(([path, body]) => ({ kind: 'malformed JSON (Segment)', method: 'POST', path, headers: auth(), body, statuses: [400] })),
  wrongTyped.map(e => ({ kind: 'wrong types', method: 'POST', path: '/v1/events', headers: auth(), body: JSON.stringify(e), statuses: [422] })),
  fc.array(wrongTyped, { minLength: 1, maxLength: 5 }).map(events => ({ kind: 'wrong types (batch)', method: 'POST', path: '/v1/events/batch', headers: auth(), body: JSON.stringify({ events }), statuses: [422] })),
  fc.oneof(fc.constant({}), fc.record({ events: fc.oneof(fc.constant([]), fc.string(), fc.integer(), fc.object({ maxDepth: 1 })) })).map(b => ({ kind: 'wrong types (batch)', method: 'POST', path: '/v1/events/batch', headers: auth(), body: JSON.stringify(b), statuses: [422] })),
  fc.tuple(ingest, fc.integer({ min: BODY_BYTES_MAX + 1, max: 2 * BODY_BYTES_MAX }), fc.boolean()).map(([path, size, chunked]) => {
    const event = JSON.stringify({ name: 'huge' })
    const body = Buffer.from(event + ' '.repeat(size - event.length))
    return { kind: 'huge body', method: 'POST', path, headers: auth(), body: chunked ? streamOf(body) : body, statuses: [413] }
  }),
  fc.tuple(fc.integer({ min: 33, max: 50_000 }), fc.constantFrom('properties', 'context', 'array', 'batch')).map(([depth, where]) => {
    const deepObject = nest(depth, '1', '{"a":', '}')
    const body = where === 'array' ? nest(depth, '1', '[', ']')
      : where === 'batch' ? `{"events":[{"name":"d","properties":${deepObject}}]}`
      : `{"name":"d","${where}":${deepObject}}`
    // Past ~43,000 levels the body itself is over BODY_BYTES_MAX: 413 first.
    return { kind: 'deep body', method: 'POST', path: where === 'batch' ? '/v1/events/batch' : '/v1/events', headers: auth(), body, statuses: where === 'array' ? [400, 413] : [422, 413] }
  }),
  fc.tuple(ingest, fc.constantFrom(...bombs)).map(([path, bomb]) => ({ kind: 'gzip bomb', method: 'POST', path, headers: { ...auth(), 'content-encoding': 'gzip' }, body: bomb, statuses: [413] })),
  fc.uint8Array({ minLength: 0, maxLength: 512 }).map(bytes => ({ kind: 'bad gzip', method: 'POST', path: '/v1/events', headers: { ...auth(), 'content-encoding': 'gzip' }, body: bytes, statuses: [400] })),
  fc.tuple(ingest, invalidUtf8, fc.string({ maxLength: 20 })).map(([path, bad, text]) => {
    const json = path === '/v1/events' ? JSON.stringify({ name: `${text}#` }) : JSON.stringify({ events: [{ name: `${text}#` }] })
    const at = json.indexOf('#')
    const body = Buffer.concat([Buffer.from(json.slice(0, at)), Buffer.from(bad), Buffer.from(json.slice(at + 1))])
    return { kind: 'invalid UTF-8', method: 'POST', path, headers: auth(), body, statuses: [400] }
  }),
  fc.tuple(fc.string({ maxLength: 20 }), fc.constantFrom('name', 'user_id', 'session_id', 'key', 'value', 'context')).map(([text, where]) => {
    const s = `${text}\u0000${text}`
    const event = where === 'key' ? { name: 'n', properties: { [s]: 1 } } : where === 'value' ? { name: 'n', properties: { v: s } }
      : where === 'context' ? { name: 'n', context: { deep: [s] } } : { name: 'n', [where]: s }
    return { kind: 'NUL character', method: 'POST', path: '/v1/events', headers: auth(), body: JSON.stringify(event), statuses: [422] }
  }),
  fc.string({ maxLength: 20 }).map(text => ({ kind: 'NUL byte', method: 'POST', path: '/v1/events', headers: auth(), body: Buffer.concat([Buffer.from(`{"name":"${text.replace(/["\\]/g, '')}`), Buffer.from([0]), Buffer.from('"}')]), statuses: [400] })),
  fc.tuple(fc.constantFrom('\\ud800', '\\udfff', '\\ud83d', '\\ude00x'), fc.constantFrom('name', 'properties', 'key')).map(([lone, where]) => {
    const body = where === 'name' ? `{"name":"a${lone}"}` : where === 'properties' ? `{"name":"a","properties":{"s":"${lone}"}}` : `{"name":"a","properties":{"${lone}":1}}`
    return { kind: 'lone surrogate', method: 'POST', path: '/v1/events', headers: auth(), body, statuses: [422] }
  }),
  sqlish.map(s => ({ kind: 'SQL-looking key', method: 'GET', path: '/v1/events?limit=1', headers: { authorization: `Bearer ${s}` }, statuses: [401] })),
  sqlish.map(s => ({ kind: 'SQL-looking id', method: 'GET', path: `/v1/events/${enc(s)}`, headers: auth(), statuses: [404] })),
  fc.tuple(sqlish, fc.constantFrom('limit', 'from', 'to', 'cursor')).map(([s, p]) => ({ kind: 'SQL-looking query parameter', method: 'GET', path: `/v1/events?${p}=${enc(s)}`, headers: auth(), statuses: [422] })),
  sqlish.map(s => ({ kind: 'SQL-looking webhook token', method: 'POST', path: `/v1/webhooks/${enc(s)}`, headers: {}, body: '{"type":"x"}', statuses: [404] })),
  sqlish.map(s => ({ kind: 'SQL-looking admin id', method: 'GET', path: `/admin/projects/${enc(s)}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, statuses: [404] })),
  sqlish.map(s => ({ kind: 'SQL-looking name with NUL', method: 'POST', path: '/v1/events', headers: auth(), body: JSON.stringify({ name: `${s}\u0000` }), statuses: [422] })),
  fc.oneof(fc.string({ maxLength: 300 }), fc.constantFrom('Bearer', 'Basic !!!', 'Basic Og==', 'Bearer ik_', `Bearer ${'k'.repeat(5000)}`)).filter(h => /^[\t\x20-\x7e]*$/.test(h)).map(h => ({ kind: 'junk credentials', method: 'POST', path: '/v1/events', headers: h ? { authorization: h } : {}, body: '{"name":"x"}', statuses: [401] })),
  fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.option(fc.stringMatching(/^[0-9a-f]{0,64}$/), { nil: undefined })).map(([v, sig]) => {
    const body = JSON.stringify({ id: 'evt', type: 't', v })
    const headers: Record<string, string> = sig === undefined ? {} : { 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=${sig}` }
    return { kind: 'bad webhook signature', method: 'POST', path: webhookUrl, headers, body, statuses: [401] }
  }),
  fc.jsonValue({ maxDepth: 2 }).map(v => {
    const body = JSON.stringify({ id: 'stale', type: 't', v })
    return { kind: 'stale webhook timestamp', method: 'POST', path: webhookUrl, headers: signatureHeaders('stripe', 'battery-secret-0123456789', body, Date.now() - 3_600_000), body, statuses: [401] }
  }),
  fc.integer({ min: BODY_BYTES_MAX + 1, max: BODY_BYTES_MAX + 512 * KiB }).map(n => ({
    kind: 'lying Content-Length (over the limit)', method: 'POST', path: '/v1/events', headers: {}, statuses: [413],
    wire: `POST /v1/events HTTP/1.1\r\nHost: inlet\r\nAuthorization: Bearer ${key}\r\nContent-Length: ${n}\r\n\r\n{"name":"x"}`,
  })),
  fc.tuple(fc.integer({ min: 1, max: 11 }), fc.string({ maxLength: 30 })).map(([n, tail]) => ({
    kind: 'lying Content-Length (shorter than the body)', method: 'POST', path: '/v1/events', headers: {}, statuses: [400], bunMayAnswer: true,
    wire: `POST /v1/events HTTP/1.1\r\nHost: inlet\r\nAuthorization: Bearer ${key}\r\nContent-Length: ${n}\r\n\r\n{"name":"x${tail.replace(/["\\]/g, '')}"}`,
  })),
  // PostHog capture: a body that is no payload (400; an array of non-events, or text that
  // happens to be base64 of JSON, is events that are all invalid: 422), events of wrong
  // types, bombs whether announced or sniffed (posthog-js sends gzip with no header).
  fc.tuple(posthog, malformed).map(([path, body]) => ({ kind: 'malformed JSON (PostHog)', method: 'POST', path, headers: auth(), body, statuses: [400, 422] })),
  fc.tuple(posthog, fc.array(wrongTypedPosthog, { minLength: 1, maxLength: 5 })).map(([path, batch]) => ({ kind: 'wrong types (PostHog)', method: 'POST', path, headers: auth(), body: JSON.stringify({ batch }), statuses: [422] })),
  fc.tuple(posthog, fc.constantFrom(...bombs), fc.boolean()).map(([path, bomb, announced]) => ({ kind: 'gzip bomb (PostHog)', method: 'POST', path, headers: { ...auth(), ...(announced ? { 'content-encoding': 'gzip' } : { 'content-type': 'text/plain' }) }, body: bomb, statuses: [413] })),
  // Snowplow collector: no tp2 envelope (400), events that are all invalid (422), made-up tokens (401).
  malformed.map(body => ({ kind: 'malformed JSON (Snowplow)', method: 'POST', path: `${collectorUrl}/com.snowplowanalytics.snowplow/tp2`, headers: { 'content-type': 'application/json' }, body, statuses: [400] })),
  fc.tuple(sqlish, fc.constantFrom('e', 'eid', 'se_ca', 'ue_px', 'cx', 'dtm')).map(([v, field]) => ({ kind: 'SQL-looking tp2 field', method: 'GET', path: `${collectorUrl}/i?e=${field === 'e' ? enc(v) : 'ue'}&${field}=${enc(v)}`, headers: {}, statuses: [422] })),
  sqlish.map(t => ({ kind: 'SQL-looking collector token', method: 'GET', path: `/v1/snowplow/${enc(t)}/i?e=pv`, headers: {}, statuses: [401] })),
  fc.array(fc.stringMatching(/^[a-z0-9_-]{1,12}$/), { minLength: 1, maxLength: 4 }).map(parts => ({ kind: 'unknown route', method: 'GET', path: `/zz/${parts.join('/')}`, headers: auth(), statuses: [404] })),
  fc.tuple(fc.constantFrom('PUT', 'DELETE', 'PATCH'), fc.constantFrom('/v1/events', '/v1/events/batch', '/health', '/v1/webhooks/abc')).map(([method, path]) => ({ kind: 'wrong method', method, path, headers: auth(), statuses: [405] })),
]

// The first response on a raw socket: status and body.
function overSocket(wire: string): Promise<{ status: number; text: string }> {
  return new Promise(resolve => {
    const socket = connect(server.port, '127.0.0.1')
    let data = ''
    const done = () => {
      const head = data.indexOf('\r\n\r\n')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(data.slice(0, head))?.[1] ?? 0)
      socket.destroy()
      resolve({ status, text: data.slice(head + 4, head + 4 + length) })
    }
    socket.on('data', d => {
      data += d.toString('latin1')
      const head = data.indexOf('\r\n\r\n')
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(data.slice(0, head))?.[1] ?? -1)
      if (head >= 0 && length >= 0 && data.length >= head + 4 + length) done()
    })
    socket.on('close', done)
    socket.on('error', () => {})
    socket.write(wire)
  })
}

async function run(c: Case): Promise<{ status: number; text: string; contentType: string | null }> {
  if (c.wire) return { ...(await overSocket(c.wire)), contentType: 'application/json' }
  const body = typeof c.body === 'function' ? c.body() : c.body
  const r = await fetch(`${server.url}${c.path}`, { method: c.method, headers: c.headers, body, ...(typeof c.body === 'function' ? { duplex: 'half' } : {}) } as RequestInit)
  return { status: r.status, text: await r.text(), contentType: r.headers.get('content-type') }
}

function isContractError(text: string): boolean {
  try {
    const b = JSON.parse(text)
    return typeof b?.error?.code === 'string' && typeof b.error.message === 'string' && (b.error.details === undefined || Array.isArray(b.error.details))
  } catch {
    return false
  }
}

const rssBytes = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'))![1]) * 1024
const storedCount = async () => Number((await sql`select count(*) from events`)[0].count)

async function battery(runs: number, seed: number, outcomes: Map<string, number>, failures: string[]) {
  await fc.assert(fc.asyncProperty(fc.oneof(...cases), async c => {
    const r = await run(c)
    const key = `${c.kind} → ${r.status}`
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    const rendered = isContractError(r.text) && (r.contentType ?? '').includes('application/json')
    const ok = c.statuses.includes(r.status) && (rendered || (c.bunMayAnswer === true && r.text === ''))
    if (!ok) failures.push(`${c.kind}: ${c.method} ${c.path.slice(0, 80)} → ${r.status} ${r.text.slice(0, 200)} (expected ${c.statuses})`)
  }), { numRuns: runs, seed, endOnFailure: true })
}

test(`${CASES} generated hostile requests: each gets a 4xx with the contract error body, none stores a row, memory stays bounded`, async () => {
  const warm = new Map<string, number>()
  const failures: string[] = []
  await battery(WARMUP_CASES, 1, warm, failures)
  const eventsBefore = await storedCount()
  const rssBefore = rssBytes()
  const outcomes = new Map<string, number>()
  await battery(CASES, 42, outcomes, failures)
  // Let the server finish any work the last requests started, then measure.
  await Bun.sleep(500)
  const rssAfter = rssBytes()
  const eventsAfter = await storedCount()

  const byStatus = new Map<number, number>()
  for (const [k, n] of outcomes) { const s = Number(k.split('→ ')[1]); byStatus.set(s, (byStatus.get(s) ?? 0) + n) }
  const total = [...byStatus.values()].reduce((a, b) => a + b, 0)
  console.log(`battery: ${total} cases (after ${WARMUP_CASES} warm-up), by status ${JSON.stringify(Object.fromEntries([...byStatus].sort()))}`)
  console.log(`battery: by kind ${JSON.stringify(Object.fromEntries([...outcomes].sort()), null, 1)}`)
  console.log(`battery: server RSS ${(rssBefore / MiB).toFixed(1)} MiB before, ${(rssAfter / MiB).toFixed(1)} MiB after`)

  expect(failures).toEqual([])
  expect(total).toBeGreaterThanOrEqual(1_000)
  expect([...byStatus.keys()].every(s => s >= 400 && s < 500)).toBe(true)
  expect(eventsAfter).toBe(eventsBefore)
  expect(rssAfter - rssBefore).toBeLessThan(RSS_GROWTH_BYTES_MAX)
  expect(server.output()).not.toContain('unhandled error')
  // Still healthy and still taking real events.
  const ok = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: auth(), body: JSON.stringify({ name: 'after the battery' }) })
  expect(ok.status).toBe(200)
}, 300_000)
