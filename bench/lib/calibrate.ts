// Three primitives measured before any scenario, so every estimate is arithmetic on
// this machine's numbers rather than folklore: how long one small commit takes
// (the floor under every durable ack), what one row of a big unnest insert costs
// (the slope of every batch), and what a thread pays in CPU each time it sleeps and
// is woken (every closed-loop hop: the server waiting for a commit, a backend for
// its next statement, wrk for an answer).

import { readFileSync } from 'node:fs'
import postgres from 'postgres'
import { freshDatabase, migrate } from './db'
import { purchase, rng, toRow } from './events'

const COMMITS = 200
const BIG_INSERT_ROWS = 2_000
const BIG_INSERTS = 5
const WAKES = 500

export interface Calibration {
  commitMs: number // median of single-row insert + commit, one connection
  commitP99Ms?: number // their 99th percentile: the disk's tail, which every ack's tail follows
  rowUs: number // per row of a 2,000-row unnest insert, commit included
  wakeUs: number | null // on-CPU time of one 1 ms sleep and wake-up of this thread (null: no schedstat)
}

export const cal: Calibration = { commitMs: 1, rowUs: 30, wakeUs: null }

// This thread's time on a CPU, in µs, as the scheduler counts it (exact, where
// /proc/<pid>/stat's utime and stime are sampled at the tick).
function threadRunUs(): number | null {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000
  } catch { return null }
}

// Sleeping 1 ms and waking, WAKES times: the thread's on-CPU time is then the cost
// of going idle and being woken. On the 2-vCPU VMs this bench has run on: 47-58 µs,
// Bun and Node alike (a woken vCPU is scheduled by the host too), paid by every
// thread at every hop of a closed loop.
async function wakeUs(): Promise<number | null> {
  const t0 = threadRunUs()
  if (t0 === null) return null
  for (let i = 0; i < WAKES; i++) await Bun.sleep(1)
  return (threadRunUs()! - t0) / WAKES
}

export async function calibrate(): Promise<Calibration> {
  const db = await freshDatabase('calibration')
  const sql = postgres(db.url, { max: 1, idle_timeout: 5, connect_timeout: 10, prepare: true, onnotice: () => {} })
  try {
    await migrate(db.url)
    const r = rng(3)
    const times: number[] = []
    for (let i = 0; i < COMMITS; i++) {
      const row = toRow(purchase(r, i))
      const t = performance.now()
      await sql`insert into events (project_id, id, type, name, "timestamp", received_at, properties, context)
        values (1, ${row.id}, 'track', ${row.name}, now(), now(), ${row.properties}::jsonb, ${row.context}::jsonb)`
      times.push(performance.now() - t)
    }
    times.sort((a, b) => a - b)
    const rows = Array.from({ length: BIG_INSERT_ROWS }, (_, i) => toRow(purchase(r, i)))
    let best = Infinity
    for (let k = 0; k < BIG_INSERTS; k++) {
      const t = performance.now()
      await sql`insert into events (project_id, id, type, name, "timestamp", received_at, user_id, session_id, properties, context)
        select 1, i, 'track', n, now(), now(), u, s, p::jsonb, c::jsonb
        from unnest(${rows.map(() => Bun.randomUUIDv7())}::text[], ${rows.map(x => x.name)}::text[], ${rows.map(x => x.user_id)}::text[],
                    ${rows.map(x => x.session_id)}::text[], ${rows.map(x => x.properties)}::text[], ${rows.map(x => x.context)}::text[]) as t(i, n, u, s, p, c)`
      best = Math.min(best, performance.now() - t)
    }
    cal.commitMs = times[Math.floor(times.length / 2)]!
    cal.commitP99Ms = times[Math.floor(times.length * 0.99)]!
    cal.rowUs = (best * 1000) / BIG_INSERT_ROWS
    cal.wakeUs = await wakeUs()
    return cal
  } finally {
    await sql.end({ timeout: 5 })
    await db.drop()
  }
}

// Rows per second `connections` connections get inserting `rowsPerTx` rows per
// commit: each transaction costs one commit plus its rows; two connections overlap
// one's commit wait with the other's CPU, but two cores shared with the server and
// the generator give Postgres about 1.3 cores at best.
export function pgRowsPerS(rowsPerTx: number, connections: number): number {
  const txMs = cal.commitMs + (rowsPerTx * cal.rowUs) / 1000
  const cpuBound = (1.3 * 1e6) / cal.rowUs
  return Math.min((connections * rowsPerTx * 1000) / txMs, cpuBound)
}

export const n0 = (x: number) => Math.round(x).toLocaleString('en-US')
