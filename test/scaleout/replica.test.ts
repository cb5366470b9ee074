// DATABASE_READ_URL (src/store/replica.ts) against a real streaming replica made by
// `pg_basebackup -R` from a throwaway primary: reads go to the replica when it has
// replayed every acknowledged write; with replay paused (pg_wal_replay_pause) an
// event just acknowledged is still found by get-by-id and the list, from the
// primary; with the replica stopped, reads carry on on the primary. An export
// takes the same rule once, when it starts, and keeps its server for every page.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { loadConfig } from '../../src/config'
import { createMetrics } from '../../src/metrics'
import { connect } from '../../src/store/db'
import { type ExportPosition, exportPage } from '../../src/store/export'
import { ReadRouter } from '../../src/store/replica'
import { until } from '../durability/support'
import {
  createTestDatabase, startThrowawayCluster, startThrowawayReplica, type ThrowawayCluster, type ThrowawayReplica,
} from '../support/pg-cluster'
import { type ServerProcess, startServer } from '../support/server'
import { ADMIN_TOKEN, createProject, json } from './support'

let primary: ThrowawayCluster
let replica: ThrowawayReplica
let server: ServerProcess
let onReplica: postgres.Sql
let primaryUrl: string
let replicaUrl: string
const dataDir = mkdtempSync(join(tmpdir(), 'inlet-replica-'))
// Small pages, so an export below is several queries on the server it was given.
const EXPORT_PAGE_ROWS = 7

beforeAll(async () => {
  primary = await startThrowawayCluster()
  replica = await startThrowawayReplica(primary)
  const db = await createTestDatabase(primary.url)
  const readUrl = new URL(db.url)
  readUrl.port = String(replica.port)
  primaryUrl = db.url
  replicaUrl = readUrl.toString()
  onReplica = postgres(readUrl.toString(), { max: 1, onnotice: () => {} })
  await until('the database to reach the replica', () => onReplica`select 1`.then(() => true, () => false), 30_000)
  server = await startServer({
    DATABASE_URL: db.url, DATABASE_READ_URL: readUrl.toString(), INLET_DATA_DIR: dataDir, INLET_ADMIN_TOKEN: ADMIN_TOKEN,
    FLUSH_COMMIT_MS_MAX: '30000', PG_PROBE_INTERVAL_MS: '200', EXPORT_PAGE_ROWS: String(EXPORT_PAGE_ROWS),
  })
}, 120_000)

afterAll(async () => {
  await server?.kill('SIGTERM')
  await onReplica?.end({ timeout: 1 })
  await replica?.destroy()
  await primary?.destroy()
  rmSync(dataDir, { recursive: true, force: true })
})

async function reads(): Promise<Record<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^inlet_reads_total\{target="([a-z_]+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2])
  return out
}
const delta = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0))

test('reads go to a replica that keeps up; a lagging replica never hides an acknowledged event', async () => {
  const { api_key } = await createProject(server.url)
  const auth = { authorization: `Bearer ${api_key}` }
  const ingest = (id: string) => json(`${server.url}/v1/events`, {
    method: 'POST', headers: auth, body: JSON.stringify({ id, name: 'Replicated', timestamp: '2026-11-22T10:00:00.000Z' }),
  })
  const get = (id: string) => json(`${server.url}/v1/events/${id}`, { headers: auth })
  const list = async () => ((await json(`${server.url}/v1/events?limit=10`, { headers: auth })).body.data as { id: string }[]).map(e => e.id)

  expect((await ingest('e1')).body).toMatchObject({ status: 'accepted' })
  expect((await get('e1')).status).toBe(200)
  // Once replay has caught up and nothing is written, reads are the replica's.
  await until('a read served by the replica', async () => {
    const before = await reads()
    expect((await get('e1')).status).toBe(200)
    return (delta(await reads(), before).replica ?? 0) === 1
  }, 10_000)
  const before = await reads()
  expect(await list()).toEqual(['e1'])
  expect(delta(await reads(), before)).toEqual({ replica: 1 })

  await replica.pauseReplay()
  try {
    expect((await ingest('e2')).body).toMatchObject({ status: 'accepted' })
    // The replica does not have it…
    expect(await onReplica`select id from events where id = 'e2'`).toHaveLength(0)
    // …and Inlet finds it anyway, on the primary.
    const lagging = await reads()
    expect((await get('e2')).body).toMatchObject({ id: 'e2', name: 'Replicated' })
    expect(await list()).toEqual(['e2', 'e1'])
    expect(delta(await reads(), lagging)).toEqual({ primary_replica_behind: 2 })
  } finally {
    await replica.resumeReplay()
  }
  await until('the replica to replay e2', async () => (await onReplica`select id from events where id = 'e2'`).length === 1, 10_000)
  // Caught up, reads go back to the replica (once it has also replayed whatever the
  // primary wrote meanwhile, e.g. the lifecycle pass: the check is against the
  // primary's current WAL position, not e2's).
  await until('a read of e2 served by the replica', async () => {
    const caughtUp = await reads()
    expect((await get('e2')).status).toBe(200)
    return (delta(await reads(), caughtUp).replica ?? 0) === 1
  }, 10_000)

  // The replica stopped: reads carry on on the primary.
  await replica.stop()
  const away = await reads()
  expect((await get('e2')).status).toBe(200)
  expect(await list()).toHaveLength(2)
  const moved = delta(await reads(), away)
  expect((moved.primary_replica_away ?? 0) + (moved.primary_replica_failed ?? 0)).toBeGreaterThanOrEqual(2)
  await replica.start()
}, 120_000)

test('an export goes to a replica that keeps up and to the primary while replay is paused, one server per export, every row exactly once', async () => {
  const { api_key } = await createProject(server.url)
  const auth = { authorization: `Bearer ${api_key}` }
  const at = Date.parse('2026-11-23T10:00:00.000Z')
  const events = (prefix: string, n: number) => Array.from({ length: n }, (_, i) =>
    ({ id: `${prefix}${String(i).padStart(3, '0')}`, name: 'Exported', timestamp: new Date(at + i * 1000).toISOString() }))
  const batch = async (list: unknown[]) => expect((await json(`${server.url}/v1/events/batch`, {
    method: 'POST', headers: auth, body: JSON.stringify({ events: list }),
  })).status).toBe(200)
  const exported = async (after = '') => {
    const r = await fetch(`${server.url}/v1/events/export${after ? `?after=${after}` : ''}`, { headers: auth })
    expect(r.status).toBe(200)
    return (await r.text()).split('\n').filter(Boolean).map(line => JSON.parse(line).id as string)
  }
  const first = events('x', 30)
  await batch(first)
  const ids = first.map(e => e.id)
  // 30 rows in pages of 7: five queries, and one routing decision.
  await until('an export served by the replica', async () => {
    const before = await reads()
    expect(await exported()).toEqual(ids)
    return JSON.stringify(delta(await reads(), before)) === JSON.stringify({ replica: 1 })
  }, 30_000)
  const resumed = await reads()
  expect(await exported(ids[9])).toEqual(ids.slice(10))
  expect(delta(await reads(), resumed)).toEqual({ replica: 1 })

  await replica.pauseReplay()
  try {
    const more = events('y', 12)
    await batch(more)
    expect(await onReplica`select id from events where id = ${more[0]!.id}`).toHaveLength(0)
    const lagging = await reads()
    const all = await exported()
    // In (timestamp, id) order: the y's share the x's timestamps and sort after them.
    expect(all).toEqual([...first, ...more].sort((p, q) => p.timestamp.localeCompare(q.timestamp) || p.id.localeCompare(q.id)).map(e => e.id))
    expect(new Set(all).size).toBe(42)
    expect(delta(await reads(), lagging)).toEqual({ primary_replica_behind: 1 })
  } finally {
    await replica.resumeReplay()
  }
}, 120_000)

test('an export given the replica finishes on the primary when the replica fails mid-way, without a gap or a repeat', async () => {
  const { id: projectId, api_key } = await createProject(server.url)
  const list = Array.from({ length: 20 }, (_, i) => ({ id: `z${String(i).padStart(2, '0')}`, name: 'Failover', timestamp: new Date(Date.parse('2026-11-24T10:00:00.000Z') + i).toISOString() }))
  expect((await json(`${server.url}/v1/events/batch`, {
    method: 'POST', headers: { authorization: `Bearer ${api_key}` }, body: JSON.stringify({ events: list }),
  })).status).toBe(200)
  const limits = loadConfig({}).limits
  const p = connect(primaryUrl, limits, () => {})
  const r = connect(replicaUrl, limits, () => {})
  try {
    const router = new ReadRouter(p, r, limits.REPLICA_CHECK_MS_MAX, 60_000, createMetrics())
    let pinned = await router.pin()
    await until('the replica to have replayed the batch', async () => (pinned = await router.pin()).target === 'replica', 30_000)
    const onStandby = () => pinned.read(async sql => (await sql`select pg_is_in_recovery() as standby`)[0]!.standby as boolean)
    const range = { fromMs: 0, toMs: Date.parse('2027-01-01T00:00:00.000Z') }
    const page = (after: ExportPosition | null) =>
      pinned.read(sql => exportPage(sql, projectId, range, after, EXPORT_PAGE_ROWS, limits.PG_STATEMENT_TIMEOUT_MS))
    expect(await onStandby()).toBe(true)
    const first = await page(null)
    const seen = first.events.map(e => e.id)
    await replica.stop()
    // The rest of the walk on the primary, from the last row the replica gave.
    for (let after = first.last; ;) {
      const next = await page(after)
      seen.push(...next.events.map(e => e.id))
      if (next.events.length < EXPORT_PAGE_ROWS) break
      after = next.last
    }
    expect(seen).toEqual(list.map(e => e.id))
    expect(await onStandby()).toBe(false)
  } finally {
    await replica.start()
    await p.end({ timeout: 1 })
    await r.end({ timeout: 1 })
  }
}, 120_000)
