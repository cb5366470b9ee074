// Where one event is, and when it was received and made durable: the answer of
// GET /v1/events/{id}/receipt. Looked up in the order an event travels: the spill
// (acknowledged, waiting for Postgres), Postgres, the dead-letter table (when this
// build has one: acknowledged but refused by Postgres as data), then the rejection
// log (refused before it was acknowledged). The durable time and place come from
// the recent receipts; past RECEIPT_EVENTS_MAX events they are null.

import type { ErrorDetail } from '../errors'
import type { Sql } from '../store/db'
import { getEvent, type StoredEvent } from '../store/events'
import type { Live } from './index'

export type ReceiptStatus = 'stored' | 'spilled' | 'dead_letter' | 'rejected' | 'unknown'

export interface ReceiptBody {
  id: string
  status: ReceiptStatus
  received_at?: string | null
  durable_at?: string | null
  durable_in?: 'postgres' | 'spill' | null
  errors?: ErrorDetail[]
  rejected?: { at: string; route: string; status: number; code: string; message: string }
}

interface Sources {
  sql: Sql
  live: Live
  spill?: { get(projectId: number, id: string): StoredEvent | null }
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())

// The dead-letter table arrives with a migration of its own; until this database
// has it, there is nothing to look in. Once seen it stays (tables are not dropped).
async function deadLetter(s: Sources, projectId: number, id: string): Promise<Record<string, any> | null> {
  const sql = s.sql
  if (!s.live.deadLetterSeen) {
    const [r] = await sql`select to_regclass('dead_letter') is not null as present`
    if (!r.present) return null
    s.live.deadLetterSeen = true
  }
  const [row] = await sql`select * from dead_letter where project_id = ${projectId} and id = ${id}`
  return row ?? null
}

export async function findReceipt(s: Sources, projectId: number, id: string): Promise<ReceiptBody> {
  const known = s.live.receipts.get(projectId, id)
  const durable = { durable_at: iso(known?.durableAtMs), durable_in: known?.where ?? null }
  const spilled = s.spill?.get(projectId, id)
  if (spilled) return { id, status: 'spilled', received_at: spilled.received_at, ...durable, durable_in: known?.where ?? 'spill' }
  const stored = await getEvent(s.sql, projectId, id)
  if (stored) return { id, status: 'stored', received_at: stored.received_at, ...durable }
  const dead = await deadLetter(s, projectId, id)
  if (dead) {
    const received = dead.received_at instanceof Date ? dead.received_at.toISOString() : iso(known?.receivedAtMs)
    const why = dead.error ?? dead.reason ?? dead.message
    return { id, status: 'dead_letter', received_at: received, ...durable, ...(why ? { errors: [{ path: '', message: String(why) }] } : {}) }
  }
  const refused = s.live.rejections.find(projectId, id)
  if (refused) {
    return {
      id, status: 'rejected', received_at: refused.at,
      errors: refused.errors ?? [{ path: '', message: refused.message }],
      rejected: { at: refused.at, route: refused.route, status: refused.status, code: refused.code, message: refused.message },
    }
  }
  return { id, status: 'unknown' }
}
