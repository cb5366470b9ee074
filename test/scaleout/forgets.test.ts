// The forget notice (src/store/forgets.ts) between two real buses on the test
// database: up to FORGET_PROJECTS_MAX projects are named, one more says `all`, and
// the largest project ids still fit one NOTIFY.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { loadConfig } from '../../src/config'
import { Bus } from '../../src/store/bus'
import { connect, type Sql } from '../../src/store/db'
import { announceForget, FORGET_PROJECTS_MAX, type Forgotten, onForget } from '../../src/store/forgets'
import { until } from '../durability/support'

const url = process.env.INLET_TEST_DATABASE_URL!
const limits = loadConfig({}).limits
const clients: Sql[] = []
const client = () => { const c = connect(url, { ...limits, PG_POOL_MAX: 1 }, () => {}); clients.push(c); return c }
let sender: Bus
let receiver: Bus
const heard: Forgotten[] = []

beforeAll(async () => {
  sender = new Bus(client(), client, 1, () => {})
  receiver = new Bus(client(), client, 1, () => {})
  onForget(receiver, what => heard.push(what))
  await sender.start()
  await receiver.start()
  heard.length = 0 // the first LISTEN says `relisten`: everything is forgotten once at start
})

afterAll(async () => {
  await sender?.stop()
  await receiver?.stop()
  for (const c of clients) await c.end({ timeout: 1 })
})

const next = async () => {
  await until('the forget notice', () => heard.length > 0, 5_000)
  return heard.shift()
}

test('a notice names up to FORGET_PROJECTS_MAX projects, ten-digit ids included, and says all past it', async () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => 9_999_999_999 - i)
  expect(announceForget(sender, ids(FORGET_PROJECTS_MAX))).toBe(true)
  expect(await next()).toEqual(ids(FORGET_PROJECTS_MAX))
  expect(announceForget(sender, ids(FORGET_PROJECTS_MAX + 1))).toBe(true)
  expect(await next()).toBe('all')
  expect(announceForget(sender, [7])).toBe(true)
  expect(await next()).toEqual([7])
})

test('a forget is sent even when the relay traffic has taken every in-flight notify', async () => {
  // inflightMax is 1: a relay message in flight refuses the next relay message, not a forget.
  expect(sender.publish({ k: 'relay-filler' })).toBe(true)
  expect(sender.publish({ k: 'relay-filler' })).toBe(false)
  expect(announceForget(sender, [8])).toBe(true)
  expect(await next()).toEqual([8])
})
