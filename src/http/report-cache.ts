// What the report routes keep between requests, built once in inlet.ts: the result
// cache, and the slots that bound how many reports run in Postgres at once.

import { assert } from '../assert'
import { InletError } from '../errors'

// Results by project and normalised parameters. Fresh for REPORT_CACHE_TTL_MS; then,
// for REPORT_CACHE_STALE_MS more, the last result is still served while one refresh
// runs (HTTP's stale-while-revalidate), so a busy dashboard never queues behind a slow
// report it has just seen. Refreshes run only on an idle report slot (Slots.tryRun):
// measured on 10M events, refreshing every report of a 60-report dashboard each 5 s
// kept every slot busy, starved the HTTP side of CPU and let entries expire anyway. The pending promise is cached too, so a burst of
// identical requests runs one query. A failure is never remembered.
type Outcome = 'hit' | 'stale' | 'miss'
interface Entry { projectId: number; freshUntilMs: number; staleUntilMs: number; value: Promise<unknown>; refreshing: boolean }

export class ReportCache {
  private readonly entries = new Map<string, Entry>()
  constructor(private readonly entriesMax: number, private readonly ttlMs: number, private readonly staleMs: number) {}

  // `refresh` starts a background recomputation, or returns null when there is no room for one now.
  get<T>(projectId: number, key: string, compute: () => Promise<T>, refresh: () => Promise<T> | null): { value: Promise<T>; outcome: Outcome } {
    if (this.entriesMax === 0 || this.ttlMs === 0) return { value: compute(), outcome: 'miss' }
    const k = `${projectId}\u0001${key}`
    const now = Date.now()
    const found = this.entries.get(k)
    assert(!found || found.projectId === projectId, 'a cached report belongs to the project of its key')
    if (found && found.freshUntilMs > now) return { value: found.value as Promise<T>, outcome: 'hit' }
    if (found && found.staleUntilMs > now && Bun.peek.status(found.value) === 'fulfilled') {
      const next = found.refreshing ? null : refresh()
      if (next) {
        found.refreshing = true
        // Fresh from when the refresh began (what it read is that old), not from when it ended.
        next.then(() => { if (this.entries.get(k) === found) this.put(k, projectId, next, now) }, () => { found.refreshing = false })
      }
      return { value: found.value as Promise<T>, outcome: 'stale' }
    }
    const value = compute()
    this.put(k, projectId, value)
    value.catch(() => { if (this.entries.get(k)?.value === value) this.entries.delete(k) })
    return { value, outcome: 'miss' }
  }

  // After an erasure or retention changed what these projects' reports count (issue
  // 13), here or in another process (the `forget` notice, inlet.ts). A refresh or a
  // miss still running is forgotten too: what it read may predate the change.
  forget(projectIds: Iterable<number>): void {
    const gone = new Set(projectIds)
    for (const [k, e] of this.entries) if (gone.has(e.projectId)) this.entries.delete(k)
  }

  // Everything: a change may have been missed (a lost LISTEN, a notice naming too many projects).
  clear(): void {
    this.entries.clear()
  }

  private put(k: string, projectId: number, value: Promise<unknown>, now = Date.now()) {
    this.entries.delete(k)
    while (this.entries.size >= this.entriesMax) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(k, { projectId, freshUntilMs: now + this.ttlMs, staleUntilMs: now + this.ttlMs + this.staleMs, value, refreshing: false })
  }
}

// At most `slots` reports in Postgres at once, first come first served. A report
// that waits longer than `waitMsMax` for a turn is answered 503 rather than left
// hanging. `setting` names the limit in that answer.
export class Slots {
  private running = 0
  private readonly waiting: (() => void)[] = []
  constructor(private readonly slots: number, private readonly waitMsMax: number, private readonly setting = 'REPORT_QUERIES_MAX') {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.slots) await this.turn()
    else this.running++
    try { return await fn() } finally {
      const next = this.waiting.shift()
      if (next) next() // the slot passes on, still counted as running
      else this.running--
    }
  }

  // Runs `fn` only if no report is running or waiting: background work never queues.
  tryRun<T>(fn: () => Promise<T>): Promise<T> | null {
    if (this.running > 0 || this.waiting.length > 0) return null
    return this.run(fn)
  }

  private turn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const go = () => { clearTimeout(timer); resolve() }
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(go)
        if (i >= 0) this.waiting.splice(i, 1)
        reject(new InletError('unavailable', `${this.slots} reports are running (${this.setting}) and this one waited ` +
          `${this.waitMsMax} ms for a turn; try again later`, undefined, 1))
      }, this.waitMsMax)
      this.waiting.push(go)
    })
  }
}
