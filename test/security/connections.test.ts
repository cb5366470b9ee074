// Connection hygiene and lying clients, against the real server over raw sockets:
// slow clients are closed and never starve the others, and a Content-Length that
// lies gets the contract's answer (or a closed socket), never a 5xx, never a row.
// Lower bounds on timings are safe on a slow machine; upper bounds are generous.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { ADMIN_TOKEN, databaseUrl } from '../support/inlet'
import { type ServerProcess, startServer } from '../support/server'

// Bun (uWS) counts timeouts in 4 s ticks, so a timeout fires within 4 s either side
// of its limit. The idle timeout is set three ticks above the request timeout, so a
// stalled body closed before IDLE_S - 4 s shows the per-request timeout at work.
const IDLE_S = 12
const TICK_MS = 4_000
const REQUEST_TIMEOUT_MS = 2_000
const BODY_BYTES_MAX = 64 * 1024
let server: ServerProcess
let dataDir: string
let key: string
let projectId: number
const sql = postgres(databaseUrl(), { max: 1, onnotice: () => {} })

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'inlet-conn-'))
  server = await startServer({
    DATABASE_URL: databaseUrl(), INLET_ADMIN_TOKEN: ADMIN_TOKEN, INLET_DATA_DIR: dataDir,
    HTTP_IDLE_TIMEOUT_S: String(IDLE_S), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    BODY_BYTES_MAX: String(BODY_BYTES_MAX), EVENT_BYTES_MAX: String(BODY_BYTES_MAX),
  })
  const r = await fetch(`${server.url}/admin/projects`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ name: 'conn', plan: 'enterprise' }) })
  ;({ api_key: key, id: projectId } = (await r.json()) as { api_key: string; id: number })
})
afterAll(async () => {
  await server.kill()
  await sql.end()
  rmSync(dataDir, { recursive: true, force: true })
})

const rows = async () => Number((await sql`select count(*) from events where project_id = ${projectId}`)[0].count)

interface Exchange {
  socket: Socket
  // Everything the server sent, and when it closed (ms after connect).
  closed: Promise<{ text: string; afterMs: number }>
}

function open(): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1')
    const started = performance.now()
    let text = ''
    socket.on('data', d => { text += d.toString('latin1') })
    socket.on('error', () => {})
    const closed = new Promise<{ text: string; afterMs: number }>(done => socket.on('close', () => done({ text, afterMs: performance.now() - started })))
    socket.once('connect', () => resolve({ socket, closed }))
    socket.once('error', reject)
  })
}

// The first response in `text`: status and parsed JSON body.
function firstResponse(text: string): { status: number; body: any } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1])
  const head = text.indexOf('\r\n\r\n')
  const length = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(0, head))?.[1] ?? 0)
  const raw = text.slice(head + 4, head + 4 + length)
  let body: unknown = raw
  try { body = JSON.parse(raw) } catch {}
  return { status, body }
}

const postHead = (contentLength: number | string) =>
  `POST /v1/events HTTP/1.1\r\nHost: inlet\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n`

describe('slow clients', () => {
  test('clients trickling their headers byte by byte are closed, and other clients are served meanwhile', async () => {
    const head = `GET /health HTTP/1.1\r\nHost: inlet\r\nX-Padding: ${'p'.repeat(40)}\r\n\r\n`
    const slow = await Promise.all(Array.from({ length: 20 }, () => open()))
    let sending = true
    const trickle = (async () => {
      // Two bytes a second: the headers would take ~40 s to arrive.
      for (let i = 0; i < head.length && sending; i++) {
        for (const s of slow) if (!s.socket.destroyed) s.socket.write(head[i])
        await Bun.sleep(500)
      }
    })()
    const served: number[] = []
    for (let i = 0; i < 20; i++) {
      served.push((await fetch(`${server.url}/health`)).status)
      await Bun.sleep(100)
    }
    expect(served.every(s => s === 200)).toBe(true)
    const results = await Promise.all(slow.map(s => s.closed))
    sending = false
    await trickle
    for (const r of results) {
      expect(r.text).toBe('')
      // Bun's header timeout is ~10 s; well before the headers could have arrived.
      expect(r.afterMs).toBeLessThan(30_000)
    }
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
  }, 60_000)

  test('a body that stalls is closed after HTTP_REQUEST_TIMEOUT_MS and nothing is stored', async () => {
    const before = await rows()
    const c = await open()
    c.socket.write(postHead(100) + '{"name":"stall"')
    const r = await c.closed
    expect(r.afterMs).toBeLessThan(IDLE_S * 1000 - TICK_MS)
    expect(r.text).not.toMatch(/^HTTP\/1\.1 [25]/)
    expect(await rows()).toBe(before)
  }, 30_000)

  test('a body trickled one byte every 200 ms is closed too: body bytes do not extend the deadline', async () => {
    const c = await open()
    c.socket.write(postHead(1_000))
    let open_ = true
    c.closed.then(() => { open_ = false })
    const trickle = (async () => { while (open_) { c.socket.write(' '); await Bun.sleep(200) } })()
    const r = await c.closed
    await trickle
    expect(r.afterMs).toBeLessThan(IDLE_S * 1000 - TICK_MS)
  }, 30_000)

  test('an idle keep-alive connection is closed after HTTP_IDLE_TIMEOUT_S, also after a request with a body', async () => {
    const c = await open()
    // A POST gets the shorter request timeout while it runs; once answered, the
    // connection is back on the idle timeout.
    c.socket.write(postHead(15) + '{"name":"idle"}')
    const r = await c.closed
    expect(firstResponse(r.text).status).toBe(200)
    expect(r.afterMs).toBeGreaterThanOrEqual(IDLE_S * 1000 - TICK_MS - 100)
    expect(r.afterMs).toBeLessThan(IDLE_S * 1000 + TICK_MS + 10_000)
  }, 30_000)
})

describe('lying Content-Length', () => {
  test('a Content-Length over BODY_BYTES_MAX answers 413 with the contract body before any body byte is sent', async () => {
    const c = await open()
    c.socket.write(postHead(BODY_BYTES_MAX + 1))
    // Wait for the answer without sending a single body byte.
    const text = await new Promise<string>(resolve => {
      let t = ''
      c.socket.on('data', d => { t += d.toString('latin1'); if (t.includes('}}')) resolve(t) })
    })
    c.socket.destroy()
    const r = firstResponse(text)
    expect(r.status).toBe(413)
    expect(r.body.error.code).toBe('payload_too_large')
    expect(typeof r.body.error.message).toBe('string')
  })

  test('a Content-Length at BODY_BYTES_MAX is read whole', async () => {
    const event = JSON.stringify({ name: 'exact' })
    const body = event + ' '.repeat(BODY_BYTES_MAX - event.length)
    const c = await open()
    c.socket.write(postHead(body.length) + body)
    const text = await new Promise<string>(resolve => {
      let t = ''
      c.socket.on('data', d => { t += d.toString('latin1'); if (t.includes('}')) resolve(t) })
    })
    c.socket.destroy()
    expect(firstResponse(text)).toMatchObject({ status: 200, body: { status: 'accepted' } })
  })

  test('a Content-Length shorter than the body: the declared bytes are parsed (400 malformed_json) and nothing is stored', async () => {
    const before = await rows()
    const c = await open()
    c.socket.write(postHead(8) + '{"name":"truncated"}')
    const r = await c.closed
    const first = firstResponse(r.text)
    expect(first.status).toBe(400)
    expect(first.body.error.code).toBe('malformed_json')
    expect(await rows()).toBe(before)
  }, 30_000)

  test('a Content-Length longer than the body, then the client hangs up: closed, nothing stored, the server stays healthy', async () => {
    const before = await rows()
    const c = await open()
    c.socket.write(postHead(500) + '{"name":"short"}')
    await Bun.sleep(200)
    c.socket.end()
    const r = await c.closed
    expect(r.text).not.toMatch(/^HTTP\/1\.1 [25]/)
    expect(await rows()).toBe(before)
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
  })

  test('a Content-Length that is not a number is refused with a 400', async () => {
    const c = await open()
    c.socket.write(postHead('12abc') + '{"name":"x"}')
    const r = await c.closed
    expect(firstResponse(r.text).status).toBe(400)
  }, 30_000)

  test('after every lying client the server logged no 5xx and still serves', async () => {
    expect(server.output()).not.toContain('"level":"error"')
    expect(server.output()).not.toContain('unhandled error')
    const r = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ name: 'after' }) })
    expect(r.status).toBe(200)
  })
})
