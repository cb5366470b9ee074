// Event writes in Postgres. A batch is one statement (one implicit transaction):
// insert the rows from arrays with unnest, skip ids already stored, and upsert the
// rollups (per-minute and per-hour counts, users per day) of exactly the rows that
// went in. When Postgres refuses a row's data (outcomes.ts), the batch is written
// again in one transaction whose halves are tried under savepoints until every
// refused row stands alone: the other rows commit together, once, so a batch is
// never split between a committed transaction and a failed one.

import type { EventRow, Refusal, RowOutcome } from '../event'
import type { Sql } from './db'
import type { Inflight } from './deadline'
import { isDataError, refusal } from './outcomes'

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
}

// Writes rows and returns an outcome per row in input order. A row whose (project,
// id) appears earlier in the same batch is a duplicate of that earlier row.
export async function insertEvents(sql: Sql, rows: EventRow[], opts: WriteOptions = {}): Promise<RowOutcome[]> {
  const first = new Map<string, number>()
  const unique: EventRow[] = []
  for (let i = 0; i < rows.length; i++) {
    const k = key(rows[i].projectId, rows[i].id)
    if (!first.has(k)) {
      first.set(k, i)
      unique.push(rows[i])
    }
  }
  // One lock order for every writer, so concurrent batches that share ids wait
  // for each other instead of deadlocking.
  unique.sort((a, b) => a.projectId - b.projectId || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const written = await write(sql, unique, opts)
  const outcomes: RowOutcome[] = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const k = key(rows[i].projectId, rows[i].id)
    const refused = written.refused.get(k)
    outcomes[i] = refused ?? (first.get(k) === i && written.inserted.has(k) ? 'accepted' : 'duplicate')
  }
  return outcomes
}

interface Written {
  inserted: Set<string>
  refused: Map<string, Refusal>
}

async function write(sql: Sql, unique: EventRow[], opts: WriteOptions): Promise<Written> {
  const shard = opts.shard ?? 0
  if (opts.inTransaction) return isolate(sql, unique, shard, opts)
  try {
    return { inserted: await statement(sql, unique, shard, opts.inflight), refused: new Map() }
  } catch (error) {
    if (!isDataError(error)) throw error
  }
  // Rare: only when a row is refused. log2(rows) extra statements, in one transaction.
  return await sql.begin(tx => isolate(tx as unknown as Sql, unique, shard, opts)) as Written
}

async function isolate(tx: Sql, unique: EventRow[], shard: number, opts: WriteOptions): Promise<Written> {
  const inserted = new Set<string>()
  const refused = new Map<string, Refusal>()
  const found: Refused[] = []
  const parts: [number, number][] = [[0, unique.length]]
  while (parts.length > 0) {
    const [lo, hi] = parts.pop()!
    const part = unique.slice(lo, hi)
    try {
      const got = await (tx as unknown as { savepoint<T>(fn: (sp: Sql) => Promise<T>): Promise<T> })
        .savepoint(sp => statement(sp, part, shard, opts.inflight))
      for (const k of got) inserted.add(k)
    } catch (error) {
      if (!isDataError(error)) throw error
      if (hi - lo === 1) {
        const r = refusal(error)
        refused.set(key(part[0].projectId, part[0].id), r)
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

// The write statement; resolves with the keys it inserted.
async function statement(sql: Sql, rows: EventRow[], shard: number, inflight?: Inflight): Promise<Set<string>> {
  const n = rows.length
  const p = new Array<number>(n), i = new Array<string>(n), ty = new Array<string>(n), nm = new Array<string>(n)
  const ts = new Array<number>(n), ra = new Array<number>(n)
  const u = new Array<string | null>(n), a = new Array<string | null>(n), s = new Array<string | null>(n)
  const pr = new Array<string>(n), c = new Array<string>(n)
  for (let k = 0; k < n; k++) {
    const r = rows[k]
    p[k] = r.projectId; i[k] = r.id; ty[k] = r.type; nm[k] = r.name; ts[k] = r.timestampMs; ra[k] = r.receivedAtMs
    u[k] = r.userId; a[k] = r.anonymousId; s[k] = r.sessionId; pr[k] = r.properties; c[k] = r.context
  }
  const query = sql`
    with ins as (
      insert into events (project_id, id, type, name, "timestamp", received_at,
                          user_id, anonymous_id, session_id, properties, context)
      select p, i, ty, nm, 'epoch'::timestamptz + ts * interval '1 ms', 'epoch'::timestamptz + ra * interval '1 ms',
             u, a, s, pr::jsonb, c::jsonb
      from unnest(${p}::int8[], ${i}::text[], ${ty}::text[], ${nm}::text[], ${ts}::int8[], ${ra}::int8[],
                  ${u}::text[], ${a}::text[], ${s}::text[], ${pr}::text[], ${c}::text[])
           as t(p, i, ty, nm, ts, ra, u, a, s, pr, c)
      on conflict (project_id, id) do nothing
      returning project_id, id, name, "timestamp", coalesce(user_id, anonymous_id) as user_key
    ), counted as (
      insert into event_counts_minute (project_id, name, bucket, shard, events)
      select project_id, name, date_trunc('minute', "timestamp"), ${shard}::int2, count(*) from ins
      group by 1, 2, 3 order by 1, 2, 3
      on conflict (project_id, bucket, name, shard) do update set events = event_counts_minute.events + excluded.events
    ), counted_hour as (
      insert into event_counts_hour (project_id, name, bucket, shard, events)
      select project_id, name, date_trunc('hour', "timestamp", 'UTC'), ${shard}::int2, count(*) from ins
      group by 1, 2, 3 order by 1, 2, 3
      on conflict (project_id, bucket, name, shard) do update set events = event_counts_hour.events + excluded.events
    ), users_day as (
      -- Reports (sql/003_reports.sql): who was seen on which UTC day, per name and
      -- under '' for any name. Sorted so concurrent flushers take keys in one order.
      insert into event_users_day (project_id, name, day, user_key)
      select distinct project_id, n, ("timestamp" at time zone 'UTC')::date, user_key
      from ins, lateral (values (name), ('')) as v(n)
      where user_key is not null
      order by 1, 2, 3, 4
      on conflict do nothing
    )
    select project_id, id from ins`
  const result = await (inflight ? inflight.track(query) : query)
  const inserted = new Set<string>()
  for (const r of result) inserted.add(key(r.project_id as number, r.id as string))
  return inserted
}
