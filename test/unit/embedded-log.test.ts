// The embedded Postgres's chatter: into its file and the log at debug, its
// warnings and errors at warn, and the previous run's file kept once.
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { levelOf, openServerLog } from '../../src/embedded/server-log'

const dir = mkdtempSync(join(tmpdir(), 'inlet-embedded-log-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('routine Postgres lines are debug; WARNING, ERROR, FATAL and PANIC are warn', () => {
  // A stop with a session still open ends it with a FATAL: routine, not a warning.
  expect(levelOf('2026-12-01 08:54:15.627 UTC [24137] FATAL:  terminating connection due to administrator command')).toBe('debug')
  expect(levelOf('2026-12-01 08:54:15.627 UTC [24137] FATAL:  the database system is shutting down')).toBe('debug')
  expect(levelOf('2026-12-01 08:40:18.651 UTC [16969] LOG:  database system is ready to accept connections')).toBe('debug')
  expect(levelOf('Success. You can now start the database server using:')).toBe('debug')
  for (const severity of ['WARNING', 'ERROR', 'FATAL', 'PANIC']) {
    expect(levelOf(`2026-12-01 08:40:18.651 UTC [16969] ${severity}:  something`)).toBe('warn')
  }
})

test('each line goes to the file and to the log, and a new start keeps the last run as .1', () => {
  const path = join(dir, 'postgres.log')
  writeFileSync(path, 'previous run\n')
  const logged: [string, string][] = []
  const serverLog = openServerLog(path, (level, msg) => logged.push([level, msg]))
  serverLog.line('LOG:  starting PostgreSQL 17.10')
  serverLog.line('FATAL:  lock file "postmaster.pid" already exists')
  serverLog.close()
  serverLog.line('after close: logged, not written')
  expect(readFileSync(path, 'utf8')).toBe('LOG:  starting PostgreSQL 17.10\nFATAL:  lock file "postmaster.pid" already exists\n')
  expect(readFileSync(`${path}.1`, 'utf8')).toBe('previous run\n')
  expect(logged).toEqual([
    ['debug', 'postgres: LOG:  starting PostgreSQL 17.10'],
    ['warn', 'postgres: FATAL:  lock file "postmaster.pid" already exists'],
    ['debug', 'postgres: after close: logged, not written'],
  ])
})
