// The Postgres ceiling: the same rows Inlet stores, inserted straight into the same
// table (same indexes) with a plain multi-row INSERT … SELECT FROM unnest(…), one
// statement per transaction, from `connections` connections looping as fast as
// Postgres commits. No HTTP, no parsing, no acks: what Inlet's write path could
// reach if everything before Postgres were free.

import postgres from 'postgres'
import type { BenchEvent } from './events'
import { toRow } from './events'
import type { Recorder } from './recorder'

export async function pgCeiling(o: {
  url: string; connections: number; rowsPerTx: number; warmupMs: number; durationMs: number
  event: (seq: number) => BenchEvent; rec: Recorder
}): Promise<void> {
  const sql = postgres(o.url, { max: o.connections, idle_timeout: 5, connect_timeout: 10, prepare: true, onnotice: () => {} })
  const rec = o.rec
  // Pre-build the payload of one batch; each transaction gets fresh ids so the
  // primary key never conflicts (a plain INSERT, no ON CONFLICT work).
  const sample = Array.from({ length: o.rowsPerTx }, (_, i) => toRow(o.event(i)))
  const start = performance.now() + o.warmupMs
  const end = start + o.durationMs
  rec.window(start, end)
  const loop = async () => {
    while (performance.now() < end) {
      const n = o.rowsPerTx
      const now = Date.now()
      const ids = new Array<string>(n)
      // Time-ordered UUIDs, as Inlet assigns: same key width, same index locality.
      for (let i = 0; i < n; i++) ids[i] = Bun.randomUUIDv7()
      const t0 = performance.now()
      try {
        // With the ids into event_ids (sql/007), the unique key every stored event has.
        await sql`
          with ids as (insert into event_ids (project_id, id, "timestamp") select 1, i, 'epoch'::timestamptz + ${now}::int8 * interval '1 ms'
                       from unnest(${ids}::text[]) as t(i))
          insert into events (project_id, id, type, name, "timestamp", received_at, user_id, anonymous_id, session_id, properties, context)
          select 1, i, ty, nm, 'epoch'::timestamptz + ts * interval '1 ms', 'epoch'::timestamptz + ra * interval '1 ms', u, a, s, pr::jsonb, c::jsonb
          from unnest(${ids}::text[], ${sample.map(r => r.type)}::text[], ${sample.map(r => r.name)}::text[],
                      ${sample.map(() => now)}::int8[], ${sample.map(() => now)}::int8[], ${sample.map(r => r.user_id)}::text[],
                      ${sample.map(r => r.anonymous_id)}::text[], ${sample.map(r => r.session_id)}::text[],
                      ${sample.map(r => r.properties)}::text[], ${sample.map(r => r.context)}::text[])
            as t(i, ty, nm, ts, ra, u, a, s, pr, c)`
        rec.record(t0, performance.now(), 200, n)
      } catch (e) {
        rec.record(t0, performance.now(), `pg:${(e as { code?: string }).code ?? 'error'}`)
      }
    }
  }
  await Promise.all(Array.from({ length: o.connections }, loop))
  await sql.end({ timeout: 5 })
}
