// The report cache across two real Inlet processes on their own ports and one
// Postgres (src/http/report-cache.ts, src/store/forgets.ts). One process's contract:
// a cached report is at most REPORT_CACHE_TTL_MS old (with REPORT_CACHE_STALE_MS 0),
// and an erasure or retention forgets it at once. The other process's events are
// counted within the same bound, and an erasure run by either is forgotten by both.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config'
import { connect, type Sql } from '../../src/store/db'
import { until } from '../durability/support'
import { createTestDatabase, type TestDatabase } from '../support/pg-cluster'
import type { ServerProcess } from '../support/server'
import { ADMIN_TOKEN, createProject, json, startSeparate } from './support'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS
// An hour ago, on the hour: today's or yesterday's partition, inside the range below.
const AT = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - HOUR_MS
const range = `from=${new Date(AT - DAY_MS).toISOString()}&to=${new Date(AT + DAY_MS).toISOString()}`
const ev = (id: string, user: string) => ({ id, name: 'Cached', user_id: user, timestamp: new Date(AT).toISOString() })

// Two processes on one database with these settings, stopped and dropped after the block.
function pair(env: Record<string, string>) {
  const s = { a: null as unknown as ServerProcess, b: null as unknown as ServerProcess, direct: null as unknown as Sql }
  let db: TestDatabase
  let dirs: string[] = []
  // Made here, not when the block is declared: a block filtered out (-t) leaves nothing behind.
  beforeAll(async () => {
    dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'inlet-rc-')))
    db = await createTestDatabase(process.env.INLET_TEST_ADMIN_URL!)
    ;[s.a, s.b] = await startSeparate(2, { DATABASE_URL: db.url, INLET_ADMIN_TOKEN: ADMIN_TOKEN, LIFECYCLE_INTERVAL_MS: '86400000', ...env }, dirs) as [ServerProcess, ServerProcess]
    s.direct = connect(db.url, loadConfig({}).limits, () => {})
  })
  afterAll(async () => {
    for (const p of [s.a, s.b]) await p?.kill('SIGTERM')
    await s.direct?.end({ timeout: 1 })
    await db?.drop()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  return s
}

const ingest = (server: ServerProcess, key: string, events: unknown[]) => json(`${server.url}/v1/events/batch`, {
  method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ events }),
})
async function counts(server: ServerProcess, key: string, interval = 'day') {
  const r = await json(`${server.url}/v1/reports/counts?interval=${interval}&${range}`, { headers: { authorization: `Bearer ${key}` } })
  expect(r.status).toBe(200)
  const series = r.body.series as { events: number; users: number }[]
  return {
    cache: r.headers.get('x-inlet-report-cache'),
    events: series.reduce((n, b) => n + b.events, 0),
    users: Math.max(0, ...series.map(b => b.users)),
  }
}

describe('with REPORT_CACHE_TTL_MS 1000 and no stale serving', () => {
  const TTL_MS = 1_000
  const s = pair({ REPORT_CACHE_TTL_MS: String(TTL_MS), REPORT_CACHE_STALE_MS: '0' })

  test('a report cached on one process counts an event acknowledged through the other within REPORT_CACHE_TTL_MS, as its own would', async () => {
    const { api_key } = await createProject(s.a.url)
    const cachedAtMs = performance.now()
    expect(await counts(s.b, api_key)).toEqual({ cache: 'miss', events: 0, users: 0 })
    expect(await counts(s.a, api_key)).toEqual({ cache: 'miss', events: 0, users: 0 })
    expect((await ingest(s.a, api_key, [ev('t1', 'u1')])).status).toBe(200)
    const ackedMs = performance.now()
    // Within the TTL, both serve what they cached: A does not count its own event either.
    const early = [await counts(s.a, api_key), await counts(s.b, api_key)]
    if (performance.now() - cachedAtMs < TTL_MS) expect(early.map(c => [c.cache, c.events])).toEqual([['hit', 0], ['hit', 0]])
    let seenMs = 0
    await until('B to count the event acknowledged through A', async () => {
      const c = await counts(s.b, api_key)
      if (c.events !== 1) return false
      seenMs = performance.now()
      return true
    }, 5_000)
    // Counted from when B cached: that is what its TTL bounds (plus one poll).
    expect(seenMs - cachedAtMs).toBeLessThan(TTL_MS + 250)
    // A, cached a moment after B, counts its own event by the same rule.
    await until('A to count its own event', async () => (await counts(s.a, api_key)).events === 1, TTL_MS + 250)
    console.log(`cross-process report cache: B counted A's event ${(seenMs - ackedMs).toFixed(0)} ms after the ack, ` +
      `${(seenMs - cachedAtMs).toFixed(0)} ms after B cached the report (REPORT_CACHE_TTL_MS ${TTL_MS})`)
  })
})

describe('with REPORT_CACHE_TTL_MS 10 minutes', () => {
  const s = pair({ REPORT_CACHE_TTL_MS: '600000' })

  test('an erasure run through one process is forgotten by the cached reports of both at once, not after their TTL', async () => {
    const { id, api_key } = await createProject(s.a.url)
    const auth = { authorization: `Bearer ${api_key}` }
    expect((await ingest(s.a, api_key, [ev('e1', 'gone'), ev('e2', 'gone'), ev('e3', 'kept')])).status).toBe(200)
    for (const server of [s.a, s.b]) {
      expect(await counts(server, api_key)).toEqual({ cache: 'miss', events: 3, users: 2 })
      expect((await counts(server, api_key)).cache).toBe('hit')
    }
    const erased = await json(`${s.a.url}/v1/users/gone`, { method: 'DELETE', headers: auth })
    expect(erased.status).toBe(202)
    await until('the erasure to finish', async () =>
      (await json(`${s.a.url}/v1/erasures/${erased.body.id}`, { headers: auth })).body.status === 'done', 10_000)
    const doneMs = performance.now()
    // The notice travels through Postgres: B forgets within milliseconds, never the TTL.
    let onB = { cache: null as string | null, events: 3, users: 2 }
    await until('B to forget the report that counted the erased user', async () => (onB = await counts(s.b, api_key)).events === 1, 2_000)
    const forgottenMs = performance.now() - doneMs
    expect(onB).toEqual({ cache: 'miss', events: 1, users: 1 })
    expect(await counts(s.a, api_key)).toEqual({ cache: 'miss', events: 1, users: 1 })
    const [{ n }] = await s.direct`select count(*)::int as n from events where project_id = ${id}`
    expect(n).toBe(1)
    console.log(`cross-process report cache: an erasure run through A forgotten by B ${forgottenMs.toFixed(0)} ms after it was done`)
  })

  test('after an erasure through one process, the erased user coming back through the other is counted as a user again', async () => {
    const { id, api_key } = await createProject(s.a.url)
    const auth = { authorization: `Bearer ${api_key}` }
    // B stores, and remembers, the user's membership of that day and hour.
    expect((await ingest(s.b, api_key, [ev('m1', 'back')])).status).toBe(200)
    const erased = await json(`${s.a.url}/v1/users/back`, { method: 'DELETE', headers: auth })
    await until('the erasure to finish', async () =>
      (await json(`${s.a.url}/v1/erasures/${erased.body.id}`, { headers: auth })).body.status === 'done', 10_000)
    const memberships = async () => (await s.direct`
      select count(*)::int as n from event_users_day where project_id = ${id} and user_key = 'back'`)[0]!.n as number
    expect(await memberships()).toBe(0)
    // The same user, day and hour again, through B: once the notice is there, B
    // writes the membership anew (before the fix it skipped it for as long as it
    // remembered the user: the report said 0 users).
    let sent = 0
    await until('B to store the returning user\'s membership', async () => {
      expect((await ingest(s.b, api_key, [ev(`m2-${sent++}`, 'back')])).status).toBe(200)
      return await memberships() > 0
    }, 2_000)
    expect(await counts(s.b, api_key, 'hour')).toMatchObject({ events: sent, users: 1 })
  })
})
