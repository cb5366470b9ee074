// Charts through uPlot (bundled, ~50 KB minified): a time series and a bar chart.
// uPlot draws on a canvas and sets styles through the CSSOM, which the page's CSP
// allows; it never writes HTML.

import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

const COLORS = ['#2563eb', '#16a34a', '#db2777', '#ea580c']

function width(el: HTMLElement): number {
  return Math.max(320, Math.min(1100, el.clientWidth || 800))
}

export interface Series {
  label: string
  values: (number | null)[]
}

// x in seconds since the epoch (uPlot's time scale).
export function timeChart(el: HTMLElement, x: number[], series: Series[], height = 220): uPlot {
  const opts: uPlot.Options = {
    width: width(el), height,
    scales: { x: { time: true } },
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, fill: i === 0 ? 'rgba(37,99,235,0.08)' : undefined, points: { show: x.length < 60 } }))],
    axes: [{}, { size: 60 }],
    legend: { show: true },
  }
  return new uPlot(opts, [x, ...series.map(s => s.values)] as uPlot.AlignedData, el)
}

export function barChart(el: HTMLElement, labels: string[], values: number[], label: string, height = 240): uPlot {
  const bars = uPlot.paths.bars!({ size: [0.6, 120] })
  const opts: uPlot.Options = {
    width: width(el), height,
    scales: { x: { time: false, range: (_u, _min, _max) => [-0.5, labels.length - 0.5] } },
    series: [{}, { label, stroke: COLORS[0], fill: 'rgba(37,99,235,0.55)', paths: bars, points: { show: false } }],
    axes: [
      { splits: () => labels.map((_, i) => i), values: (_u, splits) => splits.map(i => labels[i] ?? ''), gap: 8 },
      { size: 60 },
    ],
    legend: { show: false },
    cursor: { show: false },
  }
  return new uPlot(opts, [labels.map((_, i) => i), values], el)
}
