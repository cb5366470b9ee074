// INLET_PROCESSES, INLET_PROCESS_INDEX and DATABASE_READ_URL as start-up reads them.

import { expect, test } from 'bun:test'
import { loadConfig, PROCESSES_MAX } from '../../src/config'
import { shardBaseOf } from '../../src/store/sink'
import { childDataDir } from '../../src/supervisor'

const url = 'postgres://postgres@127.0.0.1:5432/inlet'

test('INLET_PROCESSES: 1 by default, a count, or auto (one per core, at most PROCESSES_MAX)', () => {
  expect(loadConfig({})).toMatchObject({ processes: 1, processIndex: null })
  expect(loadConfig({ DATABASE_URL: url, INLET_PROCESSES: '3' })).toMatchObject({ processes: 3, processIndex: null })
  expect(loadConfig({ DATABASE_URL: url, INLET_PROCESSES: '3', INLET_PROCESS_INDEX: '2' })).toMatchObject({ processes: 3, processIndex: 2 })
  const auto = loadConfig({ DATABASE_URL: url, INLET_PROCESSES: 'auto' }).processes
  expect(auto).toBe(Math.min(PROCESSES_MAX, navigator.hardwareConcurrency))
})

test('INLET_PROCESSES refuses what cannot work, naming the variable', () => {
  expect(() => loadConfig({ INLET_PROCESSES: '2' })).toThrow('INLET_PROCESSES > 1 needs DATABASE_URL')
  expect(() => loadConfig({ DATABASE_URL: url, INLET_PROCESSES: '2', PORT: '0' })).toThrow('needs a fixed PORT')
  expect(() => loadConfig({ DATABASE_URL: url, INLET_PROCESSES: String(PROCESSES_MAX + 1) })).toThrow('INLET_PROCESSES')
  expect(() => loadConfig({ DATABASE_URL: url, INLET_PROCESSES: 'many' })).toThrow('INLET_PROCESSES')
  expect(() => loadConfig({ DATABASE_URL: url, INLET_PROCESSES: '2', INLET_PROCESS_INDEX: '2' })).toThrow('INLET_PROCESS_INDEX')
})

test('DATABASE_READ_URL must be a postgres URL beside a DATABASE_URL', () => {
  expect(loadConfig({ DATABASE_URL: url, DATABASE_READ_URL: url }).databaseReadUrl).toBe(url)
  expect(() => loadConfig({ DATABASE_URL: url, DATABASE_READ_URL: 'mysql://x' })).toThrow('DATABASE_READ_URL is invalid')
  expect(() => loadConfig({ DATABASE_READ_URL: url })).toThrow('DATABASE_READ_URL needs DATABASE_URL')
})

test('each process has its own data dir and its own rollup shards, and the last fits a smallint', () => {
  expect(childDataDir('/d', null)).toBe('/d')
  expect(childDataDir('/d', 0)).toBe('/d')
  expect(childDataDir('/d', 3)).toBe('/d/process-3')
  const pool = loadConfig({}).limits.PG_POOL_MAX
  expect(shardBaseOf(1, pool)).toBe(pool + 1)
  // The last process's last shard, with the largest pool.
  expect(shardBaseOf(PROCESSES_MAX - 1, 200) + 200).toBeLessThan(32_768)
})
