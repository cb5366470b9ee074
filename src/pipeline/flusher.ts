// Flushers: each takes everything waiting in the queue (up to a batch), writes it
// to the sink in one transaction, then settles every request's ack. Group commit
// without a timer: while one commit is in flight, the next batch forms behind it,
// so batches grow with load and shrink when it is light.

import type { Config } from '../config'
import { InletError } from '../errors'
import type { EventRow } from '../ingest/validate'
import type { Metrics } from '../metrics'
import { Ack, type Verdict } from './ack'
import { type Entry, EventQueue } from './queue'

// Where a batch becomes durable. Returns one outcome per row, in order: a verdict,
// or an InletError for a row that can never be stored (it fails only its own
// request). Throws when the batch could not be made durable at all.
export type RowOutcome = Verdict | InletError

export interface Sink {
  readonly name: string
  write(rows: EventRow[]): Promise<RowOutcome[]>
  // Where write()'s batch was made durable (the fallback sink knows; issue 11).
  durableIn?(outcomes: RowOutcome[]): 'postgres' | 'spill'
}

// Told of each settled batch: the console's live stream and receipts (src/live/).
export interface SettledTap {
  settled(rows: EventRow[], outcomes: RowOutcome[], where: 'postgres' | 'spill'): void
}

export class Pipeline {
  readonly queue: EventQueue
  private loops: Promise<void>[] = []
  private closing = false
  inFlight = 0

  constructor(
    private readonly sink: Sink,
    private readonly limits: Config['limits'],
    private readonly metrics: Metrics,
    private readonly tap?: SettledTap, // hook (issue 11)
  ) {
    this.queue = new EventQueue(limits.QUEUE_EVENTS_MAX, limits.QUEUE_BYTES_MAX)
  }

  start(): void {
    for (let i = 0; i < this.limits.FLUSHERS; i++) this.loops.push(this.loop())
  }

  // Queues a request's rows and resolves with their verdicts once all are durable.
  async submit(rows: EventRow[]): Promise<Verdict[]> {
    if (this.closing) throw new InletError('unavailable', 'the server is shutting down', undefined, 1)
    const ack = new Ack(rows.length)
    const entries: Entry[] = rows.map((row, slot) => ({ row, ack, slot }))
    if (!this.queue.offer(entries)) {
      this.metrics.overloaded.inc({ reason: 'buffer_full' })
      throw new InletError('overloaded', 'the ingest buffer is full; retry shortly', undefined, 1)
    }
    return ack.done
  }

  private async loop(): Promise<void> {
    for (;;) {
      await this.queue.waitForWork()
      const batch = this.queue.take(this.limits.FLUSH_BATCH_ROWS_MAX, this.limits.FLUSH_BATCH_BYTES_MAX)
      if (batch.length === 0) {
        if (this.closing) return
        continue
      }
      await this.flush(batch)
    }
  }

  private async flush(batch: Entry[]): Promise<void> {
    this.inFlight += batch.length
    const started = performance.now()
    try {
      const rows = batch.map(e => e.row)
      const verdicts = await this.sink.write(rows)
      for (let i = 0; i < batch.length; i++) {
        const v = verdicts[i]
        if (v instanceof InletError) batch[i].ack.fail(v)
        else batch[i].ack.settle(batch[i].slot, v)
      }
      this.metrics.flushBatchEvents.observe(batch.length)
      this.metrics.flushSeconds.observe((performance.now() - started) / 1000)
      this.tap?.settled(rows, verdicts, this.sink.durableIn?.(verdicts) ?? 'postgres') // hook (issue 11): live stream + receipts
    } catch (cause) {
      this.metrics.flushErrors.inc()
      const error = cause instanceof InletError ? cause
        : new InletError('unavailable', 'events could not be made durable; retry shortly', undefined, 1, { cause })
      for (const e of batch) e.ack.fail(error)
    } finally {
      this.inFlight -= batch.length
    }
  }

  // Stops intake, lets the flushers empty the queue, and resolves when they have.
  async close(): Promise<void> {
    this.closing = true
    this.queue.close()
    await Promise.all(this.loops)
  }
}
