// Debugger: the project's recent refusals, newest first, each with its reasons
// (GET /v1/debug/rejections): why an event never arrived.

import { api } from '../api'
import { button, clear, errorText, h, time } from '../dom'

export function debuggerView(root: HTMLElement): () => void {
  const rows = h('tbody', { id: 'rejections-rows' })
  const status = h('p', { class: 'muted', id: 'rejections-status' }, '')
  root.append(
    h('h2', {}, 'Debugger'),
    h('p', { class: 'muted' }, 'Recent refusals of this project (kept in memory by this Inlet process): invalid events with the JSON path of each problem, bodies over a limit (413), rate limiting (429), webhook deliveries with a bad signature.'),
    h('div', { class: 'filters' }, button('Refresh', () => void load(), { id: 'rejections-refresh' }), status),
    h('table', { class: 'events' }, h('thead', {}, h('tr', {}, h('th', {}, 'when'), h('th', {}, 'route'), h('th', {}, 'status'), h('th', {}, 'event'), h('th', {}, 'why'))), rows),
  )

  async function load() {
    try {
      const r = await api('/v1/debug/rejections')
      clear(rows)
      for (const x of r.data) {
        const event = [x.name, x.id ? `id ${x.id}` : null, x.index !== undefined ? `#${x.index} of its batch` : null].filter(Boolean).join(' · ')
        const why = h('td', {}, h('div', {}, h('code', {}, x.code), ' ', x.message))
        if (x.errors) why.append(h('ul', { class: 'problems' }, ...x.errors.map((e: any) => h('li', {}, h('code', { class: 'path' }, e.path || '(event)'), ' ', e.message))))
        rows.append(h('tr', {}, h('td', {}, time(x.at)), h('td', { class: 'mono' }, x.route), h('td', {}, h('span', { class: 'pill rejected' }, String(x.status))), h('td', {}, event || '—'), why))
      }
      status.textContent = r.data.length ? `${r.data.length} refusal(s), newest first` : 'no refusals recorded'
    } catch (e) {
      status.textContent = errorText(e)
    }
  }

  void load()
  const timer = setInterval(() => void load(), 5000)
  return () => clearInterval(timer)
}
