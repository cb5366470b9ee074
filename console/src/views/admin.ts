// Admin (INLET_ADMIN_TOKEN on every request): projects with their plan and rate
// limit; for one project its keys (create, revoke by prefix) and its webhook
// sources (create, rotate the secret). Secrets shown once are shown as text.

import { adminApi, loadSession, saveSession } from '../api'
import { button, clear, errorText, field, h, input, select, time } from '../dom'

export function adminView(root: HTMLElement, onOpenProject: (id: number, name: string) => void): () => void {
  root.append(h('h2', {}, 'Admin'))
  if (!loadSession().admin) {
    const token = input('admin', '', { type: 'password', placeholder: 'INLET_ADMIN_TOKEN', id: 'admin-token' })
    root.append(h('p', { class: 'muted' }, 'Managing projects needs the admin token; it is kept in this tab\'s sessionStorage and sent on every admin request.'),
      h('form', { class: 'filters', on: { submit: (e: Event) => { e.preventDefault(); saveSession({ ...loadSession(), admin: token.value }); clear(root); adminView(root, onOpenProject) } } },
        field('admin token', token), h('button', { type: 'submit' }, 'Use admin token')))
    return () => {}
  }
  const projects = h('tbody', { id: 'admin-projects' })
  const status = h('p', { class: 'muted', id: 'admin-status' })
  const detail = h('div', { id: 'admin-detail' })
  root.append(
    h('section', { class: 'card' }, h('h3', {}, 'Projects'),
      h('table', { class: 'compact' }, h('thead', {}, h('tr', {}, h('th', {}, 'id'), h('th', {}, 'name'), h('th', {}, 'plan'), h('th', {}, 'requests/min'), h('th', {}, 'created'), h('th', {}, ''))), projects), status),
    detail)

  async function loadProjects() {
    try {
      const r = await adminApi('/admin/projects?limit=1000')
      clear(projects)
      for (const p of r.data) {
        projects.append(h('tr', { dataset: { id: String(p.id) } }, h('td', {}, String(p.id)), h('td', {}, p.name), h('td', {}, p.plan),
          h('td', {}, String(p.rate_limit_rpm) + (p.rate_limit_override ? ' (override)' : '')), h('td', {}, time(p.created_at)),
          h('td', {}, button('Manage', () => void manage(p), { class: 'small' }), ' ', button('Open', () => onOpenProject(p.id, p.name), { class: 'small' }))))
      }
    } catch (e) { status.textContent = errorText(e) }
  }

  async function manage(p: any) {
    clear(detail)
    const keys = h('tbody', { id: 'admin-keys' })
    const sources = h('tbody', { id: 'admin-sources' })
    const shown = h('div', { id: 'admin-secret', class: 'secret', hidden: true })
    const note = h('p', { class: 'muted', id: 'admin-note' })
    const reveal = (label: string, secret: string) => {
      clear(shown); shown.hidden = false
      shown.append(h('div', {}, label + ' (shown once):'), h('code', { class: 'mono', id: 'admin-secret-value' }, secret))
    }
    const srcName = input('name', '', { placeholder: 'stripe-live' })
    const scheme = select('scheme', ['stripe', 'github', 'hmac-sha256'], 'stripe')
    const secret = input('secret', '', { type: 'password', placeholder: 'at least 16 characters' })
    const namePath = input('name_path', '', { placeholder: 'default' })
    const idPath = input('id_path', '', { placeholder: 'default' })
    detail.append(h('section', { class: 'card' },
      h('h3', {}, `Project ${p.id}: `, p.name),
      h('p', { class: 'muted' }, `plan ${p.plan}, ${p.rate_limit_rpm} requests per minute`),
      shown, note,
      h('h4', {}, 'API keys'),
      button('Create key', async () => {
        try { const r = await adminApi(`/admin/projects/${p.id}/keys`, { method: 'POST' }); reveal('New API key', r.api_key); await loadKeys() } catch (e) { note.textContent = errorText(e) }
      }, { id: 'admin-create-key' }),
      h('table', { class: 'compact' }, h('thead', {}, h('tr', {}, h('th', {}, 'prefix'), h('th', {}, 'created'), h('th', {}, 'revoked'), h('th', {}, ''))), keys),
      h('h4', {}, 'Webhook sources'),
      h('form', { class: 'filters', on: { submit: async (e: Event) => {
        e.preventDefault()
        try {
          const r = await adminApi(`/admin/projects/${p.id}/webhook-sources`, { method: 'POST', body: {
            name: srcName.value, scheme: scheme.value, secret: secret.value, name_path: namePath.value || null, id_path: idPath.value || null } })
          reveal('Webhook URL', r.url); secret.value = ''; await loadSources()
        } catch (err) { note.textContent = errorText(err) }
      } } }, field('name', srcName), field('scheme', scheme), field('secret', secret), field('name path', namePath), field('id path', idPath), h('button', { type: 'submit' }, 'Create source')),
      h('table', { class: 'compact' }, h('thead', {}, h('tr', {}, h('th', {}, 'id'), h('th', {}, 'name'), h('th', {}, 'scheme'), h('th', {}, 'token'), h('th', {}, 'old secret until'), h('th', {}, 'rotate'))), sources)))

    async function loadKeys() {
      const r = await adminApi(`/admin/projects/${p.id}/keys`)
      clear(keys)
      for (const k of r.data) {
        keys.append(h('tr', { dataset: { prefix: k.prefix } }, h('td', { class: 'mono' }, k.prefix), h('td', {}, time(k.created_at)), h('td', {}, k.revoked_at ? time(k.revoked_at) : '—'),
          h('td', {}, k.revoked_at ? '' : button('Revoke', async () => {
            if (!confirm(`Revoke ${k.prefix}? Clients using it get 401 within 5 seconds.`)) return
            try { await adminApi(`/admin/keys/${encodeURIComponent(k.prefix)}`, { method: 'DELETE' }); note.textContent = `${k.prefix} revoked`; await loadKeys() } catch (e) { note.textContent = errorText(e) }
          }, { class: 'small danger' }))))
      }
    }
    async function loadSources() {
      const r = await adminApi(`/admin/projects/${p.id}/webhook-sources`)
      clear(sources)
      for (const s of r.data) {
        const newSecret = input('secret', '', { type: 'password', placeholder: 'new secret', size: 14 })
        sources.append(h('tr', {}, h('td', {}, String(s.id)), h('td', {}, s.name), h('td', {}, s.scheme), h('td', { class: 'mono' }, s.token_prefix + '…'),
          h('td', {}, time(s.previous_secret_expires_at)),
          h('td', {}, newSecret, ' ', button('Rotate', async () => {
            try {
              const x = await adminApi(`/admin/webhook-sources/${s.id}/rotate`, { method: 'POST', body: { secret: newSecret.value } })
              note.textContent = `rotated; the old secret verifies until ${time(x.previous_expires_at)}`; await loadSources()
            } catch (e) { note.textContent = errorText(e) }
          }, { class: 'small' }))))
      }
    }
    try { await Promise.all([loadKeys(), loadSources()]) } catch (e) { note.textContent = errorText(e) }
  }

  void loadProjects()
  return () => {}
}
