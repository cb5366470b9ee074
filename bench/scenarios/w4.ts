// W4: the 7-step user flow. N users start at once, each on its own connection,
// each running: GET /health, GET /, POST /v1/events, GET that event, POST a batch,
// GET an event of the batch, GET /v1/events?limit=50. Throughput is all requests
// over the wall time from the first start to the last answer. A step that fails
// ends that user's flow; its remaining steps count as failed ('skipped').

import { queueing } from '../lib/budget'
import { rng, purchase, batchBody } from '../lib/events'
import { encodeRequest, get, json, post } from '../lib/http-client'
import { createProject, startInlet, UNLIMITED_RPM, type System } from '../lib/inlet'
import { runUsers, type Req, type User } from '../lib/loadgen'
import { fmt, log, measure, ratio, target } from '../lib/phase'
import { published } from '../lib/published'
import { formatErrors, Recorder } from '../lib/recorder'
import { using } from '../lib/systems'
import type { PhaseResult, RunOptions, Scenario, ScenarioResult } from '../lib/types'

const STEPS = 7
const BATCH_EVENTS = 10
// Flows run before the measured ones, so the JIT, the key cache and the pool are warm.
const WARMUP_USERS = 200
// The window outlives any flow; the real duration is the wall time to the last answer.
const WINDOW_MS = 10 * 60_000

const STEP_NAMES = ['GET /health', 'GET /', 'POST /v1/events', 'GET /v1/events/{id}', 'POST /v1/events/batch', 'GET /v1/events/{batch id}', 'GET /v1/events?limit=50']

// Per-step recorders: which of the seven requests is slow or failing.
type Steps = Recorder[]

async function flow(u: User, key: string, steps: Steps): Promise<void> {
  const r = rng(u.index)
  const step = async (i: number, req: Req, keepBody = false) => {
    const t0 = performance.now()
    const reply = await u.client.send(req, keepBody, t0)
    steps[i]!.record(t0, performance.now(), reply?.status ?? (u.client.lastError ?? 'error'), req.events)
    return reply !== null && reply.status >= 200 && reply.status < 300 ? reply : null
  }
  const skip = (done: number) => {
    for (let i = done; i < STEPS; i++) { u.client.rec.record(performance.now(), performance.now(), 'skipped'); steps[i]!.record(performance.now(), performance.now(), 'skipped') }
  }
  if (!await step(0, { bytes: encodeRequest('GET', '/health', {}), events: 0 })) return skip(1)
  if (!await step(1, { bytes: encodeRequest('GET', '/', {}), events: 0 })) return skip(2)
  const created = await step(2, { bytes: post('/v1/events', key, JSON.stringify(purchase(r, u.index))), events: 1 }, true)
  if (!created) return skip(3)
  const id = json<{ id: string }>(created).id
  if (!await step(3, { bytes: get(`/v1/events/${encodeURIComponent(id)}`, key), events: 0 })) return skip(4)
  const batch = Array.from({ length: BATCH_EVENTS }, (_, i) => purchase(r, u.index * 100 + i))
  const stored = await step(4, { bytes: post('/v1/events/batch', key, batchBody(batch)), events: BATCH_EVENTS }, true)
  if (!stored) return skip(5)
  const results = json<{ results: { id: string }[] }>(stored).results
  const batchId = results[Math.floor(r() * results.length)]!.id
  if (!await step(5, { bytes: get(`/v1/events/${encodeURIComponent(batchId)}`, key), events: 0 })) return skip(6)
  await step(6, { bytes: get('/v1/events?limit=50', key), events: 0 })
}

async function users(o: RunOptions, sys: System, n: number): Promise<PhaseResult> {
  const project = await createProject(sys, `w4-${n}`, 'enterprise', UNLIMITED_RPM)
  const target = { host: '127.0.0.1', port: sys.server.port }
  const scratch = STEP_NAMES.map(() => new Recorder())
  await runUsers({ target, rec: new Recorder(), users: WARMUP_USERS, warmupMs: 0, durationMs: WINDOW_MS, script: u => flow(u, project.api_key, scratch) })
  const rec = new Recorder()
  const steps = STEP_NAMES.map(() => new Recorder())
  let wallS = 0
  const p = await measure({
    scenario: 'w4', phase: `${n}-users`, title: `${fmt.n(n)} users × 7-step flow, all at once`, system: 'inlet', sys, rec,
    load: `${fmt.n(n)} connections opened at once, one flow each`,
    estimate: n <= 1000
      ? '7,000 requests; reads ~0.1 ms of server CPU, writes grouped into a few commits: CPU-bound at ~8-15k req/s, all done in ~0.5-1 s, p99 ≈ the wall time of the burst (~300-600 ms)'
      : '70,000 requests and 10,000 connects at once (SYN backlog 4096: some connects retried after 1 s): ~8-12k req/s, ~6-9 s wall, ' +
        'p99 ≈ 1-2 s because every request queues behind ~10,000 others',
    theirs: published[`w4-${n}` as 'w4-1000' | 'w4-10000'] ?? null,
    run: async () => {
      const start = performance.now()
      for (const s of steps) s.window(start, start + WINDOW_MS)
      await runUsers({ target, rec, users: n, warmupMs: 0, durationMs: WINDOW_MS, script: u => flow(u, project.api_key, steps) })
      wallS = (performance.now() - start) / 1000
      rec.window(start, performance.now())
      const bySteps = STEP_NAMES.map((name, i) => {
        const s = steps[i]!.summary()
        return { step: name, p50Ms: s.p50Ms, p99Ms: s.p99Ms, maxMs: s.maxMs, errors: formatErrors(s.byStatus) }
      })
      return { wallS, requests: rec.requests, steps: bySteps }
    },
  })
  const failed = p.summary.errors / Math.max(1, p.summary.requests)
  log(`    ${fmt.n(p.summary.requests)} requests in ${wallS.toFixed(2)} s, ${(failed * 100).toFixed(2)}% failed, mean ${fmt.ms(p.summary.meanMs)} ms`)
  for (const s of p.extra.steps as { step: string; p50Ms: number; p99Ms: number; maxMs: number; errors: string }[]) {
    log(`      ${s.step.padEnd(28)} p50 ${fmt.ms(s.p50Ms).padStart(6)} p99 ${fmt.ms(s.p99Ms).padStart(6)} max ${fmt.ms(s.maxMs).padStart(6)} ms · errors ${s.errors}`)
  }
  return p
}

export const w4: Scenario = {
  name: 'w4',
  title: 'W4 — the 7-step user flow with 1,000 and 10,000 users starting at once',
  async run(o: RunOptions, out: ScenarioResult) {
    for (const n of [1_000, 10_000]) {
      // A fresh server (and database) per size: 10,000 users must not inherit 1,000's warm connections.
      const p = await using(startInlet(`w4_${n}`), sys => users(o, sys, n))
      const theirs = n === 1000 ? 4017 : 1677
      ratio(p, 'vs theirs (req/s)', p.summary.reqPerS / theirs)
      if (n === 10_000) {
        target(p, '0 errors', p.summary.errors === 0)
        target(p, 'p99 ≤ 2 s', p.summary.p99Ms <= 2000, () => queueing(p, 2000))
      }
      out.phases.push(p)
    }
  },
}
