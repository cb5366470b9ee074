// Postgres cost per row of the ways to keep (project_id, id) unique under time
// partitioning (issue 13), one design beside the other in the same run:
//   today       one unpartitioned events table, primary key (project_id, id)
//   event_ids   events by day, no key; a narrow event_ids (project_id, id) table first (the choice)
//   hash_ids    the same, event_ids hash-partitioned 8 ways
//   ts_key      events by day with unique (project_id, id, timestamp): no extra table,
//               but a retry with another timestamp is stored twice (so not the guarantee)
// Each design gets the same rows (100 per statement, ~250-byte property bags, 4
// indexes' worth of columns), the statement shape of src/store/write.ts without its
// rollup CTEs (which every design shares). Figure: wall µs per row of one client
// sending statements back to back, i.e. Postgres's time (parse of the JSON, index
// inserts, WAL, the commit's fsync); medians of rounds that alternate designs, so
// a burst of load elsewhere hits every design alike. Run under the bench lock:
//   mkdir /tmp/inlet-bench.lock && bun bench/partition-cost.ts; rmdir /tmp/inlet-bench.lock

import postgres from 'postgres'

const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const ROWS = 100
const BATCHES = Number(process.env.BATCHES ?? 400)
const ROUNDS = 3
const DAY_MS = 86_400_000

const admin = postgres(url, { max: 1, onnotice: () => {} })
const db = 'inlet_bench_partition_cost'
await admin.unsafe(`drop database if exists ${db} with (force)`)
await admin.unsafe(`create database ${db}`)
const u = new URL(url)
u.pathname = `/${db}`
const sql = postgres(u.toString(), { max: 1, onnotice: () => {} })

const columns = `project_id bigint not null, id text not null, type text not null, name text not null,
  "timestamp" timestamptz not null, received_at timestamptz not null, user_id text, anonymous_id text,
  session_id text, properties jsonb not null, context jsonb not null`
const indexes = (t: string) => `
  create index on ${t} (project_id, "timestamp" desc, id desc);
  create index on ${t} (project_id, name, "timestamp") include (user_id, anonymous_id);
  create index on ${t} (project_id, user_id, "timestamp") where user_id is not null;`
const days = (t: string) => Array.from({ length: 9 }, (_, d) => {
  const from = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + (d - 1) * DAY_MS).toISOString()
  const to = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + d * DAY_MS).toISOString()
  return `create table ${t}_d${d} partition of ${t} for values from ('${from}') to ('${to}');`
}).join('\n') + `create table ${t}_default partition of ${t} default;`

const input = `with input as (
  select (e->>0)::int8 as p, e->>1 as i, e->>2 as nm, (e->>3)::int8 as ts, e->>4 as u, e->5 as pr
  from jsonb_array_elements($1::text::jsonb) as x(e))`
const values = (t: string) => `insert into ${t} (project_id, id, type, name, "timestamp", received_at, user_id, anonymous_id, session_id, properties, context)
  select p, i, 'track', nm, 'epoch'::timestamptz + ts * interval '1 ms', now(), u, null, null, pr, '{}'`

const designs: Record<string, { schema: string; statement: string }> = {
  today: {
    schema: `create table ev_today (${columns}, primary key (project_id, id)); ${indexes('ev_today')}`,
    statement: `${input}, ins as (${values('ev_today')} from input on conflict (project_id, id) do nothing returning id)
      select count(*) from ins`,
  },
  event_ids: {
    schema: `create table ev_ids (${columns}) partition by range ("timestamp"); ${indexes('ev_ids')} ${days('ev_ids')}
      create table ids_plain (project_id bigint, id text, "timestamp" timestamptz not null, primary key (project_id, id));`,
    statement: `${input}, ids as (insert into ids_plain select p, i, 'epoch'::timestamptz + ts * interval '1 ms' from input
        on conflict (project_id, id) do nothing returning project_id, id),
      ins as (${values('ev_ids')} from input join ids on ids.project_id = input.p and ids.id = input.i on conflict do nothing returning id)
      select count(*) from ins`,
  },
  hash_ids: {
    schema: `create table ev_hash (${columns}) partition by range ("timestamp"); ${indexes('ev_hash')} ${days('ev_hash')}
      create table ids_hash (project_id bigint, id text, "timestamp" timestamptz not null, primary key (project_id, id)) partition by hash (project_id, id);
      ${Array.from({ length: 8 }, (_, k) => `create table ids_hash_${k} partition of ids_hash for values with (modulus 8, remainder ${k});`).join('\n')}`,
    statement: `${input}, ids as (insert into ids_hash select p, i, 'epoch'::timestamptz + ts * interval '1 ms' from input
        on conflict (project_id, id) do nothing returning project_id, id),
      ins as (${values('ev_hash')} from input join ids on ids.project_id = input.p and ids.id = input.i on conflict do nothing returning id)
      select count(*) from ins`,
  },
  ts_key: {
    schema: `create table ev_ts (${columns}, unique (project_id, id, "timestamp")) partition by range ("timestamp"); ${indexes('ev_ts')} ${days('ev_ts')}`,
    statement: `${input}, ins as (${values('ev_ts')} from input on conflict (project_id, id, "timestamp") do nothing returning id)
      select count(*) from ins`,
  },
}

for (const d of Object.values(designs)) await sql.unsafe(d.schema)

let seq = 0
const batch = () => {
  const now = Date.now()
  const rows: string[] = []
  for (let k = 0; k < ROWS; k++) {
    const n = seq++
    rows.push(`[${1 + (n % 50)},"evt_${n.toString(36)}_${(n * 2654435761) % 1e9}","Name${n % 20}",${now - (n % 3_600_000)},"u${n % 5000}",`
      + `{"amount":${n % 1000},"currency":"EUR","path":"/products/${n % 777}","referrer":"https://example.com/${n % 97}","tags":["a","b","c"],"sku":"SKU-${n}"}]`)
  }
  return `[${rows.join(',')}]`
}

const results: Record<string, number[]> = Object.fromEntries(Object.keys(designs).map(k => [k, []]))
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, d] of Object.entries(designs)) {
    const bodies = Array.from({ length: BATCHES }, batch)
    await sql.unsafe(d.statement, [bodies[0]], { prepare: true }) // warm: plan cached
    const started = performance.now()
    for (let b = 1; b < BATCHES; b++) await sql.unsafe(d.statement, [bodies[b]], { prepare: true })
    results[name].push(((performance.now() - started) * 1000) / ((BATCHES - 1) * ROWS))
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const base = median(results.today)
console.log(`rows per statement ${ROWS}, ${BATCHES} statements x ${ROUNDS} rounds per design (autocommit: one commit per statement)`)
for (const [name, xs] of Object.entries(results)) {
  console.log(`${name.padEnd(10)} ${median(xs).toFixed(1).padStart(6)} µs/row (rounds: ${xs.map(x => x.toFixed(1)).join(', ')})  x${(median(xs) / base).toFixed(2)} of today`)
}
await sql.end()
await admin.unsafe(`drop database if exists ${db} with (force)`)
await admin.end()
