// What the server's Postgres sessions were doing during a phase: pg_stat_activity
// sampled every SAMPLE_MS, counted by state and wait event. When a figure is low
// and the CPUs are not busy, this says where the time went (commit fsync: IO
// WalSync; rollup row locks: Lock transactionid; idle: the server never asked).

import postgres from 'postgres'
import { PG_URL } from './db'

// 10 samples a second cost Postgres ~nothing and resolve waits of a few ms on average.
const SAMPLE_MS = 100

export interface WaitProfile {
  samples: number
  // Mean number of sessions not idle: 2 for two flushers always busy.
  busySessionsMean: number
  // "IO/WalSync" → share of busy-session observations, 0..1.
  shares: Record<string, number>
  // The statements busy sessions were running (first QUERY_CHARS characters), by share.
  queries: Record<string, number>
}

const QUERY_CHARS = 90

// A statement's first QUERY_CHARS characters, a long select list cut to "…": two
// reads of the same columns (get-by-id and the list) otherwise share one label.
function label(query: string): string {
  return query.replace(/\s+/g, ' ').trim().replace(/^select (.{24,}?) from /i, 'select … from ').slice(0, QUERY_CHARS)
}

export function sampleWaits(database: string | null) {
  if (!database) return { stop: async (): Promise<WaitProfile | null> => null }
  const sql = postgres(PG_URL, { max: 1, idle_timeout: 5, connect_timeout: 5, onnotice: () => {} })
  const counts: Record<string, number> = {}
  const queries: Record<string, number> = {}
  let samples = 0, observations = 0, running = true
  const loop = (async () => {
    while (running) {
      try {
        const rows = await sql`select state, wait_event_type, wait_event, query from pg_stat_activity
          where datname = ${database} and pid <> pg_backend_pid() and backend_type = 'client backend'`
        samples++
        for (const r of rows) {
          if (r.state === 'idle') continue
          const key = r.state !== 'active' ? String(r.state) : r.wait_event ? `${r.wait_event_type}/${r.wait_event}` : 'CPU'
          counts[key] = (counts[key] ?? 0) + 1
          const q = label(String(r.query ?? ''))
          queries[q] = (queries[q] ?? 0) + 1
          observations++
        }
      } catch { /* the database may be going away; the profile is best effort */ }
      await Bun.sleep(SAMPLE_MS)
    }
  })()
  return {
    async stop(): Promise<WaitProfile> {
      running = false
      await loop
      await sql.end({ timeout: 1 })
      const share = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).sort((a, b) => b[1] - a[1]).slice(0, 8)
        .map(([k, n]) => [k, n / Math.max(1, observations)]))
      return { samples, busySessionsMean: observations / Math.max(1, samples), shares: share(counts), queries: share(queries) }
    },
  }
}

// "1.6 busy sessions: IO/WalSync 41%, Lock/transactionid 30%, CPU 20%" (top few).
export function formatWaits(w: WaitProfile | null, top = 4): string {
  if (!w || !w.samples) return ''
  const parts = Object.entries(w.shares).slice(0, top).map(([k, s]) => `${k} ${Math.round(s * 100)}%`)
  return `${w.busySessionsMean.toFixed(1)} busy sessions: ${parts.join(', ') || 'none'}`
}

// The statements that kept Postgres busy: '43% insert into events (…' (top few).
export function formatQueries(w: WaitProfile | null, top = 3): string {
  if (!w || !w.samples) return ''
  return Object.entries(w.queries).slice(0, top).map(([q, s]) => `${Math.round(s * 100)}% ${q}`).join(' | ')
}
