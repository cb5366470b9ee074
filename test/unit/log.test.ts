// The two log formats: one JSON object per line for collectors, one readable line
// for a person, with the same level filter.
import { expect, test } from 'bun:test'
import { createLog } from '../../src/log'

function capture(format: 'json' | 'pretty') {
  const lines: string[] = []
  return { lines, log: createLog('info', format, line => lines.push(line)) }
}

test('json lines carry time, level, message and fields, one object per line', () => {
  const { lines, log } = capture('json')
  log('info', 'inlet listening', { url: 'http://0.0.0.0:3000' })
  expect(lines).toHaveLength(1)
  expect(lines[0]!.endsWith('\n')).toBe(true)
  const parsed = JSON.parse(lines[0]!)
  expect(parsed).toMatchObject({ level: 'info', msg: 'inlet listening', url: 'http://0.0.0.0:3000' })
  expect(new Date(parsed.time).toISOString()).toBe(parsed.time)
})

test('pretty lines read as clock, level, message, then key=value with spaces quoted', () => {
  const { lines, log } = capture('pretty')
  log('warn', 'postgres unreachable', { attempt: 3, error: 'connect ECONNREFUSED', host: 'db', skipped: undefined })
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d warn  postgres unreachable  attempt=3 error="connect ECONNREFUSED" host=db\n$/)
})

test('messages below the minimum level are dropped in both formats, at the minimum kept', () => {
  for (const format of ['json', 'pretty'] as const) {
    const { lines, log } = capture(format)
    log('debug', 'postgres: checkpoint starting')
    log('info', 'kept')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('kept')
  }
})
