// The Postgres sink: a flusher's batch becomes one Postgres statement. It counts
// Postgres errors by kind; deciding what a failure means (spill, or fail the row)
// is the fallback sink's job (pipeline/fallback-sink.ts).

import type { EventRow } from '../ingest/validate'
import type { Metrics } from '../metrics'
import type { Verdict } from '../pipeline/ack'
import type { Sink } from '../pipeline/flusher'
import type { Sql } from './db'
import { isRetryable } from './db'
import { insertEvents } from './events'

export class PostgresSink implements Sink {
  readonly name = 'postgres'
  // Rollup stripes (sql/004_rollup_shards.sql) not held by a write in flight. Shard
  // 0 is the drainer's; a write holds its shard until Postgres answers, even past a
  // deadline, so at most one transaction in flight ever uses a shard. Bounded by the
  // writes that can be in flight at once, i.e. by PG_POOL_MAX.
  private freeShards: number[] = []
  private nextShard = 1

  constructor(private readonly sql: Sql, private readonly metrics: Metrics) {}

  async write(rows: EventRow[]): Promise<Verdict[]> {
    const shard = this.freeShards.pop() ?? this.nextShard++
    try {
      return await insertEvents(this.sql, rows, shard)
    } catch (error) {
      this.metrics.postgresErrors.inc({ kind: isRetryable(error) ? 'retryable' : 'fatal' })
      throw error
    } finally {
      this.freeShards.push(shard)
    }
  }
}
