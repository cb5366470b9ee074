// Historical data for the report scenarios: user sessions walking the funnel over
// the last N days, with a Signup on each user's first session (for retention).
//
// Two ways in: through Inlet's batch API (the real path, for W2's modest volume),
// or straight into Postgres (the `reports` scenario's millions): secondary indexes
// are dropped and recreated around the load, then the rollup tables Inlet keeps
// are rebuilt from the events exactly as its migrations backfill them.

import postgres from 'postgres'
import { between, FUNNEL_STEPS, rng, type BenchEvent, type Rand } from './events'
import { post } from './http-client'
import { Client, type Target } from './loadgen'
import { Recorder } from './recorder'

const API_BATCH_EVENTS = 1_000
const API_CONNECTIONS = 4
const DIRECT_BATCH_ROWS = 10_000
const EVENTS_PER_USER = 20

// One session: a PageView and a walk down the funnel, seconds apart. `signup` on a
// user's first session.
function session(r: Rand, user: string, atMs: number, signup: boolean): BenchEvent[] {
  const events: BenchEvent[] = []
  let t = atMs
  const push = (name: string) => {
    events.push({ name, user_id: user, timestamp: Math.round(t), session_id: `${user}-${atMs}`, properties: { path: `/p/${between(r, 1, 40)}` } })
    t += between(r, 5_000, 120_000)
  }
  if (signup) push('Signup')
  push('PageView')
  for (let step = 1; step < FUNNEL_STEPS.length && r() < 0.55; step++) push(FUNNEL_STEPS[step]!)
  return events
}

// An endless stream of sessions over [now - days, now), users revisiting over time.
export function* history(seed: number, days: number, users: number): Generator<BenchEvent> {
  const r = rng(seed)
  const now = Date.now()
  const spanMs = days * 86_400_000
  const firstSeen = new Map<number, boolean>()
  for (;;) {
    const u = Math.floor(r() * users)
    // Each user lives in a window of the span; sessions land in it, so cohorts return.
    const startMs = now - spanMs + ((u * 7919) % users) / users * spanMs * 0.8
    const atMs = Math.min(now - 60_000, startMs + r() * (now - startMs))
    const signup = !firstSeen.has(u)
    firstSeen.set(u, true)
    yield* session(r, `u_${u}`, atMs, signup)
  }
}

export async function seedViaApi(target: Target, key: string, o: { events: number; days: number; seed: number }) {
  const it = history(o.seed, o.days, Math.max(100, Math.floor(o.events / EVENTS_PER_USER)))
  let left = o.events
  const rec = new Recorder()
  rec.window(0, Infinity)
  await Promise.all(Array.from({ length: API_CONNECTIONS }, async () => {
    const c = new Client(target, rec)
    while (left > 0) {
      const n = Math.min(API_BATCH_EVENTS, left)
      left -= n
      const events = Array.from({ length: n }, () => it.next().value as BenchEvent)
      const reply = await c.send({ bytes: post('/v1/events/batch', key, JSON.stringify({ events })), events: n })
      if (reply?.status !== 200) throw new Error(`seeding through the API failed: ${reply?.status ?? 'no answer'}`)
    }
    c.close()
  }))
}

// Rollups Inlet keeps, rebuilt from events as sql/001, 003 and 011 define them. A
// table not listed here would be left empty: the seeder says so rather than guess.
const ROLLUPS: Record<string, string> = {
  event_counts_minute: `insert into event_counts_minute (project_id, name, bucket, events)
    select project_id, name, date_trunc('minute', "timestamp", 'UTC'), count(*) from events group by 1, 2, 3`,
  event_counts_hour: `insert into event_counts_hour (project_id, name, bucket, events)
    select project_id, name, date_trunc('hour', "timestamp", 'UTC'), count(*) from events group by 1, 2, 3`,
  event_users_day: `insert into event_users_day (project_id, name, day, user_key, hours, first_at)
    select project_id, n, ("timestamp" at time zone 'UTC')::date, coalesce(user_id, anonymous_id),
           bit_or(1 << extract(hour from "timestamp" at time zone 'UTC')::int), min("timestamp")
    from events, lateral (values (name), ('')) as v(n) where coalesce(user_id, anonymous_id) is not null
    group by 1, 2, 3, 4`,
}

export async function seedDirect(url: string, o: {
  projects: number[]; big: { projectId: number; events: number }; events: number; days: number
  progress: (line: string) => void
}): Promise<{ unknownTables: string[] }> {
  const sql = postgres(url, { max: 2, idle_timeout: 5, connect_timeout: 10, onnotice: () => {} })
  try {
    const indexes = await sql`select indexname, indexdef from pg_indexes where tablename = 'events' and indexname not like '%_pkey'`
    for (const i of indexes) await sql.unsafe(`drop index ${i.indexname}`)
    const plan: [number, number][] = [[o.big.projectId, o.big.events]]
    const others = o.projects.filter(p => p !== o.big.projectId)
    const each = Math.floor((o.events - o.big.events) / Math.max(1, others.length))
    for (const p of others) plan.push([p, each])
    let done = 0, nextReport = 1_000_000
    const t0 = performance.now()
    for (const [projectId, count] of plan) {
      const it = history(projectId, o.days, Math.max(50, Math.floor(count / EVENTS_PER_USER)))
      for (let left = count; left > 0;) {
        const n = Math.min(DIRECT_BATCH_ROWS, left)
        left -= n
        await insertRows(sql, projectId, Array.from({ length: n }, () => it.next().value as BenchEvent))
        done += n
        if (done >= nextReport) {
          o.progress(`seeded ${(done / 1e6).toFixed(1)}M events (${Math.round(done / ((performance.now() - t0) / 1000)).toLocaleString('en-US')}/s)`)
          nextReport += 1_000_000
        }
      }
    }
    o.progress('recreating indexes and rollups')
    await Promise.all(indexes.map(i => sql.unsafe(i.indexdef)))
    const tables = (await sql`select table_name from information_schema.tables where table_schema = 'public'`).map(t => t.table_name as string)
    for (const [table, rebuild] of Object.entries(ROLLUPS)) {
      if (!tables.includes(table)) continue
      await sql.unsafe(`truncate ${table}`)
      await sql.unsafe(rebuild)
    }
    await sql`analyze`
    const known = ['events', 'projects', 'api_keys', 'webhook_sources', 'schema_migrations', ...Object.keys(ROLLUPS)]
    return { unknownTables: tables.filter(t => !known.includes(t) && !t.startsWith('inlet_')) }
  } finally { await sql.end({ timeout: 5 }) }
}

async function insertRows(sql: postgres.Sql, projectId: number, events: BenchEvent[]) {
  const now = Date.now()
  // The ids into event_ids too (sql/007): every stored event has its row there.
  await sql`
    with e as (
    insert into events (project_id, id, type, name, "timestamp", received_at, user_id, anonymous_id, session_id, properties, context)
    select ${projectId}, i, 'track', nm, 'epoch'::timestamptz + ts * interval '1 ms', 'epoch'::timestamptz + ${now}::int8 * interval '1 ms',
           u, null, s, pr::jsonb, '{}'::jsonb
    from unnest(${events.map(() => Bun.randomUUIDv7())}::text[], ${events.map(e => e.name)}::text[],
                ${events.map(e => e.timestamp as number)}::int8[], ${events.map(e => e.user_id ?? null)}::text[],
                ${events.map(e => e.session_id ?? null)}::text[], ${events.map(e => JSON.stringify(e.properties ?? {}))}::text[])
      as t(i, nm, ts, u, s, pr)
    returning project_id, id, "timestamp")
    insert into event_ids (project_id, id, "timestamp") select project_id, id, "timestamp" from e`
}
