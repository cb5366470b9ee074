// The online move of a filled, unpartitioned events table (sql/007_partitions.sql,
// src/store/partitions.ts) into day partitions, with ingest running the whole time:
// every old and new row ends up exactly once, duplicates of old ids stay
// duplicates, and no request waits on the move for more than a second.

import { afterAll, expect, test } from 'bun:test'
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { loadConfig } from '../../src/config'
import { createInlet } from '../../src/inlet'
import { connect, fetchTypesOnce } from '../../src/store/db'
import { migrate } from '../../src/store/migrate'
import { moving } from '../../src/store/partitions'
import { insertKey } from '../../src/store/projects'
import { ADMIN_TOKEN } from '../support/inlet'

const adminUrl = process.env.INLET_TEST_ADMIN_URL!
const name = `inlet_move_${Date.now()}_${process.pid}`
const admin = postgres(adminUrl, { max: 1, idle_timeout: 1, connect_timeout: 10, onnotice: () => {} })
const dirs: string[] = []
afterAll(async () => {
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end({ timeout: 5 })
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const OLD_ROWS = 40_000
const DAY_MS = 86_400_000

test('a filled unpartitioned events table moves into day partitions while ingest runs, every row once, no request held over a second', async () => {
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-move-'))
  const before = mkdtempSync(join(tmpdir(), 'inlet-sql-'))
  dirs.push(dataDir, before)
  // The schema as an Inlet before partitioning left it (migrations up to 006).
  const sqlDir = join(import.meta.dir, '../../sql')
  for (const f of readdirSync(sqlDir).filter(f => /^00[1-6]_/.test(f))) cpSync(join(sqlDir, f), join(before, f))
  const config = loadConfig({
    INLET_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'error', DATABASE_URL: url.toString(), INLET_DATA_DIR: dataDir,
    FLUSH_COMMIT_MS_MAX: '30000', MOVE_BATCH_ROWS: '2000', LIFECYCLE_INTERVAL_MS: '86400000',
  })
  const sql = connect(url.toString(), config.limits, () => {})
  await migrate(sql, before)
  const [{ id: projectId }] = await sql`insert into projects (name, plan) values ('old', 'enterprise') returning id`
  const t0 = Date.now() - 30 * DAY_MS
  // Old rows over 40 days, a few in the future (they must not be lost either).
  await sql`insert into events (project_id, id, type, name, "timestamp", received_at, user_id, properties, context)
    select ${projectId}, 'old-' || g, 'track', 'Old', to_timestamp((${t0} + g::int8 * 86400) / 1000.0), now(), 'u' || (g % 100), '{}', '{}'
    from generate_series(1, ${OLD_ROWS}) g`
  expect((await sql`select relkind from pg_class where relname = 'events'`)[0].relkind).toBe('r')

  // The new Inlet: migrations 007+ put the trigger in place; a lifecycle pass moves.
  await migrate(sql)
  expect(await moving(sql)).toBe(true)
  await fetchTypesOnce(sql)
  const errors: string[] = []
  const inlet = createInlet(config, sql, (level, msg, fields) => { if (level === 'error') errors.push(`${msg} ${JSON.stringify(fields)}`) })
  const created = await inlet.app.handle(new Request('http://inlet.test/admin/projects', {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ name: 'new', plan: 'enterprise' }),
  }))
  const apiKey = ((await created.json()) as { api_key: string }).api_key
  // The old project's key, to resend old ids.
  const oldKey = await insertKey(sql, projectId)
  const pass = inlet.lifecycle.tick()

  let slowestMs = 0
  let sent = 0
  let oldDuplicates = 0
  const send = async (key: string, events: object[]) => {
    const started = performance.now()
    const r = await inlet.app.handle(new Request('http://inlet.test/v1/events/batch', {
      method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ events }),
    }))
    slowestMs = Math.max(slowestMs, performance.now() - started)
    expect(r.status).toBe(200)
    return await r.json() as { accepted: number; duplicates: number }
  }
  let batches = 0
  const moveStarted = performance.now()
  while (await moving(sql)) {
    const events = Array.from({ length: 50 }, (_, k) => ({ id: `new-${batches}-${k}`, name: 'New', user_id: `n${k}` }))
    const r = await send(apiKey, events)
    expect(r.accepted).toBe(50)
    sent += 50
    // Old ids sent again, some moved already and some not yet: each a duplicate.
    const olds = [1 + ((batches * 997) % OLD_ROWS), OLD_ROWS - (batches % OLD_ROWS)]
    const d = await send(oldKey, olds.map(g => ({ id: `old-${g}`, name: 'Old' })))
    expect(d.duplicates).toBe(2)
    oldDuplicates += 2
    batches++
    if (errors.length) throw new Error(errors.join('\n'))
    expect(performance.now() - moveStarted).toBeLessThan(60_000)
  }
  expect(batches).toBeGreaterThan(2) // ingest really ran beside the move
  expect(await pass).toBe(true)
  await inlet.close()

  expect((await sql`select relkind from pg_class where relname = 'events'`)[0].relkind).toBe('p')
  expect((await sql`select to_regclass('events_legacy') as t`)[0].t).toBeNull()
  const [c] = await sql`select count(*)::int as n, count(distinct (project_id, id))::int as d,
      count(*) filter (where project_id = ${projectId})::int as old from events`
  expect(c.n).toBe(OLD_ROWS + sent)
  expect(c.d).toBe(c.n)
  expect(c.old).toBe(OLD_ROWS)
  const [{ n: ids }] = await sql`select count(*)::int as n from event_ids`
  expect(ids).toBe(c.n)
  // Each event's event_ids timestamp is its own (get-by-id reads by it).
  const [{ n: off }] = await sql`select count(*)::int as n from events e join event_ids i using (project_id, id) where i."timestamp" <> e."timestamp"`
  expect(off).toBe(0)
  // Old rows went into their day partitions; only those past the last partition
  // made ahead (today + PARTITION_AHEAD_DAYS) wait in the default.
  const horizon = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + 8 * DAY_MS)
  const [{ n: inDefault, beyond }] = await sql`select count(*)::int as n,
    count(*) filter (where "timestamp" >= ${horizon})::int as beyond from events_default`
  expect(inDefault).toBe(beyond)
  expect(beyond).toBeGreaterThan(0)
  expect(errors).toEqual([])
  expect(oldDuplicates).toBe(batches * 2)
  console.log(`move: ${OLD_ROWS} old rows beside ${sent} new ones in ${batches * 2} requests; slowest request ${slowestMs.toFixed(0)} ms`)
  expect(slowestMs).toBeLessThan(1_000)
  await sql.end({ timeout: 5 })
}, 120_000)
