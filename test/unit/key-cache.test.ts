// The key cache while Postgres is away: a key seen before keeps working, a key
// never seen answers 503 at once instead of waiting on a dead database.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { KeyCache } from '../../src/http/auth'
import { startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet() })
afterAll(async () => { await inlet.stop() })

test('with Postgres known down, a cached key keeps working after its TTL and an unknown key gets 503', async () => {
  const { id, api_key } = await inlet.project()
  let up = true
  const cache = new KeyCache(inlet.sql, 10, 0, () => up)
  expect((await cache.resolve(api_key)).projectId).toBe(id)
  up = false
  expect((await cache.resolve(api_key)).projectId).toBe(id)
  const error = await cache.resolve('ik_neverseen_x').catch(e => e)
  expect([error.status, error.code, error.retryAfterS]).toEqual([503, 'unavailable', 1])
})

test('with Postgres up, a revoked key stops working once its TTL has passed', async () => {
  const { api_key } = await inlet.project()
  const cache = new KeyCache(inlet.sql, 10, 0)
  await cache.resolve(api_key)
  await inlet.sql`update api_keys set revoked_at = now() where prefix = ${api_key.split('_').slice(0, 2).join('_')}`
  const error = await cache.resolve(api_key).catch(e => e)
  expect([error.status, error.code]).toEqual([401, 'unauthorized'])
})
