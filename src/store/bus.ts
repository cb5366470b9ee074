// Messages between the Inlet processes of one Postgres, through LISTEN/NOTIFY on one
// channel: no new server, and only processes on the same database hear them. A
// message is JSON `{ k: kind, from: sender, ... }`; a process ignores its own, except
// those with no sender, which come from triggers (sql/010_change_notices.sql).
//
// Postgres refuses a payload of 8000 bytes or more, so publish() refuses one over
// NOTIFY_PAYLOAD_BYTES_MAX and says so; at most `inflightMax` notifies wait for
// Postgres at once and the rest are refused too (counted by the caller), so a slow
// Postgres never queues relay traffic. postgres.js re-listens after a dropped
// connection but gives up if Postgres is still away then, so a watchdog pings this
// process itself every BUS_PING_MS and listens again on a fresh connection when the
// pings stop coming back; what was missed meanwhile is announced as `relisten`.

import { randomBytes } from 'node:crypto'
import { errorFields, type Log } from '../log'
import type { Sql } from './db'

export const BUS_CHANNEL = 'inlet'
// Postgres's limit is 8000 bytes including the channel name's; the margin is slack.
export const NOTIFY_PAYLOAD_BYTES_MAX = 7_900
// The watchdog: a ping a second, a fresh LISTEN after three missed.
const BUS_PING_MS = 1_000
const BUS_LOST_AFTER_MS = 3 * BUS_PING_MS

export type BusMessage = { k: string; from?: string } & Record<string, unknown>
type Handler = (m: BusMessage) => void

export class Bus {
  readonly id = randomBytes(6).toString('base64url')
  private handlers = new Map<string, Handler[]>()
  private inflight = 0
  private listener: Sql | null = null
  private heardMs = performance.now()
  private listenedMs = 0
  private timer: ReturnType<typeof setInterval> | null = null
  constructor(
    private readonly sql: Sql,
    // A client for the LISTEN connection, made afresh by the watchdog.
    private readonly listenClient: () => Sql,
    private readonly inflightMax: number,
    private readonly log: Log,
    // Notices not sent, by reason (too_big, inflight, failed).
    private readonly refused: (reason: string) => void = () => {},
  ) {}

  on(kind: string, handler: Handler): void {
    const list = this.handlers.get(kind) ?? []
    list.push(handler)
    this.handlers.set(kind, list)
  }

  async start(): Promise<void> {
    this.on('ping', () => { this.heardMs = performance.now() })
    this.timer = setInterval(() => this.watch(), BUS_PING_MS)
    this.timer.unref?.()
    await this.listen().catch(() => {})
  }

  // False when it was not sent: too big, or too many waiting for Postgres.
  // A message, or one already serialised (a JSON object's text). `relay: false` is
  // for the rare notices that keep caches correct (a forget: one per erasure or
  // retention pass), which the in-flight bound meant for relay traffic must not drop.
  publish(message: BusMessage | string, relay = true): boolean {
    const text = typeof message === 'string'
      ? `${message.slice(0, message.lastIndexOf('}'))},"from":"${this.id}"}`
      : JSON.stringify({ ...message, from: this.id })
    const tooBig = Buffer.byteLength(text) > NOTIFY_PAYLOAD_BYTES_MAX
    if (tooBig || (relay && this.inflight >= this.inflightMax)) {
      this.refused(tooBig ? 'too_big' : 'inflight')
      return false
    }
    this.inflight++
    this.sql.notify(BUS_CHANNEL, text).then(() => {}, () => this.refused('failed')).finally(() => { this.inflight-- })
    return true
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await this.listener?.end({ timeout: 0 })
    this.listener = null
  }

  private receive(text: string): void {
    let m: BusMessage
    try {
      m = JSON.parse(text)
    } catch {
      return
    }
    if (typeof m?.k !== 'string') return
    if (m.from === this.id && m.k !== 'ping') return
    if (m.k === 'ping' && m.from !== this.id) return
    for (const h of this.handlers.get(m.k) ?? []) {
      try {
        h(m)
      } catch (e) {
        this.log('error', 'a bus message handler failed', { kind: m.k, ...errorFields(e) })
      }
    }
  }

  private async listen(): Promise<void> {
    this.listenedMs = performance.now()
    const old = this.listener
    this.listener = this.listenClient()
    void old?.end({ timeout: 0 })
    await this.listener.listen(BUS_CHANNEL, text => this.receive(text), () => {
      this.heardMs = performance.now()
      // Whatever was published while nobody listened here is lost: say so.
      for (const h of this.handlers.get('relisten') ?? []) h({ k: 'relisten' })
    })
  }

  private watch(): void {
    this.publish({ k: 'ping' })
    const now = performance.now()
    if (now - this.heardMs > BUS_LOST_AFTER_MS && now - this.listenedMs > BUS_LOST_AFTER_MS) {
      this.log('warn', 'the LISTEN connection to Postgres is lost; listening again')
      void this.listen().catch(() => {})
    }
  }
}
