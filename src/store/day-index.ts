// What funnels, retention and counts by minute read, kept in memory per project,
// event name and UTC day, exact at every instant: for a name, every event's time by
// user; under '' (any event), the users of the day. A report then walks typed
// arrays (journeys.ts) instead of joining tens of thousands of user keys in SQL per
// step (a 3-step 7-day funnel of the 2M-event project: ~0.5 s of Postgres CPU each,
// so 100 dashboard users saturated both cores: bench/results/reports-10m.md).
//
// Why a kept day is exactly what Postgres holds, checked by every report in its own
// repeatable-read transaction (snapshot S):
// - A day is loaded in one snapshot L, with the counter that measures it read in L
//   too: a name's events of that day (event_counts_hour), or the day's distinct
//   users (user_counts_day under ''); its rows must number the counter (day-reads.ts).
//   Rows are only ever added to a day, except by erasure and retention, handled
//   below; so the rows of L are rows of S.
// - Writes this process commits are appended after their commit (`committed`), each
//   only if its transaction id is not visible in L (then L already holds it), and
//   its count added; an appended write is used in S only once its id is visible in
//   S. So a day is a set of rows of S, none twice; when its count equals S's counter
//   it is all of them. Otherwise (another process wrote, a commit's answer was lost)
//   it is loaded again, in S.
// - Erasure deletes rows: a day loaded before a project's latest erasure was
//   requested is dropped, and while one is running nothing of that project is kept.
//   Retention deletes whole days before a cutoff: days within a day of the project's
//   cutoff are read from Postgres every time and never kept.
// Bounded by REPORT_INDEX_BYTES_MAX (typed arrays plus the user-key table, least
// recently used first out).

import { InletError } from '../errors'
import type { EventRow } from '../event'
import type { Sql } from './db'
import { counts as readCounts, load, Raced, type Want } from './day-reads'
import { Entry, ProjectIndex, RecentRows } from './day-entries'
import { ANY, build, DAY_MS, type DayView, EMPTY, find, merge, Snapshot } from './day-views'

export { Raced, type Want }

// A report's views, valid for the snapshot it was built in: `days(name)[d - fromDay]`
// for the days of its Want. User ids are 0 .. users - 1.
export interface Views {
  days(name: string): { fromDay: number; views: DayView[] }
  readonly users: number
}

// Runs a report that reads the day index in a new transaction each time it is
// Raced (partition moves are rare; a commit told late is one flush old), at most
// RACED_TRIES_MAX times; `lastTry` says when stale days are to be read, not raced.
const RACED_TRIES_MAX = 3
export async function consistently<T>(run: (lastTry: boolean) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(attempt === RACED_TRIES_MAX)
    } catch (error) {
      if (!(error instanceof Raced)) throw error
      if (attempt === RACED_TRIES_MAX) {
        throw new InletError('unavailable', `the events a report read changed under it (${error.message}); try again`, undefined, 1, { cause: error })
      }
    }
  }
}

export class DayIndex {
  private readonly projects = new Map<number, ProjectIndex>()
  // Least recently used first.
  private readonly lru = new Set<Entry>()
  private bytes = 0
  // Day views served from what was kept, and read from Postgres; rows appended after a commit.
  readonly stats = { kept: 0, loaded: 0, appended: 0 }
  // The last rows this process committed (a ring of `recentMax`): a day loaded in a
  // snapshot that did not see some of them, whose commits were told before the day
  // was kept, gets them from here. Without it, under steady ingest nearly every load
  // of today would miss a commit and be read again by the next report.
  private readonly recent: RecentRows
  // Commits told so far (rows): a day kept at `seq` n was told those after n itself.
  private seq = 0
  // Writes of this process not yet answered: one may have committed before a
  // report's snapshot yet not be told, so a day it adds to reads one short; the
  // report waits for them (at most commitWaitMs) rather than load the day again.
  private readonly writes = new Set<Promise<unknown>>()

  constructor(private readonly bytesMax: number, private readonly retentionDaysDefault: number, private readonly recentMax = 16_384,
    private readonly commitWaitMs = 250) {
    this.recent = new RecentRows(recentMax)
  }

  get sizeBytes(): number {
    return this.bytes
  }

  // Inside a report's repeatable-read transaction `tx`. Throws Raced when a newer
  // snapshot would do better (unless `lastTry`: then what is stale is read here).
  async views(tx: Sql, projectId: number, wants: Want[], lastTry = false): Promise<Views> {
    const [head] = await tx`
      select pg_current_snapshot()::text as snap,
             coalesce((select max(id) from erasures where project_id = ${projectId}), 0)::float8 as epoch,
             exists (select 1 from erasures where project_id = ${projectId} and status <> 'done') as erasing,
             (select retention_days from projects where id = ${projectId}) as retention_days`
    const snap = Snapshot.parse(head.snap as string)
    let p = this.projects.get(projectId)
    if (p === undefined || p.epoch !== head.epoch) {
      if (p !== undefined) this.drop(p)
      p = new ProjectIndex(projectId, head.epoch as number, b => { this.bytes += b })
      this.projects.set(projectId, p)
    }
    const project = p
    const retentionDays = (head.retention_days as number | null) ?? this.retentionDaysDefault
    // Days that retention may be deleting (a day of margin for clocks): read, not kept.
    const keepFrom = head.erasing ? Infinity : retentionDays > 0 ? Math.floor(Date.now() / DAY_MS) - retentionDays + 1 : -Infinity
    // Writes in flight now include every one committed before the snapshot but not told.
    const untold = [...this.writes]
    const counts = await readCounts(tx, projectId, wants)
    const got = new Map(wants.map(w => [w.name, { fromDay: w.fromDay, views: new Array<DayView>(w.toDay - w.fromDay).fill(EMPTY) }]))
    // Days made in this snapshot (see the replay of `recent` below).
    const fresh: Entry[] = []
    const stale = new Map<string, number[]>()
    const behind: Want[] = []
    let ahead = false
    const take = (w: Want, d: number, waited: boolean) => {
      const count = counts.get(w.name)?.get(d) ?? 0
      const e = d >= keepFrom ? project.get(w.name, d) : undefined
      const slot = got.get(w.name)!
      if (e !== undefined && e.count === count && e.pending.every(x => snap.sees(x))) {
        e.pending = e.pending.filter(x => x >= snap.xmin)
        slot.views[d - slot.fromDay] = this.merged(e)
        this.lru.delete(e)
        this.lru.add(e)
        this.stats.kept++
      } else if (e !== undefined && !waited && e.count < count && untold.length > 0) {
        behind.push({ name: w.name, fromDay: d, toDay: d + 1 })
      } else if (e !== undefined && !lastTry && !e.pending.every(x => snap.sees(x))) {
        // A commit told after this snapshot was taken: a newer one holds it.
        ahead = true
      } else if (count === 0) {
        // Nothing to read; kept all the same, so that commits can append to it.
        if (d >= keepFrom) fresh.push(this.keep(project, new Entry(project, w.name, d, 0, snap, EMPTY)))
      } else {
        if (!stale.has(w.name)) stale.set(w.name, [])
        stale.get(w.name)!.push(d)
      }
    }
    for (const w of wants) for (let d = w.fromDay; d < w.toDay; d++) take(w, d, false)
    if (ahead) throw new Raced(`a commit was told after the report's snapshot`)
    if (behind.length > 0) {
      await Promise.race([Promise.allSettled(untold), Bun.sleep(this.commitWaitMs)])
      for (const b of behind) take(b, b.fromDay, true)
    }
    for (const [name, days] of stale) {
      days.sort((a, b) => a - b)
      const loaded = await load(tx, projectId, key => project.uid(key), name, days, counts.get(name), keepFrom)
      const slot = got.get(name)!
      for (const d of days) {
        const view = loaded.get(d) ?? EMPTY
        slot.views[d - slot.fromDay] = view
        this.stats.loaded++
        if (d >= keepFrom) fresh.push(this.keep(project, new Entry(project, name, d, counts.get(name)!.get(d)!, snap, view)))
      }
    }
    // Commits told before a day made here was kept that its snapshot does not hold:
    // the day takes them now (those told after reached it through `committed`).
    if (fresh.length > 0) this.replay(project, fresh, snap)
    const users = project.ids.size
    if (project.entries === 0) this.drop(project)
    this.evict()
    return { days: name => got.get(name)!, users }
  }

  writing(settled: Promise<unknown>): void {
    this.writes.add(settled)
    const done = () => { this.writes.delete(settled) }
    settled.then(done, done)
  }

  // This process committed `rows` in transaction `xid` (the rows it inserted).
  committed(xid: number, rows: readonly EventRow[]): void {
    for (const r of rows) {
      const p = this.projects.get(r.projectId)
      if (p === undefined) continue
      const day = Math.floor(r.timestampMs / DAY_MS)
      const user = r.userId ?? r.anonymousId
      if (this.recentMax > 0) this.recent.add(++this.seq, xid, r, user)
      const named = p.get(r.name, day)
      if (named !== undefined && !named.loadedIn.sees(xid)) this.apply(p, named, user, r.timestampMs, xid)
      const any = user === null ? undefined : p.get(ANY, day)
      if (any !== undefined && !any.loadedIn.sees(xid)) this.apply(p, any, user, r.timestampMs, xid)
    }
  }

  // Erasure or retention removed rows of these projects (null: of any).
  forget(projectIds: number[] | null): void {
    for (const id of projectIds ?? [...this.projects.keys()]) {
      const p = this.projects.get(id)
      if (p !== undefined) this.drop(p)
    }
  }

  private replay(p: ProjectIndex, fresh: Entry[], snap: Snapshot): void {
    if (!p.live) return
    const made = new Map<string, Map<number, Entry>>()
    for (const e of fresh) {
      if (!made.has(e.name)) made.set(e.name, new Map())
      made.get(e.name)!.set(e.day, e)
    }
    const r = this.recent
    for (let i = 0; i < r.size; i++) {
      // seq 0: a slot never written.
      if (r.seq[i] === 0 || r.projectId[i] !== p.projectId || snap.sees(r.xid[i])) continue
      const day = Math.floor(r.t[i] / DAY_MS), user = r.user[i]
      const e = made.get(r.name[i])?.get(day)
      if (e !== undefined && r.seq[i] <= e.keptAt) this.apply(p, e, user, r.t[i], r.xid[i])
      const any = user === null ? undefined : made.get(ANY)?.get(day)
      if (any !== undefined && r.seq[i] <= any.keptAt) this.apply(p, any, user, r.t[i], r.xid[i])
    }
  }

  // One committed row into a day whose snapshot does not hold it: a named day counts
  // every event (its counter does), a day's users only a new user.
  private apply(p: ProjectIndex, e: Entry, user: string | null, t: number, xid: number): void {
    if (e.name !== ANY) {
      e.count++
      if (user !== null) this.append(e, p.uid(user), t, xid)
      return
    }
    const u = p.uid(user!)
    if (find(e.view, u) >= 0 || e.tailSet.has(u)) return
    e.count++
    e.tailSet.add(u)
    this.append(e, u, t, xid)
  }

  private append(e: Entry, u: number, t: number, xid: number): void {
    e.tailUsers.push(u)
    e.tailTimes.push(t)
    if (e.pending[e.pending.length - 1] !== xid) e.pending.push(xid)
    this.bytes += 16
    this.stats.appended++
  }

  // The day's view with what was appended since merged in.
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

  private keep(p: ProjectIndex, e: Entry): Entry {
    e.keptAt = this.seq
    if (!p.live) return e
    let days = p.names.get(e.name)
    if (days === undefined) p.names.set(e.name, (days = new Map()))
    const old = days.get(e.day)
    if (old !== undefined) this.remove(p, old)
    days.set(e.day, e)
    p.entries++
    this.lru.add(e)
    this.bytes += e.bytes
    return e
  }

  // Past the bound, least recently used first (a report keeps the views it was
  // given until it is answered, whatever goes from here).
  private evict(): void {
    for (const e of this.lru) {
      if (this.bytes <= this.bytesMax) break
      this.remove(e.project, e)
      if (e.project.entries === 0) this.drop(e.project)
    }
  }

  private remove(p: ProjectIndex, e: Entry): void {
    p.names.get(e.name)!.delete(e.day)
    p.entries--
    this.lru.delete(e)
    this.bytes -= e.bytes
  }

  private drop(p: ProjectIndex): void {
    if (!p.live) return
    for (const days of p.names.values()) for (const e of [...days.values()]) this.remove(p, e)
    this.bytes -= p.keyBytes
    p.keyBytes = 0
    p.live = false
    if (this.projects.get(p.projectId) === p) this.projects.delete(p.projectId)
  }
}
