// The pages of an export (GET /v1/events/export): a project's events in time order,
// (timestamp, id) ascending, a total order, walked by keyset so that every page is
// one short indexed query and nothing but one page is ever held in memory.

import type { StoredEvent } from '../event'
import type { Sql } from './db'
import { bounded, toEvent } from './events'

const columns = 'id, type, name, "timestamp", received_at, user_id, anonymous_id, session_id, properties, context'

export interface ExportFilter {
  fromMs: number
  toMs: number
  name?: string
}

// The next `rows` events after `after` (null: from the start of the range).
export async function exportPage(sql: Sql, projectId: number, f: ExportFilter, after: { timestampMs: number; id: string } | null,
  rows: number, deadlineMs: number): Promise<StoredEvent[]> {
  const at = (ms: number) => new Date(ms)
  const found = await bounded(sql, deadlineMs, 'exporting events', sql`
    select ${sql.unsafe(columns)} from events
    where project_id = ${projectId} and "timestamp" >= ${at(f.fromMs)} and "timestamp" < ${at(f.toMs)}
      ${f.name !== undefined ? sql`and name = ${f.name}` : sql``}
      ${after ? sql`and ("timestamp", id) > (${at(after.timestampMs)}, ${after.id})` : sql``}
    order by "timestamp", id
    limit ${rows}`)
  return found.map(toEvent)
}

// Where to resume after the event `id` (the last one a dropped export delivered):
// its timestamp, from event_ids; null when the project has no such event.
export async function resumePoint(sql: Sql, projectId: number, id: string, deadlineMs: number): Promise<{ timestampMs: number; id: string } | null> {
  const [r] = await bounded(sql, deadlineMs, 'finding where an export resumes',
    sql`select "timestamp" from event_ids where project_id = ${projectId} and id = ${id}`)
  return r ? { timestampMs: (r.timestamp as Date).getTime(), id } : null
}
