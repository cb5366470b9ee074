// The Inlet console: sign-in, the navigation between views, and the degraded-state
// banner. Each view renders into the main element and returns its cleanup.

import './styles.css'
import { adminApi, api, ApiError, clearSession, loadSession, saveSession } from './api'
import { button, clear, errorText, h, input } from './dom'
import { startStatus } from './status'
import { adminView } from './views/admin'
import { debuggerView } from './views/debugger'
import { eventsView } from './views/events'
import { liveView } from './views/live'
import { reportsView } from './views/reports'

const VIEWS = ['live', 'events', 'debugger', 'reports', 'admin'] as const
type View = (typeof VIEWS)[number]

const app = document.getElementById('app')!
let cleanup: () => void = () => {}
let stopStatus: () => void = () => {}

function signIn(message = '') {
  cleanup(); stopStatus()
  clear(app)
  const secret = input('secret', '', { type: 'password', placeholder: 'ik_… or the admin token', id: 'signin-secret', size: 48 })
  const note = h('p', { class: 'error', id: 'signin-note' }, message)
  app.append(h('div', { class: 'signin' },
    h('h1', {}, 'Inlet'),
    h('p', {}, 'Sign in with a project API key, or with the admin token and then pick a project. It is kept in this tab only (sessionStorage).'),
    h('form', { on: { submit: (e: Event) => { e.preventDefault(); void submit(secret.value.trim(), note) } } },
      secret, ' ', h('button', { type: 'submit', id: 'signin-submit' }, 'Sign in')),
    note))
  secret.focus()
}

async function submit(secret: string, note: HTMLElement) {
  if (!secret) return
  if (secret.startsWith('ik_')) {
    saveSession({ key: secret, keyPrefix: secret.split('_').slice(0, 2).join('_') })
    try {
      await api('/v1/debug/rejections?limit=1')
      location.hash = '#live'
      shell()
    } catch (e) {
      clearSession()
      note.textContent = e instanceof ApiError && e.status === 401 ? 'That key is unknown or revoked.' : errorText(e)
    }
    return
  }
  saveSession({ admin: secret })
  try {
    const r = await adminApi('/admin/projects?limit=1000')
    pickProject(r.data)
  } catch (e) {
    clearSession()
    note.textContent = e instanceof ApiError && e.status === 401 ? 'That is neither a project key nor the admin token.' : errorText(e)
  }
}

function pickProject(projects: any[]) {
  clear(app)
  app.append(h('div', { class: 'signin' }, h('h1', {}, 'Pick a project'),
    h('p', { class: 'muted' }, 'Opening a project creates an API key for this browser tab; it is revoked when you sign out.'),
    h('ul', { class: 'projects', id: 'project-list' }, ...projects.map(p => h('li', {}, button(`${p.name} (#${p.id}, ${p.plan})`, () => void openProject(p.id, p.name), { dataset: { id: String(p.id) } })))),
    projects.length ? null : h('p', {}, 'No project yet: create one with POST /admin/projects.'),
    button('Admin only', () => { location.hash = '#admin'; shell() })))
}

// An admin reads a project's data through a key of that project, minted for this tab.
async function openProject(id: number, name: string) {
  const s = loadSession()
  if (s.minted && s.key && s.projectId !== id) await adminApi(`/admin/keys/${encodeURIComponent(s.keyPrefix!)}`, { method: 'DELETE' }).catch(() => {})
  if (!(s.minted && s.projectId === id)) {
    const r = await adminApi(`/admin/projects/${id}/keys`, { method: 'POST' })
    saveSession({ ...s, key: r.api_key, keyPrefix: r.api_key.split('_').slice(0, 2).join('_'), projectId: id, projectName: name, minted: true })
  }
  location.hash = '#live'
  shell()
}

async function signOut() {
  const s = loadSession()
  if (s.minted && s.keyPrefix) await adminApi(`/admin/keys/${encodeURIComponent(s.keyPrefix)}`, { method: 'DELETE' }).catch(() => {})
  clearSession()
  location.hash = ''
  signIn()
}

function currentView(): View {
  const v = location.hash.slice(1) as View
  return VIEWS.includes(v) ? v : 'live'
}

function shell() {
  cleanup(); stopStatus()
  clear(app)
  const s = loadSession()
  const main = h('main', { id: 'view' })
  const banner = h('div', { class: 'banner', id: 'degraded', hidden: true })
  const view = s.key ? currentView() : 'admin'
  const who = s.projectName ? `${s.projectName} (#${s.projectId})` : s.keyPrefix ? `key ${s.keyPrefix}…` : 'no project'
  const nav = h('nav', {}, ...VIEWS.map(v => h('a', { href: `#${v}`, class: v === view ? 'active' : '', id: `nav-${v}` }, v[0].toUpperCase() + v.slice(1))))
  app.append(
    h('header', {}, h('strong', { class: 'brand' }, 'Inlet'), nav, h('span', { class: 'who', id: 'who' }, who),
      s.admin && s.key ? button('Switch project', () => void adminApi('/admin/projects?limit=1000').then(r => pickProject(r.data)), { class: 'small' }) : null,
      button('Sign out', () => void signOut(), { class: 'small', id: 'signout' })),
    banner, main)
  stopStatus = startStatus(banner)
  if (!s.key && view !== 'admin') main.append(h('p', {}, 'Open a project from Admin first.'))
  else if (view === 'live') cleanup = liveView(main)
  else if (view === 'events') cleanup = eventsView(main)
  else if (view === 'debugger') cleanup = debuggerView(main)
  else if (view === 'reports') cleanup = reportsView(main)
  else cleanup = adminView(main, (id, name) => void openProject(id, name))
}

window.addEventListener('hashchange', () => { if (loadSession().key || loadSession().admin) shell() })
if (loadSession().key || loadSession().admin) shell()
else signIn()
