// The one way the events of a request enter Inlet, whatever their wire format
// (native, Segment, webhooks, PostHog, Snowplow): raw messages → mapped to Inlet's
// event shape (a format's mapper) → validated rows → submitted to the pipeline → one
// verdict per event. Every ingest route calls `one` or `many`; what a route does
// itself is HTTP: credentials, the body, the answer.

import type { Config } from '../config'
import { type ErrorDetail, InletError } from '../errors'
import { type EventRow, type EventType, isRefusal, type RowOutcome, type Verdict } from '../event'
import type { CounterSeries, Metrics } from '../metrics'
import { type BatchOutcome, type EventResult, type Prepared, refusalDetail } from './batch'
import { type Mapped, mappedRow } from './foreign-row'
import { isObject, jsonType, parseTime, type RequestContext, type Validated, validateEvent } from './validate'

export type { BatchOutcome, EventResult } from './batch'
export type { Mapped } from './foreign-row'
export type { RequestContext } from './validate'

// How a route's messages become events. Without `map` a message is Inlet's own
// event of `type`. A mapper applies the clock skew itself (formats carry their own
// sent-at fields), so validation then adds none.
export interface Format {
  type: EventType
  map?: (raw: Record<string, unknown>, index: number) => Mapped
  // The 422 message for a single message that is invalid.
  invalid: string
}

// What ingest needs from the pipeline below it (satisfied by pipeline/flusher.ts).
export interface Submitter {
  submit(rows: EventRow[]): Promise<RowOutcome[]>
}

// Where refused events are told (the console's rejection log, live/rejections.ts).
export interface RejectionSink {
  // `raws`: the refused messages by index (what names them: id, name).
  batch(request: Request, projectId: number, raws: ReadonlyMap<number, unknown>, rejected: ReadonlyMap<number, readonly ErrorDetail[]>): void
}

type Limits = Config['limits']

export class Ingest {
  private readonly count: Record<'accepted' | 'duplicate' | 'rejected', CounterSeries>

  constructor(
    private readonly submitter: Submitter,
    private readonly limits: Limits,
    metrics: Metrics,
    private readonly rejections?: RejectionSink,
  ) {
    const c = metrics.ingestEvents
    this.count = { accepted: c.child({ outcome: 'accepted' }), duplicate: c.child({ outcome: 'duplicate' }), rejected: c.child({ outcome: 'rejected' }) }
  }

  // One message: its verdict once durable, or a 413 (over EVENT_BYTES_MAX) / 422
  // (every problem, with its path) that stores nothing.
  async one(req: RequestContext, raw: unknown, format: Format): Promise<{ id: string; status: Verdict }> {
    const v = this.validate(req, raw, 0, format)
    if (!v.ok) {
      this.count.rejected.inc()
      if (v.tooLarge) throw new InletError('payload_too_large', v.errors[0].message, v.errors)
      throw new InletError('validation_failed', format.invalid, v.errors)
    }
    const [outcome] = await this.submitter.submit([v.row])
    if (isRefusal(outcome)) {
      this.count.rejected.inc()
      throw new InletError('validation_failed', `${format.invalid}: Postgres refused it`, [refusalDetail(outcome)])
    }
    this.count[outcome].inc()
    return { id: v.row.id, status: outcome }
  }

  // Many messages, each on its own: the valid ones are stored, the invalid ones
  // reported, one result per message in input order. One bad message never sinks
  // the others; the request fails (503) only when the valid ones cannot be made durable.
  //
  // Nothing of the parsed messages is held while the rows wait for their commit
  // (a 200-event body parses to ~10x its bytes; callers drop theirs too): the
  // rejection log keeps only the refused messages, the rest it names from the row.
  many(req: RequestContext, raws: unknown[], format: Format, request?: Request): Promise<BatchOutcome> {
    const prepared: Prepared = { rows: [], indexes: [], rejected: new Map() }
    for (let i = 0; i < raws.length; i++) {
      const v = this.validate(req, raws[i], i, format)
      if (v.ok) {
        prepared.rows.push(v.row)
        prepared.indexes.push(i)
      } else prepared.rejected.set(i, v.errors)
    }
    const refused = new Map<number, unknown>()
    for (const i of prepared.rejected.keys()) refused.set(i, raws[i])
    return this.settle(req, prepared, raws.length, refused, request)
  }

  private async settle(req: RequestContext, prepared: Prepared, total: number, refused: Map<number, unknown>, request?: Request): Promise<BatchOutcome> {
    const outcomes = prepared.rows.length > 0 ? await this.submitter.submit(prepared.rows) : []
    const result = merge(total, prepared, outcomes)
    this.count.accepted.inc(result.accepted)
    this.count.duplicate.inc(result.duplicates)
    this.count.rejected.inc(result.rejected)
    if (request && result.rejected > 0) {
      // Rows Postgres refused: named by the row they became.
      for (let k = 0; k < prepared.rows.length; k++) {
        if (isRefusal(outcomes[k])) refused.set(prepared.indexes[k], { id: prepared.rows[k].id, name: prepared.rows[k].name })
      }
      this.rejections?.batch(request, req.projectId, refused, refusedOf(result))
    }
    return result
  }

  private validate(req: RequestContext, raw: unknown, index: number, format: Format): Validated {
    if (!format.map) return validateEvent(raw, index, format.type, req, this.limits)
    if (!isObject(raw)) return { ok: false, errors: [{ path: '', message: `must be an object, got ${jsonType(raw)}` }] }
    return mappedRow(format.map(raw, index), index, req, this.limits, format.type)
  }
}

// Rows and outcomes back into one result per input message, in input order. A row
// Postgres refused (its data breaks a constraint) is rejected in its own entry.
function merge(total: number, prepared: Prepared, outcomes: RowOutcome[]): BatchOutcome {
  const results = new Array<EventResult>(total)
  let accepted = 0
  let duplicates = 0
  let refused = 0
  for (let k = 0; k < prepared.rows.length; k++) {
    const index = prepared.indexes[k]
    const o = outcomes[k]
    if (isRefusal(o)) {
      refused++
      results[index] = { index, status: 'rejected', errors: [refusalDetail(o)] }
      continue
    }
    results[index] = { index, id: prepared.rows[k].id, status: o }
    if (o === 'accepted') accepted++
    else duplicates++
  }
  for (const [index, errors] of prepared.rejected) results[index] = { index, status: 'rejected', errors }
  return { accepted, duplicates, rejected: prepared.rejected.size + refused, results }
}

function refusedOf(result: BatchOutcome): Map<number, ErrorDetail[]> {
  const refused = new Map<number, ErrorDetail[]>()
  for (const r of result.results) if (r.status === 'rejected') refused.set(r.index, r.errors)
  return refused
}

// What a request adds to each of its events: when it arrived, the client's clock
// error (received_at - sent_at, from the body's sent_at or the X-Sent-At header; a
// correction beyond SKEW_MS_MAX is ignored as nonsense), and its Idempotency-Key.
export function requestContext(
  limits: Limits, projectId: number, o: { sentAt?: unknown; sentAtHeader?: string | null; idempotencyKey?: string | null; single: boolean },
): RequestContext {
  const receivedAtMs = Date.now()
  const raw = o.sentAt ?? o.sentAtHeader ?? undefined
  let skewMs = 0
  if (raw !== undefined && raw !== null) {
    const sentMs = parseTime(typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw)
    if (Number.isNaN(sentMs)) {
      throw new InletError('validation_failed', 'sent_at is not a valid time', [
        { path: '/sent_at', message: 'must be an ISO-8601 time with a zone, or epoch milliseconds' },
      ])
    }
    const skew = receivedAtMs - sentMs
    if (Math.abs(skew) <= limits.SKEW_MS_MAX) skewMs = skew
  }
  const key = o.idempotencyKey ?? null
  // Room for the `:<index>` suffix a batch's events get.
  const keyCharsMax = limits.ID_CHARS_MAX - 6
  if (key !== null && (key.length === 0 || key.length > keyCharsMax)) {
    throw new InletError('validation_failed', 'Idempotency-Key is invalid', [
      { path: 'header:Idempotency-Key', message: `must be 1 to ${keyCharsMax} characters` },
    ])
  }
  return { projectId, receivedAtMs, skewMs, idempotencyKey: key, single: o.single }
}
