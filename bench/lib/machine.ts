// The machine a run was measured on, recorded with every report: figures from
// different machines are only comparable through the ceilings measured beside them.

import { cpus, release, totalmem } from 'node:os'
import { postgresInfo } from './db'

export interface Machine {
  cores: number
  cpuModel: string
  memoryGiB: number
  kernel: string
  bun: string
  postgres: string
  postgresSettings: Record<string, string>
  cpuSharing: string
  summary: string
  calibration?: { commitMs: number; commitP99Ms?: number; rowUs: number; wakeUs?: number | null }
  code?: string
}

export async function describeMachine(): Promise<Machine> {
  const c = cpus()
  const pg = await postgresInfo()
  const postgres = /PostgreSQL [\d.]+/.exec(pg.version ?? '')?.[0] ?? String(pg.version)
  const cores = c.length
  const m: Machine = {
    cores,
    cpuModel: c[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    bun: Bun.version,
    postgres,
    postgresSettings: { synchronous_commit: pg.synchronous_commit!, fsync: pg.fsync!, shared_buffers: pg.shared_buffers!, max_connections: pg.max_connections! },
    cpuSharing: `no pinning: the server, Postgres and the load generator (wrk or one Bun process, one thread) share all ${cores} cores; ` +
      'each phase records the server\'s and the generator\'s CPU seconds and the machine\'s busy CPU, the rest being Postgres and the OS',
    summary: '',
  }
  m.summary = `${cores} × ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Bun ${m.bun}, ${postgres} ` +
    `(synchronous_commit=${pg.synchronous_commit}, fsync=${pg.fsync})`
  return m
}
