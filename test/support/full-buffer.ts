// A real full buffer, for tests that need Inlet to refuse with 503 (and an SDK to
// retry): Postgres is made slow, not mocked. A transaction holds an EXCLUSIVE lock on
// the events table (key and project reads still work, so auth does), the one
// flusher's INSERT waits on it, a filler request fills the buffer behind it, and from
// then on every ingest request is refused with 503 + Retry-After (buffer full).
//
// The server must run with the rig's settings (FULL_BUFFER_ENV): one flusher, a
// buffer of `queue` events, a batch limit that lets the filler fill it in one request,
// and commit and statement timeouts long enough that the waiting INSERT is neither
// given up to the spill nor cancelled.

import { expect } from 'bun:test'
import type postgres from 'postgres'

export const fullBufferEnv = (queue: number): Record<string, string> => ({
  FLUSHERS: '1', QUEUE_EVENTS_MAX: String(queue), BATCH_EVENTS_MAX: String(queue),
  FLUSH_COMMIT_MS_MAX: '600000', PG_STATEMENT_TIMEOUT_MS: '3600000',
})

export interface RigServer {
  url: string
  sql: postgres.Sql
  project(): Promise<{ id: number; api_key: string }>
}

// Polls until `check` holds. No deadline of its own: the test's timeout is the bound.
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await Bun.sleep(20)
}

// Fills the server's buffer behind a flush that waits on a table lock. Returns the
// release: it drops the lock and checks that the fillers were then acknowledged.
export async function fillBuffer(inlet: RigServer, queue: number): Promise<() => Promise<void>> {
  const filler = await inlet.project()
  const locked = Promise.withResolvers<void>()
  const release = Promise.withResolvers<void>()
  const transaction = inlet.sql.begin(async tx => {
    await tx`lock table events in exclusive mode`
    locked.resolve()
    await release.promise
  })
  await locked.promise
  const post = (path: string, body: unknown) => fetch(`${inlet.url}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${filler.api_key}` }, body: JSON.stringify(body),
  })
  // First one event, taken by the flusher, whose INSERT then waits on the lock...
  const first = post('/v1/events', { name: 'filler' })
  await until(async () => (await inlet.sql`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock'`)[0].n > 0)
  // ...then a full buffer's worth behind it.
  const rest = post('/v1/events/batch', { events: Array.from({ length: queue }, () => ({ name: 'filler' })) })
  await until(async () => ((await (await fetch(`${inlet.url}/ready`)).json()) as { buffer: { depth: number } }).buffer.depth === queue)
  return async () => {
    release.resolve()
    await transaction
    expect((await first).status).toBe(200)
    expect((await rest).status).toBe(200)
  }
}

// The count of requests Inlet refused because its buffer was full, from /metrics.
export async function bufferFullAnswers(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith('inlet_overloaded_total{') && l.includes('reason="buffer_full"'))
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0
}
