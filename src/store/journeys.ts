// Funnels and retention: reports that follow each user through time, computed over
// the day index (day-index.ts: per name and UTC day, every event's time by user;
// per day, its users) in one repeatable-read transaction, so every view is of one
// snapshot. The definitions are those of test/reports/brute.ts.

import { assert } from '../assert'
import type { Sql } from './db'
import { consistently, type DayIndex } from './day-index'
import { ANY, DAY_MS, find, firstAtOrAfter } from './day-views'
import { bounded, floorTo, INTERVAL_MS, type ReportLimits, type RetentionInterval } from './reports'

export interface FunnelQuery { fromMs: number; toMs: number; steps: string[]; withinS: number }
export interface FunnelStep { name: string; users: number; conversion: number }

const dayOf = (ms: number) => Math.floor(ms / DAY_MS)

// A user enters at their first step-1 event in [from, to); each later step is the
// earliest event of its name at or after the previous step, at most `within` after
// the entry. Taking the earliest is optimal for a fixed entry, so this counts every
// user who can complete each step.
export async function funnelReport(sql: Sql, index: DayIndex, projectId: number, q: FunnelQuery, limits: ReportLimits): Promise<FunnelStep[]> {
  assert(q.steps.length >= 1 && new Set(q.steps).size === q.steps.length, 'funnel steps are distinct')
  assert(q.fromMs < q.toMs, 'funnel range is not empty')
  const withinMs = q.withinS * 1000
  const firstDay = dayOf(q.fromMs), entryEnd = dayOf(q.toMs - 1) + 1, end = dayOf(q.toMs - 1 + withinMs) + 1
  const views = await consistently(lastTry => bounded(sql, limits, 'funnel', tx => index.views(tx, projectId, q.steps.map((name, k) =>
    ({ name, fromDay: firstDay, toDay: k === 0 ? entryEnd : end })), lastTry), 'custom', 'transaction'))
  const days = q.steps.map(name => views.days(name))
  const entry = new Float64Array(views.users), at = new Float64Array(views.users)
  let active: number[] = []
  const seen = new Uint8Array(views.users)
  for (let d = firstDay; d < entryEnd; d++) {
    const v = days[0].views[d - firstDay]
    for (let i = 0; i < v.users.length; i++) {
      const u = v.users[i]
      if (seen[u]) continue
      const j = firstAtOrAfter(v, i, q.fromMs)
      if (j < v.start[i + 1] && v.times[j] < q.toMs) {
        seen[u] = 1
        entry[u] = at[u] = v.times[j]
        active.push(u)
      }
    }
  }
  const users = [active.length]
  for (let k = 1; k < q.steps.length; k++) {
    const next: number[] = []
    for (const u of active) {
      const limit = entry[u] + withinMs
      for (let d = dayOf(at[u]); d <= dayOf(limit) && d < end; d++) {
        const v = days[k].views[d - firstDay]
        const i = find(v, u)
        if (i < 0) continue
        const j = firstAtOrAfter(v, i, at[u])
        if (j === v.start[i + 1]) continue
        if (v.times[j] <= limit) { at[u] = v.times[j]; next.push(u) }
        break
      }
    }
    users.push(next.length)
    active = next
  }
  return q.steps.map((name, i) => ({ name, users: users[i], conversion: users[0] ? users[i] / users[0] : 0 }))
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
  const views = await consistently(lastTry => bounded(sql, limits, 'retention', tx => index.views(tx, projectId, wants, lastTry), 'custom', 'transaction'))
  // Each user's cohort, as the first day of its period (-1: none); days ascending,
  // so the first day seen is the user's first.
  const cohortDays = views.days(q.cohortEvent), returnDays = views.days(returnName)
  const cohortOf = new Float64Array(views.users).fill(-1)
  const cohortStarts: number[] = []
  for (let ms = floorTo(q.fromMs, q.interval); ms < q.toMs; ms += size) cohortStarts.push(dayOf(ms))
  const cohortIndex = new Map(cohortStarts.map((d, i) => [d, i]))
  const sizes = new Array<number>(cohortStarts.length).fill(0)
  const periodOf = (day: number) => dayOf(floorTo(day * DAY_MS, q.interval))
  for (let d = fromDay; d < toDay; d++) {
    const v = cohortDays.views[d - cohortDays.fromDay]
    for (let i = 0; i < v.users.length; i++) {
      const u = v.users[i]
      if (cohortOf[u] !== -1) continue
      cohortOf[u] = periodOf(d)
      sizes[cohortIndex.get(cohortOf[u])!]++
    }
  }
  const retained = cohortStarts.map(() => new Array<number>(q.periods).fill(0))
  // The last period each user was counted in: days ascending, so periods are too.
  const counted = new Float64Array(views.users).fill(-1)
  for (let d = fromDay; d < returnsTo; d++) {
    const v = returnDays.views[d - returnDays.fromDay]
    const k0 = periodOf(d)
    for (let i = 0; i < v.users.length; i++) {
      const u = v.users[i], cp = cohortOf[u]
      if (cp === -1 || d < cp || d >= cp + q.periods * periodDays) continue
      const k = (k0 - cp) / periodDays
      if (counted[u] === k) continue
      counted[u] = k
      retained[cohortIndex.get(cp)!][k]++
    }
  }
  return cohortStarts.map((d, i) => ({ cohort: new Date(d * DAY_MS).toISOString(), users: sizes[i], retained: retained[i] }))
}
