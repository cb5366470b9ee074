// The console's session and its calls to Inlet. The key (or the admin token) lives
// in sessionStorage: gone when the tab closes, never in a URL or a cookie, and sent
// as a header on every request, so the API needs no cookie and no CSRF defence.

export interface Session {
  key?: string
  keyPrefix?: string
  admin?: string
  projectId?: number
  projectName?: string
  // A key the console minted for an admin opening a project; revoked at sign-out.
  minted?: boolean
}

const STORE = 'inlet.console.session'

export function loadSession(): Session {
  try { return JSON.parse(sessionStorage.getItem(STORE) ?? '{}') as Session } catch { return {} }
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(STORE, JSON.stringify(s))
}

export function clearSession(): void {
  sessionStorage.removeItem(STORE)
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details?: unknown[]) {
    super(message)
  }
}

async function call(path: string, token: string | undefined, init: { method?: string; body?: unknown } = {}): Promise<any> {
  const headers: Record<string, string> = { accept: 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(path, {
    method: init.method ?? 'GET', headers, credentials: 'omit', cache: 'no-store',
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  const text = await response.text()
  let body: any = null
  try { body = text ? JSON.parse(text) : null } catch { body = text }
  if (!response.ok) {
    const e = body?.error
    throw new ApiError(response.status, e?.code ?? 'http_' + response.status, e?.message ?? `HTTP ${response.status}`, e?.details)
  }
  return body
}

// A project call, with the session's key.
export const api = (path: string, init?: { method?: string; body?: unknown }) => call(path, loadSession().key, init)

// An admin call, with the admin token: every admin action carries it.
export const adminApi = (path: string, init?: { method?: string; body?: unknown }) => {
  const token = loadSession().admin
  if (!token) return Promise.reject(new ApiError(401, 'unauthorized', 'sign in with the admin token to manage projects'))
  return call(path, token, init)
}

// The readiness document is public (load balancers read it): no key.
export async function ready(): Promise<any> {
  const response = await fetch('/ready', { cache: 'no-store', credentials: 'omit' })
  return response.json()
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? '?' + s : ''
}
