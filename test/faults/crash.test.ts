// The process itself goes: a bug (an assertion injected on the write path with
// INLET_FAILPOINTS) must crash it loudly rather than answer 503, and SIGTERM with a
// full buffer and Postgres frozen must still exit within SHUTDOWN_MS_MAX + 1 s. Either
// way the next start stores every event that was acknowledged, exactly once.

import { afterEach, expect, test } from 'bun:test'
import { drained, type Rig, signalCluster, startRig, startWriters, until, verify } from './harness'

let rig: Rig | undefined
afterEach(async () => {
  if (rig) signalCluster(rig, 'SIGCONT')
  await rig?.destroy()
  rig = undefined
})

test('an AssertionError on the write path crashes the process (exit 70, logged), and the next start drains every acknowledged event', async () => {
  rig = await startRig()
  await rig.server.kill('SIGTERM')
  // The 300th flush hits an assertion: by then Postgres is down and flushes go to the spill.
  await rig.start({ INLET_FAILPOINTS: 'flush:300' })
  const warm = await fetch(`${rig.server.url}/v1/events`, {
    method: 'POST', headers: { authorization: `Bearer ${rig.project.api_key}` }, body: JSON.stringify({ name: 'Warm' }),
  })
  expect(warm.status).toBe(200)
  await rig.cluster.stop()
  const w = startWriters(rig, 8, 10)
  const exitCode = await rig.server.proc.exited
  expect(exitCode).toBe(70)
  expect(rig.server.output()).toContain('an assertion failed: this is a bug in Inlet')
  expect(rig.server.output()).toContain('failpoint: flush')
  const ackedBeforeCrash = w.acked.size
  expect(ackedBeforeCrash).toBeGreaterThan(0)
  await rig.cluster.start()
  await rig.start()
  const drainMs = await drained(rig)
  await until('writers to land again', () => w.acked.size > ackedBeforeCrash + 100)
  await w.stop()
  await verify(rig, w, 'assertion on the write path', { exit_code: exitCode, acked_before_crash: ackedBeforeCrash, drain_ms: drainMs })
}, 120_000)

test('SIGTERM with a full buffer and Postgres frozen exits within SHUTDOWN_MS_MAX + 1 s, and the next start stores everything acknowledged', async () => {
  const shutdownMs = 3_000
  // Flushes wait on the frozen Postgres (a 60 s commit deadline), so the buffer fills:
  // 300 events of room, 16 writers with 25 in flight each.
  rig = await startRig({ env: { SHUTDOWN_MS_MAX: String(shutdownMs), FLUSH_COMMIT_MS_MAX: '60000', QUEUE_EVENTS_MAX: '300', BATCH_EVENTS_MAX: '25' } })
  const w = startWriters(rig, 16, 25)
  await until('some writes', () => w.acked.size > 500)
  signalCluster(rig, 'SIGSTOP')
  await until('the buffer to be full', async () => {
    const b = await (await fetch(`${rig!.server.url}/ready`)).json() as { buffer: { depth: number; capacity: number } }
    return b.buffer.depth > b.buffer.capacity - 25
  }, 30_000)
  const ackedBeforeTerm = w.acked.size
  const termAt = performance.now()
  const exitCode = await rig.server.kill('SIGTERM')
  const tookMs = performance.now() - termAt
  expect(exitCode).toBe(0)
  expect(tookMs).toBeLessThan(shutdownMs + 1_000)
  expect(rig.server.output()).toContain('shutdown reached SHUTDOWN_MS_MAX: spilling what is left')
  const ackedAtExit = w.acked.size
  signalCluster(rig, 'SIGCONT')
  await rig.start()
  const drainMs = await drained(rig)
  await w.stop()
  await verify(rig, w, 'SIGTERM, full buffer, Postgres frozen', {
    exit_ms: Math.round(tookMs), acked_before_sigterm: ackedBeforeTerm, acked_by_the_drain_at_exit: ackedAtExit - ackedBeforeTerm, drain_ms: drainMs,
  })
}, 120_000)
