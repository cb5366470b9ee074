// The shared limiter's fallback (src/http/shared-rate-limit.ts): when a lease fails,
// times out, or Postgres is down for writes, each process enforces its share of the
// plan (rpm / INLET_PROCESSES) in memory, and the headers still name the plan.

import { expect, test } from 'bun:test'
import { SharedRateLimiter, type SharedRateOptions } from '../../src/http/shared-rate-limit'
import type { Lease } from '../../src/store/rate-leases'

const options = (o: Partial<SharedRateOptions> = {}): SharedRateOptions => ({
  processes: 2, leasePermille: 10, leaseMsMax: 50, leaseIntervalMsMin: 20, projectsMax: 100, postgresUp: () => true, ...o,
})

async function spend(limiter: SharedRateLimiter, n: number, rpm: number) {
  let allowed = 0
  for (let i = 0; i < n; i++) {
    const d = await limiter.take(1, rpm)
    expect(d.limit).toBe(rpm)
    if (d.allowed) allowed++
  }
  return allowed
}

test('a lease that fails: this process admits its share of the plan, not the plan', async () => {
  let failures = 0
  const limiter = new SharedRateLimiter(async () => { throw new Error('connection refused') }, options({ onFallback: () => failures++ }))
  expect(await spend(limiter, 100, 120)).toBe(60)
  expect(failures).toBe(1)
})

test('a lease that does not answer within RATE_LIMIT_LEASE_MS_MAX: decided by the share, in about that time', async () => {
  const limiter = new SharedRateLimiter(() => new Promise<Lease>(() => {}), options())
  const started = performance.now()
  const first = await limiter.take(1, 120)
  expect(performance.now() - started).toBeLessThan(500)
  expect(first).toMatchObject({ allowed: true, limit: 120, remaining: 59 })
  expect(await spend(limiter, 99, 120)).toBe(59)
})

test('Postgres down for writes: no lease is asked for; the share holds', async () => {
  let leases = 0
  const limiter = new SharedRateLimiter(async () => { leases++; return { granted: 1, tokens: 0 } }, options({ processes: 4, postgresUp: () => false }))
  expect(await spend(limiter, 100, 120)).toBe(30)
  expect(leases).toBe(0)
})

test('with Postgres up, requests spend leased chunks: one lease per chunk, not per request', async () => {
  let row = 6_000
  let leases = 0
  const limiter = new SharedRateLimiter(async (_p, _rpm, want) => {
    leases++
    const granted = Math.min(want, Math.floor(row))
    row -= granted
    return { granted, tokens: row }
  }, options())
  // Chunk: 6,000 rpm × 10‰ / 2 processes = 30 tokens.
  expect(limiter.chunkOf(6_000)).toBe(30)
  expect(await spend(limiter, 3_000, 6_000)).toBe(3_000)
  expect(leases).toBeLessThanOrEqual(3_000 / 15 + 1)
  expect(leases).toBeGreaterThanOrEqual(3_000 / 30)
})
