// The two log formats: one JSON object per line for collectors, one readable line
// for a person, with the same level filter. And repeated failures fold into one
// line per second with their count, so a flood of refused writes while Postgres is
// away is a few log lines, not one per request.
import { expect, test } from 'bun:test'
import { createLog, foldRepeats } from '../../src/log'

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

test('the first of a kind is written at once, the rest of its second as one line with the count', () => {
  const lines: Record<string, unknown>[] = []
  let now = 0
  const folded = foldRepeats(createLog('debug', 'json', l => lines.push(JSON.parse(l))), () => now)
  for (let i = 0; i < 6_000; i++) folded.repeated('warn', 'the spill is full', { code: 'SQLITE_FULL' })
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatchObject({ msg: 'the spill is full', code: 'SQLITE_FULL' })
  expect(lines[0].repeated).toBeUndefined()
  now = 1_000 // the window has passed: the next one reports the 5,999 it stood for, then itself
  folded.repeated('warn', 'the spill is full', { code: 'SQLITE_FULL' })
  expect(lines).toHaveLength(3)
  expect(lines[1]).toMatchObject({ msg: 'the spill is full', repeated: 5_999, window_ms: 1_000 })
  expect(lines[2].repeated).toBeUndefined()
  folded.stop()
})

test('different codes of one message are different kinds, each written', () => {
  const lines: Record<string, unknown>[] = []
  const folded = foldRepeats(createLog('debug', 'json', l => lines.push(JSON.parse(l))), () => 0)
  folded.repeated('warn', 'request failed', { code: '57014' })
  folded.repeated('warn', 'request failed', { code: '25006' })
  folded.repeated('warn', 'request failed', { code: '57014' })
  expect(lines.map(l => l.code)).toEqual(['57014', '25006'])
  folded.stop()
})

test('a count left at the end of a quiet window is still written, by the timer', async () => {
  const lines: Record<string, unknown>[] = []
  let now = 0
  const folded = foldRepeats(createLog('debug', 'json', l => lines.push(JSON.parse(l))), () => now)
  folded.repeated('error', 'the drainer failed; retrying', { code: 'SQLITE_FULL' })
  folded.repeated('error', 'the drainer failed; retrying', { code: 'SQLITE_FULL' })
  now = 5_000
  await Bun.sleep(1_100) // the interval timer runs once a second
  expect(lines).toHaveLength(2)
  expect(lines[1]).toMatchObject({ repeated: 1 })
  folded.stop()
})
