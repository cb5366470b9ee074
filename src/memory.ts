// A full garbage collection when the process's RSS passes a soft bound.
//
// Why: JSC sizes its heap by how fast the program allocates, and the native memory
// behind JS objects (request and response bodies, Bun's per-request state, sockets'
// buffers) is freed only when their wrappers are collected. Under a burst such as
// 10,000 users at once (bench W4) the collector ran late: peak RSS 400-457 MiB in
// five runs, with a JS heap of ~120 MiB.
//
// A full collection blocks the event loop, and with 10,000 requests in flight one
// took 50-410 ms (measured). So it is rationed twice: never below the soft bound
// (ordinary load pays nothing), and at most MEMORY_GC_LOOP_PERCENT_MAX of the loop's
// time (inlet_gc_forced_seconds_total shows what it took). Measured on a 2-core box,
// `bun run bench w4` and `bun run bench w1` (W4 10,000 users, W1 stress):
// - no collections: W4 peak RSS 400-457 MiB; W1 stress 60-67k events/s at 274-284;
// - bound 150 MiB, 15%: W4 304-324 MiB at ~4.2k req/s instead of ~5k; W1 stress
//   58k events/s at 203 MiB (-13%);
// - bound 256 MiB, 15%: W4 329-345 MiB; W1 stress 62k at 262 MiB;
// - every 200 ms whatever it cost: W4 241-264 MiB, but one run of three fell to
//   2,000 req/s with p99 18 s (pauses while 10,000 connects arrive).
// Those on earlier code. On the code of 2026-12-02, another 2-core box, W4 and W1
// runs alternated (`--env MEMORY_GC_RSS_BYTES=...`):
// - 256 MiB: W4 287-328 MiB in 7 runs (mean 305, 5 over 300) at 3,599-4,355 req/s;
//   W1 stress 36.9-38.5k events/s at 256-262 MiB, 0.85-0.91x the baseline of the run;
// - 192 MiB (the default): W4 279-306 MiB in 8 runs (mean 293, 2 over 300; one of
//   them a full `bun run bench`) at 3,515-4,438 req/s; W1 stress 35.3-39.6k events/s
//   at 200-202 MiB, 0.91-0.92x the baseline; ~10% more server CPU per W1 stress
//   request (the extra collections), which is not its bound;
// - 160 MiB: W4 286-315 MiB in 3 runs: no lower than 192.
// On 2026-12-03, a third 2-core box (AMD EPYC), the bound at 192 MiB and the loop
// share alternated (`bun run bench w4 --env MEMORY_GC_LOOP_PERCENT_MAX=...`):
// - 15%: W4 peak 292-306 MiB in 8 runs (mean 299, 4 over 300) at 3,323-4,853 req/s;
// - 25%: 257-306 in 8 (mean 274, 1 over) at 3,841-4,761 req/s;
// - 30% (the default since): 262-281 in 6 (mean 273, none over) at 3,557-4,584 req/s.
//   W1 stress (`bun run bench w1`, the box's noise as large as the effect): 34.5k and
//   38.6k events/s at 201 MiB with 30%, 49.5k and 39.7k at 203-207 with 15%, the
//   baseline beside them 37.4-49.1k in the same runs.
// A collection of the young generation only (bun:jsc edenGC) instead of a full one
// was worse: 329-447 MiB in 3 runs against 292-297.
// The bound trims W4's peak; the rest of it is the burst's native memory (10,000
// sockets and their requests), which no collection frees sooner.

import type { Metrics } from './metrics'

// How often RSS is read (process.memoryUsage.rss(): one small /proc read).
const CHECK_MS = 50

export class MemoryGovernor {
  private timer: ReturnType<typeof setInterval> | null = null
  // The earliest time the next collection may run.
  private next = -Infinity

  // `softBytes` 0: never collect. `loopPercentMax`: the share of the event loop's
  // time the collections may take; after one that took d ms the next waits
  // d × (100 / loopPercentMax - 1) ms, and never less than `intervalMsMin`.
  constructor(
    private readonly softBytes: number,
    private readonly intervalMsMin: number,
    private readonly loopPercentMax: number,
    private readonly metrics: Metrics,
    private readonly rss: () => number = () => process.memoryUsage.rss(),
    private readonly collect: () => void = () => Bun.gc(true),
    private readonly clock: () => number = () => performance.now(),
  ) {}

  start() {
    if (this.softBytes === 0 || this.timer) return
    this.timer = setInterval(() => this.check(), CHECK_MS)
    this.timer.unref()
  }

  stop() {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  // True when it collected.
  check(): boolean {
    const now = this.clock()
    if (this.softBytes === 0 || now < this.next || this.rss() <= this.softBytes) return false
    this.collect()
    const ms = this.clock() - now
    this.next = now + Math.max(this.intervalMsMin, ms * (100 / this.loopPercentMax - 1))
    this.metrics.gcForced.inc()
    this.metrics.gcForcedSeconds.inc({}, ms / 1000)
    return true
  }
}
