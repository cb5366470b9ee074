// The shapes of a batch's answer: one result per input event, in input order, and
// the counts. Built by ingest/index.ts, answered by every batch route.

import type { ErrorDetail } from '../errors'
import type { EventRow, Refusal, Verdict } from '../event'

export type EventResult =
  | { index: number; id: string; status: Verdict }
  | { index: number; status: 'rejected'; errors: ErrorDetail[] }

export interface BatchOutcome {
  accepted: number
  duplicates: number
  rejected: number
  results: EventResult[]
}

// A batch's rows ready for the pipeline, where each came from, and what was refused.
export interface Prepared {
  rows: EventRow[]
  // Position in the input of each row.
  indexes: number[]
  rejected: Map<number, ErrorDetail[]>
}

// How a row Postgres refused reads in its result (or a single event's 422).
export const refusalDetail = (r: Refusal): ErrorDetail => ({ path: '', message: `Postgres refused it (${r.sqlstate}): ${r.message}` })
