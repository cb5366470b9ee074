// The data of bench/lifecycle-cost.ts, made by Postgres itself: N events of one
// project over SPAN_DAYS, generated with generate_series one UTC day at a time into
// a table of its own that is then attached as that day's partition (ATTACH builds
// the partition's indexes in one sort each, instead of N index insertions), with
// every event's row in event_ids and the rollups the write statement
// (src/store/write.ts) would have made for the same rows, by the same expressions.
// Also the checks the bench runs afterwards: rollups against a recount.
//
// Event g (1..N): time t0 + floor(g * span / N) ms (ms precision, as ingest stores
// it: an export resumes by the ms time of its last row), name Name((g / 3) % 20),
// user "target" for every STEP-th event, else u(g % 50000).

import type postgres from 'postgres'
import { existsSync } from 'node:fs'
import { DAY_MS, partitionName } from '../../src/store/partitions'
import { userCounts } from '../seed'

export const SPAN_DAYS = 20

export interface Plan {
  projectId: number
  events: number
  // Events of the user "target": every (events / erase)-th.
  erase: number
  t0Ms: number
}

const spanMs = SPAN_DAYS * DAY_MS
export const step = (p: Plan) => Math.floor(p.events / p.erase)
// Time of event g, and the first g at or after a time (BigInt: g * span passes 2^53).
export const timeOf = (p: Plan, g: number) => p.t0Ms + Number((BigInt(g) * BigInt(spanMs)) / BigInt(p.events))
export function firstAtOrAfter(p: Plan, ms: number): number {
  const num = BigInt(ms - p.t0Ms) * BigInt(p.events)
  const g = Number((num + BigInt(spanMs) - 1n) / BigInt(spanMs))
  return Math.min(Math.max(g, 1), p.events + 1)
}

// Tables whose key is dropped during the load and built once at the end (a sort
// instead of 10M random insertions). Their definitions are read back, not retyped.
const REKEYED = ['event_ids', 'event_users_day']

// Returns the number of day partitions filled.
export async function seed(sql: postgres.Sql, p: Plan, progress: (line: string) => void, yieldTo?: string): Promise<number> {
  const stepN = step(p)
  // One backend, one core: the box is shared (the other engineer is profiling).
  await sql`set max_parallel_maintenance_workers = 0`
  await sql`set max_parallel_workers_per_gather = 0`
  await sql`set maintenance_work_mem = '512MB'`
  const keys = await sql`
    select c.conrelid::regclass::text as t, c.conname, pg_get_constraintdef(c.oid) as def
    from pg_constraint c where c.contype = 'p' and c.conrelid::regclass::text in ${sql(REKEYED)}`
  if (keys.length !== REKEYED.length) throw new Error(`expected a primary key on each of ${REKEYED.join(', ')}, found ${keys.length}`)
  for (const k of keys) await sql.unsafe(`alter table ${k.t} drop constraint ${k.conname}`)

  const firstDay = Math.floor(p.t0Ms / DAY_MS) * DAY_MS
  const days: number[] = []
  for (let d = firstDay; d <= timeOf(p, p.events); d += DAY_MS) days.push(d)
  const started = performance.now()
  let done = 0
  for (const day of days) {
    if (yieldTo) await waitWhileHeld(yieldTo, progress)
    const lo = firstAtOrAfter(p, day)
    const hi = firstAtOrAfter(p, day + DAY_MS) // exclusive
    if (hi <= lo) continue
    const name = partitionName(day)
    const t = performance.now()
    // The server made today's and the next days' partitions at start-up: empty here.
    const [had] = await sql`select 1 from pg_class where relname = ${name}`
    if (had) {
      const [{ n }] = await sql.unsafe(`select count(*)::int as n from ${name}`)
      if (n !== 0) throw new Error(`${name} already holds ${n} rows: the bench database is not fresh`)
      await sql.unsafe(`drop table ${name}`)
    }
    await sql.unsafe(`create table ${name} (like events including defaults)`)
    await sql.unsafe(`
      insert into ${name} (project_id, id, type, name, "timestamp", received_at, user_id, anonymous_id, session_id, properties, context)
      select $1::int8, 'e' || g, 'track', 'Name' || ((g / 3) % 20), ts, ts + interval '50 ms',
             case when g % $2::int8 = 0 then 'target' else 'u' || (g % 50000) end, null, null,
             jsonb_build_object('amount', g % 1000, 'path', '/products/' || (g % 777), 'currency', 'EUR'), '{}'::jsonb
      from generate_series($3::int8, $4::int8) g,
           lateral (select 'epoch'::timestamptz + ($5::int8 + (g * $6::int8) / $7::int8) * interval '1 ms' as ts) x`,
    [p.projectId, stepN, lo, hi - 1, p.t0Ms, spanMs, p.events])
    await sql.unsafe(`insert into event_ids (project_id, id, "timestamp") select project_id, id, "timestamp" from ${name}`)
    // The write statement's rollups, by its own expressions, from this day's rows
    // (minute, hour and UTC day buckets never cross a UTC day). Shard 0: one writer.
    await sql.unsafe(`insert into event_counts_minute (project_id, name, bucket, shard, events)
      select project_id, name, date_trunc('minute', "timestamp"), 0, count(*) from ${name} group by 1, 2, 3`)
    await sql.unsafe(`insert into event_counts_hour (project_id, name, bucket, shard, events)
      select project_id, name, date_trunc('hour', "timestamp", 'UTC'), 0, count(*) from ${name} group by 1, 2, 3`)
    await sql.unsafe(`insert into event_users_day (project_id, name, day, user_key, hours, first_at)
      select project_id, v.n, ("timestamp" at time zone 'UTC')::date, coalesce(user_id, anonymous_id),
             bit_or(1 << extract(hour from "timestamp" at time zone 'UTC')::int), min("timestamp")
      from ${name}, lateral (values (name), ('')) as v(n)
      where coalesce(user_id, anonymous_id) is not null group by 1, 2, 3, 4`)
    for (const q of userCounts(`project_id = ${p.projectId} and day = '${new Date(day).toISOString().slice(0, 10)}'`)) await sql.unsafe(q)
    // Builds the partition's indexes (the parent's) and checks its bound.
    await sql.unsafe(`alter table events attach partition ${name}
      for values from ('${new Date(day).toISOString()}') to ('${new Date(day + DAY_MS).toISOString()}')`)
    done += hi - lo
    const s = (performance.now() - started) / 1000
    progress(`seed: ${name} ${(hi - lo).toLocaleString('en-US')} events in ${((performance.now() - t) / 1000).toFixed(1)} s; `
      + `${done.toLocaleString('en-US')} / ${p.events.toLocaleString('en-US')} (${Math.round(done / s).toLocaleString('en-US')}/s)`)
  }
  for (const k of keys) {
    if (yieldTo) await waitWhileHeld(yieldTo, progress)
    const t = performance.now()
    await sql.unsafe(`alter table ${k.t} add constraint ${k.conname} ${k.def}`)
    progress(`seed: ${k.t} key rebuilt in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  }
  // Vacuumed now (visibility map for index-only scans, hint bits), so that
  // autovacuum and the first reads' hint-bit writes do not land in the measurement.
  if (yieldTo) await waitWhileHeld(yieldTo, progress)
  let t = performance.now()
  await sql`vacuum (analyze, freeze)`
  progress(`seed: vacuum (analyze, freeze) in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  t = performance.now()
  await sql`checkpoint`
  progress(`seed: checkpoint in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  return days.length
}

// While another bench holds the lock, the seeder pauses between two steps: loading
// gigabytes beside someone's measurement would spoil it.
async function waitWhileHeld(lock: string, progress: (line: string) => void): Promise<void> {
  while (existsSync(lock)) {
    progress(`seed: ${lock} is held (another bench is measuring); pausing 30 s`)
    await Bun.sleep(30_000)
  }
}

export interface Totals { events: number; eventIds: number; minute: number; hour: number; usersDay: number; target: number; targetUsersDay: number }

export async function totals(sql: postgres.Sql, projectId: number): Promise<Totals> {
  const [r] = await sql`select
    (select count(*) from events where project_id = ${projectId})::int8 as events,
    (select count(*) from event_ids where project_id = ${projectId})::int8 as event_ids,
    (select coalesce(sum(events), 0) from event_counts_minute where project_id = ${projectId})::int8 as minute,
    (select coalesce(sum(events), 0) from event_counts_hour where project_id = ${projectId})::int8 as hour,
    (select count(*) from event_users_day where project_id = ${projectId})::int8 as users_day,
    (select count(*) from events where project_id = ${projectId} and user_id = 'target')::int8 as target,
    (select count(*) from event_users_day where project_id = ${projectId} and user_key = 'target')::int8 as target_users_day`
  return { events: Number(r.events), eventIds: Number(r.event_ids), minute: Number(r.minute), hour: Number(r.hour),
    usersDay: Number(r.users_day), target: Number(r.target), targetUsersDay: Number(r.target_users_day) }
}

// Groups of (name, minute) and (name, hour) whose rollup sum (over every shard,
// as reports read them) differs from a count of the stored events: [] when exact.
export async function rollupMismatches(sql: postgres.Sql, projectId: number): Promise<string[]> {
  await sql`set max_parallel_workers_per_gather = 0`
  const rows = await sql`
    with m as (
      select name, date_trunc('minute', "timestamp") as bucket, count(*) as n from events where project_id = ${projectId} group by 1, 2
    ), h as (
      select name, date_trunc('hour', bucket, 'UTC') as bucket, sum(n) as n from m group by 1, 2
    ), rm as (
      select name, bucket, sum(events) as n from event_counts_minute where project_id = ${projectId} group by 1, 2
    ), rh as (
      select name, bucket, sum(events) as n from event_counts_hour where project_id = ${projectId} group by 1, 2
    )
    (select 'minute' as t, coalesce(m.name, rm.name) as name, coalesce(m.bucket, rm.bucket) as bucket, m.n as counted, rm.n as rollup
     from m full join rm using (name, bucket) where coalesce(m.n, 0) <> coalesce(rm.n, 0) limit 5)
    union all
    (select 'hour', coalesce(h.name, rh.name), coalesce(h.bucket, rh.bucket), h.n, rh.n
     from h full join rh using (name, bucket) where coalesce(h.n, 0) <> coalesce(rh.n, 0) limit 5)`
  return rows.map(r => `${r.t} ${r.name} ${(r.bucket as Date).toISOString()}: counted ${r.counted ?? 0}, rollup ${r.rollup ?? 0}`)
}
