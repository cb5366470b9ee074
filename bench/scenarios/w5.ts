// W5: the real-world correctness suite that PulseStream passed 8 of 12 of. Each
// check drives Inlet over HTTP and, where it claims something was stored, counts
// the rows in Postgres itself.

import postgres from 'postgres'
import { createProject, startInlet, type System } from '../lib/inlet'
import { log } from '../lib/phase'
import { published } from '../lib/published'
import { using } from '../lib/systems'
import type { Check, RunOptions, Scenario, ScenarioResult } from '../lib/types'

const LARGE_PAYLOAD_BYTES = 5 * 1024 * 1024
const CONCURRENT_REQUESTS = 50
const THROUGHPUT_EVENTS = 100
const RATE_LIMIT_RPM = 100
const RATE_LIMIT_SENT = 120
// Tokens refill at 100/min while the 120 requests go out: a couple more may pass.
const RATE_LIMIT_SLACK = 5

type Ctx = { sys: System; key: string; sql: postgres.Sql; call: (path: string, init?: RequestInit & { key?: string | null }) => Promise<{ status: number; body: any; headers: Headers }> }

const theirs: Record<string, string> = {
  'duplicate detection': 'failed', 'rate limit enforced': 'failed', 'partial batch': 'failed', 'read-after-write': 'failed',
}

const checks: [string, (c: Ctx) => Promise<string>][] = [
  ['basic ingest', async c => {
    const r = await c.call('/v1/events', { method: 'POST', body: JSON.stringify({ name: 'Signup', user_id: 'w5-basic' }) })
    const [{ n }] = await c.sql`select count(*)::int as n from events where user_id = 'w5-basic'`
    expect(r.status === 200 && r.body.status === 'accepted' && n === 1, `status ${r.status} ${JSON.stringify(r.body)}, ${n} row(s)`)
    return `200 accepted, 1 row`
  }],
  ['idempotency', async c => {
    const init = { method: 'POST', body: JSON.stringify({ name: 'Purchase' }), headers: { 'Idempotency-Key': 'w5-idem-1' } }
    const a = await c.call('/v1/events', init), b = await c.call('/v1/events', init)
    const [{ n }] = await c.sql`select count(*)::int as n from events where id = 'w5-idem-1'`
    expect(a.status === 200 && b.status === 200 && a.body.id === b.body.id && b.body.status === 'duplicate' && n === 1,
      `${a.status}/${b.status}, ids ${a.body.id}/${b.body.id}, second ${b.body.status}, ${n} row(s)`)
    return 'same id twice, second "duplicate", 1 row'
  }],
  ['duplicate detection', async c => {
    const body = JSON.stringify({ id: 'w5-dup-1', name: 'Purchase', properties: { n: 1 } })
    const a = await c.call('/v1/events', { method: 'POST', body }), b = await c.call('/v1/events', { method: 'POST', body })
    const [{ n }] = await c.sql`select count(*)::int as n from events where id = 'w5-dup-1'`
    expect(a.body.status === 'accepted' && b.body.status === 'duplicate' && n === 1, `${a.body.status}/${b.body.status}, ${n} row(s)`)
    return 'accepted then duplicate, 1 row'
  }],
  ['50 concurrent requests', async c => {
    const rs = await Promise.all(Array.from({ length: CONCURRENT_REQUESTS }, (_, i) =>
      c.call('/v1/events', { method: 'POST', body: JSON.stringify({ id: `w5-conc-${i}`, name: 'Click' }) })))
    const [{ n }] = await c.sql`select count(*)::int as n from events where id like 'w5-conc-%'`
    const ok = rs.filter(r => r.status === 200).length
    expect(ok === CONCURRENT_REQUESTS && n === CONCURRENT_REQUESTS, `${ok} × 200, ${n} rows`)
    return `${ok} × 200, ${n} rows`
  }],
  ['5 MB payload', async c => {
    const blob = 'x'.repeat(LARGE_PAYLOAD_BYTES)
    const r = await c.call('/v1/events', { method: 'POST', body: JSON.stringify({ id: 'w5-big', name: 'Upload', properties: { blob } }) })
    const [row] = await c.sql`select length(properties->>'blob')::int as n from events where id = 'w5-big'`
    expect(r.status === 200 && row?.n === LARGE_PAYLOAD_BYTES, `status ${r.status}, stored ${row?.n ?? 'nothing'}`)
    return '200, stored whole (5,242,880 chars)'
  }],
  ['retry after client timeout', async c => {
    const body = JSON.stringify({ id: 'w5-retry-1', name: 'Purchase', properties: { amount: 10 } })
    await c.call('/v1/events', { method: 'POST', body, signal: AbortSignal.timeout(1) }).catch(() => null)
    const r = await c.call('/v1/events', { method: 'POST', body })
    await Bun.sleep(50)
    const [{ n }] = await c.sql`select count(*)::int as n from events where id = 'w5-retry-1'`
    expect(r.status === 200 && n === 1, `retry ${r.status} ${r.body.status}, ${n} row(s)`)
    return `retry answered ${r.body.status}, 1 row`
  }],
  ['atomicity', async c => {
    const properties = { order: { id: 'o-1', items: Array.from({ length: 50 }, (_, i) => ({ sku: `s${i}`, qty: i, tags: ['a', 'b'] })) }, total: 123.45, note: 'ünïcødé ✓' }
    const r = await c.call('/v1/events', { method: 'POST', body: JSON.stringify({ id: 'w5-atom', name: 'Order', properties }) })
    const g = await c.call('/v1/events/w5-atom')
    expect(r.status === 200 && g.status === 200 && Bun.deepEquals(g.body.properties, properties), `post ${r.status}, get ${g.status}`)
    return 'read back deep-equal'
  }],
  ['100 events throughput', async c => {
    const t0 = performance.now()
    let ok = 0
    for (let i = 0; i < THROUGHPUT_EVENTS; i++) {
      const r = await c.call('/v1/events', { method: 'POST', body: JSON.stringify({ id: `w5-tp-${i}`, name: 'PageView' }) })
      if (r.status === 200) ok++
    }
    const s = (performance.now() - t0) / 1000
    expect(ok === THROUGHPUT_EVENTS, `${ok} of ${THROUGHPUT_EVENTS} acked`)
    return `${Math.round(THROUGHPUT_EVENTS / s)} events/s sequentially, ${((s * 1000) / THROUGHPUT_EVENTS).toFixed(1)} ms average`
  }],
  ['error handling', async c => {
    const a = await c.call('/v1/events', { method: 'POST', body: JSON.stringify({ name: 'x'.repeat(201), timestamp: 'yesterday' }) })
    const paths = (a.body?.error?.details ?? []).map((d: { path: string }) => d.path).sort().join(',')
    const b = await c.call('/v1/events', { method: 'POST', body: '{"name": ' })
    const d = await c.call('/v1/events', { method: 'POST', body: JSON.stringify({ name: 'x' }), key: null })
    expect(a.status === 422 && paths === '/name,/timestamp' && b.status === 400 && b.body?.error?.code === 'malformed_json' && d.status === 401,
      `422? ${a.status} paths ${paths}; 400? ${b.status} ${b.body?.error?.code}; 401? ${d.status}`)
    return '422 naming /name and /timestamp, 400 malformed_json, 401'
  }],
  ['rate limit enforced', async c => {
    const p = await createProject(c.sys, 'w5-limited', 'free', RATE_LIMIT_RPM)
    let ok = 0, limited = 0, retryAfter: string | null = null
    for (let i = 0; i < RATE_LIMIT_SENT; i++) {
      const r = await c.call('/v1/events', { method: 'POST', body: JSON.stringify({ name: 'Tick' }), key: p.api_key })
      if (r.status === 200) ok++
      if (r.status === 429) { limited++; retryAfter ??= r.headers.get('retry-after') }
    }
    expect(ok >= RATE_LIMIT_RPM && ok <= RATE_LIMIT_RPM + RATE_LIMIT_SLACK && limited === RATE_LIMIT_SENT - ok && Number(retryAfter) > 0,
      `${ok} accepted, ${limited} × 429, Retry-After ${retryAfter}`)
    return `${ok} accepted then ${limited} × 429 (Retry-After ${retryAfter} s)`
  }],
  ['partial batch', async c => {
    const events = Array.from({ length: 10 }, (_, i) => (i === 5 ? { id: 'w5-pb-5' } : { id: `w5-pb-${i}`, name: 'Item' }))
    const r = await c.call('/v1/events/batch', { method: 'POST', body: JSON.stringify({ events }) })
    const [{ n }] = await c.sql`select count(*)::int as n from events where id like 'w5-pb-%'`
    const bad = r.body?.results?.[5]
    expect(r.status === 200 && r.body.accepted === 9 && r.body.rejected === 1 && bad?.status === 'rejected' && bad?.errors?.[0]?.path === '/name' && n === 9,
      `status ${r.status}, accepted ${r.body?.accepted}, rejected ${r.body?.rejected}, ${n} rows`)
    return '9 stored, index 5 rejected at /name'
  }],
  ['read-after-write', async c => {
    const name = `RAW_${Date.now()}`
    const w = await c.call('/v1/events', { method: 'POST', body: JSON.stringify({ name }) })
    const list = await c.call(`/v1/events?name=${name}`)
    const one = await c.call(`/v1/events/${w.body.id}`)
    expect(w.status === 200 && list.body?.data?.length === 1 && list.body.data[0].id === w.body.id && one.status === 200,
      `write ${w.status}, search found ${list.body?.data?.length ?? 0}, get ${one.status}`)
    return 'found by search and by id at once'
  }],
]

function expect(ok: boolean, detail: string) {
  if (!ok) throw new Error(detail)
}

export const w5: Scenario = {
  name: 'w5',
  title: 'W5 — the twelve real-world correctness checks',
  async run(_o: RunOptions, out: ScenarioResult) {
    await using(startInlet('w5'), async sys => {
      const project = await createProject(sys, 'w5', 'enterprise')
      const sql = postgres(sys.db!.url, { max: 2, idle_timeout: 5, connect_timeout: 10, onnotice: () => {} })
      const call: Ctx['call'] = async (path, init = {}) => {
        const key = init.key === undefined ? project.api_key : init.key
        const headers: Record<string, string> = { 'Content-Type': 'application/json', ...(init.headers as Record<string, string>) }
        if (key) headers.Authorization = `Bearer ${key}`
        const r = await fetch(sys.server.url + path, { ...init, headers })
        const text = await r.text()
        let body: any = null
        try { body = JSON.parse(text) } catch { body = text }
        return { status: r.status, body, headers: r.headers }
      }
      try {
        for (const [name, fn] of checks) {
          let check: Check
          try { check = { name, pass: true, detail: await fn({ sys, key: project.api_key, sql, call }), theirs: theirs[name] ?? 'passed' } }
          catch (e) { check = { name, pass: false, detail: (e as Error).message, theirs: theirs[name] ?? 'passed' } }
          out.checks.push(check)
          log(`  ${check.pass ? '✓' : '✗'} ${name}: ${check.detail}`)
        }
      } finally { await sql.end({ timeout: 5 }) }
      const passed = out.checks.filter(c => c.pass).length
      log(`  ${passed} of ${out.checks.length} passed (theirs: ${published.w5})`)
    })
  },
}
