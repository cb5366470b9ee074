// The shape the day index (day-index.ts) keeps a day in, and the few operations on
// it: built from rows, two merged, a user found, a time found.

import { assert } from '../assert'

export const DAY_MS = 86_400_000
// The name under which the users of a day (any event) are kept.
export const ANY = ''

// Sorted by user id; a user's times (named days) ascending in times[start[i]..start[i+1]).
// A users-only view (ANY) has no times; its start is unused.
export interface DayView { readonly users: Int32Array; readonly start: Int32Array; readonly times: Float64Array }
export const EMPTY: DayView = { users: new Int32Array(0), start: new Int32Array(1), times: new Float64Array(0) }

export const viewBytes = (v: DayView) => v.users.byteLength + v.start.byteLength + v.times.byteLength

// Postgres's pg_snapshot: which transaction ids a snapshot sees as committed.
export class Snapshot {
  private constructor(readonly xmin: number, readonly xmax: number, private readonly xip: Set<number>) {}
  static parse(text: string): Snapshot {
    const [xmin, xmax, xip] = text.split(':')
    return new Snapshot(Number(xmin), Number(xmax), new Set(xip ? xip.split(',').map(Number) : []))
  }
  sees(xid: number): boolean {
    return xid < this.xmin || (xid < this.xmax && !this.xip.has(xid))
  }
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

// The first index of the times of user row i that is >= t (or the run's end).
export function firstAtOrAfter(v: DayView, i: number, t: number): number {
  let lo = v.start[i], hi = v.start[i + 1]
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (v.times[mid] < t) lo = mid + 1
    else hi = mid
  }
  return lo
}

// Row indexes sorted by user, stably (rows of a user keep their order). Up to
// 2^21 rows, as packed numbers (user < 2^31, row < 2^21) sorted natively; past
// that (a name with millions of events in one day), with a comparator.
const ROW_BITS = 2 ** 21
function byUser(users: readonly number[]): Float64Array | Uint32Array {
  const n = users.length
  if (n < ROW_BITS) {
    const key = new Float64Array(n)
    for (let i = 0; i < n; i++) key[i] = users[i] * ROW_BITS + i
    key.sort()
    for (let i = 0; i < n; i++) key[i] = key[i] % ROW_BITS
    return key
  }
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  return order.sort((a, b) => users[a] - users[b] || a - b)
}

// Rows (user, time) in any order → a view: users sorted and unique, each one's
// times ascending (none kept for a users-only view).
export function build(users: readonly number[], times: readonly number[], usersOnly: boolean): DayView {
  const n = users.length
  assert(usersOnly || times.length === n, 'a row has a user and a time')
  const order = byUser(users)
  let distinct = 0
  for (let i = 0; i < n; i++) if (i === 0 || users[order[i]] !== users[order[i - 1]]) distinct++
  const out = { users: new Int32Array(distinct), start: new Int32Array(distinct + 1), times: new Float64Array(usersOnly ? 0 : n) }
  let u = -1
  for (let i = 0; i < n; i++) {
    const user = users[order[i]]
    if (i === 0 || user !== out.users[u]) { out.users[++u] = user; out.start[u] = usersOnly ? u : i }
    if (!usersOnly) out.times[i] = times[order[i]]
  }
  out.start[distinct] = usersOnly ? distinct : n
  // Each user's run by time, where it is not in order already.
  if (!usersOnly) {
    for (let i = 0; i < distinct; i++) {
      for (let j = out.start[i] + 1; j < out.start[i + 1]; j++) {
        if (out.times[j] < out.times[j - 1]) { out.times.subarray(out.start[i], out.start[i + 1]).sort(); break }
      }
    }
  }
  return out
}

// Two views in one, in a pass over both (what was appended since the last report is
// small; sorting the whole day again on every report cost ~5 ms per name of a day
// under live ingest).
export function merge(a: DayView, b: DayView, usersOnly: boolean): DayView {
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
    if (!usersOnly) {
      // This user's times from both, in order.
      let p = x <= y ? a.start[i] : 0, q = y <= x ? b.start[j] : 0
      const pe = x <= y ? a.start[i + 1] : 0, qe = y <= x ? b.start[j + 1] : 0
      while (p < pe || q < qe) out.times[k++] = q >= qe || (p < pe && a.times[p] <= b.times[q]) ? a.times[p++] : b.times[q++]
    }
    if (x <= y) i++
    if (y <= x) j++
  }
  out.start[distinct] = usersOnly ? distinct : k
  return out
}
