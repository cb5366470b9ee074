// Event writes and reads in Postgres. The write is one statement (one implicit
// transaction): insert the batch from arrays with unnest, skip ids already stored,
// and upsert the rollups (per-minute and per-hour counts, users per day) of exactly
// the rows that went in.

import type { EventRow } from '../ingest/validate'
import type { Verdict } from '../pipeline/ack'
import type { Sql } from './db'

export interface StoredEvent {
  id: string
  type: string
  name: string
  timestamp: string
  received_at: string
  user_id: string | null
  anonymous_id: string | null
  session_id: string | null
  properties: Record<string, unknown>
  context: Record<string, unknown>
}

const key = (projectId: number, id: string) => `${projectId}\u0001${id}`

// Writes rows, returns a verdict per row in input order. A row whose (project, id)
// appears earlier in the same batch is a duplicate of that earlier row.
// `shard` is the rollup stripe this writer owns (sql/004_rollup_shards.sql): two
// transactions in flight at once must not share one, or they serialise on its rows.
export async function insertEvents(sql: Sql, rows: EventRow[], shard = 0): Promise<Verdict[]> {
  const first = new Map<string, number>()
  const unique: EventRow[] = []
  for (let i = 0; i < rows.length; i++) {
    const k = key(rows[i].projectId, rows[i].id)
    if (!first.has(k)) {
      first.set(k, i)
      unique.push(rows[i])
    }
  }
  // One lock order for every flusher, so concurrent batches that share ids wait
  // for each other instead of deadlocking.
  unique.sort((a, b) => a.projectId - b.projectId || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const inserted = await insertUnique(sql, unique, shard)
  const verdicts: Verdict[] = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const k = key(rows[i].projectId, rows[i].id)
    verdicts[i] = first.get(k) === i && inserted.has(k) ? 'accepted' : 'duplicate'
  }
  return verdicts
}

async function insertUnique(sql: Sql, rows: EventRow[], shard: number): Promise<Set<string>> {
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
  const result = await sql`
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
  const inserted = new Set<string>()
  for (const r of result) inserted.add(key(r.project_id as number, r.id as string))
  return inserted
}

const columns = 'id, type, name, "timestamp", received_at, user_id, anonymous_id, session_id, properties, context'

export function toEvent(r: Record<string, any>): StoredEvent {
  return {
    id: r.id, type: r.type, name: r.name,
    timestamp: r.timestamp.toISOString(), received_at: r.received_at.toISOString(),
    user_id: r.user_id, anonymous_id: r.anonymous_id, session_id: r.session_id,
    properties: r.properties, context: r.context,
  }
}

export async function getEvent(sql: Sql, projectId: number, id: string): Promise<StoredEvent | null> {
  const [row] = await sql`select ${sql.unsafe(columns)} from events where project_id = ${projectId} and id = ${id}`
  return row ? toEvent(row) : null
}

export interface ListFilter {
  name?: string
  userId?: string
  fromMs?: number
  toMs?: number
  limit: number
  // Keyset position: the last event of the previous page.
  after?: { timestampMs: number; id: string }
}

// Newest first by (timestamp, id), a total order, so following the cursor never
// skips or repeats an event that existed when the walk started.
export async function listEvents(sql: Sql, projectId: number, f: ListFilter): Promise<StoredEvent[]> {
  const at = (ms: number) => new Date(ms)
  const rows = await sql`
    select ${sql.unsafe(columns)} from events
    where project_id = ${projectId}
      ${f.name !== undefined ? sql`and name = ${f.name}` : sql``}
      ${f.userId !== undefined ? sql`and user_id = ${f.userId}` : sql``}
      ${f.fromMs !== undefined ? sql`and "timestamp" >= ${at(f.fromMs)}` : sql``}
      ${f.toMs !== undefined ? sql`and "timestamp" < ${at(f.toMs)}` : sql``}
      ${f.after ? sql`and ("timestamp", id) < (${at(f.after.timestampMs)}, ${f.after.id})` : sql``}
    order by "timestamp" desc, id desc
    limit ${f.limit}`
  return rows.map(toEvent)
}
