// Command line of `bun run bench`: which scenarios, and how long.
//
//   bun run bench                       quick pass of every scenario (< 10 min)
//   bun run bench w1 w3 --duration 30s  chosen scenarios, 30 s measured per phase
//   bun run bench w2 --soak 1h          W2 with the full one-hour soak
//   bun run bench --env FLUSHERS=4      an Inlet setting for every Inlet started
//   bun run bench --wait-idle 60s       on a shared box: let other work finish before each phase
//   bun run bench throughput --phase single   one part of a scenario (throughput: single, batch)

import type { RunOptions } from './types'

export interface Args {
  scenarios: string[]
  options: RunOptions
  env: Record<string, string>
  help: boolean
}

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)} (use 500ms, 30s, 5m, 1h)`)
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h']
  return Number(m[1]) * unitMs
}

// Default warm-up: long enough for JIT, pools and the group-commit rhythm to settle.
const WARMUP_MS = 2_000

export function parseArgs(argv: string[]): Args {
  const a: Args = {
    scenarios: [], env: {}, help: false,
    options: { durationMs: null, warmupMs: WARMUP_MS, soakMs: null, reportsSeedEvents: null, quick: true, waitIdleMs: 0 },
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${arg} needs a value`)
      return v
    }
    if (arg === '--help' || arg === '-h') a.help = true
    else if (arg === '--duration') { a.options.durationMs = parseDuration(value()); a.options.quick = false }
    else if (arg === '--warmup') a.options.warmupMs = parseDuration(value())
    else if (arg === '--soak') a.options.soakMs = parseDuration(value())
    else if (arg === '--wait-idle') a.options.waitIdleMs = parseDuration(value())
    else if (arg === '--phase') (a.options.phases ??= []).push(value().toLowerCase())
    else if (arg === '--seed-events') a.options.reportsSeedEvents = Number(value().replaceAll('_', ''))
    else if (arg === '--seed-big-events') a.options.reportsSeedBigEvents = Number(value().replaceAll('_', ''))
    else if (arg === '--env') {
      const [k, ...v] = value().split('=')
      a.env[k!] = v.join('=')
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`)
    else a.scenarios.push(arg.toLowerCase())
  }
  return a
}

export const usage = `usage: bun run bench [scenario ...] [--duration 30s] [--warmup 2s] [--soak 1h] [--seed-events 10000000] [--env K=V] [--phase single]

scenarios: throughput w1 w2 w3 w4 w5 reports (default: all, quick)
  --duration   measured window per phase (default: each scenario's quick window)
  --warmup     load offered before measuring (default 2s)
  --soak       W2's soak length (default: a short soak; the published one is 1h)
  --seed-events  events seeded for the reports scenario (default: quick size; 10000000 for the full one)
  --seed-big-events  of those, the big project's (default: 20%; 2000000 keeps the full size's big project in a smaller seed)
  --env K=V    passed to every Inlet started (e.g. FLUSHERS=4, QUEUE_EVENTS_MAX=200000)
  --phase      only this part of a scenario, repeatable (throughput: single, batch; default: all)
  --wait-idle  before each phase, wait up to this long for other work on the machine to stop (default 0: just flag it)`
