// The drainer: while the spill holds events and Postgres takes writes, replays them
// into Postgres in spill order, DRAIN_BATCH_ROWS_MAX per transaction, through the
// same write as live traffic (so rollups count each event once), and deletes a
// batch from the spill only after Postgres committed it. A crash between the two
// replays the batch, which ON CONFLICT DO NOTHING turns into a no-op.
//
// What Postgres answers decides what happens (store/outcomes.ts): rows it refuses as
// data errors move to the dead-letter table in the same transaction as the rest of
// the batch; any other failure ("not now": down, read-only, cancelled, full, …)
// leaves the batch in the spill, marks Postgres down for writes, and the drainer
// waits for the probe. A failure of the spill's own disk (a delete that cannot be
// written) backs off and retries. Nothing here ever drops an acknowledged event.

import { AssertionError } from '../assert'
import type { Config } from '../config'
import type { EventRow, Refusal } from '../event'
import type { Log } from '../log'
import type { Metrics } from '../metrics'
import type { OnBug } from './flusher'
import type { Spill, Spilled } from './spill'

// What the drainer needs from below, defined here and satisfied by store/ (wired in inlet.ts).
export interface DrainTarget {
  // Writes the rows; rows refused as data are dead-lettered in the same transaction.
  // Resolves with the refused ones; throws when the batch could not be written now.
  replay(batch: Spilled[], deadlineMs: number): Promise<{ row: EventRow; refusal: Refusal }[]>
}

export interface WriteHealth {
  readonly up: boolean
  markDown(cause: unknown): void
  whenUp(): Promise<void>
}

// A failing spill disk or an unexpected error: wait this long, doubling up to the max.
const BACKOFF_MS_MIN = 100
const BACKOFF_MS_MAX = 5_000

export class Drainer {
  private stopped = false
  private loopDone: Promise<void> = Promise.resolve()
  private wake: (() => void) | null = null
  private readonly stopping = Promise.withResolvers<void>()
  private backoffMs = 0

  constructor(
    private readonly target: DrainTarget,
    private readonly spill: Spill,
    private readonly health: WriteHealth,
    private readonly limits: Config['limits'],
    private readonly metrics: Metrics,
    private readonly log: Log,
    private readonly onBug: OnBug,
  ) {}

  start(): void {
    this.loopDone = this.loop()
  }

  // Something was spilled: start draining if idle.
  notify(): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.step()
        this.backoffMs = 0
      } catch (error) {
        if (error instanceof AssertionError) {
          this.onBug(error, { where: 'drainer' })
          return
        }
        // The spill's disk, or something never seen: log (folded), count, back off, retry.
        this.backoffMs = Math.min(BACKOFF_MS_MAX, Math.max(BACKOFF_MS_MIN, this.backoffMs * 2))
        const code = (error as { code?: string })?.code ?? 'unknown'
        this.metrics.backgroundErrors.inc({ loop: 'drainer', code })
        this.log('error', 'the drainer failed; retrying', { code, error: (error as Error)?.message, retry_in_ms: this.backoffMs })
        await this.sleep(this.backoffMs)
      }
    }
  }

  private async step(): Promise<void> {
    if (!this.health.up) {
      await Promise.race([this.health.whenUp(), this.stopping.promise])
      return
    }
    const batch = this.spill.oldest(this.limits.DRAIN_BATCH_ROWS_MAX)
    if (batch.length === 0) {
      this.spill.resync()
      await this.idle()
      return
    }
    const started = performance.now()
    let refused
    try {
      refused = await this.target.replay(batch, this.limits.DRAIN_COMMIT_MS_MAX)
    } catch (error) {
      if (error instanceof AssertionError) throw error
      // Not now: nothing is deleted; the batch is replayed once a probe sees Postgres writable.
      this.health.markDown(error)
      return
    }
    // Committed in Postgres (as events or dead letters): only now leave the spill.
    this.spill.remove(batch)
    this.metrics.drained.inc({}, batch.length - refused.length)
    this.metrics.drainSeconds.observe((performance.now() - started) / 1000)
    for (const r of refused) {
      this.metrics.deadLettered.inc()
      this.log('error', 'Postgres refused an acknowledged event; it is in the dead-letter table', {
        projectId: r.row.projectId, id: r.row.id, code: r.refusal.sqlstate, error: r.refusal.message,
      })
    }
    if (this.spill.pending === 0) this.log('info', 'the spill is drained')
  }

  // Sleeps until notified, or one probe interval: another process sharing the data
  // directory may have spilled without telling us.
  private idle(): Promise<void> {
    return this.sleep(this.limits.PG_PROBE_INTERVAL_MS)
  }

  private sleep(ms: number): Promise<void> {
    return new Promise(resolve => {
      const timer = setTimeout(() => this.notify(), ms)
      this.wake = () => { clearTimeout(timer); resolve() }
    })
  }

  // Stops after the replay in flight; a replay stuck on a dead connection is not
  // waited for (its rows stay in the spill and are replayed at the next start).
  async stop(graceMs: number): Promise<void> {
    this.stopped = true
    this.stopping.resolve()
    this.notify()
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([this.loopDone, new Promise(resolve => { timer = setTimeout(resolve, graceMs) })])
    clearTimeout(timer)
  }
}
