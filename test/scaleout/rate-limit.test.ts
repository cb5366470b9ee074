// The shared rate limit (src/http/shared-rate-limit.ts) across two real Inlet
// processes on their own ports and one Postgres: a burst under the plan is all
// admitted, the rest of the burst is refused; at steady state a load at 90% of the
// plan is all admitted and a load at twice the plan is held to the plan within 2%.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestDatabase, type TestDatabase } from '../support/pg-cluster'
import type { ServerProcess } from '../support/server'
import { ADMIN_TOKEN, createProject, startSeparate } from './support'

const RPM = 3_000
const PER_S = RPM / 60
let db: TestDatabase
let servers: ServerProcess[]
const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'inlet-rl-')))

beforeAll(async () => {
  db = await createTestDatabase(process.env.INLET_TEST_ADMIN_URL!)
  servers = await startSeparate(2, { DATABASE_URL: db.url, INLET_ADMIN_TOKEN: ADMIN_TOKEN, FLUSH_COMMIT_MS_MAX: '30000' }, dirs)
})

afterAll(async () => {
  for (const s of servers ?? []) await s.kill('SIGTERM')
  await db?.drop()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

interface Outcome { status: number; remaining: number; limit: number; retryAfter: number }

async function send(server: ServerProcess, key: string, n: number): Promise<Outcome> {
  const r = await fetch(`${server.url}/v1/events`, {
    method: 'POST', headers: { authorization: `Bearer ${key}` },
    body: JSON.stringify({ id: `e${n}`, name: 'Limited', timestamp: '2026-11-22T10:00:00.000Z' }),
  })
  const body = await r.json() as { error?: { code: string } }
  if (r.status !== 200) expect({ status: r.status, code: body.error?.code }).toEqual({ status: 429, code: 'rate_limited' })
  return {
    status: r.status, remaining: Number(r.headers.get('ratelimit-remaining')), limit: Number(r.headers.get('ratelimit-limit')),
    retryAfter: Number(r.headers.get('retry-after') ?? 0),
  }
}

// `total` requests, alternating between the servers, `concurrency` at a time.
async function burst(key: string, total: number, from: number, concurrency = 8): Promise<Outcome[]> {
  const out: Outcome[] = []
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const n = next++
      out.push(await send(servers[n % 2]!, key, from + n))
    }
  }))
  return out
}

// Requests at `perS` a second for `seconds`, alternating between the servers.
async function paced(key: string, perS: number, seconds: number, from: number) {
  const started = performance.now()
  const pending: Promise<Outcome>[] = []
  for (let n = 0; n < perS * seconds; n++) {
    const due = started + (n * 1000) / perS
    const wait = due - performance.now()
    if (wait > 0) await Bun.sleep(wait)
    pending.push(send(servers[n % 2]!, key, from + n))
  }
  const out = await Promise.all(pending)
  return { out, seconds: (performance.now() - started) / 1000 }
}

const admitted = (out: Outcome[]) => out.filter(o => o.status === 200).length

test('a burst up to the plan is admitted across two processes; past it, both refuse and the total is the plan within 2%', async () => {
  const { api_key } = await createProject(servers[0]!.url, RPM)
  const started = performance.now()
  const under = await burst(api_key, RPM * 0.95, 0)
  expect(admitted(under)).toBe(RPM * 0.95)
  expect(under.every(o => o.limit === RPM)).toBe(true)
  const over = await burst(api_key, RPM * 0.3, 10_000)
  const seconds = (performance.now() - started) / 1000
  const total = admitted(under) + admitted(over)
  const allowance = RPM + PER_S * seconds
  expect(total).toBeLessThanOrEqual(allowance)
  expect(total).toBeGreaterThanOrEqual(allowance - 0.02 * RPM)
  // Both processes refused, and said when to come back.
  const refused = over.map((o, i) => ({ ...o, server: i })).filter(o => o.status === 429)
  expect(refused.length).toBeGreaterThan(0)
  expect(refused.every(o => o.remaining === 0 && o.retryAfter >= 1)).toBe(true)
  console.log(`shared rate limit, burst: ${total} admitted of ${RPM * 1.25} in ${seconds.toFixed(1)} s; allowance ${allowance.toFixed(0)} `
    + `(error ${(((total - allowance) / RPM) * 100).toFixed(2)}% of the plan)`)
}, 60_000)

test('at steady state, 90% of the plan is all admitted and twice the plan is held to the plan within 2%', async () => {
  const { api_key } = await createProject(servers[0]!.url, RPM)
  // Spend the burst first, then let 2 s of refill bank (3% of the plan): a load
  // under the plan then never finds the bucket empty, whatever its jitter (a bucket
  // at exactly zero refuses a request that comes early, in one process as in two).
  await burst(api_key, RPM * 1.1, 0)
  await Bun.sleep(2_000)
  const below = await paced(api_key, PER_S * 0.9, 10, 100_000)
  expect(admitted(below.out)).toBe(below.out.length)
  await burst(api_key, RPM * 0.2, 200_000)
  const above = await paced(api_key, PER_S * 2, 10, 300_000)
  const expected = PER_S * above.seconds
  const got = admitted(above.out)
  expect(Math.abs(got - expected)).toBeLessThanOrEqual(0.02 * RPM)
  console.log(`shared rate limit, steady: 90% of the plan: ${admitted(below.out)}/${below.out.length} admitted; `
    + `2x the plan: ${got} admitted in ${above.seconds.toFixed(1)} s, expected ${expected.toFixed(0)} `
    + `(error ${(((got - expected) / RPM) * 100).toFixed(2)}% of the plan)`)
}, 90_000)
