// SIGTERM under load: intake stops, the buffer is flushed, the process exits 0,
// and every event that was acknowledged is in Postgres.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { createTestDatabase, type TestDatabase } from '../support/pg-cluster'
import { startServer } from '../support/server'

const ADMIN = 'sigterm-admin-token-0123456789'
let db: TestDatabase
beforeAll(async () => { db = await createTestDatabase(process.env.INLET_TEST_ADMIN_URL!) })
const dataDir = mkdtempSync(join(tmpdir(), 'inlet-sigterm-'))
afterAll(async () => {
  await db.drop()
  rmSync(dataDir, { recursive: true, force: true })
})

test('SIGTERM under load exits 0 with every acknowledged event stored', async () => {
  const server = await startServer({ DATABASE_URL: db.url, INLET_ADMIN_TOKEN: ADMIN, INLET_DATA_DIR: dataDir })
  const created = await fetch(`${server.url}/admin/projects`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: 'load', plan: 'enterprise' }),
  }).then(r => r.json() as Promise<{ api_key: string }>)
  const acked: string[] = []
  let refused = 0
  let stop = false
  const client = async (c: number) => {
    for (let i = 0; !stop; i++) {
      const events = Array.from({ length: 20 }, (_, k) => ({ id: `c${c}-${i}-${k}`, name: 'Load' }))
      try {
        const r = await fetch(`${server.url}/v1/events/batch`, {
          method: 'POST', headers: { authorization: `Bearer ${created.api_key}` }, body: JSON.stringify({ events }),
        })
        if (r.status === 200) acked.push(...events.map(e => e.id))
        else refused++
      } catch {
        refused++
        await Bun.sleep(10)
      }
    }
  }
  const clients = Array.from({ length: 16 }, (_, c) => client(c))
  while (acked.length < 5_000) await Bun.sleep(20)
  const exitCode = await server.kill('SIGTERM')
  stop = true
  await Promise.all(clients)
  expect(exitCode).toBe(0)
  const sql = postgres(db.url, { max: 1, idle_timeout: 1, connect_timeout: 10 })
  const stored = new Set((await sql`select id from events`).map(r => r.id as string))
  await sql.end()
  const missing = acked.filter(id => !stored.has(id))
  console.log(`sigterm: ${acked.length} acknowledged, ${stored.size} stored, ${missing.length} missing, ${refused} refused during shutdown`)
  expect(missing).toEqual([])
}, 60_000)
