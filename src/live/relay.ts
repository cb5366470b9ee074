// The live stream and the rejection log across processes (INLET_PROCESSES > 1 or
// several hosts), over the bus (store/bus.ts, LISTEN/NOTIFY). Nothing is relayed
// while nobody watches elsewhere, so ingest pays one comparison per settled batch:
//
// - A process with stream subscribers of a project announces `watch` for it when
//   the first subscribes and every WATCH_ANNOUNCE_MS after; the others relay that
//   project's accepted rows to it for WATCH_TTL_MS past each announcement, packed
//   into notices under NOTIFY_PAYLOAD_BYTES_MAX. A row too big for one notice is
//   not relayed: the remote streams report it in `lagged`, as a full buffer does.
// - Refusals are relayed to every process (the log is small and bounded): collected
//   for REJECTION_RELAY_MS, at most REJECTIONS_PER_PROJECT_MAX per project per round
//   (the ring keeps no more), packed likewise. A relayed refusal is not relayed again.

import type { EventRow } from '../event'
import type { DurableIn, LiveHub } from './hub'
import type { Rejection, RejectionLog } from './rejections'

export interface RelayBus {
  readonly id: string
  // A message, or one already serialised (a JSON object's text).
  publish(message: ({ k: string } & Record<string, unknown>) | string): boolean
  on(kind: string, handler: (m: Record<string, any>) => void): void
}

const WATCH_ANNOUNCE_MS = 2_000
// Two and a half announcements: one lost notice does not stop the relay.
const WATCH_TTL_MS = 5_000
const REJECTION_RELAY_MS = 250
// JSON overhead of a notice beside its items ({"k":…,"p":…,"w":…,"from":…}).
const ENVELOPE_BYTES = 200

export class LiveRelay {
  // Projects watched by another process, until when.
  private watchedElsewhere = new Map<number, number>()
  private pendingRejections = new Map<number, Rejection[]>()
  private timers: ReturnType<typeof setInterval>[] = []

  constructor(
    private readonly bus: RelayBus,
    private readonly hub: LiveHub,
    private readonly rejections: RejectionLog,
    private readonly bytesMax: number,
  ) {}

  start(): void {
    this.bus.on('watch', m => {
      if (typeof m.p === 'number') this.watchedElsewhere.set(m.p, performance.now() + WATCH_TTL_MS)
    })
    this.bus.on('events', m => {
      if (typeof m.p !== 'number' || !Array.isArray(m.rows)) return
      this.hub.publish(m.rows as EventRow[], () => true, m.w === 'spill' ? 'spill' : 'postgres')
      if (typeof m.missed === 'number' && m.missed > 0) this.hub.missed(m.p, m.missed)
    })
    this.bus.on('rejections', m => {
      if (typeof m.p !== 'number' || !Array.isArray(m.r)) return
      for (const r of m.r as Rejection[]) this.rejections.add(m.p, r, false)
    })
    this.hub.onFirstSubscriber = projectId => this.bus.publish({ k: 'watch', p: projectId })
    this.rejections.onAdd = (projectId, r) => this.queueRejection(projectId, r)
    const announce = setInterval(() => {
      for (const p of this.hub.projects()) this.bus.publish({ k: 'watch', p })
    }, WATCH_ANNOUNCE_MS)
    const flush = setInterval(() => this.flushRejections(), REJECTION_RELAY_MS)
    announce.unref?.()
    flush.unref?.()
    this.timers.push(announce, flush)
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t)
  }

  // One settled batch (live/index.ts): the accepted rows of projects watched elsewhere.
  settled(rows: readonly EventRow[], accepted: (i: number) => boolean, where: DurableIn): void {
    if (this.watchedElsewhere.size === 0) return
    const now = performance.now()
    let byProject: Map<number, EventRow[]> | undefined
    for (let i = 0; i < rows.length; i++) {
      const p = rows[i]!.projectId
      const until = this.watchedElsewhere.get(p)
      if (until === undefined || !accepted(i)) continue
      if (until < now) {
        this.watchedElsewhere.delete(p)
        continue
      }
      byProject ??= new Map()
      const list = byProject.get(p) ?? []
      list.push(rows[i]!)
      byProject.set(p, list)
    }
    for (const [p, list] of byProject ?? []) this.send(p, 'events', 'rows', list.map(r => JSON.stringify(r)), { w: where })
  }

  private queueRejection(projectId: number, r: Rejection): void {
    const list = this.pendingRejections.get(projectId) ?? []
    list.push(r)
    if (list.length > this.rejections.perProjectMax) list.shift()
    this.pendingRejections.set(projectId, list)
  }

  private flushRejections(): void {
    if (this.pendingRejections.size === 0) return
    const pending = this.pendingRejections
    this.pendingRejections = new Map()
    for (const [p, list] of pending) this.send(p, 'rejections', 'r', list.map(r => JSON.stringify(r)), {})
  }

  // Items (already JSON) packed into as few notices as fit; one too big alone is
  // counted as missed in the next notice for that project.
  private send(p: number, k: string, field: string, items: string[], extra: Record<string, unknown>): void {
    const budget = this.bytesMax - ENVELOPE_BYTES
    let part: string[] = []
    let bytes = 0
    let missed = 0
    const flush = () => {
      if (part.length === 0 && missed === 0) return
      const message = `{"k":${JSON.stringify(k)},"p":${p},"missed":${missed},"w":${JSON.stringify(extra.w ?? null)},"${field}":[${part.join(',')}]}`
      this.bus.publish(message)
      part = []
      bytes = 0
      missed = 0
    }
    for (const item of items) {
      const size = Buffer.byteLength(item) + 1
      if (size > budget) {
        missed++
        continue
      }
      if (bytes + size > budget) flush()
      part.push(item)
      bytes += size
    }
    flush()
  }
}
