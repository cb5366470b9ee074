// Writes a run's report: the table on stdout, and under bench/results/ the JSON
// and Markdown of this run (run-<time>.*, git-ignored) and, for a run of every
// scenario, of the latest full run (latest.*, committed, with its charts latest-*.svg).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fmt, log } from '../phase'
import { markdown, type RunInfo } from './markdown'
import { latencyChart, throughputChart, versusChart } from './svg'
import { markdownTable, textTable } from './table'

export const RESULTS_DIR = join(import.meta.dir, '..', '..', 'results')
const README = join(import.meta.dir, '..', '..', '..', 'README.md')
// The README quotes the latest summary between these markers, when it has them.
const START = '<!-- bench:summary:start -->'
const END = '<!-- bench:summary:end -->'

// Only a full quick pass (or a full-length run of every scenario) updates the README.
function updateReadme(r: RunInfo): boolean {
  let text: string
  try { text = readFileSync(README, 'utf8') } catch { return false }
  const a = text.indexOf(START), b = text.indexOf(END)
  if (a < 0 || b < a) return false
  const block = [START, '',
    `Measured ${r.startedAt.toISOString().slice(0, 10)} with \`bun run bench${r.argv.length ? ' ' + r.argv.join(' ') : ''}\` ` +
      `(${fmt.n(r.wallS)} s) on ${r.machine.summary}; ${r.machine.code ?? ''}. Full report: [bench/results/latest.md](bench/results/latest.md).`,
    '', markdownTable(r.results, false), '', END].join('\n')
  writeFileSync(README, text.slice(0, a) + block + text.slice(b + END.length))
  return true
}

export async function writeReport(r: RunInfo): Promise<string[]> {
  log('\nsummary\n')
  log(textTable(r.results))
  mkdirSync(RESULTS_DIR, { recursive: true })
  const stamp = r.startedAt.toISOString().replace(/[:.]/g, '-').slice(0, 19)
  const phases = r.results.flatMap(x => x.phases)
  const charts = { throughput: throughputChart(phases), latency: latencyChart(phases), 'vs-baseline': versusChart(phases) }
  const json = JSON.stringify({ ...r, startedAt: r.startedAt.toISOString() }, null, 2)
  const written: string[] = []
  const put = (name: string, content: string) => { writeFileSync(join(RESULTS_DIR, name), content); written.push(`bench/results/${name}`) }
  // latest.* (committed, quoted by the README) only ever holds a run of every scenario.
  const full = r.argv.filter(a => !a.startsWith('-')).length === 0
  for (const prefix of [`run-${stamp}-`, ...(full ? ['latest-'] : [])]) {
    for (const [name, content] of Object.entries(charts)) put(`${prefix}${name}.svg`, content)
  }
  put(`run-${stamp}.json`, json)
  put(`run-${stamp}.md`, markdown(r, `run-${stamp}-`))
  if (full) {
    put('latest.json', json)
    put('latest.md', markdown(r, 'latest-'))
    if (updateReadme(r)) written.push('README.md (summary between the bench markers)')
  }
  return written.filter(f => f.endsWith('.md') || f.endsWith('.json'))
}
