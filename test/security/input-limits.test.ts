// Every input limit at its default value, both sides: exactly at the limit passes,
// one more fails with the contract's status and error body, and nothing is stored
// for the failure. (test/http/limits.test.ts checks the same rules at small values.)

import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from 'bun:test'
import { limits } from '../../src/config'
import { startInlet, type TestInlet } from '../support/inlet'

// Big bodies and real waits: generous, so a busy machine is slow, not failing.
setDefaultTimeout(30_000)

const MiB = 1024 * 1024
let inlet: TestInlet
let key: string
let projectId: number
beforeAll(async () => {
  inlet = await startInlet()
  ;({ api_key: key, id: projectId } = await inlet.project())
})
afterAll(async () => { await inlet.stop() })

const rows = async () => Number((await inlet.sql`select count(*) from events where project_id = ${projectId}`)[0].count)
const send = (path: string, raw: string | Uint8Array | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) => inlet.request('POST', path, { key, raw, headers })
const post = (body: unknown, path = '/v1/events') => inlet.request('POST', path, { key, body })

// One small event padded with JSON whitespace to exactly `bytes`.
const padded = (bytes: number, name = 'padded') => {
  const event = JSON.stringify({ name })
  return event + ' '.repeat(bytes - event.length)
}

// A body that arrives in chunks with no Content-Length (chunked transfer).
const stream = (text: string, chunk = 64 * 1024) => {
  const bytes = Buffer.from(text)
  let at = 0
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= bytes.length) return c.close()
      c.enqueue(bytes.subarray(at, (at += chunk)))
    },
  })
}

const expectError = (r: { status: number; body: any }, status: number, code: string) => {
  expect(r.status).toBe(status)
  expect(r.body.error.code).toBe(code)
  expect(typeof r.body.error.message).toBe('string')
}

describe('the defaults are the contract\'s', () => {
  test('each limit of API.md is a named setting with the contract\'s default', () => {
    expect(limits.BODY_BYTES_MAX[0]).toBe(10 * MiB)
    expect(limits.EVENT_BYTES_MAX[0]).toBe(8 * MiB)
    expect(limits.BATCH_EVENTS_MAX[0]).toBe(10_000)
    expect(limits.JSON_DEPTH_MAX[0]).toBe(32)
    expect(limits.ID_CHARS_MAX[0]).toBe(128)
    expect(limits.NAME_CHARS_MAX[0]).toBe(200)
    expect(limits.PROPERTIES_KEYS_MAX[0]).toBe(1_000)
  })
})

describe('body size (BODY_BYTES_MAX, 10 MiB)', () => {
  test('a 10 MiB body passes and 10 MiB + 1 byte answers 413 payload_too_large, storing nothing', async () => {
    const before = await rows()
    expect((await send('/v1/events', padded(10 * MiB))).body.status).toBe('accepted')
    expectError(await send('/v1/events', padded(10 * MiB + 1)), 413, 'payload_too_large')
    expect(await rows()).toBe(before + 1)
  })

  test('streamed without Content-Length: 10 MiB passes, 10 MiB + 1 byte answers 413', async () => {
    expect((await send('/v1/events', stream(padded(10 * MiB)))).status).toBe(200)
    expectError(await send('/v1/events', stream(padded(10 * MiB + 1))), 413, 'payload_too_large')
  })

  test('a stream that never ends is cut off at the limit, not read forever', async () => {
    let sent = 0
    const endless = new ReadableStream<Uint8Array>({
      pull(c) {
        sent += 64 * 1024
        c.enqueue(new Uint8Array(64 * 1024).fill(0x20))
      },
    })
    expectError(await send('/v1/events', endless), 413, 'payload_too_large')
    expect(sent).toBeLessThan(11 * MiB)
  })

  test('a declared Content-Length over the limit answers 413 before a byte of the body is read', async () => {
    let pulled = 0
    const never = new ReadableStream<Uint8Array>({ pull() { pulled++; return new Promise(() => {}) } })
    const r = await send('/v1/events', never, { 'content-length': String(10 * MiB + 1) })
    expectError(r, 413, 'payload_too_large')
    expect(pulled).toBeLessThanOrEqual(1)
  })
})

describe('gzip (decoded size held to BODY_BYTES_MAX)', () => {
  const gz = { 'content-encoding': 'gzip' }
  test('a gzip body decoding to exactly 10 MiB passes, one byte more answers 413', async () => {
    expect((await send('/v1/events', Bun.gzipSync(Buffer.from(padded(10 * MiB))), gz)).status).toBe(200)
    expectError(await send('/v1/events', Bun.gzipSync(Buffer.from(padded(10 * MiB + 1))), gz), 413, 'payload_too_large')
  })

  test('a gzip bomb (100 KiB on the wire, 100 MiB decoded) answers 413 without inflating it', async () => {
    const bomb = Bun.gzipSync(new Uint8Array(100 * MiB).fill(0x20), { level: 9 })
    expect(bomb.byteLength).toBeLessThan(200 * 1024)
    const rss = process.memoryUsage.rss()
    expectError(await send('/v1/events', bomb, gz), 413, 'payload_too_large')
    // Decoding stopped at the cap: far less than the 100 MiB the bomb would grow to.
    expect(process.memoryUsage.rss() - rss).toBeLessThan(60 * MiB)
  })

  test('a body labelled gzip that is not gzip answers 400; an unknown Content-Encoding answers 400', async () => {
    expectError(await send('/v1/events', '{"name":"x"}', gz), 400, 'malformed_json')
    expectError(await send('/v1/events', '{"name":"x"}', { 'content-encoding': 'br' }), 400, 'malformed_json')
  })
})

describe('events and their fields', () => {
  test('a batch of 10,000 events passes, 10,001 answers 413 and stores nothing', async () => {
    const before = await rows()
    const events = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `b${n}-${i}`, name: 'b' }))
    const ok = await post({ events: events(10_000) }, '/v1/events/batch')
    expect([ok.status, ok.body.accepted]).toEqual([200, 10_000])
    expectError(await post({ events: events(10_001) }, '/v1/events/batch'), 413, 'payload_too_large')
    expect(await rows()).toBe(before + 10_000)
  })

  test('an event of exactly 8 MiB serialised passes, one byte more answers 413', async () => {
    // Serialised size: properties + context ('{}') + name + id + 64 bytes of row overhead.
    const event = (bytes: number, id: string) => ({ id, name: 'big', properties: { p: 'x'.repeat(bytes - 64 - 3 - id.length - 2 - '{"p":""}'.length) } })
    expect((await post(event(8 * MiB, 'at'))).body.status).toBe('accepted')
    expectError(await post(event(8 * MiB + 1, 'over')), 413, 'payload_too_large')
  })

  const nest = (depth: number): unknown => (depth === 1 ? { leaf: 1 } : { n: nest(depth - 1) })
  test('properties nested 32 deep pass, 33 deep answer 422', async () => {
    expect((await post({ name: 'deep', properties: nest(32) })).status).toBe(200)
    const r = await post({ name: 'deep', properties: nest(33) })
    expectError(r, 422, 'validation_failed')
    expect(r.body.error.details[0].message).toContain('JSON_DEPTH_MAX')
  })

  test('a body nested 100,000 deep answers 4xx, never 5xx', async () => {
    for (const raw of ['['.repeat(100_000) + ']'.repeat(100_000), '{"name":"x","properties":' + '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_001)]) {
      const r = await send('/v1/events', raw)
      expect(r.status).toBeGreaterThanOrEqual(400)
      expect(r.status).toBeLessThan(500)
      expect(typeof r.body.error.code).toBe('string')
    }
  })

  test('1,000 properties pass, 1,001 answer 422', async () => {
    const props = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))
    expect((await post({ name: 'wide', properties: props(1_000) })).status).toBe(200)
    const r = await post({ name: 'wide', properties: props(1_001) })
    expect([r.status, r.body.error.details[0].path]).toEqual([422, '/properties'])
  })

  test('an id of 128 characters passes, 129 answers 422; a name of 200 passes, 201 answers 422', async () => {
    expect((await post({ id: 'i'.repeat(128), name: 'x' })).status).toBe(200)
    expect((await post({ id: 'j'.repeat(129), name: 'x' })).body.error.details[0].path).toBe('/id')
    expect((await post({ name: 'n'.repeat(200) })).status).toBe(200)
    expect((await post({ name: 'n'.repeat(201) })).body.error.details[0].path).toBe('/name')
  })

  test('NUL characters and lone surrogates anywhere are refused with their path, so Postgres never rejects an acknowledged event', async () => {
    const before = await rows()
    const cases: [string, string][] = [
      ['{"name":"ok","user_id":"u\\u0000"}', '/user_id'],
      ['{"name":"ok","properties":{"a\\u0000b":1}}', '/properties/a\u0000b'],
      ['{"name":"ok","context":{"deep":[{"s":"\\udc00"}]}}', '/context/deep/0/s'],
      ['{"name":"\\ud83d"}', '/name'],
      ['{"name":"ok","properties":{"\\ud800":1}}', '/properties/\ud800'],
    ]
    for (const [raw, path] of cases) {
      const r = await send('/v1/events', raw)
      expectError(r, 422, 'validation_failed')
      expect(r.body.error.details[0].path).toBe(path)
    }
    expect(await rows()).toBe(before)
    // A properly paired surrogate (an emoji) is fine.
    expect((await send('/v1/events', '{"name":"\\ud83d\\ude00"}')).status).toBe(200)
  })

  test('invalid UTF-8 answers 400 malformed_json and stores nothing', async () => {
    const before = await rows()
    const bad = [
      [0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d], // {"name":"\xff"}
      [0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d], // overlong '/'
      [0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d], // a surrogate encoded in UTF-8
      [0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0x22, 0x7d], // truncated sequence
    ]
    for (const bytes of bad) {
      const r = await send('/v1/events', new Uint8Array(bytes))
      expectError(r, 400, 'malformed_json')
      expect(r.body.error.message).toContain('UTF-8')
    }
    expect(await rows()).toBe(before)
  })

  test('SQL-looking strings are stored verbatim as data', async () => {
    const name = "x'); drop table events; --"
    const r = await post({ id: "1' or '1'='1", name, user_id: '\\x00; select pg_sleep(10)', properties: { "'; delete from projects; --": '$1 $$ \\' } })
    expect(r.body.status).toBe('accepted')
    const [row] = await inlet.sql`select name, user_id, properties from events where project_id = ${projectId} and id = ${"1' or '1'='1"}`
    expect(row).toEqual({ name, user_id: '\\x00; select pg_sleep(10)', properties: { "'; delete from projects; --": '$1 $$ \\' } })
  })
})

describe('routes and methods', () => {
  test('unknown routes answer 404 not_found with the contract body', async () => {
    for (const [method, path] of [['GET', '/nope'], ['POST', '/v1/nope'], ['GET', '/v1/events/a/b'], ['GET', '/admin/nope'], ['GET', '/v2/events']]) {
      expectError(await inlet.request(method, path, { key }), 404, 'not_found')
    }
  })

  test('a known route with the wrong method answers 405 with Allow', async () => {
    const cases: [string, string, string][] = [
      ['PUT', '/v1/events', 'POST'], ['DELETE', '/v1/events/batch', 'POST'], ['GET', '/v1/webhooks/wh_x', 'POST'], ['POST', '/health', 'GET'],
    ]
    for (const [method, path, allowed] of cases) {
      const r = await inlet.request(method, path, { key })
      expectError(r, 405, 'method_not_allowed')
      expect(r.headers.get('allow')).toContain(allowed)
    }
  })
})
