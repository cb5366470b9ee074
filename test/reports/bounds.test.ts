// Report bounds on both sides (range, buckets, steps, periods), the statement
// timeout (a 503, never a hung request), and the per-project result cache.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startInlet, type TestInlet } from '../support/inlet'
import type { Sql } from '../../src/store/db'
import { bounded } from '../../src/store/reports'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 2) // a Monday
const iso = (ms: number) => new Date(ms).toISOString()

let inlet: TestInlet
let p: { id: number; api_key: string }
const get = (path: string, key = p.api_key) => inlet.request('GET', path, { key })

beforeAll(async () => {
  inlet = await startInlet({
    REPORT_RANGE_DAYS_MAX: '3', REPORT_BUCKETS_MAX: '100', REPORT_STEPS_MAX: '3', REPORT_PERIODS_MAX: '4',
    REPORT_CACHE_TTL_MS: '600000',
  })
  p = await inlet.project()
})
afterAll(() => inlet.stop())

function expect422(r: { status: number; body: any }, path: string, bound: string) {
  expect(r.status).toBe(422)
  expect(r.body.error.code).toBe('validation_failed')
  expect(r.body.error.details[0].path).toBe(path)
  expect(r.body.error.message).toContain(bound)
}

describe('bounds', () => {
  test('a range of exactly REPORT_RANGE_DAYS_MAX days is answered', async () => {
    const r = await get(`/v1/reports/counts?interval=day&from=${iso(T0)}&to=${iso(T0 + 3 * DAY)}`)
    expect(r.status).toBe(200)
    expect(r.body.series.length).toBe(3)
  })

  test('a range one millisecond over REPORT_RANGE_DAYS_MAX gets a 422 that names the bound, on every report', async () => {
    const range = `from=${iso(T0)}&to=${iso(T0 + 3 * DAY + 1)}`
    expect422(await get(`/v1/reports/counts?interval=day&${range}`), '/from', 'REPORT_RANGE_DAYS_MAX')
    expect422(await get(`/v1/reports/funnel?steps=A,B&${range}`), '/from', 'REPORT_RANGE_DAYS_MAX')
    expect422(await get(`/v1/reports/retention?cohort_event=A&${range}`), '/from', 'REPORT_RANGE_DAYS_MAX')
  })

  test('exactly REPORT_BUCKETS_MAX buckets are answered, one more gets a 422 that names the bound', async () => {
    const ok = await get(`/v1/reports/counts?interval=minute&from=${iso(T0)}&to=${iso(T0 + 100 * 60_000)}`)
    expect(ok.status).toBe(200)
    expect(ok.body.series.length).toBe(100)
    // 100 minutes and one millisecond cover 101 whole minutes.
    expect422(await get(`/v1/reports/counts?interval=minute&from=${iso(T0)}&to=${iso(T0 + 100 * 60_000 + 1)}`), '/interval', 'REPORT_BUCKETS_MAX')
  })

  test('a defaulted range is shortened to REPORT_BUCKETS_MAX buckets instead of failing', async () => {
    const r = await get('/v1/reports/counts?interval=minute')
    expect(r.status).toBe(200)
    expect(r.body.series.length).toBe(100)
  })

  test('the default range is the last 7 days, within REPORT_RANGE_DAYS_MAX or not', async () => {
    const wide = await startInlet({ REPORT_CACHE_ENTRIES_MAX: '0' })
    try {
      const r = await wide.request('GET', '/v1/reports/counts?interval=day', { key: (await wide.project()).api_key })
      expect(r.status).toBe(200)
      expect(r.body.series.length).toBe(7)
      expect(Date.parse(r.body.series[6].bucket)).toBe(Math.floor(Date.now() / DAY) * DAY)
    } finally { await wide.stop() }
    expect422(await get('/v1/reports/funnel?steps=A,B'), '/from', 'REPORT_RANGE_DAYS_MAX')
  })

  test('REPORT_STEPS_MAX steps are answered, one more gets a 422 that names the bound', async () => {
    expect((await get(`/v1/reports/funnel?steps=A,B,C&from=${T0}&to=${T0 + DAY}`)).status).toBe(200)
    expect422(await get(`/v1/reports/funnel?steps=A,B,C,D&from=${T0}&to=${T0 + DAY}`), '/steps', 'REPORT_STEPS_MAX')
    expect422(await get(`/v1/reports/funnel?steps=A,B,A&from=${T0}&to=${T0 + DAY}`), '/steps', 'repeat')
  })

  test('REPORT_PERIODS_MAX periods are answered, one more gets a 422 that names the bound', async () => {
    const ok = await get(`/v1/reports/retention?cohort_event=A&periods=4&from=${T0}&to=${T0 + DAY}`)
    expect(ok.status).toBe(200)
    expect(ok.body.cohorts).toEqual([{ cohort: iso(T0), users: 0, retained: [0, 0, 0, 0] }])
    expect422(await get(`/v1/reports/retention?cohort_event=A&periods=5&from=${T0}&to=${T0 + DAY}`), '/periods', 'REPORT_PERIODS_MAX')
  })

  test('from must be before to, and times must parse', async () => {
    expect422(await get(`/v1/reports/counts?from=${T0}&to=${T0}`), '/from', 'before')
    expect422(await get('/v1/reports/counts?from=yesterday'), '/from', 'ISO-8601')
    expect422(await get(`/v1/reports/funnel?steps=A,B&within=0&from=${T0}&to=${T0 + DAY}`), '/within', 'within')
  })

  test('reports need a key of the project', async () => {
    const r = await inlet.request('GET', '/v1/reports/counts')
    expect(r.status).toBe(401)
    expect(r.body.error.code).toBe('unauthorized')
  })
})

test('a report query runs under its limits (timeout, work_mem, parallel workers, plans), and only that transaction does', async () => {
  const show = (tx: Sql) => tx`select current_setting('statement_timeout') as t, current_setting('work_mem') as w,
    current_setting('max_parallel_workers_per_gather') as p, current_setting('enable_sort') as s, current_setting('plan_cache_mode') as c`
  for (const [parallelWorkers, plans, c] of [[0, 'custom', 'force_custom_plan'], [3, 'cached', 'auto']] as const) {
    const [inside] = await bounded(inlet.sql, { timeoutMs: 1234, workMemKb: 640, parallelWorkers }, 'test', show, plans)
    expect(inside).toEqual({ t: '1234ms', w: '640kB', p: String(parallelWorkers), s: 'off', c })
  }
  const [after] = await show(inlet.sql)
  expect(after.s).toBe('on')
  expect(after.w).not.toBe('640kB')
  expect(after.c).toBe('auto')
})

test('a report that outlives PG_STATEMENT_TIMEOUT_MS is stopped and answered 503 unavailable', async () => {
  const slow = await startInlet({ PG_STATEMENT_TIMEOUT_MS: '200', REPORT_CACHE_ENTRIES_MAX: '0' })
  const q = await slow.project()
  // Another session holds the rollup table, so the report's read waits past its timeout.
  let release!: () => void
  const held = new Promise<void>(r => { release = r })
  let locked!: () => void
  const isLocked = new Promise<void>(r => { locked = r })
  const holder = slow.sql.begin(async tx => {
    await tx`lock table event_counts_hour in access exclusive mode`
    locked()
    await held
  })
  try {
    await isLocked
    const r = await slow.request('GET', `/v1/reports/counts?interval=day&from=${T0}&to=${T0 + DAY}`, { key: q.api_key })
    expect(r.status).toBe(503)
    expect(r.body.error.code).toBe('unavailable')
    expect(r.body.error.message).toContain('PG_STATEMENT_TIMEOUT_MS (200 ms)')
    expect(r.headers.get('retry-after')).toBe('1')
  } finally {
    release()
    await holder
    await slow.stop()
  }
})

// Each lane (REPORT_QUERIES_MAX: funnels, retention, counts by minute over more than
// REPORT_MINUTE_LANE_MINUTES_MAX minutes, here all of them; REPORT_MINUTE_QUERIES_MAX:
// counts by minute over fewer; REPORT_COUNTER_QUERIES_MAX: counts by hour and day)
// bounds its own reports.
for (const lane of <{ setting: string; table: string; interval: string; env: Record<string, string> }[]>[
  { setting: 'REPORT_QUERIES_MAX', table: 'event_counts_minute', interval: 'minute', env: { REPORT_MINUTE_LANE_MINUTES_MAX: '0' } },
  { setting: 'REPORT_MINUTE_QUERIES_MAX', table: 'event_counts_minute', interval: 'minute', env: {} },
  { setting: 'REPORT_COUNTER_QUERIES_MAX', table: 'event_counts_hour', interval: 'day', env: {} },
]) {
  test(`past ${lane.setting} running reports, a report waits its turn and is answered 503 if none comes in time`, async () => {
    const slow = await startInlet({ PG_STATEMENT_TIMEOUT_MS: '500', [lane.setting]: '1', REPORT_CACHE_ENTRIES_MAX: '0', ...lane.env })
    const q = await slow.project()
    const hold = holdTable(slow.sql, lane.table)
    const report = (day: number) => slow.request('GET', `/v1/reports/counts?interval=${lane.interval}&from=${T0 + day * DAY}&to=${T0 + day * DAY + 3_600_000}`, { key: q.api_key })
    try {
      await hold.locked
      const a = report(0)
      // A is in Postgres, blocked on the lock, before B and C queue behind it.
      await blockedOn(slow.sql, lane.table)
      const b = report(1)
      const c = report(2)
      const [ra, rb, rc] = await Promise.all([a, b, c])
      // A held the one slot until its statement ran out of time. B and C queued; the
      // one that queued last cannot have had a turn in time (whether the first did
      // depends on how fast A's rollback gave the slot back).
      expect([ra.status, rb.status, rc.status]).toEqual([503, 503, 503])
      expect(ra.body.error.message).toContain('PG_STATEMENT_TIMEOUT_MS')
      const bounds = [rb, rc].map(r => r.body.error.message.match(/PG_STATEMENT_TIMEOUT_MS|REPORT_(COUNTER_|MINUTE_)?QUERIES_MAX/)[0])
      expect(bounds).toContain(lane.setting)
    } finally {
      await hold.release()
      await slow.stop()
    }
  })
}

test('counts by hour and day, and by minute over at most REPORT_MINUTE_LANE_MINUTES_MAX minutes, never wait behind the shared lane; one minute more does', async () => {
  const slow = await startInlet({ PG_STATEMENT_TIMEOUT_MS: '5000', REPORT_QUERIES_MAX: '1', REPORT_MINUTE_LANE_MINUTES_MAX: '60', REPORT_CACHE_ENTRIES_MAX: '0' })
  const q = await slow.project()
  expect((await slow.request('POST', '/v1/events', { key: q.api_key, body: { id: 'lane-1', name: 'Open', user_id: 'u', timestamp: new Date(T0 + 60_000).toISOString() } })).status).toBe(200)
  const get = (path: string) => slow.request('GET', path, { key: q.api_key })
  const minutes = (n: number) => get(`/v1/reports/counts?interval=minute&from=${T0}&to=${T0 + n * 60_000}`)
  const hold = holdTable(slow.sql, 'event_users_day')
  try {
    await hold.locked
    // The other lane's one slot is held by a retention report blocked on the lock
    // (reading the day's users into the day index).
    const retention = get(`/v1/reports/retention?cohort_event=Open&periods=1&from=${T0}&to=${T0 + DAY}`)
    await blockedOn(slow.sql, 'event_users_day')
    for (const interval of ['hour', 'day']) {
      const r = await get(`/v1/reports/counts?interval=${interval}&from=${T0}&to=${T0 + DAY}`)
      expect(r.status).toBe(200)
      expect(r.body.series[0]).toEqual({ bucket: new Date(T0).toISOString(), events: 1, users: 1 })
    }
    const atBound = await minutes(60)
    expect(atBound.status).toBe(200)
    expect(atBound.body.series).toHaveLength(60)
    expect(atBound.body.series[1]).toEqual({ bucket: new Date(T0 + 60_000).toISOString(), events: 1, users: 1 })
    // One minute more is the other lane's: it waits for the retention report.
    let answered = false
    const over = minutes(61).then(r => { answered = true; return r })
    await Bun.sleep(300)
    expect(answered).toBe(false)
    // The retention report is still held: nothing above waited for it.
    expect(await blockedOn(slow.sql, 'event_users_day')).toBe(1)
    await hold.release()
    expect((await retention).body.cohorts).toEqual([{ cohort: new Date(T0).toISOString(), users: 1, retained: [1] }])
    const r = await over
    expect(r.status).toBe(200)
    expect(r.body.series).toHaveLength(61)
  } finally {
    await hold.release()
    await slow.stop()
  }
})

test('counts by hour and day never wait behind the minute lane: with it full, they are answered at once', async () => {
  const slow = await startInlet({ PG_STATEMENT_TIMEOUT_MS: '5000', REPORT_CACHE_ENTRIES_MAX: '0' })
  const q = await slow.project()
  expect((await slow.request('POST', '/v1/events', { key: q.api_key, body: { id: 'lane-2', name: 'Open', user_id: 'u', timestamp: new Date(T0 + 60_000).toISOString() } })).status).toBe(200)
  const get = (path: string) => slow.request('GET', path, { key: q.api_key })
  const hold = holdTable(slow.sql, 'event_counts_minute')
  try {
    await hold.locked
    // The minute lane's one slot (REPORT_MINUTE_QUERIES_MAX's default) is held by a
    // report blocked on the lock, a second queues behind it.
    const minute = [0, 1].map(k => get(`/v1/reports/counts?interval=minute&from=${T0 + k * DAY}&to=${T0 + k * DAY + 3_600_000}`))
    await blockedOn(slow.sql, 'event_counts_minute')
    for (const interval of ['hour', 'day']) {
      const r = await get(`/v1/reports/counts?interval=${interval}&from=${T0}&to=${T0 + DAY}`)
      expect(r.status).toBe(200)
      expect(r.body.series[0]).toEqual({ bucket: new Date(T0).toISOString(), events: 1, users: 1 })
    }
    // The minute lane is still held: the counters did not wait for it.
    expect(await blockedOn(slow.sql, 'event_counts_minute')).toBe(1)
    await hold.release()
    expect((await Promise.all(minute)).map(r => r.status)).toEqual([200, 200])
  } finally {
    await hold.release()
    await slow.stop()
  }
})

// Another session holds `table`, so a report's read of it waits.
function holdTable(sql: Sql, table: string) {
  let release!: () => void
  const held = new Promise<void>(r => { release = r })
  let locked!: () => void
  const isLocked = new Promise<void>(r => { locked = r })
  const holder = sql.begin(async tx => {
    await tx.unsafe(`lock table ${table} in access exclusive mode`)
    locked()
    await held
  })
  return { locked: isLocked, release: async () => { release(); await holder } }
}

// Resolves once a report is waiting on the lock of `table`, with how many are.
async function blockedOn(sql: Sql, table: string): Promise<number> {
  for (;;) {
    const [{ n }] = await sql`select count(*)::int as n from pg_stat_activity
      where datname = current_database() and backend_type = 'client backend' and wait_event_type = 'Lock'
        and query like ${`%from ${table}%`}`
    if (n > 0) return n
    await Bun.sleep(5)
  }
}

describe('result cache', () => {
  const path = `/v1/reports/counts?interval=day&from=${iso(T0)}&to=${iso(T0 + 2 * DAY)}`
  const event = (id: string) => ({ id, name: 'Open', timestamp: iso(T0 + 3600_000), user_id: 'u1' })

  test('a repeated report is served from the cache, and never to another project', async () => {
    const mine = await inlet.project(), theirs = await inlet.project()
    expect((await inlet.request('POST', '/v1/events', { key: mine.api_key, body: event('c1') })).status).toBe(200)
    const first = await get(path, mine.api_key)
    expect(first.headers.get('x-inlet-report-cache')).toBe('miss')
    expect(first.headers.get('content-type')).toBe('application/json')
    expect(first.headers.get('ratelimit-limit')).toBe('10000')
    expect(first.body.series[0]).toEqual({ bucket: iso(T0), events: 1, users: 1 })
    const other = await get(path, theirs.api_key)
    expect(other.headers.get('x-inlet-report-cache')).toBe('miss')
    expect(other.body.series[0]).toEqual({ bucket: iso(T0), events: 0, users: 0 })
    const again = await get(path, mine.api_key)
    expect(again.headers.get('x-inlet-report-cache')).toBe('hit')
    expect(again.headers.get('ratelimit-remaining')).not.toBeNull()
    expect(again.body).toEqual(first.body)
  })

  test('a cached report is recomputed once REPORT_CACHE_TTL_MS has passed', async () => {
    const short = await startInlet({ REPORT_CACHE_TTL_MS: '100', REPORT_CACHE_STALE_MS: '0' })
    try {
      const q = await short.project()
      const count = async () => (await short.request('GET', path, { key: q.api_key })).body.series[0].events
      expect(await count()).toBe(0)
      expect((await short.request('POST', '/v1/events', { key: q.api_key, body: event('c2') })).status).toBe(200)
      await Bun.sleep(150)
      expect(await count()).toBe(1)
    } finally { await short.stop() }
  })

  test('past its TTL a report is served stale, within REPORT_CACHE_STALE_MS, while one refresh brings it up to date', async () => {
    const swr = await startInlet({ REPORT_CACHE_TTL_MS: '100', REPORT_CACHE_STALE_MS: '600000' })
    try {
      const q = await swr.project()
      const ask = async () => {
        const r = await swr.request('GET', path, { key: q.api_key })
        return [r.headers.get('x-inlet-report-cache'), r.body.series[0].events]
      }
      expect(await ask()).toEqual(['miss', 0])
      expect((await swr.request('POST', '/v1/events', { key: q.api_key, body: event('c3') })).status).toBe(200)
      await Bun.sleep(150)
      expect(await ask()).toEqual(['stale', 0])
      let seen = 0
      for (let i = 0; i < 200 && seen === 0; i++) { seen = (await ask())[1] as number; if (!seen) await Bun.sleep(10) }
      expect(seen).toBe(1)
    } finally { await swr.stop() }
  })
})
