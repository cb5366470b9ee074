// The load drivers: closed loop (N connections, each sends as soon as its last
// request is acknowledged), open loop (a fixed arrival rate whatever the server
// does), and virtual users (scripted flows with think time, W1 and W4).
//
// All run in this one process on Bun's event loop: the raw client costs ~12 µs of
// generator CPU per request (http-client.ts), so one thread drives well past the
// server's ceiling on this box. Each phase reports the generator's own CPU seconds
// so a generator-bound run is visible rather than silently capping the figure.

import * as hdr from 'hdr-histogram-js'
import { Connection, HttpError, type Reply } from './http-client'
import type { Recorder } from './recorder'

export interface Target { host: string; port: number }
export interface Req { bytes: Uint8Array; events: number }

// Stragglers sent inside the window get this long to finish before we give up on them.
const DRAIN_MS_MAX = 30_000
// After a failed connection a client waits this long before reconnecting, so a dead
// server costs a few attempts per second instead of a hot loop.
const RECONNECT_PAUSE_MS = 20
// Open loop: the scheduler wakes this often; arrivals due meanwhile go out together.
const SCHEDULER_TICK_MS = 1

// One client's connection, reopened after failures; every send is recorded.
export class Client {
  private conn: Connection | null = null
  last: Reply | null = null
  // Why the last send got no answer ('connect', 'closed', 'timeout'), for per-step tallies.
  lastError: string | null = null

  constructor(readonly target: Target, readonly rec: Recorder) {}

  // Sends and records; `startMs` is the intended send time (open loop) or now.
  async send(req: Req, keepBody = false, startMs = performance.now()): Promise<Reply | null> {
    try {
      if (!this.conn || this.conn.closed) this.conn = await Connection.open(this.target.host, this.target.port)
      const reply = await this.conn.send(req.bytes, keepBody)
      this.rec.record(startMs, performance.now(), reply.status, req.events)
      this.lastError = null
      return (this.last = reply)
    } catch (e) {
      this.lastError = e instanceof HttpError ? e.code : 'error'
      this.rec.record(startMs, performance.now(), this.lastError)
      this.conn?.close()
      this.conn = null
      await Bun.sleep(RECONNECT_PAUSE_MS)
      return (this.last = null)
    }
  }

  close() {
    this.conn?.close()
    this.conn = null
  }
}

export interface Window { warmupMs: number; durationMs: number }

function openWindow(rec: Recorder, w: Window, answersInWindowOnly = false): number {
  const start = performance.now() + w.warmupMs
  rec.window(start, start + w.durationMs, { answersInWindowOnly })
  return start + w.durationMs
}

// Waits for the tasks, but no longer than DRAIN_MS_MAX past the window's end.
async function settle(tasks: Promise<unknown>[], endMs: number) {
  let timer: Timer | undefined
  const cap = new Promise<void>(resolve => { timer = setTimeout(resolve, Math.max(0, endMs - performance.now()) + DRAIN_MS_MAX) })
  await Promise.race([Promise.allSettled(tasks), cap])
  clearTimeout(timer) // a pending cap would keep the process alive for minutes after W4
}

// N connections, each sending `next(connection)` as fast as it is acknowledged.
export async function closedLoop(o: Window & {
  target: Target; rec: Recorder; connections: number; next: (connection: number) => Req
}) {
  const endMs = openWindow(o.rec, o)
  const clients = Array.from({ length: o.connections }, () => new Client(o.target, o.rec))
  await settle(clients.map(async (c, i) => {
    while (performance.now() < endMs) await c.send(o.next(i))
  }), endMs)
  for (const c of clients) c.close()
}

// A fixed arrival rate. A request due while every connection is busy waits in a
// backlog (its latency still counts from when it was due) and new connections are
// opened up to `connectionsMax`, as a fleet of independent senders would.
export async function openLoop(o: Window & {
  target: Target; rec: Recorder; ratePerS: number; connectionsMax: number; next: (seq: number) => Req
}) {
  const endMs = openWindow(o.rec, o, true)
  const idle: Client[] = []
  const backlog: { req: Req; dueMs: number }[] = []
  const inFlight = new Set<Promise<void>>()
  let opened = 0
  // How late the generator itself sent requests: if this is large, the latency
  // figures are the generator's fault, not the server's.
  const lagUs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 2 })
  const run = (client: Client, req: Req, dueMs: number) => {
    lagUs.recordValue(Math.max(1, Math.round((performance.now() - dueMs) * 1000)))
    const p: Promise<void> = client.send(req, false, dueMs).then(() => {
      inFlight.delete(p)
      const waiting = backlog.shift()
      if (waiting) run(client, waiting.req, waiting.dueMs)
      else idle.push(client)
    })
    inFlight.add(p)
  }
  const t0 = performance.now()
  let issued = 0
  while (performance.now() < endMs) {
    // Request i is due at t0 + i/rate, so i+1 requests are due once that moment passes.
    const due = Math.floor(((performance.now() - t0) * o.ratePerS) / 1000) + 1
    for (; issued < due; issued++) {
      const req = o.next(issued)
      const dueMs = t0 + (issued * 1000) / o.ratePerS
      const client = idle.pop() ?? (opened < o.connectionsMax ? (opened++, new Client(o.target, o.rec)) : null)
      if (client) run(client, req, dueMs)
      else backlog.push({ req, dueMs })
    }
    await Bun.sleep(SCHEDULER_TICK_MS)
  }
  // Whatever is still in the backlog was due inside the window: it is sent and counted.
  const deadline = performance.now() + DRAIN_MS_MAX
  while ((inFlight.size || backlog.length) && performance.now() < deadline) await Bun.sleep(5)
  for (const c of idle) c.close()
  return { connectionsOpened: opened, sendLagP99Ms: lagUs.getValueAtPercentile(99) / 1000, sendLagMaxMs: lagUs.maxValue / 1000 }
}

export interface User {
  index: number
  client: Client
  // False once the window has closed: a looping user should finish its step and stop.
  running: () => boolean
}

// Virtual users: each gets its own connection and runs `script` (to completion, or
// in a loop while `running()`); all start together.
export async function runUsers(o: Window & {
  target: Target; rec: Recorder; users: number; script: (user: User) => Promise<void>
}) {
  const endMs = openWindow(o.rec, o)
  const running = () => performance.now() < endMs
  const clients = Array.from({ length: o.users }, () => new Client(o.target, o.rec))
  await settle(clients.map((client, index) => o.script({ index, client, running })), endMs)
  for (const c of clients) c.close()
}
