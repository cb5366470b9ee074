// What the console watches, built once per instance (src/inlet.ts) and passed
// down: the live hub, the recent receipts and the rejection log. `settled()` is the
// flusher's one call per batch (pipeline/flusher.ts); it costs a comparison and the
// receipts' map writes when nobody is watching.

import type { Config } from '../config'
import type { EventRow } from '../ingest/validate'
import { type DurableIn, LiveHub } from './hub'
import { Receipts } from './receipts'
import { RejectionLog } from './rejections'

export class Live {
  readonly hub: LiveHub
  readonly receipts: Receipts
  readonly rejections: RejectionLog
  // Set with several processes (live/relay.ts): told of each settled batch too.
  relay: { settled: LiveHub['publish']; stop(): void } | null = null

  constructor(limits: Config['limits']) {
    this.hub = new LiveHub(limits.STREAM_SUBSCRIBERS_MAX, limits.STREAM_BUFFER_EVENTS_MAX)
    this.receipts = new Receipts(limits.RECEIPT_EVENTS_MAX)
    this.rejections = new RejectionLog(limits.REJECTIONS_PER_PROJECT_MAX, limits.REJECTION_PROJECTS_MAX)
  }

  // A batch is durable and its acks settled; `outcomes[i]` is rows[i]'s verdict
  // (only 'accepted' rows are new: duplicates and failed rows are not published).
  settled(rows: readonly EventRow[], outcomes: readonly unknown[], where: DurableIn): void {
    const accepted = (i: number) => outcomes[i] === 'accepted'
    this.receipts.record(rows, accepted, where, Date.now())
    this.hub.publish(rows, accepted, where)
    this.relay?.settled(rows, accepted, where)
  }

  close(): void {
    this.relay?.stop()
    this.hub.closeAll()
  }
}
