// Day partitions of events (sql/007_partitions.sql): created ahead of time, filled
// from the default partition when rows landed there first, dropped by retention;
// and the online move of an unpartitioned events table into them. Every DDL here
// waits at most PARTITION_LOCK_MS_MAX for its lock and is tried again on the next
// tick, so it never holds ingest up behind a long report for longer than that.

import type { Sql } from './db'

export const DAY_MS = 86_400_000
// The advisory lock that serialises partition creation (any constant not used elsewhere).
const PARTITIONS_LOCK = 7_007_001

export const dayStart = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS

// events_20261201 holds [2026-12-01, 2026-12-02) UTC.
export function partitionName(dayMs: number): string {
  return `events_${new Date(dayMs).toISOString().slice(0, 10).replaceAll('-', '')}`
}

export function partitionDay(name: string): number | null {
  const m = /^events_(\d{4})(\d{2})(\d{2})$/.exec(name)
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : null
}

// The partitioned table: `events` once the move is done (or on a new install),
// `events_part` while an unpartitioned `events` is still being moved over.
export async function partitionedTable(sql: Sql): Promise<'events' | 'events_part'> {
  const [r] = await sql`select relkind from pg_class where relname = 'events' and relnamespace = current_schema()::regnamespace`
  return r?.relkind === 'p' ? 'events' : 'events_part'
}

// Day partitions that exist, oldest first.
export async function listPartitions(sql: Sql, parent: string): Promise<{ name: string; dayMs: number }[]> {
  const rows = await sql`
    select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = ${parent}::regclass`
  return rows.map(r => ({ name: r.name as string, dayMs: partitionDay(r.name) }))
    .filter((p): p is { name: string; dayMs: number } => p.dayMs !== null)
    .sort((a, b) => a.dayMs - b.dayMs)
}

async function withLockTimeout<T>(sql: Sql, lockMs: number, fn: (tx: Sql) => Promise<T>): Promise<T> {
  return await sql.begin(async tx => {
    await tx.unsafe(`set local lock_timeout = ${Math.floor(lockMs)}`)
    return fn(tx as unknown as Sql)
  }) as T
}

// Creates the day's partition unless it exists. It is created on its own and then
// attached (ATTACH takes SHARE UPDATE EXCLUSIVE on the parent, so inserts and reads
// go on), in the same transaction as the rows of that day that waited in the
// default partition move into it. Returns false when it already existed.
export async function ensurePartition(sql: Sql, parent: string, dayMs: number, lockMs: number): Promise<boolean> {
  const name = partitionName(dayMs)
  const from = new Date(dayMs).toISOString()
  const to = new Date(dayMs + DAY_MS).toISOString()
  return await withLockTimeout(sql, lockMs, async tx => {
    // One creator at a time across processes: two that both read the default and then
    // both asked for its exclusive lock deadlocked, or both created the same table.
    await tx`select pg_advisory_xact_lock(${PARTITIONS_LOCK})`
    const [exists] = await tx`select 1 from pg_class where relname = ${name} and relnamespace = current_schema()::regnamespace`
    if (exists) return false
    // Rows to move: a query planned before the ATTACH would see them in neither
    // table, so then reads and writes wait for this (short: one day of the default).
    // Locks are taken parent first, as every query takes them, so none deadlocks.
    const [waiting] = await tx`select 1 from events_default where "timestamp" >= ${from} and "timestamp" < ${to} limit 1`
    if (waiting) await tx.unsafe(`lock table ${parent} in access exclusive mode`)
    // ATTACH takes this lock anyway; taken first, no row can land in the default
    // for that day between the move below and the ATTACH's check (one that landed
    // before it fails the ATTACH, which is tried again on the next pass).
    await tx`lock table events_default in access exclusive mode`
    await tx.unsafe(`create table ${name} (like ${parent} including defaults)`)
    await tx.unsafe(`with m as (delete from events_default where "timestamp" >= $1 and "timestamp" < $2 returning *)
      insert into ${name} select * from m`, [from, to])
    await tx.unsafe(`alter table ${parent} attach partition ${name} for values from ('${from}') to ('${to}')`)
    return true
  })
}

export interface PartitionLimits {
  PARTITION_AHEAD_DAYS: number
  PARTITION_PAST_DAYS_MAX: number
  PARTITION_LOCK_MS_MAX: number
}

// Today's partition and PARTITION_AHEAD_DAYS more, then a partition for every day
// that has rows waiting in the default partition (late or early clocks), within
// PARTITION_PAST_DAYS_MAX of today (rows further out stay in the default: a client
// with a wild clock cannot make thousands of partitions). Returns the days created.
export async function maintainPartitions(sql: Sql, l: PartitionLimits, nowMs = Date.now()): Promise<number[]> {
  const parent = await partitionedTable(sql)
  const today = dayStart(nowMs)
  const created: number[] = []
  for (let d = 0; d <= l.PARTITION_AHEAD_DAYS; d++) {
    if (await ensurePartition(sql, parent, today + d * DAY_MS, l.PARTITION_LOCK_MS_MAX)) created.push(today + d * DAY_MS)
  }
  const lowest = new Date(today - l.PARTITION_PAST_DAYS_MAX * DAY_MS)
  const highest = new Date(today + (l.PARTITION_AHEAD_DAYS + 1) * DAY_MS)
  const waiting = await sql`
    select distinct (extract(epoch from date_trunc('day', "timestamp", 'UTC')) * 1000)::int8 as d
    from events_default where "timestamp" >= ${lowest} and "timestamp" < ${highest}`
  for (const { d } of waiting) {
    if (await ensurePartition(sql, parent, d as number, l.PARTITION_LOCK_MS_MAX)) created.push(d as number)
  }
  return created.sort((a, b) => a - b)
}

// --- The online move of an unpartitioned events table (sql/007_partitions.sql) ---

export async function moving(sql: Sql): Promise<boolean> {
  const [r] = await sql`select exists (select 1 from events_move) as m`
  return r.m as boolean
}

// One batch of the move: the next `rows` rows of the old table by its key, each
// copied unless already there (the trigger mirrors every row written since the
// migration, so only older rows are copied), its id and time put in event_ids. The probe
// uses the copy's (project_id, timestamp, id) index. Returns the rows looked at.
export async function moveBatch(sql: Sql, rows: number, l: PartitionLimits): Promise<number> {
  const [at] = await sql`select project_id, id from events_move`
  if (!at) return 0
  await ensureDays(sql, at, rows, l)
  // The cursor row is locked for the batch: two copiers never copy the same rows.
  return await sql.begin(async tx => {
    const [now] = await tx`select project_id, id from events_move for update`
    return now ? copyBatch(tx as unknown as Sql, now, rows) : 0
  }) as number
}

// Partitions for the days of the next batch's rows, so they are not copied into the default.
async function ensureDays(sql: Sql, at: Record<string, any>, rows: number, l: PartitionLimits): Promise<void> {
  const days = await sql`
    select distinct (extract(epoch from date_trunc('day', "timestamp", 'UTC')) * 1000)::int8 as d
    from (select "timestamp" from events where (project_id, id) > (${at.project_id}, ${at.id})
          order by project_id, id limit ${rows}) b`
  const today = dayStart(Date.now())
  for (const { d } of days) {
    if ((d as number) >= today - l.PARTITION_PAST_DAYS_MAX * DAY_MS && (d as number) <= today + l.PARTITION_AHEAD_DAYS * DAY_MS) {
      await ensurePartition(sql, 'events_part', d as number, l.PARTITION_LOCK_MS_MAX)
    }
  }
}

async function copyBatch(sql: Sql, at: Record<string, any>, rows: number): Promise<number> {
  const [r] = await sql`
    with b as (
      select * from events where (project_id, id) > (${at.project_id}, ${at.id}) order by project_id, id limit ${rows}
    ), k as (
      -- The stored row's time wins: a resend of an old id, written while its row was
      -- not yet copied, put the resent event's time there.
      insert into event_ids (project_id, id, "timestamp") select project_id, id, "timestamp" from b
      on conflict (project_id, id) do update set "timestamp" = excluded."timestamp"
      where event_ids."timestamp" <> excluded."timestamp"
    ), c as (
      insert into events_part select b.* from b
      where not exists (select 1 from events_part p where p.project_id = b.project_id and p."timestamp" = b."timestamp" and p.id = b.id)
    ), last as (
      select project_id, id from b order by project_id desc, id desc limit 1
    ), u as (
      update events_move m set project_id = last.project_id, id = last.id from last
    )
    select count(*)::int as n from b`
  return r.n as number
}

// When the copier has passed every old row: one short transaction swaps the names
// (writes wait for it, at most PARTITION_LOCK_MS_MAX for the lock plus a few
// catalog updates), then the old table is dropped.
export async function cutover(sql: Sql, lockMs: number): Promise<void> {
  await withLockTimeout(sql, lockMs, async tx => {
    await tx`lock table events in access exclusive mode`
    await tx`drop trigger events_mirror on events`
    await tx`alter table events rename to events_legacy`
    await tx`alter table events_part rename to events`
    await tx`delete from events_move`
  })
  await sql`drop table events_legacy`
  await sql`drop function if exists events_mirror()`
}

// Runs the move to its end, one batch per transaction; `pauseMs` between batches
// leaves Postgres to ingest. Returns the rows looked at.
// `hold` renews the caller's lease and says whether it still holds it.
export async function moveAll(sql: Sql, rows: number, l: PartitionLimits, pauseMs = 0, stopped = () => false,
  hold: () => Promise<boolean> = async () => true): Promise<number> {
  let total = 0
  while (!stopped() && await moving(sql) && await hold()) {
    const n = await moveBatch(sql, rows, l)
    total += n
    if (n === 0) await cutover(sql, l.PARTITION_LOCK_MS_MAX)
    else if (pauseMs > 0) await Bun.sleep(pauseMs)
  }
  return total
}
