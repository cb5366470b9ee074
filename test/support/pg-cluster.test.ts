// Checks the throwaway cluster's life cycle (start, crash-stop, restart with data
// kept, destroy) and throwaway databases on it.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import postgres from 'postgres'
import { createTestDatabase, startThrowawayCluster, type ThrowawayCluster } from './pg-cluster'

// initdb plus a start takes about 1-2 s; give a loaded machine room.
const CLUSTER_TEST_TIMEOUT_MS = 60_000

let pg: ThrowawayCluster

beforeAll(async () => {
  pg = await startThrowawayCluster()
}, CLUSTER_TEST_TIMEOUT_MS)

afterAll(async () => {
  await pg.destroy()
})

// A stopped server refuses at once, so this only bounds a connect to a live one;
// 2 s was once exceeded right after a restart on a loaded 2-core box (load 5).
const CONNECT_TIMEOUT_S = 10

function connect(url: string): postgres.Sql {
  // No reconnect magic is wanted here: one connection.
  return postgres(url, { max: 1, idle_timeout: 1, connect_timeout: CONNECT_TIMEOUT_S, onnotice: () => {} })
}

test('a stopped cluster fails queries and keeps committed rows when started again', async () => {
  const sql = connect(pg.url)
  try {
    await sql`create table kept (id int primary key)`
    await sql`insert into kept values (1), (2), (3)`

    await pg.stop()
    const error = (await sql`select 1`.then(() => null, (e: unknown) => e)) as { code?: string } | null
    expect(error).not.toBeNull()
    expect(['ECONNREFUSED', 'ECONNRESET', 'CONNECTION_CLOSED', 'CONNECT_TIMEOUT']).toContain(error!.code!)

    await pg.start()
    const [row] = await sql`select count(*)::int as n from kept`
    expect(row!.n).toBe(3)
  } finally {
    await sql.end({ timeout: 1 })
  }
}, CLUSTER_TEST_TIMEOUT_MS)

test('a test database is usable on its own and drop removes it even with a session open', async () => {
  const db = await createTestDatabase(pg.url)
  const sql = connect(db.url)
  const [row] = await sql`select current_database() as name`
  expect(row!.name).toBe(db.name)

  await db.drop() // the session above is still open: WITH (FORCE) ends it
  await sql.end({ timeout: 1 })
  const admin = connect(pg.url)
  const left = await admin`select count(*)::int as n from pg_database where datname = ${db.name}`
  await admin.end({ timeout: 1 })
  expect(left[0]!.n).toBe(0)
}, CLUSTER_TEST_TIMEOUT_MS)

test('destroy stops the server and removes its directory', async () => {
  const other = await startThrowawayCluster()
  const sql = connect(other.url)
  await sql`select 1`
  await sql.end({ timeout: 1 })

  await other.destroy()
  expect(existsSync(other.dir)).toBe(false)
  const probe = connect(other.url)
  const error = (await probe`select 1`.then(() => null, (e: unknown) => e)) as { code?: string } | null
  await probe.end({ timeout: 0 })
  expect(error?.code).toBe('ECONNREFUSED')
  await other.destroy() // a second destroy is a no-op
}, CLUSTER_TEST_TIMEOUT_MS)
