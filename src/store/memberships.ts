// Which user-day memberships (event_users_day: this user did this event name, and
// any event, on this UTC day, in these hours, first at that time) are known to be
// committed, so a flush does not send them again. Writing two membership rows per
// event (GROUP BY, sort, ON CONFLICT) was a third of the write statement's Postgres
// cost per row (measured: 39.6 against 29.9 µs/row at 60 rows per transaction); most
// events repeat a membership that is already stored (same user, day, hour, and not
// earlier than the first time known), and their rows are skipped. The cache is
// filled only after a commit, so what it holds is a subset of what Postgres holds
// (hours it knows are set there; a first time it knows is at or after the stored
// one), and it is bounded (MEMBERSHIP_CACHE_ENTRIES_MAX): a forgotten entry only
// means one more no-op upsert. Erasure and retention delete memberships, and clear it.

import type { EventRow } from '../event'

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

// Bits of the write statement's per-row membership flag (write.ts).
export const NEEDS_ANY = 1
export const NEEDS_NAME = 2
export const NEEDS_ALL = NEEDS_ANY | NEEDS_NAME

const userKey = (r: EventRow) => r.userId ?? r.anonymousId

// What is known stored for one membership row: its hour bits and a first time at or
// after the stored one.
interface Known { hours: number; firstMs: number }

// A row that may teach the cache something once committed, with the two keys
// `needs` built for it, so a commit does not build them again (most rows repeat
// what is known and are never listed: the usual commit learns nothing).
export interface Learned { row: EventRow; any: string; named: string; bit: number }

export class MembershipCache {
  private readonly known = new Map<string, Known>()
  // Insertion order, so the oldest entry goes first in O(1): deleting a Map's first
  // key instead walks every entry deleted before it (measured: 21 µs an eviction at
  // 100,000 entries against 0.3 with the ring; two per event once the cache is full).
  private ring: (string | undefined)[] = []
  private next = 0

  constructor(private readonly entriesMax: number) {}

  get size(): number {
    return this.known.size
  }

  // Which of a row's two membership rows (NEEDS_ANY, NEEDS_NAME) it may change
  // beyond what the cache knows is stored; 0 for none (and for a row with no user).
  // With `learn`, a row that needs any is listed there for `learned` after its commit.
  needs(r: EventRow, learn?: Learned[]): number {
    const user = userKey(r)
    if (user === null) return 0
    if (this.entriesMax === 0) return NEEDS_ALL
    const any = `${r.projectId}\u0001${Math.floor(r.timestampMs / DAY_MS)}\u0001${user}\u0001`
    const named = any + r.name
    const bit = hourBit(r.timestampMs)
    const needs = (this.adds(any, bit, r.timestampMs) ? NEEDS_ANY : 0) | (this.adds(named, bit, r.timestampMs) ? NEEDS_NAME : 0)
    if (needs !== 0) learn?.push({ row: r, any, named, bit })
    return needs
  }

  // The listed rows that were committed (`inserted`): their memberships are stored now.
  learned(learn: readonly Learned[], inserted: ReadonlySet<EventRow>): void {
    for (const l of learn) {
      if (!inserted.has(l.row)) continue
      this.remember(l.any, l.bit, l.row.timestampMs)
      this.remember(l.named, l.bit, l.row.timestampMs)
    }
  }

  // The memberships of rows that were just committed (for callers that did not list
  // them with `needs`: the bench's rollup cost).
  committed(rows: readonly EventRow[]): void {
    const learn: Learned[] = []
    for (const r of rows) this.needs(r, learn)
    this.learned(learn, new Set(rows))
  }

  // After memberships were deleted (erasure, retention): forget everything.
  clear(): void {
    this.known.clear()
    this.ring = []
    this.next = 0
  }

  private adds(key: string, bit: number, ms: number): boolean {
    const k = this.known.get(key)
    return k === undefined || (k.hours & bit) === 0 || ms < k.firstMs
  }

  private remember(key: string, bit: number, ms: number): void {
    const k = this.known.get(key)
    if (k !== undefined) {
      k.hours |= bit
      if (ms < k.firstMs) k.firstMs = ms
      return
    }
    // Oldest first out.
    const oldest = this.ring[this.next]
    if (oldest !== undefined) this.known.delete(oldest)
    this.ring[this.next] = key
    this.next = (this.next + 1) % this.entriesMax
    this.known.set(key, { hours: bit, firstMs: ms })
  }
}

// The hour of its UTC day an event falls in, as event_users_day.hours's bit.
function hourBit(ms: number): number {
  return 1 << Math.floor((((ms % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS)
}
