// The pages of an export (GET /v1/events/export): a project's events in time order,
// (timestamp, id) ascending, a total order, walked by keyset so that every page is
// one short indexed query and nothing but one page is ever held in memory.

import type { StoredEvent } from '../event'
import type { Sql } from './db'
import { bounded, exactly, MICROS, toEvent } from './events'

const columns = 'id, type, name, "timestamp", received_at, user_id, anonymous_id, session_id, properties, context'

export interface ExportFilter {
  fromMs: number
  toMs: number
  name?: string
}

// Where a page ends: the last row's exact timestamp in microseconds since the
// epoch (Postgres's precision: a row written by another tool may have a fraction of
// a millisecond, and resuming from the millisecond the JSON shows would send it again).
export interface ExportPosition { timestampUs: number; id: string }

// The next `rows` events after `after` (null: from the start of the range), and where they end.
export async function exportPage(sql: Sql, projectId: number, f: ExportFilter, after: ExportPosition | null,
  rows: number, deadlineMs: number): Promise<{ events: StoredEvent[]; last: ExportPosition | null }> {
  const at = (ms: number) => new Date(ms)
  const found = await bounded(sql, deadlineMs, 'exporting events', sql`
    select ${sql.unsafe(columns)}, ${sql.unsafe(MICROS)} as at_us from events
    where project_id = ${projectId} and "timestamp" >= ${at(f.fromMs)} and "timestamp" < ${at(f.toMs)}
      ${f.name !== undefined ? sql`and name = ${f.name}` : sql``}
      ${after ? sql`and ("timestamp", id) > (${exactly(sql, after.timestampUs)}, ${after.id})` : sql``}
    order by "timestamp", id
    limit ${rows}`)
  const end = found[found.length - 1]
  return { events: found.map(toEvent), last: end ? { timestampUs: Number(end.at_us), id: end.id } : null }
}

// Where to resume after the event `id` (the last one a dropped export delivered):
// its timestamp, from event_ids; null when the project has no such event.
export async function resumePoint(sql: Sql, projectId: number, id: string, deadlineMs: number): Promise<ExportPosition | null> {
  const [r] = await bounded(sql, deadlineMs, 'finding where an export resumes',
    sql`select ${sql.unsafe(MICROS)} as at_us from event_ids where project_id = ${projectId} and id = ${id}`)
  return r ? { timestampUs: Number(r.at_us), id } : null
}
