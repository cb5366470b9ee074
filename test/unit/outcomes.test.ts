// The classification of Postgres outcomes (src/store/outcomes.ts) against errors a
// real Postgres produces, on a throwaway cluster: only the row's own data is ever
// "data"; every other failure, including the ones production Postgres produces
// weekly (failover to read-only, cancels, timeouts, restarts, a full disk), is "not now".

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { AssertionError } from '../../src/assert'
import { classify, errorCode, fromPostgres } from '../../src/store/outcomes'
import { startThrowawayCluster, type ThrowawayCluster } from '../support/pg-cluster'

let cluster: ThrowawayCluster
let sql: postgres.Sql
beforeAll(async () => {
  cluster = await startThrowawayCluster()
  sql = postgres(cluster.url, { max: 4, onnotice: () => {}, connect_timeout: 5 })
  await sql`create table t (id int primary key, n int check (n >= 0), s text not null, v varchar(3))`
  await sql`create index t_s on t (s)`
})
afterAll(async () => {
  await sql?.end({ timeout: 1 })
  await cluster?.destroy()
})

// Runs `fn`, which must fail, and returns the error.
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn()
  } catch (error) {
    return error
  }
  throw new Error('expected a failure')
}

async function expectClass(fn: () => Promise<unknown>, code: string, outcome: 'data' | 'not_now') {
  const error = await failure(fn)
  expect(errorCode(error)).toBe(code)
  expect(classify(error)).toBe(outcome)
  expect(fromPostgres(error)).toBe(true)
}

describe('data errors: the row is refused, alone', () => {
  test('a bad cast in a row (22P02)', () => expectClass(() => sql`select ${'x'}::int`, '22P02', 'data'))
  test('a value too long for its column (22001)', () => expectClass(() => sql`insert into t values (1, 1, 'a', 'abcd')`, '22001', 'data'))
  test('a number out of range (22003)', () => expectClass(() => sql`select ${'99999999999'}::int`, '22003', 'data'))
  test('jsonb refusing \\u0000 (22P05)', () => expectClass(() => sql`select ${'{"a":"\\u0000"}'}::text::jsonb`, '22P05', 'data'))
  test('a check constraint (23514)', () => expectClass(() => sql`insert into t values (2, -1, 'a', null)`, '23514', 'data'))
  test('a not-null constraint (23502)', () => expectClass(() => sql`insert into t values (3, 1, null, null)`, '23502', 'data'))
  test('an index row too large (54000)', () =>
    // 12,800 hex characters: even compressed, far over a btree entry's ~2,700 bytes.
    expectClass(() => sql`insert into t select 4, 1, string_agg(md5(g::text), ''), null from generate_series(1, 400) g`, '54000', 'data'))
})

describe('not now: the write spills or is retried, never refused', () => {
  test('a unique violation (23505): ON CONFLICT absorbs the one on the event key; any other is not the row\'s fault', async () => {
    await sql`insert into t values (10, 1, 'a', null)`
    await expectClass(() => sql`insert into t values (10, 1, 'a', null)`, '23505', 'not_now')
  })

  test('a read-only transaction, as after a failover (25006)', () =>
    expectClass(() => sql.begin('read only', tx => tx`insert into t values (11, 1, 'a', null)`), '25006', 'not_now'))

  test('a database set default_transaction_read_only, as a failover tool does (25006)', async () => {
    await sql`create database ro`
    await sql`alter database ro set default_transaction_read_only = on`
    const url = new URL(cluster.url)
    url.pathname = '/ro'
    const ro = postgres(url.toString(), { max: 1, onnotice: () => {} })
    try {
      await expectClass(() => ro`create table x (a int)`, '25006', 'not_now')
    } finally {
      await ro.end({ timeout: 1 })
    }
  })

  test('a statement timeout (57014)', () =>
    expectClass(() => sql.begin(async tx => { await tx`set local statement_timeout = 50`; await tx`select pg_sleep(5)` }), '57014', 'not_now'))

  test('a statement cancelled by pg_cancel_backend (57014)', async () => {
    const victim = postgres(cluster.url, { max: 1, onnotice: () => {} })
    try {
      const [{ pid }] = await victim`select pg_backend_pid() as pid`
      const sleeping = victim`select pg_sleep(10)`.execute()
      // Handled from the start: the cancellation may land before expectClass awaits it
      // (an unhandled rejection in between failed this test now and then).
      sleeping.catch(() => {})
      await Bun.sleep(100)
      await sql`select pg_cancel_backend(${pid})`
      await expectClass(() => sleeping, '57014', 'not_now')
    } finally {
      await victim.end({ timeout: 1 })
    }
  })

  test('a lock timeout (55P03)', async () => {
    const holder = postgres(cluster.url, { max: 1, onnotice: () => {} })
    try {
      const held = holder.begin(async tx => { await tx`lock table t in access exclusive mode`; await tx`select pg_sleep(1)` })
      await Bun.sleep(100)
      await expectClass(() => sql.begin(async tx => { await tx`set local lock_timeout = 50`; await tx`insert into t values (12, 1, 'a', null)` }), '55P03', 'not_now')
      await held
    } finally {
      await holder.end({ timeout: 1 })
    }
  })

  test('too many connections (53300)', async () => {
    await sql`create role limited login connection limit 1`
    const url = new URL(cluster.url)
    url.username = 'limited'
    const one = postgres(url.toString(), { max: 1, onnotice: () => {} })
    const two = postgres(url.toString(), { max: 1, onnotice: () => {} })
    try {
      await one`select 1`
      await expectClass(() => two`select 1`, '53300', 'not_now')
    } finally {
      await Promise.all([one.end({ timeout: 1 }), two.end({ timeout: 1 })])
    }
  })

  test('an administrator terminating the session (57P01)', async () => {
    const victim = postgres(cluster.url, { max: 1, onnotice: () => {} })
    try {
      const [{ pid }] = await victim`select pg_backend_pid() as pid`
      const sleeping = victim`select pg_sleep(10)`.execute()
      // Handled from the start: the cancellation may land before expectClass awaits it
      // (an unhandled rejection in between failed this test now and then).
      sleeping.catch(() => {})
      await Bun.sleep(100)
      await sql`select pg_terminate_backend(${pid})`
      // Postgres sends FATAL 57P01 and closes; postgres.js reports whichever it reads first.
      const error = await failure(() => sleeping)
      expect(['57P01', 'CONNECTION_CLOSED']).toContain(errorCode(error))
      expect(classify(error)).toBe('not_now')
      expect(fromPostgres(error)).toBe(true)
    } finally {
      await victim.end({ timeout: 1 })
    }
  })

  test('a table that does not exist yet, as during a migration (42P01)', () =>
    expectClass(() => sql`insert into not_there values (1)`, '42P01', 'not_now'))

  test('a full disk (53100), on a 1 MiB tmpfs tablespace', async () => {
    if (process.getuid?.() !== 0) {
      console.log('skipped the disk-full case: mounting a tmpfs needs root')
      return
    }
    const dir = mkdtempSync(join(tmpdir(), 'inlet-full-'))
    const mount = Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir])
    expect(mount.exitCode).toBe(0)
    try {
      const pg = Bun.spawnSync(['id', '-u', 'postgres']).stdout.toString().trim()
      chownSync(dir, Number(pg), Number(pg))
      await sql.unsafe(`create tablespace small location '${dir}'`)
      await sql`create table big (s text) tablespace small`
      // Incompressible rows, so TOAST cannot shrink them below the tmpfs.
      await expectClass(() => sql`insert into big select md5(g::text) || repeat(md5((g * 3)::text), 20) from generate_series(1, 100000) g`, '53100', 'not_now')
      await sql`drop table big`
      await sql`drop tablespace small`
    } finally {
      Bun.spawnSync(['umount', dir])
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('Postgres gone: the connection refused (ECONNREFUSED)', async () => {
    const port = (() => { const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } }); const p = s.port; s.stop(true); return p })()
    const nobody = postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1, connect_timeout: 2, onnotice: () => {} })
    try {
      const error = await failure(() => nobody`select 1`)
      expect(errorCode(error)).toBe('ECONNREFUSED')
      expect(classify(error)).toBe('not_now')
      expect(fromPostgres(error)).toBe(true)
    } finally {
      await nobody.end({ timeout: 0 })
    }
  })

  test('an error with a code never seen before is not now, not a refusal', () => {
    const unknown = Object.assign(new Error('something new'), { code: 'ZZ999' })
    expect(classify(unknown)).toBe('not_now')
    expect(classify(new TypeError('from inside a driver'))).toBe('not_now')
  })
})

test('an AssertionError is a bug: it is never classified, it propagates', () => {
  expect(() => classify(new AssertionError('broken invariant'))).toThrow(AssertionError)
})
