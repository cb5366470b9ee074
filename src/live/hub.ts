// The live hub: who is watching which project's events, and the bounded hand-off
// from the flusher to them. The flusher calls publish() once per settled batch;
// with nobody subscribed that is one comparison. With subscribers, an accepted row
// is pushed by reference into each matching subscriber's buffer, and serialised
// once, lazily, by the first stream that writes it. A full buffer drops the row and
// counts it (the stream then says `lagged` with how many), so a slow reader loses
// events and never holds the writer or unbounded memory.

import { assert } from '../assert'
import type { EventRow } from '../ingest/validate'

export type DurableIn = 'postgres' | 'spill'

export interface StreamFilter {
  name?: string
  userId?: string
  type?: string
}

// A row on its way to subscribers; `bytes` is filled by the first stream that
// writes it, so 20 subscribers cost one serialisation and 20 memory copies.
export interface Delivery {
  row: EventRow
  where: DurableIn
  bytes?: Uint8Array
}

const encoder = new TextEncoder()

// The event as GET /v1/events/{id} returns it, built from the row without parsing:
// properties and context are already JSON text.
export function eventJson(r: EventRow): string {
  const str = (v: string | null) => (v === null ? 'null' : JSON.stringify(v))
  return `{"id":${JSON.stringify(r.id)},"type":${JSON.stringify(r.type)},"name":${JSON.stringify(r.name)},`
    + `"timestamp":"${new Date(r.timestampMs).toISOString()}","received_at":"${new Date(r.receivedAtMs).toISOString()}",`
    + `"user_id":${str(r.userId)},"anonymous_id":${str(r.anonymousId)},"session_id":${str(r.sessionId)},`
    + `"properties":${r.properties},"context":${r.context}}`
}

export function deliveryBytes(d: Delivery): Uint8Array {
  d.bytes ??= encoder.encode(`event: event\ndata: {"durable_in":"${d.where}","event":${eventJson(d.row)}}\n\n`)
  return d.bytes
}

export class Subscriber {
  buffer: Delivery[] = []
  missed = 0
  closed = false
  private wake: (() => void) | null = null

  constructor(readonly projectId: number, readonly filter: StreamFilter, readonly bufferMax: number) {}

  matches(r: EventRow): boolean {
    const f = this.filter
    return (f.name === undefined || f.name === r.name)
      && (f.userId === undefined || f.userId === r.userId)
      && (f.type === undefined || f.type === r.type)
  }

  offer(d: Delivery): void {
    if (this.buffer.length < this.bufferMax) this.buffer.push(d)
    else this.missed++
    this.notify()
  }

  // Resolves when there is something to send or the subscription closed; at most
  // one waiter (the stream's pull) at a time.
  waitForWork(): Promise<void> {
    if (this.buffer.length > 0 || this.missed > 0 || this.closed) return Promise.resolve()
    return new Promise(resolve => { this.wake = resolve })
  }

  notify(): void {
    const wake = this.wake
    this.wake = null
    wake?.()
  }

  // Takes what waits: the buffered deliveries and the count of those dropped since.
  drain(): { deliveries: Delivery[]; missed: number } {
    const out = { deliveries: this.buffer, missed: this.missed }
    this.buffer = []
    this.missed = 0
    return out
  }
}

export class LiveHub {
  private byProject = new Map<number, Set<Subscriber>>()
  count = 0
  // Told when a project gets its first subscriber here (live/relay.ts announces it).
  onFirstSubscriber: ((projectId: number) => void) | null = null

  constructor(readonly subscribersMax: number, readonly bufferMax: number) {
    assert(subscribersMax > 0 && bufferMax > 0, 'the hub needs room for one subscriber and one event')
  }

  // A new subscription, or null when STREAM_SUBSCRIBERS_MAX are open.
  subscribe(projectId: number, filter: StreamFilter): Subscriber | null {
    if (this.count >= this.subscribersMax) return null
    const sub = new Subscriber(projectId, filter, this.bufferMax)
    let set = this.byProject.get(projectId)
    const first = !set
    if (!set) this.byProject.set(projectId, (set = new Set()))
    set.add(sub)
    this.count++
    if (first) this.onFirstSubscriber?.(projectId)
    return sub
  }

  // Idempotent: a stream's cancel and its request's abort may both call it.
  unsubscribe(sub: Subscriber): void {
    if (sub.closed) return
    sub.closed = true
    const set = this.byProject.get(sub.projectId)
    if (set?.delete(sub)) {
      this.count--
      if (set.size === 0) this.byProject.delete(sub.projectId)
    }
    sub.buffer = []
    sub.notify()
  }

  // One settled batch: `accepted[i]` says whether rows[i] was newly stored (never
  // a duplicate). Rows of many projects may share a batch.
  publish(rows: readonly EventRow[], accepted: (i: number) => boolean, where: DurableIn): void {
    if (this.count === 0) return
    for (let i = 0; i < rows.length; i++) {
      const subs = this.byProject.get(rows[i].projectId)
      if (subs === undefined || !accepted(i)) continue
      let d: Delivery | undefined
      for (const sub of subs) {
        if (!sub.matches(rows[i])) continue
        d ??= { row: rows[i], where }
        sub.offer(d)
      }
    }
  }

  // Projects with a subscriber here.
  projects(): IterableIterator<number> {
    return this.byProject.keys()
  }

  // Events of a project that could not reach this process (live/relay.ts): each of
  // its streams reports them in `lagged`.
  missed(projectId: number, n: number): void {
    for (const sub of this.byProject.get(projectId) ?? []) {
      sub.missed += n
      sub.notify()
    }
  }

  // Shutdown: every stream ends.
  closeAll(): void {
    for (const set of [...this.byProject.values()]) for (const sub of [...set]) this.unsubscribe(sub)
  }
}
