// Export and erasure at scale (issue 13), against the real server (`bun src/main.ts`):
// EVENTS events of one project over 20 days, seeded by Postgres itself one day
// partition at a time with their event_ids and rollups (bench/lib/lifecycle-seed.ts), then
//   export:  GET /v1/events/export?from=… covering the newest EXPORT events, read to
//            the end; rows/s, and the server's peak RSS (VmHWM) against its RSS
//            before; the rows received must equal a count of that range;
//   erasure: DELETE /v1/users/target (ERASE events, every EVENTS/ERASE-th) until
//            done; seconds; then checked: the user's rows and memberships are gone,
//            events and event_ids dropped by exactly ERASE, and every minute and hour
//            rollup equals a recount of the events left.
// Estimate first: an export page of 1,000 rows is one index scan (~5-10 ms) plus
// ~5-10 µs per row of JSON in Bun, so ~70-150k rows/s (the 2M run: 69k); memory flat
// (one page, ~1-2 MiB). Erasure deletes in batches of RETENTION_BATCH_ROWS per
// partition, each row an index-located delete plus an event_ids delete and a rollup
// upsert: ~20-60 µs/row, so 100k rows in ~2-6 s, a little more among 10M than 2M
// (deeper event_ids index, same per-partition work).
//
// Phases, so that the bench lock is held only while measuring:
//   bun bench/lifecycle-cost.ts seed      fresh database, seeded (pauses while the lock is held by another bench)
//   bun bench/lifecycle-cost.ts measure   export, erasure, checks; drops the database (KEEP=1 keeps it)
//   bun bench/lifecycle-cost.ts drop      drops the database
//   bun bench/lifecycle-cost.ts           all three in one go (hold the lock around it)
// e.g.
//   EVENTS=10000000 ERASE=100000 EXPORT=5000000 bun bench/lifecycle-cost.ts seed
//   until mkdir /tmp/inlet-bench.lock 2>/dev/null; do sleep 30; done; trap 'rmdir /tmp/inlet-bench.lock' EXIT
//   bun bench/lifecycle-cost.ts measure

import postgres from 'postgres'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { DAY_MS } from '../src/store/partitions'
import { startServer, type ServerProcess } from '../test/support/server'
import { type Plan, rollupMismatches, seed, SPAN_DAYS, timeOf, totals } from './lib/lifecycle-seed'

const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const EVENTS = Number(process.env.EVENTS ?? 2_000_000)
const ERASE = Number(process.env.ERASE ?? 100_000)
const LOCK = '/tmp/inlet-bench.lock'
const STATE = join(tmpdir(), 'inlet-bench-lifecycle.json')
const TOKEN = 'bench-admin-token-0123456789'
const DB = 'inlet_bench_lifecycle'
const phase = process.argv[2] ?? 'all'
if (!['seed', 'measure', 'drop', 'all'].includes(phase)) throw new Error(`unknown phase ${phase}: seed, measure, drop or nothing (all)`)
if (!(EVENTS > 0 && ERASE > 0 && ERASE <= EVENTS)) throw new Error('need 0 < ERASE <= EVENTS')

const u = new URL(url)
u.pathname = `/${DB}`
const dbUrl = u.toString()
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`)
const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`
const n = (x: number) => x.toLocaleString('en-US')

interface State extends Plan { apiKey: string; partitions: number }

async function dropDatabase() {
  const admin = postgres(url, { max: 1, idle_timeout: 1, connect_timeout: 10, onnotice: () => {} })
  await admin.unsafe(`drop database if exists ${DB} with (force)`)
  await admin.end()
  rmSync(STATE, { force: true })
  log(`dropped database ${DB}`)
}

const serverEnv = (dataDir: string) => ({ DATABASE_URL: dbUrl, INLET_ADMIN_TOKEN: TOKEN, INLET_DATA_DIR: dataDir, LOG_LEVEL: 'warn', PARTITION_AHEAD_DAYS: '2' })

async function seedPhase(yieldTo?: string): Promise<State> {
  const admin = postgres(url, { max: 1, idle_timeout: 1, connect_timeout: 10, onnotice: () => {} })
  await admin.unsafe(`drop database if exists ${DB} with (force)`)
  await admin.unsafe(`create database ${DB}`)
  await admin.end()
  // The server applies the migrations and makes the project; it is stopped while
  // Postgres loads, so nothing else touches the tables (and no CPU goes to it).
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-bench-lifecycle-'))
  const server = await startServer(serverEnv(dataDir), 60_000)
  const created = await (await fetch(`${server.url}/admin/projects`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ name: 'bench', plan: 'enterprise' }) })).json() as { id: number; api_key: string }
  await server.kill('SIGTERM')
  rmSync(dataDir, { recursive: true, force: true })
  // The newest event a minute ago: every one is before an export's default `to`.
  const state: State = { projectId: created.id, apiKey: created.api_key, events: EVENTS, erase: ERASE, partitions: 0,
    t0Ms: Math.floor(Date.now() / 1000) * 1000 - SPAN_DAYS * DAY_MS - 60_000 }
  const sql = postgres(dbUrl, { max: 1, idle_timeout: 0, connect_timeout: 10, onnotice: () => {} })
  const started = performance.now()
  log(`seed: ${n(EVENTS)} events over ${SPAN_DAYS} days, ${n(ERASE)} of user "target", straight into Postgres`)
  state.partitions = await seed(sql, state, log, yieldTo)
  const t = await totals(sql, state.projectId)
  const [{ bytes }] = await sql`select pg_database_size(current_database())::int8 as bytes`
  await sql.end()
  const wrong = [t.events !== EVENTS && 'events', t.eventIds !== EVENTS && 'event_ids', t.minute !== EVENTS && 'minute rollup sum',
    t.hour !== EVENTS && 'hour rollup sum', t.target !== ERASE && 'target events'].filter(Boolean)
  if (wrong.length) throw new Error(`seed is wrong (${wrong.join(', ')}): ${JSON.stringify(t)}`)
  log(`seed: done in ${((performance.now() - started) / 1000).toFixed(0)} s; ${n(t.events)} events, ${n(t.target)} of "target", `
    + `${n(t.usersDay)} user-day rows; database ${(Number(bytes) / 2 ** 30).toFixed(1)} GiB`)
  writeFileSync(STATE, JSON.stringify(state))
  return state
}

const status = (s: ServerProcess) => readFileSync(`/proc/${s.proc.pid}/status`, 'utf8')
const rss = (s: ServerProcess, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status(s))![1]) * 1024
// The server's CPU seconds (user + system), from /proc/<pid>/stat.
function cpuS(s: ServerProcess): number {
  const stat = readFileSync(`/proc/${s.proc.pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

async function measurePhase(state: State) {
  const sql = postgres(dbUrl, { max: 1, idle_timeout: 0, connect_timeout: 10, onnotice: () => {} })
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-bench-lifecycle-'))
  const server = await startServer(serverEnv(dataDir), 60_000)
  const auth = { authorization: `Bearer ${state.apiKey}` }
  // The newest EXPORT events (default: all of them).
  const EXPORT = Number(process.env.EXPORT ?? state.events)
  if (!(EXPORT > 0 && EXPORT <= state.events)) throw new Error(`EXPORT=${EXPORT} must be 1 to the ${state.events} events seeded`)
  try {
    // Past the lifecycle's first pass (2 s after start), so it does not overlap.
    await Bun.sleep(4_000)
    const fromMs = timeOf(state, state.events - EXPORT + 1)
    const [{ expected }] = await sql`select count(*)::int8 as expected from events where project_id = ${state.projectId} and "timestamp" >= ${new Date(fromMs)}`
    const before = rss(server, 'VmRSS')
    const startupPeak = rss(server, 'VmHWM')
    // Resets VmHWM (Linux 4.0+, proc(5)), so the peak read after is the export's alone.
    writeFileSync(`/proc/${server.proc.pid}/clear_refs`, '5')
    const cpu0 = cpuS(server)
    log(`export: the newest ${n(Number(expected))} of ${n(state.events)} events (from=${new Date(fromMs).toISOString()}), server RSS ${MiB(before)}`)
    let started = performance.now()
    const r = await fetch(`${server.url}/v1/events/export?from=${fromMs}`, { headers: auth })
    if (r.status !== 200) throw new Error(`export answered ${r.status}: ${await r.text()}`)
    let rows = 0, bytes = 0, peakDuring = before, next = 1_000_000
    const reader = r.body!.getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      bytes += value.length
      for (let i = value.indexOf(10); i !== -1; i = value.indexOf(10, i + 1)) rows++
      if (rows >= next) {
        peakDuring = Math.max(peakDuring, rss(server, 'VmRSS'))
        log(`export: ${n(rows)} rows, ${MiB(bytes)}, ${n(Math.round(rows / ((performance.now() - started) / 1000)))} rows/s, server RSS ${MiB(rss(server, 'VmRSS'))}`)
        next += 1_000_000
      }
    }
    const exportS = (performance.now() - started) / 1000
    const exportCpuS = cpuS(server) - cpu0
    const peak = rss(server, 'VmHWM')
    if (rows !== Number(expected)) throw new Error(`export delivered ${rows} rows where the range holds ${expected}`)
    log(`export: done, ${n(rows)} rows (= the range's count), ${MiB(bytes)} NDJSON in ${exportS.toFixed(1)} s`)

    const pre = await totals(sql, state.projectId)
    started = performance.now()
    const del = await (await fetch(`${server.url}/v1/users/target`, { method: 'DELETE', headers: auth })).json() as { id: number }
    let job = { status: '', events_erased: 0 }
    let shown = performance.now()
    while (job.status !== 'done') {
      await Bun.sleep(100)
      job = await (await fetch(`${server.url}/v1/erasures/${del.id}`, { headers: auth })).json() as typeof job
      if (performance.now() - shown > 2_000) {
        log(`erasure: ${job.status}, ${n(Number(job.events_erased))} events erased`)
        shown = performance.now()
      }
    }
    const eraseS = (performance.now() - started) / 1000
    const erased = Number(job.events_erased)
    log(`erasure: done, ${n(erased)} events in ${eraseS.toFixed(1)} s; checking`)

    const post = await totals(sql, state.projectId)
    const mismatches = await rollupMismatches(sql, state.projectId)
    const problems = [
      erased !== pre.target && `the job says ${erased} erased, the user had ${pre.target}`,
      post.target !== 0 && `${post.target} events of "target" left`,
      post.targetUsersDay !== 0 && `${post.targetUsersDay} user-day rows of "target" left`,
      post.events !== pre.events - pre.target && `events ${pre.events} → ${post.events}, not −${pre.target}`,
      post.eventIds !== pre.eventIds - pre.target && `event_ids ${pre.eventIds} → ${post.eventIds}, not −${pre.target}`,
      post.minute !== post.events && `minute rollups sum to ${post.minute}, events ${post.events}`,
      post.hour !== post.events && `hour rollups sum to ${post.hour}, events ${post.events}`,
      post.usersDay !== pre.usersDay - pre.targetUsersDay && `user-day rows ${pre.usersDay} → ${post.usersDay}, not −${pre.targetUsersDay}`,
      ...mismatches,
    ].filter(Boolean)

    const c = cpus()
    console.log(`
lifecycle-cost, ${new Date().toISOString().slice(0, 16)} UTC; ${c.length} × ${c[0]?.model}, ${Math.round(totalmem() / 2 ** 30)} GiB, Bun ${Bun.version}
  data      ${n(state.events)} events of one project over ${SPAN_DAYS} days (${state.partitions} day partitions)
  export    ${n(rows)} rows (from= the newest ${n(EXPORT)}), ${MiB(bytes)} NDJSON in ${exportS.toFixed(1)} s = ${n(Math.round(rows / exportS))} rows/s
            server RSS ${MiB(before)} before; peak during the export ${MiB(peak)} (VmHWM, reset as it began; ${MiB(peakDuring)} highest sampled);
            start-up peak before it ${MiB(startupPeak)}
            server CPU ${exportCpuS.toFixed(1)} s (${((exportCpuS * 1e6) / rows).toFixed(1)} µs/row; the rest of the wall time is Postgres, the reader, the socket)
  erasure   ${n(erased)} events of one user among ${n(pre.events)} in ${eraseS.toFixed(1)} s (${((eraseS * 1e6) / erased).toFixed(0)} µs/event)
  checks    ${problems.length === 0
    ? `every exported row counted once; "target" gone (events, event_ids, memberships); events and event_ids −${n(pre.target)} exactly; minute and hour rollups equal a recount`
    : `FAILED:\n    ${problems.join('\n    ')}`}`)
    if (problems.length) process.exitCode = 1
  } finally {
    await server.kill('SIGTERM')
    await sql.end()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (phase === 'drop') await dropDatabase()
if (phase === 'seed') await seedPhase(LOCK)
if (phase === 'measure' || phase === 'all') {
  let state: State
  try {
    state = phase === 'all' ? await seedPhase() : JSON.parse(readFileSync(STATE, 'utf8')) as State
    await measurePhase(state)
  } finally {
    if (process.env.KEEP !== '1') await dropDatabase()
  }
}
