// What the Segment/RudderStack end-to-end tests share: the real server (`bun
// src/main.ts`) on a database of its own, projects made through the admin API, and
// the stored rows read straight from Postgres.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { createTestDatabase, type TestDatabase } from '../support/pg-cluster'
import { type ServerProcess, startServer } from '../support/server'

export const ADMIN_TOKEN = 'segment-test-admin-token-0123456789'

export interface StoredRow {
  id: string
  type: string
  name: string
  user_id: string | null
  anonymous_id: string | null
  properties: Record<string, unknown>
  context: Record<string, any>
  timestamp: Date
}

export interface SegmentServer {
  url: string
  server: ServerProcess
  sql: postgres.Sql
  project(): Promise<{ id: number; api_key: string }>
  rows(projectId: number): Promise<StoredRow[]>
  stop(): Promise<void>
}

// A database of its own, so a test may lock its tables without touching others'.
export async function startSegmentServer(env: Record<string, string> = {}): Promise<SegmentServer> {
  const adminUrl = process.env.INLET_TEST_ADMIN_URL
  if (!adminUrl) throw new Error('test/setup.ts did not run (bunfig.toml preload)')
  const db: TestDatabase = await createTestDatabase(adminUrl)
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-segment-'))
  const server = await startServer({ DATABASE_URL: db.url, INLET_ADMIN_TOKEN: ADMIN_TOKEN, INLET_DATA_DIR: dataDir, ...env })
  const sql = postgres(db.url, { max: 2, idle_timeout: 5, connect_timeout: 10, onnotice: () => {} })
  return {
    url: server.url,
    server,
    sql,
    async project() {
      const r = await fetch(`${server.url}/admin/projects`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `segment-${Math.random().toString(36).slice(2, 8)}`, plan: 'enterprise' }),
      })
      if (r.status !== 201) throw new Error(`project creation failed: ${r.status} ${await r.text()}`)
      return await r.json() as { id: number; api_key: string }
    },
    rows: async projectId => await sql<StoredRow[]>`
      select id, type, name, user_id, anonymous_id, properties, context, "timestamp"
      from events where project_id = ${projectId} order by type, name`,
    async stop() {
      await server.kill('SIGTERM')
      await sql.end({ timeout: 5 })
      await db.drop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

// Polls until `check` holds. No deadline of its own: the test's timeout is the bound,
// so a slow machine makes the test slower, never wrong.
export async function until(check: () => Promise<boolean> | boolean, pollMs = 20): Promise<void> {
  while (!(await check())) await Bun.sleep(pollMs)
}
