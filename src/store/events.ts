// Event reads in Postgres, always scoped to one project, each bounded by a deadline
// (PG_STATEMENT_TIMEOUT_MS) after which the query is cancelled in Postgres and the
// caller gets a DeadlineError (a 503): a read never holds a request, or a
// connection, longer than that, whatever Postgres or the network does.

import type { StoredEvent } from '../event'
import type { Sql } from './db'
import { DeadlineError, Inflight, withDeadline } from './deadline'

export type { StoredEvent } from '../event'

const columns = 'id, type, name, "timestamp", received_at, user_id, anonymous_id, session_id, properties, context'

export function toEvent(r: Record<string, any>): StoredEvent {
  return {
    id: r.id, type: r.type, name: r.name,
    timestamp: r.timestamp.toISOString(), received_at: r.received_at.toISOString(),
    user_id: r.user_id, anonymous_id: r.anonymous_id, session_id: r.session_id,
    properties: r.properties, context: r.context,
  }
}

// Runs one query under a deadline; past it the query is cancelled in Postgres.
export async function bounded<T>(sql: Sql, deadlineMs: number, what: string, query: Promise<T>): Promise<T> {
  const inflight = new Inflight()
  try {
    return await withDeadline(inflight.track(query), deadlineMs, what)
  } catch (error) {
    if (error instanceof DeadlineError) inflight.cancelAll(sql, deadlineMs)
    throw error
  }
}

export async function getEvent(sql: Sql, projectId: number, id: string, deadlineMs: number): Promise<StoredEvent | null> {
  // event_ids holds the event's timestamp, so only its day's partition is read
  // (sql/007_partitions.sql: the partitions have no index on the id alone), pruned
  // at run time: the plan is generic (postgres.js prepares every statement), made
  // once per connection and kept for up to its 30-minute lifetime.
  // The timestamp is a range of one instant, with an order, rather than an equality:
  // that order makes (project_id, timestamp desc, id desc) the only index that needs
  // no sort, so every partition's scan is that index's single entry. With `=`, in a
  // partition empty or small when the plan was made (every day ahead is), the two
  // indexes cost the same and Postgres took (project_id, name, timestamp), which
  // finds the instant only after every name before the event's: measured at 17 ms
  // and 1,125 buffers per read in W4 (110k events of one name, 200 to a millisecond),
  // 92% of Postgres's time there.
  const at = sql`(select "timestamp" from event_ids where project_id = ${projectId} and id = ${id})`
  const [row] = await bounded(sql, deadlineMs, 'reading an event', sql`
    select ${sql.unsafe(columns)} from events where project_id = ${projectId} and id = ${id}
      and "timestamp" >= ${at} and "timestamp" <= ${at}
    order by "timestamp" desc limit 1`)
  if (row) return toEvent(row)
  // While an unpartitioned table is moved over, its older rows may have no event_ids
  // row yet: they are found by its own key (the scan runs only while events_move has a row).
  const [old] = await bounded(sql, deadlineMs, 'reading an event', sql`
    select ${sql.unsafe(columns)} from events where project_id = ${projectId} and id = ${id}
      and exists (select 1 from events_move)`)
  return old ? toEvent(old) : null
}

export interface ListFilter {
  name?: string
  userId?: string
  fromMs?: number
  toMs?: number
  limit: number
  // Keyset position: the last event of the previous page, its time exact to the
  // microsecond (MICROS below).
  after?: ListPosition
}

export interface ListPosition { timestampUs: number; id: string }

// A page of up to `limit` events, newest first by (timestamp, id), a total order, so
// following the cursor never skips or repeats an event that existed when the walk
// started; `next` is where the next page starts (null: this is the last). Its time
// is exact to the microsecond: an event written by another tool may have a fraction
// of a millisecond, and a position at the millisecond the JSON shows would skip the
// events later in that millisecond.
export async function listEvents(sql: Sql, projectId: number, f: ListFilter, deadlineMs: number): Promise<{ events: StoredEvent[]; next: ListPosition | null }> {
  const at = (ms: number) => new Date(ms)
  const rows = await bounded(sql, deadlineMs, 'listing events', sql`
    select ${sql.unsafe(columns)}, ${sql.unsafe(MICROS)} as at_us from events
    where project_id = ${projectId}
      ${f.name !== undefined ? sql`and name = ${f.name}` : sql``}
      ${f.userId !== undefined ? sql`and user_id = ${f.userId}` : sql``}
      ${f.fromMs !== undefined ? sql`and "timestamp" >= ${at(f.fromMs)}` : sql``}
      ${f.toMs !== undefined ? sql`and "timestamp" < ${at(f.toMs)}` : sql``}
      ${f.after ? sql`and ("timestamp", id) < (${exactly(sql, f.after.timestampUs)}, ${f.after.id})` : sql``}
    order by "timestamp" desc, id desc
    limit ${f.limit + 1}`)
  // One more row than the page: whether there is a next one.
  const page = rows.length > f.limit ? rows.slice(0, f.limit) : rows
  const last = page[page.length - 1]
  return { events: page.map(toEvent), next: rows.length > f.limit ? { timestampUs: Number(last.at_us), id: last.id } : null }
}

// Microseconds since the epoch, exact (as text: an int8 would come back as a string anyway).
export const MICROS = `(extract(epoch from "timestamp") * 1000000)::int8::text`

// The instant `us` microseconds after the epoch, as Postgres stores it.
export const exactly = (sql: Sql, us: number) => sql`('epoch'::timestamptz + ${us}::int8 * interval '1 microsecond')`
