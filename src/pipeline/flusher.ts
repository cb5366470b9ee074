// Flushers: each takes whole requests waiting in the queue (up to a batch), writes
// their rows to the sink in one go, then settles every request's ack. Group commit
// without a timer: while one commit is in flight, the next batch forms behind it,
// so batches grow with load and shrink when it is light.
//
// Two kinds of failure, kept apart: the sink could not make the batch durable (an
// operating error: each request gets a 503 and retries), or an assertion failed (a
// bug: `onBug` is called, which in a server logs and ends the process — the spill and
// the next start's drain keep every acknowledged event; a bug is never passed off as load).

import { AssertionError } from '../assert'
import type { Config } from '../config'
import { InletError } from '../errors'
import type { DurableIn, EventRow, RowOutcome } from '../event'
import type { Metrics } from '../metrics'
import { Ack } from './ack'
import { EventQueue, type Pending } from './queue'

// Where a batch becomes durable: one outcome per row, in order, and where the new
// rows went. Throws when the batch could not be made durable; an OutcomeUnknown
// says it may have been.
export interface Written {
  outcomes: RowOutcome[]
  durableIn: DurableIn
}

export interface Sink {
  write(rows: EventRow[]): Promise<Written>
}

// Told of each settled batch: the console's live stream and receipts (src/live/).
export interface SettledTap {
  settled(rows: readonly EventRow[], outcomes: readonly RowOutcome[], durableIn: DurableIn): void
}

export interface PipelineOptions {
  tap?: SettledTap
  // Test hook (INLET_FAILPOINTS=flush:N): the Nth flush hits an assertion.
  failAtFlush?: number
}

// The batch's commit was sent and its answer never came, and no spill could take a
// copy: the events may be stored. The client is told so, with the ids to retry with.
export class OutcomeUnknown extends Error {}

export type OnBug = (error: AssertionError, context: Record<string, unknown>) => void

export class Pipeline {
  readonly queue: EventQueue
  private loops: Promise<void>[] = []
  private closing = false
  private flushes = 0
  // Flushes running now: a second one starts only when enough rows wait (below).
  private running = 0
  inFlight = 0

  constructor(
    private readonly sink: Sink,
    private readonly limits: Config['limits'],
    private readonly metrics: Metrics,
    private readonly onBug: OnBug,
    private readonly options: PipelineOptions = {},
  ) {
    this.queue = new EventQueue(limits.QUEUE_EVENTS_MAX, limits.QUEUE_BYTES_MAX)
  }

  start(): void {
    for (let i = 0; i < this.limits.FLUSHERS; i++) this.loops.push(this.loop())
  }

  // Queues a request's rows and resolves with their outcomes once all are durable.
  submit(rows: EventRow[]): Promise<RowOutcome[]> {
    if (this.closing) return Promise.reject(new InletError('unavailable', 'the server is shutting down', undefined, 1))
    let bytes = 0
    for (const r of rows) bytes += r.bytes
    const ack = new Ack(rows.length)
    if (!this.queue.offer({ rows, bytes, ack })) {
      this.metrics.overloaded.inc({ reason: 'buffer_full' })
      return Promise.reject(new InletError('overloaded', 'the ingest buffer is full; retry shortly', undefined, 1))
    }
    return ack.done
  }

  // While one flush is in flight, another starts only once FLUSH_OVERLAP_ROWS_MIN rows
  // wait: small batches are better merged into the next commit (Postgres pays ~300 µs
  // per transaction, and on a small host it shares the cores with the HTTP thread),
  // large ones are worth a second connection committing beside the first.
  private async loop(): Promise<void> {
    for (;;) {
      await this.queue.waitForWork(this.running > 0 ? this.limits.FLUSH_OVERLAP_ROWS_MIN : 1)
      const batch = this.queue.take(this.limits.FLUSH_BATCH_ROWS_MAX, this.limits.FLUSH_BATCH_BYTES_MAX)
      if (batch.length === 0) {
        if (this.closing) return
        continue
      }
      await this.flush(batch)
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    const rows = batch.length === 1 ? batch[0].rows : batch.flatMap(p => p.rows)
    this.inFlight += rows.length
    this.running++
    const started = performance.now()
    try {
      if (++this.flushes === this.options.failAtFlush) throw new AssertionError('failpoint: flush')
      const { outcomes, durableIn } = await this.sink.write(rows)
      let at = 0
      for (const p of batch) {
        p.ack.settle(outcomes.slice(at, at + p.rows.length))
        at += p.rows.length
      }
      this.options.tap?.settled(rows, outcomes, durableIn)
      this.metrics.flushBatchEvents.observe(rows.length)
      this.metrics.flushSeconds.observe((performance.now() - started) / 1000)
    } catch (cause) {
      if (cause instanceof AssertionError) {
        this.onBug(cause, { where: 'flush', rows: rows.length, requests: batch.length })
        return
      }
      this.metrics.flushErrors.inc()
      for (const p of batch) p.ack.fail(requestError(cause, p.rows))
    } finally {
      this.inFlight -= rows.length
      this.running--
    }
  }

  // Stops intake, lets the flushers empty the queue, and resolves when they have.
  async close(): Promise<void> {
    this.closing = true
    this.queue.close()
    await Promise.all(this.loops)
  }
}

function requestError(cause: unknown, rows: EventRow[]): InletError {
  if (cause instanceof InletError) return cause
  if (cause instanceof OutcomeUnknown) {
    return new InletError('unavailable',
      'Postgres did not confirm the commit and the spill could not take a copy: the events may or may not be stored; '
      + 'retry with the same ids (listed in details) and each is stored once', rows.map(r => ({ id: r.id })), 1, { cause })
  }
  return new InletError('unavailable', 'events could not be made durable; retry shortly', undefined, 1, { cause })
}
