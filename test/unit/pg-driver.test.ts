// The Postgres driver as Inlet relies on it, where it once did not hold. A query
// that fails after streaming some rows (a cancel, a statement timeout, a row that
// errors) left postgres.js's row counter behind, so the next query on that
// connection resolved with leading holes: a get-by-id answered 404 for an event
// that was stored (found by test/faults under pg_cancel_backend). patches/ fixes
// it until porsager/postgres#1119 / #1181 land upstream.

import { afterAll, expect, test } from 'bun:test'
import postgres from 'postgres'

const sql = postgres(process.env.INLET_TEST_DATABASE_URL!, { max: 1, onnotice: () => {} })
afterAll(() => sql.end({ timeout: 1 }))

test('after a query fails mid-stream, the next query on the same connection returns exactly its own rows', async () => {
  // Three rows stream, the fourth divides by zero.
  const failing = sql`select i, 1 / (4 - i) as boom from generate_series(1, 10) i`.catch(e => e)
  const next = sql`select x from generate_series(1, 5) x`
  expect((await failing).code).toBe('22012')
  const rows = await next
  expect(rows.length).toBe(5)
  expect(rows.map(r => r.x)).toEqual([1, 2, 3, 4, 5])
  const [one] = await sql`select 42 as n`
  expect(one).toEqual({ n: 42 })
})
