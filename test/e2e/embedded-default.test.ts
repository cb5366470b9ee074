// The embedded default: `bun run start` with no DATABASE_URL comes up on its own
// Postgres, prints an admin token and a demo key, keeps Postgres's own output in
// data/postgres.log, ingests and reads back.

import { afterAll, expect, test } from 'bun:test'
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { type ServerProcess, startServer } from '../support/server'

// Every directory above the embedded cluster must be enterable by the postgres user.
const dataDir = `/tmp/inlet-embedded-e2e-${process.pid}`
let server: ServerProcess | undefined
afterAll(async () => {
  await server?.kill('SIGTERM')
  rmSync(dataDir, { recursive: true, force: true })
})

test('bun run start with no DATABASE_URL ingests and reads back an event', async () => {
  mkdirSync(dataDir, { recursive: true })
  chmodSync(dataDir, 0o755)
  server = await startServer({ INLET_DATA_DIR: dataDir, LOG_LEVEL: 'info', DATABASE_URL: undefined }, 90_000, ['bun', 'run', 'start'])
  const key = readFileSync(`${dataDir}/demo-api-key`, 'utf8').trim()
  expect(server.output()).toContain(key)
  expect(server.output()).toContain('embedded Postgres')
  // initdb's and Postgres's own lines are kept in a file, out of the info log.
  expect(server.output()).not.toContain('"level":"info","msg":"postgres: ')
  expect(readFileSync(`${dataDir}/postgres.log`, 'utf8')).toContain('database system is ready to accept connections')
  const headers = { authorization: `Bearer ${key}` }
  const posted = await fetch(`${server.url}/v1/events`, { method: 'POST', headers, body: JSON.stringify({ id: 'hello', name: 'FirstEvent' }) })
  expect(await posted.json()).toEqual({ id: 'hello', status: 'accepted' })
  const read = await (await fetch(`${server.url}/v1/events/hello`, { headers })).json()
  expect(read).toMatchObject({ id: 'hello', name: 'FirstEvent' })
  const ready = (await (await fetch(`${server.url}/ready`)).json()) as { postgres: string }
  expect(ready.postgres).toBe('up')
  expect(await server.kill('SIGTERM')).toBe(0)
  server = undefined
}, 120_000)
