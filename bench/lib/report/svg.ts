// The report's charts, as hand-written SVG (no chart library, no browser needed):
// throughput over time, latency percentiles per phase, Inlet vs the baseline.

import { fmt } from '../phase'
import type { PhaseResult } from '../types'

const FONT = 'font-family="ui-sans-serif,system-ui,sans-serif"'
const COLORS = { inlet: '#2563eb', 'inlet-2p': '#7c3aed', 'inlet-no-storage': '#93c5fd', baseline: '#dc2626', 'http-ceiling': '#6b7280', 'json-floor': '#9ca3af', 'pg-ceiling': '#059669' } as const
const PERCENTILE_COLORS = ['#93c5fd', '#60a5fa', '#2563eb', '#1e3a8a', '#000000']

const esc = (s: string) => s.replace(/[<>&"]/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!)
const text = (x: number, y: number, s: string, attrs = '') =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT}${attrs.includes('font-size') ? '' : ' font-size="11"'} ${attrs}>${esc(s)}</text>`
const svg = (w: number, h: number, body: string[]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">\n<rect width="100%" height="100%" fill="white"/>\n${body.join('\n')}\n</svg>\n`
const label = (p: PhaseResult) => `${p.scenario} · ${p.phase} · ${p.system}`

// Small multiples: acked events/s (batches) or req/s per second of each phase.
export function throughputChart(phases: PhaseResult[]): string {
  const shown = phases.filter(p => p.summary.timeline.reqPerS.length >= 3)
  const cols = 3, pw = 300, ph = 130, pad = 36
  const rows = Math.ceil(shown.length / cols)
  const body = [text(10, 18, 'Acknowledged throughput per second of each measured window', 'font-size="13" font-weight="bold"')]
  shown.forEach((p, i) => {
    const x0 = (i % cols) * pw + pad, y0 = Math.floor(i / cols) * (ph + 30) + 40
    const useEvents = p.summary.eventsPerS > 1.5 * p.summary.reqPerS
    const series = useEvents ? p.summary.timeline.eventsPerS : p.summary.timeline.reqPerS
    const max = Math.max(1, ...series) * 1.1
    const w = pw - pad - 12, h = ph - 30
    const pts = series.map((v, k) => `${(x0 + (k / Math.max(1, series.length - 1)) * w).toFixed(1)},${(y0 + h - (v / max) * h).toFixed(1)}`)
    body.push(text(x0, y0 - 6, label(p), 'font-weight="bold"'))
    body.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="#f9fafb" stroke="#e5e7eb"/>`)
    body.push(`<polyline fill="none" stroke="${COLORS[p.system]}" stroke-width="1.5" points="${pts.join(' ')}"/>`)
    body.push(text(x0 - 4, y0 + 9, fmt.n(max / 1.1), 'text-anchor="end" font-size="9"'))
    body.push(text(x0 - 4, y0 + h, '0', 'text-anchor="end" font-size="9"'))
    body.push(text(x0, y0 + h + 12, `${series.length} s · mean ${fmt.n(useEvents ? p.summary.eventsPerS : p.summary.reqPerS)} ${useEvents ? 'events/s' : 'req/s'}`, 'font-size="9"'))
  })
  return svg(cols * pw + 10, rows * (ph + 30) + 50, body)
}

// One row per phase: p50, p95, p99, p99.9 and max on a log axis from 0.1 ms to 100 s.
export function latencyChart(phases: PhaseResult[]): string {
  const shown = phases.filter(p => p.summary.ok > 0)
  const left = 330, width = 520, rowH = 18, top = 50
  const lo = Math.log10(0.1), hi = Math.log10(100_000)
  const x = (ms: number) => left + ((Math.log10(Math.max(0.1, ms)) - lo) / (hi - lo)) * width
  const body = [text(10, 18, 'Latency percentiles of acknowledged requests (log scale)', 'font-size="13" font-weight="bold"')]
  const names = ['p50', 'p95', 'p99', 'p99.9', 'max']
  names.forEach((n, i) => {
    body.push(`<circle cx="${left + i * 70}" cy="32" r="4" fill="${PERCENTILE_COLORS[i]}"/>`, text(left + i * 70 + 8, 36, n))
  })
  for (const ms of [0.1, 1, 10, 100, 1000, 10_000, 100_000]) {
    body.push(`<line x1="${x(ms)}" y1="${top - 6}" x2="${x(ms)}" y2="${top + shown.length * rowH}" stroke="#e5e7eb"/>`)
    body.push(text(x(ms), top + shown.length * rowH + 14, ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`, 'text-anchor="middle" font-size="9"'))
  }
  shown.forEach((p, i) => {
    const y = top + i * rowH + rowH / 2
    const s = p.summary
    const values = [s.p50Ms, s.p95Ms, s.p99Ms, s.p999Ms, s.maxMs]
    body.push(text(left - 8, y + 4, label(p), `text-anchor="end" fill="${COLORS[p.system]}"`))
    body.push(`<line x1="${x(s.p50Ms)}" y1="${y}" x2="${x(s.maxMs)}" y2="${y}" stroke="#9ca3af"/>`)
    values.forEach((v, k) => body.push(`<circle cx="${x(v).toFixed(1)}" cy="${y}" r="4" fill="${PERCENTILE_COLORS[k]}"><title>${names[k]} ${fmt.ms(v)} ms</title></circle>`))
  })
  return svg(left + width + 30, top + shown.length * rowH + 30, body)
}

// Pairs of bars for every phase both Inlet and the baseline ran: throughput, and
// the ratio between them.
export function versusChart(phases: PhaseResult[]): string {
  const pairs: [PhaseResult, PhaseResult][] = []
  for (const p of phases.filter(p => p.system === 'inlet')) {
    const b = phases.find(q => q.system === 'baseline' && q.scenario === p.scenario && q.phase === p.phase)
    if (b) pairs.push([p, b])
  }
  const left = 200, width = 480, top = 40, groupH = 44
  const body = [text(10, 18, 'Inlet vs the naive baseline (one INSERT per request), same load', 'font-size="13" font-weight="bold"')]
  pairs.forEach(([p, b], i) => {
    const y = top + i * groupH
    const events = p.summary.eventsPerS > 1.5 * p.summary.reqPerS
    const unit = events ? 'events/s' : 'req/s'
    const v = (r: PhaseResult) => (events ? r.summary.eventsPerS : r.summary.reqPerS)
    const max = Math.max(v(p), v(b), 1)
    body.push(text(left - 8, y + 16, `${p.scenario} · ${p.phase}`, 'text-anchor="end" font-weight="bold"'))
    ;[[p, 0], [b, 1]].forEach(([r, k]) => {
      const run = r as PhaseResult
      const w = (v(run) / max) * width
      body.push(`<rect x="${left}" y="${y + (k as number) * 17}" width="${w.toFixed(1)}" height="14" fill="${COLORS[run.system]}"/>`)
      body.push(text(left + w + 6, y + (k as number) * 17 + 11, `${run.system}: ${fmt.n(v(run))} ${unit}, p99 ${fmt.ms(run.summary.p99Ms)} ms`, 'font-size="10"'))
    })
    body.push(text(left - 8, y + 30, `${fmt.ratio(v(p) / Math.max(1e-9, v(b)))}`, 'text-anchor="end" font-size="10"'))
  })
  return svg(left + width + 230, top + pairs.length * groupH + 10, body)
}
