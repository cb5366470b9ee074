// Several real Inlet processes on one Postgres: a supervised group (INLET_PROCESSES)
// or separate servers on their own ports (the durable client is durability/support.ts's).

import { expect } from 'bun:test'
import { type ServerProcess, startServer } from '../support/server'
import { ADMIN_TOKEN } from '../durability/support'

export { ADMIN_TOKEN }

export const json = async (url: string, init: RequestInit = {}) => {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
  return { status: r.status, headers: r.headers, body: await r.json().catch(() => null) as any }
}

export async function createProject(url: string, rpm = 10_000_000) {
  const r = await json(`${url}/admin/projects`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ name: `multi${Math.random().toString(36).slice(2, 6)}`, plan: 'enterprise', rate_limit_rpm: rpm }),
  })
  expect(r.status).toBe(201)
  return r.body as { id: number; api_key: string }
}

// The value of one series (its name with labels, as /metrics prints it), 0 when absent.
export const series = (text: string, name: string) =>
  Number(text.split('\n').find(l => l.startsWith(name))?.split(' ').at(-1) ?? 0)

// The pids of the supervised processes, by index, as the supervisor logged them (latest wins).
export function childPids(server: ServerProcess): Map<number, number> {
  const pids = new Map<number, number>()
  for (const line of server.output().split('\n')) {
    if (!line.includes('inlet process started')) continue
    try {
      const { index, pid } = JSON.parse(line)
      pids.set(index, pid)
    } catch {}
  }
  return pids
}

// Separate Inlet servers on their own ports, as on separate hosts: each its own
// INLET_PROCESS_INDEX of INLET_PROCESSES, so each owns its rollup shards.
export async function startSeparate(count: number, env: Record<string, string>, dataDirs: string[]): Promise<ServerProcess[]> {
  return await Promise.all(Array.from({ length: count }, (_, i) => startServer({
    ...env, INLET_PROCESSES: String(count), INLET_PROCESS_INDEX: String(i), INLET_DATA_DIR: dataDirs[i]!,
  })))
}
