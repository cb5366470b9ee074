// What the day index (day-index.ts) reads from Postgres, in a report's snapshot: the
// counters each day must equal, and the days themselves.

import type { Sql } from './db'
import { ANY, build, DAY_MS, type DayView } from './day-views'

// What a report asks for: a name (ANY for the users of a day) over days [fromDay, toDay).
export interface Want { name: string; fromDay: number; toDay: number }

// The report should start again in a new snapshot: a day's rows did not number its
// counter in this one (see load), or a commit was told after it was taken.
export class Raced extends Error {}

// The counter each wanted day must equal, by name and day; absent = 0.
export async function counts(tx: Sql, projectId: number, wants: Want[]): Promise<Map<string, Map<number, number>>> {
  const out = new Map<string, Map<number, number>>(wants.map(w => [w.name, new Map()]))
  const named = wants.filter(w => w.name !== ANY)
  const any = wants.find(w => w.name === ANY)
  const at = (day: number) => new Date(day * DAY_MS)
  const reads: Promise<void>[] = []
  if (named.length > 0) {
    const from = Math.min(...named.map(w => w.fromDay)), to = Math.max(...named.map(w => w.toDay))
    reads.push(tx`
      select name, floor(extract(epoch from bucket) / 86400)::int as d, sum(events)::float8 as n from event_counts_hour
      where project_id = ${projectId} and bucket >= ${at(from)} and bucket < ${at(to)} and name = any(${named.map(w => w.name)})
      group by 1, 2`.then(rows => { for (const r of rows) out.get(r.name)!.set(r.d, r.n) }))
  }
  if (any !== undefined) {
    reads.push(tx`
      select (bucket - date '1970-01-01') as d, sum(users)::float8 as n from user_counts_day
      where project_id = ${projectId} and name = ${ANY} and bucket >= ${at(any.fromDay)}::date and bucket < ${at(any.toDay)}::date
      group by 1`.then(rows => { for (const r of rows) out.get(ANY)!.set(r.d, r.n) }))
  }
  await Promise.all(reads)
  return out
}

// The views of `days` (ascending) of one name, read in `tx`'s snapshot. Each day's
// rows must number what its counter says: a partition made for a day whose rows
// waited in events_default (partitions.ts) moves them in a transaction that a
// snapshot taken before it does not see, yet the plan, made from the current
// catalog, reads the new partition alone: those rows vanish from that snapshot.
// Then this throws Raced and the report starts again in a new one. Days before
// `keepFrom` (being retained away, or erased) are not checked.
export async function load(tx: Sql, projectId: number, uid: (key: string) => number, name: string, days: number[],
  counts: Map<number, number> | undefined, keepFrom: number): Promise<Map<number, DayView>> {
  const byDay = new Map<number, { rows: number; users: number[]; times: number[] }>()
  const rowsOf = (d: number) => {
    let b = byDay.get(d)
    if (b === undefined) byDay.set(d, (b = { rows: 0, users: [], times: [] }))
    return b
  }
  // Runs of consecutive days, one range read each.
  for (let i = 0; i < days.length;) {
    let j = i + 1
    while (j < days.length && days[j] === days[j - 1] + 1) j++
    const from = new Date(days[i] * DAY_MS), to = new Date((days[j - 1] + 1) * DAY_MS)
    if (name === ANY) {
      const rows = await tx`
        select user_key as u, (day - date '1970-01-01') as d from event_users_day
        where project_id = ${projectId} and name = ${ANY} and day >= ${from}::date and day < ${to}::date`
      for (const r of rows) {
        const b = rowsOf(r.d)
        b.rows++
        b.users.push(uid(r.u))
      }
    } else {
      // Events without a user too: the counter counts them.
      const rows = await tx`
        select coalesce(user_id, anonymous_id) as u, (extract(epoch from "timestamp") * 1000)::float8 as t from events
        where project_id = ${projectId} and name = ${name} and "timestamp" >= ${from} and "timestamp" < ${to}`
      for (const r of rows) {
        const b = rowsOf(Math.floor(r.t / DAY_MS))
        b.rows++
        if (r.u === null) continue
        b.users.push(uid(r.u))
        b.times.push(r.t)
      }
    }
    i = j
  }
  for (const d of days) {
    if (d >= keepFrom && (byDay.get(d)?.rows ?? 0) !== (counts?.get(d) ?? 0)) {
      throw new Raced(`the rows of ${JSON.stringify(name)} on day ${d} moved while they were read`)
    }
  }
  const out = new Map<number, DayView>()
  for (const [d, b] of byDay) out.set(d, build(b.users, b.times, name === ANY))
  return out
}
