// The Markdown report: machine and method first, then the summary table with the
// published figures beside ours, the targets, the correctness checks, and for each
// phase its estimate, its figure, and what the server's Postgres sessions waited on.

import type { Machine } from '../machine'
import { fmt } from '../phase'
import { formatQueries, formatWaits } from '../pg-waits'
import type { PhaseResult, ScenarioResult } from '../types'
import { markdownTable } from './table'

export interface RunInfo {
  machine: Machine
  results: ScenarioResult[]
  argv: string[]
  startedAt: Date
  wallS: number
}

function phaseSection(p: PhaseResult): string[] {
  const s = p.summary
  const u = p.usage
  const lines = [
    `#### ${p.title} — ${p.system}`,
    '',
    `- load: ${p.load}`,
    `- estimate (before measuring): ${p.estimate}`,
    `- measured: **${fmt.n(s.reqPerS)} req/s, ${fmt.n(s.eventsPerS)} events/s**; p50 ${fmt.ms(s.p50Ms)}, p95 ${fmt.ms(s.p95Ms)}, ` +
      `p99 ${fmt.ms(s.p99Ms)}, p99.9 ${fmt.ms(s.p999Ms)}, max ${fmt.ms(s.maxMs)} ms over ${fmt.n(s.durationS, 1)} s; ` +
      `${fmt.n(s.requests)} requests, by status ${Object.entries(s.byStatus).map(([k, v]) => `${k}: ${fmt.n(v)}`).join(', ') || 'none'}`,
  ]
  if (u) {
    lines.push(`- CPU: server ${fmt.n(u.serverCpuS, 1)} s, generator ${fmt.n(u.generatorCpuS, 1)} s, machine busy ${fmt.n(u.machineBusyCpuS, 1)} s ` +
      `of ${fmt.n(u.wallS * u.cores, 1)} available (${u.cores} cores × ${fmt.n(u.wallS, 1)} s); server RSS peak ${fmt.n(u.serverRssPeakMiB)} MiB` +
      (u.serverCpuS && s.requests && u.serverSleeps !== undefined
        ? `; the server's event loop slept and was woken ${fmt.n((u.serverSleeps * 1000) / s.requests)} times and was preempted ` +
          `${fmt.n((u.serverPreemptions * 1000) / s.requests)} times per 1,000 requests`
        : ''))
  }
  if (p.flush?.eventsPerTx) lines.push(`- group commit: ${fmt.n(p.flush.eventsPerTx, 1)} events per Postgres transaction over ${fmt.n(p.flush.transactions)} transactions, mean flush ${fmt.ms(p.flush.flushMeanMs ?? NaN)} ms` + (p.flush.spilledEvents ? `, ${fmt.n(p.flush.spilledEvents)} events spilled` : ''))
  if (p.waits?.samples) lines.push(`- Postgres sessions (pg_stat_activity, ${p.waits.samples} samples): ${formatWaits(p.waits, 6)}`)
  if (p.waits?.samples && p.waits.busySessionsMean > 0.05) lines.push(`- Postgres busy with: ${formatQueries(p.waits, 4).replaceAll('|', '\\|')}`)
  if (Object.keys(p.ratios).length) lines.push(`- ratios: ${Object.entries(p.ratios).map(([k, v]) => `${k} ${fmt.ratio(v)}`).join(', ')}`)
  if (p.theirs) lines.push(`- theirs (published): ${p.theirs}`)
  for (const t of p.targets) lines.push(`- target ${t.pass === null ? '·' : t.pass ? '✓' : '✗'} ${t.text}` + (t.why ? `; why: ${t.why}` : ''))
  for (const n of p.notes) lines.push(`- note: ${n}`)
  const extra = Object.entries(p.extra).filter(([k]) => k !== 'generator')
  if (extra.length) lines.push(`- details: \`${JSON.stringify(Object.fromEntries(extra), (_k, v) => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v))}\``)
  return [...lines, '']
}

export function markdown(r: RunInfo, chartPrefix: string): string {
  const m = r.machine
  const targets = r.results.flatMap(x => x.phases.flatMap(p => p.targets.map(t => ({ p, t }))))
  const checks = r.results.flatMap(x => x.checks)
  const out = [
    '# Inlet benchmark report',
    '',
    `Run ${r.startedAt.toISOString()} with \`bun run bench${r.argv.length ? ' ' + r.argv.join(' ') : ''}\` in ${fmt.n(r.wallS)} s.`,
    '',
    `- machine: ${m.summary}`,
    ...(m.code ? [`- code under test: ${m.code}`] : []),
    `- Postgres settings: ${Object.entries(m.postgresSettings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    `- CPU sharing: ${m.cpuSharing}`,
    ...(m.calibration ? [`- calibration (the numbers the estimates are built from): a 1-row commit ${m.calibration.commitMs.toFixed(2)} ms (median of 200` +
      (m.calibration.commitP99Ms === undefined ? '' : `, p99 ${m.calibration.commitP99Ms.toFixed(2)}`) + '), ' +
      `one row of a 2,000-row unnest insert ${m.calibration.rowUs.toFixed(1)} µs` +
      (m.calibration.wakeUs == null ? '' : `, a thread's 1 ms sleep and wake-up ${m.calibration.wakeUs.toFixed(1)} µs of CPU (schedstat, mean of 500)`)] : []),
    '- load generators: `wrk` (one thread, Lua scripts making every id unique) for the closed-loop throughput and W3 phases, its own latency ' +
      'percentiles; elsewhere one Bun process, a raw HTTP/1.1 keep-alive client over Bun.connect (one request in flight per connection), ' +
      'latencies in an HDR histogram (1 µs–10 min, 3 significant digits) of acknowledged (2xx) requests only, every other outcome counted by status; ' +
      'open-loop phases measure from the intended send time (no coordinated omission)',
    '- each system under test starts on a fresh database (`inlet_bench_*`, dropped afterwards) and is warmed up before the measured window',
    '',
    '## Summary',
    '',
    markdownTable(r.results),
    '',
    'ratios: `HTTP ceil` = bare Bun.serve on the same request and load; `PG ceil` = plain unnest INSERT of the same rows at Inlet\'s events/tx and flush parallelism; ' +
      '`baseline` = bench/baselines/naive-server.ts (one INSERT per request, answered after commit) under the same load; `1 proc` = the same phase on one Inlet process ' +
      '(system `inlet-2p` is `INLET_PROCESSES=2`: a supervisor and two processes on one port, CPU and RSS summed), `srv µs/1 proc` its server CPU per request against one process\'s; ' +
      'system `json-floor` is a bare Bun.serve that also reads the credential header, parses the body as UTF-8 JSON and answers its id with Inlet\'s headers (bench/baselines/bare-server.ts with BARE_JSON_FLOOR=1: the floor of any JSON ingest on Bun); system `inlet-no-storage` is the same code with each flush answered after the real flushes\' mean time instead of written (bench/baselines/no-storage.ts: the request path alone); `theirs` = the published figure.',
    '',
    '## Targets',
    '',
    '| phase | target | result | why a miss was out of reach, in this run\'s figures |',
    '| --- | --- | --- | --- |',
    ...targets.map(({ p, t }) => `| ${p.scenario} · ${p.phase} | ${t.text} | ${t.pass === null ? 'not measured' : t.pass ? '✓ met' : '✗ missed'} | ${t.why ?? ''} |`),
    '',
  ]
  if (checks.length) {
    out.push('## W5 — correctness checks', '', '| check | Inlet | detail | theirs (PulseStream) |', '| --- | --- | --- | --- |',
      ...checks.map(c => `| ${c.name} | ${c.pass ? '✓ pass' : '✗ FAIL'} | ${c.detail.replaceAll('|', '\\|')} | ${c.theirs} |`),
      '', `${checks.filter(c => c.pass).length} of ${checks.length} passed; theirs: 8 of 12.`, '')
  }
  out.push('## Charts', '', `![throughput over time](${chartPrefix}throughput.svg)`, '',
    `![latency percentiles](${chartPrefix}latency.svg)`, '', `![Inlet vs baseline](${chartPrefix}vs-baseline.svg)`, '')
  out.push('## Scenarios in detail', '')
  for (const s of r.results) {
    out.push(`### ${s.title}`, '')
    if (s.error) out.push(`**Failed:** ${s.error}`, '')
    for (const n of s.notes) out.push(`_${n}_`, '')
    for (const p of s.phases) out.push(...phaseSection(p))
  }
  return out.join('\n')
}
