// What each rollup table costs ingest, per event: the write statement (src/store/write.ts)
// run under EXPLAIN ANALYZE on a sample of the reports scenario's live ingest (batches
// of 50 events of one user session, through a membership cache as the server keeps
// one), and each ModifyTable node's own time (its total minus the CTE scans it reads,
// which carry the events insert) divided by the events. EXPLAIN ANALYZE's per-node
// timing adds its own overhead (clock reads per row), so the figures are an upper
// bound that ranks the tables; the throughput scenario's PG µs/event is the total.

import postgres from 'postgres'
import type { EventRow } from '../../src/event'
import { DayIndex } from '../../src/store/day-index'
import { MembershipCache } from '../../src/store/memberships'
import { bounded } from '../../src/store/reports'
import { WRITE_STATEMENT, writeBody } from '../../src/store/write'
import { FUNNEL_STEPS, funnelBatch, rng } from './events'

const BATCHES = 200
const BATCH_EVENTS = 50
// A shard no running flusher owns (they use 0..FLUSHERS).
const SHARD = 97

interface PlanNode {
  'Node Type': string; 'Relation Name'?: string; 'CTE Name'?: string; 'Subplan Name'?: string
  'Actual Total Time': number; 'Actual Loops': number; Plans?: PlanNode[]
}

// Time inside CTE scans below a node (not through another ModifyTable).
function cteScanMs(n: PlanNode): number {
  let ms = 0
  for (const c of n.Plans ?? []) {
    if (c['Node Type'] === 'CTE Scan') ms += c['Actual Total Time'] * c['Actual Loops']
    else if (c['Node Type'] !== 'ModifyTable') ms += cteScanMs(c)
  }
  return ms
}

function modifyNodes(n: PlanNode, out: PlanNode[] = []): PlanNode[] {
  if (n['Node Type'] === 'ModifyTable') out.push(n)
  for (const c of n.Plans ?? []) modifyNodes(c, out)
  return out
}

export interface WriteModule { statement: string; body: (rows: EventRow[], m?: MembershipCache) => string }

// Two samples: the live stream (one user's session per batch, so most memberships
// repeat and the cache skips them) and a spread one (each event a random user of
// 100k at a random time of the last 7 days: nearly every event a new user-day or a
// new hour, the membership table's worst case).
export async function rollupCost(url: string, projectId: number, log: (line: string) => void,
  w: WriteModule = { statement: WRITE_STATEMENT, body: writeBody }): Promise<string[]> {
  return [await sample(url, projectId, log, w, false), await sample(url, projectId, log, w, true), await dayIndexCost(url, projectId, log)]
}

// The read side that has no table: the day index (src/store/day-index.ts) is told of
// every commit and appends its rows to the days it holds. Its cost per event, in Bun
// CPU, with the last 7 days of every funnel name and '' held (as a dashboard keeps
// them), for the same live stream as above.
async function dayIndexCost(url: string, projectId: number, log: (line: string) => void): Promise<string> {
  const sql = postgres(url, { max: 1, idle_timeout: 5, connect_timeout: 10, onnotice: () => {} })
  const index = new DayIndex(64 * 1_048_576, 0)
  const today = Math.floor(Date.now() / 86_400_000)
  try {
    const wants = [...FUNNEL_STEPS, ''].map(name => ({ name, fromDay: today - 6, toDay: today + 1 }))
    await bounded(sql, { timeoutMs: 120_000, workMemKb: 32_768, parallelWorkers: 0 }, 'day index', tx => index.views(tx, projectId, wants), 'custom', 'transaction')
  } finally { await sql.end({ timeout: 5 }) }
  const r = rng(4343)
  const now = Date.now()
  const batches = Array.from({ length: BATCHES }, (_, b) => funnelBatch(r, `live_${b % 40}`, `dx_${b}`, b % 5, BATCH_EVENTS).map((e, i): EventRow => ({
    projectId, id: `dx-${b}-${i}`, type: 'track', name: e.name, receivedAtMs: now, timestampMs: now + i,
    userId: e.user_id ?? null, anonymousId: null, sessionId: null, properties: '{}', context: '{}', bytes: 0,
  })))
  const cpu = process.cpuUsage()
  // Transaction ids past any snapshot: every row is appended.
  batches.forEach((rows, b) => index.committed(Number.MAX_SAFE_INTEGER - BATCHES + b, rows))
  const used = process.cpuUsage(cpu)
  const line = `day index Bun µs/event (told of ${BATCHES} commits of ${BATCH_EVENTS} live events, holding 7 days of ${FUNNEL_STEPS.length} names and '' ` +
    `(${(index.sizeBytes / 1_048_576).toFixed(1)} MiB); no table, no Postgres cost): ${((used.user + used.system) / (BATCHES * BATCH_EVENTS)).toFixed(2)}`
  log(`  ${line}`)
  return line
}

async function sample(url: string, projectId: number, log: (line: string) => void, w: WriteModule, spread: boolean): Promise<string> {
  const sql = postgres(url, { max: 1, idle_timeout: 5, connect_timeout: 10, onnotice: () => {} })
  const cache = new MembershipCache(100_000)
  const byTable = new Map<string, number>()
  let executionMs = 0, events = 0
  const r = rng(4242)
  const run = `rc${spread ? "s" : "l"}${Date.now().toString(36)}`
  try {
    for (let b = 0; b < BATCHES; b++) {
      const now = Date.now()
      const rows: EventRow[] = funnelBatch(r, `live_${b % 40}`, `${run}_${b}`, b % 5, BATCH_EVENTS).map((e, i) => ({
        projectId, id: `${run}-${b}-${i}`, type: 'track', name: e.name, receivedAtMs: now,
        timestampMs: spread ? now - Math.floor(r() * 7 * 86_400_000) : now + i,
        userId: spread ? `spread_${Math.floor(r() * 100_000)}` : e.user_id ?? null, anonymousId: null, sessionId: e.session_id ?? null,
        properties: JSON.stringify(e.properties ?? {}), context: JSON.stringify(e.context ?? {}), bytes: 0,
      }))
      const [row] = await sql.unsafe(`explain (analyze, format json) ${w.statement}`, [w.body(rows, cache), SHARD])
      const plan = (row['QUERY PLAN'] as { Plan: PlanNode; 'Execution Time': number }[])[0]!
      executionMs += plan['Execution Time']
      for (const n of modifyNodes(plan.Plan)) {
        const table = n['Relation Name'] ?? '?'
        byTable.set(table, (byTable.get(table) ?? 0) + n['Actual Total Time'] - cteScanMs(n))
      }
      cache.committed(rows)
      events += rows.length
    }
  } finally { await sql.end({ timeout: 5 }) }
  const us = (ms: number) => `${(ms * 1000 / events).toFixed(1)}`
  const parts = [...byTable].map(([t, ms]) => `${t} ${us(ms)}`)
  const line = `ingest Postgres µs/event by table (EXPLAIN ANALYZE of the write statement, ${BATCHES} batches of ${BATCH_EVENTS} ` +
    `${spread ? 'spread events (random user of 100k, random time in 7 days)' : 'live events (one session per batch)'} ` +
    `through a membership cache; timing overhead included): ${parts.join(', ')}; whole statement ${us(executionMs)}`
  log(`  ${line}`)
  return line
}
