// User erasure (DELETE /v1/users/{id}): every event of one user_id (or anonymous_id)
// in a project leaves Postgres, its dead letters and event_ids, and every rollup is
// corrected so that reports equal a recount. A job is a row in `erasures` before
// it is answered, so it survives a crash and resumes (every step is idempotent).
//
// Counts are corrected in the same statement as each batch of deletes, by adding
// the negative counts to a stripe of their own (shard -1; readers sum the stripes,
// sql/004), so a correction is exact whatever ingest does meanwhile; stripes of a
// group that sum to zero are then deleted under a row lock (deleting rows that sum
// to zero changes no sum). User-day memberships of the user are rebuilt from what
// is left. Events of the user still in this process's spill reach Postgres by the
// drainer and are erased by a last pass, which waits for them.

import type { Sql } from './db'
import type { MembershipCache } from './memberships'
import { listPartitions, moving } from './partitions'
import { userCountsCtes } from './user-counts'

export type ErasureKind = 'user_id' | 'anonymous_id'
const ERASURE_SHARD = -1

export interface Erasure {
  id: number
  kind: ErasureKind
  user_key: string
  status: 'pending' | 'running' | 'waiting_for_spill' | 'done'
  events_erased: number
  requested_at: string
  finished_at: string | null
}

const toErasure = (r: Record<string, any>): Erasure => ({
  id: r.id, kind: r.kind, user_key: r.user_key, status: r.status, events_erased: r.events_erased,
  requested_at: r.requested_at.toISOString(), finished_at: r.finished_at ? r.finished_at.toISOString() : null,
})

export async function createErasure(sql: Sql, projectId: number, kind: ErasureKind, key: string): Promise<Erasure> {
  const [r] = await sql`insert into erasures (project_id, kind, user_key) values (${projectId}, ${kind}, ${key}) returning *`
  return toErasure(r)
}

export async function getErasure(sql: Sql, projectId: number, id: number): Promise<Erasure | null> {
  const [r] = await sql`select * from erasures where project_id = ${projectId} and id = ${id}`
  return r ? toErasure(r) : null
}

// One batch from one table (a ctid is unique only within one partition): the
// events, their ids, their counts and the job's progress, in one statement, so a
// crash between two batches leaves every figure exact.
async function eraseBatch(sql: Sql, table: string, projectId: number, job: number, kind: ErasureKind, key: string, rows: number): Promise<number> {
  const [r] = await sql.unsafe(`
    with d as (
      delete from ${table} where ctid = any(array(
        select ctid from ${table} where project_id = $1 and ${kind} = $2 limit $3))
      returning project_id, id, name, "timestamp"
    ), i as (
      delete from event_ids e using d where e.project_id = d.project_id and e.id = d.id
    ), m as (
      insert into event_counts_minute (project_id, name, bucket, shard, events)
      select project_id, name, date_trunc('minute', "timestamp"), ${ERASURE_SHARD}, -count(*) from d group by 1, 2, 3 order by 1, 2, 3
      on conflict (project_id, bucket, name, shard) do update set events = event_counts_minute.events + excluded.events
    ), h as (
      insert into event_counts_hour (project_id, name, bucket, shard, events)
      select project_id, name, date_trunc('hour', "timestamp", 'UTC'), ${ERASURE_SHARD}, -count(*) from d group by 1, 2, 3 order by 1, 2, 3
      on conflict (project_id, bucket, name, shard) do update set events = event_counts_hour.events + excluded.events
    ), progress as (
      update erasures set events_erased = events_erased + (select count(*) from d) where project_id = $1 and id = $4
    )
    select count(*)::int as n from d`, [projectId, key, rows, job])
  return r.n as number
}

// The user counters of membership rows (user-counts.ts), on the erasure stripe.
const userCounts = (sign: 1 | -1) => userCountsCtes({ rows: 'rows', shard: String(ERASURE_SHARD), isNew: 'true', bits: 'hours', sign })

// Deletes the count stripes of every group the erasure stripe touches whose stripes
// sum to zero, locked first, so no concurrent upsert can change them in between.
async function settleCounts(sql: Sql, projectId: number, tables: string[], column: string): Promise<void> {
  for (const table of tables) {
    await sql.begin(async tx => {
      const rows = await tx.unsafe(`
        select c.ctid::text as t, c.name, c.bucket, c.${column} as n from ${table} c
        where c.project_id = $1 and (c.name, c.bucket) in (select name, bucket from ${table} where project_id = $1 and shard = ${ERASURE_SHARD})
        for update`, [projectId])
      const sums = new Map<string, number>()
      const group = (r: Record<string, any>) => `${r.name}\u0001${(r.bucket as Date).getTime()}`
      for (const r of rows) sums.set(group(r), (sums.get(group(r)) ?? 0) + Number(r.n))
      const zero = rows.filter(r => sums.get(group(r)) === 0).map(r => r.t as string)
      if (zero.length) await tx.unsafe(`delete from ${table} where ctid = any($1::tid[])`, [zero])
    })
  }
}

// Memberships under the user's key, rebuilt from the events left under it (an
// erased user_id may still have events under the same string as anonymous_id), and
// the user counters with them: minus the rows deleted, plus the rows rebuilt.
async function rebuildMemberships(sql: Sql, projectId: number, key: string): Promise<void> {
  await sql.begin(async tx => {
    await tx.unsafe(`
      with rows as (
        delete from event_users_day where project_id = $1 and user_key = $2 returning project_id, name, day, hours
      ), ${userCounts(-1)}
      select 1`, [projectId, key])
    await tx.unsafe(`
      with rows as (
        insert into event_users_day (project_id, name, day, user_key, hours, first_at, added)
        select project_id, n, day, $2::text, hours, first_at, hours from (
          select project_id, v.n, ("timestamp" at time zone 'UTC')::date as day,
                 bit_or(1 << extract(hour from "timestamp" at time zone 'UTC')::int) as hours, min("timestamp") as first_at
          from events, lateral (values (name), ('')) as v(n)
          where project_id = $1 and (user_id = $2 or (user_id is null and anonymous_id = $2))
          group by 1, 2, 3
          order by 1, 2, 3) x
        on conflict do nothing
        returning project_id, name, day, hours
      ), ${userCounts(1)}
      select 1`, [projectId, key])
  })
}

export interface ErasureOptions {
  rows: number
  // Rows of the project still waiting in this process's spill.
  spillPending: (projectId: number) => number
  memberships?: MembershipCache
  // Throws to stop between two batches (a shutdown).
  check?: () => void
}

// Runs one job as far as it can go now: 'done', or where it stopped (waiting for
// the online move to finish, or for the spill to drain).
export async function runErasure(sql: Sql, projectId: number, id: number, o: ErasureOptions): Promise<Erasure['status']> {
  const [job] = await sql`select * from erasures where project_id = ${projectId} and id = ${id}`
  if (!job || job.status === 'done') return 'done'
  // Rows of an unpartitioned table being moved exist twice for a while: wait for the move.
  if (await moving(sql)) return 'pending'
  await sql`update erasures set status = 'running' where project_id = ${projectId} and id = ${id}`
  const kind = job.kind as ErasureKind
  const key = job.user_key as string
  // Every table once, then any partition made meanwhile: the lifecycle moves a past
  // day's rows out of the default into a partition it creates (partitions.ts), so
  // rows can leave the default for a table this pass had not listed.
  const pass = async () => {
    const erased = new Set<string>()
    for (;;) {
      const tables = [...(await listPartitions(sql, 'events')).map(p => p.name), 'events_default'].filter(t => !erased.has(t))
      if (tables.length === 0) return
      for (const table of tables) {
        for (;;) {
          o.check?.()
          if (await eraseBatch(sql, table, projectId, id, kind, key, o.rows) === 0) break
        }
        erased.add(table)
      }
    }
  }
  // Looked at before the pass: a row the drainer commits during the pass may be
  // missed by it, so the job is done only after a pass that began with the spill empty.
  const spilled = o.spillPending(projectId)
  await pass()
  if (spilled > 0 || o.spillPending(projectId) > 0) {
    await sql`update erasures set status = 'waiting_for_spill' where project_id = ${projectId} and id = ${id}`
    return 'waiting_for_spill'
  }
  await sql.unsafe(`delete from dead_letter where project_id = $1 and ${kind} = $2`, [projectId, key])
  await settleCounts(sql, projectId, ['event_counts_minute', 'event_counts_hour'], 'events')
  await rebuildMemberships(sql, projectId, key)
  await settleCounts(sql, projectId, ['user_counts_day', 'user_counts_hour'], 'users')
  // The cache may claim memberships just deleted: a later event must write its own again.
  o.memberships?.clear()
  await sql`update erasures set status = 'done', finished_at = now() where project_id = ${projectId} and id = ${id}`
  return 'done'
}

export async function openErasures(sql: Sql, limit: number): Promise<{ project_id: number; id: number }[]> {
  return await sql`select project_id, id from erasures where status <> 'done' order by id limit ${limit}` as any
}
