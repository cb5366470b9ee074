// Historical data for the report scenarios: user sessions walking the funnel over
// the last N days, with a Signup on each user's first session (for retention).
// Seeded through Inlet's batch API (the real path, for W2's modest volume); the
// `reports` scenario's millions are generated inside Postgres by bench/seed.ts.

import { between, FUNNEL_STEPS, rng, type BenchEvent, type Rand } from './events'
import { post } from './http-client'
import { Client, type Target } from './loadgen'
import { Recorder } from './recorder'

const API_BATCH_EVENTS = 1_000
const API_CONNECTIONS = 4
const EVENTS_PER_USER = 20

// One session: a PageView and a walk down the funnel, seconds apart. `signup` on a
// user's first session.
function session(r: Rand, user: string, atMs: number, signup: boolean): BenchEvent[] {
  const events: BenchEvent[] = []
  let t = atMs
  const push = (name: string) => {
    events.push({ name, user_id: user, timestamp: Math.round(t), session_id: `${user}-${atMs}`, properties: { path: `/p/${between(r, 1, 40)}` } })
    t += between(r, 5_000, 120_000)
  }
  if (signup) push('Signup')
  push('PageView')
  for (let step = 1; step < FUNNEL_STEPS.length && r() < 0.55; step++) push(FUNNEL_STEPS[step]!)
  return events
}

// An endless stream of sessions over [now - days, now), users revisiting over time.
export function* history(seed: number, days: number, users: number): Generator<BenchEvent> {
  const r = rng(seed)
  const now = Date.now()
  const spanMs = days * 86_400_000
  const firstSeen = new Map<number, boolean>()
  for (;;) {
    const u = Math.floor(r() * users)
    // Each user lives in a window of the span; sessions land in it, so cohorts return.
    const startMs = now - spanMs + ((u * 7919) % users) / users * spanMs * 0.8
    const atMs = Math.min(now - 60_000, startMs + r() * (now - startMs))
    const signup = !firstSeen.has(u)
    firstSeen.set(u, true)
    yield* session(r, `u_${u}`, atMs, signup)
  }
}

export async function seedViaApi(target: Target, key: string, o: { events: number; days: number; seed: number }) {
  const it = history(o.seed, o.days, Math.max(100, Math.floor(o.events / EVENTS_PER_USER)))
  let left = o.events
  const rec = new Recorder()
  rec.window(0, Infinity)
  await Promise.all(Array.from({ length: API_CONNECTIONS }, async () => {
    const c = new Client(target, rec)
    while (left > 0) {
      const n = Math.min(API_BATCH_EVENTS, left)
      left -= n
      const events = Array.from({ length: n }, () => it.next().value as BenchEvent)
      const reply = await c.send({ bytes: post('/v1/events/batch', key, JSON.stringify({ events })), events: n })
      if (reply?.status !== 200) throw new Error(`seeding through the API failed: ${reply?.status ?? 'no answer'}`)
    }
    c.close()
  }))
}
