// W3: orders from many clients, durable. 1, 10 and 40 clients each send one order
// event per request as fast as it is acknowledged; Inlet and the naive baseline
// take the same load. The published system (Redis queue + async batch writer)
// plateaued at ~2,650/s.

import { both, coresAt, flushCycle } from '../lib/budget'
import { cal, n0, pgRowsPerS } from '../lib/calibrate'
import { createProject, startBaseline, startInlet, UNLIMITED_RPM, type System } from '../lib/inlet'
import { measure, ratio, target } from '../lib/phase'
import { published } from '../lib/published'
import { Recorder } from '../lib/recorder'
import { using } from '../lib/systems'
import { runWrk, WRK_INSTALL, wrkAvailable } from '../lib/wrk'
import type { PhaseResult, RunOptions, Scenario, ScenarioResult } from '../lib/types'

const CLIENTS = [1, 10, 40] as const
const QUICK_MS = 8_000

// Evaluated after calibration: commit time and row cost are this machine's.
const estimate = (kind: 'inlet' | 'baseline', clients: number): string => {
  const perReqMs = cal.commitMs + 0.25 // commit + HTTP and JSON round trip
  if (clients === 1) return `one client waits for one commit per request (${cal.commitMs.toFixed(2)} ms + ~0.25 ms HTTP): ~${n0(1000 / perReqMs)} req/s`
  if (kind === 'inlet') {
    const group = clients / 2
    const pg = pgRowsPerS(group, 2)
    return `group commit: ~${group} orders per transaction, Postgres could take ~${n0(pg)}/s; the server's ~40 µs/req ` +
      `caps one thread at ~25k/s: expect ~${n0(Math.min(pg, 25_000) * 0.7)} req/s`
  }
  const conns = Math.min(clients, 10)
  return `${conns} connections, one commit each in flight (Postgres groups concurrent WAL flushes): ~${n0((conns * 1000) / (perReqMs * 2))}-${n0((conns * 1000) / perReqMs)} req/s, ` +
    (clients > 10 ? 'the extra clients only queue for the pool of 10' : 'no queueing yet')
}

async function phases(o: RunOptions, sys: System, kind: 'inlet' | 'baseline'): Promise<PhaseResult[]> {
  const project = await createProject(sys, 'orders', 'enterprise', UNLIMITED_RPM)
  const out: PhaseResult[] = []
  const durationS = Math.max(1, Math.round((o.durationMs ?? QUICK_MS) / 1000))
  for (const clients of CLIENTS) {
    const wrk = { url: sys.server.url, script: 'order' as const, key: project.api_key, connections: clients, eventsPerRequest: 1 }
    await runWrk({ ...wrk, run: `${kind}${clients}-warm`, durationS: Math.max(1, Math.round(o.warmupMs / 1000)) })
    out.push(await measure({
      scenario: 'w3', phase: `${clients}-clients`, title: `${clients} client${clients > 1 ? 's' : ''}, one order per request`,
      system: kind, sys, rec: new Recorder(), load: `wrk -t1 -c${clients}, closed loop`,
      estimate: estimate(kind, clients), theirs: kind === 'inlet' ? published[`w3-${clients}`] : null,
      run: async () => {
        const w = await runWrk({ ...wrk, run: `${kind}${clients}`, durationS })
        return { summary: w.summary, generatorCpuS: w.cpuS }
      },
    }))
  }
  return out
}

export const w3: Scenario = {
  name: 'w3',
  title: 'W3 — orders from 1, 10 and 40 clients, durable acks, Inlet vs the baseline',
  async run(o: RunOptions, out: ScenarioResult) {
    if (!wrkAvailable()) throw new Error(`W3 is driven by wrk, which is not installed: ${WRK_INSTALL}`)
    const inlet = await using(startInlet('w3'), sys => phases(o, sys, 'inlet'))
    const base = await using(startBaseline('w3'), sys => phases(o, sys, 'baseline'))
    out.phases.push(...inlet, ...base)
    CLIENTS.forEach((clients, i) => {
      const theirs = [549, 2554, 2653][i]!
      ratio(inlet[i]!, 'vs baseline', inlet[i]!.summary.reqPerS / base[i]!.summary.reqPerS)
      ratio(inlet[i]!, 'vs theirs', inlet[i]!.summary.reqPerS / theirs)
      const want = 4 * base[i]!.summary.reqPerS
      if (clients === 40) target(inlet[i]!, '≥ 4× the baseline with 40 clients', inlet[i]!.summary.reqPerS >= want, () => both(coresAt(inlet[i]!, want), flushCycle(inlet[i]!, want)))
    })
  },
}
