// GET /v1/events/{id}/receipt: each status (stored, spilled, dead_letter, rejected,
// unknown), the durable time and place while the event is among the last
// RECEIPT_EVENTS_MAX (both sides of that bound), and the stream's durable_in while
// Postgres is away (real Postgres behind the fault proxy, real SQLite spill).

import { afterEach, describe, expect, test } from 'bun:test'
import { type Degradable, event, startDegradable, until } from '../durability/support'
import { startInlet, type TestInlet } from '../support/inlet'
import { eventsOf, readStream } from './support'

let t: TestInlet | undefined
let d: Degradable | undefined
afterEach(async () => {
  await t?.stop(); t = undefined
  await d?.stop(); d = undefined
})

const receipt = async (inlet: { request: TestInlet['request'] }, key: string, id: string) =>
  (await inlet.request('GET', `/v1/events/${encodeURIComponent(id)}/receipt`, { key })).body

describe('receipts', () => {
  test('a stored event says when it was received and made durable in Postgres', async () => {
    t = await startInlet()
    const p = await t.project()
    const before = Date.now()
    await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 's1', name: 'A' } })
    const r = await receipt(t, p.api_key, 's1')
    const stored = (await t.request('GET', '/v1/events/s1', { key: p.api_key })).body
    expect(r).toEqual({ id: 's1', status: 'stored', received_at: stored.received_at, durable_at: expect.any(String), durable_in: 'postgres' })
    expect(Date.parse(r.durable_at)).toBeGreaterThanOrEqual(Date.parse(r.received_at))
    expect(Date.parse(r.received_at)).toBeGreaterThanOrEqual(before - 1)
  })

  test('the last RECEIPT_EVENTS_MAX events keep their durable time; an older one answers durable_at null', async () => {
    t = await startInlet({ RECEIPT_EVENTS_MAX: '2' })
    const p = await t.project()
    for (const id of ['o1', 'o2']) await t.request('POST', '/v1/events', { key: p.api_key, body: { id, name: 'A' } })
    expect((await receipt(t, p.api_key, 'o1')).durable_at).toEqual(expect.any(String))
    expect((await receipt(t, p.api_key, 'o2')).durable_at).toEqual(expect.any(String))
    await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'o3', name: 'A' } })
    const old = await receipt(t, p.api_key, 'o1')
    expect(old).toMatchObject({ id: 'o1', status: 'stored', durable_at: null, durable_in: null })
    expect(old.received_at).toEqual(expect.any(String))
    expect((await receipt(t, p.api_key, 'o3')).durable_in).toBe('postgres')
  })

  test('a refused event is rejected with why; a never-seen id is unknown; another project\'s event is unknown', async () => {
    t = await startInlet()
    const [p, q] = [await t.project(), await t.project()]
    await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'r1', name: '' } })
    const r = await receipt(t, p.api_key, 'r1')
    expect(r).toMatchObject({ id: 'r1', status: 'rejected', errors: [{ path: '/name', message: expect.any(String) }] })
    expect(r.rejected).toMatchObject({ route: 'POST /v1/events', status: 422, code: 'validation_failed' })
    expect(await receipt(t, p.api_key, 'never')).toEqual({ id: 'never', status: 'unknown' })
    await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'mine', name: 'A' } })
    expect(await receipt(t, q.api_key, 'mine')).toEqual({ id: 'mine', status: 'unknown' })
  })

  test('an event stored after an earlier refusal of the same id is stored, not rejected', async () => {
    t = await startInlet()
    const p = await t.project()
    await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'fixed', name: 5 } })
    await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'fixed', name: 'Fixed' } })
    expect((await receipt(t, p.api_key, 'fixed')).status).toBe('stored')
  })

  test('an acknowledged event Postgres refused is dead_letter, with the refusal and when it was made durable', async () => {
    t = await startInlet()
    const p = await t.project()
    await t.sql`insert into dead_letter (project_id, id, type, name, "timestamp", received_at, properties, context, spilled_at, sqlstate, error)
      values (${p.id}, 'dl1', 'track', 'Poison', now(), now(), '{}', '{}', now(), '23514', 'violates check constraint')`
    expect(await receipt(t, p.api_key, 'dl1')).toMatchObject({
      id: 'dl1', status: 'dead_letter', received_at: expect.any(String), durable_in: 'spill', durable_at: expect.any(String),
      errors: [{ path: '', message: 'Postgres refused it (23514): violates check constraint' }],
    })
  })

  test('while Postgres is away an event is spilled (durable in the spill) and streamed so; once drained it is stored, first durable in the spill', async () => {
    d = await startDegradable({ STREAM_COALESCE_MS: '0' })
    const p = await d.project()
    await d.request('POST', '/v1/events', { key: p.api_key, body: event('warm') })
    const stream = readStream(await d.inlet.app.handle(new Request('http://inlet.test/v1/events/stream', { headers: { authorization: `Bearer ${p.api_key}` } })))
    expect((await stream.next()).event).toBe('ready')
    d.proxy.blackhole(true)
    expect((await d.request('POST', '/v1/events', { key: p.api_key, body: event('sp1') })).status).toBe(200)
    const r = await receipt(d, p.api_key, 'sp1')
    expect(r).toMatchObject({ id: 'sp1', status: 'spilled', durable_in: 'spill', durable_at: expect.any(String), received_at: expect.any(String) })
    const [streamed] = eventsOf(await stream.until(m => m.event === 'event'))
    expect(streamed).toMatchObject({ durable_in: 'spill', event: { id: 'sp1' } })
    d.proxy.blackhole(false)
    await until('the spill drained', () => d!.inlet.deps.spill!.stats().pending === 0)
    expect(await receipt(d, p.api_key, 'sp1')).toMatchObject({ id: 'sp1', status: 'stored', durable_in: 'spill' })
    // The replay into Postgres is not a new event: nothing more is streamed for it.
    await d.request('POST', '/v1/events', { key: p.api_key, body: event('after') })
    expect(eventsOf([await stream.next()]).map(e => e.event.id)).toEqual(['after'])
    await stream.cancel()
  }, 60_000)
})
