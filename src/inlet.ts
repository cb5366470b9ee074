// One Inlet instance, assembled from a config and a Postgres client: the pipeline,
// the caches, and the app. Every piece of long-lived state is built here and passed
// down. main.ts serves it; tests call `app.handle()` on it.

import type { AssertionError } from './assert'
import type { Config } from './config'
import { createApp } from './http/app'
import { KeyCache } from './http/auth'
import type { Deps } from './http/context'
import { type RateLimit, RateLimiter } from './http/rate-limit'
import { SharedRateLimiter } from './http/shared-rate-limit'
import { ReportCache, Slots } from './http/report-cache'
import { Ingest } from './ingest'
import { Live } from './live'
import { LiveRelay } from './live/relay'
import { createLog, errorFields, foldRepeats, type Log } from './log'
import { MemoryGovernor } from './memory'
import { createMetrics } from './metrics'
import { Drainer } from './pipeline/drainer'
import { FallbackSink, type Primary } from './pipeline/fallback-sink'
import { type OnBug, Pipeline } from './pipeline/flusher'
import { Spill } from './pipeline/spill'
import { DeadLetterGauge } from './store/dead-letter'
import { Bus, NOTIFY_PAYLOAD_BYTES_MAX } from './store/bus'
import { announceForget, type Forgotten, onForget } from './store/forgets'
import { DayIndex } from './store/day-index'
import { connect, type Sql } from './store/db'
import { PostgresHealth } from './store/health'
import { ReadRouter } from './store/replica'
import { Lifecycle } from './store/lifecycle'
import { MembershipCache } from './store/memberships'
import { leaseTokens } from './store/rate-leases'
import { PostgresWriter, shardBaseOf } from './store/sink'
import { CollectorTokenCache } from './store/collector-tokens'
import { WebhookSourceCache } from './store/webhooks'

export interface InletOptions {
  // A bug on the write path (an AssertionError). The server logs it and exits: the
  // spill and the next start's drain keep every acknowledged event.
  onBug?: OnBug
  // Where live batches go instead of Postgres. Only the bench sets it (a primary
  // that stores nothing, to measure the request path alone: bench/baselines/
  // no-storage.ts); no setting or environment variable reaches it.
  primary?: Primary
}

// EX_SOFTWARE: an internal software error.
const EXIT_BUG = 70

export function createInlet(config: Config, sql: Sql, baseLog: Log = createLog(config.logLevel), options: InletOptions = {}) {
  const metrics = createMetrics()
  const l = config.limits
  // Failures that repeat (every refused write while Postgres is away) fold into one line a second.
  const folded = foldRepeats(baseLog)
  const log = folded.repeated
  const onBug: OnBug = options.onBug ?? ((error: AssertionError, context) => {
    baseLog('error', 'an assertion failed: this is a bug in Inlet; stopping (acknowledged events are in Postgres or the spill)',
      { ...context, error: error.message, stack: error.stack })
    process.exit(EXIT_BUG)
  })
  // Opening the spill checks its integrity; what an earlier process left in it is
  // drained from here on, while the instance serves.
  const spill = Spill.open(config.dataDir, config.spillSynchronous, l.SPILL_BYTES_MAX, log, l.SPILL_RESERVE_BYTES)
  const health = new PostgresHealth(sql, l.PG_PROBE_INTERVAL_MS, l.FLUSH_COMMIT_MS_MAX, l.PG_CONNECT_TIMEOUT_S * 1000, log, metrics)
  // User-day memberships known to be stored (erasure and retention clear it).
  const memberships = new MembershipCache(l.MEMBERSHIP_CACHE_ENTRIES_MAX)
  // What funnels, retention and minute counts read, in memory; told of every commit
  // (erasure and retention clear it).
  const dayIndex = new DayIndex(l.REPORT_INDEX_BYTES_MAX, l.RETENTION_DAYS_DEFAULT, l.REPORT_INDEX_RECENT_ROWS_MAX, l.REPORT_INDEX_COMMIT_WAIT_MS)
  const writer = new PostgresWriter(sql, metrics, memberships, shardBaseOf(config.processIndex, l.PG_POOL_MAX), dayIndex)
  const drainer = new Drainer(writer, spill, health, l, metrics, log, onBug)
  const sink = new FallbackSink(options.primary ?? writer, spill, health, () => drainer.notify(), l, metrics)
  // The console's live stream, receipts and rejection log: told of each settled batch.
  const live = new Live(l)
  const pipeline = new Pipeline(sink, l, metrics, onBug, { tap: live, failAtFlush: config.failpoints.flush })
  const ingest = new Ingest(pipeline, l, metrics, live.rejections)
  const deadLetters = new DeadLetterGauge(sql, l.PG_PROBE_INTERVAL_MS, l.PG_STATEMENT_TIMEOUT_MS, () => health.reachable)
  // Partitions ahead, the online move, retention, erasures (src/store/lifecycle.ts).
  const reportCache = new ReportCache(l.REPORT_CACHE_ENTRIES_MAX, l.REPORT_CACHE_TTL_MS, l.REPORT_CACHE_STALE_MS)
  const reportConnections = l.PG_POOL_MAX - l.FLUSHERS - 1
  const counterSlots = Math.min(l.REPORT_COUNTER_QUERIES_MAX, Math.max(1, reportConnections - 2))
  const minuteSlots = Math.min(l.REPORT_MINUTE_QUERIES_MAX, Math.max(1, reportConnections - counterSlots - 1))
  const heavySlots = Math.min(l.REPORT_QUERIES_MAX, Math.max(1, reportConnections - counterSlots - minuteSlots))
  // What erasure or retention removed is forgotten here (the lifecycle has cleared
  // this process's memberships) and announced to the other processes (store/forgets.ts).
  let bus: Bus | null = null
  const removed = (projectIds: number[]) => {
    reportCache.forget(projectIds)
    dayIndex.forget(projectIds)
    if (bus && !announceForget(bus, projectIds)) {
      log('warn', 'could not tell the other processes to forget cached reports; they count what was removed until REPORT_CACHE_TTL_MS + REPORT_CACHE_STALE_MS',
        { projects: projectIds.length })
    }
  }
  const lifecycle = new Lifecycle(sql, l, log, memberships, projectId => spill.pendingFor(projectId), removed, () => health.up)
  const postgresUp = () => health.up
  // Credential lookups are reads: a read-only Postgres still answers them.
  const reachable = () => health.reachable
  const replica = config.databaseReadUrl ? connect(config.databaseReadUrl, l, () => {}) : null
  const deps: Deps = {
    config, sql, pipeline, ingest, metrics, log,
    reads: new ReadRouter(sql, replica, l.REPLICA_CHECK_MS_MAX, l.PG_PROBE_INTERVAL_MS, metrics),
    keys: new KeyCache(sql, l.KEY_CACHE_ENTRIES_MAX, l.KEY_CACHE_TTL_MS, reachable, l.KEY_CACHE_STALE_IF_ERROR_MS),
    webhookSources: new WebhookSourceCache(sql, l.KEY_CACHE_ENTRIES_MAX, l.KEY_CACHE_TTL_MS, reachable, l.KEY_CACHE_STALE_IF_ERROR_MS),
    collectorTokens: new CollectorTokenCache(sql, l.KEY_CACHE_ENTRIES_MAX, l.KEY_CACHE_TTL_MS, reachable, l.KEY_CACHE_STALE_IF_ERROR_MS),
    limiter: rateLimit(config, sql, postgresUp, log),
    // 503 from /ready only when neither Postgres nor the spill can take a write.
    health: { postgresUp, postgresReachable: reachable, writable: () => health.up || spill.writable },
    spill,
    deadLetters,
    memberships,
    onBug,
    live,
    lifecycle,
    reports: {
      cache: reportCache,
      index: dayIndex,
      // Together never more than the connections left once the flushers have theirs
      // (one each at the least).
      slots: new Slots(heavySlots, l.PG_STATEMENT_TIMEOUT_MS),
      counterSlots: new Slots(counterSlots, l.PG_STATEMENT_TIMEOUT_MS, 'REPORT_COUNTER_QUERIES_MAX'),
      minuteSlots: new Slots(minuteSlots, l.PG_STATEMENT_TIMEOUT_MS, 'REPORT_MINUTE_QUERIES_MAX'),
    },
  }
  bus = connectBus(config, sql, deps, live, log)
  const memory = new MemoryGovernor(l.MEMORY_GC_RSS_BYTES, l.MEMORY_GC_INTERVAL_MS_MIN, l.MEMORY_GC_LOOP_PERCENT_MAX, metrics)
  let abandoned = false
  memory.start()
  health.start()
  lifecycle.start()
  drainer.start()
  pipeline.start()
  deadLetters.start()
  return {
    deps,
    lifecycle,
    app: createApp(deps),
    // Shutdown past SHUTDOWN_MS_MAX: give up on Postgres, put what is left in the spill.
    spillEverything: () => {
      abandoned = true
      sink.spillEverything()
      void drainer.stop(0)
    },
    // Stops intake and waits until every buffered event is durable (in Postgres, or
    // in the spill if Postgres is away; the next start drains it).
    close: async () => {
      live.close()
      await bus?.stop()
      await lifecycle.stop()
      await pipeline.close()
      await drainer.stop(abandoned ? 0 : l.FLUSH_COMMIT_MS_MAX)
      health.stop()
      memory.stop()
      deadLetters.stop()
      folded.stop()
      spill.close()
      await replica?.end({ timeout: 1 })
    },
  }
}

// Several processes: credentials changed anywhere are forgotten here at once (and
// after a lost LISTEN, when a change may have been missed, asked again), and so are the reports
// and memberships of events erased or expired anywhere; the live stream and the
// rejection log reach across processes (live/relay.ts).
function connectBus(config: Config, sql: Sql, deps: Deps, live: Live, log: Log): Bus | null {
  const url = config.databaseUrl
  if (config.processes === 1 || !url) return null
  const bus = new Bus(sql, () => connect(url, { ...config.limits, PG_POOL_MAX: 1 }, () => {}), config.limits.LIVE_RELAY_NOTIFIES_MAX, log,
    reason => deps.metrics.busRefused.inc({ reason }))
  const caches = [deps.keys, deps.webhookSources, deps.collectorTokens]
  bus.on('credentials', () => { for (const c of caches) c.clear() })
  bus.on('relisten', () => { for (const c of caches) c.recheck() })
  // Another process erased or expired events: as if this one had (Lifecycle's `changed`).
  onForget(bus, (what: Forgotten) => {
    deps.memberships.clear()
    deps.reports.index.forget(what === 'all' ? null : what)
    if (what === 'all') deps.reports.cache.clear()
    else deps.reports.cache.forget(what)
  })
  const relay = new LiveRelay(bus, live.hub, live.rejections, NOTIFY_PAYLOAD_BYTES_MAX)
  relay.start()
  live.relay = relay
  void bus.start()
  return bus
}

// One process judges alone in memory; several share each project's bucket in Postgres.
function rateLimit(config: Config, sql: Sql, postgresUp: () => boolean, log: Log): RateLimit {
  const l = config.limits
  if (config.processes === 1) return new RateLimiter(l.RATE_LIMIT_PROJECTS_MAX)
  return new SharedRateLimiter((projectId, rpm, want) => leaseTokens(sql, projectId, rpm, want), {
    processes: config.processes, leasePermille: l.RATE_LIMIT_LEASE_PERMILLE, leaseMsMax: l.RATE_LIMIT_LEASE_MS_MAX,
    leaseIntervalMsMin: l.RATE_LIMIT_LEASE_INTERVAL_MS_MIN,
    projectsMax: l.RATE_LIMIT_PROJECTS_MAX, postgresUp,
    onFallback: error => log('warn', 'rate-limit lease failed: enforcing this process\'s share of each plan until Postgres answers', errorFields(error)),
  })
}

export type Inlet = ReturnType<typeof createInlet>
