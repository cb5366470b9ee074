// Where one event is, and when it was received and made durable: the answer of
// GET /v1/events/{id}/receipt. Looked up in the order an event travels: the spill
// (acknowledged, waiting for Postgres), Postgres, the dead-letter table
// (acknowledged but refused by Postgres as data), then the rejection
// log (refused before it was acknowledged). The durable time and place come from
// the recent receipts; past RECEIPT_EVENTS_MAX events they are null.

import { type ErrorDetail, InletError } from '../errors'
import { getDeadLettered } from '../store/dead-letter'
import type { Sql } from '../store/db'
import { bounded, getEvent, type StoredEvent } from '../store/events'
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
  // Reads give up after this (PG_STATEMENT_TIMEOUT_MS), and at once when Postgres is known unreachable.
  deadlineMs: number
  reachable: () => boolean
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())

export async function findReceipt(s: Sources, projectId: number, id: string): Promise<ReceiptBody> {
  const known = s.live.receipts.get(projectId, id)
  const durable = { durable_at: iso(known?.durableAtMs), durable_in: known?.where ?? null }
  const spilled = s.spill?.get(projectId, id)
  if (spilled) return { id, status: 'spilled', received_at: spilled.received_at, ...durable, durable_in: known?.where ?? 'spill' }
  if (!s.reachable()) throw new InletError('unavailable', 'Postgres is unavailable; the receipt needs it, retry shortly', undefined, 2)
  const stored = await getEvent(s.sql, projectId, id, s.deadlineMs)
  if (stored) return { id, status: 'stored', received_at: stored.received_at, ...durable }
  const dead = await bounded(s.sql, s.deadlineMs, 'reading a dead letter', getDeadLettered(s.sql, projectId, id))
  if (dead) {
    return {
      id, status: 'dead_letter', received_at: dead.event.received_at, ...durable,
      durable_at: durable.durable_at ?? dead.acked.at, durable_in: 'spill',
      errors: [{ path: '', message: `Postgres refused it (${dead.error.sqlstate}): ${dead.error.message}` }],
    }
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
