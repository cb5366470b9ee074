// The data lifecycle's background loop, off the hot path: at start-up and every
// LIFECYCLE_INTERVAL_MS, day partitions are created ahead (partitions.ts), an
// unpartitioned events table left by an older Inlet is moved over in batches, and
// expired data is removed (retention.ts). One Inlet process at a time does it
// (a lease row, renewed between steps); the others skip the tick.
// User erasures (erasure.ts) run here too, as soon as one is asked for, and again
// every ERASURE_RETRY_MS while one waits (for the spill to drain, or the move).

import type { Config } from '../config'
import type { Log } from '../log'
import { errorFields } from '../log'
import type { Sql } from './db'
import type { MembershipCache } from './memberships'
import { openErasures, runErasure } from './erasure'
import { maintainPartitions, moveAll, moving } from './partitions'
import { applyRetention } from './retention'
import { readStorage, type StorageStats } from './storage'

// How long the lease of a pass lasts unless renewed (it is, before every step and
// every batch of the move): past it, a process that died mid-pass is taken over from.
const LEASE_S = 60
// Between two batches of the online move, so ingest keeps most of Postgres.
const MOVE_PAUSE_MS = 10
// A failed pass (Postgres away, a lock not had) is tried again this soon.
const RETRY_MS = 10_000
const ERASURE_RETRY_MS = 1_000
// Open erasure jobs looked at per run; the rest wait for the next.
const ERASURE_JOBS_MAX = 100
// The first pass and the resumption of open erasures wait this long after start:
// partitions are made before serving (main.ts), and a burst of small statements
// right at start-up met a postgres.js fault when Postgres went away in that same
// moment (a write scheduled on a socket closed before it ran: a TypeError nobody
// can catch, which ends the process). Measured in test/durability/crash.test.ts.
const START_DELAY_MS = 2_000
// A stop waits this long for the statement under way, then leaves it: a shutdown
// must not hang on a Postgres that does not answer (every step resumes later).
const STOP_WAIT_MS = 1_000

// Thrown between steps once stopped: no new statement is sent to a closing pool.
class Stopped extends Error {}

export class Lifecycle {
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly holder = `${process.pid}-${crypto.randomUUID()}`
  private stopped = false
  // For /metrics, as of the last pass.
  storage: StorageStats = { tableBytes: new Map(), oldestEventMs: null }
  private last: Promise<void> = Promise.resolve()
  private erasing: Promise<void> = Promise.resolve()
  private erasureTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly sql: Sql,
    private readonly l: Config['limits'],
    private readonly log: Log,
    private readonly memberships?: MembershipCache,
    private readonly spillPending: (projectId: number) => number = () => 0,
    // Told of the projects whose stored events an erasure or retention removed: once
    // per finished erasure, once per retention pass that removed anything.
    private readonly changed: (projectIds: number[]) => void = () => {},
    // While Postgres is known to be away a pass is not started (it would only hang).
    private readonly postgresUp: () => boolean = () => true,
  ) {}

  // Runs every open erasure as far as it can go now; resolves when that is done.
  // Runs are serialised; a job left waiting is looked at again in ERASURE_RETRY_MS.
  erase(): Promise<void> {
    const run = this.erasing.then(async () => {
      if (this.stopped) return
      // While Postgres is away, nothing is started and the jobs wait.
      const jobs = this.postgresUp() ? await openErasures(this.sql, ERASURE_JOBS_MAX) : null
      let waiting = jobs === null
      for (const job of jobs ?? []) {
        this.check()
        const status = await runErasure(this.sql, job.project_id, job.id, {
          rows: this.l.RETENTION_BATCH_ROWS, spillPending: this.spillPending, memberships: this.memberships, check: () => this.check(),
        })
        if (status !== 'done') waiting = true
        else this.changed([job.project_id])
      }
      clearTimeout(this.erasureTimer)
      if (waiting && !this.stopped) this.erasureTimer = setTimeout(() => void this.erase().catch(() => {}), ERASURE_RETRY_MS)
    })
    this.erasing = run.catch(error => {
      if (error instanceof Stopped) return
      this.log('error', 'an erasure pass failed; trying again soon', errorFields(error))
      clearTimeout(this.erasureTimer)
      if (!this.stopped) this.erasureTimer = setTimeout(() => void this.erase().catch(() => {}), RETRY_MS)
    })
    return run
  }

  start(): void {
    this.stopped = false
    this.schedule(Math.min(START_DELAY_MS, this.l.LIFECYCLE_INTERVAL_MS))
    // Jobs a crashed or stopped process left open are resumed.
    this.erasureTimer = setTimeout(() => void this.erase().catch(() => {}), START_DELAY_MS)
  }

  // Waits up to STOP_WAIT_MS for the statement under way, then gives the lease back.
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    clearTimeout(this.erasureTimer)
    const idle = await Promise.race([Promise.all([this.last, this.erasing]).then(() => true), Bun.sleep(STOP_WAIT_MS).then(() => false)])
    if (idle && this.postgresUp()) {
      // Best effort: an unreleased lease only delays the next holder by LEASE_S.
      await Promise.race([this.release().catch(() => {}), Bun.sleep(STOP_WAIT_MS)])
    }
  }

  // One pass; resolves when done (tests call it directly). Passes of this process
  // run one after the other; false when another process holds the lease, or while
  // Postgres is known to be away.
  tick(nowMs = Date.now()): Promise<boolean> {
    const pass = this.last.then(() => this.pass(nowMs))
    this.last = pass.then(() => {}, () => {})
    return pass
  }

  private check(): void {
    if (this.stopped) throw new Stopped('the lifecycle is stopping')
  }

  private async pass(nowMs: number): Promise<boolean> {
    if (!this.postgresUp() || this.stopped) return false
    if (!(await this.lease())) return false
    const hold = async () => {
      if (!(await this.lease())) throw new Error('the lifecycle lease went to another process')
    }
    try {
      const created = await maintainPartitions(this.sql, this.l, nowMs)
      if (created.length) this.log('info', 'event partitions created', { days: created.map(d => new Date(d).toISOString().slice(0, 10)) })
      await hold()
      const moved = await moveAll(this.sql, this.l.MOVE_BATCH_ROWS, this.l, MOVE_PAUSE_MS, () => this.stopped, () => this.lease())
      if (moved) this.log('info', 'events moved into the partitioned table', { rows: moved })
      await hold()
      // Not while an unpartitioned table is moved over: its old rows, not yet
      // copied, would come back after their rollups went.
      const r = moved === 0 && !(await moving(this.sql))
        ? await applyRetention(this.sql, this.l, nowMs, hold)
        : { projects: [], dropped: [], deleted: 0, rollupRows: 0 }
      if (r.dropped.length || r.deleted || r.rollupRows) {
        // Memberships of removed days are gone: the cache must not claim them.
        this.memberships?.clear()
        this.changed(r.projects)
        this.log('info', 'retention removed expired data', { partitions: r.dropped, rows: r.deleted, rollupRows: r.rollupRows })
      }
      await hold()
      this.storage = await readStorage(this.sql)
    } finally {
      if (!this.stopped) await this.release().catch(() => {})
    }
    return true
  }

  // Takes or renews the lease (sql/008): true when this process holds it now.
  private async lease(): Promise<boolean> {
    this.check()
    const rows = await this.sql`
      insert into lifecycle_lease (one, holder, expires_at) values (true, ${this.holder}, now() + ${LEASE_S} * interval '1 s')
      on conflict (one) do update set holder = excluded.holder, expires_at = excluded.expires_at
      where lifecycle_lease.expires_at < now() or lifecycle_lease.holder = excluded.holder
      returning holder`
    return rows.length === 1
  }

  private async release(): Promise<void> {
    await this.sql`update lifecycle_lease set expires_at = now() where holder = ${this.holder}`
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      let next = this.l.LIFECYCLE_INTERVAL_MS
      void this.tick()
        .then(done => { if (!done && !this.postgresUp()) next = Math.min(next, RETRY_MS) }, error => {
          if (error instanceof Stopped) return
          next = Math.min(next, RETRY_MS)
          this.log('error', 'the lifecycle pass failed; trying again soon', errorFields(error))
        })
        .finally(() => this.schedule(next))
    }, ms)
  }
}
