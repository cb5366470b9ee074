// Rollups stay exact through the spill: events acknowledged while Postgres is away
// reach it later through the drainer (insertEvents, the flusher's own statement),
// and the reports then equal a brute-force computation over everything acked.

import { afterEach, expect, test } from 'bun:test'
import { type Degradable, startDegradable, until } from '../durability/support'
import { bruteCounts, bruteRetention, generate, type Ev } from './brute'
import { expectExact } from './exact'

const DAY = 86_400_000
const START = Date.UTC(2026, 7, 3)

let d: Degradable | undefined
afterEach(async () => {
  await d?.stop()
  d = undefined
})

const wire = (e: Ev) => ({ id: e.id, name: e.name, timestamp: new Date(e.t).toISOString(), user_id: e.user_id, anonymous_id: e.anonymous_id })

test('events acknowledged from the spill while Postgres was away are counted once in every rollup after the drain', async () => {
  d = await startDegradable({ REPORT_CACHE_ENTRIES_MAX: '0' })
  const p = await d.project()
  const events = generate(11, 's', START, 3, 120)
  const half = Math.floor(events.length / 2)
  const send = async (list: Ev[]) => {
    for (let i = 0; i < list.length; i += 100) {
      const r = await d!.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: list.slice(i, i + 100).map(wire) } })
      expect(r.status).toBe(200)
    }
  }
  await send(events.slice(0, half))

  d.proxy.blackhole(true)
  // The second half and a replay of part of the first: acked from the spill.
  await send(events.slice(half))
  await send(events.slice(half - 50, half))
  expect(d.inlet.deps.spill!.stats().pending).toBeGreaterThan(0)

  d.proxy.blackhole(false)
  await until('the probe to see Postgres again', () => d!.inlet.deps.health.postgresUp(), 10_000)
  await until('the spill to drain', () => d!.inlet.deps.spill!.stats().pending === 0, 60_000)

  const [{ n }] = await d.direct`select count(*)::int as n from events where project_id = ${p.id}`
  expect(n).toBe(events.length)
  await expectExact(d.direct, p.id)
  const counts = await d.request('GET', `/v1/reports/counts?interval=hour&from=${START}&to=${START + 4 * DAY}`, { key: p.api_key })
  expect(counts.body.series).toEqual(bruteCounts(events, START, START + 4 * DAY, 'hour'))
  const retention = await d.request('GET', `/v1/reports/retention?cohort_event=Signup&periods=3&from=${START}&to=${START + 3 * DAY}`, { key: p.api_key })
  expect(retention.body.cohorts).toEqual(bruteRetention(events, START, START + 3 * DAY, 'day', 3, 'Signup', null))
})
