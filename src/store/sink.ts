// The Postgres sink: a flusher's batch becomes one Postgres statement. It tracks
// whether Postgres answers, for /ready and for the spill's fail-over decision.

import type { EventRow } from '../ingest/validate'
import type { Metrics } from '../metrics'
import type { Verdict } from '../pipeline/ack'
import type { Sink } from '../pipeline/flusher'
import type { Sql } from './db'
import { isRetryable } from './db'
import { insertEvents } from './events'

export class PostgresSink implements Sink {
  readonly name = 'postgres'
  up = true

  constructor(private readonly sql: Sql, private readonly metrics: Metrics) {}

  async write(rows: EventRow[]): Promise<Verdict[]> {
    try {
      const verdicts = await insertEvents(this.sql, rows)
      this.up = true
      return verdicts
    } catch (error) {
      this.metrics.postgresErrors.inc({ kind: isRetryable(error) ? 'retryable' : 'fatal' })
      if (isRetryable(error)) this.up = false
      throw error
    }
  }
}
