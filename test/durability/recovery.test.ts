// Duplicate verdicts across the spill and Postgres, poison rows in the flusher and
// the drainer, and start-up with a spill left behind (intact or corrupt). In-process
// Inlet, real Postgres behind the fault proxy, real SQLite spill files.

import { Database } from 'bun:sqlite'
import { afterEach, describe, expect, test } from 'bun:test'
import { readdirSync, writeFileSync } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EventRow } from '../../src/ingest/validate'
import type { Spill } from '../../src/pipeline/spill'
import { type Degradable, event, startDegradable, storedCheck, until } from './support'

let d: Degradable | undefined
afterEach(async () => {
  await d?.stop()
  d = undefined
})

const row = (projectId: number, id: string, properties = '{"ok":true}'): EventRow => ({
  projectId, id, type: 'track', name: 'Raw', timestampMs: Date.UTC(2026, 10, 22, 10), receivedAtMs: Date.now(),
  userId: null, anonymousId: null, sessionId: null, properties, context: '{}', bytes: 64,
})
// JSON text that Postgres's jsonb refuses (it has no NUL in text): the validator
// never lets this through, so these rows are built by hand to reach the sink.
const POISON = '{"bad":"\\u0000"}'

const spillOf = (dd: Degradable) => dd.inlet.deps.spill as Spill
const drained = (dd: Degradable) => until('the spill to drain', () => dd.inlet.deps.health.postgresUp() && spillOf(dd).pending === 0)

describe('duplicate verdicts', () => {
  test('an id waiting in the spill is a duplicate, within one batch, on a retry, and on the Postgres path before it drains', async () => {
    // A slow idle tick, so the drainer leaves a hand-spilled row alone for a while.
    d = await startDegradable({ PG_PROBE_INTERVAL_MS: '2000' })
    const p = await d.project()
    await d.request('POST', '/v1/events', { key: p.api_key, body: event('warm') })

    d.proxy.blackhole(true)
    const batch = await d.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: [event('s1'), event('s1'), event('s2')] } })
    expect(batch.status).toBe(200)
    expect(batch.body.results.map((r: any) => r.status)).toEqual(['accepted', 'duplicate', 'accepted'])
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: event('s2') })).body).toEqual({ id: 's2', status: 'duplicate' })
    d.proxy.blackhole(false)
    await drained(d)

    // Postgres up, the spill nearly empty: live rows go to Postgres, and one whose id
    // still waits in the spill is answered duplicate instead of being stored again.
    spillOf(d).write([row(p.id, 'held')])
    const live = await d.request('POST', '/v1/events', { key: p.api_key, body: event('held') })
    expect(live.body).toEqual({ id: 'held', status: 'duplicate' })
    expect(spillOf(d).pending).toBe(1)
    await drained(d)
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: event('held') })).body.status).toBe('duplicate')
    const check = await storedCheck(d.direct, p.id, ['warm', 's1', 's2', 'held'])
    expect(check).toMatchObject({ missing: 0, stored: 4, rollup: 4 })
    const [stored] = await d.direct`select name from events where project_id = ${p.id} and id = 'held'`
    expect(stored.name).toBe('Raw') // the first acknowledged copy is the one kept
  }, 30_000)

  test('an id already in Postgres that arrives while writes go to the spill is answered accepted, and is still stored once', async () => {
    d = await startDegradable()
    const p = await d.project()
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: event('twice', { name: 'First' }) })).body.status).toBe('accepted')
    d.proxy.blackhole(true)
    // Documented: the spill cannot see Postgres, so this retry is acknowledged again.
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: event('twice', { name: 'Second' }) })).body.status).toBe('accepted')
    d.proxy.blackhole(false)
    await drained(d)
    const check = await storedCheck(d.direct, p.id, ['twice'])
    expect(check).toMatchObject({ missing: 0, stored: 1, rollup: 1 })
    const [stored] = await d.direct`select name from events where project_id = ${p.id} and id = 'twice'`
    expect(stored.name).toBe('First')
  }, 30_000)
})

describe('backlog', () => {
  test('with Postgres up and a backlog over one drain batch, live events queue in the spill behind it; a full spill sends them to Postgres instead of refusing them', async () => {
    // Threshold of 2 rows; a slow idle tick, so hand-spilled rows wait until notified.
    d = await startDegradable({ DRAIN_BATCH_ROWS_MAX: '2', PG_PROBE_INTERVAL_MS: '4000', SPILL_BYTES_MAX: String(64 * 1024) })
    const p = await d.project()
    await d.request('POST', '/v1/events', { key: p.api_key, body: event('warm') })
    const spill = spillOf(d)
    const written = () => d!.inlet.deps.metrics.spillWrites.get()
    spill.write([row(p.id, 'b0'), row(p.id, 'b1'), row(p.id, 'b2')])
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: event('queued') })).body.status).toBe('accepted')
    expect(written()).toBe(1)
    await drained(d)

    const filled: string[] = []
    const big = JSON.stringify({ blob: 'x'.repeat(2_000) })
    expect(() => { for (;;) { spill.write([row(p.id, `f${filled.length}`, big)]); filled.push(`f${filled.length}`) } }).toThrow('spill is full')
    expect(spill.writable).toBe(false)
    // Bigger than what no longer fitted, so it cannot squeeze into a half-free page.
    const overflow = event('overflow', { properties: { blob: 'x'.repeat(5_000) } })
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: overflow })).body.status).toBe('accepted')
    expect(written()).toBe(1)
    const [{ n }] = await d.direct`select count(*)::int as n from events where project_id = ${p.id} and id = 'overflow'`
    expect(n).toBe(1)
    await drained(d)
    const all = ['warm', 'b0', 'b1', 'b2', 'queued', 'overflow', ...filled]
    expect(await storedCheck(d.direct, p.id, all)).toMatchObject({ missing: 0, stored: all.length, rollup: all.length })
  }, 30_000)
})

describe('poison events', () => {
  test('an event with a NUL character is rejected with 422 at validation and the events around it are stored', async () => {
    d = await startDegradable()
    const p = await d.project()
    const one = await d.request('POST', '/v1/events', { key: p.api_key, body: event('nul', { properties: { s: 'a\u0000b' } }) })
    expect(one.status).toBe(422)
    expect(one.body.error.code).toBe('validation_failed')
    const batch = await d.request('POST', '/v1/events/batch', {
      key: p.api_key, body: { events: [event('before'), event('nul2', { properties: { s: '\u0000' } }), event('after')] },
    })
    expect(batch.status).toBe(200)
    expect(batch.body).toMatchObject({ accepted: 2, rejected: 1 })
    expect(await storedCheck(d.direct, p.id, ['before', 'after'])).toMatchObject({ missing: 0, stored: 2, rollup: 2 })
  })

  test('a row Postgres refuses fails only its own request; the rows flushed with it are stored and the flusher keeps going', async () => {
    d = await startDegradable()
    const p = await d.project()
    const pipeline = d.inlet.deps.pipeline
    // Submitted in one tick, so they share one flush (one transaction, savepoints inside).
    const outcomes = await Promise.all([
      pipeline.submit([row(p.id, 'good-1')]), pipeline.submit([row(p.id, 'poison', POISON)]), pipeline.submit([row(p.id, 'good-2')]),
    ])
    expect(outcomes[0]).toEqual(['accepted'])
    expect(outcomes[2]).toEqual(['accepted'])
    expect(outcomes[1]).toEqual([{ refused: true, sqlstate: '22P05', message: expect.stringContaining('unsupported Unicode escape sequence') }])
    expect(d.inlet.deps.health.postgresUp()).toBe(true)
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: event('later') })).body.status).toBe('accepted')
    expect(await storedCheck(d.direct, p.id, ['good-1', 'good-2', 'later'])).toMatchObject({ missing: 0, stored: 3, rollup: 3 })
  })

  test('a spilled row Postgres refuses moves to the dead-letter table in the drain\'s own transaction, and the rows behind it drain', async () => {
    d = await startDegradable({ DRAIN_BATCH_ROWS_MAX: '8' })
    const p = await d.project()
    d.proxy.blackhole(true)
    const ids = Array.from({ length: 20 }, (_, i) => `q${i}`)
    const rows = ids.map(id => row(p.id, id, id === 'q5' ? POISON : '{}'))
    // Black-holed: the batch waits out FLUSH_COMMIT_MS_MAX, then lands in the spill, acked.
    expect(await d.inlet.deps.pipeline.submit(rows)).toEqual(ids.map(() => 'accepted'))
    expect(spillOf(d).pending).toBe(20)
    d.proxy.blackhole(false)
    await drained(d)
    expect(d.inlet.deps.metrics.deadLettered.get()).toBe(1)
    const held = await d.direct`select id, sqlstate, acked_status, acked_via, spilled_at, properties from dead_letter where project_id = ${p.id}`
    expect(held).toHaveLength(1)
    expect(held[0]).toMatchObject({ id: 'q5', sqlstate: '22P05', acked_status: 'accepted', acked_via: 'spill', properties: POISON })
    expect(held[0].spilled_at).toBeInstanceOf(Date)
    const good = ids.filter(id => id !== 'q5')
    expect(await storedCheck(d.direct, p.id, good)).toMatchObject({ missing: 0, stored: 19, rollup: 19 })
  }, 30_000)
})

describe('start-up', () => {
  test('a spill left by an earlier instance is drained into Postgres by the next one, exactly once', async () => {
    d = await startDegradable()
    const p = await d.project()
    await d.request('POST', '/v1/events', { key: p.api_key, body: event('warm') })
    d.proxy.blackhole(true)
    const ids = Array.from({ length: 300 }, (_, i) => `left-${i}`)
    const r = await d.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: ids.map(id => event(id)) } })
    expect(r.body.accepted).toBe(300)
    // A closed instance with Postgres away leaves its spill behind (graceful shutdown).
    await d.restart({ PG_PROBE_INTERVAL_MS: '100' })
    expect(spillOf(d).pending).toBe(300)
    d.proxy.blackhole(false)
    await drained(d)
    expect(await storedCheck(d.direct, p.id, ['warm', ...ids])).toMatchObject({ missing: 0, stored: 301, rollup: 301 })
  }, 30_000)

  test('a spill file that fails its integrity check is moved aside and a fresh spill serves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inlet-spill-corrupt-'))
    try {
      writeFileSync(join(dir, 'spill.sqlite'), 'this is not a SQLite database, it is a corrupted spill'.repeat(100))
      d = await startDegradable({}, dir)
      expect(readdirSync(dir).some(f => f.startsWith('spill.sqlite.corrupt-'))).toBe(true)
      const p = await d.project()
      await d.request('POST', '/v1/events', { key: p.api_key, body: event('warm') })
      d.proxy.blackhole(true)
      const r = await d.request('POST', '/v1/events', { key: p.api_key, body: event('fresh') })
      expect(r.body).toEqual({ id: 'fresh', status: 'accepted' })
      expect(spillOf(d).pending).toBe(1)
      d.proxy.blackhole(false)
      await drained(d)
      expect(await storedCheck(d.direct, p.id, ['warm', 'fresh'])).toMatchObject({ missing: 0, stored: 2, rollup: 2 })
    } finally {
      await d?.stop()
      d = undefined
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)

  test('SPILL_SYNCHRONOUS=NORMAL is applied to the spill file, FULL is the default', async () => {
    for (const [env, expected] of [[{}, 2], [{ SPILL_SYNCHRONOUS: 'NORMAL' }, 1]] as const) {
      d = await startDegradable(env)
      const db = (spillOf(d) as unknown as { db: Database }).db
      expect((db.query('pragma synchronous').get() as { synchronous: number }).synchronous).toBe(expected)
      expect((db.query('pragma journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal')
      await d.stop()
      d = undefined
    }
  })
})
