// The funnel report, from users' first times per event name and UTC day
// (event_users_day.first_at, sql/011) instead of every step's raw events.
//
// The definition (the same as test/reports/brute.ts): a user enters at their first
// step-1 event in [from, to); each later step is the earliest event of its name at or
// after the previous step, at most `within` after the entry. Taking the earliest is
// optimal for a fixed entry, so this counts every user who can complete each step.
//
// Why first times per day answer it exactly, nearly always: the earliest event of a
// name at or after `prev` is the first time of the first day after prev's day that
// has one, or the first time of prev's own day if that is not before prev. Only when
// prev's day has an earlier event of that name than prev is the summary silent about
// what follows prev that day; for those users alone, one indexed lookup in the raw
// events of that name, that user and the rest of that day decides (a lateral LIMIT 1).
// The entry is the same: first times of the days inside [from, to) are exact, and
// when `from` falls inside a day, that day's step-1 events from `from` on are read raw
// (at most one day of one name).

import { assert } from '../assert'
import type { Sql } from './db'
import { bounded, type ReportLimits } from './reports'

export interface FunnelQuery { fromMs: number; toMs: number; steps: string[]; withinS: number }
export interface FunnelStep { name: string; users: number; conversion: number }

const DAY_MS = 86_400_000
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
// A UTC timestamptz's day, and the start of the next one.
const DAY_OF = (t: string) => `((${t} at time zone 'UTC')::date)`
const NEXT_DAY = (t: string) => `((${DAY_OF(t)} + 1)::timestamp at time zone 'UTC')`

export async function funnelReport(sql: Sql, projectId: number, q: FunnelQuery, limits: ReportLimits): Promise<FunnelStep[]> {
  assert(q.steps.length >= 1 && new Set(q.steps).size === q.steps.length, 'funnel steps are distinct')
  assert(q.fromMs < q.toMs, 'funnel range is not empty')
  const from = new Date(q.fromMs), to = new Date(q.toMs)
  const fromDayEnd = new Date(Math.min(Math.floor(q.fromMs / DAY_MS) * DAY_MS + DAY_MS, q.toMs))
  // Days whose first times can matter: entries up to `to`, later steps up to to + within.
  const firstDay = day(q.fromMs), lastEntryDay = day(q.toMs - 1), lastDay = day(q.toMs - 1 + q.withinS * 1000)
  const within = `${q.withinS} * interval '1 second'`
  // Hashed joins and groupings, never sorted (bounded()).
  const rows = await bounded(sql, limits, 'funnel', async tx => {
    // `from` inside a day: that day's first time may be before `from` and hide the entry.
    const partial = q.fromMs % DAY_MS !== 0
    const later = q.steps.slice(1).map((name, i) => {
      const prev = tx.unsafe(`s${i + 1}`), cur = tx.unsafe(`s${i + 2}`), joined = tx.unsafe(`j${i + 2}`)
      return tx`,
      ${joined} as (
        -- One pass over this name's first times: the earliest at or after prev within the
        -- window, and whether prev's own day has one before prev (then what follows prev
        -- that day is not in the summary).
        select s.u, s.t1, s.t,
               min(d.first_at) filter (where d.first_at >= s.t and d.first_at <= s.t1 + ${tx.unsafe(within)}) as m,
               bool_or(d.day = ${tx.unsafe(DAY_OF('s.t'))} and d.first_at < s.t) as amb
        from ${prev} s join event_users_day d
          on d.project_id = ${projectId} and d.name = ${name} and d.user_key = s.u
         and d.day >= ${firstDay}::date and d.day <= ${lastDay}::date and d.day >= ${tx.unsafe(DAY_OF('s.t'))}
         -- Days past the user's window hold no candidate (their first times are later
         -- than it), and prev's own day is inside it: leaving them out changes neither
         -- m nor amb, only how many rows are grouped (all the user's later days, before).
         and d.day <= ${tx.unsafe(DAY_OF(`(s.t1 + ${within})`))}
        group by s.u, s.t1, s.t
      ), ${cur} as (
        -- Only the ambiguous users go through the lookup: a lateral join is run once per
        -- row it is given, even when its filter is false at once (measured at 2M events,
        -- 30 days: 77k of them cost 160 ms of a 5-step funnel's 950).
        select j.u, j.t1, j.m as t from ${joined} j where not j.amb and j.m is not null
        union all
        select j.u, j.t1, least(j.m, x.t) as t from ${joined} j
        left join lateral (
          select e."timestamp" as t from events e
          where e.project_id = ${projectId} and e.name = ${name}
            and e."timestamp" >= j.t and e."timestamp" < ${tx.unsafe(NEXT_DAY('j.t'))}
            and e."timestamp" <= j.t1 + ${tx.unsafe(within)}
            and coalesce(e.user_id, e.anonymous_id) = j.u
          order by e."timestamp" limit 1) x on true
        where j.amb and (j.m is not null or x.t is not null)
      )`
    })
    const counts = q.steps.map((_, i) => tx.unsafe(`${i ? 'union all ' : ''}select ${i} as k, count(*)::int8 as n from s${i + 1}`))
    return await tx`
      with r1 as (
        select coalesce(user_id, anonymous_id) as u, min("timestamp") as t from events
        where ${partial ? tx`true` : tx`false`} and project_id = ${projectId} and name = ${q.steps[0]}
          and "timestamp" >= ${from} and "timestamp" < ${fromDayEnd}
          and coalesce(user_id, anonymous_id) is not null
        group by 1
      ), s1 as (
        select u, min(t) as t1, min(t) as t from (
          select user_key as u, first_at as t from event_users_day
          where project_id = ${projectId} and name = ${q.steps[0]}
            and day >= ${firstDay}::date and day <= ${lastEntryDay}::date and first_at >= ${from} and first_at < ${to}
          union all
          select u, t from r1
        ) x group by u
      ) ${later}
      ${counts}`
  })
  const users = new Array<number>(q.steps.length).fill(0)
  for (const r of rows) users[r.k as number] = r.n as number
  return q.steps.map((name, i) => ({ name, users: users[i], conversion: users[0] ? users[i] / users[0] : 0 }))
}
