// Counts, funnels and retention over a generated data set (three projects,
// thousands of users, a known funnel and known returns) equal a brute-force
// computation in plain TypeScript over the same events; another project's events
// never change a report.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { EventRow } from '../../src/ingest/validate'
import { insertEvents } from '../../src/store/write'
import { startInlet, type TestInlet } from '../support/inlet'
import { bruteCounts, bruteFunnel, bruteRetention, generate, type Ev } from './brute'

const DAY = 86_400_000
// A Monday, plus a few hours so that unaligned ranges are exercised.
const START = Date.UTC(2026, 9, 5)
const DAYS = 14
const iso = (ms: number) => new Date(ms).toISOString()

let inlet: TestInlet
let a: { id: number; api_key: string }, b: { id: number; api_key: string }, empty: { id: number; api_key: string }
let events: Ev[]

function rows(projectId: number, list: Ev[]): EventRow[] {
  return list.map(e => ({
    projectId, id: e.id, type: 'track', name: e.name, timestampMs: e.t, receivedAtMs: Date.now(),
    userId: e.user_id ?? null, anonymousId: e.anonymous_id ?? null, sessionId: null, properties: '{}', context: '{}', bytes: 100,
  }))
}

async function load(projectId: number, list: Ev[]) {
  for (let i = 0; i < list.length; i += 5000) await insertEvents(inlet.sql, rows(projectId, list.slice(i, i + 5000)))
}

const get = async (key: string, path: string) => {
  const r = await inlet.request('GET', path, { key })
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body
}

beforeAll(async () => {
  // No cache here: every request must reach Postgres.
  inlet = await startInlet({ REPORT_CACHE_ENTRIES_MAX: '0' })
  a = await inlet.project(); b = await inlet.project(); empty = await inlet.project()
  events = generate(1, 'x', START, DAYS, 3000)
  await load(a.id, events)
})
afterAll(() => inlet.stop())

describe('reports equal a brute-force computation over the same events', () => {
  test('the data set is big enough to mean something', async () => {
    const [{ n }] = await inlet.sql`select count(*)::int as n from events where project_id = ${a.id}`
    expect(n).toBe(events.length)
    expect(n).toBeGreaterThan(15_000)
  })

  const ranges: [string, number, number][] = [
    ['aligned', START, START + DAYS * DAY],
    ['unaligned', START + 3 * DAY + 5 * 3600_000 + 17_123, START + 9 * DAY + 11 * 60_000 + 999],
  ]
  for (const [label, from, to] of ranges) {
    for (const interval of ['day', 'hour'] as const) {
      for (const name of [undefined, 'PageView']) {
        test(`counts by ${interval}${name ? ` of ${name}` : ''} over an ${label} range equal brute force`, async () => {
          const q = `interval=${interval}&from=${iso(from)}&to=${iso(to)}${name ? `&name=${name}` : ''}`
          const body = await get(a.api_key, `/v1/reports/counts?${q}`)
          expect(body.series).toEqual(bruteCounts(events, from, to, interval, name))
        })
      }
    }
  }

  for (const name of [undefined, 'PageView']) {
    test(`counts by minute${name ? ` of ${name}` : ''} over a day equal brute force`, async () => {
      const from = START + 2 * DAY, to = START + 3 * DAY
      const body = await get(a.api_key, `/v1/reports/counts?interval=minute&from=${from}&to=${to}${name ? `&name=${name}` : ''}`)
      expect(body.series.length).toBe(1440)
      expect(body.series).toEqual(bruteCounts(events, from, to, 'minute', name))
      expect(body.series.filter((r: { users: number }) => r.users > 0).length).toBeGreaterThan(100)
    })
  }

  for (const [steps, within] of [[['PageView', 'AddToCart', 'Purchase'], 3600], [['PageView', 'AddToCart', 'Purchase'], 86_400],
    [['Signup', 'Purchase'], 7 * 86_400], [['AddToCart', 'Purchase', 'PageView'], 600]] as const) {
    test(`a funnel ${steps.join(' → ')} within ${within} s equals brute force`, async () => {
      const from = START + DAY, to = START + 8 * DAY + 12_345
      const body = await get(a.api_key, `/v1/reports/funnel?steps=${steps.join(',')}&within=${within}&from=${iso(from)}&to=${iso(to)}`)
      const expected = bruteFunnel(events, from, to, [...steps], within)
      expect(body.steps).toEqual(expected)
      expect(expected[0].users).toBeGreaterThan(500)
      expect(expected[steps.length - 1].users).toBeGreaterThan(10)
    })
  }

  // `from` inside a day: entries on that day before `from` must not count, and later
  // ones must (the route reads that day's first step raw); `to` inside a day too.
  for (const [steps, within, from, to] of [
    [['PageView', 'AddToCart', 'Purchase'], 3600, START + 2 * DAY + 13 * 3600_000 + 7_777, START + 6 * DAY + 5 * 3600_000],
    [['AddToCart', 'Purchase', 'PageView'], 600, START + DAY + 6 * 3600_000, START + 5 * DAY + 30 * 60_000],
    [['Signup', 'PageView'], 3 * 86_400, START + 4 * DAY + 20 * 3600_000, START + 4 * DAY + 23 * 3600_000]] as const) {
    test(`a funnel ${steps.join(' → ')} within ${within} s from inside a day equals brute force`, async () => {
      const body = await get(a.api_key, `/v1/reports/funnel?steps=${steps.join(',')}&within=${within}&from=${iso(from)}&to=${iso(to)}`)
      const expected = bruteFunnel(events, from, to, [...steps], within)
      expect(body.steps).toEqual(expected)
      expect(expected[steps.length - 1].users).toBeGreaterThan(5)
    })
  }

  for (const [interval, returnEvent, periods] of [['day', null, 8], ['day', 'Purchase', 5], ['week', null, 3], ['week', 'PageView', 2]] as const) {
    test(`retention by ${interval} returning on ${returnEvent ?? 'any'} event equals brute force`, async () => {
      const from = START + 10 * 3600_000, to = START + 10 * DAY
      const q = `cohort_event=Signup&return_event=${returnEvent ?? 'any'}&interval=${interval}&periods=${periods}&from=${iso(from)}&to=${iso(to)}`
      const body = await get(a.api_key, `/v1/reports/retention?${q}`)
      const expected = bruteRetention(events, from, to, interval, periods, 'Signup', returnEvent)
      expect(body.cohorts).toEqual(expected)
      expect(expected.reduce((s, c) => s + c.retained.slice(1).reduce((x, y) => x + y, 0), 0)).toBeGreaterThan(100)
    })
  }
})

test('at the smallest REPORT_WORK_MEM_KB (64) funnels and retention still equal brute force; 63 stops start-up', async () => {
  const small = await startInlet({ REPORT_CACHE_ENTRIES_MAX: '0', REPORT_WORK_MEM_KB: '64' })
  try {
    const from = START + DAY + 7_000, to = START + 8 * DAY
    const f = await small.request('GET', `/v1/reports/funnel?steps=PageView,AddToCart,Purchase&within=3600&from=${iso(from)}&to=${iso(to)}`, { key: a.api_key })
    expect(f.status).toBe(200)
    expect(f.body.steps).toEqual(bruteFunnel(events, from, to, ['PageView', 'AddToCart', 'Purchase'], 3600))
    const r = await small.request('GET', `/v1/reports/retention?cohort_event=Signup&interval=day&periods=8&from=${iso(START)}&to=${iso(START + 10 * DAY)}`, { key: a.api_key })
    expect(r.status).toBe(200)
    expect(r.body.cohorts).toEqual(bruteRetention(events, START, START + 10 * DAY, 'day', 8, 'Signup', null))
  } finally { await small.stop() }
  await expect(startInlet({ REPORT_WORK_MEM_KB: '63' })).rejects.toThrow(/REPORT_WORK_MEM_KB/)
})

describe('isolation', () => {
  const paths = [
    `/v1/reports/counts?interval=day&from=${iso(START)}&to=${iso(START + DAYS * DAY)}`,
    `/v1/reports/counts?interval=hour&name=PageView&from=${iso(START)}&to=${iso(START + 2 * DAY)}`,
    `/v1/reports/funnel?steps=PageView,AddToCart,Purchase&within=3600&from=${iso(START)}&to=${iso(START + DAYS * DAY)}`,
    `/v1/reports/retention?cohort_event=Signup&interval=day&periods=4&from=${iso(START)}&to=${iso(START + 7 * DAY)}`,
  ]

  test("another project's events, with the same names and user ids, never change a report", async () => {
    const before = await Promise.all(paths.map(p => get(a.api_key, p)))
    await load(b.id, generate(2, 'x', START, DAYS, 1500))
    const [{ n }] = await inlet.sql`select count(*)::int as n from events where project_id = ${b.id}`
    expect(n).toBeGreaterThan(5000)
    const after = await Promise.all(paths.map(p => get(a.api_key, p)))
    expect(after).toEqual(before)
  })

  test('a project with no events sees only zeros, whatever the others hold', async () => {
    const [counts, funnel, retention] = await Promise.all(paths.filter((_, i) => i !== 1).map(p => get(empty.api_key, p)))
    expect(counts.series.length).toBe(DAYS)
    expect(counts.series.every((r: any) => r.events === 0 && r.users === 0)).toBe(true)
    expect(funnel.steps.map((s: any) => [s.users, s.conversion])).toEqual([[0, 0], [0, 0], [0, 0]])
    expect(retention.cohorts.every((c: any) => c.users === 0 && c.retained.every((x: number) => x === 0))).toBe(true)
  })
})
