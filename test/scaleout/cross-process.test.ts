// Two real Inlet processes on their own ports and one Postgres, as on two hosts:
// what used to be per process holds across them (store/bus.ts, live/relay.ts).

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config'
import { connect, type Sql } from '../../src/store/db'
import { eventsOf, readStream } from '../live/support'
import { createTestDatabase, type TestDatabase } from '../support/pg-cluster'
import type { ServerProcess } from '../support/server'
import { until } from '../durability/support'
import { ADMIN_TOKEN, createProject, json, startSeparate } from './support'

let db: TestDatabase
let direct: Sql
let a: ServerProcess
let b: ServerProcess
const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'inlet-x-')))
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

beforeAll(async () => {
  db = await createTestDatabase(process.env.INLET_TEST_ADMIN_URL!)
  // The longest cache TTL the contract allows: what is faster than it is the notice.
  ;[a, b] = await startSeparate(2, { DATABASE_URL: db.url, INLET_ADMIN_TOKEN: ADMIN_TOKEN, KEY_CACHE_TTL_MS: '5000' }, dirs) as [ServerProcess, ServerProcess]
  direct = connect(db.url, loadConfig({}).limits, () => {})
})

afterAll(async () => {
  for (const s of [a, b]) await s?.kill('SIGTERM')
  await direct?.end({ timeout: 1 })
  await db?.drop()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const post = (server: ServerProcess, key: string, body: unknown, path = '/v1/events') => json(`${server.url}${path}`, {
  method: 'POST', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify(body),
})
const ev = (id: string, extra: Record<string, unknown> = {}) => ({ id, name: 'Cross', timestamp: '2026-11-22T10:00:00.000Z', ...extra })

test('50 concurrent copies of one event split across two processes: exactly one accepted, one row', async () => {
  const { id, api_key } = await createProject(a.url)
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => post(i % 2 ? a : b, api_key, ev('same-one'))))
  expect(results.map(r => r.status)).toEqual(Array(50).fill(200))
  const verdicts = results.map(r => r.body.status)
  expect(verdicts.filter(v => v === 'accepted')).toHaveLength(1)
  expect(verdicts.filter(v => v === 'duplicate')).toHaveLength(49)
  const [{ n }] = await direct`select count(*)::int as n from events where project_id = ${id}`
  expect(n).toBe(1)
  const [{ counted }] = await direct`select coalesce(sum(events), 0)::int as counted from event_counts_minute where project_id = ${id}`
  expect(counted).toBe(1)
})

test('a key revoked through one process is refused by the other within 5 s (well before its cache TTL)', async () => {
  const { api_key } = await createProject(a.url)
  // Both have the key cached.
  expect((await post(a, api_key, ev('r1'))).status).toBe(200)
  expect((await post(b, api_key, ev('r2'))).status).toBe(200)
  const prefix = api_key.split('_').slice(0, 2).join('_')
  const revoked = await json(`${a.url}/admin/keys/${prefix}`, { method: 'DELETE', headers: admin })
  expect(revoked).toMatchObject({ status: 200, body: { prefix, revoked: true } })
  const at = performance.now()
  let refused: { status: number; body: any } | undefined
  await until('the other process to refuse the key', async () => {
    refused = await post(b, api_key, ev(`r-${Math.random()}`))
    return refused.status !== 200
  }, 5_000)
  const delayMs = performance.now() - at
  expect(refused).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } })
  expect(delayMs).toBeLessThan(2_000)
  console.log(`cross-process: revocation through A refused by B after ${delayMs.toFixed(0)} ms (KEY_CACHE_TTL_MS 5000)`)
})

test('a plan change through one process is the limit on the other at once', async () => {
  const { id, api_key } = await createProject(a.url, 1_000_000)
  expect((await post(b, api_key, ev('p1'))).headers.get('ratelimit-limit')).toBe('1000000')
  const patched = await json(`${a.url}/admin/projects/${id}`, { method: 'PATCH', headers: admin, body: JSON.stringify({ rate_limit_rpm: 6_000 }) })
  expect(patched.status).toBe(200)
  await until('the other process to apply the new plan', async () =>
    (await post(b, api_key, ev(`p-${Math.random()}`))).headers.get('ratelimit-limit') === '6000', 2_000)
})

test('a stream on one process sees the events ingested through the other', async () => {
  const { api_key } = await createProject(a.url)
  const stream = readStream(await fetch(`${b.url}/v1/events/stream`, { headers: { authorization: `Bearer ${api_key}` } }))
  try {
    expect(stream.status).toBe(200)
    expect((await stream.next()).event).toBe('ready')
    // The announcement reaches A through Postgres: give it a moment, then send.
    await Bun.sleep(200)
    const sent = performance.now()
    const big = 'x'.repeat(20_000)
    expect((await post(a, api_key, { events: [ev('s1', { properties: { n: 1 } }), ev('s2'), ev('s-big', { properties: { big } })] }, '/v1/events/batch')).status).toBe(200)
    const got = await stream.until(m => m.event === 'lagged', 10_000)
    const delayMs = performance.now() - sent
    expect(eventsOf(got).map(e => [e.durable_in, e.event.id, e.event.properties])).toEqual([
      ['postgres', 's1', { n: 1 }], ['postgres', 's2', {}],
    ])
    // The event too big for one notice is said to be missed, not silently dropped.
    expect(JSON.parse(got.at(-1)!.data)).toEqual({ missed: 1 })
    console.log(`cross-process: stream on B saw events ingested through A ${delayMs.toFixed(0)} ms after the request was sent`)
  } finally {
    await stream.cancel()
  }
})

test('a refusal made by one process is in the rejection log read through the other', async () => {
  const { api_key } = await createProject(a.url)
  const bad = await post(a, api_key, { events: [ev('ok-1'), { id: 'bad-1', name: 42 }] }, '/v1/events/batch')
  expect(bad.status).toBe(200)
  let data: any[] = []
  await until('the refusal to reach the other process', async () => {
    data = (await json(`${b.url}/v1/debug/rejections`, { headers: { authorization: `Bearer ${api_key}` } })).body.data
    return data.length > 0
  }, 3_000)
  expect(data).toHaveLength(1)
  expect(data[0]).toMatchObject({ status: 422, code: 'validation_failed', id: 'bad-1', index: 1 })
})
