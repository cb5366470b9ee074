// Runs one measured phase: says what it expects, samples the server's CPU and RSS
// and /metrics around the load, prints progress while it runs and one result line
// at the end, and returns a PhaseResult for the report.

import { cal } from './calibrate'
import { checkpoint } from './db'
import type { System } from './inlet'
import { flushDelta, scrape } from './metrics'
import { formatQueries, formatWaits, sampleWaits } from './pg-waits'
import { formatErrors, type Recorder, type Summary } from './recorder'
import { type Usage, watch } from './resources'
import type { PhaseResult, SystemKind } from './types'

// The memory bound every Inlet phase is held to, with default settings.
const RSS_MIB_MAX = 300
// Long phases print a progress line this often, so a stalled run is visible.
const PROGRESS_MS = 10_000
const BACKGROUND_LOOK_MS = 500
// More than this many cores busy while idle before a phase is worth a warning.
const BACKGROUND_CORES_MAX = 0.25

export const fmt = {
  n: (x: number, digits = 0) => Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–',
  ms: (x: number) => !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2),
  ratio: (x: number) => Number.isFinite(x) ? `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×` : '–',
}

export function log(line: string) {
  console.log(line)
}

export interface PhaseSpec {
  scenario: string
  phase: string
  title: string
  system: SystemKind
  sys: System | null // whose process and /metrics to watch (null: the bench process itself)
  load: string
  estimate: string
  theirs?: string | null
  rec: Recorder
  // Postgres database whose sessions to profile (default: the system's own).
  database?: string
  // A phase driven by wrk returns its own summary and wrk's CPU (`generatorCpuS`),
  // which this process's own CPU does not include.
  run: () => Promise<(Record<string, unknown> & { summary?: Summary; generatorCpuS?: number }) | void>
}

// CPU per unit of work, the figures that say where the time went: the server's
// µs per request and Postgres's µs per event.
export function cpuBudget(p: { usage: Usage | null; summary: Summary }) {
  const u = p.usage, s = p.summary
  if (!u || s.requests === 0) return null
  return {
    serverUsPerRequest: u.serverCpuS ? (u.serverCpuS * 1e6) / s.requests : null,
    postgresUsPerEvent: s.events ? (u.postgresCpuS * 1e6) / s.events : null,
    generatorUsPerRequest: (u.generatorCpuS * 1e6) / s.requests,
    // Per 1,000 requests; with the calibrated cost of one wake-up, the server CPU
    // the sleeps alone took (preemptions have no calibrated cost: counted only).
    serverSleepsPerK: u.serverCpuS ? (u.serverSleeps * 1000) / s.requests : null,
    serverPreemptionsPerK: u.serverCpuS ? (u.serverPreemptions * 1000) / s.requests : null,
    serverWakeUsPerRequest: u.serverCpuS && cal.wakeUs !== null ? (u.serverSleeps * cal.wakeUs) / s.requests : null,
  }
}

export function formatBudget(p: { usage: Usage | null; summary: Summary }): string {
  const b = cpuBudget(p)
  if (!b) return ''
  const parts: string[] = []
  if (b.serverUsPerRequest !== null) parts.push(`server ${fmt.n(b.serverUsPerRequest, 1)} µs/req`)
  if (b.postgresUsPerEvent !== null) parts.push(`Postgres ${fmt.n(b.postgresUsPerEvent, 1)} µs/event`)
  parts.push(`generator ${fmt.n(b.generatorUsPerRequest, 1)} µs/req`)
  if (b.serverSleepsPerK !== null) {
    parts.push(`server event loop ${fmt.n(b.serverSleepsPerK)} sleeps and ${fmt.n(b.serverPreemptionsPerK!)} preemptions per 1,000 requests` +
      (b.serverWakeUsPerRequest === null ? '' : ` (the wake-ups ≈ ${fmt.n(b.serverWakeUsPerRequest, 1)} µs/req at ${fmt.n(cal.wakeUs!, 1)} µs each)`))
  }
  return parts.join(', ')
}

// Busy share of the machine over a short look before a phase: another workload on
// the box (a test suite, a build) makes every figure of the phase suspect. With
// --wait-idle, keep looking until it is quiet or the wait is over.
async function backgroundBusy(): Promise<number> {
  const deadline = performance.now() + waitIdle.ms
  for (;;) {
    const u = watch(null)
    await Bun.sleep(BACKGROUND_LOOK_MS)
    const r = u.stop()
    const busy = (r.machineBusyCpuS - r.generatorCpuS) / r.wallS
    if (busy <= BACKGROUND_CORES_MAX || performance.now() >= deadline) return busy
  }
}

// Set once from the command line.
export const waitIdle = { ms: 0 }

export async function measure(s: PhaseSpec): Promise<PhaseResult> {
  log(`  ▶ ${s.scenario} · ${s.title} · ${s.system} · ${s.load}`)
  log(`    estimate: ${s.estimate}`)
  const pid = s.sys?.server.pid ?? null
  const metricsUrl = s.sys?.kind === 'inlet' ? s.sys.server.url : null
  await checkpoint()
  const background = await backgroundBusy()
  const before = metricsUrl ? await scrape(metricsUrl) : null
  const waits = sampleWaits(s.database ?? s.sys?.db?.name ?? null)
  const usage = watch(pid)
  const started = performance.now()
  const ticker = setInterval(() => {
    const r = s.rec.summary()
    log(`    … ${((performance.now() - started) / 1000).toFixed(0)} s: ${fmt.n(r.reqPerS)} req/s acked, ${fmt.n(r.errors)} not acked`)
  }, PROGRESS_MS)
  let extra: Record<string, unknown> & { summary?: Summary; generatorCpuS?: number } = {}
  try { extra = (await s.run()) ?? {} } finally { clearInterval(ticker) }
  const u = usage.stop()
  if (extra.generatorCpuS !== undefined) u.generatorCpuS += extra.generatorCpuS
  const waitProfile = await waits.stop()
  const after = metricsUrl ? await scrape(metricsUrl) : null
  const summary = extra.summary ?? s.rec.summary()
  delete extra.summary
  const flush = flushDelta(before, after)
  const result: PhaseResult = {
    scenario: s.scenario, phase: s.phase, title: s.title, system: s.system, load: s.load, estimate: s.estimate,
    summary, usage: u, flush, waits: waitProfile, theirs: s.theirs ?? null, ratios: {}, targets: [], notes: [], extra,
  }
  if (background > BACKGROUND_CORES_MAX) result.notes.push(`machine not idle before the phase: ${background.toFixed(2)} cores busy with other work`)
  // A generator near one full core is the bottleneck, whatever the server could do.
  if (u.generatorCpuS > 0.9 * u.wallS) result.notes.push(`load generator used ${fmt.n(u.generatorCpuS, 1)} CPU s in ${fmt.n(u.wallS, 1)} s: it may be the limit`)
  log(`    = ${fmt.n(summary.reqPerS)} req/s, ${fmt.n(summary.eventsPerS)} events/s · p50 ${fmt.ms(summary.p50Ms)} p99 ${fmt.ms(summary.p99Ms)} ` +
    `p99.9 ${fmt.ms(summary.p999Ms)} max ${fmt.ms(summary.maxMs)} ms · errors ${formatErrors(summary.byStatus)}` +
    (pid ? ` · server ${fmt.n(u.serverCpuS, 1)} CPU s, RSS ≤ ${fmt.n(u.serverRssPeakMiB)} MiB` : '') +
    ` · generator ${fmt.n(u.generatorCpuS, 1)} CPU s · machine ${fmt.n(u.machineBusyCpuS / u.wallS, 2)} cores busy` +
    (flush?.eventsPerTx ? ` · ${fmt.n(flush.eventsPerTx, 1)} events/tx` : ''))
  const budget = formatBudget(result)
  if (budget) log(`    cpu: ${budget}`)
  // Memory is bounded by default settings in every scenario (the buffer's byte bound, admission).
  if (s.system === 'inlet' && u.serverRssPeakMiB > 0) target(result, `peak RSS ≤ ${RSS_MIB_MAX} MiB (${fmt.n(u.serverRssPeakMiB)})`, u.serverRssPeakMiB <= RSS_MIB_MAX)
  if (waitProfile?.samples) log(`    postgres: ${formatWaits(waitProfile)}`)
  if (waitProfile?.samples && waitProfile.busySessionsMean > 0.05) log(`    busy with: ${formatQueries(waitProfile)}`)
  for (const n of result.notes) log(`    note: ${n}`)
  return result
}

// Adds a target to a phase, printed as it is judged; a miss carries why, when the
// phase's figures say (computed only then).
export function target(p: PhaseResult, text: string, pass: boolean | null, why?: () => string | null | undefined) {
  const t = { text, pass, ...(pass === false && why ? { why: why() ?? undefined } : {}) }
  p.targets.push(t)
  log(`    target ${pass === null ? '·' : pass ? '✓' : '✗'} ${text}` + (t.why ? `\n      why: ${t.why}` : ''))
}

export function ratio(p: PhaseResult, label: string, value: number) {
  if (!Number.isFinite(value)) return
  p.ratios[label] = value
  log(`    ratio ${label}: ${fmt.ratio(value)}`)
}
