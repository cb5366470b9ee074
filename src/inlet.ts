// One Inlet instance, assembled from a config and a Postgres client: the pipeline,
// the caches, and the app. main.ts serves it; tests call `app.handle()` on it.

import type { Config } from './config'
import { createApp } from './http/app'
import { KeyCache } from './http/auth'
import type { Deps } from './http/context'
import { RateLimiter } from './http/rate-limit'
import { createLog, type Log } from './log'
import { createMetrics } from './metrics'
import { Pipeline } from './pipeline/flusher'
import type { Sql } from './store/db'
import { PostgresSink } from './store/sink'

export function createInlet(config: Config, sql: Sql, log: Log = createLog(config.logLevel)) {
  const metrics = createMetrics()
  const sink = new PostgresSink(sql, metrics)
  const pipeline = new Pipeline(sink, config.limits, metrics)
  const deps: Deps = {
    config, sql, pipeline, metrics, log,
    keys: new KeyCache(sql, config.limits.KEY_CACHE_ENTRIES_MAX, config.limits.KEY_CACHE_TTL_MS),
    limiter: new RateLimiter(config.limits.RATE_LIMIT_PROJECTS_MAX),
    health: { postgresUp: () => sink.up, writable: () => sink.up },
  }
  pipeline.start()
  return {
    deps,
    app: createApp(deps),
    // Stops intake and waits until every buffered event is durable.
    close: () => pipeline.close(),
  }
}

export type Inlet = ReturnType<typeof createInlet>
