// What every route needs, passed in once (no module-level state), and the
// per-request helpers shared by the route files: authentication with rate
// limiting, and the request context that ingest routes hand to ingest/.

import type { DayIndex } from '../store/day-index'
import type { Config } from '../config'
import { InletError } from '../errors'
import type { StoredEvent } from '../event'
import { type Ingest, requestContext, type RequestContext } from '../ingest'
import type { Live } from '../live'
import type { Log } from '../log'
import type { Metrics } from '../metrics'
import type { OnBug, Pipeline } from '../pipeline/flusher'
import type { Sql } from '../store/db'
import type { MembershipCache } from '../store/memberships'
import type { ReadRouter } from '../store/replica'
import type { KeyOwner } from '../store/projects'
import { COLLECTOR_TOKEN_PREFIX, type CollectorTokenCache } from '../store/collector-tokens'
import type { WebhookSourceCache } from '../store/webhooks'
import { type KeyCache, keyFromHeaders } from './auth'
import type { RateDecision, RateLimit } from './rate-limit'
import type { ReportCache, Slots } from './report-cache'

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
  // Lists, get-by-id and reports: on the replica when it has replayed every
  // acknowledged write, else on the primary (store/replica.ts).
  reads: ReadRouter
  pipeline: Pipeline
  // The one way events enter (ingest/index.ts).
  ingest: Ingest
  metrics: Metrics
  keys: KeyCache
  webhookSources: WebhookSourceCache
  // Snowplow collector tokens (issue 12).
  collectorTokens: CollectorTokenCache
  limiter: RateLimit
  log: Log
  health: Health
  spill?: SpillView
  // Acknowledged events Postgres refused, all processes together (-1: not read yet).
  deadLetters: { readonly count: number }
  // User-day memberships known to be stored; whatever deletes memberships clears it.
  memberships: MembershipCache
  onBug: OnBug
  // The report routes' result cache and query slots (http/report-cache.ts).
  // Three lanes: counts by hour or day (counter reads, a few ms) and counts by
  // minute over a day (the day index: a day of raw events the first time) never wait
  // behind a long funnel, nor the counters behind a minute count; everything else
  // shares `slots`. `index`: what funnels, retention and minute counts read (day-index.ts).
  reports: { cache: ReportCache; index: DayIndex; slots: Slots; counterSlots: Slots; minuteSlots: Slots }
  // The console's live stream, receipts and rejection log (src/live/, issue 11).
  live?: Live
  // Runs open user erasures now; storage figures for /metrics (src/store/lifecycle.ts).
  lifecycle?: { erase(): Promise<void>; readonly storage: { tableBytes: Map<string, number>; oldestEventMs: number | null } }
}

type SetHeaders = { headers: Record<string, string | number> }

// Resolves the caller's project and spends one request from its bucket. The
// RateLimit headers are set here, so every authenticated response carries them.
export async function authenticate(deps: Deps, request: Request, set: SetHeaders, key?: string | null): Promise<KeyOwner> {
  const k = key ?? keyFromHeaders(request.headers)
  const owner = deps.keys.fresh(k) ?? await deps.keys.resolve(k)
  deps.live?.rejections.attribute(request, owner.projectId) // hook (issue 11): a refusal from here on is logged for this project
  const spent = spendRequest(deps, set, owner.projectId, owner.rpm)
  if (spent) await spent
  return owner
}

// A collector token (store/collector-tokens.ts): the public, write-only credential of
// tracking code anyone can read (a page, an app). Found or 401; spends like a key.
export async function authenticateCollector(deps: Deps, request: Request, set: SetHeaders, token: string): Promise<KeyOwner> {
  const found = await deps.collectorTokens.resolve(token)
  if (!found) throw new InletError('unauthorized', 'the collector token is unknown or revoked')
  deps.live?.rejections.attribute(request, found.projectId) // hook (issue 11)
  const spent = spendRequest(deps, set, found.projectId, found.rpm)
  if (spent) await spent
  return found
}

// The credential of an SDK route that only writes (Segment's, PostHog's): an API key,
// or a collector token, so a browser page can carry a credential that reads nothing.
export async function authenticateWriter(deps: Deps, request: Request, set: SetHeaders, credential: string | null): Promise<KeyOwner> {
  if (credential?.startsWith(COLLECTOR_TOKEN_PREFIX)) return authenticateCollector(deps, request, set, credential)
  return authenticate(deps, request, set, credential)
}

// Spends one request from the project's bucket (also for callers that hold no API
// key, like webhook senders) and sets the RateLimit headers; 429 when it is empty.
// A promise only while the shared limiter waits for a lease (shared-rate-limit.ts).
export function spendRequest(deps: Deps, set: SetHeaders, projectId: number, rpm: number): void | Promise<void> {
  const d = deps.limiter.take(projectId, rpm)
  if (d instanceof Promise) return d.then(decided => applyDecision(deps, set, decided))
  applyDecision(deps, set, d)
}

function applyDecision(deps: Deps, set: SetHeaders, d: RateDecision): void {
  set.headers['ratelimit-limit'] = d.limit
  set.headers['ratelimit-remaining'] = d.remaining
  set.headers['ratelimit-reset'] = d.resetS
  if (!d.allowed) {
    deps.metrics.rateLimited.inc()
    throw new InletError('rate_limited', `the project's limit of ${d.limit} requests per minute is spent`, undefined, d.retryAfterS)
  }
}

// What ingest needs of the request: its clock-skew hint (X-Sent-At, unless the body
// has its own sent_at) and its Idempotency-Key.
export function requestContextOf(deps: Deps, request: Request, projectId: number, single: boolean, sentAt?: unknown): RequestContext {
  return requestContext(deps.config.limits, projectId, {
    sentAt, sentAtHeader: request.headers.get('x-sent-at'), idempotencyKey: request.headers.get('idempotency-key'), single,
  })
}
