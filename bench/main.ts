// `bun run bench`: runs the scenarios (quick pass of all, or the ones named), then
// prints the summary table and writes the JSON, Markdown and SVG report under
// bench/results/. See bench/README.md for what each scenario measures and why.

import { parseArgs, usage } from './lib/args'
import { calibrate } from './lib/calibrate'
import { postmasterPid } from './lib/db'
import { cluster } from './lib/resources'
import { takeSnapshot } from './lib/snapshot'
import { inletEnvOverrides } from './lib/inlet'
import { describeMachine } from './lib/machine'
import { log, waitIdle } from './lib/phase'
import { OPEN_FILES_WANTED } from './lib/proc'
import { writeReport } from './lib/report/write'
import { stopAll } from './lib/systems'
import type { ScenarioResult } from './lib/types'
import { scenarios } from './scenarios'

// 10,000 client sockets (W4) need descriptors in this process too; `ulimit` cannot
// be raised from inside Bun, so re-exec under a shell that raises it.
function ensureOpenFiles() {
  const soft = Number(Bun.spawnSync(['sh', '-c', 'ulimit -n']).stdout.toString().trim())
  if (soft >= OPEN_FILES_WANTED || process.env.INLET_BENCH_REEXEC) return
  const args = [process.execPath, ...process.argv.slice(1)].map(a => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  const r = Bun.spawnSync(['sh', '-c', `ulimit -n ${OPEN_FILES_WANTED} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${args}`], {
    env: { ...process.env, INLET_BENCH_REEXEC: '1' }, stdio: ['inherit', 'inherit', 'inherit'],
  })
  process.exit(r.exitCode ?? 1)
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  if (args.help) { console.log(usage); return }
  ensureOpenFiles()
  Object.assign(inletEnvOverrides, args.env)
  waitIdle.ms = args.options.waitIdleMs
  const unknown = args.scenarios.filter(s => !scenarios.some(x => x.name === s))
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}\n${usage}`)
  const chosen = args.scenarios.length ? scenarios.filter(s => args.scenarios.includes(s.name)) : scenarios

  const machine = await describeMachine()
  const snap = takeSnapshot()
  machine.code = `src/ + sql/ snapshot ${snap.hash} (${snap.files} files, sha256 of paths and contents)`
  log(`inlet bench · ${machine.summary}`)
  log(`code under test: ${machine.code}, frozen in ${snap.dir}`)
  cluster.postmasterPid = await postmasterPid()
  log(`postgres CPU: ${cluster.postmasterPid === null ? 'every postgres process on this machine (the bench Postgres is not local)' : `the cluster of postmaster pid ${cluster.postmasterPid} and its children`}`)
  const c = await calibrate()
  machine.calibration = { ...c }
  log(`calibration: a 1-row commit takes ${c.commitMs.toFixed(2)} ms (median; p99 ${c.commitP99Ms?.toFixed(2)}), a row of a 2,000-row unnest insert ${c.rowUs.toFixed(1)} µs` +
    (c.wakeUs === null ? '' : `, a thread's sleep and wake-up ${c.wakeUs.toFixed(1)} µs of CPU`))
  log(`scenarios: ${chosen.map(s => s.name).join(', ')} · ${args.options.quick ? 'quick pass' : `${args.options.durationMs! / 1000} s per phase`}`)
  const started = Date.now()
  const results: ScenarioResult[] = []
  for (const s of chosen) {
    log(`\n■ ${s.name}: ${s.title}`)
    const out: ScenarioResult = { name: s.name, title: s.title, phases: [], checks: [], notes: [], error: null }
    const t0 = Date.now()
    try {
      await s.run(args.options, out)
    } catch (e) {
      out.error = e instanceof Error ? e.message : String(e)
      log(`  ✗ ${s.name} failed: ${out.error}`)
      await stopAll()
    }
    log(`  (${((Date.now() - t0) / 1000).toFixed(0)} s)`)
    results.push(out)
  }
  const files = await writeReport({ machine, results, argv: process.argv.slice(2), startedAt: new Date(started), wallS: (Date.now() - started) / 1000 })
  log(`\nreport: ${files.join(', ')}`)
  // Exit now: a straggling socket or timer of a scenario must not hold the run open.
  process.exit(results.some(r => r.error) ? 1 : 0)
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { void stopAll().finally(() => process.exit(130)) })
}

main().catch(async e => {
  console.error(e instanceof Error ? e.message : e)
  await stopAll()
  process.exit(1)
})
