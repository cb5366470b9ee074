// Checks the fault proxy against the run's Postgres (INLET_TEST_ADMIN_URL; it is
// never stopped here, the proxy only breaks the path to it) and against a local
// echo server for byte order under backpressure.
import { afterEach, beforeEach, expect, test } from 'bun:test'
import postgres from 'postgres'
import { startFaultProxy, type FaultProxy } from './fault-proxy'

const admin = new URL(process.env.INLET_TEST_ADMIN_URL!)
const PG = { host: admin.hostname, port: Number(admin.port || 5432) }
// Errors postgres.js raises when the socket dies or cannot be opened.
const CONNECTION_ERROR_CODES = ['ECONNRESET', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']

let proxy: FaultProxy
const clients: postgres.Sql[] = []

function connect(connect_timeout_s = 2): postgres.Sql {
  const sql = postgres({
    host: proxy.host,
    port: proxy.port,
    user: decodeURIComponent(admin.username) || 'postgres',
    password: decodeURIComponent(admin.password) || undefined,
    database: admin.pathname.slice(1) || 'postgres',
    max: 1,
    idle_timeout: 5,
    connect_timeout: connect_timeout_s,
    onnotice: () => {},
  })
  clients.push(sql)
  return sql
}

// Resolves to 'timeout' if the promise has not settled within timeout_ms.
function within<T>(promise: Promise<T>, timeout_ms: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeout_ms)
  })
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer))
}

beforeEach(async () => {
  proxy = await startFaultProxy({ target: PG })
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((sql) => sql.end({ timeout: 0 })))
  await proxy.stop()
})

test('a query through the proxy reaches Postgres and counts as one connection', async () => {
  const sql = connect()
  const [row] = await sql`select 1 as one`
  expect(row!.one).toBe(1)
  expect(proxy.connections).toBe(1)
})

test('with 200 ms of latency a select 1 takes at least 200 ms', async () => {
  const sql = connect()
  await sql`select 1` // open the connection before measuring
  proxy.setLatency(200)
  const started_ms = performance.now()
  await sql`select 1`
  expect(performance.now() - started_ms).toBeGreaterThanOrEqual(200)
})

test('latency keeps the byte order of a multi-megabyte result', async () => {
  const sql = connect()
  proxy.setLatency(5)
  const rows_count = 500_000
  const [row] = await sql`
    select string_agg(lpad(i::text, 8, '0'), '' order by i) as s
    from generate_series(1, ${rows_count}::int) as i`
  let expected = ''
  for (let i = 1; i <= rows_count; i++) expected += String(i).padStart(8, '0')
  expect(row!.s.length).toBe(expected.length)
  expect(row!.s === expected).toBe(true)
})

test('resetAll makes an in-flight query fail with a connection error', async () => {
  const sql = connect()
  await sql`select 1`
  const sleeping = sql`select pg_sleep(1)`.execute()
  setTimeout(() => proxy.resetAll(), 100)
  const error = (await sleeping.then(() => null, (e: unknown) => e)) as { code?: string } | null
  expect(error).not.toBeNull()
  expect(CONNECTION_ERROR_CODES).toContain(error!.code!)
  expect(proxy.connections).toBe(0)
})

test('a blackhole stalls queries and new connections; lifting it lets a new connection work', async () => {
  const sql = connect()
  await sql`select 1`
  proxy.blackhole(true)
  expect(await within(sql`select 1`.execute(), 500)).toBe('timeout')
  const stalled = connect(1)
  const error = (await sql_error(stalled`select 1`)) as { code?: string }
  expect(error.code).toBe('CONNECT_TIMEOUT')

  proxy.blackhole(false)
  const [row] = await connect()`select 2 as two`
  expect(row!.two).toBe(2)
})

test('refuse makes connecting fail with ECONNREFUSED and keeps existing connections', async () => {
  const existing = connect()
  await existing`select 1`
  proxy.refuse(true)
  const error = (await sql_error(connect()`select 1`)) as { code?: string }
  expect(error.code).toBe('ECONNREFUSED')
  expect((await existing`select 3 as three`)[0]!.three).toBe(3)

  proxy.refuse(false)
  expect((await connect()`select 4 as four`)[0]!.four).toBe(4)
})

test('bytes echoed through a slow reader arrive complete and in order', async () => {
  // The echo server keeps what the socket did not accept and sends it on drain.
  const echo = Bun.listen<{ unsent: Uint8Array[] }>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open: (socket) => void (socket.data = { unsent: [] }),
      data(socket, data) {
        socket.data.unsent.push(data.slice())
        echoFlush(socket)
      },
      drain: echoFlush,
    },
  })
  await proxy.stop()
  proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: echo.port } })
  proxy.setLatency(1)

  // 16 MiB is several times the proxy's per-direction limit and the kernel buffers,
  // so partial writes, drain and pause/resume all happen.
  const sent = new Uint8Array(16 * 1024 * 1024)
  for (let i = 0; i < sent.length; i++) sent[i] = (i * 7 + (i >> 13)) & 0xff
  const received = new Uint8Array(sent.length)
  let received_bytes = 0
  let sent_bytes = 0
  const done = Promise.withResolvers<void>()
  const send = (socket: { write(d: Uint8Array): number }) => {
    while (sent_bytes < sent.length) {
      const written = socket.write(sent.subarray(sent_bytes, sent_bytes + 1024 * 1024))
      if (written <= 0) return
      sent_bytes += written
    }
  }
  const client = await Bun.connect({
    hostname: proxy.host,
    port: proxy.port,
    socket: {
      // The client does not read for a while, so the proxy's queue towards it
      // passes its limit and the proxy must stop reading from the echo server.
      open(socket) {
        socket.pause()
        setTimeout(() => socket.resume(), 300)
        send(socket)
      },
      drain: send,
      data(_socket, data) {
        received.set(data, received_bytes)
        received_bytes += data.byteLength
        if (received_bytes === sent.length) done.resolve()
      },
    },
  })
  await done.promise
  client.end()
  echo.stop(true)
  expect(Buffer.compare(received, sent)).toBe(0)
}, 20_000)

function sql_error(query: PromiseLike<unknown>): Promise<unknown> {
  return Promise.resolve(query).then(
    () => {
      throw new Error('expected the query to fail')
    },
    (error: unknown) => error,
  )
}

function echoFlush(socket: { data: { unsent: Uint8Array[] }; write(d: Uint8Array): number }): void {
  const unsent = socket.data.unsent
  while (unsent.length > 0) {
    const head = unsent[0]!
    const written = socket.write(head)
    if (written < 0) return
    if (written < head.byteLength) {
      unsent[0] = head.subarray(written)
      return
    }
    unsent.shift()
  }
}
