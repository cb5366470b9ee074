// The summary table: one row per measured phase, as aligned text for stdout and
// as a Markdown table for the report (the README quotes the latter).

import { cpuBudget, fmt } from '../phase'
import { formatErrors } from '../recorder'
import type { PhaseResult, ScenarioResult } from '../types'

const SHORT: Record<string, string> = {
  'vs HTTP ceiling': 'HTTP ceil', 'vs Postgres ceiling': 'PG ceil', 'vs best Postgres ceiling': 'best PG ceil',
  'vs baseline': 'baseline', 'vs 1 process': '1 proc', 'server µs/req vs 1 process': 'srv µs/1 proc', 'vs theirs': 'theirs', 'vs theirs (req/s)': 'theirs',
  'p99 vs baseline p99 (lower is better)': 'p99/baseline p99',
}

export const COLUMNS = ['scenario · phase', 'system', 'req/s', 'events/s', 'p50', 'p95', 'p99', 'p99.9', 'max ms', 'errors',
  'srv µs/req', 'PG µs/ev', 'RSS MiB', 'ev/tx', 'ratios', 'targets'] as const

export function row(p: PhaseResult): string[] {
  const s = p.summary
  const ratios = Object.entries(p.ratios).map(([k, v]) => `${fmt.ratio(v)} ${SHORT[k] ?? k}`).join(', ')
  const targets = p.targets.map(t => (t.pass === null ? '·' : t.pass ? '✓' : '✗')).join('')
  const budget = cpuBudget(p)
  return [
    `${p.scenario} · ${p.phase}`, p.system, fmt.n(s.reqPerS), fmt.n(s.eventsPerS),
    fmt.ms(s.p50Ms), fmt.ms(s.p95Ms), fmt.ms(s.p99Ms), fmt.ms(s.p999Ms), fmt.ms(s.maxMs), formatErrors(s.byStatus),
    budget?.serverUsPerRequest ? fmt.n(budget.serverUsPerRequest, 1) : '–',
    budget?.postgresUsPerEvent ? fmt.n(budget.postgresUsPerEvent, 1) : '–',
    p.usage && p.usage.serverRssPeakMiB ? fmt.n(p.usage.serverRssPeakMiB) : '–',
    p.flush?.eventsPerTx ? fmt.n(p.flush.eventsPerTx, 1) : '–',
    ratios || '–', targets || '–',
  ]
}

const numeric = new Set([2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13])

export function textTable(results: ScenarioResult[]): string {
  const rows = results.flatMap(r => r.phases.map(row))
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map(r => [...r[i]!].length)))
  const line = (cells: readonly string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()
  const out = [line(COLUMNS), widths.map(w => '─'.repeat(w)).join('  ')]
  let last = ''
  for (const r of results) {
    for (const p of r.phases) {
      if (last && last !== r.name) out.push('')
      last = r.name
      out.push(line(row(p)))
    }
  }
  const checks = results.flatMap(r => r.checks)
  if (checks.length) out.push('', `w5 · correctness: ${checks.filter(c => c.pass).length} of ${checks.length} checks passed` +
    (checks.some(c => !c.pass) ? ` (failed: ${checks.filter(c => !c.pass).map(c => c.name).join(', ')})` : ''))
  for (const r of results) if (r.error) out.push(`${r.name}: FAILED — ${r.error}`)
  return out.join('\n')
}

export function markdownTable(results: ScenarioResult[], withTheirs = true): string {
  const head = [...COLUMNS, ...(withTheirs ? ['theirs (published)'] : [])]
  const out = [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (numeric.has(i) ? '---:' : '---')).join(' | ')} |`]
  for (const r of results) {
    for (const p of r.phases) {
      const cells = row(p)
      if (withTheirs) cells.push(p.theirs ?? '')
      out.push(`| ${cells.map(c => c.replaceAll('|', '\\|')).join(' | ')} |`)
    }
  }
  return out.join('\n')
}
