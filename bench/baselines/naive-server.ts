// The baseline: the architecture of W1's system (FastAPI + Postgres, direct inserts)
// rebuilt on Bun, so the comparison is of designs, not of runtimes. Each request
// does one INSERT (multi-row for a batch) on a pooled connection and is answered
// after that statement commits. No buffer, no group commit, no spill.
//
// It is kept generous: the API key is compared in memory (no lookup query), there
// is no rate limiting, and validation is minimal, so every figure Inlet beats it by
// is a lower bound.
//
// Usage: PORT=… DATABASE_URL=… BASELINE_API_KEY=… bun bench/baselines/naive-server.ts

import postgres from 'postgres'

const port = Number(process.env.PORT ?? 4200)
const apiKey = process.env.BASELINE_API_KEY ?? 'bench_baseline_key'
// One project id for every row: the baseline serves one key.
const PROJECT_ID = 1
// A typical web-app pool (SQLAlchemy's 5 + 10 overflow is the FastAPI default pairing).
const PG_POOL_MAX = 10

const sql = postgres(process.env.DATABASE_URL!, {
  max: PG_POOL_MAX, idle_timeout: 60, connect_timeout: 10, prepare: true, onnotice: () => {},
})

interface In { id?: string; name?: unknown; timestamp?: string | number; user_id?: string; anonymous_id?: string; session_id?: string; properties?: object; context?: object }

const json = (status: number, body: unknown) => Response.json(body, { status })
const problem = (status: number, code: string, message: string) => json(status, { error: { code, message } })

function row(e: In, now: number) {
  return [PROJECT_ID, e.id ?? Bun.randomUUIDv7(), 'track', e.name as string,
    e.timestamp === undefined ? now : new Date(e.timestamp).getTime(), now,
    e.user_id ?? null, e.anonymous_id ?? null, e.session_id ?? null,
    JSON.stringify(e.properties ?? {}), JSON.stringify(e.context ?? {})] as const
}

// One statement per request, whatever the number of events: unnest of 11 arrays.
async function insert(events: In[]): Promise<{ ids: string[]; stored: Set<string> }> {
  const now = Date.now()
  const cols: unknown[][] = Array.from({ length: 11 }, () => [])
  for (const e of events) row(e, now).forEach((v, i) => cols[i]!.push(v))
  // Inlet's schema keeps (project_id, id) unique in event_ids (sql/007): the id goes
  // there first, as any application on this schema would do it.
  const rows = await sql`
    with t as (
      select * from unnest(${cols[0] as number[]}::int8[], ${cols[1] as string[]}::text[], ${cols[2] as string[]}::text[], ${cols[3] as string[]}::text[],
                ${cols[4] as number[]}::int8[], ${cols[5] as number[]}::int8[], ${cols[6] as string[]}::text[], ${cols[7] as string[]}::text[],
                ${cols[8] as string[]}::text[], ${cols[9] as string[]}::text[], ${cols[10] as string[]}::text[])
        as t(p, i, ty, nm, ts, ra, u, a, s, pr, c)
    ), ids as (
      insert into event_ids (project_id, id, "timestamp") select p, i, 'epoch'::timestamptz + ts * interval '1 ms' from t
      on conflict (project_id, id) do nothing returning project_id, id
    )
    insert into events (project_id, id, type, name, "timestamp", received_at, user_id, anonymous_id, session_id, properties, context)
    select p, i, ty, nm, 'epoch'::timestamptz + ts * interval '1 ms', 'epoch'::timestamptz + ra * interval '1 ms', u, a, s, pr::jsonb, c::jsonb
    from t join ids on ids.project_id = t.p and ids.id = t.i
    returning id`
  return { ids: cols[1] as string[], stored: new Set(rows.map(r => r.id as string)) }
}

const valid = (e: In) => typeof e?.name === 'string' && e.name.length > 0 && e.name.length <= 200

Bun.serve({
  port, hostname: '127.0.0.1', idleTimeout: 60, maxRequestBodySize: 10 * 1024 * 1024,
  async fetch(req) {
    const path = new URL(req.url).pathname
    if (path === '/health') return json(200, { status: 'ok' })
    if (req.headers.get('authorization') !== `Bearer ${apiKey}`) return problem(401, 'unauthorized', 'unknown key')
    let body: any
    try { body = await req.json() } catch { return problem(400, 'malformed_json', 'not JSON') }
    try {
      if (path === '/v1/events') {
        if (!valid(body)) return problem(422, 'validation_failed', 'name is required')
        const { ids: [id], stored } = await insert([body])
        return json(200, { id, status: stored.has(id!) ? 'accepted' : 'duplicate' })
      }
      if (path === '/v1/events/batch') {
        const events = (body?.events ?? []) as In[]
        const ok = events.filter(valid)
        if (!ok.length) return problem(422, 'validation_failed', 'no valid event')
        const { ids, stored } = await insert(ok)
        const accepted = ids.filter(id => stored.has(id)).length
        return json(200, { accepted, duplicates: ids.length - accepted, rejected: events.length - ok.length,
          results: ids.map((id, index) => ({ index, id, status: stored.has(id) ? 'accepted' : 'duplicate' })) })
      }
    } catch (e) {
      return problem(503, 'unavailable', String((e as Error).message))
    }
    return problem(404, 'not_found', 'no such route')
  },
})
console.log(`naive baseline on ${port}`)
