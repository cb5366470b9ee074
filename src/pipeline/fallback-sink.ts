// Where a flusher's batch goes: Postgres, or the spill when Postgres cannot take it
// now (PostHog capture's FallbackSink shape). A batch goes to the spill when
// Postgres is known down, when the spill still holds more than one drain batch
// (so live traffic queues behind the backlog instead of racing the drainer for
// Postgres; not when the spill's disk is full), or when the Postgres write fails for any reason but the row's own data
// (those rows come back as refusals and fail only their own entry), or outlasts
// FLUSH_COMMIT_MS_MAX. The spilled copy of a write that still commits later is
// replayed as a no-op (ON CONFLICT DO NOTHING), and the late write is cancelled.
//
// When the spill cannot take a batch either, the client hears the truth: Postgres
// is asked how the write really ended (cancelled and waited for, up to one more
// FLUSH_COMMIT_MS_MAX) — committed after all: its verdicts; refused by Postgres: a
// 503, nothing stored; no answer: OutcomeUnknown, a 503 that says the events may be stored.
//
// Verdicts: an id waiting in the spill is `duplicate` on either path. An id that
// is already in Postgres but arrives while batches go to the spill is answered
// `accepted` (the spill cannot see Postgres); its replay changes nothing, so the
// stored event stays the first one and is stored once.

import { AssertionError } from '../assert'
import type { Config } from '../config'
import type { EventRow, RowOutcome, Verdict } from '../event'
import type { Metrics } from '../metrics'
import type { WriteHealth } from './drainer'
import { OutcomeUnknown, type Sink, type Written } from './flusher'

// One write to Postgres in flight, as the fallback needs to see it.
export interface PrimaryWrite {
  // The outcomes once committed; rejects when the write failed, outlived its
  // deadline, or was abandoned.
  readonly committed: Promise<RowOutcome[]>
  // After a rejection: stops the write in Postgres and waits up to `ms` for how it
  // really ended: its outcomes if it committed after all, 'failed' when Postgres
  // answered that it did not, 'unknown' when Postgres never answered.
  settle(ms: number): Promise<RowOutcome[] | 'failed' | 'unknown'>
}

// Defined here, satisfied by store/ (wired in inlet.ts).
export interface Primary {
  write(rows: EventRow[], deadlineMs: number, abort: AbortSignal): PrimaryWrite
}

// What the fallback needs of the spill.
export interface SpillTarget {
  readonly pending: number
  // Its disk ran out of room since it was last empty.
  readonly full: boolean
  has(projectId: number, id: string): boolean
  // Throws a 503 InletError (nothing written) when the spill cannot take the rows.
  write(rows: EventRow[]): Verdict[]
}

export class FallbackSink implements Sink {
  private readonly abandon = new AbortController()

  constructor(
    private readonly primary: Primary,
    private readonly spill: SpillTarget,
    private readonly health: WriteHealth,
    private readonly spilled: () => void,
    private readonly limits: Config['limits'],
    private readonly metrics: Metrics,
  ) {}

  // Shutdown past SHUTDOWN_MS_MAX: writes in flight to Postgres are given up (their
  // batches go to the spill now) and every later batch goes straight to the spill.
  spillEverything(): void {
    this.abandon.abort()
  }

  async write(rows: EventRow[]): Promise<Written> {
    if (!this.health.up || this.abandon.signal.aborted) return this.toSpill(rows)
    // A backlog: live rows queue behind it rather than race the drainer for Postgres,
    // unless the spill's disk has run out of room: then the room the drainer frees is
    // the drainer's, and live rows go to Postgres.
    if (this.spill.pending > this.limits.DRAIN_BATCH_ROWS_MAX && !this.spill.full) {
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
    // Every row waits in the spill already: that is where they are durable.
    if (fresh.length === 0) return { outcomes, durableIn: 'spill' }
    const written = await this.toPostgres(fresh)
    for (let k = 0; k < fresh.length; k++) outcomes[at[k]] = written.outcomes[k]
    return { outcomes, durableIn: written.durableIn }
  }

  private async toPostgres(rows: EventRow[]): Promise<Written> {
    const w = this.primary.write(rows, this.limits.FLUSH_COMMIT_MS_MAX, this.abandon.signal)
    try {
      return { outcomes: await w.committed, durableIn: 'postgres' }
    } catch (cause) {
      if (cause instanceof AssertionError) throw cause
      this.health.markDown(cause)
      let spilled: Written
      try {
        spilled = this.toSpill(rows)
      } catch (spillError) {
        // Neither can take it now: say what Postgres really did with it.
        const end = await w.settle(this.limits.FLUSH_COMMIT_MS_MAX)
        if (Array.isArray(end)) return { outcomes: end, durableIn: 'postgres' }
        if (end === 'failed') throw spillError
        throw new OutcomeUnknown('the commit outcome is unknown and the spill could not take the batch', { cause })
      }
      // The spilled copy is what the client is answered from; stop the Postgres write.
      void w.settle(this.limits.FLUSH_COMMIT_MS_MAX)
      return spilled
    }
  }

  private toSpill(rows: EventRow[]): Written {
    try {
      const verdicts = this.spill.write(rows)
      let accepted = 0
      for (const v of verdicts) if (v === 'accepted') accepted++
      this.metrics.spillWrites.inc({}, accepted)
      this.spilled()
      return { outcomes: verdicts, durableIn: 'spill' }
    } catch (error) {
      const code = ((error as Error).cause as { code?: string } | undefined)?.code ?? 'unknown'
      this.metrics.spillErrors.inc({ reason: code })
      throw error
    }
  }
}
