// Postgres as the pipeline sees it: live batches (the fallback sink's primary) and
// replays from the spill (the drainer's target), both through store/write.ts, each
// bounded by a deadline after which the work is cancelled in Postgres. This file
// satisfies the interfaces pipeline/ defines, without importing pipeline/.

import postgres from 'postgres'
import type { EventRow, Refusal, RowOutcome } from '../event'
import type { Metrics } from '../metrics'
import { type DeadLettered, deadLetter } from './dead-letter'
import type { Sql } from './db'
import { DeadlineError, Inflight, withDeadline } from './deadline'
import { classify, errorCode } from './outcomes'
import type { MembershipCache } from './memberships'
import { type Committed, insertEvents } from './write'

// The first rollup shard of process `index`: each process owns PG_POOL_MAX + 1 of
// them (its drainer's, then one per write in flight, which the pool bounds).
export function shardBaseOf(index: number | null, poolMax: number): number {
  return (index ?? 0) * (poolMax + 1)
}

interface SpilledRow { row: EventRow; spilledAtMs: number | null }

export class PostgresWriter {
  // Rollup stripes (sql/004_rollup_shards.sql) not held by a write in flight. The
  // first (shardBase) is the drainer's; a write holds its shard until Postgres answers, even past a
  // deadline, so at most one transaction in flight ever uses a shard. Bounded by the
  // writes that can be in flight at once, i.e. by PG_POOL_MAX.
  // With several processes (src/supervisor.ts) each owns the range from its
  // `shardBase` (shardBaseOf), so no two processes' writes share a shard either.
  private freeShards: number[] = []
  private nextShard: number

  constructor(
    private readonly sql: Sql, private readonly metrics: Metrics, private readonly memberships?: MembershipCache,
    private readonly shardBase = 0, private readonly committed?: Committed,
  ) {
    this.nextShard = shardBase + 1
  }

  write(rows: EventRow[], deadlineMs: number, abort: AbortSignal) {
    const shard = this.freeShards.pop() ?? this.nextShard++
    const inflight = new Inflight()
    const work = insertEvents(this.sql, rows, { shard, inflight, memberships: this.memberships, committed: this.committed })
      .finally(() => this.freeShards.push(shard))
    // Every failure is counted by what Postgres (or the socket) said, even when it
    // comes after the deadline; the deadline itself is counted as a timeout.
    work.catch(error => this.count(error))
    const committed = withDeadline(work, deadlineMs, 'a Postgres commit', abort).catch(error => {
      if (error instanceof DeadlineError) this.count(error)
      throw error
    })
    return {
      committed,
      settle: async (ms: number): Promise<RowOutcome[] | 'failed' | 'unknown'> => {
        inflight.cancelAll(this.sql, ms)
        const end = work.then(outcomes => outcomes, (error: unknown) => (error instanceof postgres.PostgresError ? 'failed' as const : 'unknown' as const))
        return await withDeadline(end, ms, 'waiting for a cancelled commit').catch(() => 'unknown' as const)
      },
    }
  }

  // Replays spilled rows; the ones Postgres refuses are dead-lettered in the same
  // transaction. Throws (and cancels the replay) when it could not be written now.
  async replay(batch: SpilledRow[], deadlineMs: number): Promise<{ row: EventRow; refusal: Refusal }[]> {
    const spilledAt = new Map(batch.map(s => [s.row, s.spilledAtMs]))
    const refused: DeadLettered[] = []
    const inflight = new Inflight()
    const work = insertEvents(this.sql, batch.map(s => s.row), {
      shard: this.shardBase, inflight, memberships: this.memberships, committed: this.committed,
      onRefused: async (tx, found) => {
        const items = found.map(f => ({ ...f, spilledAtMs: spilledAt.get(f.row) ?? null }))
        await deadLetter(tx, items)
        refused.push(...items)
      },
    })
    work.catch(error => this.count(error))
    try {
      await withDeadline(work, deadlineMs, 'a replay from the spill')
    } catch (error) {
      if (error instanceof DeadlineError) {
        this.count(error)
        inflight.cancelAll(this.sql, deadlineMs)
      }
      throw error
    }
    return refused
  }

  private count(error: unknown) {
    this.metrics.postgresErrors.inc({ kind: error instanceof DeadlineError ? 'timeout' : classify(error), code: errorCode(error) || 'none' })
  }
}
