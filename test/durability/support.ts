// Durability test support: an in-process Inlet whose Postgres connections go through
// the fault proxy (so a test can black-hole, slow or reset them), with its own spill
// directory, plus a direct connection for checking what Postgres holds.

import { expect } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config'
import { createInlet, type Inlet } from '../../src/inlet'
import { connect, type Sql, fetchTypesOnce } from '../../src/store/db'
import { migrate } from '../../src/store/migrate'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy'

export const ADMIN_TOKEN = 'durability-admin-token-0123456789'

// Fast enough to keep the tests short, slow enough for a loaded 2-core box:
// a commit gets 300 ms before its batch goes to the spill; the probe runs every 100 ms.
export const FAST_FAILOVER = { FLUSH_COMMIT_MS_MAX: '300', PG_PROBE_INTERVAL_MS: '100', KEY_CACHE_TTL_MS: '5000' }

export interface Degradable {
  inlet: Inlet
  proxy: FaultProxy
  // Straight to Postgres, around the proxy: what the assertions read.
  direct: Sql
  dataDir: string
  request(method: string, path: string, init?: { key?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>
  project(): Promise<{ id: number; api_key: string }>
  // Closes this instance and opens a new one on the same spill directory (a restart).
  // It needs no Postgres to open, like main.ts after its migrations.
  restart(env?: Record<string, string>): Promise<void>
  stop(): Promise<void>
}

function testDatabaseUrl(): string {
  const url = process.env.INLET_TEST_DATABASE_URL
  if (!url) throw new Error('test/setup.ts did not run (bunfig.toml preload)')
  return url
}

export async function startDegradable(env: Record<string, string> = {}, dataDir?: string): Promise<Degradable> {
  const directUrl = new URL(testDatabaseUrl())
  const proxy = await startFaultProxy({ target: { host: directUrl.hostname, port: Number(directUrl.port || 5432) } })
  const proxied = new URL(directUrl)
  proxied.port = String(proxy.port)
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'inlet-spill-'))
  const direct = connect(directUrl.toString(), loadConfig({}).limits, () => {})
  await migrate(direct)

  let sql: Sql
  let inlet: Inlet
  const open = async (extra: Record<string, string>, warm: boolean) => {
    const config = loadConfig({
      INLET_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'error', DATABASE_URL: proxied.toString(), INLET_DATA_DIR: dir,
      ...FAST_FAILOVER, ...env, ...extra,
    })
    sql = connect(proxied.toString(), config.limits, () => {})
    if (warm) await fetchTypesOnce(sql)
    inlet = createInlet(config, sql, () => {})
  }
  await open({}, true)

  const request: Degradable['request'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers }
    if (init.key) headers.authorization = `Bearer ${init.key}`
    const body = init.body === undefined ? undefined : JSON.stringify(init.body)
    const response = await inlet.app.handle(new Request(`http://inlet.test${path}`, { method, headers, body }))
    const text = await response.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch {}
    return { status: response.status, body: parsed, headers: response.headers }
  }
  const close = async () => {
    await inlet.close()
    await sql.end({ timeout: 1 })
  }
  return {
    get inlet() { return inlet },
    proxy, direct, dataDir: dir, request,
    async project() {
      const r = await request('POST', '/admin/projects', {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        body: { name: `d${Math.random().toString(36).slice(2, 8)}`, plan: 'enterprise', rate_limit_rpm: 1_000_000 },
      })
      if (r.status !== 201) throw new Error(`project creation failed: ${r.status} ${JSON.stringify(r.body)}`)
      return r.body
    },
    async restart(extra = {}) {
      await close()
      // No warm-up query: a restart may happen while Postgres is black-holed.
      await open(extra, false)
    },
    async stop() {
      proxy.blackhole(false)
      proxy.setLatency(0)
      await close()
      await proxy.stop()
      await direct.end({ timeout: 1 })
      if (!dataDir) rmSync(dir, { recursive: true, force: true })
    },
  }
}

// Polls until `check` is true, or fails after `timeoutMs` saying what it waited for.
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await Bun.sleep(20)
  }
}

export const event = (id: string, extra: Record<string, unknown> = {}) =>
  ({ id, name: 'Durable', timestamp: '2026-11-22T10:00:00.000Z', properties: { n: id }, ...extra })

// Every acknowledged id is stored, none twice, and the rollups count exactly the
// events that are stored (each counted once, whatever path it took).
export async function storedCheck(direct: Sql, projectId: number, acked: Iterable<string>) {
  const rows = await direct`select id from events where project_id = ${projectId}`
  const stored = new Set<string>(rows.map(r => r.id as string))
  let missing = 0
  let checked = 0
  for (const id of acked) {
    checked++
    if (!stored.has(id)) missing++
  }
  const [{ rollup }] = await direct`
    select coalesce(sum(events), 0)::int8 as rollup from event_counts_minute where project_id = ${projectId}`
  return { checked, missing, stored: rows.length, duplicated: rows.length - stored.size, rollup: rollup as number }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

// Workers send batches of fresh ids to whatever server `target()` names; a batch is
// retried (same ids) on any failure until a 200 acknowledges it, as a durable client
// does. `freshConnections`: a new connection per batch, so the kernel spreads them
// over processes sharing a port.
export function startDurableLoad(target: () => string, key: string, workers: number, size: number, pauseMs: number,
  o: { freshConnections?: boolean } = {}) {
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
            keepalive: !o.freshConnections,
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
