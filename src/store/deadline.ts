// Deadlines on Postgres work, and cancelling what outlived one. postgres.js has no
// per-query timeout, and its own query.cancel() opens a socket whose failure (a
// black-holed Postgres) rejects a promise nobody holds, which ends a Bun process.
// So Inlet races its own timer and, to stop the work in Postgres, sends the
// 16-byte CancelRequest itself over a socket it bounds and whose errors it keeps.

import type { Sql } from './db'

export class DeadlineError extends Error {
  readonly code = 'FLUSH_TIMEOUT'
}

// Resolves or rejects like `promise`, or rejects with DeadlineError after `ms`, or
// as soon as `abort` fires. The late outcome of `promise` is swallowed here so it
// never becomes an unhandled rejection; callers that want it keep `promise` itself.
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string, abort?: AbortSignal): Promise<T> {
  promise.catch(() => {})
  let timer: ReturnType<typeof setTimeout> | undefined
  let onAbort: (() => void) | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`${what} took longer than ${ms} ms`)), ms)
    if (abort) {
      onAbort = () => reject(new DeadlineError(`${what} was abandoned: the process is stopping`))
      if (abort.aborted) onAbort()
      else abort.addEventListener('abort', onAbort, { once: true })
    }
  })
  return Promise.race([promise, expired]).finally(() => {
    clearTimeout(timer)
    if (onAbort) abort!.removeEventListener('abort', onAbort)
  })
}

// What postgres.js keeps on a query it has sent: the backend's pid and cancel key.
interface SentQuery {
  state?: { pid: number | null; secret: number | null }
  active?: boolean
  cancel(): unknown
}

// The queries a write or read has in flight, so a deadline can cancel them.
export class Inflight {
  private readonly queries = new Set<SentQuery>()
  track<T extends Promise<unknown>>(query: T): T {
    const q = query as unknown as SentQuery
    this.queries.add(q)
    query.then(() => this.queries.delete(q), () => this.queries.delete(q))
    return query
  }
  cancelAll(sql: Sql, timeoutMs: number): void {
    for (const q of this.queries) void cancelQuery(sql, q, timeoutMs)
    this.queries.clear()
  }
}

// Asks Postgres to stop a query. A query not yet sent is dropped by postgres.js
// at once (it rejects with 57014, no socket involved); one running on a backend
// gets a CancelRequest. One queued behind another on the same connection is left
// alone: a cancel would hit the query ahead of it. Never throws; gives up after timeoutMs.
export async function cancelQuery(sql: Sql, query: SentQuery, timeoutMs: number): Promise<void> {
  const state = query.state
  if (!state) {
    if (typeof query.cancel === 'function') query.cancel()
    return
  }
  if (!query.active || state.pid === null || state.secret === null) return
  const message = new Uint8Array(16)
  const view = new DataView(message.buffer)
  view.setInt32(0, 16)
  view.setInt32(4, 80877102) // the CancelRequest code
  view.setInt32(8, state.pid)
  view.setUint32(12, state.secret)
  const o = sql.options as unknown as { host: string[]; port: number[]; path?: string | false }
  const done = Promise.withResolvers<void>()
  const timer = setTimeout(done.resolve, timeoutMs)
  const handlers = {
    open(socket: { write(b: Uint8Array): number; end(): void }) { socket.write(message); socket.end() },
    close() { done.resolve() },
    error() { done.resolve() },
    connectError() { done.resolve() },
    data() {},
  }
  // Not awaited on its own: a connect to a host that drops SYNs takes minutes.
  const connecting = (o.path
    ? Bun.connect({ unix: o.path, socket: handlers })
    : Bun.connect({ hostname: o.host[0], port: o.port[0], socket: handlers })
  ).catch(() => { done.resolve(); return null })
  await done.promise
  clearTimeout(timer)
  void connecting.then(socket => socket?.end())
}
