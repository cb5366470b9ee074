// The key cache while Postgres is away: a key seen before keeps working for
// KEY_CACHE_STALE_IF_ERROR_MS past its TTL (the longest a revoked key can live on
// during an outage) and then gets 503; a key never seen answers 503 at once instead
// of waiting on a dead database.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { KeyCache } from '../../src/http/auth'
import { startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet() })
afterAll(async () => { await inlet.stop() })

test('with Postgres known down, a cached key keeps working after its TTL within KEY_CACHE_STALE_IF_ERROR_MS and an unknown key gets 503', async () => {
  const { id, api_key } = await inlet.project()
  let up = true
  const cache = new KeyCache(inlet.sql, 10, 0, () => up, 60_000)
  expect((await cache.resolve(api_key)).projectId).toBe(id)
  up = false
  expect((await cache.resolve(api_key)).projectId).toBe(id)
  const error = await cache.resolve('ik_neverseen_x').catch(e => e)
  expect([error.status, error.code, error.retryAfterS]).toEqual([503, 'unavailable', 1])
})

test('with Postgres known down, a cached key past KEY_CACHE_STALE_IF_ERROR_MS gets 503, not a stale 200', async () => {
  const { id, api_key } = await inlet.project()
  let up = true
  // TTL 0 and no stale allowance: the entry is past both as soon as it is read.
  const cache = new KeyCache(inlet.sql, 10, 0, () => up, 0)
  expect((await cache.resolve(api_key)).projectId).toBe(id)
  up = false
  await Bun.sleep(5)
  const error = await cache.resolve(api_key).catch(e => e)
  expect([error.status, error.code, error.retryAfterS]).toEqual([503, 'unavailable', 1])
  up = true
  expect((await cache.resolve(api_key)).projectId).toBe(id)
})

test('with Postgres up, a revoked key stops working once its TTL has passed', async () => {
  const { api_key } = await inlet.project()
  const cache = new KeyCache(inlet.sql, 10, 0)
  await cache.resolve(api_key)
  await inlet.sql`update api_keys set revoked_at = now() where prefix = ${api_key.split('_').slice(0, 2).join('_')}`
  const error = await cache.resolve(api_key).catch(e => e)
  expect([error.status, error.code]).toEqual([401, 'unauthorized'])
})

// A lost LISTEN (store/bus.ts) may have missed a revocation, so every key is asked
// again; an announced change forgets the key outright. Only the first keeps a key
// working if Postgres goes away right after.
test('after recheck() a key is asked again, yet still works stale while Postgres is down; after clear() it gets 503', async () => {
  const { id, api_key } = await inlet.project()
  let up = true
  const cache = new KeyCache(inlet.sql, 10, 60_000, () => up, 60_000)
  expect((await cache.resolve(api_key)).projectId).toBe(id)
  expect(cache.fresh(api_key)?.projectId).toBe(id)
  cache.recheck()
  expect(cache.fresh(api_key)).toBeUndefined()
  up = false
  expect((await cache.resolve(api_key)).projectId).toBe(id)
  cache.clear()
  const error = await cache.resolve(api_key).catch(e => e)
  expect([error.status, error.code, error.retryAfterS]).toEqual([503, 'unavailable', 1])
  up = true
  await inlet.sql`update api_keys set revoked_at = now() where prefix = ${api_key.split('_').slice(0, 2).join('_')}`
  const revoked = await cache.resolve(api_key).catch(e => e)
  expect([revoked.status, revoked.code]).toEqual([401, 'unauthorized'])
})
