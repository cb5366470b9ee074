// The rig for fault tests: a throwaway Postgres cluster, the real server process on
// it (`bun src/main.ts`, as role inlet_app on database inlet), concurrent writers
// that retry the way a durable client does, concurrent readers, and the check that
// ends every test: every acknowledged event is stored exactly once (by id, by its
// client sequence number, and by walking the list API), no valid event was answered
// 4xx, and the process is still up.

import { expect } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { startThrowawayCluster, type ThrowawayCluster } from '../support/pg-cluster'
import { type ServerProcess, startServer } from '../support/server'

export const ADMIN_TOKEN = 'faults-admin-token-0123456789'

// Short deadlines, so a fault is noticed in well under a second and tests stay short.
export const FAULT_ENV: Record<string, string> = {
  INLET_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'warn',
  FLUSH_COMMIT_MS_MAX: '500', PG_PROBE_INTERVAL_MS: '100', PG_STATEMENT_TIMEOUT_MS: '1000',
  PG_CONNECT_TIMEOUT_S: '2', DRAIN_COMMIT_MS_MAX: '2000', KEY_CACHE_TTL_MS: '5000',
}

export const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await Bun.sleep(50)
  }
}

export interface Rig {
  cluster: ThrowawayCluster
  // Superuser on database inlet: what tests use to break Postgres and to check rows.
  admin: postgres.Sql
  url: string
  dataDir: string
  server: ServerProcess
  env: Record<string, string>
  project: { id: number; api_key: string }
  start(extra?: Record<string, string>): Promise<ServerProcess>
  destroy(): Promise<void>
}

export async function startRig(opts: { env?: Record<string, string>; dataDir?: string } = {}): Promise<Rig> {
  const cluster = await startThrowawayCluster()
  const root = postgres(cluster.url, { max: 1, onnotice: () => {} })
  await root`create role inlet_app login`
  await root`create database inlet owner inlet_app`
  await root.end({ timeout: 1 })
  const adminUrl = new URL(cluster.url)
  adminUrl.pathname = '/inlet'
  const url = new URL(adminUrl)
  url.username = 'inlet_app'
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'inlet-fault-'))
  const env = { ...FAULT_ENV, DATABASE_URL: url.toString(), INLET_DATA_DIR: dataDir, ...opts.env }
  const rig: Rig = {
    cluster, dataDir, env, url: url.toString(),
    admin: postgres(adminUrl.toString(), { max: 4, onnotice: () => {}, connect_timeout: 5 }),
    server: undefined as unknown as ServerProcess,
    project: undefined as unknown as Rig['project'],
    async start(extra = {}) {
      rig.server = await startServer({ ...env, ...extra }, 60_000)
      return rig.server
    },
    async destroy() {
      if (rig.server && rig.server.proc.exitCode === null) await rig.server.kill('SIGKILL')
      await rig.admin.end({ timeout: 1 }).catch(() => {})
      await cluster.destroy()
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
  await rig.start()
  const r = await fetch(`${rig.server.url}/admin/projects`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ name: 'faults', plan: 'enterprise', rate_limit_rpm: 10_000_000 }),
  })
  expect(r.status).toBe(201)
  rig.project = await r.json() as Rig['project']
  return rig
}

// --- Faults, all real: on the cluster's processes and settings ----------------

// Inlet's own backends: the ones a fault hits.
const INLET_BACKENDS = "usename = 'inlet_app' and pid <> pg_backend_pid()"

export async function setReadOnly(rig: Rig, on: boolean) {
  await rig.admin.unsafe(on ? 'alter database inlet set default_transaction_read_only = on' : 'alter database inlet reset default_transaction_read_only')
  // A failover: every session ends, new ones get the new setting.
  await rig.admin.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where ${INLET_BACKENDS}`)
}

// pg_cancel_backend on Inlet's backends every `everyMs` until stop() is called.
export function cancelLoop(rig: Rig, everyMs: number) {
  let stopping = false
  let cancels = 0
  const done = (async () => {
    while (!stopping) {
      const rows = await rig.admin.unsafe(`select pg_cancel_backend(pid) from pg_stat_activity where ${INLET_BACKENDS} and state = 'active'`).catch(() => [])
      cancels += rows.length
      await Bun.sleep(everyMs)
    }
  })()
  return { stop: async () => { stopping = true; await done; return cancels } }
}

export async function setRoleStatementTimeout(rig: Rig, ms: number | null) {
  await rig.admin.unsafe(ms === null ? 'alter role inlet_app reset statement_timeout' : `alter role inlet_app set statement_timeout = ${ms}`)
  await rig.admin.unsafe(`select pg_terminate_backend(pid) from pg_stat_activity where ${INLET_BACKENDS}`)
}

const postmasterPid = (rig: Rig) =>
  Number(Bun.spawnSync(['head', '-1', join(rig.cluster.dir, 'data', 'postmaster.pid')]).stdout.toString().trim())
const childrenOf = (pid: number) =>
  Bun.spawnSync(['pgrep', '-P', String(pid)]).stdout.toString().trim().split('\n').filter(Boolean).map(Number)

// Every process of the cluster (postmaster and its children): SIGSTOP black-holes it.
// The postmaster first: once it is stopped it forks no backend, so the children
// listed after it are all there are. (Listing them first missed a backend forked
// between the list and the signal, which then answered a read on a "frozen" cluster.)
export function signalCluster(rig: Rig, signal: 'SIGSTOP' | 'SIGCONT') {
  const postmaster = postmasterPid(rig)
  try { process.kill(postmaster, signal) } catch {}
  const signalled = new Set([postmaster])
  for (let more = childrenOf(postmaster); more.length; more = childrenOf(postmaster).filter(p => !signalled.has(p))) {
    for (const pid of more) {
      try { process.kill(pid, signal) } catch {}
      signalled.add(pid)
    }
  }
}

// --- Load ------------------------------------------------------------------------

export interface Writers {
  // id → client sequence number of every acknowledged event.
  acked: Map<string, number>
  // Valid events answered 4xx (must stay 0), with what was answered.
  refusedValid: { status: number; body: unknown }[]
  statuses: Map<number, number>
  stop(): Promise<void>
}

let sequence = 0

// `workers` clients send batches of `size` events (every third request without ids
// when serverIds is set, so the server assigns them) and retry each until it is
// acknowledged: a 503 or a dropped connection is retried with the same body, or
// with the ids a 503 handed back when the outcome was unknown.
export function startWriters(rig: Rig, workers: number, size: number, opts: { serverIds?: boolean; pauseMs?: number; retryForMs?: number } = {}): Writers {
  const w: Writers = { acked: new Map(), refusedValid: [], statuses: new Map(), stop: async () => {} }
  let stopping = false
  const count = (status: number) => w.statuses.set(status, (w.statuses.get(status) ?? 0) + 1)
  const loops = Array.from({ length: workers }, async (_, k) => {
    let n = 0
    while (!stopping) {
      const withIds = !opts.serverIds || n++ % 3 !== 0
      const events = Array.from({ length: size }, () => {
        const seq = ++sequence
        return { ...(withIds ? { id: `f${k}-${seq}` } : {}), name: 'Fault', user_id: `u${seq % 50}`, properties: { seq } }
      })
      const giveUpAt = Date.now() + (opts.retryForMs ?? 90_000)
      while (Date.now() < giveUpAt) {
        let status = 0
        let body: any = null
        try {
          const r = await fetch(`${rig.server.url}/v1/events/batch`, {
            method: 'POST', headers: { authorization: `Bearer ${rig.project.api_key}` },
            body: JSON.stringify({ events }), signal: AbortSignal.timeout(20_000),
          })
          status = r.status
          body = await r.json().catch(() => null)
        } catch {}
        count(status)
        if (status === 200) {
          for (const [i, result] of (body.results as { id?: string; status: string }[]).entries()) {
            if (result.status === 'rejected') w.refusedValid.push({ status, body: result })
            else w.acked.set(result.id!, events[i].properties.seq)
          }
          break
        }
        if (status >= 400 && status < 500) {
          w.refusedValid.push({ status, body })
          break
        }
        // Outcome unknown: the server handed back the ids it assigned; reuse them.
        const ids = body?.error?.details as { id?: string }[] | undefined
        if (ids?.length === events.length) ids.forEach((d, i) => { if (d.id) (events[i] as { id?: string }).id = d.id })
        await Bun.sleep(50)
      }
      if (opts.pauseMs) await Bun.sleep(opts.pauseMs)
    }
  })
  w.stop = async () => { stopping = true; await Promise.all(loops) }
  return w
}

export interface Readers {
  statuses: Map<number, number>
  // Why reads were answered 503: a message → how often.
  unavailable: Map<string, number>
  // Reads that broke the contract: an acknowledged id answered 404, or any 5xx but 503.
  violations: string[]
  latencyMsMax: number
  stop(): Promise<void>
}

export function startReaders(rig: Rig, readers: number, acked: Map<string, number>): Readers {
  const r: Readers = { statuses: new Map(), unavailable: new Map(), violations: [], latencyMsMax: 0, stop: async () => {} }
  let stopping = false
  const headers = { 'x-api-key': rig.project.api_key }
  const loops = Array.from({ length: readers }, async (_, k) => {
    let n = 0
    while (!stopping) {
      const ids = [...acked.keys()]
      const byId = ids.length > 0 && n++ % 4 !== 0
      const id = byId ? ids[Math.floor(Math.random() * ids.length)] : ''
      const path = byId ? `/v1/events/${encodeURIComponent(id)}` : '/v1/events?limit=50'
      const started = performance.now()
      let status = 0
      try {
        const res = await fetch(rig.server.url + path, { headers, signal: AbortSignal.timeout(20_000) })
        status = res.status
        const text = await res.text()
        if (status === 503) {
          const why = (JSON.parse(text) as { error: { message: string } }).error.message
          r.unavailable.set(why, (r.unavailable.get(why) ?? 0) + 1)
        }
      } catch {}
      r.latencyMsMax = Math.max(r.latencyMsMax, performance.now() - started)
      r.statuses.set(status, (r.statuses.get(status) ?? 0) + 1)
      if (status === 404 && byId) r.violations.push(`GET ${path} answered 404 for an acknowledged event`)
      else if (status !== 200 && status !== 503) r.violations.push(`GET ${path} answered ${status}`)
      await Bun.sleep(5 + k)
    }
  })
  r.stop = async () => { stopping = true; await Promise.all(loops) }
  return r
}

// --- The end of every test -----------------------------------------------------------

export async function drained(rig: Rig, timeoutMs = 60_000): Promise<number> {
  const started = performance.now()
  await until('the spill to drain into Postgres', async () => {
    const b = await (await fetch(`${rig.server.url}/ready`)).json() as { postgres: string; spill: { pending: number } }
    return b.postgres === 'up' && b.spill.pending === 0
  }, timeoutMs)
  return Math.round(performance.now() - started)
}

// A page's 503s before it was answered (a 503 is "not now": a client retries).
const LIST_RETRIES_MAX = 10

// Every page of the list API, newest first, following the cursor. `unavailable`
// collects the message of every 503 a page got before its 200 (seen once in CI,
// right after a failover: one page over PG_STATEMENT_TIMEOUT_MS's 1 s).
async function walk(rig: Rig, unavailable: string[]): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | null = null
  for (;;) {
    let res: Response
    for (let attempt = 0; ; attempt++) {
      res = await fetch(`${rig.server.url}/v1/events?limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { headers: { 'x-api-key': rig.project.api_key } })
      if (res.status !== 503 || attempt === LIST_RETRIES_MAX) break
      unavailable.push(((await res.json()) as { error: { message: string } }).error.message)
      await Bun.sleep(Number(res.headers.get('retry-after') ?? 1) * 1000)
    }
    expect(res.status).toBe(200)
    const page = await res.json() as { data: { id: string }[]; next_cursor: string | null }
    ids.push(...page.data.map(e => e.id))
    if (!page.next_cursor) return ids
    cursor = page.next_cursor
  }
}

export interface Verdict { acked: number; found: number; duplicated: number; listed: number; refusedValid: number }

export async function verify(rig: Rig, w: Writers, label: string, extra: Record<string, unknown> = {}): Promise<Verdict> {
  // Writers have stopped; what they had acked last may still be in the spill.
  await drained(rig)
  const rows = await rig.admin`select id, (properties->>'seq')::int as seq from events where project_id = ${rig.project.id}`
  const stored = new Map<string, number>(rows.map(r => [r.id as string, r.seq as number]))
  const seqs = new Map<number, number>()
  for (const r of rows) if (r.seq !== null) seqs.set(r.seq as number, (seqs.get(r.seq as number) ?? 0) + 1)
  let found = 0
  for (const [id, seq] of w.acked) if (stored.get(id) === seq) found++
  const duplicated = [...seqs.values()].filter(n => n > 1).length
  const listUnavailable: string[] = []
  const listedIds = await walk(rig, listUnavailable)
  if (listUnavailable.length > 0) extra = { ...extra, list_503: listUnavailable }
  const listed = new Set(listedIds)
  const v: Verdict = {
    acked: w.acked.size, found, duplicated,
    listed: [...w.acked.keys()].filter(id => listed.has(id)).length,
    refusedValid: w.refusedValid.length,
  }
  const statuses = Object.fromEntries(w.statuses)
  console.log(`fault ${label}: acked ${v.acked}, found ${v.found} (by id), ${v.listed} (walking the list), duplicated ${v.duplicated}, `
    + `4xx for valid events ${v.refusedValid}; writer statuses ${JSON.stringify(statuses)}`
    + Object.entries(extra).map(([k, x]) => `, ${k} ${typeof x === 'object' ? JSON.stringify(x) : x}`).join(''))
  expect(w.refusedValid).toEqual([])
  expect(v.acked).toBeGreaterThan(0)
  expect(found).toBe(v.acked)
  expect(duplicated).toBe(0)
  expect(listedIds.length).toBe(listed.size) // the walk repeats nothing
  expect(v.listed).toBe(v.acked)
  // Still up, still taking writes.
  expect((await fetch(`${rig.server.url}/health`)).status).toBe(200)
  const after = await fetch(`${rig.server.url}/v1/events`, {
    method: 'POST', headers: { authorization: `Bearer ${rig.project.api_key}` }, body: JSON.stringify({ name: 'After' }),
  })
  expect(after.status).toBe(200)
  return v
}
