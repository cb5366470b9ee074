import { expect, test } from 'bun:test'
import { MemoryGovernor } from '../../src/memory'
import { createMetrics } from '../../src/metrics'

// The governor's policy with RSS read from a variable: when it collects and when not.
function governor(softBytes: number, intervalMsMin: number) {
  const metrics = createMetrics()
  const state = { rss: 0, collected: 0 }
  const g = new MemoryGovernor(softBytes, intervalMsMin, 50, metrics, () => state.rss, () => { state.collected++ })
  return { g, state, metrics }
}

test('collects above the soft bound and not at it', () => {
  const { g, state, metrics } = governor(1000, 200)
  state.rss = 1000
  expect(g.check(0)).toBe(false)
  state.rss = 1001
  expect(g.check(1)).toBe(true)
  expect(state.collected).toBe(1)
  expect(metrics.gcForced.get()).toBe(1)
})

test('at most one collection per interval, however high RSS stays', () => {
  const { g, state } = governor(1000, 200)
  state.rss = 5000
  expect(g.check(1000)).toBe(true)
  expect(g.check(1199)).toBe(false)
  expect(g.check(1200)).toBe(true)
  expect(state.collected).toBe(2)
})

test('a bound of 0 never collects', () => {
  const { g, state } = governor(0, 10)
  state.rss = Number.MAX_SAFE_INTEGER
  expect(g.check(0)).toBe(false)
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
