// The ack handle a request waits on: one verdict slot per queued event, resolved
// when the last of them is durable (in Postgres or in the spill), never before.

import { assert } from '../assert'

export type Verdict = 'accepted' | 'duplicate'

export class Ack {
  readonly verdicts: Verdict[]
  private pending: number
  private resolve!: (verdicts: Verdict[]) => void
  private reject!: (error: unknown) => void
  readonly done: Promise<Verdict[]>
  private failed = false

  constructor(size: number) {
    assert(size > 0, 'an ack covers at least one event')
    this.verdicts = new Array(size)
    this.pending = size
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  settle(slot: number, verdict: Verdict): void {
    assert(this.verdicts[slot] === undefined, 'an event slot is settled once')
    this.verdicts[slot] = verdict
    if (--this.pending === 0 && !this.failed) this.resolve(this.verdicts)
  }

  // Part of the request could not be made durable: the whole request fails (503)
  // and the client retries it; the parts that did land dedupe by id on the retry.
  fail(error: unknown): void {
    if (this.failed) return
    this.failed = true
    this.reject(error)
  }
}
