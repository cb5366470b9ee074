// A small Prometheus registry: counters, gauges and histograms, rendered as the
// text exposition format. Label sets are fixed by the code, so cardinality is bounded.

type Labels = Record<string, string>

const labelText = (labels: Labels) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

interface Metric {
  render(): string
}

// One labelled series. Hot paths hold their series (child()) instead of passing a
// labels object per call: turning labels into a key costs more than the count.
export class CounterSeries {
  value = 0
  constructor(readonly labels: Labels) {}
  inc(by = 1) {
    this.value += by
  }
}

export class Counter implements Metric {
  private values = new Map<string, CounterSeries>()
  constructor(readonly name: string, readonly help: string) {}
  child(labels: Labels = {}): CounterSeries {
    const k = labelText(labels)
    let series = this.values.get(k)
    if (!series) this.values.set(k, (series = new CounterSeries(labels)))
    return series
  }
  inc(labels: Labels = {}, by = 1) {
    this.child(labels).value += by
  }
  get(labels: Labels = {}) {
    return this.values.get(labelText(labels))?.value ?? 0
  }
  // The sum over every series whose labels include `match`.
  sum(match: Labels = {}) {
    let total = 0
    for (const { labels, value } of this.values.values()) {
      if (Object.entries(match).every(([k, v]) => labels[k] === v)) total += value
    }
    return total
  }
  render() {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`]
    for (const [k, { value }] of this.values) lines.push(`${this.name}${k} ${value}`)
    return lines.join('\n')
  }
}

export class HistogramSeries {
  readonly counts: number[]
  sum = 0
  count = 0
  constructor(private readonly buckets: readonly number[]) {
    this.counts = new Array(buckets.length).fill(0)
  }
  observe(value: number) {
    const b = this.buckets
    for (let i = 0; i < b.length; i++) if (value <= b[i]) { this.counts[i]++; break }
    this.sum += value
    this.count++
  }
}

export class Histogram implements Metric {
  private series = new Map<string, HistogramSeries>()
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}
  child(labels: Labels = {}): HistogramSeries {
    const k = labelText(labels)
    let s = this.series.get(k)
    if (!s) this.series.set(k, (s = new HistogramSeries(this.buckets)))
    return s
  }
  observe(value: number, labels: Labels = {}) {
    this.child(labels).observe(value)
  }
  total(labels: Labels = {}) {
    const s = this.series.get(labelText(labels))
    return { sum: s?.sum ?? 0, count: s?.count ?? 0 }
  }
  render() {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    for (const [k, s] of this.series) {
      const inner = k ? k.slice(1, -1) + ',' : ''
      let cumulative = 0
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += s.counts[i]
        lines.push(`${this.name}_bucket{${inner}le="${this.buckets[i]}"} ${cumulative}`)
      }
      lines.push(`${this.name}_bucket{${inner}le="+Inf"} ${s.count}`)
      lines.push(`${this.name}_sum${k} ${s.sum}`, `${this.name}_count${k} ${s.count}`)
    }
    return lines.join('\n')
  }
}

export class Registry {
  private metrics: Metric[] = []
  add<M extends Metric>(m: M): M {
    this.metrics.push(m)
    return m
  }
  render(): string {
    return this.metrics.map(m => m.render()).join('\n') + '\n'
  }
}

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const SIZES = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]

// Every metric Inlet exports, in one place.
export function createMetrics() {
  const registry = new Registry()
  return {
    registry,
    ingestEvents: registry.add(new Counter('inlet_ingest_events_total', 'Events by outcome: accepted, duplicate, rejected')),
    requests: registry.add(new Counter('inlet_http_requests_total', 'HTTP requests by route and status')),
    requestSeconds: registry.add(new Histogram('inlet_http_request_duration_seconds', 'HTTP request latency', SECONDS)),
    flushBatchEvents: registry.add(new Histogram('inlet_flush_batch_events', 'Events per flush transaction, by sink', SIZES)),
    flushSeconds: registry.add(new Histogram('inlet_flush_duration_seconds', 'Flush transaction duration, by sink', SECONDS)),
    flushErrors: registry.add(new Counter('inlet_flush_errors_total', 'Flushes that failed, by sink')),
    postgresErrors: registry.add(new Counter('inlet_postgres_errors_total', 'Postgres errors on the write path, by kind (data, not_now, timeout) and code')),
    rateLimited: registry.add(new Counter('inlet_rate_limited_total', 'Requests refused with 429')),
    overloaded: registry.add(new Counter('inlet_overloaded_total', 'Requests refused with 503, by reason')),
    spillWrites: registry.add(new Counter('inlet_spill_written_events_total', 'Events committed to the local spill')),
    drained: registry.add(new Counter('inlet_spill_drained_events_total', 'Events replayed from the spill into Postgres')),
    drainSeconds: registry.add(new Histogram('inlet_spill_drain_batch_seconds', 'Duration of one replay transaction from the spill', SECONDS)),
    spillErrors: registry.add(new Counter('inlet_spill_errors_total', 'Spill writes refused, by reason (SQLITE_FULL is the bound)')),
    deadLettered: registry.add(new Counter('inlet_dead_lettered_events_total', 'Acknowledged events Postgres refused as data errors, moved to the dead-letter table')),
    backgroundErrors: registry.add(new Counter('inlet_background_errors_total', 'Failures of a background loop (it logs, backs off and retries), by loop and code')),
    busRefused: registry.add(new Counter('inlet_bus_notices_refused_total', 'Notices to the other processes not sent (INLET_PROCESSES > 1), by reason: too_big, inflight (LIVE_RELAY_NOTIFIES_MAX), failed')),
    reads: registry.add(new Counter('inlet_reads_total', 'Reads (lists, get-by-id, reports) by where they ran: replica, or primary and why (DATABASE_READ_URL)')),
    postgresProbes: registry.add(new Counter('inlet_postgres_probes_total', 'Postgres health probes, by result')),
    gcForced: registry.add(new Counter('inlet_gc_forced_total', 'Full garbage collections run because RSS passed MEMORY_GC_RSS_BYTES')),
    gcForcedSeconds: registry.add(new Counter('inlet_gc_forced_seconds_total', 'Time the event loop spent in those collections')),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
