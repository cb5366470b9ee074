// In-process Inlet for HTTP tests: the real app and pipeline on this run's real
// database, called with `app.handle(new Request(...))`.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config'
import { createInlet, type Inlet } from '../../src/inlet'
import { connect, fetchTypesOnce, type Sql } from '../../src/store/db'
import { migrate } from '../../src/store/migrate'

export const ADMIN_TOKEN = 'test-admin-token-0123456789'
export const databaseUrl = () => {
  const url = process.env.INLET_TEST_DATABASE_URL
  if (!url) throw new Error('test/setup.ts did not run (bunfig.toml preload)')
  return url
}

export interface TestInlet extends Inlet {
  sql: Sql
  request(method: string, path: string, init?: { key?: string; body?: unknown; raw?: string | Uint8Array | ReadableStream<Uint8Array>; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>
  project(opts?: { name?: string; plan?: string; rate_limit_rpm?: number }): Promise<{ id: number; api_key: string }>
  stop(): Promise<void>
}

let migrated: Promise<unknown> | undefined

// `url`: another database than this run's (it is migrated here).
export async function startInlet(env: Record<string, string> = {}, url?: string): Promise<TestInlet> {
  // Each instance has its own data dir, so its spill is its own: made here (and
  // removed again) unless the caller names one.
  const ownDir = env.INLET_DATA_DIR === undefined
  const dataDir = env.INLET_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'inlet-test-'))
  let config
  try {
    config = loadConfig({
      INLET_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'error', DATABASE_URL: url ?? databaseUrl(), INLET_DATA_DIR: dataDir,
      // A loaded CI box may take over a second to commit; these tests check Postgres
      // rows right after the ack, so a slow commit must not fail over to the spill.
      FLUSH_COMMIT_MS_MAX: '30000', ...env,
    })
  } catch (e) {
    // A test of a configuration that stops start-up gets no instance to stop.
    if (ownDir) rmSync(dataDir, { recursive: true, force: true })
    throw e
  }
  const sql = connect(url ?? databaseUrl(), config.limits, () => {})
  if (url) await migrate(sql)
  else await (migrated ??= migrate(sql))
  await fetchTypesOnce(sql)
  const inlet = createInlet(config, sql)
  const request: TestInlet['request'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers }
    if (init.key) headers.authorization = `Bearer ${init.key}`
    const body = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body))
    const response = await inlet.app.handle(new Request(`http://inlet.test${path}`, { method, headers, body }))
    const text = await response.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch {}
    return { status: response.status, body: parsed, headers: response.headers }
  }
  const project: TestInlet['project'] = async (opts = {}) => {
    const r = await request('POST', '/admin/projects', {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: { name: opts.name ?? `p${Math.random().toString(36).slice(2, 8)}`, plan: opts.plan ?? 'enterprise', ...opts },
    })
    if (r.status !== 201) throw new Error(`project creation failed: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body
  }
  return {
    ...inlet, sql, request, project,
    stop: async () => {
      await inlet.close()
      await sql.end({ timeout: 5 })
      if (ownDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
