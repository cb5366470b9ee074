// The rejection log: a project's recent refusals (per-event validation errors with
// their paths, 413s, 429s, bad webhook signatures), so "where did my event go?"
// has an answer. Bounded twice: REJECTIONS_PER_PROJECT_MAX entries per project (a
// ring, newest overwriting oldest) and REJECTION_PROJECTS_MAX projects (the one
// refused least recently is forgotten first). Every string is cut short, so one
// entry has a fixed worst-case size whatever the client sent.
//
// A request-level refusal is rendered in one place (http/app.ts), far from where
// the project became known; the routes attribute the request to its project (and
// event) in a WeakMap, which the renderer reads, and which forgets with the request.

import type { ErrorDetail } from '../errors'

const TEXT_CHARS_MAX = 200
const ERRORS_PER_ENTRY_MAX = 8

export interface Rejection {
  at: string
  route: string
  status: number
  code: string
  message: string
  id?: string
  name?: string
  index?: number
  errors?: ErrorDetail[]
}

interface Attribution {
  projectId: number
  id?: string
  name?: string
}

const cut = (s: string) => (s.length > TEXT_CHARS_MAX ? s.slice(0, TEXT_CHARS_MAX - 1) + '…' : s)
const text = (v: unknown) => (typeof v === 'string' ? cut(v) : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined)

function cutErrors(errors: readonly unknown[] | undefined): ErrorDetail[] | undefined {
  if (!errors || errors.length === 0) return undefined
  return errors.slice(0, ERRORS_PER_ENTRY_MAX).map(e => {
    const d = (e ?? {}) as Partial<ErrorDetail>
    return { path: cut(String(d.path ?? '')), message: cut(String(d.message ?? '')) }
  })
}

// The route as a person reads it; a webhook's token is a credential and stays out.
export function routeOf(method: string, pathname: string): string {
  return `${method} ${cut(pathname.replace(/^\/v1\/(webhooks|snowplow)\/[^/]+/, '/v1/$1/:token'))}`
}

class Ring {
  private items: Rejection[] = []
  private next = 0
  constructor(private readonly max: number) {}

  push(r: Rejection): void {
    if (this.items.length < this.max) this.items.push(r)
    else this.items[this.next] = r
    this.next = (this.next + 1) % this.max
  }

  newestFirst(): Rejection[] {
    const n = this.items.length
    const out: Rejection[] = []
    for (let k = 1; k <= n; k++) out.push(this.items[(this.next - k + n * 2) % n])
    return out
  }
}

export class RejectionLog {
  private projects = new Map<number, Ring>()
  private attributed = new WeakMap<Request, Attribution>()
  // Told of each refusal made here (live/relay.ts passes them to the other processes).
  onAdd: ((projectId: number, r: Rejection) => void) | null = null

  constructor(readonly perProjectMax: number, readonly projectsMax: number) {}

  // The request belongs to this project (and, once parsed, to this event).
  attribute(request: Request, projectId: number, event?: Record<string, unknown>): void {
    const a: Attribution = this.attributed.get(request) ?? { projectId }
    a.projectId = projectId
    if (event) {
      a.id = text(event.id)
      a.name = text(event.name)
    }
    this.attributed.set(request, a)
  }

  // A refused request, from the error renderer; ignored when no project is known.
  refused(request: Request, status: number, code: string, message: string, details?: readonly unknown[]): void {
    const a = this.attributed.get(request)
    if (!a) return
    const errors = status === 422 || status === 413 ? cutErrors(details) : undefined
    this.add(a.projectId, {
      at: new Date().toISOString(), route: routeOf(request.method, new URL(request.url).pathname),
      status, code, message: cut(message), ...(a.id !== undefined ? { id: a.id } : {}),
      ...(a.name !== undefined ? { name: a.name } : {}), ...(errors ? { errors } : {}),
    })
  }

  // The invalid events of a batch answered 200 (partial success): one entry each.
  // Only the newest perProjectMax can be kept, so only those are built.
  batch(request: Request, projectId: number, raws: ReadonlyMap<number, unknown>, rejected: ReadonlyMap<number, readonly ErrorDetail[]>): void {
    if (rejected.size === 0) return
    const at = new Date().toISOString()
    const route = routeOf(request.method, new URL(request.url).pathname)
    const indexes = [...rejected.keys()].slice(-this.perProjectMax)
    for (const index of indexes) {
      const raw = (raws.get(index) ?? {}) as Record<string, unknown>
      // Each wire format's own id field: Inlet's, Segment's, PostHog's, Snowplow's.
      const id = text(raw.id ?? raw.messageId ?? raw.uuid ?? raw.eid)
      const name = text(raw.name ?? raw.event)
      this.add(projectId, {
        at, route, status: 422, code: 'validation_failed', message: `event ${index} of the batch is invalid`, index,
        ...(id !== undefined ? { id } : {}), ...(name !== undefined ? { name } : {}), errors: cutErrors(rejected.get(index)),
      })
    }
  }

  // `relay`: false for a refusal another process made and relayed here.
  add(projectId: number, r: Rejection, relay = true): void {
    if (relay) this.onAdd?.(projectId, r)
    let ring = this.projects.get(projectId)
    if (ring) this.projects.delete(projectId)
    else {
      ring = new Ring(this.perProjectMax)
      if (this.projects.size >= this.projectsMax) {
        const oldest = this.projects.keys().next().value
        if (oldest !== undefined) this.projects.delete(oldest)
      }
    }
    // Re-inserted last: Map order is "refused least recently" first.
    this.projects.set(projectId, ring)
    ring.push(r)
  }

  recent(projectId: number, limit: number): Rejection[] {
    return (this.projects.get(projectId)?.newestFirst() ?? []).slice(0, limit)
  }

  // The newest refusal of this event id, for its receipt.
  find(projectId: number, id: string): Rejection | undefined {
    return this.projects.get(projectId)?.newestFirst().find(r => r.id === id)
  }

  get projectCount(): number {
    return this.projects.size
  }
}
