// The real server killed with SIGKILL in the middle of an erasure: the answered
// erasure is finished by the next start, its progress figure is exact, and the
// rollups equal a recount.

import { afterAll, expect, test } from 'bun:test'
import { rmSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { expectExact } from '../reports/exact'
import { ADMIN_TOKEN, databaseUrl } from '../support/inlet'
import { type ServerProcess, startServer } from '../support/server'

const dataDir = mkdtempSync(join(tmpdir(), 'inlet-erasure-crash-'))
const sql = postgres(databaseUrl(), { max: 2, onnotice: () => {} })
let server: ServerProcess | undefined
afterAll(async () => {
  if (server?.proc.exitCode === null) await server.kill('SIGKILL')
  await sql.end({ timeout: 5 })
  rmSync(dataDir, { recursive: true, force: true })
})

// One row per batch: the erasure takes long enough to be killed in the middle.
const env = { DATABASE_URL: databaseUrl(), INLET_ADMIN_TOKEN: ADMIN_TOKEN, INLET_DATA_DIR: dataDir, RETENTION_BATCH_ROWS: '1', LIFECYCLE_INTERVAL_MS: '86400000' }

test('kill -9 in the middle of an erasure: the next start finishes it, exactly', async () => {
  server = await startServer(env)
  const created = await fetch(`${server.url}/admin/projects`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ name: 'crash', plan: 'enterprise' }) })
  const p = await created.json() as { id: number; api_key: string }
  const auth = { authorization: `Bearer ${p.api_key}` }
  const now = Date.now()
  const events = Array.from({ length: 2_000 }, (_, k) => ({ id: `c${k}`, name: k % 2 ? 'A' : 'B', user_id: k % 4 ? 'gone' : 'kept',
    timestamp: new Date(now - (k % 5) * 86_400_000 - k * 1000).toISOString() }))
  const sent = await fetch(`${server.url}/v1/events/batch`, { method: 'POST', headers: auth, body: JSON.stringify({ events }) })
  expect(((await sent.json()) as { accepted: number }).accepted).toBe(2_000)
  const del = await fetch(`${server.url}/v1/users/gone`, { method: 'DELETE', headers: auth })
  expect(del.status).toBe(202)
  const { id } = await del.json() as { id: number }
  // Kill once part of it is done.
  for (let i = 0; i < 400; i++) {
    const [job] = await sql`select events_erased::int from erasures where id = ${id}`
    if (job.events_erased >= 100) break
    await Bun.sleep(10)
  }
  await server.kill('SIGKILL')
  const [mid] = await sql`select status, events_erased::int from erasures where id = ${id}`
  expect(mid.status).not.toBe('done')
  expect(mid.events_erased).toBeGreaterThan(0)
  expect(mid.events_erased).toBeLessThan(1_500)
  // The figure matches what is gone, even at a kill.
  const [{ left }] = await sql`select count(*)::int as left from events where project_id = ${p.id} and user_id = 'gone'`
  expect(left).toBe(1_500 - mid.events_erased)

  server = await startServer({ ...env, RETENTION_BATCH_ROWS: '500' })
  let status = ''
  for (let i = 0; i < 400 && status !== 'done'; i++) {
    status = ((await (await fetch(`${server.url}/v1/erasures/${id}`, { headers: auth })).json()) as { status: string }).status
    if (status !== 'done') await Bun.sleep(25)
  }
  expect(status).toBe('done')
  const job = await (await fetch(`${server.url}/v1/erasures/${id}`, { headers: auth })).json() as { events_erased: number }
  expect(job.events_erased).toBe(1_500)
  const [{ n }] = await sql`select count(*)::int as n from events where project_id = ${p.id}`
  expect(n).toBe(500)
  await expectExact(sql as never, p.id)
  await server.kill('SIGTERM')
}, 120_000)
