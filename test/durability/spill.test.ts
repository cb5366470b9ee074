// Postgres down, slow, reset mid-commit; the spill full; duplicate verdicts across
// the spill; read-your-writes while degraded. In-process Inlet, real Postgres behind
// the fault proxy, real SQLite spill files. Each test ends with the same check:
// acknowledged but missing = 0, stored twice = 0, rollups = stored rows.

import { afterEach, describe, expect, test } from 'bun:test'
import { type Degradable, event, percentile, startDegradable, storedCheck, until } from './support'

let d: Degradable | undefined
afterEach(async () => {
  await d?.stop()
  d = undefined
})

// latenciesMs: every acknowledged request; knownDownMs: those sent once Postgres was
// already known down (no commit deadline to wait out, the spill alone).
type Client = { key: string; acked: Set<string>; latenciesMs: number[]; knownDownMs: number[]; refused: number }

// `workers` concurrent clients send batches of `size` fresh ids until `stop()`;
// a 503 is retried with the same ids (what an SDK does); every 200 is recorded.
async function load(dd: Degradable, c: Client, workers: number, size: number, stop: () => boolean, prefix: string, pauseMs = 0) {
  let next = 0
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    while (!stop()) {
      const ids = Array.from({ length: size }, () => `${prefix}-${w}-${next++}`)
      for (;;) {
        const started = performance.now()
        const knownDown = !dd.inlet.deps.health.postgresUp()
        const r = await dd.request('POST', '/v1/events/batch', { key: c.key, body: { events: ids.map(id => event(id)) } })
        if (r.status === 200) {
          c.latenciesMs.push(performance.now() - started)
          if (knownDown) c.knownDownMs.push(performance.now() - started)
          for (const id of ids) c.acked.add(id)
          if (pauseMs) await Bun.sleep(pauseMs)
          break
        }
        expect(r.status).toBe(503)
        c.refused++
        await Bun.sleep(20)
      }
    }
  }))
}

const client = (key: string): Client => ({ key, acked: new Set(), latenciesMs: [], knownDownMs: [], refused: 0 })

describe('Postgres down', () => {
  test('while Postgres is black-holed every write is acked from the spill and read back by id, and it all drains into Postgres exactly once', async () => {
    d = await startDegradable()
    const p = await d.project()
    const c = client(p.api_key)
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: event('warm') })).body).toEqual({ id: 'warm', status: 'accepted' })
    c.acked.add('warm')

    d.proxy.blackhole(true)
    const started = Date.now()
    // Short of KEY_CACHE_TTL_MS: the key was resolved just before the outage.
    // About 8 clients x 25 events every ~20 ms for 2.5 s: some 20,000 events.
    await load(d, c, 8, 25, () => Date.now() - started > 2_500 || c.acked.size > 40_000, 'down', 20)
    expect(c.refused).toBe(0)

    const ready = await d.request('GET', '/ready')
    expect(ready.status).toBe(200)
    expect(ready.body.postgres).toBe('down')
    expect(ready.body.spill.pending).toBe(c.acked.size - 1)
    expect(ready.body.spill.writable).toBe(true)
    const metrics = (await d.request('GET', '/metrics')).body as string
    expect(metrics).toContain('inlet_postgres_up 0')
    expect(metrics).toContain(`inlet_spill_pending_events ${c.acked.size - 1}`)

    // Read-your-writes from the spill, and the pending count in the list header.
    const spilledId = [...c.acked][c.acked.size - 1]
    const got = await d.request('GET', `/v1/events/${spilledId}`, { key: p.api_key })
    expect(got.status).toBe(200)
    expect(got.body).toMatchObject({ id: spilledId, name: 'Durable', type: 'track', properties: { n: spilledId } })
    // A retry of a spilled event is a duplicate, not a second acceptance.
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: event(spilledId) })).body.status).toBe('duplicate')
    expect(d.inlet.deps.spill!.pendingFor(p.id)).toBe(c.acked.size - 1)
    const [{ n: inPostgres }] = await d.direct`select count(*)::int as n from events where project_id = ${p.id}`
    expect(inPostgres).toBeLessThan(c.acked.size)

    d.proxy.blackhole(false)
    await until('the probe to see Postgres again', () => d!.inlet.deps.health.postgresUp(), 10_000)
    const pending = d.inlet.deps.spill!.stats().pending
    const drainStarted = performance.now()
    await until('the spill to drain', () => d!.inlet.deps.spill!.stats().pending === 0, 60_000)
    const drainS = (performance.now() - drainStarted) / 1000

    const list = await d.request('GET', '/v1/events?limit=1', { key: p.api_key })
    expect(list.headers.get('x-inlet-pending-events')).toBe('0')
    const after = (await d.request('GET', '/metrics')).body as string
    expect(after).toContain('inlet_postgres_up 1')
    expect(after).toContain('inlet_spill_pending_events 0')
    expect(after).toContain(`inlet_spill_written_events_total ${c.acked.size - 1}`)
    expect(Number(after.match(/^inlet_spill_drained_events_total (\d+)/m)?.[1])).toBeGreaterThanOrEqual(c.acked.size - 1)
    expect(after).toMatch(/^inlet_postgres_errors_total\{kind="timeout",code="FLUSH_TIMEOUT"\} [1-9]/m)
    const check = await storedCheck(d.direct, p.id, c.acked)
    expect(check).toMatchObject({ checked: c.acked.size, missing: 0, duplicated: 0, stored: c.acked.size, rollup: c.acked.size })
    console.log(`durability: Postgres down: ${c.acked.size} acked events checked, lost ${check.missing}, duplicated ${check.duplicated}; `
      + `ack latency p50 ${percentile(c.latenciesMs, 50).toFixed(1)} ms p99 ${percentile(c.latenciesMs, 99).toFixed(1)} ms `
      + `(${c.latenciesMs.length} requests of 25 events, 8 clients, including the first FLUSH_COMMIT_MS_MAX 300 ms before the outage is known); `
      + `once known down, spill only: p50 ${percentile(c.knownDownMs, 50).toFixed(1)} ms p99 ${percentile(c.knownDownMs, 99).toFixed(1)} ms; drained ${pending} events in ${drainS.toFixed(2)} s = ${Math.round(pending / drainS)} events/s`)
  }, 90_000)

  test('past SPILL_BYTES_MAX with Postgres down a write gets 503 with Retry-After, never a 200 that is not stored, and /ready answers 503', async () => {
    d = await startDegradable({ SPILL_BYTES_MAX: String(64 * 1024) })
    const p = await d.project()
    expect((await d.request('GET', '/ready')).status).toBe(200)
    await d.request('POST', '/v1/events', { key: p.api_key, body: event('warm') })
    d.proxy.blackhole(true)
    const acked = new Set(['warm'])
    const refused: string[] = []
    const big = { blob: 'x'.repeat(2_000) }
    for (let i = 0; i < 200 && refused.length < 3; i++) {
      const r = await d.request('POST', '/v1/events', { key: p.api_key, body: event(`full-${i}`, { properties: big }) })
      if (r.status === 200) acked.add(`full-${i}`)
      else {
        expect(r.status).toBe(503)
        expect(r.body.error.code).toBe('unavailable')
        expect(r.body.error.message).toContain('spill is full')
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
        refused.push(`full-${i}`)
      }
    }
    // Under the bound writes were taken; past it, refused.
    expect(acked.size).toBeGreaterThan(5)
    expect(refused.length).toBe(3)
    const ready = await d.request('GET', '/ready')
    expect(ready.status).toBe(503)
    expect(ready.body).toMatchObject({ status: 'unavailable', postgres: 'down', spill: { writable: false } })
    expect(ready.body.spill.bytes).toBeLessThanOrEqual(64 * 1024)

    d.proxy.blackhole(false)
    await until('the spill to drain', () => d!.inlet.deps.spill!.stats().pending === 0)
    expect((await d.request('GET', '/ready')).status).toBe(200)
    const check = await storedCheck(d.direct, p.id, acked)
    expect(check).toMatchObject({ missing: 0, duplicated: 0, stored: acked.size, rollup: acked.size })
    const [{ n }] = await d.direct`select count(*)::int as n from events where project_id = ${p.id} and id = any(${refused})`
    expect(n).toBe(0)
    // Space is free again: the next write is taken.
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: event('after') })).status).toBe(200)
  }, 60_000)
})

describe('Postgres slow or cut', () => {
  test('with 500 ms added to every Postgres round trip, acks are bounded by FLUSH_COMMIT_MS_MAX and the spill, not by Postgres', async () => {
    d = await startDegradable({ FLUSH_COMMIT_MS_MAX: '200' })
    const p = await d.project()
    const c = client(p.api_key)
    await d.request('POST', '/v1/events', { key: p.api_key, body: event('warm') })
    c.acked.add('warm')
    d.proxy.setLatency(500)
    const started = Date.now()
    await load(d, c, 4, 10, () => Date.now() - started > 2_500, 'slow')
    // A commit through the proxy needs at least one round trip: 2 x 500 ms. Worst
    // case for an ack is two flushers each waiting out FLUSH_COMMIT_MS_MAX before
    // Postgres is known slow, so every ack beats one Postgres round trip.
    const max = Math.max(...c.latenciesMs)
    expect(max).toBeLessThan(1_000)
    expect(percentile(c.latenciesMs, 50)).toBeLessThan(200)
    expect(d.inlet.deps.health.postgresUp()).toBe(false)
    // Slow is not gone: reads still go to Postgres and answer, within their own deadline.
    expect(d.inlet.deps.health.postgresReachable()).toBe(true)
    const listed = await d.request('GET', '/v1/events?limit=1', { key: p.api_key })
    expect(listed.status).toBe(200)
    expect(listed.body.data).toHaveLength(1)
    console.log(`durability: Postgres +500 ms: ${c.latenciesMs.length} acks, p50 ${percentile(c.latenciesMs, 50).toFixed(1)} ms, `
      + `p99 ${percentile(c.latenciesMs, 99).toFixed(1)} ms, max ${max.toFixed(1)} ms (FLUSH_COMMIT_MS_MAX 200)`)

    d.proxy.setLatency(0)
    await until('the spill to drain', () => d!.inlet.deps.health.postgresUp() && d!.inlet.deps.spill!.stats().pending === 0)
    const check = await storedCheck(d.direct, p.id, c.acked)
    expect(check).toMatchObject({ missing: 0, duplicated: 0, stored: c.acked.size, rollup: c.acked.size })
  }, 60_000)

  test('resetting every Postgres connection while batches are in flight loses no acknowledged event and stores none twice', async () => {
    d = await startDegradable()
    const p = await d.project()
    const c = client(p.api_key)
    await d.request('POST', '/v1/events', { key: p.api_key, body: event('warm') })
    c.acked.add('warm')
    // A little latency keeps a commit in flight most of the time, so resets hit one.
    d.proxy.setLatency(30)
    let stop = false
    const resets = (async () => {
      while (!stop) {
        await Bun.sleep(150)
        d!.proxy.resetAll()
      }
    })()
    const started = Date.now()
    await load(d, c, 6, 50, () => Date.now() - started > 3_000 || c.acked.size > 30_000, 'reset', 10)
    stop = true
    await resets
    d.proxy.setLatency(0)
    const m = d.inlet.deps.metrics
    const state = () => JSON.stringify({
      up: d!.inlet.deps.health.postgresUp(), spill: d!.inlet.deps.spill!.stats(),
      errors: m.postgresErrors.render(), probes: m.postgresProbes.render(), background: m.backgroundErrors.render(),
    })
    try {
      await until('the spill to drain', () => d!.inlet.deps.health.postgresUp() && d!.inlet.deps.spill!.stats().pending === 0)
    } catch (error) {
      console.error(`state when the drain wait gave up: ${state()}`)
      throw error
    }
    expect(m.postgresErrors.sum({ kind: 'not_now' })).toBeGreaterThan(0)
    const check = await storedCheck(d.direct, p.id, c.acked)
    expect(check).toMatchObject({ missing: 0, duplicated: 0, stored: c.acked.size, rollup: c.acked.size })
    console.log(`durability: resets mid-commit: ${c.acked.size} acked checked, lost 0, duplicated 0, `
      + `${d.inlet.deps.metrics.spillWrites.get()} events took the spill, ${c.refused} requests answered 503 and retried`)
  }, 60_000)
})
