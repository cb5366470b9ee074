// The day index (src/store/day-index.ts) that funnels and retention read from
// memory stays exact while events keep arriving: through this process's commits
// (appended, not read again), late events into days it holds, users per minute, another process
// writing to the same database, concurrent ingest, and a bound small enough that
// it evicts on every report; and a partition move racing a report's snapshot. Each
// report is compared with brute force over exactly the events stored at that moment.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { EventRow } from '../../src/event'
import { consistently, DayIndex, Raced } from '../../src/store/day-index'
import { ensurePartition } from '../../src/store/partitions'
import { bounded, withViews } from '../../src/store/reports'
import { insertEvents } from '../../src/store/write'
import { startInlet, type TestInlet } from '../support/inlet'
import { bruteCounts, bruteFunnel, bruteRetention, generate, prng, type Ev } from './brute'

const DAY = 86_400_000
const today = Math.floor(Date.now() / DAY) * DAY
// Ten days ending today, so that today (the day commits land in) is in every range.
const START = today - 9 * DAY
const iso = (ms: number) => new Date(ms).toISOString()

let inlet: TestInlet
let project: { id: number; api_key: string }
let stored: Ev[] = []

const FUNNEL = `steps=PageView,AddToCart,Purchase&within=3600&from=${iso(START)}&to=${iso(today + DAY)}`
const RETENTION = (ret: string) => `cohort_event=Signup&return_event=${ret}&interval=day&periods=5&from=${iso(START)}&to=${iso(today + DAY)}`

async function post(target: TestInlet, list: Ev[]) {
  for (let i = 0; i < list.length; i += 500) {
    const r = await target.request('POST', '/v1/events/batch', {
      key: project.api_key,
      body: { events: list.slice(i, i + 500).map(e => ({ id: e.id, name: e.name, user_id: e.user_id, anonymous_id: e.anonymous_id, timestamp: iso(e.t) })) },
    })
    expect(r.status).toBe(200)
  }
  stored = stored.concat(list)
}

async function expectExact(target = inlet) {
  const get = async (path: string) => {
    const r = await target.request('GET', path, { key: project.api_key })
    expect(r.status).toBe(200)
    return r.body
  }
  expect((await get(`/v1/reports/funnel?${FUNNEL}`)).steps)
    .toEqual(bruteFunnel(stored, START, today + DAY, ['PageView', 'AddToCart', 'Purchase'], 3600))
  for (const ret of ['any', 'PageView']) {
    expect((await get(`/v1/reports/retention?${RETENTION(ret)}`)).cohorts)
      .toEqual(bruteRetention(stored, START, today + DAY, 'day', 5, 'Signup', ret === 'any' ? null : ret))
  }
  // Users per minute over the last day (yesterday and today), of one name and of any.
  const from = today - DAY / 2, to = today + DAY / 2
  for (const name of [undefined, 'PageView']) {
    expect((await get(`/v1/reports/counts?interval=minute&from=${iso(from)}&to=${iso(to)}${name ? `&name=${name}` : ''}`)).series)
      .toEqual(bruteCounts(stored, from, to, 'minute', name))
  }
}

// Events of the generator, with timestamps moved into [START, now) (the ingest
// API refuses far-future times) and ids made unique by `prefix`.
function batch(seed: number, prefix: string, users: number, fromMs = START): Ev[] {
  return generate(seed, prefix, fromMs, Math.max(1, Math.floor((Date.now() - fromMs) / DAY)), users)
    .filter(e => e.t < Date.now() - 1000)
}

beforeAll(async () => {
  inlet = await startInlet({ REPORT_CACHE_ENTRIES_MAX: '0' })
  project = await inlet.project()
  await post(inlet, batch(31, 'a', 400))
})
afterAll(() => inlet.stop())

test('a commit of this process is appended to the days it holds, not read again, and reports stay exact', async () => {
  const stats = inlet.deps.reports.index.stats
  await expectExact()
  const loaded = stats.loaded, kept = stats.kept
  expect(loaded).toBeGreaterThan(20)
  // Nothing new: every day is served from memory.
  await expectExact()
  expect(stats.loaded).toBe(loaded)
  expect(stats.kept - kept).toBeGreaterThan(50)
  // New users and old users coming back, today and on earlier days (late events).
  const appendedBefore = stats.appended
  await post(inlet, batch(32, 'b', 300))
  await post(inlet, batch(33, 'c', 50, today - 2 * DAY))
  await expectExact()
  expect(stats.appended - appendedBefore).toBeGreaterThan(500)
  expect(stats.loaded).toBe(loaded)
  // An operator sees the same on /metrics.
  const metrics = await (await inlet.app.handle(new Request('http://inlet/metrics'))).text()
  expect(metrics).toContain(`inlet_report_index_days_total{from="postgres"} ${loaded}\n`)
  expect(metrics).toContain(`inlet_report_index_days_total{from="memory"} ${stats.kept}\n`)
  expect(Number(/inlet_report_index_bytes (\d+)/.exec(metrics)![1])).toBeGreaterThan(10_000)
})

test('events written by another process are read again, and reports stay exact', async () => {
  const other = await startInlet({ REPORT_CACHE_ENTRIES_MAX: '0' })
  try {
    const stats = inlet.deps.reports.index.stats
    const loaded = stats.loaded
    await post(other, batch(34, 'd', 100, today - 3 * DAY))
    await expectExact()
    expect(stats.loaded).toBeGreaterThan(loaded)
    // And the other process, which held nothing, agrees.
    await expectExact(other)
  } finally { await other.stop() }
})

test('reports read while events are being committed are exact once ingest stops', async () => {
  const r = prng(35)
  const writes = (async () => {
    for (let i = 0; i < 12; i++) await post(inlet, batch(100 + i, `e${i}`, 20 + Math.floor(r() * 40), today - Math.floor(r() * 4) * DAY))
  })()
  const reads = (async () => {
    for (let i = 0; i < 12; i++) {
      const f = await inlet.request('GET', `/v1/reports/funnel?${FUNNEL}`, { key: project.api_key })
      expect(f.status).toBe(200)
    }
  })()
  await Promise.all([writes, reads])
  // Days loaded while commits landed got those commits too (REPORT_INDEX_RECENT_ROWS_MAX):
  // now that every commit has been told, nothing needs reading again.
  const loaded = inlet.deps.reports.index.stats.loaded
  await expectExact()
  expect(inlet.deps.reports.index.stats.loaded).toBe(loaded)
})

test('under a bound smaller than one report, days are evicted after each and reports stay exact', async () => {
  const small = await startInlet({ REPORT_CACHE_ENTRIES_MAX: '0', REPORT_INDEX_BYTES_MAX: '1048576' })
  try {
    const index = small.deps.reports.index
    await post(small, batch(36, 'f', 12_000, today - 2 * DAY))
    await expectExact(small)
    const loaded = index.stats.loaded
    expect(loaded).toBeGreaterThan(0)
    expect(index.sizeBytes).toBeLessThanOrEqual(1_048_576)
    // Nothing changed, yet days are read again: they did not all fit.
    await expectExact(small)
    expect(index.stats.loaded).toBeGreaterThan(loaded)
    expect(index.sizeBytes).toBeLessThanOrEqual(1_048_576)
    // Reports at once, each evicting (and dropping the project) under the others' feet.
    await Promise.all([expectExact(small), expectExact(small), expectExact(small)])
    expect(index.sizeBytes).toBeLessThanOrEqual(1_048_576)
    expect(index.sizeBytes).toBeGreaterThanOrEqual(0)
  } finally { await small.stop() }
})

test('a partition made for a day while a report reads it: the report starts again in a new snapshot, and keeps nothing wrong', async () => {
  const own = await inlet.project()
  // A day long past has no partition: its rows wait in events_default.
  const day = Date.UTC(2021, 2, 3)
  const rows = Array.from({ length: 50 }, (_, i) => ({
    projectId: own.id, id: `moved-${i}`, type: 'track' as const, name: 'Moved', timestampMs: day + i * 60_000, receivedAtMs: Date.now(),
    userId: `mu${i % 20}`, anonymousId: null, sessionId: null, properties: '{}', context: '{}', bytes: 100,
  }))
  await insertEvents(inlet.sql, rows)
  const index = new DayIndex(64 * 1_048_576, 0)
  const want = [{ name: 'Moved', fromDay: day / DAY, toDay: day / DAY + 1 }]
  const limits = { timeoutMs: 10_000, workMemKb: 4096, parallelWorkers: 0 }
  let raced: unknown = null
  const [{ waiting }] = await inlet.sql`select count(*)::int as waiting from events_default where project_id = ${own.id}`
  expect(waiting).toBe(50)
  await bounded(inlet.sql, limits, 'test', async tx => {
    // The snapshot is taken (bounded's first statement); now the day's partition is
    // made and its rows moved in, committed after it.
    expect(await ensurePartition(inlet.sql, 'events', day, 5_000)).toBe(true)
    raced = await index.views(tx, own.id, want).then(() => null, (error: unknown) => error)
  }, 'custom', 'transaction')
  expect(raced).toBeInstanceOf(Raced)
  // Started again, the report sees every row.
  const views = await consistently(() => bounded(inlet.sql, limits, 'test', tx => index.views(tx, own.id, want), 'custom', 'transaction'))
  expect(views.days('Moved').views[0].users.length).toBe(20)
  expect(views.days('Moved').views[0].times.length).toBe(50)
})

test('reports computed at once (they share per-user arrays, one at a time) each equal brute force', async () => {
  const asks: [string, unknown][] = []
  for (const [steps, within] of [['PageView,AddToCart,Purchase', 3600], ['Signup,PageView', 86_400], ['AddToCart,Purchase', 600]] as const) {
    const path = `/v1/reports/funnel?steps=${steps}&within=${within}&from=${iso(START)}&to=${iso(today + DAY)}`
    asks.push([path, { steps: bruteFunnel(stored, START, today + DAY, steps.split(','), within) }])
  }
  for (const ret of ['any', 'Purchase', 'PageView']) {
    asks.push([`/v1/reports/retention?${RETENTION(ret)}`, { cohorts: bruteRetention(stored, START, today + DAY, 'day', 5, 'Signup', ret === 'any' ? null : ret) }])
  }
  const answers = await Promise.all(asks.concat(asks).map(([path]) => inlet.request('GET', path, { key: project.api_key })))
  answers.forEach((r, i) => {
    expect(r.status).toBe(200)
    expect(r.body).toEqual(asks[i % asks.length][1])
  })
})

describe('the two settings that spare a day a second read, on both sides', () => {
  const limits = { timeoutMs: 10_000, workMemKb: 4096, parallelWorkers: 0 }
  const todayDay = today / DAY
  const rowsOf = (projectId: number, name: string, prefix: string, n: number): EventRow[] => Array.from({ length: n }, (_, i) => ({
    projectId, id: `${prefix}-${i}`, type: 'track', name, timestampMs: today + 60_000 + i, receivedAtMs: Date.now(),
    userId: `${prefix}-u${i % 3}`, anonymousId: null, sessionId: null, properties: '{}', context: '{}', bytes: 100,
  }))
  const read = (index: DayIndex, projectId: number, name: string) =>
    withViews(inlet.sql, limits, 'test', (tx, lastTry) => index.views(tx, projectId, [{ name, fromDay: todayDay, toDay: todayDay + 1 }], lastTry))

  for (const [waitMs, reads] of [[250, 0], [0, 1]] as const) {
    test(`REPORT_INDEX_COMMIT_WAIT_MS ${waitMs}: a day one commit short while a write is unanswered is ${reads ? 'read again' : 'completed by the write, once told'}`, async () => {
      const own = await inlet.project()
      await insertEvents(inlet.sql, rowsOf(own.id, 'Waited', 'w0', 10))
      const index = new DayIndex(64 * 1_048_576, 0, 16_384, waitMs)
      await read(index, own.id, 'Waited')
      const loaded = index.stats.loaded
      // A write commits, and its answer is held back: the index is told later.
      let told: { xid: number; rows: readonly EventRow[] } | undefined
      await insertEvents(inlet.sql, rowsOf(own.id, 'Waited', 'w1', 5), { committed: { writing: () => {}, committed: (xid, rows) => { told = { xid, rows } } } })
      let answer!: () => void
      index.writing(new Promise<void>(resolve => { answer = resolve }))
      const tell = () => { index.committed(told!.xid, told!.rows); answer() }
      // Waiting, the index is told while it waits; not waiting, only after the read
      // (told on a timer, a read slower than it would find the day complete).
      if (waitMs > 0) setTimeout(tell, 50)
      const views = await read(index, own.id, 'Waited')
      const [seen, reloads] = [views.days('Waited').views[0].times.length, index.stats.loaded - loaded]
      if (waitMs === 0) tell()
      expect(seen).toBe(15)
      expect(reloads).toBe(reads)
    })
  }

  for (const [recent, reads] of [[16_384, 0], [0, 1]] as const) {
    test(`REPORT_INDEX_RECENT_ROWS_MAX ${recent}: commits told while a day loads in an older snapshot are ${reads ? 'missing, so it is read again' : 'replayed into it'}`, async () => {
      const own = await inlet.project()
      await insertEvents(inlet.sql, rowsOf(own.id, 'Replayed', 'r0', 10))
      const index = new DayIndex(64 * 1_048_576, 0, recent, 250)
      // The index knows the project (a day of another name, empty, is held).
      await read(index, own.id, 'Other')
      await bounded(inlet.sql, limits, 'test', async tx => {
        // The snapshot is taken; 5 rows commit and are told; then the day loads in it.
        await insertEvents(inlet.sql, rowsOf(own.id, 'Replayed', 'r1', 5), { committed: index })
        const old = await index.views(tx, own.id, [{ name: 'Replayed', fromDay: todayDay, toDay: todayDay + 1 }])
        expect(old.days('Replayed').views[0].times.length).toBe(10)
      }, 'custom', 'transaction')
      const loaded = index.stats.loaded
      const views = await read(index, own.id, 'Replayed')
      expect(views.days('Replayed').views[0].times.length).toBe(15)
      expect(index.stats.loaded - loaded).toBe(reads)
    })
  }
})
