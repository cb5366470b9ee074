// DATABASE_READ_URL (src/store/replica.ts) against a real streaming replica made by
// `pg_basebackup -R` from a throwaway primary: reads go to the replica when it has
// replayed every acknowledged write; with replay paused (pg_wal_replay_pause) an
// event just acknowledged is still found by get-by-id and the list, from the
// primary; with the replica stopped, reads carry on on the primary.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
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
const dataDir = mkdtempSync(join(tmpdir(), 'inlet-replica-'))

beforeAll(async () => {
  primary = await startThrowawayCluster()
  replica = await startThrowawayReplica(primary)
  const db = await createTestDatabase(primary.url)
  const readUrl = new URL(db.url)
  readUrl.port = String(replica.port)
  onReplica = postgres(readUrl.toString(), { max: 1, onnotice: () => {} })
  await until('the database to reach the replica', () => onReplica`select 1`.then(() => true, () => false), 30_000)
  server = await startServer({
    DATABASE_URL: db.url, DATABASE_READ_URL: readUrl.toString(), INLET_DATA_DIR: dataDir, INLET_ADMIN_TOKEN: ADMIN_TOKEN,
    FLUSH_COMMIT_MS_MAX: '30000', PG_PROBE_INTERVAL_MS: '200',
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
