// Reads Inlet's /metrics (Prometheus text) for the figures only the server knows:
// events per Postgres transaction (inlet_flush_batch_events sum/count: the group
// commit at work), flush time, spill writes and rate-limit refusals.

export interface Scrape { values: Map<string, number> }

export async function scrape(baseUrl: string): Promise<Scrape | null> {
  try {
    const r = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
    if (!r.ok) return null
    const values = new Map<string, number>()
    for (const line of (await r.text()).split('\n')) {
      if (!line || line.startsWith('#')) continue
      const space = line.lastIndexOf(' ')
      values.set(line.slice(0, space), Number(line.slice(space + 1)))
    }
    return { values }
  } catch { return null }
}

// Sum of every series of `name` whose labels contain `labelFilter` (e.g. 'sink="postgres"').
function total(s: Scrape, name: string, labelFilter = ''): number {
  let sum = 0
  for (const [key, v] of s.values) {
    const brace = key.indexOf('{')
    const metric = brace < 0 ? key : key.slice(0, brace)
    if (metric === name && key.includes(labelFilter)) sum += v
  }
  return sum
}

export interface FlushFigures {
  transactions: number
  eventsPerTx: number | null
  flushMeanMs: number | null
  spilledEvents: number
  rateLimited: number
}

// What happened between two scrapes.
export function flushDelta(before: Scrape | null, after: Scrape | null): FlushFigures | null {
  if (!before || !after) return null
  const d = (name: string, filter = '') => total(after, name, filter) - total(before, name, filter)
  const pg = 'sink="postgres"'
  const hasSinkLabel = [...after.values.keys()].some(k => k.startsWith('inlet_flush_batch_events_count{'))
  const filter = hasSinkLabel && [...after.values.keys()].some(k => k.includes(pg)) ? pg : ''
  const txs = d('inlet_flush_batch_events_count', filter)
  const secs = d('inlet_flush_duration_seconds_sum', filter)
  return {
    transactions: txs,
    eventsPerTx: txs > 0 ? d('inlet_flush_batch_events_sum', filter) / txs : null,
    flushMeanMs: txs > 0 ? (secs / Math.max(1, d('inlet_flush_duration_seconds_count', filter))) * 1000 : null,
    spilledEvents: d('inlet_spill_written_events_total'),
    rateLimited: d('inlet_rate_limited_total'),
  }
}
