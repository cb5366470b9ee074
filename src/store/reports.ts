// Report queries: counts here, funnels and retention in journeys.ts, each one read-only transaction
// under a statement timeout, always scoped to one project.
//
// Where each figure comes from (see sql/003_reports.sql for the tables):
// - counts, events: event_counts_minute (minute) or event_counts_hour (hour, day);
// - counts, users by day and by hour: user_counts_day and user_counts_hour, counters
//   that the write statement keeps from the membership rows it adds (sql/013);
// - those counters: event_users_day (membership rows: distinct users are not
//   summable, so they are kept per user and day, exact, with a bit per hour of the
//   day the user was seen in: sql/011). A separate per-hour membership table cost
//   ~45% of ingest throughput (measured); the bits cost an update only when a
//   user-day gains an hour;
// - funnels and retention: the day index in memory (day-index.ts, journeys.ts);
// - counts, users by minute: the day index's event times over at most
//   REPORT_BUCKETS_MAX minutes (without a name: of every name the project has in
//   the range), distinct (minute, user) pairs counted in memory.
// Counts work in whole UTC buckets: the route aligns from/to to the interval before
// calling here, so every summary row either counts or does not.

import { assert } from '../assert'
import { InletError } from '../errors'
import type { Sql } from './db'
import { consistently, type DayIndex, type Views } from './day-index'
import { ANY, DAY_MS } from './day-views'
import { withDeadline } from './deadline'
import { fromPostgres } from './outcomes'

export type CountsInterval = 'minute' | 'hour' | 'day'
export type RetentionInterval = 'day' | 'week'

export const INTERVAL_MS: Record<CountsInterval | RetentionInterval, number> = {
  minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000,
}


const MONDAY_1970_01_05_MS = 4 * 86_400_000

// Start of the UTC bucket holding `ms`. Weeks start on Monday, as date_trunc('week') does.
export function floorTo(ms: number, interval: CountsInterval | RetentionInterval): number {
  const size = INTERVAL_MS[interval]
  const origin = interval === 'week' ? MONDAY_1970_01_05_MS : 0
  return Math.floor((ms - origin) / size) * size + origin
}

export function ceilTo(ms: number, interval: CountsInterval | RetentionInterval): number {
  const floor = floorTo(ms, interval)
  return floor === ms ? ms : floor + INTERVAL_MS[interval]
}

// Past the server-side statement_timeout, how long the client waits for Postgres to
// say so before giving up on it (a black-holed connection never says anything).
const REPORT_DEADLINE_SLACK_MS = 1_000

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)

// What every report query runs under: PG_STATEMENT_TIMEOUT_MS, REPORT_WORK_MEM_KB,
// REPORT_PARALLEL_WORKERS_MAX.
export interface ReportLimits { timeoutMs: number; workMemKb: number; parallelWorkers: number }

// Runs `fn` in a read-only transaction whose statements give up after
// `limits.timeoutMs`, so a report never holds a request (or a connection) longer
// than that. The same bound holds on the client side, for a Postgres that does not
// answer at all.
// `snapshot`: 'transaction' runs every statement in one snapshot (repeatable read),
// for reports whose statements must agree (journeys.ts and the day index).
export async function bounded<T>(sql: Sql, limits: ReportLimits, what: string, fn: (tx: Sql) => Promise<T>,
  plans: 'custom' | 'cached' = 'cached', snapshot: 'statement' | 'transaction' = 'statement'): Promise<T> {
  const { timeoutMs } = limits
  try {
    const work = sql.begin(snapshot === 'transaction' ? 'isolation level repeatable read read only' : 'read only', async tx => {
      // Nested loops off: the planner picks one when statistics lag behind fresh
      // rollup rows (measured: 8.5 s instead of 10 ms on 30k events right after they
      // were written, when funnels were joins). JIT off: compiling cost seconds for
      // queries that run in milliseconds (measured, 2.5 s for 20 ms). Sort off: the
      // distinct (minute, user) pairs of counts by minute are hashed, never sorted
      // under the database collation; work_mem keeps that hash in one batch.
      // Parallel workers: on a 2-core host they cost 16-80% more Postgres CPU and
      // were no faster (measured), and reports run beside ingest.
      // Plans (`plans`): postgres.js prepares every statement, and from its sixth run
      // on a connection Postgres may keep a generic plan, made without the range: it
      // cannot prune partitions at plan time and it judges days that were empty when
      // it was made. Counts by minute on such a plan read the time index and a heap
      // page per event instead of the covering (project_id, name, timestamp) one: 428
      // against 103 ms for a day of the 2M-event project (measured), so range reads
      // of raw events (counts by minute, the day index's loads) are planned for their
      // range every time.
      await tx`select set_config('statement_timeout', ${String(timeoutMs)}, true), set_config('enable_nestloop', 'off', true),
                      set_config('jit', 'off', true), set_config('enable_sort', 'off', true),
                      set_config('work_mem', ${`${limits.workMemKb}kB`}, true),
                      set_config('max_parallel_workers_per_gather', ${String(limits.parallelWorkers)}, true),
                      set_config('plan_cache_mode', coalesce(${plans === 'custom' ? 'force_custom_plan' : null}, current_setting('plan_cache_mode')), true)`
      return fn(tx as unknown as Sql)
    }) as Promise<T>
    return await withDeadline(work, timeoutMs + REPORT_DEADLINE_SLACK_MS, `the ${what} report`)
  } catch (error) {
    const code = (error as { code?: string })?.code
    if (code === '57014' || code === 'FLUSH_TIMEOUT') {
      throw new InletError('unavailable',
        `the ${what} report took longer than PG_STATEMENT_TIMEOUT_MS (${timeoutMs} ms) and was stopped; ` +
        'narrow from/to or try again later', undefined, 1, { cause: error })
    }
    if (fromPostgres(error)) {
      throw new InletError('unavailable', 'Postgres is unavailable; reports need it, try again later', undefined, 1, { cause: error })
    }
    throw error
  }
}

// A report that reads the day index: one repeatable-read snapshot, begun again while
// the index says a newer one would do better (Raced; `lastTry` for DayIndex.views).
export function withViews<T>(sql: Sql, limits: ReportLimits, what: string, fn: (tx: Sql, lastTry: boolean) => Promise<T>): Promise<T> {
  return consistently(lastTry => bounded(sql, limits, what, tx => fn(tx, lastTry), 'custom', 'transaction'))
}

// Without a name, the names the project has events of in [from, to) (from the hour
// rollup: a few rows per hour): the day index holds times per name.
function anyName(tx: Sql, projectId: number, from: Date, to: Date) {
  return tx`select distinct name from event_counts_hour
            where project_id = ${projectId} and bucket >= ${new Date(floorTo(from.getTime(), 'hour'))} and bucket < ${to}`
}

export interface CountsQuery { fromMs: number; toMs: number; interval: CountsInterval; name?: string }
export interface CountsRow { bucket: string; events: number; users: number }

// One row per bucket from `fromMs` to `toMs` (both aligned to the interval), zeros included.
export async function countsReport(sql: Sql, index: DayIndex, projectId: number, q: CountsQuery, limits: ReportLimits): Promise<CountsRow[]> {
  const size = INTERVAL_MS[q.interval]
  assert(q.fromMs % size === 0 && q.toMs % size === 0 && q.fromMs < q.toMs, 'counts range is aligned to its interval')
  const from = new Date(q.fromMs), to = new Date(q.toMs)
  const named = q.name !== undefined
  const rows = q.interval === 'minute'
    // Users per minute from the day index (one snapshot: the counts and the index agree).
    ? await withViews(sql, limits, 'counts', async (tx, lastTry) => {
      const events = tx`select bucket as b, sum(events)::int8 as n from event_counts_minute
           where project_id = ${projectId} and bucket >= ${from} and bucket < ${to}
             ${named ? tx`and name = ${q.name!}` : tx``}
           group by 1`
      const names = named ? [q.name!] : (await anyName(tx, projectId, from, to)).map(r => r.name as string)
      const fromDay = Math.floor(q.fromMs / DAY_MS), toDay = Math.floor((q.toMs - 1) / DAY_MS) + 1
      const views = await index.views(tx, projectId, names.map(name => ({ name, fromDay, toDay })), lastTry)
      return [await events, usersPerMinute(views, names, fromDay, toDay, q.fromMs, q.toMs)]
    })
    : await bounded(sql, limits, 'counts', async tx => {
      const events = tx`select date_trunc(${q.interval}, bucket, 'UTC') as b, sum(events)::int8 as n from event_counts_hour
           where project_id = ${projectId} and bucket >= ${from} and bucket < ${to}
             ${named ? tx`and name = ${q.name!}` : tx``}
           group by 1`
      // The counters the membership rows keep (sql/013), a row per bucket and stripe.
      const users = q.interval === 'hour'
        ? tx`select bucket as b, sum(users)::int8 as n from user_counts_hour
             where project_id = ${projectId} and name = ${named ? q.name! : ANY} and bucket >= ${from} and bucket < ${to}
             group by 1`
        : tx`select bucket::timestamp at time zone 'UTC' as b, sum(users)::int8 as n from user_counts_day
             where project_id = ${projectId} and name = ${named ? q.name! : ANY}
               and bucket >= ${day(q.fromMs)}::date and bucket < ${day(q.toMs)}::date
             group by 1`
      return await Promise.all([events, users])
    }, 'custom')
  const byBucket = new Map<number, CountsRow>()
  const series: CountsRow[] = []
  for (let ms = q.fromMs; ms < q.toMs; ms += size) {
    const row = { bucket: new Date(ms).toISOString(), events: 0, users: 0 }
    byBucket.set(ms, row)
    series.push(row)
  }
  for (const r of rows[0]) byBucket.get((r.b as Date).getTime())!.events = r.n as number
  for (const r of rows[1]) byBucket.get((r.b as Date).getTime())!.users = r.n as number
  return series
}

// Distinct users per minute of [fromMs, toMs), as rows { b, n }: within a name a
// user's times ascend, so each minute of theirs is met once in a row; across names
// (no name asked) the (minute, user) pairs are packed, sorted and counted once each.
function usersPerMinute(views: Views, names: string[], fromDay: number, toDay: number, fromMs: number, toMs: number): { b: Date; n: number }[] {
  const minutes = (toMs - fromMs) / INTERVAL_MS.minute
  const users = new Float64Array(minutes)
  const pairs: number[] = []
  for (const name of names) {
    const days = views.days(name)
    for (let d = fromDay; d < toDay; d++) {
      const v = days.views[d - days.fromDay]
      for (let i = 0; i < v.users.length; i++) {
        let last = -1
        for (let j = v.start[i]; j < v.start[i + 1]; j++) {
          const t = v.times[j]
          if (t < fromMs || t >= toMs) continue
          const m = Math.floor((t - fromMs) / INTERVAL_MS.minute)
          if (m === last) continue
          last = m
          if (names.length === 1) users[m]++
          else pairs.push(m * 2 ** 31 + v.users[i])
        }
      }
    }
  }
  if (pairs.length > 0) {
    const sorted = Float64Array.from(pairs).sort()
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) users[Math.floor(sorted[i] / 2 ** 31)]++
  }
  const out: { b: Date; n: number }[] = []
  for (let m = 0; m < minutes; m++) if (users[m] > 0) out.push({ b: new Date(fromMs + m * INTERVAL_MS.minute), n: users[m] })
  return out
}
