// Admission by body bytes against the real server (src/http/server.ts): a chunked
// body, which declares no length, is weighed as it arrives. With others holding
// the room it is answered 503 + Retry-After and nothing of it is stored; alone it
// always gets through, however large (up to BODY_BYTES_MAX).

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import postgres from 'postgres'
import { type ServerProcess, startServer } from '../support/server'

const ADMIN_TOKEN = 'admission-admin-token-0123456789'
const KiB = 1024
// Room for one held 60,000-byte body plus a chunked body's first 64 KiB, and 5,536 bytes more.
const ACTIVE_MAX = 128 * KiB
const dataDir = `/tmp/inlet-admission-${process.pid}`
let server: ServerProcess
let key: string
let projectId: number
let sql: postgres.Sql

beforeAll(async () => {
  const url = process.env.INLET_TEST_DATABASE_URL!
  sql = postgres(url, { max: 1, onnotice: () => {} })
  server = await startServer({
    DATABASE_URL: url, INLET_ADMIN_TOKEN: ADMIN_TOKEN, INLET_DATA_DIR: dataDir, HTTP_BODY_BYTES_ACTIVE_MAX: String(ACTIVE_MAX),
  })
  const r = await fetch(`${server.url}/admin/projects`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ name: 'admission', plan: 'enterprise' }),
  })
  ;({ api_key: key, id: projectId } = await r.json() as { api_key: string; id: number })
})
afterAll(async () => {
  await server?.kill('SIGTERM')
  await sql?.end()
  rmSync(dataDir, { recursive: true, force: true })
})

// A batch of `events` events, about 330 bytes each, every id starting with `prefix`.
const batch = (prefix: string, events: number) => JSON.stringify({
  events: Array.from({ length: events }, (_, i) => ({ id: `${prefix}-${i}`, name: 'Chunked', properties: { pad: 'x'.repeat(280) } })),
})

// The body in 8 KiB chunks with no Content-Length: Bun's fetch sends it chunked.
const chunked = (text: string) => {
  const bytes = Buffer.from(text)
  let at = 0
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (at >= bytes.length) return c.close()
      c.enqueue(bytes.subarray(at, (at += 8 * KiB)))
    },
  })
}

const postChunked = async (text: string) => {
  const r = await fetch(`${server.url}/v1/events/batch`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: chunked(text),
  })
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() as any }
}

const stored = async (prefix: string) =>
  Number((await sql`select count(*) from events where project_id = ${projectId} and id like ${prefix + '-%'}`)[0].count)

// A request admitted with a declared 60,000-byte body that never finishes sending
// it: it holds its bytes until the socket closes.
async function holdRoom(): Promise<{ release(): void }> {
  const socket = await Bun.connect({ hostname: '127.0.0.1', port: server.port, socket: { data() {} } })
  socket.write(`POST /v1/events/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n`
    + 'Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"events":[')
  await Bun.sleep(300) // admitted and reading its body
  return { release: () => socket.end() }
}

test('a chunked body that outgrows the room left is answered 503 with Retry-After, and nothing of it is stored', async () => {
  const held = await holdRoom()
  try {
    const text = batch('refused', 300) // ~100 KB: past 64 KiB + 5,536 bytes
    expect(text.length).toBeGreaterThan(64 * KiB + 5_536)
    const r = await postChunked(text)
    expect(r.status).toBe(503)
    expect(r.retryAfter).toBe('1')
    expect(r.body.error.code).toBe('overloaded')
    expect(r.body.error.message).toContain('HTTP_BODY_BYTES_ACTIVE_MAX')
    expect(await stored('refused')).toBe(0)
    // Within the room left it goes through while the other request still holds its bytes.
    const small = batch('fits', 50) // ~17 KB
    const ok = await postChunked(small)
    expect([ok.status, ok.body.accepted]).toEqual([200, 50])
  } finally {
    held.release()
  }
  expect(await stored('fits')).toBe(50)
}, 30_000)

test('alone, a chunked body far over HTTP_BODY_BYTES_ACTIVE_MAX is read whole and stored', async () => {
  await Bun.sleep(300) // the held request of the previous test has been released
  const text = batch('alone', 1_000) // ~330 KB, 2.5x the room
  expect(text.length).toBeGreaterThan(2 * ACTIVE_MAX)
  const r = await postChunked(text)
  expect([r.status, r.body.accepted]).toEqual([200, 1_000])
  expect(await stored('alone')).toBe(1_000)
}, 30_000)
