// Whether Postgres is taking writes, as the write path has seen it and as a light
// probe confirms. The fallback sink and the drainer mark it down on any write that
// failed "not now" (store/outcomes.ts) or outlived its deadline; a probe every
// PG_PROBE_INTERVAL_MS that answers within FLUSH_COMMIT_MS_MAX *and* finds the
// session writable (not read-only after a failover, not a standby) marks it up
// again, which is what wakes the drainer. The same probe notices an outage while
// no writes arrive. Reads look at `reachable` instead: Postgres answered the last
// probe within PG_CONNECT_TIMEOUT_S, however slowly or read-only.

import postgres from 'postgres'
import type { Log } from '../log'
import type { Metrics } from '../metrics'
import type { Sql } from './db'
import { DeadlineError, withDeadline } from './deadline'

// Probe deadlines (the up one) after which an unsettled probe is abandoned.
const ABANDON_AFTER = 4

export class PostgresHealth {
  // Takes writes.
  up = true
  // Answers at all (a read-only Postgres still serves reads): what reads look at.
  reachable = true
  private outstanding: Promise<'writable' | 'read_only' | 'silent'> | null = null
  private outstandingSince = 0
  private timer: ReturnType<typeof setInterval> | null = null
  private listeners: (() => void)[] = []

  constructor(
    private readonly sql: Sql,
    private readonly intervalMs: number,
    // Down → up needs an answer within a commit's deadline (FLUSH_COMMIT_MS_MAX), or
    // writes would time out again. Up → down on a probe alone needs no answer for
    // longer (PG_CONNECT_TIMEOUT_S): writes notice slowness on their own, and one
    // stalled event-loop tick on a busy host must not send traffic to the spill.
    private readonly deadlineMs: number,
    private readonly upDeadlineMs: number,
    private readonly log: Log,
    private readonly metrics: Metrics,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.probe(), this.intervalMs)
    this.timer.unref?.()
  }

  // Called with the error that made a write give up on Postgres.
  markDown(cause: unknown): void {
    // Postgres answered with an error (read-only, cancelled, …): it still serves
    // reads. A commit past its deadline says Postgres is slow, not gone: reads keep
    // their own deadline (PG_STATEMENT_TIMEOUT_MS) and the probe decides whether it
    // answers at all (a saturated Postgres in bench W4 answered every read, and
    // marking it unreachable turned thousands of them into 503s). A socket error
    // means no answer: reads would wait too.
    if (!(cause instanceof postgres.PostgresError) && !(cause instanceof DeadlineError)) this.reachable = false
    this.down(cause)
  }

  private down(cause: unknown): void {
    if (!this.up) return
    this.up = false
    this.log('warn', 'Postgres is unavailable for writes; they go to the spill', {
      code: (cause as { code?: string })?.code, error: String((cause as Error)?.message ?? cause),
    })
  }

  // Resolves the next time Postgres is marked up (at once if it is up).
  whenUp(): Promise<void> {
    if (this.up) return Promise.resolve()
    return new Promise(resolve => this.listeners.push(resolve))
  }

  // At most one probe query is outstanding: one stuck on a black-holed connection
  // is waited for, not stacked, so probes never eat the pool. Its verdict, though,
  // comes within the deadline, so an idle process still notices an outage.
  async probe(): Promise<void> {
    const started = performance.now()
    if (this.outstanding) {
      // A probe that never settles (a driver bug on a reset socket) must not keep
      // Postgres marked down forever: past ABANDON_AFTER deadlines it is left to
      // settle on its own and a new one goes out.
      if (started - this.outstandingSince < this.upDeadlineMs * ABANDON_AFTER) return
      this.metrics.postgresProbes.inc({ result: 'abandoned' })
      this.log('warn', 'a Postgres probe has not settled; sending another', { ms: Math.round(started - this.outstandingSince) })
    }
    // Writes come back up only on an answer within a commit's deadline; reads count
    // Postgres reachable on any answer within the longer one.
    const deadlineMs = this.up ? this.upDeadlineMs : this.deadlineMs
    // transaction_read_only is on for a hot standby and for a database set
    // default_transaction_read_only (what a failover tool does to the old primary).
    const query = this.sql`select current_setting('transaction_read_only') as ro`
      .then(([r]) => (r.ro === 'off' ? 'writable' as const : 'read_only' as const), () => 'silent' as const)
    const outstanding = query.finally(() => { if (this.outstanding === outstanding) this.outstanding = null })
    this.outstanding = outstanding
    this.outstandingSince = started
    const state = await withDeadline(query, this.upDeadlineMs, 'the Postgres probe').catch(() => 'silent' as const)
    const inTime = performance.now() - started <= deadlineMs
    this.reachable = state !== 'silent'
    const ok = state === 'writable' && inTime
    this.metrics.postgresProbes.inc({ result: ok ? 'up' : 'down' })
    if (ok && !this.up) {
      this.up = true
      this.log('info', 'Postgres is back; draining the spill')
      const listeners = this.listeners
      this.listeners = []
      for (const l of listeners) l()
    } else if (!ok) this.down(new Error(`the probe found Postgres ${state === 'read_only' ? 'read-only' : inTime ? 'not answering' : 'slower than its deadline'}`))
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    // Wake anyone waiting so they can see that the process is stopping.
    const listeners = this.listeners
    this.listeners = []
    for (const l of listeners) l()
  }
}
