// Reads from a streaming replica (DATABASE_READ_URL) with read-your-writes: before a
// read, the primary's WAL insert position is asked for (a trivial query that takes
// no lock), which is past the commit of every event any process has acknowledged
// by then; the replica serves the read only if it has replayed that far, else the
// primary does. So an event acknowledged anywhere is found at once, and reads move
// off the primary whenever the replica keeps up (the usual case: replay is
// milliseconds behind). The replica's replay position is remembered, so a replica
// known to be ahead is not asked again; one that fails or is slow to answer is left
// alone for PG_PROBE_INTERVAL_MS.

import postgres from 'postgres'
import type { Metrics } from '../metrics'
import type { Sql } from './db'
import { DeadlineError, withDeadline } from './deadline'

export type ReadTarget = 'replica' | 'primary_replica_behind' | 'primary_replica_away' | 'primary'

// LSNs as 'XXXXXXXX/XXXXXXXX' compared as 64-bit numbers.
export function lsn(text: string): bigint {
  const [hi, lo] = text.split('/')
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`)
}

export interface PinnedReads {
  readonly target: ReadTarget
  read<T>(run: (sql: Sql) => Promise<T>): Promise<T>
}

export class ReadRouter {
  private replayed = -1n
  private awayUntilMs = 0

  constructor(
    private readonly primary: Sql,
    private readonly replica: Sql | null,
    private readonly checkMsMax: number,
    private readonly awayMs: number,
    private readonly metrics: Metrics,
  ) {}

  // Runs a read where it may go. A replica that fails it (a recovery conflict
  // cancels standby queries; a dropped connection) is left alone for a while and
  // the read is run again on the primary: a read is safe to repeat.
  async read<T>(run: (sql: Sql) => Promise<T>): Promise<T> {
    return await (await this.pin()).read(run)
  }

  // One decision for many reads (the pages of an export): the server is chosen once,
  // by the same rule, and kept, so a stream does not go back and forth between
  // servers and asks the primary's WAL position once, not once per page. Every
  // read of it sees every write acknowledged before pin() was called. If the
  // replica fails one, that read and the rest go to the primary, which has all
  // the replica had: a keyset walk carries on there without a gap or a repeat.
  async pin(): Promise<PinnedReads> {
    const target = await this.target()
    this.metrics.reads.inc({ target })
    let onReplica = target === 'replica'
    return {
      target,
      read: async run => {
        if (!onReplica) return await run(this.primary)
        try {
          return await run(this.replica!)
        } catch (error) {
          if (error instanceof DeadlineError || (error instanceof postgres.PostgresError && error.code !== '40001')) throw error
          onReplica = false
          this.awayUntilMs = performance.now() + this.awayMs
          this.metrics.reads.inc({ target: 'primary_replica_failed' })
          return await run(this.primary)
        }
      },
    }
  }

  private async target(): Promise<ReadTarget> {
    if (!this.replica) return 'primary'
    if (performance.now() < this.awayUntilMs) return 'primary_replica_away'
    let needed: bigint
    try {
      const [{ at }] = await withDeadline(this.primary`select pg_current_wal_insert_lsn()::text as at`, this.checkMsMax, 'the primary WAL position')
      needed = lsn(at as string)
    } catch {
      // The read itself will say what is wrong with the primary.
      return 'primary'
    }
    if (this.replayed >= needed) return 'replica'
    try {
      const [row] = await withDeadline(this.replica`select pg_last_wal_replay_lsn()::text as at`, this.checkMsMax, 'the replica replay position')
      // Null on a server that is not (or no longer) a standby: not a replica to trust.
      if (!row?.at) throw new Error('DATABASE_READ_URL is not a streaming replica')
      this.replayed = lsn(row.at as string)
      return this.replayed >= needed ? 'replica' : 'primary_replica_behind'
    } catch {
      this.awayUntilMs = performance.now() + this.awayMs
      return 'primary_replica_away'
    }
  }
}
