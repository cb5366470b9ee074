// Live: the project's events as they become durable, from GET /v1/events/stream,
// with filters, pause, a click-through to each event's JSON, and the rate seen
// over the last minutes as a chart.

import type uPlot from 'uplot'
import { loadSession, query } from '../api'
import { timeChart } from '../charts'
import { button, clear, errorText, field, h, input, jsonBlock, select, time } from '../dom'
import { openStream } from '../sse'

const ROWS_MAX = 200
const RATE_SECONDS = 300

export function liveView(root: HTMLElement): () => void {
  let controller: AbortController | null = null
  let paused = false
  let held: any[] = []
  let received = 0
  let missed = 0
  // Events per second for the chart, counted whether paused or not.
  const perSecond = new Map<number, number>()
  const name = input('name', '', { placeholder: 'any' })
  const userId = input('user_id', '', { placeholder: 'any' })
  const type = select('type', ['', 'track', 'identify', 'page', 'screen', 'group', 'alias', 'webhook'], '')
  const state = h('span', { class: 'pill', id: 'live-state' }, 'connecting')
  const counts = h('span', { class: 'muted', id: 'live-counts' }, '')
  const pauseButton = button('Pause', () => togglePause(), { id: 'live-pause' })
  const list = h('tbody', { id: 'live-rows' })
  const detail = h('div', { class: 'detail', id: 'live-detail' }, h('p', { class: 'muted' }, 'Click an event to see its JSON.'))
  const chartBox = h('div', { class: 'chart', id: 'live-rate' })
  let chart: uPlot | null = null

  const form = h('form', { class: 'filters', on: { submit: (e: Event) => { e.preventDefault(); connect() } } },
    field('name', name), field('user_id', userId), field('type', type),
    h('button', { type: 'submit' }, 'Apply filters'), pauseButton, state, counts)
  root.append(
    h('h2', {}, 'Live'),
    h('p', { class: 'muted' }, 'Each event appears once it is durable (in Postgres, or in the local spill), never before.'),
    form,
    h('section', { class: 'card' }, h('h3', {}, 'Events per second seen by this stream (last 5 minutes)'), chartBox),
    h('div', { class: 'split' },
      h('table', { class: 'events' }, h('thead', {}, h('tr', {}, h('th', {}, 'received'), h('th', {}, 'name'), h('th', {}, 'type'), h('th', {}, 'user'), h('th', {}, 'id'), h('th', {}, 'durable in'))), list),
      detail),
  )

  function togglePause() {
    paused = !paused
    pauseButton.textContent = paused ? 'Resume' : 'Pause'
    state.textContent = paused ? 'paused' : 'live'
    if (!paused) { for (const e of held) show(e); held = [] }
  }

  function count(n: number) {
    const s = Math.floor(Date.now() / 1000)
    perSecond.set(s, (perSecond.get(s) ?? 0) + n)
  }

  function show(m: { durable_in: string; event: any }) {
    const e = m.event
    const row = h('tr', { class: 'clickable', dataset: { id: String(e.id) }, on: { click: () => {
      clear(detail)
      detail.append(h('h3', {}, 'Event ', h('code', {}, String(e.id))), h('p', { class: 'muted' }, `durable in ${m.durable_in}`), jsonBlock(e, { id: 'live-json' }))
    } } },
    h('td', {}, time(e.received_at)), h('td', {}, String(e.name)), h('td', {}, String(e.type)),
    h('td', {}, String(e.user_id ?? e.anonymous_id ?? '')), h('td', { class: 'mono' }, String(e.id)),
    h('td', {}, h('span', { class: `pill ${m.durable_in}` }, m.durable_in)))
    list.prepend(row)
    while (list.childElementCount > ROWS_MAX) list.lastElementChild!.remove()
  }

  function connect() {
    controller?.abort()
    controller = new AbortController()
    const signal = controller.signal
    const url = '/v1/events/stream' + query({ name: name.value, user_id: userId.value, type: type.value })
    state.textContent = 'connecting'
    state.dataset.state = 'connecting'
    openStream(url, loadSession().key ?? '', m => {
      state.textContent = paused ? 'paused' : 'live'
      state.dataset.state = 'live'
      if (m.event === 'ready') state.dataset.ready = '1'
      if (m.event === 'event') {
        received++
        count(1)
        const parsed = JSON.parse(m.data)
        if (paused) { held.push(parsed); if (held.length > ROWS_MAX) held.shift() } else show(parsed)
      } else if (m.event === 'lagged') {
        const n = JSON.parse(m.data).missed as number
        missed += n
        count(n)
      }
      counts.textContent = `${received} received` + (missed ? `, ${missed} missed (this stream fell behind)` : '')
    }, signal).then(() => {
      if (!signal.aborted) { state.textContent = 'disconnected: reconnecting'; setTimeout(() => { if (!signal.aborted) connect() }, 2000) }
    }, e => {
      if (signal.aborted) return
      state.textContent = `error: ${errorText(e)}; retrying`
      state.dataset.state = 'error'
      setTimeout(() => { if (!signal.aborted) connect() }, 3000)
    })
  }

  function redraw() {
    const now = Math.floor(Date.now() / 1000)
    const x: number[] = []
    const y: number[] = []
    for (let s = now - RATE_SECONDS + 1; s <= now; s++) { x.push(s); y.push(perSecond.get(s) ?? 0) }
    for (const s of perSecond.keys()) if (s <= now - RATE_SECONDS) perSecond.delete(s)
    if (!chart) chart = timeChart(chartBox, x, [{ label: 'events/s', values: y }], 180)
    else chart.setData([x, y])
  }

  connect()
  redraw()
  const timer = setInterval(redraw, 1000)
  return () => { controller?.abort(); clearInterval(timer); chart?.destroy() }
}
