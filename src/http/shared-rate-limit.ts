// The rate limit when several Inlet processes serve one Postgres (INLET_PROCESSES >
// 1, here or on other hosts). A project's bucket is a row in Postgres; each process
// leases whole tokens from it a chunk at a time and spends them locally, so a
// request costs no round trip: a lease is asked for when the tokens held fall below
// half a chunk, and only a request that finds none held waits for one (sharing the
// lease in flight with every other such request). Near the limit the row runs dry
// and leases come back short; then a process leases again when the row holds a
// token, at most once per RATE_LIMIT_LEASE_INTERVAL_MS_MIN, and a request waits for
// that lease (a few ms) rather than being refused while the row refills.
//
// Accuracy: a token is spent only once leased, so the processes together never let
// more through than the bucket; what they hold unspent (at most 1.5 chunks each)
// is what they may under-admit. A chunk is RATE_LIMIT_LEASE_PERMILLE of the plan
// divided among the processes, so the error stays within 1.5 × that share of the
// plan whatever the number of processes (1.5% at the default 10‰), at about
// 1.7 leases a second per process for a busy project under its limit, and at most
// 1000 / RATE_LIMIT_LEASE_INTERVAL_MS_MIN per process for one at its limit.
//
// When Postgres does not answer a lease within RATE_LIMIT_LEASE_MS_MAX (or is down
// for writes), each process enforces its share of the plan (rpm / INLET_PROCESSES)
// in memory, as the single-process limiter does, until Postgres is back: the plan
// holds if the load is spread evenly, and no request waits on a Postgres that is away.

import type { Lease } from '../store/rate-leases'
import { type RateDecision, type RateLimit, RateLimiter } from './rate-limit'

interface Share {
  rpm: number
  // Tokens leased and not yet spent.
  held: number
  // The bucket row after the last lease, and when that was (this process's clock).
  shared: number
  sharedAtMs: number
  // The row had no more to give: no lease is asked for until a chunk has refilled.
  dryUntilMs: number
  pending: Promise<void> | null
}

export interface SharedRateOptions {
  processes: number
  leasePermille: number
  leaseMsMax: number
  leaseIntervalMsMin: number
  projectsMax: number
  // Postgres takes writes (store/health.ts).
  postgresUp: () => boolean
  onFallback?: (error: unknown) => void
}

export class SharedRateLimiter implements RateLimit {
  private shares = new Map<number, Share>()
  // Judges requests while Postgres is away, with each process's share of the plan.
  private readonly local: RateLimiter
  private fallbackUntilMs = 0

  constructor(
    private readonly lease: (projectId: number, rpm: number, want: number) => Promise<Lease>,
    private readonly o: SharedRateOptions,
    private readonly now = () => performance.now(),
  ) {
    this.local = new RateLimiter(o.projectsMax, now)
  }

  chunkOf(rpm: number): number {
    return Math.max(1, Math.floor(rpm * this.o.leasePermille / 1000 / this.o.processes))
  }

  take(projectId: number, rpm: number): RateDecision | Promise<RateDecision> {
    const now = this.now()
    if (now < this.fallbackUntilMs || !this.o.postgresUp()) return this.fallback(projectId, rpm)
    const s = this.shareOf(projectId, rpm, now)
    const chunk = this.chunkOf(rpm)
    if (s.held >= 1) {
      s.held -= 1
      if (s.held < chunk / 2 && now >= s.dryUntilMs) void this.refill(projectId, s, chunk)
      return this.decision(s, true, now)
    }
    // None held: wait for the lease in flight or the next one, unless the row will
    // have nothing to give for longer than RATE_LIMIT_LEASE_INTERVAL_MS_MIN.
    if (s.dryUntilMs - now > this.o.leaseIntervalMsMin) return this.decision(s, false, now)
    return this.refill(projectId, s, chunk).then(() => {
      const later = this.now()
      if (later < this.fallbackUntilMs) return this.fallback(projectId, rpm)
      const allowed = s.held >= 1
      if (allowed) s.held -= 1
      return this.decision(s, allowed, later)
    })
  }

  private fallback(projectId: number, rpm: number): RateDecision {
    const d = this.local.take(projectId, Math.max(1, Math.floor(rpm / this.o.processes)))
    return { ...d, limit: rpm }
  }

  // One lease in flight per project; it tops the tokens held up by a chunk.
  // The lease is asked for no sooner than dryUntilMs.
  private refill(projectId: number, s: Share, chunk: number): Promise<void> {
    if (s.pending) return s.pending
    const delayMs = s.dryUntilMs - this.now()
    s.pending = (delayMs > 0 ? Bun.sleep(delayMs) : Promise.resolve()).then(() => this.leaseNow(projectId, s, chunk))
    return s.pending
  }

  private leaseNow(projectId: number, s: Share, chunk: number): Promise<void> {
    const asked = this.now()
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`a rate-limit lease took longer than ${this.o.leaseMsMax} ms`)), this.o.leaseMsMax)
    })
    const lease = this.lease(projectId, s.rpm, chunk)
    return Promise.race([lease, late]).then(({ granted, tokens }) => {
      s.held += granted
      s.shared = tokens
      s.sharedAtMs = asked
      // Less than asked: the row is empty (under one token). Ask again once it holds
      // one, and no sooner than RATE_LIMIT_LEASE_INTERVAL_MS_MIN, which bounds the
      // leases per second of a project at its limit whatever its plan.
      s.dryUntilMs = granted < chunk
        ? asked + Math.max(this.o.leaseIntervalMsMin, (1 - tokens) / (s.rpm / 60_000))
        : 0
    }, error => {
      // A lease that answers after all still counts: its tokens were taken from the row.
      lease.then(({ granted }) => { s.held += granted }, () => {})
      this.fallbackUntilMs = this.now() + this.o.leaseMsMax * 4
      this.o.onFallback?.(error)
    }).finally(() => {
      clearTimeout(timer)
      s.pending = null
    })
  }

  private shareOf(projectId: number, rpm: number, now: number): Share {
    let s = this.shares.get(projectId)
    if (!s) {
      if (this.shares.size >= this.o.projectsMax) {
        const oldest = this.shares.keys().next().value
        if (oldest !== undefined) this.shares.delete(oldest)
      }
      s = { rpm, held: 0, shared: rpm, sharedAtMs: now, dryUntilMs: 0, pending: null }
    } else {
      // Least recently used first, as in rate-limit.ts.
      this.shares.delete(projectId)
    }
    this.shares.set(projectId, s)
    if (s.rpm !== rpm) {
      // A plan change: hold no more than the new plan's chunk, and ask at once.
      s.rpm = rpm
      s.held = Math.min(s.held, this.chunkOf(rpm))
      s.dryUntilMs = 0
    }
    return s
  }

  // What this process knows: the tokens it holds plus the row as last seen, refilled
  // since (others may have spent some of that: Remaining is an upper estimate by at
  // most their held chunks, as the limit itself is).
  private decision(s: Share, allowed: boolean, now: number): RateDecision {
    const perMs = s.rpm / 60_000
    const left = Math.min(s.rpm, s.held + s.shared + (now - s.sharedAtMs) * perMs)
    return {
      allowed,
      limit: s.rpm,
      remaining: allowed ? Math.floor(left) : 0,
      resetS: Math.ceil((s.rpm - left) / perMs / 1000),
      retryAfterS: allowed ? 0 : Math.max(1, Math.ceil((s.dryUntilMs - now) / 1000)),
    }
  }
}
