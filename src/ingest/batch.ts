// Validates the events of one request, each on its own, and merges the pipeline's
// verdicts back into one result per input event, in input order. One bad event
// never sinks the batch.

import type { Config } from '../config'
import type { ErrorDetail } from '../errors'
import { type EventRow, type EventType, isRefusal, type RowOutcome, type Verdict } from '../event'
import type { RequestContext } from './validate'
import { validateEvent } from './validate'

export type EventResult =
  | { index: number; id: string; status: Verdict }
  | { index: number; status: 'rejected'; errors: ErrorDetail[] }

export interface BatchOutcome {
  accepted: number
  duplicates: number
  rejected: number
  results: EventResult[]
}

export interface Prepared {
  rows: EventRow[]
  // Position in the input of each row.
  indexes: number[]
  rejected: Map<number, ErrorDetail[]>
}

// Turns raw events into rows. `toEvent` maps a foreign shape (Segment, webhooks)
// to Inlet's event first; it returns the event's type too.
export function prepare(
  raws: unknown[], req: RequestContext, limits: Config['limits'],
  toEvent: (raw: unknown) => { type: EventType; event: unknown } = raw => ({ type: 'track', event: raw }),
): Prepared {
  const prepared: Prepared = { rows: [], indexes: [], rejected: new Map() }
  for (let i = 0; i < raws.length; i++) {
    const { type, event } = toEvent(raws[i])
    const v = validateEvent(event, i, type, req, limits)
    if (v.ok) {
      prepared.rows.push(v.row)
      prepared.indexes.push(i)
    } else prepared.rejected.set(i, v.errors)
  }
  return prepared
}

// A row Postgres refused (its data breaks a constraint) is rejected in its own entry;
// the rows written with it are stored.
export function outcome(total: number, prepared: Prepared, outcomes: RowOutcome[]): BatchOutcome {
  const results = new Array<EventResult>(total)
  let accepted = 0
  let duplicates = 0
  let refused = 0
  for (let k = 0; k < prepared.rows.length; k++) {
    const index = prepared.indexes[k]
    const o = outcomes[k]
    if (isRefusal(o)) {
      refused++
      results[index] = { index, status: 'rejected', errors: [{ path: '', message: `Postgres refused it (${o.sqlstate}): ${o.message}` }] }
      continue
    }
    results[index] = { index, id: prepared.rows[k].id, status: o }
    if (o === 'accepted') accepted++
    else duplicates++
  }
  for (const [index, errors] of prepared.rejected) results[index] = { index, status: 'rejected', errors }
  return { accepted, duplicates, rejected: prepared.rejected.size + refused, results }
}
