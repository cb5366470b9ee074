// Every Postgres connection reset while Postgres refuses new ones for 1.5 s: once it
// is back, notices work again without a restart (postgres.js re-listens, or the bus
// watchdog in store/bus.ts does when it gave up; the log says which). A revocation
// made in psql (by hand, not through Inlet) reaches both processes by the trigger.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config'
import { connect, type Sql } from '../../src/store/db'
import { until } from '../durability/support'
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy'
import { createTestDatabase, type TestDatabase } from '../support/pg-cluster'
import type { ServerProcess } from '../support/server'
import { ADMIN_TOKEN, createProject, json, startSeparate } from './support'

let db: TestDatabase
let proxy: FaultProxy
let direct: Sql
let servers: ServerProcess[]
const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'inlet-bus-')))

beforeAll(async () => {
  db = await createTestDatabase(process.env.INLET_TEST_ADMIN_URL!)
  const target = new URL(db.url)
  proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 5432) } })
  const proxied = new URL(db.url)
  proxied.port = String(proxy.port)
  servers = await startSeparate(2, {
    DATABASE_URL: proxied.toString(), INLET_ADMIN_TOKEN: ADMIN_TOKEN, KEY_CACHE_TTL_MS: '5000', PG_PROBE_INTERVAL_MS: '200',
  }, dirs)
  direct = connect(db.url, loadConfig({}).limits, () => {})
})

afterAll(async () => {
  for (const s of servers ?? []) await s.kill('SIGKILL')
  await direct?.end({ timeout: 1 })
  await proxy?.stop()
  await db?.drop()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

test('after Postgres refused connections for a while, a revocation made in psql is seen by both processes within 2 s', async () => {
  const { api_key } = await createProject(servers[0]!.url)
  const post = (s: ServerProcess, id: string) => json(`${s.url}/v1/events`, {
    method: 'POST', headers: { authorization: `Bearer ${api_key}` },
    body: JSON.stringify({ id, name: 'Bus', timestamp: '2026-11-22T10:00:00.000Z' }),
  })
  proxy.refuse(true)
  proxy.resetAll()
  await Bun.sleep(1_500)
  proxy.refuse(false)
  // The watchdog's three missed pings, a fresh LISTEN, and the processes' own recovery.
  await until('both processes to write to Postgres again', async () => {
    const r = await Promise.all(servers.map(s => json(`${s.url}/ready`)))
    return r.every(x => x.body?.postgres === 'up')
  }, 20_000)
  await Bun.sleep(5_000)
  for (const [i, s] of servers.entries()) expect((await post(s, `before-${i}`)).status).toBe(200)

  const prefix = api_key.split('_').slice(0, 2).join('_')
  await direct`update api_keys set revoked_at = now() where prefix = ${prefix}`
  const at = performance.now()
  for (const s of servers) {
    await until('the revocation to be seen', async () => (await post(s, `after-${Math.random()}`)).status === 401, 2_000)
  }
  const relistened = servers.filter(s => s.output().includes('listening again')).length
  console.log(`bus: watchdog re-listened in ${relistened} of 2 processes; `)
  console.log(`bus: after a LISTEN loss, a revocation in psql was refused by both processes after ${(performance.now() - at).toFixed(0)} ms (TTL 5000)`)
}, 60_000)
