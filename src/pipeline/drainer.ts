// The drainer: while the spill holds events and Postgres is up, replays them into
// Postgres in spill order, DRAIN_BATCH_ROWS_MAX per transaction, through the same
// insertEvents as live traffic (so rollups count each event once), and deletes a
// batch from the spill only after Postgres committed it. A crash between the two
// replays the batch, which ON CONFLICT DO NOTHING turns into a no-op.

import type { Config } from '../config'
import type { Log } from '../log'
import type { Metrics } from '../metrics'
import type { Sql } from '../store/db'
import { isRetryable } from '../store/db'
import { insertEvents } from '../store/events'
import { DeadlineError, type PostgresHealth, withDeadline } from '../store/health'
import type { Spill, Spilled } from './spill'

export class Drainer {
  private stopped = false
  private loopDone: Promise<void> = Promise.resolve()
  private wake: (() => void) | null = null
  private readonly stopping = Promise.withResolvers<void>()

  constructor(
    private readonly sql: Sql,
    private readonly spill: Spill,
    private readonly health: PostgresHealth,
    private readonly limits: Config['limits'],
    private readonly metrics: Metrics,
    private readonly log: Log,
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
      if (!this.health.up) {
        await Promise.race([this.health.whenUp(), this.stopping.promise])
        continue
      }
      const batch = this.spill.oldest(this.limits.DRAIN_BATCH_ROWS_MAX)
      if (batch.length === 0) {
        this.spill.resync()
        await this.idle()
        continue
      }
      await this.replay(batch)
    }
  }

  // Sleeps until notified, or one probe interval: another process sharing the data
  // directory may have spilled without telling us.
  private idle(): Promise<void> {
    return new Promise(resolve => {
      const timer = setTimeout(() => this.notify(), this.limits.PG_PROBE_INTERVAL_MS)
      this.wake = () => { clearTimeout(timer); resolve() }
    })
  }

  private async replay(batch: Spilled[]): Promise<void> {
    const started = performance.now()
    try {
      const rows = batch.map(s => s.row)
      await withDeadline(insertEvents(this.sql, rows), this.limits.DRAIN_COMMIT_MS_MAX, 'a replay from the spill')
    } catch (error) {
      if (error instanceof DeadlineError) this.metrics.postgresErrors.inc({ kind: 'timeout' })
      else this.metrics.postgresErrors.inc({ kind: isRetryable(error) ? 'retryable' : 'fatal' })
      if (isRetryable(error)) {
        // Nothing is deleted; the batch is replayed once the probe sees Postgres again.
        this.health.markDown(error)
        return
      }
      await this.isolate(batch, error)
      return
    }
    this.spill.remove(batch)
    this.metrics.drained.inc({}, batch.length)
    this.metrics.drainSeconds.observe((performance.now() - started) / 1000)
    if (this.spill.pending === 0) this.log('info', 'the spill is drained')
  }

  // A row Postgres refuses for good: halve the batch until it is alone, then move it
  // to the dead-letter table, so the rows behind it keep flowing.
  private async isolate(batch: Spilled[], error: unknown): Promise<void> {
    if (batch.length === 1) {
      const message = (error as Error)?.message ?? String(error)
      this.spill.poison(batch[0], message)
      this.metrics.spillPoison.inc()
      this.log('error', 'Postgres refused a spilled event; kept in spill_poison', {
        projectId: batch[0].row.projectId, id: batch[0].row.id, error: message,
      })
      return
    }
    const mid = batch.length >> 1
    for (const half of [batch.slice(0, mid), batch.slice(mid)]) {
      if (this.stopped || !this.health.up) return
      await this.replay(half)
    }
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
