// A minimal HTTP/1.1 keep-alive client over Bun.connect: the load generator's wire.
//
// Why not fetch: measured on this 2-core box against a bare Bun.serve at 64
// connections, fetch did 38.8k req/s and burnt ~1 core in the generator; wrk did
// 51k req/s with ~0.7 core; this client did 60k req/s with ~0.7 core. Every cycle
// the generator spends is a cycle the server under test does not get, so the
// cheapest client wins. It also keeps latency in our own HDR histogram, and lets
// one process hold 10,000 sockets (fetch queues past BUN_CONFIG_MAX_HTTP_REQUESTS).
//
// One request in flight per connection (no pipelining): that is what real clients
// and the published workloads do. Requests are pre-encoded bytes.

import type { Socket } from 'bun'

// A request that takes longer is failed as 'timeout' and its connection dropped.
export const REQUEST_TIMEOUT_MS = 60_000
// Largest response body kept when the caller asks for it (reports, W4 reads).
const RESPONSE_BYTES_MAX = 16 * 1024 * 1024

export interface Reply {
  status: number
  body: Uint8Array | null
  retryAfterS: number | null
  // Inlet's x-inlet-report-cache (hit/miss): reports are judged with their hit ratio.
  reportCache: string | null
}

export class HttpError extends Error {
  constructor(readonly code: 'timeout' | 'closed' | 'connect' | 'protocol', message: string) {
    super(message)
  }
}

const encoder = new TextEncoder()

export function encodeRequest(
  method: string, path: string, headers: Record<string, string>, body?: string | Uint8Array,
): Uint8Array {
  const bytes = body === undefined ? undefined : typeof body === 'string' ? encoder.encode(body) : body
  let head = `${method} ${path} HTTP/1.1\r\nHost: bench\r\n`
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
  if (bytes) head += `Content-Length: ${bytes.length}\r\n`
  head += '\r\n'
  if (!bytes) return encoder.encode(head)
  const out = new Uint8Array(head.length + bytes.length)
  out.set(encoder.encode(head), 0)
  out.set(bytes, head.length)
  return out
}

interface Pending {
  resolve: (reply: Reply) => void
  reject: (error: HttpError) => void
  keepBody: boolean
  startMs: number
}

const live = new Set<Connection>()
// One sweeper for all connections: a timer per request would cost more than the request.
setInterval(() => {
  const now = performance.now()
  for (const c of live) if (c.pending && now - c.pending.startMs > REQUEST_TIMEOUT_MS) c.fail(new HttpError('timeout', 'request timed out'))
}, 1000).unref()

export class Connection {
  pending: Pending | null = null
  private socket: Socket<undefined> | null = null
  private buffer: Buffer | null = null
  private unsent: Uint8Array | null = null
  closed = false

  static open(host: string, port: number): Promise<Connection> {
    const c = new Connection()
    return new Promise((resolve, reject) => {
      Bun.connect({
        hostname: host, port,
        socket: {
          open: s => { c.socket = s; live.add(c); resolve(c) },
          data: (_s, chunk) => c.onData(chunk),
          drain: () => c.flush(),
          close: () => c.fail(new HttpError('closed', 'connection closed')),
          error: (_s, e) => c.fail(new HttpError('closed', e.message)),
          connectError: (_s, e) => reject(new HttpError('connect', e.message)),
        },
      }).catch(e => reject(new HttpError('connect', String(e?.message ?? e))))
    })
  }

  send(request: Uint8Array, keepBody = false): Promise<Reply> {
    if (this.closed || !this.socket) return Promise.reject(new HttpError('closed', 'connection closed'))
    if (this.pending) throw new Error('one request at a time per connection')
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, keepBody, startMs: performance.now() }
      this.unsent = request
      this.flush()
    })
  }

  close() {
    this.closed = true
    live.delete(this)
    this.socket?.end()
  }

  fail(error: HttpError) {
    const p = this.pending
    this.pending = null
    this.closed = true
    live.delete(this)
    if (error.code === 'timeout') this.socket?.terminate()
    p?.reject(error)
  }

  flush() {
    if (!this.unsent || !this.socket) return
    const written = this.socket.write(this.unsent)
    this.unsent = written >= this.unsent.length ? null : this.unsent.subarray(Math.max(0, written))
  }

  private onData(chunk: Buffer) {
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk
    const p = this.pending
    if (!p) { this.buffer = null; return }
    const parsed = parseResponse(this.buffer, p.keepBody)
    if (parsed === 'incomplete') return
    if (parsed === 'invalid') return this.fail(new HttpError('protocol', 'unparseable response'))
    this.buffer = null
    this.pending = null
    if (parsed.close) { this.closed = true; live.delete(this); this.socket?.end() }
    p.resolve(parsed.reply)
  }
}

interface Parsed { reply: Reply; close: boolean }

// Parses one complete response from the start of `buf`, or says it is not all here yet.
export function parseResponse(buf: Buffer, keepBody: boolean): Parsed | 'incomplete' | 'invalid' {
  const headEnd = buf.indexOf('\r\n\r\n')
  if (headEnd < 0) return buf.length > 64 * 1024 ? 'invalid' : 'incomplete'
  // Header scanning by indexOf on one lower-cased string: measurably cheaper per
  // response than splitting into lines, and the generator's CPU is the server's loss.
  const head = buf.toString('latin1', 0, headEnd).toLowerCase()
  const status = Number(head.slice(9, 12))
  if (!head.startsWith('http/1.') || !Number.isInteger(status)) return 'invalid'
  const length = Number(header(head, 'content-length') ?? -1)
  const chunked = header(head, 'transfer-encoding')?.includes('chunked') ?? false
  const close = header(head, 'connection') === 'close'
  const retryAfter = header(head, 'retry-after')
  const retryAfterS = retryAfter === undefined ? null : Number(retryAfter)
  const reportCache = header(head, 'x-inlet-report-cache') ?? null
  const bodyStart = headEnd + 4
  let body: Uint8Array | null = null
  if (chunked) {
    const decoded = decodeChunked(buf, bodyStart)
    if (decoded === 'incomplete') return decoded
    body = decoded
  } else if (length >= 0) {
    if (buf.length < bodyStart + length) return 'incomplete'
    body = buf.subarray(bodyStart, bodyStart + length)
  } else if (status !== 204 && status !== 304 && status >= 200) {
    return 'invalid' // a close-delimited body: not something our servers send
  }
  if (!keepBody || (body && body.length > RESPONSE_BYTES_MAX)) body = null
  return { reply: { status, body: body ? Uint8Array.from(body) : null, retryAfterS, reportCache }, close }
}

function header(head: string, name: string): string | undefined {
  const at = head.indexOf(`\r\n${name}:`)
  if (at < 0) return undefined
  const end = head.indexOf('\r\n', at + 2)
  return head.slice(at + name.length + 3, end < 0 ? undefined : end).trim()
}

function decodeChunked(buf: Buffer, start: number): Uint8Array | 'incomplete' {
  const parts: Uint8Array[] = []
  let at = start
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at)
    if (lineEnd < 0) return 'incomplete'
    const size = parseInt(buf.toString('latin1', at, lineEnd), 16)
    if (size === 0) return buf.length >= lineEnd + 4 ? Buffer.concat(parts) : 'incomplete'
    if (buf.length < lineEnd + 2 + size + 2) return 'incomplete'
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
}

// The requests scenarios send, authenticated with a project key.
export const post = (path: string, key: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  encodeRequest('POST', path, { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers }, body)
export const get = (path: string, key: string) => encodeRequest('GET', path, { Authorization: `Bearer ${key}` })

export function json<T = any>(reply: Reply): T {
  return JSON.parse(new TextDecoder().decode(reply.body ?? new Uint8Array()))
}
