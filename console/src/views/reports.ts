// Reports: counts as a time series, a funnel as bars with each step's conversion,
// retention as a cohort heatmap; each with its range and parameters editable.

import type uPlot from 'uplot'
import { api, query } from '../api'
import { barChart, timeChart } from '../charts'
import { clear, errorText, field, h, input, select } from '../dom'

const DAY_MS = 86_400_000

const localInput = (ms: number) => {
  const d = new Date(ms - new Date().getTimezoneOffset() * 60_000)
  return d.toISOString().slice(0, 16)
}
const iso = (local: string) => (local ? new Date(local).toISOString() : '')

function range(days: number) {
  const now = Date.now()
  return { from: input('from', localInput(now - days * DAY_MS), { type: 'datetime-local' }), to: input('to', localInput(now + 60_000), { type: 'datetime-local' }) }
}

function card(title: string, id: string, form: HTMLFormElement, out: HTMLElement): HTMLElement {
  return h('section', { class: 'card', id }, h('h3', {}, title), form, out)
}

export function reportsView(root: HTMLElement): () => void {
  const charts: uPlot[] = []
  root.append(h('h2', {}, 'Reports'), h('p', { class: 'muted' }, 'Events are placed by their timestamp; a user is user_id, else anonymous_id.'))

  // Counts
  const cr = range(1)
  const interval = select('interval', ['minute', 'hour', 'day'], 'hour')
  const cname = input('name', '', { placeholder: 'any' })
  const countsOut = h('div', { class: 'chart', id: 'counts-chart' })
  const countsForm = h('form', { class: 'filters', on: { submit: (e: Event) => { e.preventDefault(); void counts() } } },
    field('interval', interval), field('name', cname), field('from', cr.from), field('to', cr.to), h('button', { type: 'submit' }, 'Run'))
  async function counts() {
    clear(countsOut)
    try {
      const r = await api('/v1/reports/counts' + query({ interval: interval.value, name: cname.value, from: iso(cr.from.value), to: iso(cr.to.value) }))
      const x = r.series.map((b: any) => Date.parse(b.bucket) / 1000)
      if (x.length === 0) { countsOut.append(h('p', { class: 'muted' }, 'no events in this range')); return }
      charts.push(timeChart(countsOut, x, [{ label: 'events', values: r.series.map((b: any) => b.events) }, { label: 'users', values: r.series.map((b: any) => b.users) }]))
      countsOut.dataset.buckets = String(x.length)
    } catch (e) { countsOut.append(h('p', { class: 'error' }, errorText(e))) }
  }

  // Funnel
  const fr = range(7)
  const steps = input('steps', 'PageView,AddToCart,Purchase', { size: 36 })
  const within = input('within', '3600', { size: 8 })
  const funnelOut = h('div', { id: 'funnel-out' })
  const funnelForm = h('form', { class: 'filters', on: { submit: (e: Event) => { e.preventDefault(); void funnel() } } },
    field('steps (comma-separated)', steps), field('within (s)', within), field('from', fr.from), field('to', fr.to), h('button', { type: 'submit' }, 'Run'))
  async function funnel() {
    clear(funnelOut)
    try {
      const r = await api('/v1/reports/funnel' + query({ steps: steps.value, within: within.value, from: iso(fr.from.value), to: iso(fr.to.value) }))
      const chartBox = h('div', { class: 'chart', id: 'funnel-chart' })
      funnelOut.append(chartBox)
      charts.push(barChart(chartBox, r.steps.map((s: any) => s.name), r.steps.map((s: any) => s.users), 'users'))
      funnelOut.append(h('table', { class: 'compact', id: 'funnel-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'step'), h('th', {}, 'users'), h('th', {}, 'conversion from step 1'))),
        h('tbody', {}, ...r.steps.map((s: any) => h('tr', {}, h('td', {}, s.name), h('td', {}, String(s.users)), h('td', {}, `${(s.conversion * 100).toFixed(1)} %`))))))
    } catch (e) { funnelOut.append(h('p', { class: 'error' }, errorText(e))) }
  }

  // Retention
  const rr = range(14)
  const cohortEvent = input('cohort_event', 'Signup')
  const returnEvent = input('return_event', 'any')
  const rinterval = select('interval', ['day', 'week'], 'day')
  const periods = input('periods', '8', { size: 4 })
  const retentionOut = h('div', { id: 'retention-out' })
  const retentionForm = h('form', { class: 'filters', on: { submit: (e: Event) => { e.preventDefault(); void retention() } } },
    field('cohort event', cohortEvent), field('return event', returnEvent), field('interval', rinterval), field('periods', periods),
    field('from', rr.from), field('to', rr.to), h('button', { type: 'submit' }, 'Run'))
  async function retention() {
    clear(retentionOut)
    try {
      const r = await api('/v1/reports/retention' + query({
        cohort_event: cohortEvent.value, return_event: returnEvent.value, interval: rinterval.value, periods: periods.value,
        from: iso(rr.from.value), to: iso(rr.to.value),
      }))
      const n = Number(periods.value) || 8
      const head = h('tr', {}, h('th', {}, 'cohort'), h('th', {}, 'users'), ...Array.from({ length: n }, (_, k) => h('th', {}, `${rinterval.value} ${k}`)))
      const body = h('tbody', {})
      for (const c of r.cohorts) {
        const cells = c.retained.map((v: number) => {
          const share = c.users ? v / c.users : 0
          const td = h('td', { class: 'heat', title: `${v} of ${c.users}` }, c.users ? `${Math.round(share * 100)}%` : '—')
          td.style.backgroundColor = `rgba(37, 99, 235, ${(0.08 + share * 0.85).toFixed(2)})`
          if (share > 0.55) td.style.color = '#fff'
          return td
        })
        body.append(h('tr', {}, h('td', {}, new Date(c.cohort).toISOString().slice(0, 10)), h('td', {}, String(c.users)), ...cells))
      }
      retentionOut.append(r.cohorts.length
        ? h('table', { class: 'compact heatmap', id: 'retention-table' }, h('thead', {}, head), body)
        : h('p', { class: 'muted' }, 'no cohorts in this range'))
    } catch (e) { retentionOut.append(h('p', { class: 'error' }, errorText(e))) }
  }

  root.append(
    card('Counts', 'report-counts', countsForm, countsOut),
    card('Funnel', 'report-funnel', funnelForm, funnelOut),
    card('Retention', 'report-retention', retentionForm, retentionOut),
  )
  void counts(); void funnel(); void retention()
  return () => { for (const c of charts) c.destroy() }
}
