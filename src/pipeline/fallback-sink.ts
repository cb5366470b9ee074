// Where a flusher's batch goes: Postgres, or the spill when Postgres cannot take it
// now (PostHog capture's FallbackSink shape). A batch goes to the spill when
// Postgres is known down, when the spill still holds more than one drain batch
// (so live traffic queues behind the backlog instead of racing the drainer for
// Postgres), or when the Postgres commit fails with a retryable error or outlasts
// FLUSH_COMMIT_MS_MAX. A timed-out commit may still land in Postgres later: the
// drainer's replay of the spilled copy is then a no-op (ON CONFLICT DO NOTHING).
//
// Verdicts: an id waiting in the spill is `duplicate` on either path. An id that
// is already in Postgres but arrives while batches go to the spill is answered
// `accepted` (the spill cannot see Postgres); its replay changes nothing, so the
// stored event stays the first one and is stored once.

import type { Config } from '../config'
import { InletError } from '../errors'
import type { EventRow } from '../ingest/validate'
import type { Log } from '../log'
import type { Metrics } from '../metrics'
import { isRetryable } from '../store/db'
import { DeadlineError, type PostgresHealth, withDeadline } from '../store/health'
import type { PostgresSink } from '../store/sink'
import type { Drainer } from './drainer'
import type { RowOutcome, Sink } from './flusher'
import type { Spill } from './spill'

export class FallbackSink implements Sink {
  readonly name = 'fallback'
  // Outcomes of batches made durable in the spill, for the live stream's durable_in (issue 11).
  private readonly spilled = new WeakSet<RowOutcome[]>()
  durableIn(outcomes: RowOutcome[]): 'postgres' | 'spill' { return this.spilled.has(outcomes) ? 'spill' : 'postgres' }

  constructor(
    private readonly primary: PostgresSink,
    private readonly spill: Spill,
    private readonly health: PostgresHealth,
    private readonly drainer: Drainer,
    private readonly limits: Config['limits'],
    private readonly metrics: Metrics,
    private readonly log: Log,
  ) {}

  async write(rows: EventRow[]): Promise<RowOutcome[]> {
    if (!this.health.up) return this.toSpill(rows)
    if (this.spill.pending > this.limits.DRAIN_BATCH_ROWS_MAX) {
      try {
        return this.toSpill(rows)
      } catch {
        // The spill is full or failing but Postgres is up: the batch goes there
        // rather than being refused.
      }
    }
    // The drainer is nearly done: live rows go to Postgres, except those whose id
    // still waits in the spill, which are duplicates of the spilled copy.
    const outcomes: RowOutcome[] = new Array(rows.length)
    const fresh: EventRow[] = []
    const at: number[] = []
    for (let i = 0; i < rows.length; i++) {
      if (this.spill.has(rows[i].projectId, rows[i].id)) outcomes[i] = 'duplicate'
      else { fresh.push(rows[i]); at.push(i) }
    }
    if (fresh.length === 0) return outcomes
    let written: RowOutcome[]
    try {
      written = await this.toPostgres(fresh)
    } catch (cause) {
      this.health.markDown(cause)
      written = this.toSpill(fresh)
    }
    for (let k = 0; k < fresh.length; k++) outcomes[at[k]] = written[k]
    if (this.spilled.has(written)) this.spilled.add(outcomes) // hook (issue 11)
    return outcomes
  }

  // Throws only retryable errors (including the deadline). A row Postgres refuses
  // for good is found by halving the batch, so it fails its own request and the
  // rest of the batch is stored: log2(rows) extra statements, and only when it happens.
  private async toPostgres(rows: EventRow[]): Promise<RowOutcome[]> {
    try {
      return await withDeadline(this.primary.write(rows), this.limits.FLUSH_COMMIT_MS_MAX, 'a Postgres commit')
    } catch (error) {
      if (error instanceof DeadlineError) this.metrics.postgresErrors.inc({ kind: 'timeout' })
      if (isRetryable(error)) throw error
      if (rows.length === 1) {
        const message = (error as Error)?.message ?? String(error)
        this.log('error', 'Postgres refused an event that passed validation', { id: rows[0].id, projectId: rows[0].projectId, error: message })
        return [new InletError('validation_failed', 'Postgres refused the event', [{ path: '', message: `Postgres refused it: ${message}` }])]
      }
      const mid = rows.length >> 1
      const left = await this.toPostgres(rows.slice(0, mid))
      const right = await this.toPostgres(rows.slice(mid))
      return left.concat(right)
    }
  }

  private toSpill(rows: EventRow[]): RowOutcome[] {
    try {
      const verdicts = this.spill.write(rows)
      let accepted = 0
      for (const v of verdicts) if (v === 'accepted') accepted++
      this.metrics.spillWrites.inc({}, accepted)
      this.drainer.notify()
      this.spilled.add(verdicts) // hook (issue 11)
      return verdicts
    } catch (error) {
      const code = ((error as Error).cause as { code?: string } | undefined)?.code ?? 'unknown'
      this.metrics.spillErrors.inc({ reason: code })
      throw error
    }
  }
}
