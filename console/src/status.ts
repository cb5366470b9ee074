// The degraded state, said plainly: /ready every few seconds, shown as a banner
// when Postgres is down, events wait in the spill, or dead letters exist.

import { ready } from './api'
import { clear, h } from './dom'

export function degradedLines(r: any): string[] {
  const lines: string[] = []
  if (r.postgres === 'down') lines.push('Postgres is down: events are acknowledged from the local spill and reach Postgres when it is back.')
  if (r.status === 'unavailable') lines.push('Inlet cannot make writes durable right now (Postgres down and the spill unwritable): ingest answers 503.')
  const pending = r.spill?.pending ?? 0
  if (pending > 0) lines.push(`${pending} acknowledged event(s) wait in the spill for Postgres.`)
  const dead = typeof r.dead_letter === 'number' ? r.dead_letter : r.dead_letter?.count ?? r.dead_letters ?? 0
  if (dead > 0) lines.push(`${dead} acknowledged event(s) are in the dead-letter table (Postgres refused them as data).`)
  return lines
}

export function startStatus(banner: HTMLElement): () => void {
  let stopped = false
  const tick = async () => {
    if (stopped) return
    try {
      const lines = degradedLines(await ready())
      clear(banner)
      banner.hidden = lines.length === 0
      for (const l of lines) banner.append(h('div', {}, l))
      banner.dataset.state = lines.length ? 'degraded' : 'ok'
    } catch {
      clear(banner)
      banner.hidden = false
      banner.dataset.state = 'degraded'
      banner.append(h('div', {}, 'Inlet does not answer /ready.'))
    }
    if (!stopped) setTimeout(tick, 3000)
  }
  void tick()
  return () => { stopped = true }
}
