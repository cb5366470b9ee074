// The embedded default against the real Postgres it runs: a first start, a restart
// that keeps the data, a double stop, and starts after a process or a Postgres was
// SIGKILLed. The tests share one cluster and run in order.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import postgres from 'postgres'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/embedded/postgres'

// The first test runs initdb (~1 s); the rest start an existing cluster (~0.1 s).
const TEST_MS_MAX = 60_000
const modulePath = path.resolve(import.meta.dir, '../src/embedded/postgres.ts')

let root = ''
let dataDir = ''
const started: EmbeddedPostgres[] = []
const logs: string[] = []
let doomed: ReturnType<typeof Bun.spawn> | undefined

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'inlet-embedded-'))
  // mkdtemp makes a 0700 dir; as root, Postgres runs as the postgres user, which
  // must be able to pass through it.
  await chmod(root, 0o755)
  dataDir = path.join(root, 'postgres')
})

afterAll(async () => {
  for (const pg of started) await pg.stop()
  // A test that failed half-way may have left the SIGKILL test's Postgres running.
  doomed?.kill('SIGKILL')
  const pid = await postmasterPid().catch(() => 0)
  if (pid > 0 && isRunning(pid)) process.kill(pid, 'SIGINT')
  while (pid > 0 && isRunning(pid)) await Bun.sleep(20)
  await rm(root, { recursive: true, force: true })
}, TEST_MS_MAX)

async function start(): Promise<EmbeddedPostgres> {
  const pg = await startEmbeddedPostgres({ dataDir, log: (_level, msg) => logs.push(msg) })
  started.push(pg)
  return pg
}

async function query<T>(url: string, run: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(url, { max: 1, idle_timeout: 1, connect_timeout: 5, onnotice: () => undefined })
  try {
    return await run(sql)
  } finally {
    await sql.end({ timeout: 5 })
  }
}

async function keptRows(url: string): Promise<number> {
  const [row] = await query(url, sql => sql`select count(*)::int as n from kept`)
  return row!.n
}

async function postmasterPid(): Promise<number> {
  return Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0])
}

// Running, not a zombie: a killed orphan lingers as one until init reaps it.
function isRunning(pid: number): boolean {
  const stat = `/proc/${pid}/stat`
  if (!existsSync(stat)) return false
  const text = readFileSync(stat, 'utf8')
  return !/^[ZX]/.test(text.slice(text.lastIndexOf(')') + 2))
}

test('a fresh data dir gets a cluster whose inlet database answers select 1', async () => {
  const startedAtMs = performance.now()
  const pg = await start()
  console.log(`first start (initdb + start + create database): ${Math.round(performance.now() - startedAtMs)} ms`)
  expect(new URL(pg.url).pathname).toBe('/inlet')
  expect([...await query(pg.url, sql => sql`select 1 as one`)]).toEqual([{ one: 1 }])
  await query(pg.url, async sql => {
    await sql`create table kept (id int primary key)`
    await sql`insert into kept values (1), (2)`
  })
  await pg.stop()
  expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false)
}, TEST_MS_MAX)

test('a restart on the same data dir keeps the data', async () => {
  const startedAtMs = performance.now()
  const pg = await start()
  console.log(`restart: ${Math.round(performance.now() - startedAtMs)} ms`)
  expect(await keptRows(pg.url)).toBe(2)
  await pg.stop()
}, TEST_MS_MAX)

test('stop() called twice at once and again later stops Postgres once', async () => {
  const pg = await start()
  await Promise.all([pg.stop(), pg.stop()])
  await pg.stop()
  await expect(query(pg.url, sql => sql`select 1`)).rejects.toThrow()
}, TEST_MS_MAX)

test('a start after our process was SIGKILLed stops the Postgres it left behind and keeps the data', async () => {
  const script = `
    import { startEmbeddedPostgres } from ${JSON.stringify(modulePath)}
    const pg = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, log() {} })
    console.log(pg.url)
    setInterval(() => {}, 1 << 30)
  `
  const child = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe', stderr: 'inherit', stdin: 'ignore' })
  doomed = child
  const reader = child.stdout.getReader()
  let out = ''
  while (!out.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`child exited before printing its URL: ${out}`)
    out += new TextDecoder().decode(value)
  }
  const orphan = await postmasterPid()
  child.kill('SIGKILL')
  await child.exited
  expect(isRunning(orphan)).toBe(true)

  const pg = await start()
  expect(isRunning(orphan)).toBe(false)
  expect(logs).toContain(`stopping Postgres pid ${orphan}, left running by an earlier run that was killed`)
  expect(await keptRows(pg.url)).toBe(2)
  await pg.stop()
}, TEST_MS_MAX)

test('a postmaster.pid left by a SIGKILLed Postgres does not block the next start', async () => {
  const crashed = await start()
  process.kill(await postmasterPid(), 'SIGKILL')
  await crashed.stop()
  expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(true)

  const pg = await start()
  expect(await keptRows(pg.url)).toBe(2)
  await pg.stop()
}, TEST_MS_MAX)
