// Raw ingest throughput, the two headline targets, each beside the ceiling
// measured in the same run and the naive baseline under the same load:
//   single events: POST /v1/events, 64 connections, closed loop (vs bare Bun.serve)
//   100-event batches: POST /v1/events/batch, 64 connections (vs Postgres unnest)

import { cal, n0, pgRowsPerS } from '../lib/calibrate'
import { freshDatabase, migrate, truncateEvents } from '../lib/db'
import { batchBody, purchase, rng } from '../lib/events'
import { post } from '../lib/http-client'
import { createProject, startBare, startBaseline, startInlet, UNLIMITED_RPM, type System } from '../lib/inlet'
import { closedLoop, type Req } from '../lib/loadgen'
import { fmt, log, measure, ratio, target } from '../lib/phase'
import { pgCeiling } from '../lib/pg-ceiling'
import { published } from '../lib/published'
import { Recorder } from '../lib/recorder'
import { inletFlushers, using } from '../lib/systems'
import type { PhaseResult, RunOptions, Scenario, ScenarioResult, SystemKind } from '../lib/types'

const CONNECTIONS = 64
const BATCH_EVENTS = 100
// Distinct pre-encoded bodies cycled through: enough variety that no cache helps.
const BODIES = 512
const QUICK_MS = 8_000

function singleBodies(key: string): Req[] {
  const r = rng(7)
  return Array.from({ length: BODIES }, (_, i) => ({ bytes: post('/v1/events', key, JSON.stringify(purchase(r, i))), events: 1 }))
}

function batchBodies(key: string): Req[] {
  const r = rng(8)
  return Array.from({ length: BODIES / 8 }, (_, b) => ({
    bytes: post('/v1/events/batch', key, batchBody(Array.from({ length: BATCH_EVENTS }, (_, i) => purchase(r, b * BATCH_EVENTS + i)))),
    events: BATCH_EVENTS,
  }))
}

async function load(o: RunOptions, sys: System, system: SystemKind, kind: 'single' | 'batch', estimate: string): Promise<PhaseResult> {
  const project = await createProject(sys, 'throughput', 'enterprise', UNLIMITED_RPM)
  const reqs = kind === 'single' ? singleBodies(project.api_key) : batchBodies(project.api_key)
  const rec = new Recorder()
  let seq = 0
  return measure({
    scenario: 'throughput', phase: kind, system, sys, rec, estimate,
    title: kind === 'single' ? 'single event per request' : `${BATCH_EVENTS}-event batches`,
    load: `closed loop, ${CONNECTIONS} connections`,
    theirs: system === 'inlet' ? published[kind === 'single' ? 'throughput-single' : 'throughput-batch'] : null,
    run: () => closedLoop({
      target: { host: '127.0.0.1', port: sys.server.port }, rec, connections: CONNECTIONS,
      warmupMs: o.warmupMs, durationMs: o.durationMs ?? QUICK_MS, next: () => reqs[seq++ % reqs.length]!,
    }),
  })
}

export const throughput: Scenario = {
  name: 'throughput',
  title: 'Ingest throughput: single events and 100-event batches, with both ceilings and the baseline',
  async run(o: RunOptions, out: ScenarioResult) {
    const flushers = await inletFlushers()
    const durationMs = o.durationMs ?? QUICK_MS

    log('  single events')
    const bare = await using(startBare('throughput'), sys => load(o, sys, 'http-ceiling', 'single',
      'Bun.serve answers a small POST in ~20-25 µs of its one JS thread; the generator costs ~15 µs more on the other core: ~30-45k req/s'))
    const groupRows = CONNECTIONS / flushers
    const inletPg = pgRowsPerS(groupRows, flushers)
    const inletSingle = await using(startInlet('throughput_single'), sys => load(o, sys, 'inlet', 'single',
      `routing + auth + validation + JSON ≈ 40 µs of JS per request caps one thread at ~25k req/s; Postgres in groups of ~${groupRows} ` +
      `(64 connections / ${flushers} flushers; commit ${cal.commitMs.toFixed(2)} ms + ${cal.rowUs.toFixed(0)} µs/row) could take ~${n0(inletPg)}/s: ` +
      `expect ~${n0(Math.min(25_000, inletPg) * 0.8)} req/s (~50% of the HTTP ceiling), p99 ≈ 2-3 flushes ≈ ${(3 * (cal.commitMs + groupRows * cal.rowUs / 1000)).toFixed(0)} ms`))
    const baseSingle = await using(startBaseline('throughput_single'), sys => load(o, sys, 'baseline', 'single',
      `one commit per request on 10 pooled connections: ≤ 10 / ${cal.commitMs.toFixed(2)} ms = ${n0(10_000 / cal.commitMs)}/s if commits ` +
      `overlapped perfectly; Postgres serialises WAL flushes and spends ~${n0(cal.rowUs + 60)} µs CPU per statement: ~2-5k req/s`))
    out.phases.push(bare, inletSingle, baseSingle)
    ratio(inletSingle, 'vs HTTP ceiling', inletSingle.summary.reqPerS / bare.summary.reqPerS)
    ratio(inletSingle, 'vs baseline', inletSingle.summary.reqPerS / baseSingle.summary.reqPerS)
    ratio(baseSingle, 'vs HTTP ceiling', baseSingle.summary.reqPerS / bare.summary.reqPerS)
    target(inletSingle, '≥ 25,000 req/s', inletSingle.summary.reqPerS >= 25_000)
    target(inletSingle, 'p99 ≤ 15 ms', inletSingle.summary.p99Ms <= 15)
    target(inletSingle, '≥ 50% of the HTTP ceiling', inletSingle.summary.reqPerS >= 0.5 * bare.summary.reqPerS)

    log('  100-event batches')
    const bigTx = pgRowsPerS(1000, flushers)
    const inletBatch = await using(startInlet('throughput_batch'), sys => load(o, sys, 'inlet', 'batch',
      `Postgres-bound: ~${n0(bigTx)} rows/s at ~1,000 rows/tx (${cal.rowUs.toFixed(0)} µs/row), less the ~5 µs/event of JSON parse and ` +
      `validation that competes with Postgres for the 2 cores: ~${n0(bigTx * 0.75)} events/s (~75-85% of the ceiling), p99 ≈ 2-3 big flushes ≈ ${n0(3 * (cal.commitMs + cal.rowUs))} ms`))
    const baseBatch = await using(startBaseline('throughput_batch'), sys => load(o, sys, 'baseline', 'batch',
      `one 100-row INSERT per request on 10 connections: the Postgres ceiling at 100 rows/tx, ~${n0(pgRowsPerS(100, 10))} events/s, less its own JSON work`))
    const observedTx = Math.round(inletBatch.flush?.eventsPerTx ?? 1000)
    const db = await freshDatabase('throughput_pg_ceiling')
    const ceilings: PhaseResult[] = []
    try {
      await migrate(db.url)
      const shapes = [[1, BATCH_EVENTS], [flushers, BATCH_EVENTS], [1, observedTx], [flushers, observedTx]] as const
      for (const [connections, rowsPerTx] of shapes) {
        await truncateEvents(db.url) // each shape starts from the same empty table
        const rec = new Recorder()
        const r = rng(8)
        ceilings.push(await measure({
          scenario: 'throughput', phase: `pg-${connections}c-${rowsPerTx}rows`, system: 'pg-ceiling', sys: null, rec, database: db.name,
          title: `Postgres unnest insert, ${rowsPerTx} rows/tx, ${connections} connection${connections > 1 ? 's' : ''}`,
          load: `${connections} connection${connections > 1 ? 's' : ''} looping`,
          estimate: `(${cal.commitMs.toFixed(2)} ms commit + ${rowsPerTx} × ${cal.rowUs.toFixed(0)} µs) per transaction × ${connections}: ~${n0(pgRowsPerS(rowsPerTx, connections))} rows/s`,
          run: async () => { await pgCeiling({ url: db.url, connections, rowsPerTx, warmupMs: 1000, durationMs: Math.min(durationMs, 6_000), event: i => purchase(r, i), rec }) },
        }))
      }
    } finally { await db.drop() }
    out.phases.push(inletBatch, baseBatch, ...ceilings)
    const same = ceilings[3]!
    const best = ceilings.reduce((a, b) => (b.summary.eventsPerS > a.summary.eventsPerS ? b : a))
    out.notes.push(`Postgres ceiling for the ratio: ${same.title} (Inlet's own events/tx and flush parallelism); the best ceiling shape measured was ${best.title} at ${fmt.n(best.summary.eventsPerS)} rows/s.`)
    ratio(inletBatch, 'vs Postgres ceiling', inletBatch.summary.eventsPerS / same.summary.eventsPerS)
    ratio(inletBatch, 'vs best Postgres ceiling', inletBatch.summary.eventsPerS / best.summary.eventsPerS)
    ratio(inletBatch, 'vs baseline', inletBatch.summary.eventsPerS / baseBatch.summary.eventsPerS)
    ratio(baseBatch, 'vs Postgres ceiling', baseBatch.summary.eventsPerS / same.summary.eventsPerS)
    target(inletBatch, '≥ 80% of the Postgres ceiling', inletBatch.summary.eventsPerS >= 0.8 * same.summary.eventsPerS)
    target(inletBatch, 'p99 ≤ 100 ms', inletBatch.summary.p99Ms <= 100)
  },
}
