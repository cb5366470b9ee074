// One Inlet instance, assembled from a config and a Postgres client: the pipeline,
// the caches, and the app. main.ts serves it; tests call `app.handle()` on it.

import type { Config } from './config'
import { createApp } from './http/app'
import { KeyCache } from './http/auth'
import type { Deps } from './http/context'
import { RateLimiter } from './http/rate-limit'
import { Live } from './live'
import { createLog, type Log } from './log'
import { createMetrics } from './metrics'
import { Drainer } from './pipeline/drainer'
import { FallbackSink } from './pipeline/fallback-sink'
import { Pipeline } from './pipeline/flusher'
import { Spill } from './pipeline/spill'
import type { Sql } from './store/db'
import { PostgresHealth } from './store/health'
import { PostgresSink } from './store/sink'

export function createInlet(config: Config, sql: Sql, log: Log = createLog(config.logLevel)) {
  const metrics = createMetrics()
  const l = config.limits
  // Opening the spill checks its integrity; what an earlier process left in it is
  // drained from here on, while the instance serves.
  const spill = Spill.open(config.dataDir, config.spillSynchronous, l.SPILL_BYTES_MAX, log)
  const health = new PostgresHealth(sql, l.PG_PROBE_INTERVAL_MS, l.FLUSH_COMMIT_MS_MAX, l.PG_CONNECT_TIMEOUT_S * 1000, log, metrics)
  const drainer = new Drainer(sql, spill, health, l, metrics, log)
  const sink = new FallbackSink(new PostgresSink(sql, metrics), spill, health, drainer, l, metrics, log)
  // The console's live stream, receipts and rejection log: told of each settled batch.
  const live = new Live(l)
  const pipeline = new Pipeline(sink, l, metrics, live)
  const deps: Deps = {
    config, sql, pipeline, metrics, log,
    keys: new KeyCache(sql, config.limits.KEY_CACHE_ENTRIES_MAX, config.limits.KEY_CACHE_TTL_MS, () => health.up),
    limiter: new RateLimiter(config.limits.RATE_LIMIT_PROJECTS_MAX),
    // 503 from /ready only when neither Postgres nor the spill can take a write.
    health: { postgresUp: () => health.up, writable: () => health.up || spill.writable },
    spill,
    live,
  }
  health.start()
  drainer.start()
  pipeline.start()
  return {
    deps,
    app: createApp(deps),
    // Stops intake and waits until every buffered event is durable (in Postgres, or
    // in the spill if Postgres is away; the next start drains it).
    close: async () => {
      live.close()
      await pipeline.close()
      await drainer.stop(l.FLUSH_COMMIT_MS_MAX)
      health.stop()
      spill.close()
    },
  }
}

export type Inlet = ReturnType<typeof createInlet>
