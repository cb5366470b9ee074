// Event writes in Postgres. A batch is one statement (one implicit transaction):
// insert the rows from arrays with unnest, skip ids already stored, and upsert the
// rollups (per-minute and per-hour counts, users per day with their hours, and the
// distinct users per day and per hour those add) of exactly the rows that
// went in. When Postgres refuses a row's data (outcomes.ts), the batch is written
// again in one transaction whose halves are tried under savepoints until every
// refused row stands alone: the other rows commit together, once, so a batch is
// never split between a committed transaction and a failed one.

import { assert } from '../assert'
import type { EventRow, Refusal, RowOutcome } from '../event'
import type { Sql } from './db'
import type { Inflight } from './deadline'
import { type Learned, NEEDS_ALL, type MembershipCache } from './memberships'
import { isDataError, refusal } from './outcomes'
import { userCountsCtes } from './user-counts'

const key = (projectId: number, id: string) => `${projectId}\u0001${id}`

export interface Refused {
  row: EventRow
  refusal: Refusal
}

export interface WriteOptions {
  // The rollup stripe this writer owns (sql/004_rollup_shards.sql): two transactions
  // in flight at once must not share one, or they serialise on its rows.
  shard?: number
  // Queries in flight, so that a deadline can cancel them in Postgres.
  inflight?: Inflight
  // Rows Postgres refused, written in the same transaction as the rest (the drainer
  // moves them to the dead-letter table this way, atomically with the replay).
  onRefused?: (tx: Sql, refused: Refused[]) => Promise<void>
  // Already inside a transaction: every attempt runs under a savepoint.
  inTransaction?: boolean
  // User-day memberships known to be committed: rows that add none are not joined
  // into the membership insert, and what this write commits is remembered. Not for
  // writes inside a caller's transaction (its commit is not ours to see).
  memberships?: MembershipCache
  // Filled by the statements of one insertEvents: the rows that may teach `memberships`.
  learn?: Learned[]
  // Told what a write committed on its own (not inside a caller's transaction, nor
  // the rare isolating one): the rows it inserted and its transaction id (the day
  // index appends them: day-index.ts).
  committed?: Committed
}

// `writing` is told of the write first, with a promise that settles once it has
// answered (and `committed` has been told, when it committed).
export interface Committed {
  writing(settled: Promise<unknown>): void
  committed(xid: number, rows: readonly EventRow[]): void
}

// Writes rows and returns an outcome per row in input order. A row whose (project,
// id) appears earlier in the same batch is a duplicate of that earlier row.
export async function insertEvents(sql: Sql, rows: EventRow[], opts: WriteOptions = {}): Promise<RowOutcome[]> {
  // The first row of every (project, id), by key; `firstOf[i]` is row i's first.
  const first = new Map<string, EventRow>()
  const firstOf: EventRow[] = new Array(rows.length)
  const unique: EventRow[] = []
  for (let i = 0; i < rows.length; i++) {
    const k = key(rows[i].projectId, rows[i].id)
    let f = first.get(k)
    if (f === undefined) {
      first.set(k, (f = rows[i]))
      unique.push(f)
    }
    firstOf[i] = f
  }
  // One lock order for every writer, so concurrent batches that share ids wait
  // for each other instead of deadlocking.
  unique.sort((a, b) => a.projectId - b.projectId || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const learn: Learned[] = []
  const work = write(sql, unique, opts.memberships && !opts.inTransaction ? { ...opts, learn } : opts)
  opts.committed?.writing(work)
  const written = await work
  // Committed (a statement, or the isolating transaction, has returned): remember
  // the memberships of the rows it inserted; a duplicate's may not be stored.
  if (learn.length > 0 && written.inserted.size > 0) opts.memberships!.learned(learn, written.inserted)
  if (opts.committed && written.xid !== undefined && written.inserted.size > 0) opts.committed.committed(written.xid, [...written.inserted])
  const outcomes: RowOutcome[] = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const f = firstOf[i]
    // A later copy of a refused row is refused too (same key, possibly same data).
    outcomes[i] = written.refused.get(f) ?? (f === rows[i] && written.inserted.has(f) ? 'accepted' : 'duplicate')
  }
  return outcomes
}

// By row object: `unique` holds the first occurrence of every (project, id).
// `xid`: the transaction that committed them, when it was the write statement alone.
interface Written {
  inserted: Set<EventRow>
  refused: Map<EventRow, Refusal>
  xid?: number
}

async function write(sql: Sql, unique: EventRow[], opts: WriteOptions): Promise<Written> {
  const shard = opts.shard ?? 0
  if (opts.inTransaction) return isolate(sql, unique, shard, opts)
  try {
    return { ...await statement(sql, unique, shard, opts), refused: new Map() }
  } catch (error) {
    if (!isDataError(error)) throw error
  }
  // Rare: only when a row is refused. log2(rows) extra statements, in one transaction.
  return await sql.begin(tx => isolate(tx as unknown as Sql, unique, shard, opts)) as Written
}

async function isolate(tx: Sql, unique: EventRow[], shard: number, opts: WriteOptions): Promise<Written> {
  const inserted = new Set<EventRow>()
  const refused = new Map<EventRow, Refusal>()
  const found: Refused[] = []
  const parts: [number, number][] = [[0, unique.length]]
  while (parts.length > 0) {
    const [lo, hi] = parts.pop()!
    const part = unique.slice(lo, hi)
    try {
      const got = await (tx as unknown as { savepoint<T>(fn: (sp: Sql) => Promise<T>): Promise<T> })
        .savepoint(sp => statement(sp, part, shard, opts))
      for (const k of got.inserted) inserted.add(k)
    } catch (error) {
      if (!isDataError(error)) throw error
      if (hi - lo === 1) {
        const r = refusal(error)
        refused.set(part[0], r)
        found.push({ row: part[0], refusal: r })
      } else {
        const mid = (lo + hi) >> 1
        // Left half first, so refusals are found in row order.
        parts.push([mid, hi], [lo, mid])
      }
    }
  }
  if (found.length > 0 && opts.onRefused) await opts.onRefused(tx, found)
  return { inserted, refused }
}

// The write statement. The rows travel as one JSON text parameter: building it is a
// string join (the property bags are already JSON), where postgres.js's array
// serialiser escaped every element of 11 arrays (measured at 30 rows per
// transaction: 7.7 against 12.5 µs of Bun CPU per row; Postgres's cost is the same).
// It is sent as text and cast in SQL: a parameter Postgres types as jsonb would be
// JSON-encoded again by postgres.js. Element 11 says which user-day membership rows
// the row may change that the cache does not know are stored (memberships.ts: bit 1
// the any-event row, bit 2 the row of its name); only those are upserted.
const STATEMENT = `
  with input as (
    select k, (e->>0)::int8 as p, e->>1 as i, e->>2 as ty, e->>3 as nm, (e->>4)::int8 as ts, (e->>5)::int8 as ra,
           e->>6 as u, e->>7 as a, e->>8 as s, e->9 as pr, e->10 as c, (e->>11)::int2 as m
    from jsonb_array_elements($1::text::jsonb) with ordinality as x(e, k)
  ), ids as (
    -- (project_id, id) is unique in event_ids, not in the partitioned events
    -- (sql/007_partitions.sql): only the rows whose id goes in here are stored.
    insert into event_ids (project_id, id, "timestamp")
    select p, i, 'epoch'::timestamptz + ts * interval '1 ms' from input
    on conflict (project_id, id) do nothing
    returning project_id, id
  ), ins as (
    insert into events (project_id, id, type, name, "timestamp", received_at,
                        user_id, anonymous_id, session_id, properties, context)
    select p, i, ty, nm, 'epoch'::timestamptz + ts * interval '1 ms', 'epoch'::timestamptz + ra * interval '1 ms',
           u, a, s, pr, c
    from input join ids on ids.project_id = input.p and ids.id = input.i
    -- No target: while an unpartitioned table is moved over, its own key still
    -- skips the rows it holds whose ids are not yet copied to event_ids.
    on conflict do nothing
    returning project_id, id, name, "timestamp", coalesce(user_id, anonymous_id) as user_key
  ), counted as (
    insert into event_counts_minute (project_id, name, bucket, shard, events)
    select project_id, name, date_trunc('minute', "timestamp"), $2::int2, count(*) from ins
    group by 1, 2, 3 order by 1, 2, 3
    on conflict (project_id, bucket, name, shard) do update set events = event_counts_minute.events + excluded.events
  ), counted_hour as (
    insert into event_counts_hour (project_id, name, bucket, shard, events)
    select project_id, name, date_trunc('hour', "timestamp", 'UTC'), $2::int2, count(*) from ins
    group by 1, 2, 3 order by 1, 2, 3
    on conflict (project_id, bucket, name, shard) do update set events = event_counts_hour.events + excluded.events
  ), users_day as (
    -- Reports (sql/003_reports.sql, 011_user_day_hours_first.sql): who was seen on
    -- which UTC day, in which hours, first when, per name (m bit 2) and under '' for
    -- any name (m bit 1), from inserted rows whose membership the cache does not know.
    -- A row is rewritten only for a new hour bit or an earlier first time. Sorted so
    -- concurrent writers take keys in one order.
    -- added: the hour bits this write sets (sql/013), all of them for a new row.
    insert into event_users_day (project_id, name, day, user_key, hours, first_at, added)
    select project_id, n, day, user_key, hours, first_at, hours from (
      select ins.project_id, v.n, (ins."timestamp" at time zone 'UTC')::date as day, ins.user_key,
             bit_or(1 << extract(hour from ins."timestamp" at time zone 'UTC')::int) as hours, min(ins."timestamp") as first_at
      from ins join input on input.p = ins.project_id and input.i = ins.id and input.m > 0,
           lateral (values (ins.name, 2), ('', 1)) as v(n, bit)
      where ins.user_key is not null and input.m & v.bit <> 0
      group by 1, 2, 3, 4
      order by 1, 2, 3, 4) x
    on conflict (project_id, name, day, user_key) do update
      set hours = event_users_day.hours | excluded.hours, first_at = least(event_users_day.first_at, excluded.first_at),
          added = excluded.hours & ~event_users_day.hours
      where excluded.hours & ~event_users_day.hours <> 0 or excluded.first_at < event_users_day.first_at
    returning project_id, name, day, hours, added
  ),
  -- The user counters: a new membership row (a row always has an hour bit, so only
  -- an insert sets them all) is a new user of its day; a newly set bit a new user of its hour.
  ${userCountsCtes({ rows: 'users_day', shard: '$2::int2', isNew: 'added = hours', bits: 'added' })}
  -- One character per input row, in order: 1 inserted, 0 already stored. One short
  -- row to parse instead of one row per event. And the transaction's id, which
  -- tells the day index whether a snapshot it read holds these rows.
  select string_agg(case when ins.id is null then '0' else '1' end, '' order by input.k) as v, pg_current_xact_id()::text as x
  from input left join ins on ins.project_id = input.p and ins.id = input.i`

// For bench/lib/rollup-cost.ts (EXPLAIN ANALYZE of this statement, per rollup table).
export { STATEMENT as WRITE_STATEMENT }

const json = (s: string | null) => (s === null ? 'null' : JSON.stringify(s))

// The statement's first parameter: the rows as one JSON text (and, per row, which
// membership rows it may change: memberships.ts).
export function writeBody(rows: EventRow[], m?: MembershipCache, learn?: Learned[]): string {
  let body = '['
  for (let k = 0; k < rows.length; k++) {
    const r = rows[k]
    body += `${k === 0 ? '' : ','}[${r.projectId},${JSON.stringify(r.id)},"${r.type}",${JSON.stringify(r.name)},${r.timestampMs},${r.receivedAtMs},`
      + `${json(r.userId)},${json(r.anonymousId)},${json(r.sessionId)},${r.properties},${r.context},${m === undefined ? NEEDS_ALL : m.needs(r, learn)}]`
  }
  return body + ']'
}

// Resolves with the rows it inserted and its transaction id.
async function statement(sql: Sql, rows: EventRow[], shard: number, opts: WriteOptions): Promise<{ inserted: Set<EventRow>; xid: number }> {
  const body = writeBody(rows, opts.memberships, opts.learn)
  const query = sql.unsafe(STATEMENT, [body, shard], { prepare: true })
  const [{ v, x }] = await (opts.inflight ? opts.inflight.track(query) : query)
  assert(typeof v === 'string' && v.length === rows.length, 'the write statement answers one verdict per row')
  const inserted = new Set<EventRow>()
  for (let k = 0; k < rows.length; k++) if (v.charCodeAt(k) === 49) inserted.add(rows[k]) // '1'
  return { inserted, xid: Number(x) }
}
