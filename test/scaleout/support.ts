// Several real Inlet processes on one Postgres: a supervised group (INLET_PROCESSES)
// or separate servers on their own ports, and a durable client that retries every
// unacknowledged batch with the same ids until a 200.

import { expect } from 'bun:test'
import { type ServerProcess, startServer } from '../support/server'
import { ADMIN_TOKEN, event } from '../durability/support'

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

export function startLoad(target: () => string, key: string, workers: number, size: number, pauseMs: number) {
  const acked = new Set<string>()
  let stopping = false
  let next = 0
  let retries = 0
  const done = Promise.all(Array.from({ length: workers }, async (_, w) => {
    while (!stopping) {
      const ids = Array.from({ length: size }, () => `k${w}-${next++}`)
      const body = JSON.stringify({ events: ids.map(id => event(id)) })
      for (;;) {
        try {
          const r = await fetch(`${target()}/v1/events/batch`, {
            method: 'POST', body, headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(15_000),
            // A fresh connection per batch, so the kernel spreads them over the processes.
            keepalive: false,
          })
          if (r.status === 200) {
            const out = await r.json() as { accepted: number; duplicates: number }
            expect(out.accepted + out.duplicates).toBe(size)
            for (const id of ids) acked.add(id)
            break
          }
          await r.arrayBuffer()
        } catch {}
        retries++
        await Bun.sleep(30)
      }
      await Bun.sleep(pauseMs)
    }
  }))
  return { acked, stop: () => { stopping = true; return done }, retries: () => retries }
}

// Separate Inlet servers on their own ports, as on separate hosts: each its own
// INLET_PROCESS_INDEX of INLET_PROCESSES, so each owns its rollup shards.
export async function startSeparate(count: number, env: Record<string, string>, dataDirs: string[]): Promise<ServerProcess[]> {
  return await Promise.all(Array.from({ length: count }, (_, i) => startServer({
    ...env, INLET_PROCESSES: String(count), INLET_PROCESS_INDEX: String(i), INLET_DATA_DIR: dataDirs[i]!,
  })))
}
