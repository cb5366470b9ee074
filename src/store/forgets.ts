// Erasure and retention remove stored events, and what a process has cached about
// them (report results, user-day memberships) must go everywhere, not only in the
// process that ran the job: the one that did announces the projects on the bus,
// `{ k: 'forget', projects: [...] }`, and every other process forgets them as if it
// had run the job itself. A notice is sent after the job committed, so a process
// that recomputes on hearing it reads the change (from the primary, or a replica
// that has replayed past it: store/replica.ts). If one is lost, REPORT_CACHE_TTL_MS
// + REPORT_CACHE_STALE_MS still bound how long a report can count erased events; a
// LISTEN that was lost and made again forgets everything (inlet.ts).

import { assert } from '../assert'
import { type Bus, NOTIFY_PAYLOAD_BYTES_MAX } from './bus'

// Projects named in one notice; past it the notice says `all`. A retention pass
// can touch every project with a finite retention, but a project id is at most 10
// digits and a comma, so 500 stay under Postgres's 8000-byte payload with room for
// the envelope. Forgetting every report is what a LISTEN lost costs anyway.
export const FORGET_PROJECTS_MAX = 500
const FORGET_ENVELOPE_BYTES_MAX = 64
assert(FORGET_PROJECTS_MAX * 11 + FORGET_ENVELOPE_BYTES_MAX <= NOTIFY_PAYLOAD_BYTES_MAX, 'a forget notice fits one NOTIFY')

export type Forgotten = number[] | 'all'

// False when the notice could not be sent (the others then wait out their TTL).
export function announceForget(bus: Bus, projectIds: number[]): boolean {
  if (projectIds.length === 0) return true
  const message = projectIds.length > FORGET_PROJECTS_MAX ? { k: 'forget', all: true } : { k: 'forget', projects: projectIds }
  return bus.publish(message, false)
}

export function onForget(bus: Bus, forget: (what: Forgotten) => void): void {
  bus.on('forget', m => {
    if (m.all === true) return forget('all')
    const ids = Array.isArray(m.projects) ? m.projects.filter(Number.isSafeInteger) as number[] : []
    // A malformed notice (not one Inlet sends) is treated as naming everything.
    forget(ids.length ? ids : 'all')
  })
  bus.on('relisten', () => forget('all'))
}
