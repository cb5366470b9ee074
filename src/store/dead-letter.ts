// The dead-letter table (sql/005_dead_letter.sql): acknowledged events Postgres
// refused as data errors. Rows arrive here only from the drainer, in the same
// transaction that stores the rows replayed with them; they leave only when a replay
// stores them. So an acknowledged event is always in events, in the spill, or here.

import type { EventRow, EventType, Refusal, StoredEvent } from '../event'
import type { Sql } from './db'
import { bounded } from './events'
import { insertEvents } from './write'

export interface DeadLettered {
  row: EventRow
  refusal: Refusal
  // When the spill made it durable (and the client was answered).
  spilledAtMs: number | null
}

const at = (ms: number | null) => (ms === null ? null : new Date(ms))

// Inserts (or, for a row refused again, counts another attempt).
export async function deadLetter(tx: Sql, items: DeadLettered[]): Promise<void> {
  for (const { row: r, refusal, spilledAtMs } of items) {
    await tx`
      insert into dead_letter (project_id, id, type, name, "timestamp", received_at, user_id, anonymous_id, session_id,
                               properties, context, spilled_at, sqlstate, error)
      values (${r.projectId}, ${r.id}, ${r.type}, ${r.name}, ${new Date(r.timestampMs)}, ${new Date(r.receivedAtMs)},
              ${r.userId}, ${r.anonymousId}, ${r.sessionId}, ${r.properties}, ${r.context}, ${at(spilledAtMs)},
              ${refusal.sqlstate}, ${refusal.message})
      on conflict (project_id, id) do update set
        attempts = dead_letter.attempts + 1, last_failed_at = now(), sqlstate = excluded.sqlstate, error = excluded.error`
  }
}

export async function deadLetterCount(sql: Sql, deadlineMs: number): Promise<number> {
  const [r] = await bounded(sql, deadlineMs, 'counting dead letters', sql`select count(*)::int8 as n from dead_letter`)
  return r.n as number
}

const toRow = (r: Record<string, any>): EventRow => ({
  projectId: r.project_id, id: r.id, type: r.type as EventType, name: r.name,
  timestampMs: (r.timestamp as Date).getTime(), receivedAtMs: (r.received_at as Date).getTime(),
  userId: r.user_id, anonymousId: r.anonymous_id, sessionId: r.session_id,
  properties: r.properties, context: r.context, bytes: r.properties.length + r.context.length,
})

const parsed = (text: string): Record<string, unknown> => {
  try { return JSON.parse(text) } catch { return { _unparsed: text } }
}

// As the admin API shows it: the event, the refusal, and the verdict trail.
function toEntry(r: Record<string, any>) {
  return {
    project_id: r.project_id as number,
    event: {
      id: r.id, type: r.type, name: r.name, timestamp: r.timestamp.toISOString(), received_at: r.received_at.toISOString(),
      user_id: r.user_id, anonymous_id: r.anonymous_id, session_id: r.session_id,
      properties: parsed(r.properties), context: parsed(r.context),
    } as StoredEvent,
    acked: { status: r.acked_status, via: r.acked_via, at: r.spilled_at?.toISOString() ?? null },
    error: { sqlstate: r.sqlstate, message: r.error },
    attempts: r.attempts as number,
    first_failed_at: r.first_failed_at.toISOString(),
    last_failed_at: r.last_failed_at.toISOString(),
  }
}

export type DeadLetterEntry = ReturnType<typeof toEntry>

export async function listDeadLetter(sql: Sql, q: { projectId?: number; limit: number; after?: { ms: number; projectId: number; id: string } }) {
  const rows = await sql`
    select * from dead_letter
    where true
      ${q.projectId !== undefined ? sql`and project_id = ${q.projectId}` : sql``}
      ${q.after ? sql`and (first_failed_at, project_id, id) > (${new Date(q.after.ms)}, ${q.after.projectId}, ${q.after.id})` : sql``}
    order by first_failed_at, project_id, id
    limit ${q.limit}`
  return rows.map(r => ({ entry: toEntry(r), position: { ms: (r.first_failed_at as Date).getTime(), projectId: r.project_id as number, id: r.id as string } }))
}

export async function getDeadLettered(sql: Sql, projectId: number, id: string): Promise<DeadLetterEntry | null> {
  const [row] = await sql`select * from dead_letter where project_id = ${projectId} and id = ${id}`
  return row ? toEntry(row) : null
}

// Retries up to `limit` dead letters (oldest first) in one transaction: the ones
// Postgres now takes move to events (or are found already there), the ones it still
// refuses stay with their new error and one more attempt.
export async function replayDeadLetter(sql: Sql, q: { projectId?: number; limit: number }) {
  return await sql.begin(async tx => {
    const rows = await tx`
      select * from dead_letter
      where true ${q.projectId !== undefined ? tx`and project_id = ${q.projectId}` : tx``}
      order by first_failed_at, project_id, id
      limit ${q.limit}
      for update skip locked`
    const events = rows.map(toRow)
    const outcomes = await insertEvents(tx as unknown as Sql, events, { inTransaction: true, shard: 0 })
    let stored = 0
    let refused = 0
    for (let i = 0; i < events.length; i++) {
      const o = outcomes[i]
      const e = events[i]
      if (typeof o === 'object') {
        refused++
        await tx`update dead_letter set attempts = attempts + 1, last_failed_at = now(), sqlstate = ${o.sqlstate}, error = ${o.message}
                 where project_id = ${e.projectId} and id = ${e.id}`
      } else {
        stored++
        await tx`delete from dead_letter where project_id = ${e.projectId} and id = ${e.id}`
      }
    }
    const [{ n }] = await tx`select count(*)::int8 as n from dead_letter
      where true ${q.projectId !== undefined ? tx`and project_id = ${q.projectId}` : tx``}`
    return { tried: events.length, stored, still_refused: refused, remaining: n as number }
  }) as { tried: number; stored: number; still_refused: number; remaining: number }
}

// How many dead letters there are (all processes' together: the table is shared),
// read every `intervalMs` while Postgres is up, so /ready and /metrics can say it
// without a query per call. -1 until the first read.
export class DeadLetterGauge {
  count = -1
  private timer: ReturnType<typeof setInterval> | null = null
  private reading = false

  constructor(private readonly sql: Sql, private readonly intervalMs: number, private readonly deadlineMs: number,
    private readonly postgresUp: () => boolean) {}

  start(): void {
    void this.refresh()
    this.timer = setInterval(() => void this.refresh(), this.intervalMs)
    this.timer.unref?.()
  }

  async refresh(): Promise<void> {
    if (this.reading || !this.postgresUp()) return
    this.reading = true
    try {
      this.count = await deadLetterCount(this.sql, this.deadlineMs)
    } catch {
      // Keep the last known count; the next interval tries again.
    } finally {
      this.reading = false
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}
