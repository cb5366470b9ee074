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

  constructor(private readonly sql: Sql, private readonly metrics: Metrics) {}

  async write(rows: EventRow[]): Promise<Verdict[]> {
    try {
      return await insertEvents(this.sql, rows)
    } catch (error) {
      this.metrics.postgresErrors.inc({ kind: isRetryable(error) ? 'retryable' : 'fatal' })
      throw error
    }
  }
}
