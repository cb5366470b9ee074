// wrk (Debian's package) as the load generator for the closed-loop throughput
// phases: a C client costs a third of the CPU per request of our own Bun client
// (measured: 11-15 µs against 27-38), and it is the generator other projects'
// figures are measured with. Bodies come from a Lua script that makes every id
// unique; its done() hook prints the figures as one JSON line, which is parsed here
// into the same Summary the Recorder gives the other phases.

import { join } from 'node:path'
import type { Summary } from './recorder'

const LUA_DIR = join(import.meta.dir, '..', 'wrk')

export type WrkScript = 'single' | 'batch' | 'order'

export interface WrkRun {
  summary: Summary
  // wrk's own CPU seconds (from its rusage once it has exited).
  cpuS: number
}

export function wrkAvailable(): boolean {
  return Bun.spawnSync(['sh', '-c', 'command -v wrk']).exitCode === 0
}

export const WRK_INSTALL = 'apt-get install -y wrk'

interface Done {
  requests: number; duration_us: number; bytes: number
  errors: { connect: number; read: number; write: number; status: number; timeout: number }
  latency_us: { mean: number; max: number; p50: number; p95: number; p99: number; p999: number }
}

// Runs wrk for `durationS` against `url` with one of the scripts in bench/wrk/.
// `eventsPerRequest` turns requests into events for the summary.
export async function runWrk(o: {
  url: string; script: WrkScript; key: string; run: string; connections: number; durationS: number
  threads?: number; eventsPerRequest: number
}): Promise<WrkRun> {
  const argv = ['wrk', `-t${o.threads ?? 1}`, `-c${o.connections}`, `-d${o.durationS}s`, '--timeout', '10s',
    '-s', join(LUA_DIR, `${o.script}.lua`), o.url, '--', o.key, o.run]
  const proc = Bun.spawn(argv, { stdout: 'pipe', stderr: 'pipe' })
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  if (proc.exitCode !== 0) throw new Error(`wrk exited ${proc.exitCode}: ${err}${out}`)
  const line = out.split('\n').find(l => l.startsWith('WRK_JSON '))
  if (!line) throw new Error(`wrk printed no summary:\n${out}`)
  const d = JSON.parse(line.slice('WRK_JSON '.length)) as Done
  const usage = proc.resourceUsage()
  const cpuS = usage ? (Number(usage.cpuTime.user) + Number(usage.cpuTime.system)) / 1e6 : 0
  const durationS = d.duration_us / 1e6
  const failed = d.errors.status + d.errors.timeout + d.errors.read + d.errors.write + d.errors.connect
  const ok = d.requests - d.errors.status
  const byStatus: Record<string, number> = {}
  if (d.errors.status) byStatus['non-2xx'] = d.errors.status
  if (d.errors.timeout) byStatus.timeout = d.errors.timeout
  if (d.errors.connect) byStatus.connect = d.errors.connect
  if (d.errors.read + d.errors.write) byStatus.closed = d.errors.read + d.errors.write
  const ms = (us: number) => us / 1000
  return {
    cpuS,
    summary: {
      requests: d.requests, ok, errors: failed, byStatus, durationS,
      reqPerS: ok / durationS, events: ok * o.eventsPerRequest, eventsPerS: (ok * o.eventsPerRequest) / durationS,
      p50Ms: ms(d.latency_us.p50), p95Ms: ms(d.latency_us.p95), p99Ms: ms(d.latency_us.p99), p999Ms: ms(d.latency_us.p999),
      maxMs: ms(d.latency_us.max), meanMs: ms(d.latency_us.mean),
      // wrk gives no per-second figures; the chart shows the mean for the window.
      timeline: { reqPerS: [ok / durationS], eventsPerS: [(ok * o.eventsPerRequest) / durationS] },
    },
  }
}
