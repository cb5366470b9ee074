// Reports after the data lifecycle changed what is stored: counts, funnels and
// retention equal brute force over the events that are left, after users are erased
// (their memberships rebuilt, their user counters subtracted) and after a retention
// pass dropped the oldest days (with their rollups and counters). Its own database:
// a retention pass applies to every project in it.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import postgres from 'postgres'
import type { EventRow } from '../../src/event'
import { dayStart } from '../../src/store/partitions'
import { insertEvents } from '../../src/store/write'
import { ADMIN_TOKEN, startInlet, type TestInlet } from '../support/inlet'
import { bruteCounts, bruteFunnel, bruteRetention, generate, type Ev } from './brute'
import { expectExact } from './exact'

const DAY = 86_400_000
const adminUrl = process.env.INLET_TEST_ADMIN_URL!
const name = `inlet_report_lifecycle_${Date.now()}_${process.pid}`
const admin = postgres(adminUrl, { max: 1, idle_timeout: 1, connect_timeout: 10, onnotice: () => {} })
const today = dayStart(Date.now())
// 20 days of traffic ending before yesterday (the generator runs up to 3 days past its span).
const START = today - 24 * DAY
const KEEP_DAYS = 10
const iso = (ms: number) => new Date(ms).toISOString()

let inlet: TestInlet
let project: { id: number; api_key: string }
let events: Ev[]

beforeAll(async () => {
  await admin.unsafe(`create database ${name}`)
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  inlet = await startInlet({ REPORT_CACHE_ENTRIES_MAX: '0', LIFECYCLE_INTERVAL_MS: '86400000', RETENTION_BATCH_ROWS: '500' }, url.toString())
  project = await inlet.project()
  events = generate(16, 'l', START, 20, 800)
  const rows: EventRow[] = events.map(e => ({
    projectId: project.id, id: e.id, type: 'track', name: e.name, timestampMs: e.t, receivedAtMs: Date.now(),
    userId: e.user_id ?? null, anonymousId: e.anonymous_id ?? null, sessionId: null, properties: '{}', context: '{}', bytes: 100,
  }))
  for (let i = 0; i < rows.length; i += 2000) await insertEvents(inlet.sql, rows.slice(i, i + 2000))
})
afterAll(async () => {
  await inlet?.stop()
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end({ timeout: 5 })
})

const get = async (path: string) => {
  const r = await inlet.request('GET', path, { key: project.api_key })
  expect(r.status).toBe(200)
  return r.body
}

// Every kind of report over the stored span, against brute force over `kept`.
async function expectReports(kept: Ev[]) {
  const from = START, to = today + DAY
  for (const interval of ['day', 'hour'] as const) {
    for (const n of [undefined, 'PageView']) {
      const body = await get(`/v1/reports/counts?interval=${interval}&from=${iso(from)}&to=${iso(to)}${n ? `&name=${n}` : ''}`)
      expect(body.series).toEqual(bruteCounts(kept, from, to, interval, n))
    }
  }
  for (const [steps, within] of [[['PageView', 'AddToCart', 'Purchase'], 3600], [['Signup', 'Purchase'], 7 * 86_400]] as const) {
    const f = START + DAY + 12_345, t = today - DAY
    const body = await get(`/v1/reports/funnel?steps=${steps.join(',')}&within=${within}&from=${iso(f)}&to=${iso(t)}`)
    expect(body.steps).toEqual(bruteFunnel(kept, f, t, [...steps], within))
  }
  for (const [interval, returnEvent, periods] of [['day', null, 8], ['week', 'PageView', 3]] as const) {
    const q = `cohort_event=Signup&return_event=${returnEvent ?? 'any'}&interval=${interval}&periods=${periods}&from=${iso(from)}&to=${iso(today)}`
    expect((await get(`/v1/reports/retention?${q}`)).cohorts).toEqual(bruteRetention(kept, from, today, interval, periods, 'Signup', returnEvent))
  }
  await expectExact(inlet.sql, project.id)
}

test('reports equal brute force over what is left after erasures and after a retention pass', async () => {
  expect(events.length).toBeGreaterThan(5_000)
  await expectReports(events)

  // The three identified users with the most events.
  const byUser = new Map<string, number>()
  for (const e of events) if (e.user_id) byUser.set(e.user_id, (byUser.get(e.user_id) ?? 0) + 1)
  const erased = [...byUser].sort((x, y) => y[1] - x[1]).slice(0, 3).map(([u]) => u)
  for (const user of erased) {
    const del = await inlet.request('DELETE', `/v1/users/${user}`, { key: project.api_key })
    expect(del.status).toBe(202)
    for (let i = 0; ; i++) {
      const job = await inlet.request('GET', `/v1/erasures/${del.body.id}`, { key: project.api_key })
      if (job.body.status === 'done') break
      if (i > 300) throw new Error(`the erasure of ${user} did not finish`)
      await Bun.sleep(50)
    }
  }
  const afterErasure = events.filter(e => !erased.includes(e.user_id!))
  expect(events.length - afterErasure.length).toBeGreaterThan(30)
  await expectReports(afterErasure)

  // Keep the last KEEP_DAYS whole days (and today): older days go with their rollups.
  const patched = await inlet.request('PATCH', `/admin/projects/${project.id}`,
    { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: { retention_days: KEEP_DAYS } })
  expect(patched.status).toBe(200)
  await inlet.lifecycle.tick()
  const afterRetention = afterErasure.filter(e => e.t >= today - KEEP_DAYS * DAY)
  expect(afterErasure.length - afterRetention.length).toBeGreaterThan(1_000)
  expect((await inlet.sql`select count(*)::int as n from events where project_id = ${project.id}`)[0].n).toBe(afterRetention.length)
  await expectReports(afterRetention)
})
