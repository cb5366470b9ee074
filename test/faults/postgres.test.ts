// Faults production Postgres produces every week, each on its own throwaway
// cluster under 8 writers and 4 readers against the real server: a failover that
// leaves the database read-only, statements cancelled in a loop, a statement_timeout
// on Inlet's role, and the whole cluster frozen with SIGSTOP. Every one must end with
// every 200 stored exactly once, no valid event answered 4xx, and the server up.

import { afterEach, expect, test } from 'bun:test'
import {
  cancelLoop, drained, type Rig, setReadOnly, setRoleStatementTimeout, signalCluster, startReaders, startRig, startWriters, until, verify,
} from './harness'

let rig: Rig | undefined
afterEach(async () => {
  if (rig) signalCluster(rig, 'SIGCONT')
  await rig?.destroy()
  rig = undefined
})

const sleep = (ms: number) => Bun.sleep(ms)

test('a failover that leaves the database read-only (25006) for 5 s: writes are acked from the spill, reads keep answering, and it all drains', async () => {
  rig = await startRig()
  const w = startWriters(rig, 8, 10, { serverIds: true, pauseMs: 5 })
  const r = startReaders(rig, 4, w.acked)
  await sleep(1_000)
  await setReadOnly(rig, true)
  const ackedBefore = w.acked.size
  const readsBefore = r.statuses.get(200) ?? 0
  await sleep(5_000)
  const duringFault = w.acked.size - ackedBefore
  const readsDuringFault = (r.statuses.get(200) ?? 0) - readsBefore
  await setReadOnly(rig, false)
  const drainMs = await drained(rig)
  await sleep(500)
  await Promise.all([w.stop(), r.stop()])
  expect(duringFault).toBeGreaterThan(0) // the spill took writes while Postgres could not
  expect(readsDuringFault).toBeGreaterThan(0) // a read-only Postgres still serves reads
  expect(r.violations).toEqual([])
  const spilled = Number((await (await fetch(`${rig.server.url}/metrics`)).text()).match(/^inlet_spill_written_events_total (\d+)/m)?.[1] ?? 0)
  expect(spilled).toBeGreaterThan(0)
  await verify(rig, w, 'read-only failover 5 s', { acked_during_fault: duringFault, spilled, drain_ms: drainMs, reads: Object.fromEntries(r.statuses), unavailable: Object.fromEntries(r.unavailable) })
}, 120_000)

test('statements cancelled every 5 ms (57014) for 5 s, then a 1 ms statement_timeout on Inlet\'s role for 3 s: no valid event is refused, nothing is lost', async () => {
  rig = await startRig()
  const w = startWriters(rig, 8, 10, { serverIds: true, pauseMs: 5 })
  const r = startReaders(rig, 4, w.acked)
  await sleep(1_000)
  const cancels = cancelLoop(rig, 5)
  await sleep(5_000)
  const cancelled = await cancels.stop()
  await setRoleStatementTimeout(rig, 1)
  await sleep(3_000)
  await setRoleStatementTimeout(rig, null)
  const drainMs = await drained(rig)
  await sleep(500)
  await Promise.all([w.stop(), r.stop()])
  expect(cancelled).toBeGreaterThan(0)
  expect(r.violations).toEqual([])
  await verify(rig, w, 'cancel loop 5 s + role statement_timeout 3 s', { cancels_sent: cancelled, drain_ms: drainMs, reads: Object.fromEntries(r.statuses), unavailable: Object.fromEntries(r.unavailable) })
}, 120_000)

test('the cluster frozen with SIGSTOP for 8 s: writes are acked from the spill, reads answer within their deadline, /health within 1 s', async () => {
  rig = await startRig()
  const w = startWriters(rig, 8, 10, { serverIds: true, pauseMs: 5 })
  const r = startReaders(rig, 4, w.acked)
  await sleep(1_000)
  signalCluster(rig, 'SIGSTOP')
  const frozenAt = Date.now()
  let healthMsMax = 0
  while (Date.now() - frozenAt < 8_000) {
    const started = performance.now()
    expect((await fetch(`${rig.server.url}/health`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200)
    healthMsMax = Math.max(healthMsMax, performance.now() - started)
    await sleep(100)
  }
  const readMsMaxFrozen = r.latencyMsMax
  // Known unreachable: the list answers 503 at once, with Retry-After; an event
  // acknowledged during the freeze is read back from the spill.
  const list = await fetch(`${rig.server.url}/v1/events?limit=5`, { headers: { 'x-api-key': rig.project.api_key } })
  expect(list.status).toBe(503)
  expect(list.headers.get('retry-after')).not.toBeNull()
  const newest = [...w.acked.keys()].at(-1)!
  const fromSpill = await fetch(`${rig.server.url}/v1/events/${encodeURIComponent(newest)}`, { headers: { 'x-api-key': rig.project.api_key } })
  expect(fromSpill.status).toBe(200)
  signalCluster(rig, 'SIGCONT')
  const drainMs = await drained(rig)
  await sleep(500)
  await Promise.all([w.stop(), r.stop()])
  expect(r.violations).toEqual([])
  expect(healthMsMax).toBeLessThan(1_000)
  // PG_STATEMENT_TIMEOUT_MS is 1 s here: a read gives up then, plus scheduling on a busy box.
  expect(readMsMaxFrozen).toBeLessThan(1_000 + 1_500)
  await verify(rig, w, 'SIGSTOP 8 s', {
    health_ms_max: Math.round(healthMsMax), read_ms_max: Math.round(readMsMaxFrozen), drain_ms: drainMs, reads: Object.fromEntries(r.statuses), unavailable: Object.fromEntries(r.unavailable),
  })
}, 120_000)

// Guard against a rig that cannot fail: with no fault at all the same checks pass
// and no event goes through the spill.
test('with no fault the writers\' events all go straight to Postgres', async () => {
  rig = await startRig()
  const w = startWriters(rig, 4, 10, { serverIds: true })
  await until('some writes', () => w.acked.size > 500)
  await w.stop()
  const metrics = await (await fetch(`${rig.server.url}/metrics`)).text()
  expect(metrics).not.toMatch(/^inlet_spill_written_events_total [1-9]/m)
  await verify(rig, w, 'none')
}, 60_000)

test('a read stuck on a frozen Postgres that is not yet known down is cut off by HTTP_REQUEST_TIMEOUT_MS, and the server serves on', async () => {
  // Postgres is declared unreachable by the probe only after 30 s, and reads would
  // wait 60 s: only the request timeout (2 s, counted by Bun in 4 s ticks) ends it.
  rig = await startRig({ env: { PG_STATEMENT_TIMEOUT_MS: '60000', PG_CONNECT_TIMEOUT_S: '30', HTTP_REQUEST_TIMEOUT_MS: '2000' } })
  const headers = { 'x-api-key': rig.project.api_key }
  expect((await fetch(`${rig.server.url}/v1/events?limit=1`, { headers })).status).toBe(200)
  signalCluster(rig, 'SIGSTOP')
  const started = performance.now()
  const outcome = await fetch(`${rig.server.url}/v1/events?limit=1`, { headers, signal: AbortSignal.timeout(30_000) })
    .then(res => `status ${res.status}`, (e: Error) => e.name)
  const tookMs = performance.now() - started
  signalCluster(rig, 'SIGCONT')
  expect(outcome).not.toBe('TimeoutError') // our 30 s guard did not have to fire
  expect(outcome).not.toBe('status 200')
  // 2 s, plus up to two of Bun's 4 s ticks, plus a busy box: far below the 60 s a read would wait.
  expect(tookMs).toBeLessThan(2_000 + 2 * 4_000 + 2_000)
  expect((await fetch(`${rig.server.url}/health`)).status).toBe(200)
  await until('reads to work again', async () => (await fetch(`${rig!.server.url}/v1/events?limit=1`, { headers })).status === 200)
  console.log(`fault read on a frozen Postgres: cut after ${Math.round(tookMs)} ms (${outcome})`)
}, 60_000)
