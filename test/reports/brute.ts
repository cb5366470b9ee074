// A generated event set with a known funnel and known returns, and the three
// reports computed by brute force in plain TypeScript over the same events: the
// independent answer each report in Postgres must equal.

export interface Ev { id: string; name: string; t: number; user_id?: string; anonymous_id?: string }

const DAY_MS = 86_400_000
const SIZE: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: DAY_MS, week: 7 * DAY_MS }
// 1970-01-05 was a Monday; weeks start on Monday (date_trunc('week')).
const floor = (ms: number, interval: string) => {
  const origin = interval === 'week' ? 4 * DAY_MS : 0
  return Math.floor((ms - origin) / SIZE[interval]) * SIZE[interval] + origin
}
const ceil = (ms: number, interval: string) => (floor(ms, interval) === ms ? ms : floor(ms, interval) + SIZE[interval])
const userOf = (e: Ev) => e.user_id ?? e.anonymous_id

// Deterministic, so a failure reproduces.
export function prng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

// `users` users over `days` days from `startMs`: each signs up once, browses on
// some later days (returns), and walks PageView → AddToCart → Purchase with falling
// odds and gaps of seconds to hours (some outside a one-hour window). A third are
// anonymous only; a few events carry no user at all.
export function generate(seed: number, prefix: string, startMs: number, days: number, users: number): Ev[] {
  const rnd = prng(seed)
  const out: Ev[] = []
  let n = 0
  const push = (name: string, t: number, u: number | null) => {
    const e: Ev = { id: `${prefix}-${n++}`, name, t: Math.floor(t) }
    if (u !== null) {
      if (u % 3 === 0) e.anonymous_id = `${prefix}-a${u}`
      else { e.user_id = `${prefix}-u${u}`; if (rnd() < 0.5) e.anonymous_id = `${prefix}-a${u}` }
    }
    out.push(e)
  }
  for (let u = 0; u < users; u++) {
    const signup = startMs + rnd() * days * DAY_MS
    push('Signup', signup, u)
    for (let d = 0; d < days; d++) {
      if (rnd() > 0.6 / (1 + d * 0.3)) continue
      let t = signup + d * DAY_MS + rnd() * DAY_MS * 0.5
      if (t >= startMs + days * DAY_MS + 3 * DAY_MS) break
      push('PageView', t, u)
      if (rnd() < 0.5) { t += rnd() * 1800_000; push('AddToCart', t, u) } else continue
      if (rnd() < 0.6) { t += rnd() < 0.8 ? rnd() * 1200_000 : 3600_000 + rnd() * 7200_000; push('Purchase', t, u) }
      if (rnd() < 0.2) push('PageView', t + rnd() * 60_000, u)
    }
  }
  for (let i = 0; i < users / 20; i++) push('Heartbeat', startMs + rnd() * days * DAY_MS, null)
  return out
}

export function bruteCounts(events: Ev[], fromMs: number, toMs: number, interval: string, name?: string) {
  const from = floor(fromMs, interval), to = ceil(toMs, interval)
  const buckets = new Map<number, { events: number; users: Set<string> }>()
  for (let b = from; b < to; b += SIZE[interval]) buckets.set(b, { events: 0, users: new Set() })
  for (const e of events) {
    if (e.t < from || e.t >= to || (name !== undefined && e.name !== name)) continue
    const b = buckets.get(floor(e.t, interval))!
    b.events++
    const u = userOf(e)
    if (u !== undefined) b.users.add(u)
  }
  return [...buckets].map(([b, v]) => ({ bucket: new Date(b).toISOString(), events: v.events, users: v.users.size }))
}

function byUser(events: Ev[]) {
  const m = new Map<string, Ev[]>()
  for (const e of events) {
    const u = userOf(e)
    if (u === undefined) continue
    if (!m.has(u)) m.set(u, [])
    m.get(u)!.push(e)
  }
  for (const list of m.values()) list.sort((a, b) => a.t - b.t)
  return m
}

export function bruteFunnel(events: Ev[], fromMs: number, toMs: number, steps: string[], withinS: number) {
  const users = new Array<number>(steps.length).fill(0)
  for (const list of byUser(events).values()) {
    const entry = list.find(e => e.name === steps[0] && e.t >= fromMs && e.t < toMs)
    if (!entry) continue
    users[0]++
    let prev = entry.t
    for (let i = 1; i < steps.length; i++) {
      const next = list.find(e => e.name === steps[i] && e.t >= prev && e.t <= entry.t + withinS * 1000)
      if (!next) break
      users[i]++
      prev = next.t
    }
  }
  return steps.map((name, i) => ({ name, users: users[i], conversion: users[0] ? users[i] / users[0] : 0 }))
}

export function bruteRetention(
  events: Ev[], fromMs: number, toMs: number, interval: 'day' | 'week', periods: number, cohortEvent: string, returnEvent: string | null,
) {
  const from = floor(fromMs, interval), to = ceil(toMs, interval)
  const cohorts = new Map<number, { users: number; retained: Set<string>[] }>()
  for (let c = from; c < to; c += SIZE[interval]) {
    cohorts.set(c, { users: 0, retained: Array.from({ length: periods }, () => new Set<string>()) })
  }
  for (const [u, list] of byUser(events)) {
    const first = list.find(e => e.name === cohortEvent && e.t >= from && e.t < to)
    if (!first) continue
    const start = floor(first.t, interval)
    const c = cohorts.get(start)!
    c.users++
    for (const e of list) {
      if (returnEvent !== null && e.name !== returnEvent) continue
      const k = (floor(e.t, interval) - start) / SIZE[interval]
      if (k >= 0 && k < periods) c.retained[k].add(u)
    }
  }
  return [...cohorts].map(([c, v]) => ({ cohort: new Date(c).toISOString(), users: v.users, retained: v.retained.map(s => s.size) }))
}
