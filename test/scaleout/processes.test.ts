// INLET_PROCESSES=2 (src/supervisor.ts): two real Inlet processes on one port under
// load; one is killed with SIGKILL, then both while Postgres is black-holed (their
// spills full), and the supervisor restarts them and they drain. At the end:
// acknowledged but missing = 0, stored twice = 0, rollups = stored rows, and each
// process wrote only its own rollup shards.

import { expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Database } from 'bun:sqlite'
import { loadConfig } from '../../src/config'
import { childDataDir } from '../../src/supervisor'
import { connect } from '../../src/store/db'
import { shardBaseOf } from '../../src/store/sink'
import { storedCheck, until } from '../durability/support'
import { startFaultProxy } from '../support/fault-proxy'
import { createTestDatabase } from '../support/pg-cluster'
import { freePort, freePorts, startServer } from '../support/server'
import { startDurableLoad } from '../durability/support'
import { ADMIN_TOKEN, childPids, createProject, json, series } from './support'

const spilled = (dir: string): number => {
  const db = new Database(join(dir, 'spill.sqlite'), { readonly: true })
  try {
    return (db.query('select count(*) as n from spill').get() as { n: number }).n
  } finally {
    db.close()
  }
}

test('two supervised processes on one port: kill -9 of one, then of both with full spills, loses and duplicates nothing', async () => {
  const db = await createTestDatabase(process.env.INLET_TEST_ADMIN_URL!)
  const target = new URL(db.url)
  const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port || 5432) } })
  const proxied = new URL(db.url)
  proxied.port = String(proxy.port)
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-procs-'))
  const direct = connect(db.url, loadConfig({}).limits, () => {})
  const port = await freePort()
  const metricsPort = await freePorts(2, [port])
  const server = await startServer({
    DATABASE_URL: proxied.toString(), INLET_DATA_DIR: dataDir, INLET_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'info', LOG_FORMAT: 'json',
    INLET_PROCESSES: '2', PORT: String(port), INLET_METRICS_PORT: String(metricsPort),
    FLUSH_COMMIT_MS_MAX: '300', PG_PROBE_INTERVAL_MS: '100', KEY_CACHE_TTL_MS: '5000',
  })
  const load = startDurableLoad(() => server.url, (await createProject(server.url)).api_key, 6, 20, 10, { freshConnections: true })
  const project = (await direct`select id from projects order by id desc limit 1`)[0] as { id: number }
  const listening = () => server.output().split('\n').filter(l => l.includes('"inlet listening"')).length
  // Batches process `index` acknowledged since it started. One is what lets it go on
  // into its spill through a Postgres outage: a key it has never checked cannot be
  // checked then (503, by design), and a process that started just before the
  // outage may have been handed no request yet.
  const served = (index: number) => fetch(`http://127.0.0.1:${metricsPort + index}/metrics`).then(r => r.text())
    .then(text => series(text, 'inlet_http_requests_total{route="/v1/events/batch",status="200"}'), () => 0)
  const serving = (index: number) => until(`process ${index} to acknowledge a batch`, async () => await served(index) > 0, 30_000)
  let started = 2
  const restarted = async (index: number, oldPid: number) => {
    await until(`process ${index} to be started again`, () => (childPids(server).get(index) ?? oldPid) !== oldPid, 30_000)
    await until(`process ${index} to listen`, () => listening() >= started + 1, 30_000)
    started++
    await serving(index)
  }
  try {
    await until('both processes to listen', () => listening() === 2, 30_000)
    await until('some load to be acknowledged', () => load.acked.size > 500, 30_000)
    await serving(0)
    await serving(1)
    const first = childPids(server)
    expect(first.size).toBe(2)
    process.kill(first.get(0)!, 'SIGKILL')
    await restarted(0, first.get(0)!)

    // Postgres black-holed: both spills fill; kill both with their spills full.
    const acked = load.acked.size
    proxy.blackhole(true)
    await until('events acknowledged from the spills', () => load.acked.size > acked + 1_000, 30_000)
    await until('both spills to hold events', () => [0, 1].every(i => spilled(childDataDir(dataDir, i)) > 0), 30_000)
    const second = childPids(server)
    for (const pid of second.values()) process.kill(pid, 'SIGKILL')
    proxy.blackhole(false)
    await restarted(0, second.get(0)!)
    await restarted(1, second.get(1)!)

    await load.stop()
    await until('every acknowledged event in Postgres', async () =>
      (await storedCheck(direct, project.id, load.acked)).missing === 0, 60_000)
    // A commit the outage held up may land when it is lifted, before the spill that
    // also holds its rows is replayed: wait for the replays too.
    await until('both spills to be replayed', () => [0, 1].every(i => spilled(childDataDir(dataDir, i)) === 0), 60_000)
    const spills = (await Promise.all([0, 1, 2, 3].map(() => json(`${server.url}/ready`)))).map(r => r.body.spill.pending)
    const exitCode = await server.kill('SIGTERM')
    expect(exitCode).toBe(0)
    const check = await storedCheck(direct, project.id, load.acked)
    expect(check).toMatchObject({ missing: 0, duplicated: 0, stored: load.acked.size, rollup: load.acked.size })
    expect(spills).toEqual([0, 0, 0, 0])
    // Each process wrote its own range of rollup shards, and both wrote.
    const stride = shardBaseOf(1, loadConfig({}).limits.PG_POOL_MAX)
    const owners = await direct`select distinct shard / ${stride} as owner from event_counts_minute where project_id = ${project.id} order by 1`
    expect(owners.map(r => Number(r.owner))).toEqual([0, 1])
    console.log(`scaleout: 2 processes, 3 kill -9s (2 with full spills): ${check.checked} acked events, lost ${check.missing}, `
      + `duplicated ${check.duplicated}, rollup ${check.rollup} = stored ${check.stored}; ${load.retries()} client retries`)
  } catch (error) {
    // What the processes said, so a failure in CI can be read from its log alone.
    console.log(server.output().split('\n').filter(l => !l.includes('"level":"debug')).slice(-120).join('\n'))
    throw error
  } finally {
    await load.stop()
    if (server.proc.exitCode === null) await server.kill('SIGKILL')
    await direct.end({ timeout: 1 })
    await proxy.stop()
    await db.drop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}, 150_000)
