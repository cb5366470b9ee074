// The spill's own disk fills up: INLET_DATA_DIR on a 4 MiB tmpfs (mounted here; this
// needs root), Postgres stopped, 8 writers and 4 readers. Writes are acked from the
// spill until the disk is full, then answered 503 with Retry-After (never a 200 that
// is not stored); /ready says so; when Postgres returns, the drainer — whose deletes
// need disk space too — works its way out, the process stays up, and everything acked
// ends up in Postgres exactly once.

import { afterEach, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { drained, type Rig, startReaders, startRig, startWriters, until, verify } from './harness'

const root = process.getuid?.() === 0
let rig: Rig | undefined
let mounted: string | undefined
afterEach(async () => {
  await rig?.destroy()
  rig = undefined
  if (mounted) {
    Bun.spawnSync(['umount', mounted])
    rmSync(mounted, { recursive: true, force: true })
    mounted = undefined
  }
})

const ready = async (r: Rig) => (await fetch(`${r.server.url}/ready`)).json() as Promise<{ status: string; spill: { writable: boolean; pending: number } }>

test.skipIf(!root)('the spill directory on a full 4 MiB tmpfs while Postgres is down: 503s while full, never a false 200, drained after', async () => {
  mounted = mkdtempSync(join(tmpdir(), 'inlet-tmpfs-'))
  expect(Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mounted]).exitCode).toBe(0)
  // A reserve a quarter of this small disk: what lets the drain delete once it is full.
  rig = await startRig({ dataDir: mounted, env: { SPILL_RESERVE_BYTES: String(1024 * 1024), DRAIN_BATCH_ROWS_MAX: '500' } })
  const w = startWriters(rig, 8, 10, { pauseMs: 5 })
  const r = startReaders(rig, 4, w.acked)
  await until('some writes', () => w.acked.size > 200)
  await rig.cluster.stop()
  // The disk fills: the spill answers 503 (SQLITE_FULL), and so does /ready.
  await until('the spill to be full', () => (w.statuses.get(503) ?? 0) > 50)
  const full = await ready(rig)
  expect(full.spill.writable).toBe(false)
  // 200 KiB of events: no room for it (a small one can still squeeze into a last page).
  const probe = await fetch(`${rig.server.url}/v1/events/batch`, {
    method: 'POST', headers: { authorization: `Bearer ${rig.project.api_key}` },
    body: JSON.stringify({ events: Array.from({ length: 100 }, (_, i) => ({ id: `while-full-${i}`, name: 'Fault', properties: { pad: 'x'.repeat(2048) } })) }),
  })
  expect(probe.status).toBe(503)
  expect(probe.headers.get('retry-after')).not.toBeNull()
  expect(((await probe.json()) as { error: { code: string } }).error.code).toBe('unavailable')
  const readyStatus = (await fetch(`${rig.server.url}/ready`)).status
  await Bun.sleep(1_000)
  const ackedWhileDown = w.acked.size
  await rig.cluster.start()
  const drainMs = await drained(rig)
  // Space came back: the spill takes writes again when it must, and /ready is 200.
  await until('/ready to be 200 with a writable spill', async () => (await ready(rig!)).spill.writable)
  await until('more writes after the drain', () => w.acked.size > ackedWhileDown + 500)
  await Promise.all([w.stop(), r.stop()])
  expect(r.violations).toEqual([])
  expect(readyStatus).toBe(503)
  const metrics = await (await fetch(`${rig.server.url}/metrics`)).text()
  expect(metrics).toMatch(/^inlet_spill_errors_total\{reason="SQLITE_FULL"\} [1-9]/m)
  await verify(rig, w, 'spill on a full 4 MiB tmpfs, Postgres down', {
    acked_before_full: ackedWhileDown, drain_ms: drainMs, background_errors: metrics.match(/^inlet_background_errors_total.*$/gm) ?? [],
  })
  const [row] = await rig.admin`select count(*)::int as n from events where id like 'while-full-%'`
  expect(row.n).toBe(0)
}, 180_000)

test.skipIf(!root)('with no reserve, a drain whose deletes hit the full disk backs off and retries with the process up, and finishes once space returns', async () => {
  mounted = mkdtempSync(join(tmpdir(), 'inlet-tmpfs-'))
  expect(Bun.spawnSync(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mounted]).exitCode).toBe(0)
  // Space an operator can free later.
  await Bun.write(join(mounted, 'filler'), Buffer.alloc(1024 * 1024, 1))
  rig = await startRig({ dataDir: mounted, env: { SPILL_RESERVE_BYTES: '0', DRAIN_BATCH_ROWS_MAX: '500' } })
  const w = startWriters(rig, 8, 10, { pauseMs: 5 })
  await until('some writes', () => w.acked.size > 200)
  await rig.cluster.stop()
  await until('the spill to be full', () => (w.statuses.get(503) ?? 0) > 50)
  await rig.cluster.start()
  const errors = async () => Number((await (await fetch(`${rig!.server.url}/metrics`)).text())
    .match(/^inlet_background_errors_total\{loop="drainer",code="SQLITE_FULL"\} (\d+)/m)?.[1] ?? 0)
  await until('the drainer to fail on the full disk', async () => (await errors()) > 0)
  // Up and answering, but not drained: the deletes cannot be written.
  await Bun.sleep(1_000)
  expect((await fetch(`${rig.server.url}/health`)).status).toBe(200)
  expect((await ready(rig)).spill.pending).toBeGreaterThan(0)
  rmSync(join(mounted, 'filler'))
  const drainMs = await drained(rig)
  await w.stop()
  await verify(rig, w, 'full disk, no reserve, space freed after', { drainer_disk_errors: await errors(), drain_ms_after_space_returned: drainMs })
}, 180_000)
