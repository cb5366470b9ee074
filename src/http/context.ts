// What every route needs, passed in once (no module-level state), and the
// per-request helpers shared by the route files: authentication with rate
// limiting, and the request context that ingest routes hand to validation.

import type { Config } from '../config'
import { InletError } from '../errors'
import type { BatchOutcome } from '../ingest/batch'
import type { RequestContext, Validated } from '../ingest/validate'
import { isRefusal, type StoredEvent, type Verdict } from '../event'
import { parseTime } from '../ingest/validate'
import type { Live } from '../live'
import type { Log } from '../log'
import type { Metrics } from '../metrics'
import type { OnBug, Pipeline } from '../pipeline/flusher'
import type { Sql } from '../store/db'
import type { KeyOwner } from '../store/projects'
import type { WebhookSourceCache } from '../store/webhooks'
import { type KeyCache, keyFromHeaders } from './auth'
import type { RateLimiter } from './rate-limit'

// The local spill as the read side sees it (read-your-writes while degraded).
export interface SpillView {
  get(projectId: number, id: string): StoredEvent | null
  pendingFor(projectId: number): number
  stats(): { pending: number; bytes: number; writable: boolean }
}

export interface Health {
  // Postgres takes writes.
  postgresUp(): boolean
  // Postgres answers reads (also while read-only after a failover).
  postgresReachable(): boolean
  // Writes can be made durable somewhere (Postgres or the spill).
  writable(): boolean
}

export interface Deps {
  config: Config
  sql: Sql
  pipeline: Pipeline
  metrics: Metrics
  keys: KeyCache
  webhookSources: WebhookSourceCache
  limiter: RateLimiter
  log: Log
  health: Health
  spill?: SpillView
  // Acknowledged events Postgres refused, all processes together (-1: not read yet).
  deadLetters: { readonly count: number }
  onBug: OnBug
  // The console's live stream, receipts and rejection log (src/live/, issue 11).
  live?: Live
}

type SetHeaders = { headers: Record<string, string | number> }

// Resolves the caller's project and spends one request from its bucket. The
// RateLimit headers are set here, so every authenticated response carries them.
export async function authenticate(deps: Deps, request: Request, set: SetHeaders, key?: string | null): Promise<KeyOwner> {
  const owner = await deps.keys.resolve(key ?? keyFromHeaders(request.headers))
  deps.live?.rejections.attribute(request, owner.projectId) // hook (issue 11): a refusal from here on is logged for this project
  spendRequest(deps, set, owner.projectId, owner.rpm)
  return owner
}

// Spends one request from the project's bucket (also for callers that hold no API
// key, like webhook senders) and sets the RateLimit headers; 429 when it is empty.
export function spendRequest(deps: Deps, set: SetHeaders, projectId: number, rpm: number): void {
  const d = deps.limiter.take(projectId, rpm)
  set.headers['ratelimit-limit'] = d.limit
  set.headers['ratelimit-remaining'] = d.remaining
  set.headers['ratelimit-reset'] = d.resetS
  if (!d.allowed) {
    deps.metrics.rateLimited.inc()
    throw new InletError('rate_limited', `the project's limit of ${d.limit} requests per minute is spent`, undefined, d.retryAfterS)
  }
}

// The clock error of the client: received_at - sent_at, from the body's sent_at
// or the X-Sent-At header. A correction beyond SKEW_MS_MAX is ignored as nonsense.
export function requestContext(
  deps: Deps, request: Request, projectId: number, sentAt: unknown, single: boolean,
): RequestContext {
  const receivedAtMs = Date.now()
  const raw = sentAt ?? request.headers.get('x-sent-at') ?? undefined
  let skewMs = 0
  if (raw !== undefined && raw !== null) {
    const sentMs = parseTime(typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw)
    if (Number.isNaN(sentMs)) {
      throw new InletError('validation_failed', 'sent_at is not a valid time', [
        { path: '/sent_at', message: 'must be an ISO-8601 time with a zone, or epoch milliseconds' },
      ])
    }
    const skew = receivedAtMs - sentMs
    if (Math.abs(skew) <= deps.config.limits.SKEW_MS_MAX) skewMs = skew
  }
  const idempotencyKey = request.headers.get('idempotency-key')
  if (idempotencyKey !== null && (idempotencyKey.length === 0 || idempotencyKey.length > deps.config.limits.ID_CHARS_MAX - 6)) {
    throw new InletError('validation_failed', 'Idempotency-Key is invalid', [
      { path: 'header:Idempotency-Key', message: `must be 1 to ${deps.config.limits.ID_CHARS_MAX - 6} characters` },
    ])
  }
  return { projectId, receivedAtMs, skewMs, idempotencyKey, single }
}

// The one way a single validated event is stored: a rejection becomes 413 (size)
// or 422 (with every problem), a valid row is answered once durable.
export async function storeOne(deps: Deps, v: Validated, invalid: string): Promise<{ id: string; status: Verdict }> {
  if (!v.ok) {
    deps.metrics.ingestEvents.inc({ outcome: 'rejected' })
    if (v.tooLarge) throw new InletError('payload_too_large', v.errors[0].message, v.errors)
    throw new InletError('validation_failed', invalid, v.errors)
  }
  const [outcome] = await deps.pipeline.submit([v.row])
  if (isRefusal(outcome)) {
    deps.metrics.ingestEvents.inc({ outcome: 'rejected' })
    throw new InletError('validation_failed', `${invalid}: Postgres refused it`, [{ path: '', message: `Postgres refused it (${outcome.sqlstate}): ${outcome.message}` }])
  }
  deps.metrics.ingestEvents.inc({ outcome })
  return { id: v.row.id, status: outcome }
}

// Counts a batch's outcomes (accepted, duplicate, rejected) in the ingest metric.
export function countOutcome(deps: Deps, result: BatchOutcome): void {
  deps.metrics.ingestEvents.inc({ outcome: 'accepted' }, result.accepted)
  deps.metrics.ingestEvents.inc({ outcome: 'duplicate' }, result.duplicates)
  deps.metrics.ingestEvents.inc({ outcome: 'rejected' }, result.rejected)
}
