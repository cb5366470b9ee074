// What funnels and retention read, kept in memory per project, event name and UTC
// day, exact at every instant: for a name, every event's time by user; under ''
// (any event), the users of the day. A funnel or retention report then walks typed
// arrays (journeys.ts) instead of joining tens of thousands of user keys in SQL per
// step (a 3-step 7-day funnel of the 2M-event project: ~0.5 s of Postgres CPU each,
// so 100 dashboard users saturated both cores: bench/results/reports-10m.md).
//
// Why a kept entry is exactly what Postgres holds, checked by every report in its
// own repeatable-read transaction (snapshot S):
// - An entry is loaded in one snapshot L, with the counter that measures it read in
//   L too: a name's events of that day (event_counts_hour), or the day's distinct
//   users (user_counts_day under ''). Rows are only ever added to a day, except by
//   erasure and retention, handled below; so the rows of L are rows of S.
// - Writes this process commits are appended after their commit (`committed`), each
//   only if its transaction id is not visible in L (then L already holds it), and
//   its count added; an appended write is used in S only once its id is visible in
//   S. So an entry is a set of rows of S, none twice; when its count equals S's
//   counter it is all of them. Otherwise (another process wrote, a commit's answer
//   was lost, a write landed between two reports) it is loaded again, in S.
// - Erasure deletes rows: an entry loaded before a project's latest erasure was
//   requested is dropped, and while one is running nothing of that project is kept.
//   Retention deletes whole days before a cutoff: days within a day of the project's
//   cutoff are read from Postgres every time and never kept.
// Bounded by REPORT_INDEX_BYTES_MAX (typed arrays plus the user-key table, least
// recently used first out).

import { assert } from '../assert'
import { InletError } from '../errors'
import type { EventRow } from '../event'
import type { Sql } from './db'

export const DAY_MS = 86_400_000
// The name under which the users of a day (any event) are kept.
export const ANY = ''

// Sorted by user id; a user's times (named entries) ascending in times[start[i]..start[i+1]).
export interface DayView { readonly users: Int32Array; readonly start: Int32Array; readonly times: Float64Array }
const EMPTY: DayView = { users: new Int32Array(0), start: new Int32Array(1), times: new Float64Array(0) }

// Postgres's pg_snapshot: which transaction ids a snapshot sees as committed.
class Snapshot {
  private constructor(readonly xmin: number, readonly xmax: number, private readonly xip: Set<number>) {}
  static parse(text: string): Snapshot {
    const [xmin, xmax, xip] = text.split(':')
    return new Snapshot(Number(xmin), Number(xmax), new Set(xip ? xip.split(',').map(Number) : []))
  }
  sees(xid: number): boolean {
    return xid < this.xmin || (xid < this.xmax && !this.xip.has(xid))
  }
}

class Entry {
  // Appended after load: rows (user, time) not yet merged into `view`, and the ids of
  // the writes they came from that a report's snapshot has not yet been seen to hold.
  tailUsers: number[] = []
  tailTimes: number[] = []
  // Under ANY, the appended users, so each is added once.
  tailSet = new Set<number>()
  pending: number[] = []
  // The commit count (DayIndex.seq) when it was kept.
  keptAt = 0
  constructor(readonly name: string, readonly day: number, public count: number, readonly loadedIn: Snapshot,
    public view: DayView) {}
  get bytes(): number {
    return 64 + this.view.users.byteLength + this.view.start.byteLength + this.view.times.byteLength + this.tailUsers.length * 16
  }
}

// A project's entries and its user keys, each numbered once (the ids index typed
// arrays; ~72 B + the key per user, counted in the bound).
class ProjectIndex {
  readonly ids = new Map<string, number>()
  keyBytes = 0
  readonly entries = new Map<string, Entry>()
  constructor(readonly epoch: number, private readonly grew: (bytes: number) => void) {}
  uid(key: string): number {
    let id = this.ids.get(key)
    if (id === undefined) {
      this.ids.set(key, (id = this.ids.size))
      const b = 72 + key.length * 2
      this.keyBytes += b
      this.grew(b)
    }
    return id
  }
}

// What a report asks for: names (ANY for the users of a day) over days [fromDay, toDay).
export interface Want { name: string; fromDay: number; toDay: number }

// A report's views, valid for the snapshot it was built in.
export interface Views {
  view(name: string, day: number): DayView
  // User ids are 0 .. users - 1.
  readonly users: number
}

const entryKey = (name: string, day: number) => `${name}\u0001${day}`

// A day's rows did not number its counter in one snapshot (see DayIndex.load).
export class Raced extends Error {
  constructor(readonly name: string, readonly day: number) {
    super(`the rows of ${JSON.stringify(name)} on day ${day} moved while they were read`)
  }
}

// Runs a report that reads the day index, in a new transaction each time, until its
// snapshot is not raced by a partition move (they are seconds apart at most, and rare).
const RACED_TRIES_MAX = 3
export async function consistently<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run()
    } catch (error) {
      if (!(error instanceof Raced)) throw error
      if (attempt === RACED_TRIES_MAX) {
        throw new InletError('unavailable', `events were being moved between partitions while the report read them (${error.message}); try again`,
          undefined, 1, { cause: error })
      }
    }
  }
}

// A committed row as the index needs it, kept a while for days loaded meanwhile.
interface Recent { seq: number; xid: number; projectId: number; name: string; day: number; user: string | null; t: number }

export class DayIndex {
  private readonly projects = new Map<number, ProjectIndex>()
  // Least recently used first: `${projectId}\u0001${entryKey}`.
  private readonly lru = new Map<string, Entry>()
  private bytes = 0
  // Day views served from what was kept, and read from Postgres; rows appended after a commit.
  readonly stats = { kept: 0, loaded: 0, appended: 0 }
  // The last rows this process committed (a ring of `recentMax`): a day loaded in a
  // snapshot that did not see some of them, whose commits were told before the day
  // was kept, gets them from here. Without it, under steady ingest nearly every load
  // of today would miss a commit and be read again by the next report.
  private readonly recent: (Recent | undefined)[]
  private next = 0
  // Commits told so far (rows): an entry kept at `seq` n was told those after n itself.
  private seq = 0

  constructor(private readonly bytesMax: number, private readonly retentionDaysDefault: number, private readonly recentMax = 16_384) {
    this.recent = new Array(recentMax)
  }

  get sizeBytes(): number {
    return this.bytes
  }

  // Inside a report's repeatable-read transaction `tx`.
  async views(tx: Sql, projectId: number, wants: Want[]): Promise<Views> {
    const [head] = await tx`
      select pg_current_snapshot()::text as snap,
             coalesce((select max(id) from erasures where project_id = ${projectId}), 0)::float8 as epoch,
             exists (select 1 from erasures where project_id = ${projectId} and status <> 'done') as erasing,
             (select retention_days from projects where id = ${projectId}) as retention_days`
    const snap = Snapshot.parse(head.snap as string)
    let p = this.projects.get(projectId)
    if (p === undefined || p.epoch !== head.epoch) {
      if (p !== undefined) this.drop(projectId, p)
      p = new ProjectIndex(head.epoch as number, b => { this.bytes += b })
      this.projects.set(projectId, p)
    }
    const retentionDays = (head.retention_days as number | null) ?? this.retentionDaysDefault
    // Days that retention may be deleting (a day of margin for clocks): read, not kept.
    const keepFrom = head.erasing ? Infinity : retentionDays > 0 ? Math.floor(Date.now() / DAY_MS) - retentionDays + 1 : -Infinity
    const counts = await this.counts(tx, projectId, wants)
    const got = new Map<string, DayView>()
    // Entries made in this snapshot (see the replay of `recent` below).
    const fresh = new Map<string, Entry>()
    const loads: { name: string; days: number[] }[] = []
    for (const w of wants) {
      const stale: number[] = []
      for (let d = w.fromDay; d < w.toDay; d++) {
        const k = entryKey(w.name, d)
        const count = counts.get(k) ?? 0
        const e = d >= keepFrom ? p.entries.get(k) : undefined
        if (e !== undefined && e.count === count && e.pending.every(x => snap.sees(x))) {
          e.pending = e.pending.filter(x => x >= snap.xmin)
          got.set(k, this.merged(e))
          this.touch(projectId, e)
          this.stats.kept++
        } else if (count === 0) {
          // Nothing to read; kept all the same, so that commits can append to it.
          got.set(k, EMPTY)
          if (d >= keepFrom) fresh.set(k, this.keep(projectId, p, new Entry(w.name, d, 0, snap, EMPTY)))
        } else stale.push(d)
      }
      if (stale.length > 0) loads.push({ name: w.name, days: stale })
    }
    for (const { name, days } of loads) {
      const loaded = await this.load(tx, p, projectId, name, days, counts, keepFrom)
      for (const d of days) {
        const k = entryKey(name, d)
        const view = loaded.get(d) ?? EMPTY
        got.set(k, view)
        this.stats.loaded++
        if (d >= keepFrom) fresh.set(k, this.keep(projectId, p, new Entry(name, d, counts.get(k)!, snap, view)))
      }
    }
    // Commits told before a day made here was kept that its snapshot does not hold:
    // the day takes them now (those told after reached it through `committed`).
    if (fresh.size > 0) {
      for (const r of this.recent) {
        if (r === undefined || r.projectId !== projectId || snap.sees(r.xid)) continue
        const e = fresh.get(entryKey(r.name, r.day))
        if (e !== undefined && r.seq <= e.keptAt) this.apply(p, e, r.user, r.t, r.xid)
        const any = r.user === null ? undefined : fresh.get(entryKey(ANY, r.day))
        if (any !== undefined && r.seq <= any.keptAt) this.apply(p, any, r.user, r.t, r.xid)
      }
    }
    const users = p.ids.size
    if (p.entries.size === 0) this.drop(projectId, p)
    this.evict()
    return { view: (name, day) => got.get(entryKey(name, day)) ?? EMPTY, users }
  }

  // This process committed `rows` in transaction `xid` (the rows it inserted).
  committed(xid: number, rows: readonly EventRow[]): void {
    for (const r of rows) {
      const p = this.projects.get(r.projectId)
      if (p === undefined) continue
      const day = Math.floor(r.timestampMs / DAY_MS)
      const user = r.userId ?? r.anonymousId
      if (this.recentMax > 0) {
        this.recent[this.next] = { seq: ++this.seq, xid, projectId: r.projectId, name: r.name, day, user, t: r.timestampMs }
        this.next = (this.next + 1) % this.recentMax
      }
      const named = p.entries.get(entryKey(r.name, day))
      if (named !== undefined && !named.loadedIn.sees(xid)) this.apply(p, named, user, r.timestampMs, xid)
      const any = user === null ? undefined : p.entries.get(entryKey(ANY, day))
      if (any !== undefined && !any.loadedIn.sees(xid)) this.apply(p, any, user, r.timestampMs, xid)
    }
  }

  // One committed row into an entry whose snapshot does not hold it: a named day
  // counts every event (its counter does), a day's users only a new user.
  private apply(p: ProjectIndex, e: Entry, user: string | null, t: number, xid: number): void {
    if (e.name !== ANY) {
      e.count++
      if (user !== null) this.append(e, p.uid(user), t, xid)
      return
    }
    const u = p.uid(user!)
    if (hasUser(e.view, u) || e.tailSet.has(u)) return
    e.count++
    e.tailSet.add(u)
    this.append(e, u, t, xid)
  }

  // Erasure or retention removed rows of these projects (null: of any).
  forget(projectIds: number[] | null): void {
    for (const id of projectIds ?? [...this.projects.keys()]) {
      const p = this.projects.get(id)
      if (p !== undefined) this.drop(id, p)
    }
  }

  private append(e: Entry, u: number, t: number, xid: number): void {
    e.tailUsers.push(u)
    e.tailTimes.push(t)
    if (e.pending[e.pending.length - 1] !== xid) e.pending.push(xid)
    this.bytes += 16
    this.stats.appended++
  }

  // The counter each wanted entry must equal, by entryKey; absent = 0.
  private async counts(tx: Sql, projectId: number, wants: Want[]): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    const named = wants.filter(w => w.name !== ANY)
    const any = wants.filter(w => w.name === ANY)
    const at = (day: number) => new Date(day * DAY_MS)
    const span = (ws: Want[]) => [Math.min(...ws.map(w => w.fromDay)), Math.max(...ws.map(w => w.toDay))]
    const reads: Promise<void>[] = []
    if (named.length > 0) {
      const [from, to] = span(named)
      reads.push(tx`
        select name, floor(extract(epoch from bucket) / 86400)::int as d, sum(events)::float8 as n from event_counts_hour
        where project_id = ${projectId} and bucket >= ${at(from)} and bucket < ${at(to)} and name = any(${named.map(w => w.name)})
        group by 1, 2`.then(rows => { for (const r of rows) out.set(entryKey(r.name, r.d), r.n) }))
    }
    if (any.length > 0) {
      const [from, to] = span(any)
      reads.push(tx`
        select (bucket - date '1970-01-01') as d, sum(users)::float8 as n from user_counts_day
        where project_id = ${projectId} and name = ${ANY} and bucket >= ${at(from)}::date and bucket < ${at(to)}::date
        group by 1`.then(rows => { for (const r of rows) out.set(entryKey(ANY, r.d), r.n) }))
    }
    await Promise.all(reads)
    return out
  }

  // The views of `days` (ascending) of one name, read in `tx`'s snapshot. Each day's
  // rows must number what its counter says (`counts`): a partition made for a day
  // whose rows waited in events_default (partitions.ts) moves them in a transaction
  // that a snapshot taken before it does not see, yet the plan, made from the
  // current catalog, reads the new partition alone: those rows vanish from that
  // snapshot. Then this throws Raced and the report starts again in a new one.
  // Days before `keepFrom` (being retained away, or erased) are not checked.
  private async load(tx: Sql, p: ProjectIndex, projectId: number, name: string, days: number[], counts: Map<string, number>,
    keepFrom: number): Promise<Map<number, DayView>> {
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
      const from = days[i], to = days[j - 1] + 1
      if (name === ANY) {
        const rows = await tx`
          select user_key as u, (day - date '1970-01-01') as d from event_users_day
          where project_id = ${projectId} and name = ${ANY}
            and day >= ${new Date(from * DAY_MS)}::date and day < ${new Date(to * DAY_MS)}::date`
        for (const r of rows) {
          const b = rowsOf(r.d)
          b.rows++
          b.users.push(p.uid(r.u))
        }
      } else {
        // Events without a user too: the counter counts them.
        const rows = await tx`
          select coalesce(user_id, anonymous_id) as u, (extract(epoch from "timestamp") * 1000)::float8 as t from events
          where project_id = ${projectId} and name = ${name}
            and "timestamp" >= ${new Date(from * DAY_MS)} and "timestamp" < ${new Date(to * DAY_MS)}`
        for (const r of rows) {
          const b = rowsOf(Math.floor(r.t / DAY_MS))
          b.rows++
          if (r.u === null) continue
          b.users.push(p.uid(r.u))
          b.times.push(r.t)
        }
      }
      i = j
    }
    for (const d of days) if (d >= keepFrom && (byDay.get(d)?.rows ?? 0) !== counts.get(entryKey(name, d))) throw new Raced(name, d)
    const out = new Map<number, DayView>()
    for (const [d, b] of byDay) out.set(d, build(b.users, b.times, name === ANY))
    return out
  }

  // The entry's view with what was appended since merged in.
  private merged(e: Entry): DayView {
    if (e.tailUsers.length === 0) return e.view
    const before = e.bytes
    const usersOnly = e.name === ANY
    e.view = merge(e.view, build(e.tailUsers, e.tailTimes, usersOnly), usersOnly)
    e.tailUsers = []
    e.tailTimes = []
    e.tailSet = new Set()
    this.bytes += e.bytes - before
    return e.view
  }

  private keep(projectId: number, p: ProjectIndex, e: Entry): Entry {
    const k = entryKey(e.name, e.day)
    const old = p.entries.get(k)
    if (old !== undefined) this.remove(projectId, p, old)
    p.entries.set(k, e)
    this.lru.set(`${projectId}\u0001${k}`, e)
    this.bytes += e.bytes
    e.keptAt = this.seq
    return e
  }

  private touch(projectId: number, e: Entry): void {
    const k = `${projectId}\u0001${entryKey(e.name, e.day)}`
    this.lru.delete(k)
    this.lru.set(k, e)
  }

  // Past the bound, least recently used first (a report keeps the views it was
  // given until it is answered, whatever goes from here).
  private evict(): void {
    if (this.bytes <= this.bytesMax) return
    for (const [k, e] of this.lru) {
      if (this.bytes <= this.bytesMax) break
      const projectId = Number(k.slice(0, k.indexOf('\u0001')))
      const p = this.projects.get(projectId)!
      this.remove(projectId, p, e)
      if (p.entries.size === 0) this.drop(projectId, p)
    }
  }

  private remove(projectId: number, p: ProjectIndex, e: Entry): void {
    const k = entryKey(e.name, e.day)
    p.entries.delete(k)
    this.lru.delete(`${projectId}\u0001${k}`)
    this.bytes -= e.bytes
  }

  private drop(projectId: number, p: ProjectIndex): void {
    for (const e of [...p.entries.values()]) this.remove(projectId, p, e)
    this.bytes -= p.keyBytes
    this.projects.delete(projectId)
  }
}

function hasUser(v: DayView, u: number): boolean {
  return find(v, u) >= 0
}

// Index of user `u` in v.users, or -1.
export function find(v: DayView, u: number): number {
  let lo = 0, hi = v.users.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1, x = v.users[mid]
    if (x === u) return mid
    if (x < u) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}

// Rows (user, time) in any order → a view: users sorted and unique, each one's
// times ascending (none kept for a users-only view).
function build(users: number[], times: number[], usersOnly: boolean): DayView {
  const n = users.length
  assert(usersOnly || times.length === n, 'a row has a user and a time')
  // Sort row indexes by user, then time: by user with a packed key (user < 2^31,
  // row < 2^21), then each user's run by time.
  assert(n < 2 ** 21, 'a day view holds fewer than 2^21 rows')
  const key = new Float64Array(n)
  for (let i = 0; i < n; i++) key[i] = users[i] * 2 ** 21 + i
  key.sort()
  let distinct = 0
  for (let i = 0; i < n; i++) if (i === 0 || Math.floor(key[i] / 2 ** 21) !== Math.floor(key[i - 1] / 2 ** 21)) distinct++
  const out = { users: new Int32Array(distinct), start: new Int32Array(distinct + 1), times: new Float64Array(usersOnly ? 0 : n) }
  let u = -1
  for (let i = 0; i < n; i++) {
    const user = Math.floor(key[i] / 2 ** 21)
    if (i === 0 || user !== out.users[u]) { out.users[++u] = user; out.start[u] = usersOnly ? u : i }
    if (!usersOnly) out.times[i] = times[key[i] % 2 ** 21]
  }
  out.start[distinct] = usersOnly ? distinct : n
  if (!usersOnly) {
    for (let i = 0; i < distinct; i++) {
      const run = out.times.subarray(out.start[i], out.start[i + 1])
      for (let j = 1; j < run.length; j++) if (run[j] < run[j - 1]) { run.sort(); break }
    }
  }
  return out
}

// Two views in one, in a pass over both (what was appended since the last report is
// small; sorting the whole day again on every report cost ~5 ms per name of a day
// under live ingest).
function merge(a: DayView, b: DayView, usersOnly: boolean): DayView {
  let distinct = 0
  for (let i = 0, j = 0; i < a.users.length || j < b.users.length; distinct++) {
    const x = i < a.users.length ? a.users[i] : Infinity, y = j < b.users.length ? b.users[j] : Infinity
    if (x <= y) i++
    if (y <= x) j++
  }
  const out = { users: new Int32Array(distinct), start: new Int32Array(distinct + 1), times: new Float64Array(a.times.length + b.times.length) }
  let k = 0
  for (let i = 0, j = 0, u = 0; u < distinct; u++) {
    const x = i < a.users.length ? a.users[i] : Infinity, y = j < b.users.length ? b.users[j] : Infinity
    out.users[u] = Math.min(x, y)
    out.start[u] = usersOnly ? u : k
    if (usersOnly) {
      if (x <= y) i++
      if (y <= x) j++
      continue
    }
    // This user's times from both, in order.
    let p = x <= y ? a.start[i] : 0, pe = x <= y ? a.start[i + 1] : 0
    let q = y <= x ? b.start[j] : 0, qe = y <= x ? b.start[j + 1] : 0
    while (p < pe || q < qe) out.times[k++] = q >= qe || (p < pe && a.times[p] <= b.times[q]) ? a.times[p++] : b.times[q++]
    if (x <= y) i++
    if (y <= x) j++
  }
  out.start[distinct] = usersOnly ? distinct : k
  return out
}
