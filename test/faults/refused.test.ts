// Rows Postgres refuses, and a request too big for one flush, each against the real
// server on a throwaway cluster with writers and readers running beside:
// - a row a constraint refuses fails only its own result entry; acknowledged from
//   the spill before Postgres could refuse it, it lands in the dead-letter table,
//   where it is listed, read back, and replayed once the constraint is fixed;
// - a 10,000-event request with FLUSH_BATCH_ROWS_MAX=1000 is one transaction: stored
//   whole, or — when Postgres fails it and the spill cannot take it — answered 503
//   with none of it stored, or answered "outcome unknown" with the ids to retry with.

import { afterEach, expect, test } from 'bun:test'
import {
  ADMIN_TOKEN, drained, type Rig, setRoleStatementTimeout, signalCluster, startReaders, startRig, startWriters, until, verify,
} from './harness'
import type { Sql } from '../../src/store/db'
import { expectExact } from '../reports/exact'

let rig: Rig | undefined
afterEach(async () => {
  if (rig) signalCluster(rig, 'SIGCONT')
  await rig?.destroy()
  rig = undefined
})

const post = async (r: Rig, path: string, body: unknown) => {
  const res = await fetch(`${r.server.url}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${r.project.api_key}` }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000),
  })
  return { status: res.status, body: await res.json() as any }
}
const admin = async (r: Rig, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${r.server.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: body === undefined ? undefined : JSON.stringify(body) })
  return { status: res.status, body: await res.json() as any }
}
// A replay answers 503 before touching anything while the server does not count
// Postgres up (a probe or a commit slowed by the writers beside it); a client
// retries it, as the answer says. Any other answer is the replay's.
const replay = async (r: Rig, body?: unknown) => {
  let res = await admin(r, 'POST', '/admin/dead-letter/replay', body)
  await until('a replay Postgres takes', async () => {
    if (res.status !== 503) return true
    expect(res.body.error.code).toBe('unavailable')
    res = await admin(r, 'POST', '/admin/dead-letter/replay', body)
    return false
  })
  return res
}
const get = async (r: Rig, path: string) => {
  const res = await fetch(`${r.server.url}${path}`, { headers: { 'x-api-key': r.project.api_key } })
  return { status: res.status, body: await res.json() as any }
}
const stored = async (r: Rig, prefix: string) =>
  (await r.admin`select count(*)::int as n, count(distinct xmin::text)::int as tx from events where project_id = ${r.project.id} and id like ${prefix + '%'}`)[0] as { n: number; tx: number }

test('a row a constraint refuses fails only its own entry; acked from the spill, it is dead-lettered, listed, read back, and replayed after the fix', async () => {
  rig = await startRig()
  await rig.admin.unsafe("alter table events add constraint no_poison check (name <> 'Poison') not valid")
  const w = startWriters(rig, 6, 10, { pauseMs: 5 })
  const r = startReaders(rig, 3, w.acked)

  // Live: refused by Postgres at once, in its own entry.
  const batch = await post(rig, '/v1/events/batch', { events: [{ id: 'l1', name: 'Ok' }, { id: 'l2', name: 'Poison' }, { id: 'l3', name: 'Ok' }] })
  expect(batch.status).toBe(200)
  expect(batch.body).toMatchObject({ accepted: 2, duplicates: 0, rejected: 1 })
  expect(batch.body.results[1]).toEqual({ index: 1, status: 'rejected', errors: [{ path: '', message: expect.stringContaining('Postgres refused it (23514)') }] })
  const single = await post(rig, '/v1/events', { id: 'l4', name: 'Poison' })
  expect(single.status).toBe(422)
  expect(single.body.error.code).toBe('validation_failed')
  expect(await stored(rig, 'l')).toMatchObject({ n: 2 })

  // Through the spill: acknowledged while Postgres is away, refused when it is back.
  await rig.cluster.stop()
  const spilled = await post(rig, '/v1/events/batch', { events: [{ id: 's1', name: 'Ok' }, { id: 's2', name: 'Poison', properties: { why: 'test' } }, { id: 's3', name: 'Ok' }] })
  expect(spilled.status).toBe(200)
  expect(spilled.body).toMatchObject({ accepted: 3, rejected: 0 })
  expect((await get(rig, '/v1/events/s2')).status).toBe(200) // read-your-writes from the spill
  await rig.cluster.start()
  await drained(rig)
  const held = await get(rig, '/v1/events/s2')
  expect(held.status).toBe(200)
  expect(held.body).toMatchObject({ id: 's2', name: 'Poison', properties: { why: 'test' }, dead_letter: { error: { sqlstate: '23514' }, acked: { status: 'accepted', via: 'spill' } } })
  await until('/ready to count the dead letter', async () => (await (await fetch(`${rig!.server.url}/ready`)).json() as any).dead_letter === 1)
  expect(await (await fetch(`${rig.server.url}/metrics`)).text()).toMatch(/^inlet_dead_letter_events 1$/m)
  const listed = await admin(rig, 'GET', '/admin/dead-letter')
  expect(listed.status).toBe(200)
  expect(listed.body.data).toHaveLength(1)
  expect(listed.body.data[0]).toMatchObject({ project_id: rig.project.id, event: { id: 's2' }, error: { sqlstate: '23514' }, attempts: 1, acked: { via: 'spill' } })
  expect(listed.body.data[0].acked.at).not.toBeNull()

  // Replayed before the fix: still refused, still held, one more attempt.
  expect((await replay(rig)).body).toEqual({ tried: 1, stored: 0, still_refused: 1, remaining: 1 })
  expect((await admin(rig, 'GET', '/admin/dead-letter')).body.data[0].attempts).toBe(2)
  // After the fix: stored, and the table is empty.
  await rig.admin.unsafe('alter table events drop constraint no_poison')
  expect((await replay(rig, { project_id: rig.project.id })).body).toEqual({ tried: 1, stored: 1, still_refused: 0, remaining: 0 })
  expect(await stored(rig, 's')).toMatchObject({ n: 3 })
  const after = await get(rig, '/v1/events/s2')
  expect(after.body.dead_letter).toBeUndefined()
  expect(after.body.name).toBe('Poison')
  // The counts report sees it exactly once, like every other stored event.
  const [{ rollup }] = await rig.admin`select coalesce(sum(events), 0)::int as rollup from event_counts_minute where project_id = ${rig.project.id} and name = 'Poison'`
  expect(rollup).toBe(1)

  await Promise.all([w.stop(), r.stop()])
  expect(r.violations).toEqual([])
  await verify(rig, w, 'a refused row, live and through the spill + dead letter')
  // Every rollup and user counter equals a recount: the batches that held the refused
  // row were written again under savepoints, and the replay wrote it once.
  await expectExact(rig.admin as unknown as Sql, rig.project.id)
}, 120_000)

const bigBatch = (prefix: string) => ({ events: Array.from({ length: 10_000 }, (_, i) => ({ id: `${prefix}-${i}`, name: 'Big', properties: { i } })) })

test('a 10,000-event request is committed in one transaction, and when Postgres fails it with the spill unable to take it, the answer says exactly what was stored', async () => {
  // 64 KiB of spill cannot hold 10,000 events.
  rig = await startRig({ env: { FLUSH_BATCH_ROWS_MAX: '1000', SPILL_BYTES_MAX: String(64 * 1024), SPILL_RESERVE_BYTES: '0' } })
  const w = startWriters(rig, 4, 10, { pauseMs: 10 })

  const whole = await post(rig, '/v1/events/batch', bigBatch('whole'))
  expect(whole.status).toBe(200)
  expect(whole.body.accepted).toBe(10_000)
  expect(await stored(rig, 'whole-')).toEqual({ n: 10_000, tx: 1 })

  // Postgres refuses the big write (a 20 ms statement_timeout cuts it: 57014) and the
  // spill is too small: 503, and not one of its events is stored.
  await setRoleStatementTimeout(rig, 20)
  const cut = await post(rig, '/v1/events/batch', bigBatch('cut'))
  await setRoleStatementTimeout(rig, null)
  expect(cut.status).toBe(503)
  expect(cut.body.error.code).toBe('unavailable')
  await Bun.sleep(500)
  expect(await stored(rig, 'cut-')).toEqual({ n: 0, tx: 0 })
  await drained(rig)
  const retried = await post(rig, '/v1/events/batch', bigBatch('cut'))
  expect(retried.status).toBe(200)
  expect(retried.body.accepted).toBe(10_000)
  expect(await stored(rig, 'cut-')).toEqual({ n: 10_000, tx: 1 })

  // Postgres frozen mid-write, the spill too small: nobody can say whether it will
  // commit, and the answer says so, with the ids; a retry with them stores each once.
  const frozen = post(rig, '/v1/events/batch', { events: bigBatch('frozen').events.map(({ id: _, ...e }) => e) })
  await Bun.sleep(100)
  signalCluster(rig, 'SIGSTOP')
  const unknown = await frozen
  signalCluster(rig, 'SIGCONT')
  let ids: string[]
  if (unknown.status === 200) {
    ids = unknown.body.results.map((x: { id: string }) => x.id) // it committed before the freeze
  } else {
    expect(unknown.status).toBe(503)
    expect(unknown.body.error.message).toContain('may or may not be stored')
    ids = unknown.body.error.details.map((d: { id: string }) => d.id)
  }
  expect(ids).toHaveLength(10_000)
  await drained(rig)
  // A client retries a 503 (the late commit may still hold its rows' locks a while).
  let again = await post(rig, '/v1/events/batch', { events: ids.map((id, i) => ({ id, name: 'Big', properties: { i } })) })
  for (let tries = 0; again.status === 503 && tries < 30; tries++) {
    await Bun.sleep(500)
    again = await post(rig, '/v1/events/batch', { events: ids.map((id, i) => ({ id, name: 'Big', properties: { i } })) })
  }
  expect(again.status).toBe(200)
  expect(again.body.accepted + again.body.duplicates).toBe(10_000)
  const [{ n, copies }] = await rig.admin`select count(*)::int as n, count(distinct properties->>'i')::int as copies from events
    where project_id = ${rig.project.id} and name = 'Big' and id = any(${ids})`
  expect([n, copies]).toEqual([10_000, 10_000])
  const [{ extra }] = await rig.admin`select count(*)::int as extra from events where project_id = ${rig.project.id} and name = 'Big' and not (id = any(${ids})) and id not like 'whole-%' and id not like 'cut-%'`
  expect(extra).toBe(0)

  await w.stop()
  await verify(rig, w, '10,000-event request, FLUSH_BATCH_ROWS_MAX 1000', { first_answer: unknown.status })
}, 120_000)
