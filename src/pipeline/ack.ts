// The ack handle a request waits on: resolved with one outcome per event once all
// of the request's events are durable (in Postgres or in the spill), never before,
// or rejected when they could not be made durable. A request's events are always
// written together (queue.ts takes whole requests), so it is settled exactly once.

import { assert } from '../assert'
import type { RowOutcome } from '../event'

export class Ack {
  private resolve!: (outcomes: RowOutcome[]) => void
  private reject!: (error: unknown) => void
  readonly done: Promise<RowOutcome[]>
  private settled = false

  constructor(readonly size: number) {
    assert(size > 0, 'an ack covers at least one event')
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  settle(outcomes: RowOutcome[]): void {
    assert(!this.settled, 'a request is settled once')
    assert(outcomes.length === this.size, 'one outcome per event of the request')
    this.settled = true
    this.resolve(outcomes)
  }

  fail(error: unknown): void {
    assert(!this.settled, 'a request is settled once')
    this.settled = true
    this.reject(error)
  }
}
