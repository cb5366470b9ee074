import { expect, test } from 'bun:test'
import { MemoryGovernor } from '../../src/memory'
import { createMetrics } from '../../src/metrics'

// The governor's policy with RSS read from a variable and time from a fake clock; a
// collection takes `gcMs` of that clock.
function governor(softBytes: number, intervalMsMin: number, loopPercentMax = 50) {
  const metrics = createMetrics()
  const state = { rss: 0, now: 0, gcMs: 0, collected: 0 }
  const g = new MemoryGovernor(softBytes, intervalMsMin, loopPercentMax, metrics, () => state.rss,
    () => { state.collected++; state.now += state.gcMs }, () => state.now)
  return { g, state, metrics }
}

test('collects above the soft bound and not at it', () => {
  const { g, state, metrics } = governor(1000, 200)
  state.rss = 1000
  expect(g.check()).toBe(false)
  state.rss = 1001
  expect(g.check()).toBe(true)
  expect(state.collected).toBe(1)
  expect(metrics.gcForced.get()).toBe(1)
})

test('at most one collection per interval, however high RSS stays', () => {
  const { g, state } = governor(1000, 200)
  state.rss = 5000
  state.now = 1000
  expect(g.check()).toBe(true)
  state.now = 1199
  expect(g.check()).toBe(false)
  state.now = 1200
  expect(g.check()).toBe(true)
  expect(state.collected).toBe(2)
})

test('a slow collection spaces the next by the loop share: 100 ms at 20% waits 400 ms', () => {
  const { g, state, metrics } = governor(1000, 10, 20)
  state.rss = 5000
  state.gcMs = 100
  expect(g.check()).toBe(true) // runs 0..100
  expect(metrics.gcForcedSeconds.get()).toBeCloseTo(0.1)
  state.now = 399
  expect(g.check()).toBe(false)
  state.now = 400
  expect(g.check()).toBe(true)
  expect(state.collected).toBe(2)
})

test('a bound of 0 never collects', () => {
  const { g, state } = governor(0, 10)
  state.rss = Number.MAX_SAFE_INTEGER
  expect(g.check()).toBe(false)
  g.start()
  g.stop()
  expect(state.collected).toBe(0)
})

test('the real collector runs and its time is counted', () => {
  const metrics = createMetrics()
  const g = new MemoryGovernor(1, 10, 50, metrics)
  expect(g.check()).toBe(true)
  expect(metrics.gcForced.get()).toBe(1)
  expect(metrics.gcForcedSeconds.get()).toBeGreaterThan(0)
})
