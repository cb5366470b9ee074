// The data lifecycle's background loop, off the hot path: at start-up and every
// LIFECYCLE_INTERVAL_MS, day partitions are created ahead (partitions.ts), an
// unpartitioned events table left by an older Inlet is moved over in batches, and
// expired data is removed (retention.ts). One Inlet process at a time does it
// (a session advisory lock on a reserved connection); the others skip the tick.
// User erasures (erasure.ts) run here too, as soon as one is asked for, and again
// every ERASURE_RETRY_MS while one waits (for the spill to drain, or the move).

import type { Config } from '../config'
import type { Log } from '../log'
import { errorFields } from '../log'
import type { Sql } from './db'
import type { MembershipCache } from './memberships'
import { openErasures, runErasure } from './erasure'
import { maintainPartitions, moveAll } from './partitions'
import { applyRetention } from './retention'
import { readStorage, type StorageStats } from './storage'

// Any constant; the same in every Inlet process (migrate.ts uses 0x1e7_0001).
const LIFECYCLE_LOCK_KEY = 0x1e7_0002
// Between two batches of the online move, so ingest keeps most of Postgres.
const MOVE_PAUSE_MS = 10
// A failed pass (Postgres away, a lock not had) is tried again this soon.
const RETRY_MS = 10_000
const ERASURE_RETRY_MS = 1_000
// Open erasure jobs looked at per run; the rest wait for the next.
const ERASURE_JOBS_MAX = 100

export class Lifecycle {
  private timer: ReturnType<typeof setTimeout> | undefined
  private running: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly sql: Sql,
    private readonly l: Config['limits'],
    private readonly log: Log,
    private readonly memberships?: MembershipCache,
    private readonly spillPending: (projectId: number) => number = () => 0,
    // Told of each project whose stored events an erasure or retention removed.
    private readonly changed: (projectId: number) => void = () => {},
  ) {}

  // For /metrics, as of the last pass.
  storage: StorageStats = { tableBytes: new Map(), oldestEventMs: null }
  private erasing: Promise<void> = Promise.resolve()
  private erasureTimer: ReturnType<typeof setTimeout> | undefined

  // Runs every open erasure as far as it can go now; resolves when that is done.
  // Runs are serialised; a job left waiting is looked at again in ERASURE_RETRY_MS.
  erase(): Promise<void> {
    const run = this.erasing.then(async () => {
      if (this.stopped) return
      let waiting = false
      for (const job of await openErasures(this.sql, ERASURE_JOBS_MAX)) {
        const status = await runErasure(this.sql, job.project_id, job.id,
          { rows: this.l.RETENTION_BATCH_ROWS, spillPending: this.spillPending, memberships: this.memberships })
        if (status !== 'done') waiting = true
        else this.changed(job.project_id)
      }
      clearTimeout(this.erasureTimer)
      if (waiting && !this.stopped) this.erasureTimer = setTimeout(() => void this.erase().catch(() => {}), ERASURE_RETRY_MS)
    })
    this.erasing = run.catch(error => {
      this.log('error', 'an erasure pass failed; trying again soon', errorFields(error))
      clearTimeout(this.erasureTimer)
      if (!this.stopped) this.erasureTimer = setTimeout(() => void this.erase().catch(() => {}), RETRY_MS)
    })
    return run
  }

  start(): void {
    this.stopped = false
    this.schedule(0)
    // Jobs a crashed or stopped process left open are resumed.
    void this.erase().catch(() => {})
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    clearTimeout(this.erasureTimer)
    await this.running
    await this.erasing
  }

  // One pass; resolves when done (tests call it directly). Passes of this process
  // run one after the other; false when another process holds the lock.
  tick(nowMs = Date.now()): Promise<boolean> {
    const pass = this.last.then(() => this.pass(nowMs))
    this.last = pass.then(() => {}, () => {})
    return pass
  }

  private last: Promise<void> = Promise.resolve()

  private async pass(nowMs: number): Promise<boolean> {
    const conn = await this.sql.reserve()
    try {
      const [{ ok }] = await conn`select pg_try_advisory_lock(${LIFECYCLE_LOCK_KEY}) as ok`
      if (!ok) return false
      try {
        // The work runs on the pool (transactions need it); the lock stays on `conn`.
        const c = this.sql
        const created = await maintainPartitions(c, this.l, nowMs)
        if (created.length) this.log('info', 'event partitions created', { days: created.map(d => new Date(d).toISOString().slice(0, 10)) })
        const moved = await moveAll(c, this.l.MOVE_BATCH_ROWS, this.l, MOVE_PAUSE_MS, () => this.stopped)
        if (moved) this.log('info', 'events moved into the partitioned table', { rows: moved })
        const r = await applyRetention(c, this.l, nowMs)
        if (r.dropped.length || r.deleted || r.rollupRows) {
          // Memberships of removed days are gone: the cache must not claim them.
          this.memberships?.clear()
          for (const projectId of r.projects) this.changed(projectId)
          this.log('info', 'retention removed expired data', { partitions: r.dropped, rows: r.deleted, rollupRows: r.rollupRows })
        }
        this.storage = await readStorage(c)
      } finally {
        await conn`select pg_advisory_unlock(${LIFECYCLE_LOCK_KEY})`
      }
      return true
    } finally {
      conn.release()
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      let next = this.l.LIFECYCLE_INTERVAL_MS
      this.running = this.tick()
        .then(() => {}, error => {
          next = Math.min(next, RETRY_MS)
          this.log('error', 'the lifecycle pass failed; trying again soon', errorFields(error))
        })
        .finally(() => this.schedule(next))
    }, ms)
  }
}
