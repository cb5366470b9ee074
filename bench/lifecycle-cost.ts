// Export and erasure at scale (issue 13), against the real server (`bun src/main.ts`):
// N events of one project seeded straight into Postgres over 20 days (with their
// event_ids and rollups), then
//   export: GET /v1/events/export read to the end; rows/s, and the server's peak RSS
//           (VmHWM) against its RSS before the export;
//   erasure: DELETE /v1/users/<a user with ERASE events> until done; seconds.
// Estimate first: an export page of 1,000 rows is one index scan (~5-10 ms) plus
// ~1-2 µs per row of JSON in Bun, so ~100-200k rows/s; erasure deletes in batches of
// RETENTION_BATCH_ROWS, each row an index-located delete plus an event_ids delete
// and a rollup upsert per group: ~20-50 µs/row, so 100k rows in ~2-5 s.
// Run under the bench lock:
//   mkdir /tmp/inlet-bench.lock && EVENTS=2000000 ERASE=100000 bun bench/lifecycle-cost.ts; rmdir /tmp/inlet-bench.lock

import postgres from 'postgres'
import { readFileSync } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Sql } from '../src/store/db'
import { dayStart, ensurePartition } from '../src/store/partitions'
import { startServer } from '../test/support/server'

const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const EVENTS = Number(process.env.EVENTS ?? 2_000_000)
const ERASE = Number(process.env.ERASE ?? 100_000)
const DAY_MS = 86_400_000
const TOKEN = 'bench-admin-token-0123456789'

const admin = postgres(url, { max: 1, onnotice: () => {} })
const db = 'inlet_bench_lifecycle'
await admin.unsafe(`drop database if exists ${db} with (force)`)
await admin.unsafe(`create database ${db}`)
const u = new URL(url)
u.pathname = `/${db}`
const dataDir = mkdtempSync(join(tmpdir(), 'inlet-bench-lifecycle-'))
const env = { DATABASE_URL: u.toString(), INLET_ADMIN_TOKEN: TOKEN, INLET_DATA_DIR: dataDir, LOG_LEVEL: 'warn', PARTITION_AHEAD_DAYS: '2' }
let server = await startServer(env, 60_000)
const created = await (await fetch(`${server.url}/admin/projects`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` },
  body: JSON.stringify({ name: 'bench', plan: 'enterprise' }) })).json() as { id: number; api_key: string }
const sql = postgres(u.toString(), { max: 2, onnotice: () => {} })

// Seed: the target user has every (EVENTS / ERASE)-th event; 20 days back from now.
const t0 = Date.now() - 20 * DAY_MS
const step = Math.floor(EVENTS / ERASE)
let seeded = performance.now()
// Their day partitions first, so the rows do not wait in the default.
for (let d = 0; d <= 21; d++) await ensurePartition(sql as unknown as Sql, 'events', dayStart(t0) + d * DAY_MS, 5_000)
await sql`insert into events (project_id, id, type, name, "timestamp", received_at, user_id, properties, context)
  select ${created.id}, 'e' || g, 'track', 'Name' || (g % 20), to_timestamp((${t0} + g::float8 * ${(20 * DAY_MS) / EVENTS}) / 1000), now(),
         case when g % ${step} = 0 then 'target' else 'u' || (g % 50000) end,
         jsonb_build_object('amount', g % 1000, 'path', '/products/' || (g % 777), 'currency', 'EUR'), '{}'
  from generate_series(1, ${EVENTS}) g`
await sql`insert into event_ids (project_id, id, "timestamp") select project_id, id, "timestamp" from events`
await sql`insert into event_counts_minute (project_id, name, bucket, shard, events)
  select project_id, name, date_trunc('minute', "timestamp"), 0, count(*) from events group by 1, 2, 3`
await sql`insert into event_counts_hour (project_id, name, bucket, shard, events)
  select project_id, name, date_trunc('hour', "timestamp"), 0, count(*) from events group by 1, 2, 3`
await sql`insert into event_users_day (project_id, name, day, user_key, hours, first_at)
  select project_id, v.n, ("timestamp" at time zone 'UTC')::date, user_id,
         bit_or(1 << extract(hour from "timestamp" at time zone 'UTC')::int), min("timestamp")
  from events, lateral (values (name), ('')) v(n) group by 1, 2, 3, 4`
await sql`vacuum analyze`
seeded = performance.now() - seeded
const [{ n: stored }] = await sql`select count(*)::int as n from events`
const [{ n: target }] = await sql`select count(*)::int as n from events where user_id = 'target'`
console.log(`seeded ${stored} events (${target} of user "target") in ${(seeded / 1000).toFixed(0)} s`)

// Restart so the export starts from a settled process.
await server.kill('SIGTERM')
server = await startServer(env, 60_000)
const rss = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8'))![1]) * 1024
const before = rss('VmRSS')
let started = performance.now()
const r = await fetch(`${server.url}/v1/events/export`, { headers: { authorization: `Bearer ${created.api_key}` } })
let rows = 0
let bytes = 0
const reader = r.body!.getReader()
for (;;) {
  const { value, done } = await reader.read()
  if (done) break
  bytes += value.length
  for (let i = 0; i < value.length; i++) if (value[i] === 10) rows++
}
const exportS = (performance.now() - started) / 1000
const peak = rss('VmHWM')
console.log(`export: ${rows} rows, ${(bytes / 2 ** 20).toFixed(0)} MiB NDJSON in ${exportS.toFixed(1)} s = ${(rows / exportS).toFixed(0)} rows/s; `
  + `server RSS ${(before / 2 ** 20).toFixed(0)} MiB before, peak ${(peak / 2 ** 20).toFixed(0)} MiB (VmHWM, whole run)`)

started = performance.now()
const del = await (await fetch(`${server.url}/v1/users/target`, { method: 'DELETE', headers: { authorization: `Bearer ${created.api_key}` } })).json() as { id: number }
let job: { status: string; events_erased: number } = { status: '', events_erased: 0 }
while (job.status !== 'done') {
  await Bun.sleep(100)
  job = await (await fetch(`${server.url}/v1/erasures/${del.id}`, { headers: { authorization: `Bearer ${created.api_key}` } })).json() as typeof job
}
const eraseS = (performance.now() - started) / 1000
console.log(`erasure: ${job.events_erased} events of one user among ${stored} in ${eraseS.toFixed(1)} s (${((eraseS * 1e6) / job.events_erased).toFixed(0)} µs/event)`)

await server.kill('SIGTERM')
await sql.end()
await admin.unsafe(`drop database if exists ${db} with (force)`)
await admin.end()
rmSync(dataDir, { recursive: true, force: true })
