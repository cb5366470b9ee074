// Funnels and retention: reports that follow each user through time, computed over
// the day index (day-index.ts: per name and UTC day, every event's time by user;
// per day, its users) in one repeatable-read transaction, so every view is of one
// snapshot. The definitions are those of test/reports/brute.ts.

import { assert } from '../assert'
import type { Sql } from './db'
import type { DayIndex } from './day-index'
import { ANY, DAY_MS, find, firstAtOrAfter } from './day-views'
import { floorTo, INTERVAL_MS, type ReportLimits, type RetentionInterval, withViews } from './reports'

export interface FunnelQuery { fromMs: number; toMs: number; steps: string[]; withinS: number }
export interface FunnelStep { name: string; users: number; conversion: number }

const dayOf = (ms: number) => Math.floor(ms / DAY_MS)

// A value per user id, reused by every report: they compute one at a time on this
// thread once their views are read, and a stamp per user says whether the current
// one wrote its slot, so nothing is cleared between reports (zeroing arrays the
// size of a project's users cost ~1 ms each per report). As large as the largest
// project's user ids, which the day index bounds (REPORT_INDEX_BYTES_MAX).
class PerUser {
  private stamp = new Int32Array(0)
  private value = new Float64Array(0)
  private gen = 0
  begin(users: number): this {
    if (this.stamp.length < users) {
      const size = Math.max(users, Math.ceil(this.stamp.length * 1.5))
      this.stamp = new Int32Array(size)
      this.value = new Float64Array(size)
      this.gen = 0
    }
    if (++this.gen === 0x7fffffff) { this.stamp.fill(0); this.gen = 1 }
    return this
  }
  has(u: number): boolean { return this.stamp[u] === this.gen }
  get(u: number): number { return this.value[u] }
  set(u: number, x: number): void { this.stamp[u] = this.gen; this.value[u] = x }
}
const SEEN = new PerUser(), COHORT = new PerUser(), COUNTED = new PerUser()

// Reports compute one at a time (they share the arrays above), and each gives the
// event loop back every SLICE_MS, so that ingest acks and other requests do not wait
// behind a 30-day report's ~15-30 ms of arithmetic (measured under 1,000 events/s of
// ingest: its p99 27 ms with reports computed in one piece).
const SLICE_MS = 3
let turn: Promise<unknown> = Promise.resolve()
class Slicer {
  private until = performance.now() + SLICE_MS
  due(): boolean { return performance.now() >= this.until }
  async pause(): Promise<void> {
    await new Promise(resolve => setImmediate(resolve))
    this.until = performance.now() + SLICE_MS
  }
}
function computing<T>(fn: (slicer: Slicer) => Promise<T>): Promise<T> {
  const run = turn.then(() => fn(new Slicer()))
  turn = run.catch(() => {})
  return run
}

// A user enters at their first step-1 event in [from, to); each later step is the
// earliest event of its name at or after the previous step, at most `within` after
// the entry. Taking the earliest is optimal for a fixed entry, so this counts every
// user who can complete each step.
export async function funnelReport(sql: Sql, index: DayIndex, projectId: number, q: FunnelQuery, limits: ReportLimits): Promise<FunnelStep[]> {
  assert(q.steps.length >= 1 && new Set(q.steps).size === q.steps.length, 'funnel steps are distinct')
  assert(q.fromMs < q.toMs, 'funnel range is not empty')
  const withinMs = q.withinS * 1000
  const firstDay = dayOf(q.fromMs), entryEnd = dayOf(q.toMs - 1) + 1, end = dayOf(q.toMs - 1 + withinMs) + 1
  const views = await withViews(sql, limits, 'funnel', (tx, lastTry) => index.views(tx, projectId, q.steps.map((name, k) =>
    ({ name, fromDay: firstDay, toDay: k === 0 ? entryEnd : end })), lastTry))
  const counts = await computing(async slicer => {
    const days = q.steps.map(name => views.days(name))
    // The users still in, in parallel arrays: id, entry time, time of the last step.
    let ids: number[] = [], entries: number[] = [], ats: number[] = []
    const seen = SEEN.begin(views.users)
    for (let d = firstDay; d < entryEnd; d++) {
      if (slicer.due()) await slicer.pause()
      const v = days[0].views[d - firstDay]
      for (let i = 0; i < v.users.length; i++) {
        const u = v.users[i]
        if (seen.has(u)) continue
        // Past the first day every time is at or after `from`.
        const j = d === firstDay ? firstAtOrAfter(v, i, q.fromMs) : v.start[i]
        if (j < v.start[i + 1] && v.times[j] < q.toMs) {
          seen.set(u, 1)
          ids.push(u); entries.push(v.times[j]); ats.push(v.times[j])
        }
      }
    }
    const users = [ids.length]
    for (let k = 1; k < q.steps.length; k++) {
      const next: number[] = [], nextEntries: number[] = [], nextAts: number[] = []
      const stepDays = days[k].views
      for (let n = 0; n < ids.length; n++) {
        if ((n & 1023) === 0 && slicer.due()) await slicer.pause()
        const u = ids[n], at = ats[n], limit = entries[n] + withinMs
        for (let d = dayOf(at), last = Math.min(dayOf(limit), end - 1); d <= last; d++) {
          const v = stepDays[d - firstDay]
          const i = find(v, u)
          if (i < 0) continue
          const j = firstAtOrAfter(v, i, at)
          if (j === v.start[i + 1]) continue
          if (v.times[j] <= limit) { next.push(u); nextEntries.push(entries[n]); nextAts.push(v.times[j]) }
          break
        }
      }
      users.push(next.length)
      ids = next; entries = nextEntries; ats = nextAts
    }
    return users
  })
  return q.steps.map((name, i) => ({ name, users: counts[i], conversion: counts[0] ? counts[i] / counts[0] : 0 }))
}

export interface RetentionQuery {
  fromMs: number; toMs: number; interval: RetentionInterval; periods: number
  cohortEvent: string; returnEvent: string | null // null: any event
}
export interface Cohort { cohort: string; users: number; retained: number[] }

// A user's cohort is the period of their first cohort_event in [from, to);
// retained[k] counts the cohort's users with return_event on some day of the k-th
// period after the cohort's own (k = 0 is that period), also past `to`.
export async function retentionReport(sql: Sql, index: DayIndex, projectId: number, q: RetentionQuery, limits: ReportLimits): Promise<Cohort[]> {
  const size = INTERVAL_MS[q.interval], periodDays = size / DAY_MS
  assert(q.fromMs % DAY_MS === 0 && q.toMs % DAY_MS === 0 && q.fromMs < q.toMs, 'retention range is whole days')
  const fromDay = dayOf(q.fromMs), toDay = dayOf(q.toMs), returnsTo = dayOf(q.toMs + q.periods * size)
  const returnName = q.returnEvent ?? ANY
  const wants = [{ name: q.cohortEvent, fromDay, toDay }]
  if (returnName === q.cohortEvent) wants[0].toDay = returnsTo
  else wants.push({ name: returnName, fromDay, toDay: returnsTo })
  const views = await withViews(sql, limits, 'retention', (tx, lastTry) => index.views(tx, projectId, wants, lastTry))
  const cohortStarts: number[] = []
  for (let ms = floorTo(q.fromMs, q.interval); ms < q.toMs; ms += size) cohortStarts.push(dayOf(ms))
  const { sizes, retained } = await computing(async slicer => {
    const cohortDays = views.days(q.cohortEvent), returnDays = views.days(returnName)
    // Each user's cohort, as the first day of its period; days ascending, so the
    // first day seen is the user's first.
    const cohortOf = COHORT.begin(views.users)
    const cohortIndex = new Map(cohortStarts.map((d, i) => [d, i]))
    const sizes = new Array<number>(cohortStarts.length).fill(0)
    const periodOf = (day: number) => dayOf(floorTo(day * DAY_MS, q.interval))
    for (let d = fromDay; d < toDay; d++) {
      if (slicer.due()) await slicer.pause()
      const v = cohortDays.views[d - cohortDays.fromDay]
      for (let i = 0; i < v.users.length; i++) {
        const u = v.users[i]
        if (cohortOf.has(u)) continue
        const cp = periodOf(d)
        cohortOf.set(u, cp)
        sizes[cohortIndex.get(cp)!]++
      }
    }
    const retained = cohortStarts.map(() => new Array<number>(q.periods).fill(0))
    // The last period each user was counted in: days ascending, so periods are too.
    const counted = COUNTED.begin(views.users)
    for (let d = fromDay; d < returnsTo; d++) {
      if (slicer.due()) await slicer.pause()
      const v = returnDays.views[d - returnDays.fromDay]
      const k0 = periodOf(d)
      for (let i = 0; i < v.users.length; i++) {
        const u = v.users[i]
        if (!cohortOf.has(u)) continue
        const cp = cohortOf.get(u)
        if (d < cp || d >= cp + q.periods * periodDays) continue
        const k = (k0 - cp) / periodDays
        if (counted.has(u) && counted.get(u) === k) continue
        counted.set(u, k)
        retained[cohortIndex.get(cp)!][k]++
      }
    }
    return { sizes, retained }
  })
  return cohortStarts.map((d, i) => ({ cohort: new Date(d * DAY_MS).toISOString(), users: sizes[i], retained: retained[i] }))
}
