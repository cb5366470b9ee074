// Whether Postgres is taking writes, as the write path has seen it and as a light
// probe confirms. The fallback sink marks it down on a retryable error or a commit
// past its deadline; a `select 1` every PG_PROBE_INTERVAL_MS that answers within
// FLUSH_COMMIT_MS_MAX marks it up again, which is what wakes the drainer. The same
// probe notices an outage while no writes arrive.

import type { Log } from '../log'
import type { Metrics } from '../metrics'
import type { Sql } from './db'

// A timed-out write is not cancelled (postgres.js has no per-query timeout and the
// statement may still commit); the caller moves on, and replays stay idempotent.
export class DeadlineError extends Error {
  readonly code = 'FLUSH_TIMEOUT'
}

// Resolves or rejects like `promise`, or rejects with DeadlineError after `ms`. The
// late outcome of `promise` is swallowed so it never becomes an unhandled rejection.
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => {})
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} took longer than ${ms} ms`)), ms)
  })
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer))
}

export class PostgresHealth {
  up = true
  private outstanding: Promise<boolean> | null = null
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
    if (!this.up) return
    this.up = false
    this.log('warn', 'Postgres is unavailable; writes go to the spill', { error: String((cause as Error)?.message ?? cause) })
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
    if (this.outstanding) return
    const started = performance.now()
    const deadlineMs = this.up ? this.upDeadlineMs : this.deadlineMs
    const query = this.sql`select 1`.then(() => true, () => false)
    this.outstanding = query.finally(() => { this.outstanding = null })
    const ok = await withDeadline(query, deadlineMs, 'the Postgres probe').catch(() => false)
      && performance.now() - started <= deadlineMs
    this.metrics.postgresProbes.inc({ result: ok ? 'up' : 'down' })
    if (ok && !this.up) {
      this.up = true
      this.log('info', 'Postgres is back; draining the spill')
      const listeners = this.listeners
      this.listeners = []
      for (const l of listeners) l()
    } else if (!ok) this.markDown(new Error('the probe failed or was slower than FLUSH_COMMIT_MS_MAX'))
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
