// Sequential, uncached timings of every request of the reports scenario against one
// Inlet started from DIR on an already seeded database (bench/seed.ts), one request
// at a time, no other load: what each report's SQL costs alone. Used for issue 16
// when the bench lock was not free for the loaded scenario. Responses are saved to
// /tmp/inlet-report-bodies-LABEL.json so two code versions can be compared exactly
// (NOW=epoch-ms fixes the ranges).
//   bun bench/reports-timing.ts DIR DATABASE LABEL [REPS]
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { reportPaths } from './lib/report-queries'
const [dir, db, label, repsText] = process.argv.slice(2)
if (process.env.NOW) { const now = Number(process.env.NOW); Date.now = () => now }
const reps = Number(repsText ?? 3)
const port = 41000 + Math.floor(Math.random() * 1000)
const token = 'r16-admin-token-0123456789'
const proc = Bun.spawn(['bun', 'src/main.ts'], { cwd: dir, env: { ...process.env, DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${db}`, PORT: String(port), HOST: '127.0.0.1',
  INLET_ADMIN_TOKEN: token, INLET_DATA_DIR: mkdtempSync(join(tmpdir(), 'r16-')), REPORT_CACHE_ENTRIES_MAX: '0', LOG_LEVEL: 'warn' }, stdout: 'inherit', stderr: 'inherit' })
const base = `http://127.0.0.1:${port}`
for (let i = 0; ; i++) { try { if ((await fetch(base + '/ready')).ok) break } catch {} ; await Bun.sleep(200); if (i > 100) throw new Error('no start') }
const project = Number(process.env.PROJECT ?? 1)
const { api_key } = await (await fetch(`${base}/admin/projects/${project}/keys`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })).json() as any
const keyOf = (path: string, days: number) => path.includes('/counts') ? `counts/${/interval=(\w+)/.exec(path)![1]}-${days}d`
  : path.includes('/funnel') ? `funnel/${/steps=([^&]*)/.exec(path)![1].split(',').length}-${days}d` : `${/reports\/(\w+)/.exec(path)![1]}-${days}d`
const paths: { key: string; path: string }[] = []
for (const days of [7, 30]) {
  for (const p of reportPaths(days)) paths.push({ key: keyOf(p.path, days), path: p.path })
  if (days >= 28) for (const p of reportPaths(days).filter(p => p.path.includes('interval=week'))) paths.push({ key: 'retention8w-30d', path: p.path.replace(/periods=\d+/, 'periods=8') })
}
for (const p of reportPaths(1).filter(p => p.path.includes('interval=hour') && /name=(PageView|Purchase)|counts\?interval=hour&from/.test(p.path))) paths.push({ key: 'counts/minute-1d', path: p.path.replace('interval=hour', 'interval=minute') })
const byKey = new Map<string, number[]>()
const bodies: Record<string, string> = {}
for (let r = 0; r < reps; r++) for (const p of paths) {
  const t0 = performance.now()
  const res = await fetch(base + p.path, { headers: { Authorization: `Bearer ${api_key}` } })
  const text = await res.text()
  const ms = performance.now() - t0
  if (res.status !== 200) console.log('ERR', res.status, p.path, text.slice(0, 200))
  if (r === 0) bodies[p.path] = text
  if (!byKey.has(p.key)) byKey.set(p.key, [])
  byKey.get(p.key)!.push(ms)
}
const pct = (a: number[], q: number) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] }
for (const [k, v] of byKey) console.log(`${label} ${k.padEnd(18)} n=${String(v.length).padStart(3)} p50 ${pct(v, 0.5).toFixed(1).padStart(7)} p95 ${pct(v, 0.95).toFixed(1).padStart(7)} max ${Math.max(...v).toFixed(1).padStart(7)} ms`)
await Bun.write(`/tmp/inlet-report-bodies-${label}.json`, JSON.stringify(bodies))
proc.kill()
await proc.exited
