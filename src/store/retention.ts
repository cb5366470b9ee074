// Retention: a project keeps its events for retention_days (else
// RETENTION_DAYS_DEFAULT; 0 or unset: forever), counted in whole UTC days by event
// time: on day D a project with N days keeps events from D - N at 00:00 UTC on.
// Per project, the rollups of the expired range go first (so a report never counts
// an event that is about to go), then the events: a day partition that every
// project has let go is dropped whole, the rest is deleted in bounded batches. The
// ids of removed events leave event_ids with them, so the duplicate guarantee
// (sql/007_partitions.sql) lasts exactly as long as the event is kept.

import type { Sql } from './db'
import { DAY_MS, dayStart, listPartitions, partitionedTable } from './partitions'

export interface RetentionLimits {
  RETENTION_DAYS_DEFAULT: number
  RETENTION_BATCH_ROWS: number
  PARTITION_LOCK_MS_MAX: number
}

export interface RetentionResult {
  // Projects with a finite retention (whose reports may have changed).
  projects: number[]
  dropped: string[]
  deleted: number
  rollupRows: number
}

// The first kept instant of every project (null: keeps everything).
export async function cutoffs(sql: Sql, l: RetentionLimits, nowMs: number): Promise<Map<number, number | null>> {
  const rows = await sql`select id, retention_days from projects`
  const today = dayStart(nowMs)
  const out = new Map<number, number | null>()
  for (const r of rows) {
    const days = (r.retention_days as number | null) ?? l.RETENTION_DAYS_DEFAULT
    out.set(r.id as number, days > 0 ? today - days * DAY_MS : null)
  }
  return out
}

// Deletes in batches of `rows` until none is left; each batch is one statement.
async function drain(batch: () => Promise<number>): Promise<number> {
  let total = 0
  for (;;) {
    const n = await batch()
    total += n
    if (n === 0) return total
  }
}

// Rollup rows of one project before `cutoffMs` (a UTC midnight, so every minute
// and hour bucket, and every day, is wholly on one side of it).
export async function dropRollups(sql: Sql, projectId: number, cutoffMs: number, rows: number): Promise<number> {
  const at = new Date(cutoffMs)
  let n = 0
  // user_counts_day's buckets are dates: compared with the cutoff's UTC date.
  for (const [table, cutoff] of [['event_counts_minute', '$2'], ['event_counts_hour', '$2'], ['user_counts_hour', '$2'], ['user_counts_day', `($2 at time zone 'UTC')::date`]]) {
    n += await drain(async () => (await sql.unsafe(`
      with d as (delete from ${table} where ctid = any(array(
        select ctid from ${table} where project_id = $1 and bucket < ${cutoff} limit $3)) returning 1)
      select count(*)::int as n from d`, [projectId, at, rows]))[0].n)
  }
  n += await drain(async () => (await sql`
    with d as (delete from event_users_day where ctid = any(array(
      select ctid from event_users_day where project_id = ${projectId} and day < ${at}::timestamptz::date limit ${rows})) returning 1)
    select count(*)::int as n from d`)[0].n)
  return n
}

// Events of one project older than `cutoffMs` in one partition (a ctid is only
// unique within one table, so batches are taken per partition), with their ids.
export async function deleteOlder(sql: Sql, table: string, projectId: number, cutoffMs: number, rows: number): Promise<number> {
  const at = new Date(cutoffMs)
  return await drain(async () => (await sql.unsafe(`
    with d as (
      delete from ${table} where ctid = any(array(
        select ctid from ${table} where project_id = $1 and "timestamp" < $2 limit $3))
      returning project_id, id
    ), i as (delete from event_ids e using d where e.project_id = d.project_id and e.id = d.id)
    select count(*)::int as n from d`, [projectId, at, rows]))[0].n)
}

// Drops a whole partition: detached first (a short lock on the parent, waiting at
// most PARTITION_LOCK_MS_MAX; on a timeout it goes on a later pass) and renamed
// events_expired_*, so no row can land in it any more (a late event for that day
// goes to the default partition, which is deleted from by rows). Then the ids of
// its rows leave event_ids in block ranges, no statement running long, and the
// table is dropped. A pass cut short by a crash is finished by the next one.
async function dropPartition(sql: Sql, parent: string, name: string, rows: number, lockMs: number): Promise<boolean> {
  const expired = name.replace(/^events_/, 'events_expired_')
  try {
    await sql.begin(async tx => {
      await tx.unsafe(`set local lock_timeout = ${Math.floor(lockMs)}`)
      await tx.unsafe(`alter table ${parent} detach partition ${name}`)
      await tx.unsafe(`alter table ${name} rename to ${expired}`)
    })
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') return false // lock_not_available
    throw error
  }
  await sweepExpired(sql, expired, rows)
  return true
}

async function sweepExpired(sql: Sql, table: string, rows: number): Promise<void> {
  const [{ blocks }] = await sql`select (pg_relation_size(${table}::regclass) / current_setting('block_size')::int)::int8 as blocks`
  // ~30 rows fit in a block of typical events, so this many blocks is ~`rows` rows.
  const step = Math.max(1, Math.ceil(rows / 30))
  for (let b = 0; b < (blocks as number); b += step) {
    await sql.unsafe(`delete from event_ids e using (select project_id, id from ${table}
      where ctid >= '(${b},0)'::tid and ctid < '(${b + step},0)'::tid) x
      where e.project_id = x.project_id and e.id = x.id`)
  }
  await sql.unsafe(`drop table ${table}`)
}

// `hold` renews the caller's lease between steps (lifecycle.ts).
export async function applyRetention(sql: Sql, l: RetentionLimits, nowMs = Date.now(), hold: () => Promise<unknown> = async () => {}): Promise<RetentionResult> {
  const keep = await cutoffs(sql, l, nowMs)
  const finite = [...keep.entries()].filter((e): e is [number, number] => e[1] !== null)
  const result: RetentionResult = { projects: finite.map(f => f[0]), dropped: [], deleted: 0, rollupRows: 0 }
  if (finite.length === 0) return result
  for (const [projectId, cutoffMs] of finite) {
    await hold()
    result.rollupRows += await dropRollups(sql, projectId, cutoffMs, l.RETENTION_BATCH_ROWS)
  }
  const parent = await partitionedTable(sql)
  const leftovers = await sql`select relname from pg_class where relname ~ '^events_expired_[0-9]{8}$'
    and relnamespace = current_schema()::regnamespace`
  for (const r of leftovers) await sweepExpired(sql, r.relname as string, l.RETENTION_BATCH_ROWS)
  const partitions = await listPartitions(sql, parent)
  // A day every project has let go (no project keeps forever) goes whole.
  const everyone = finite.length === keep.size ? Math.min(...finite.map(f => f[1])) : -Infinity
  for (const p of partitions) {
    if (p.dayMs + DAY_MS > everyone) continue
    await hold()
    if (await dropPartition(sql, parent, p.name, l.RETENTION_BATCH_ROWS, l.PARTITION_LOCK_MS_MAX)) result.dropped.push(p.name)
  }
  const left = partitions.filter(p => !result.dropped.includes(p.name))
  for (const [projectId, cutoffMs] of finite) {
    for (const p of left) {
      if (p.dayMs >= cutoffMs) break
      await hold()
      result.deleted += await deleteOlder(sql, p.name, projectId, cutoffMs, l.RETENTION_BATCH_ROWS)
    }
    result.deleted += await deleteOlder(sql, 'events_default', projectId, cutoffMs, l.RETENTION_BATCH_ROWS)
  }
  return result
}
