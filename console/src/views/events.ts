// Events: search by name, user and time with cursor paging (GET /v1/events), and
// one event's full JSON beside its receipt (where it is, when it became durable).

import { api, query } from '../api'
import { button, clear, errorText, field, h, input, jsonBlock, time } from '../dom'

const PAGE = 50

// datetime-local gives local time without a zone; the API wants a zone.
const iso = (local: string) => (local ? new Date(local).toISOString() : '')

export function eventsView(root: HTMLElement): () => void {
  const name = input('name', '', { placeholder: 'any' })
  const userId = input('user_id', '', { placeholder: 'any' })
  const from = input('from', '', { type: 'datetime-local' })
  const to = input('to', '', { type: 'datetime-local' })
  const byId = input('id', '', { placeholder: 'event id' })
  const rows = h('tbody', { id: 'events-rows' })
  const status = h('p', { class: 'muted', id: 'events-status' }, '')
  const detail = h('div', { class: 'detail', id: 'events-detail' }, h('p', { class: 'muted' }, 'Click an event to see its JSON and receipt.'))
  const pages: (string | null)[] = [null]
  let page = 0
  const prev = button('← Newer', () => { if (page > 0) { page--; void load() } }, { id: 'events-prev' })
  const next = button('Older →', () => { page++; void load() }, { id: 'events-next' })

  root.append(
    h('h2', {}, 'Events'),
    h('form', { class: 'filters', on: { submit: (e: Event) => { e.preventDefault(); pages.length = 1; page = 0; void load() } } },
      field('name', name), field('user_id', userId), field('from', from), field('to', to), h('button', { type: 'submit' }, 'Search')),
    h('form', { class: 'filters', on: { submit: (e: Event) => { e.preventDefault(); if (byId.value) void open(byId.value) } } },
      field('id', byId), h('button', { type: 'submit' }, 'Open by id')),
    h('div', { class: 'split' },
      h('div', {},
        h('table', { class: 'events' }, h('thead', {}, h('tr', {}, h('th', {}, 'timestamp'), h('th', {}, 'name'), h('th', {}, 'type'), h('th', {}, 'user'), h('th', {}, 'id'))), rows),
        h('div', { class: 'pager' }, prev, next, status)),
      detail),
  )

  async function load() {
    status.textContent = 'loading…'
    try {
      const r = await api('/v1/events' + query({
        name: name.value, user_id: userId.value, from: iso(from.value), to: iso(to.value), limit: PAGE, cursor: pages[page],
      }))
      pages[page + 1] = r.next_cursor
      clear(rows)
      for (const e of r.data) {
        rows.append(h('tr', { class: 'clickable', dataset: { id: String(e.id) }, on: { click: () => void open(e.id) } },
          h('td', {}, time(e.timestamp)), h('td', {}, String(e.name)), h('td', {}, String(e.type)),
          h('td', {}, String(e.user_id ?? e.anonymous_id ?? '')), h('td', { class: 'mono' }, String(e.id))))
      }
      prev.disabled = page === 0
      next.disabled = !r.next_cursor
      status.textContent = r.data.length ? `page ${page + 1}, ${r.data.length} event(s)` : 'no events match'
    } catch (e) {
      status.textContent = errorText(e)
    }
  }

  async function open(id: string) {
    clear(detail)
    detail.append(h('h3', {}, 'Event ', h('code', {}, id)))
    const path = '/v1/events/' + encodeURIComponent(id)
    const [event, receipt] = await Promise.allSettled([api(path), api(path + '/receipt')])
    detail.append(h('h4', {}, 'Receipt'))
    if (receipt.status === 'fulfilled') {
      const r = receipt.value
      detail.append(h('dl', { class: 'receipt', id: 'events-receipt' },
        h('dt', {}, 'status'), h('dd', {}, h('span', { class: `pill ${r.status}` }, r.status)),
        h('dt', {}, 'received'), h('dd', {}, time(r.received_at)),
        h('dt', {}, 'durable'), h('dd', {}, r.durable_at ? `${time(r.durable_at)} in ${r.durable_in}` : 'not in memory any more (older event)'),
        ...(r.errors ? [h('dt', {}, 'errors'), h('dd', {}, h('ul', {}, ...r.errors.map((x: any) => h('li', {}, h('code', {}, x.path || '(event)'), ' ', x.message))))] : [])))
    } else detail.append(h('p', { class: 'error' }, errorText(receipt.reason)))
    detail.append(h('h4', {}, 'JSON'))
    if (event.status === 'fulfilled') detail.append(jsonBlock(event.value, { id: 'events-json' }))
    else detail.append(h('p', { class: 'muted' }, errorText(event.reason)))
  }

  void load()
  return () => {}
}
