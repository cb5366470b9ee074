import { afterAll, beforeAll, expect, test } from 'bun:test'
import postgres from 'postgres'
import { migrate, migrationFiles } from '../../src/store/migrate'
import { createTestDatabase, type TestDatabase } from '../support/pg-cluster'

let db: TestDatabase
beforeAll(async () => { db = await createTestDatabase(process.env.INLET_TEST_ADMIN_URL!) })
afterAll(async () => { await db.drop() })

test('two processes migrating one fresh database at once apply each migration exactly once', async () => {
  const a = postgres(db.url, { max: 2, idle_timeout: 1, connect_timeout: 10, onnotice: () => {} })
  const b = postgres(db.url, { max: 2, idle_timeout: 1, connect_timeout: 10, onnotice: () => {} })
  const [ra, rb] = await Promise.all([migrate(a), migrate(b)])
  const files = migrationFiles().map(f => f.name)
  expect([...ra, ...rb].sort()).toEqual(files.sort())
  const applied = await a`select name from schema_migrations order by version`
  expect(applied.map(r => r.name)).toEqual(files)
  expect(await migrate(a)).toEqual([])
  await Promise.all([a.end(), b.end()])
})
