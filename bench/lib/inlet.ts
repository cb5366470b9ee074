// Starts the system under test on a fresh database: Inlet itself (src/main.ts),
// the naive baseline, or the bare HTTP ceiling, and the admin calls scenarios need
// (projects, keys, webhook sources).

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freshDatabase, migrate, type Database } from './db'
import { freePort, startServer, type Server } from './proc'
import { codeDir } from './snapshot'

export const ADMIN_TOKEN = 'bench-admin-token-0123456789'
// A project the load is not meant to be rate limited on (the plan cap is not
// under test there): the highest rpm the admin API accepts (166k req/s).
export const UNLIMITED_RPM = 10_000_000

export interface System {
  kind: 'inlet' | 'baseline' | 'bare'
  server: Server
  db: Database | null
  stop(): Promise<void>
}

// Extra server settings from the command line (--env K=V), applied to every Inlet start.
export const inletEnvOverrides: Record<string, string> = {}

// `on`: another system's database to start this one on (its data, not a copy);
// stopping this system then leaves that database alone.
export async function startInlet(label: string, env: Record<string, string> = {}, on?: Database,
  argv = ['bun', join(codeDir(), 'src/main.ts')]): Promise<System> {
  const db = on ?? await freshDatabase(label)
  const own = on === undefined
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-bench-'))
  try {
    const server = await startServer({
      name: `inlet-${label}`, argv, cwd: codeDir(), port: await freePort(), readyPath: '/ready',
      env: { DATABASE_URL: db.url, INLET_ADMIN_TOKEN: ADMIN_TOKEN, INLET_DATA_DIR: dataDir, LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...inletEnvOverrides, ...env },
    })
    return {
      kind: 'inlet', server, db,
      async stop() { await server.stop(); if (own) await db.drop(); rmSync(dataDir, { recursive: true, force: true }) },
    }
  } catch (e) {
    if (own) await db.drop()
    rmSync(dataDir, { recursive: true, force: true })
    throw e
  }
}

// The code under test with its storage taken out (bench/baselines/no-storage.ts):
// flushes answered after `flushMs`, so the request path's CPU can be told apart.
export function startInletNoStorage(label: string, flushMs: number): Promise<System> {
  return startInlet(label, { INLET_CODE_DIR: codeDir(), NO_STORAGE_FLUSH_MS: flushMs.toFixed(2) }, undefined,
    ['bun', join(import.meta.dir, '../baselines/no-storage.ts')])
}

// The naive baseline gets Inlet's schema and one project whose key it accepts.
export const BASELINE_API_KEY = 'bench_baseline_key'

export async function startBaseline(label: string): Promise<System> {
  const db = await freshDatabase(`${label}_baseline`)
  try {
    await migrate(db.url)
    const server = await startServer({
      name: `baseline-${label}`, argv: ['bun', 'bench/baselines/naive-server.ts'], port: await freePort(), readyPath: '/health',
      env: { DATABASE_URL: db.url, BASELINE_API_KEY },
    })
    return { kind: 'baseline', server, db, async stop() { await server.stop(); await db.drop() } }
  } catch (e) { await db.drop(); throw e }
}

// `jsonFloor`: the JSON floor instead of the HTTP ceiling (bench/baselines/bare-server.ts).
export async function startBare(label: string, jsonFloor = false): Promise<System> {
  const server = await startServer({ name: `bare-${label}`, argv: ['bun', 'bench/baselines/bare-server.ts'], port: await freePort(), readyPath: '/health',
    env: jsonFloor ? { BARE_JSON_FLOOR: '1' } : {} })
  return { kind: 'bare', server, db: null, async stop() { await server.stop() } }
}

async function admin<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(base + path, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
  })
  if (!r.ok) throw new Error(`${method} ${path} → ${r.status}: ${await r.text()}`)
  return r.json() as Promise<T>
}

export interface Project { id: number | string; api_key: string; plan: string; rate_limit_rpm: number | null }

// On the baseline there is one project with a fixed key.
export async function createProject(sys: System, name: string, plan?: string, rpm?: number): Promise<Project> {
  if (sys.kind !== 'inlet') return { id: 1, api_key: BASELINE_API_KEY, plan: 'enterprise', rate_limit_rpm: null }
  const body: Record<string, unknown> = { name }
  if (plan) body.plan = plan
  if (rpm) body.rate_limit_rpm = rpm
  return admin<Project>(sys.server.url, 'POST', '/admin/projects', body)
}

export async function createWebhookSource(sys: System, projectId: number | string, secret: string) {
  return admin<{ id: string; token: string; url: string }>(sys.server.url, 'POST', `/admin/projects/${projectId}/webhook-sources`,
    { name: 'stripe-bench', scheme: 'stripe', secret })
}
