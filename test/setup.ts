// Preloaded by every `bun test` process: creates this run's own database on the
// run's Postgres (test/support/test-postgres.ts: TEST_DATABASE_URL, the local one,
// or a throwaway cluster), migrates it, and drops it when the run ends, so runs
// never see each other's data. Test files read the URLs from INLET_TEST_*.

import { afterAll } from 'bun:test'
import postgres from 'postgres'
import { provideTestPostgres } from './support/test-postgres'

// `bun run test` has already found or started the Postgres and passes it in
// TEST_DATABASE_URL; a bare `bun test` with none at hand starts its own here.
const pg = await provideTestPostgres()
if (pg.provisioned) console.log(`postgres: ${pg.description}`)
const adminUrl = pg.adminUrl
const name = `inlet_test_${Date.now()}_${process.pid}`
const admin = postgres(adminUrl, { max: 1, idle_timeout: 1, connect_timeout: 10, onnotice: () => {} })
await admin.unsafe(`create database ${name}`)
const url = new URL(adminUrl)
url.pathname = `/${name}`
process.env.INLET_TEST_DATABASE_URL = url.toString()
process.env.INLET_TEST_ADMIN_URL = adminUrl

afterAll(async () => {
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end({ timeout: 5 })
  await pg.stop()
})

// When test/run.ts is killed (SIGKILL, a CI timeout), its throwaway Postgres goes
// with it; a run carrying on would only fail test after test. So this process
// ends too, and its own clusters' watchdogs clean up after it.
const RUNNER_POLL_MS = 1_000
const runner = Number(process.env.INLET_TEST_RUNNER_PID)
if (runner > 0) {
  setInterval(() => {
    try {
      process.kill(runner, 0)
    } catch {
      console.error(`test/run.ts (pid ${runner}) is gone; stopping this test process`)
      process.exit(1)
    }
  }, RUNNER_POLL_MS).unref()
}
