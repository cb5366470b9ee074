// What one load phase observed: an HDR histogram of latencies, counts by status,
// and a per-second timeline for the throughput chart.
//
// Latency is recorded in microseconds for acknowledged (2xx) requests only: a fast
// 429 or 503 is not an ack and must not flatter the percentiles; those are counted
// by status instead. Open-loop callers pass the *intended* send time as the start,
// so a stalled server's queueing shows up in the latency (no coordinated omission).
//
// A request belongs to the measured window when it was (meant to be) sent inside
// it, however late it completes; the load drivers wait for those stragglers.

import * as hdr from 'hdr-histogram-js'

// Tracked range: 1 µs to 10 minutes at 3 significant digits (0.1% resolution).
const LATENCY_US_MAX = 600_000_000

export interface Summary {
  requests: number
  ok: number
  errors: number
  byStatus: Record<string, number>
  durationS: number
  reqPerS: number
  eventsPerS: number
  events: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  meanMs: number
  // Acked requests and events per second of the measured window.
  timeline: { reqPerS: number[]; eventsPerS: number[] }
}

export class Recorder {
  readonly hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_US_MAX, numberOfSignificantValueDigits: 3 })
  readonly byStatus: Record<string, number> = {}
  requests = 0
  ok = 0
  events = 0
  private t0Ms = Infinity
  private t1Ms = Infinity
  private readonly reqTimeline: number[] = []
  private readonly eventTimeline: number[] = []

  // Open loop: throughput counts only answers that arrived inside the window (an
  // answer after it was work the server did later); latencies still include every
  // request sent inside it, however late it was answered.
  private answersInWindowOnly = false
  private answeredInWindow = 0
  private eventsInWindow = 0

  // The measured window: after warm-up, until the load stops being offered.
  window(startMs: number, endMs: number, opts: { answersInWindowOnly?: boolean } = {}) {
    this.t0Ms = startMs
    this.t1Ms = endMs
    this.answersInWindowOnly = opts.answersInWindowOnly === true
  }

  get windowStartMs() { return this.t0Ms }
  get windowEndMs() { return this.t1Ms }

  // status: an HTTP status, or a client-side failure ('timeout', 'closed', 'connect').
  record(startMs: number, endMs: number, status: number | string, events = 1) {
    if (startMs < this.t0Ms || startMs >= this.t1Ms) return
    this.requests++
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1
    if (typeof status !== 'number' || status < 200 || status > 299) return
    this.ok++
    this.events += events
    if (endMs < this.t1Ms) {
      this.answeredInWindow++
      this.eventsInWindow += events
    }
    this.hist.recordValue(Math.min(LATENCY_US_MAX, Math.max(1, Math.round((endMs - startMs) * 1000))))
    const second = Math.floor((endMs - this.t0Ms) / 1000)
    if (second >= 0) {
      while (this.reqTimeline.length <= second) { this.reqTimeline.push(0); this.eventTimeline.push(0) }
      this.reqTimeline[second]!++
      this.eventTimeline[second]! += events
    }
  }

  summary(): Summary {
    const durationS = Math.max(0.001, (Math.min(this.t1Ms, performance.now()) - this.t0Ms) / 1000)
    const at = (p: number) => this.hist.getValueAtPercentile(p) / 1000
    const whole = Math.floor(durationS)
    return {
      requests: this.requests,
      ok: this.ok,
      errors: this.requests - this.ok,
      byStatus: { ...this.byStatus },
      durationS,
      reqPerS: (this.answersInWindowOnly ? this.answeredInWindow : this.ok) / durationS,
      eventsPerS: (this.answersInWindowOnly ? this.eventsInWindow : this.events) / durationS,
      events: this.events,
      p50Ms: at(50), p95Ms: at(95), p99Ms: at(99), p999Ms: at(99.9),
      maxMs: this.hist.maxValue / 1000,
      meanMs: this.hist.mean / 1000,
      timeline: { reqPerS: this.reqTimeline.slice(0, whole), eventsPerS: this.eventTimeline.slice(0, whole) },
    }
  }
}

// Errors by status, without the acks: "429×120 503×3".
export function formatErrors(byStatus: Record<string, number>): string {
  const parts = Object.entries(byStatus).filter(([s]) => !/^2\d\d$/.test(s)).map(([s, n]) => `${s}×${n}`)
  return parts.length ? parts.join(' ') : '0'
}
