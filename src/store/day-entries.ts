// The day index's records in memory (day-index.ts): a kept day (Entry), a project's
// days and user keys (ProjectIndex), and the ring of rows committed lately (RecentRows).

import type { EventRow } from '../event'
import { type DayView, type Snapshot, viewBytes } from './day-views'

export class Entry {
  // Appended after load: rows (user, time) not yet merged into `view`, and the ids of
  // the writes they came from that a report's snapshot has not yet been seen to hold.
  tailUsers: number[] = []
  tailTimes: number[] = []
  // Under ANY, the appended users, so each is added once.
  tailSet = new Set<number>()
  pending: number[] = []
  // The commit count (DayIndex.seq) when it was kept.
  keptAt = 0
  constructor(readonly project: ProjectIndex, readonly name: string, readonly day: number, public count: number,
    readonly loadedIn: Snapshot, public view: DayView) {}
  get bytes(): number {
    return 64 + viewBytes(this.view) + this.tailUsers.length * 16
  }
}

// A project's days by name, and its user keys, each numbered once (the ids index
// typed arrays; ~72 B + the key per user, counted in the bound while it is `live`).
// Dropped (erasure, eviction), it is no longer live: a report still reading it
// goes on with its own views and keeps nothing in it.
export class ProjectIndex {
  readonly ids = new Map<string, number>()
  keyBytes = 0
  readonly names = new Map<string, Map<number, Entry>>()
  entries = 0
  live = true
  constructor(readonly projectId: number, readonly epoch: number, private readonly grew: (bytes: number) => void) {}
  uid(key: string): number {
    let id = this.ids.get(key)
    if (id === undefined) {
      this.ids.set(key, (id = this.ids.size))
      if (this.live) {
        const b = 72 + key.length * 2
        this.keyBytes += b
        this.grew(b)
      }
    }
    return id
  }
  get(name: string, day: number): Entry | undefined {
    return this.names.get(name)?.get(day)
  }
}

// The last rows committed, as the index needs them, kept a while for days loaded
// meanwhile: a ring in parallel arrays (no object per committed row).
export class RecentRows {
  readonly seq: Float64Array; readonly xid: Float64Array; readonly projectId: Float64Array; readonly t: Float64Array
  readonly name: string[]; readonly user: (string | null)[]
  private next = 0
  constructor(readonly size: number) {
    this.seq = new Float64Array(size); this.xid = new Float64Array(size); this.projectId = new Float64Array(size); this.t = new Float64Array(size)
    this.name = new Array(size).fill(''); this.user = new Array(size).fill(null)
  }
  add(seq: number, xid: number, r: EventRow, user: string | null): void {
    const i = this.next
    this.seq[i] = seq; this.xid[i] = xid; this.projectId[i] = r.projectId; this.t[i] = r.timestampMs
    this.name[i] = r.name; this.user[i] = user
    this.next = (i + 1) % this.size
  }
}
