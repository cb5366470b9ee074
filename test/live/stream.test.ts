// GET /v1/events/stream in-process: what a subscriber receives (accepted events
// once durable, never duplicates, only what its filters match), the heartbeat,
// `lagged` with the exact count when it does not read, the subscriber limit on
// both sides, a cancel freeing the slot, and a key in the URL refused.

import { afterEach, describe, expect, test } from 'bun:test'
import { startInlet, type TestInlet } from '../support/inlet'
import { eventsOf, readStream } from './support'

let t: TestInlet | undefined
afterEach(async () => { await t?.stop(); t = undefined })

async function open(inlet: TestInlet, key: string, query = '', headers: Record<string, string> = {}) {
  const response = await inlet.app.handle(new Request(`http://inlet.test/v1/events/stream${query}`, {
    headers: { authorization: `Bearer ${key}`, ...headers },
  }))
  return readStream(response)
}

describe('the live stream', () => {
  test('streams each accepted event once it is durable, as GET /v1/events/{id} returns it, and never a duplicate', async () => {
    t = await startInlet({ STREAM_COALESCE_MS: '0' })
    const p = await t.project()
    const s = await open(t, p.api_key)
    expect(s.status).toBe(200)
    expect(s.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect((await s.next()).event).toBe('ready')
    expect((await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'e1', name: 'Signup', user_id: 'u1', properties: { plan: 'pro' } } })).body.status).toBe('accepted')
    expect((await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'e1', name: 'Signup' } })).body.status).toBe('duplicate')
    await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'end', name: 'End' } })
    const got = eventsOf(await s.until(m => m.event === 'event' && m.data.includes('"end"')))
    expect(got.map(g => g.event.id)).toEqual(['e1', 'end'])
    expect(got[0].durable_in).toBe('postgres')
    expect(got[0].event).toEqual((await t.request('GET', '/v1/events/e1', { key: p.api_key })).body)
    await s.cancel()
  })

  test('a project sees only its own events', async () => {
    t = await startInlet({ STREAM_COALESCE_MS: '0' })
    const [a, b] = [await t.project(), await t.project()]
    const s = await open(t, a.api_key)
    await s.next()
    await t.request('POST', '/v1/events', { key: b.api_key, body: { id: 'theirs', name: 'X' } })
    await t.request('POST', '/v1/events', { key: a.api_key, body: { id: 'mine', name: 'X' } })
    expect(eventsOf([await s.next()]).map(e => e.event.id)).toEqual(['mine'])
    await s.cancel()
  })

  test('filters name, user_id and type pass exactly the events that match', async () => {
    t = await startInlet({ STREAM_COALESCE_MS: '0' })
    const p = await t.project()
    const byName = await open(t, p.api_key, '?name=A')
    const byUser = await open(t, p.api_key, '?user_id=u1')
    const byType = await open(t, p.api_key, '?type=identify')
    for (const s of [byName, byUser, byType]) expect((await s.next()).event).toBe('ready')
    await t.request('POST', '/v1/events/batch', { key: p.api_key, body: { events: [
      { id: 'b-u2', name: 'B', user_id: 'u2' }, { id: 'a-u2', name: 'A', user_id: 'u2' },
      { id: 'b-u1', name: 'B', user_id: 'u1' }, { id: 'a-u1', name: 'A', user_id: 'u1' },
    ] } })
    const r = await t.request('POST', '/v1/identify', { key: p.api_key, body: { messageId: 'ident', userId: 'u1', traits: {} } })
    expect(r.status).toBe(200)
    // The identify is $identify by u1: the last event each stream can match.
    const ids = async (s: Awaited<ReturnType<typeof open>>, last: string) =>
      eventsOf(await s.until(m => m.event === 'event' && JSON.parse(m.data).event.id === last)).map(e => e.event.id)
    expect(await ids(byName, 'a-u1')).toEqual(['a-u2', 'a-u1'])
    expect(await ids(byUser, 'ident')).toEqual(['b-u1', 'a-u1', 'ident'])
    expect(await ids(byType, 'ident')).toEqual(['ident'])
    await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'a-end', name: 'A', user_id: 'u9' } })
    expect(eventsOf([await byName.next()]).map(e => e.event.id)).toEqual(['a-end'])
    for (const s of [byName, byUser, byType]) await s.cancel()
  })

  test('a quiet stream sends a heartbeat every STREAM_HEARTBEAT_MS', async () => {
    t = await startInlet({ STREAM_HEARTBEAT_MS: '200' })
    const p = await t.project()
    const s = await open(t, p.api_key)
    await s.next()
    const started = performance.now()
    const beats = [await s.next(), await s.next()]
    expect(beats.map(b => b.event)).toEqual(['heartbeat', 'heartbeat'])
    // Two beats take at least two intervals (uWS-free: the timer is ours).
    expect(performance.now() - started).toBeGreaterThanOrEqual(390)
    expect(Date.parse(JSON.parse(beats[0].data).at)).toBeGreaterThan(0)
    await s.cancel()
  })

  test('a subscriber that does not read keeps STREAM_BUFFER_EVENTS_MAX events and is told exactly how many it missed', async () => {
    t = await startInlet({ STREAM_BUFFER_EVENTS_MAX: '5', STREAM_COALESCE_MS: '0' })
    const p = await t.project()
    // Nothing is read until the 12 events are acknowledged: the first chunk
    // (ready) fills the stream's queue, so no pull runs and the buffer fills.
    const s = await open(t, p.api_key)
    const events = Array.from({ length: 12 }, (_, i) => ({ id: `l${i}`, name: 'Lag' }))
    expect((await t.request('POST', '/v1/events/batch', { key: p.api_key, body: { events } })).body.accepted).toBe(12)
    expect((await s.next()).event).toBe('ready')
    const got = await s.until(m => m.event === 'lagged')
    expect(eventsOf(got).map(e => e.event.id)).toEqual(['l0', 'l1', 'l2', 'l3', 'l4'])
    expect(JSON.parse(got[got.length - 1].data)).toEqual({ missed: 7 })
    // It keeps streaming after the lag, and the count starts again.
    await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'after', name: 'Lag' } })
    expect(eventsOf([await s.next()]).map(e => e.event.id)).toEqual(['after'])
    await s.cancel()
  })

  test('exactly STREAM_BUFFER_EVENTS_MAX waiting events are all delivered with no lagged message', async () => {
    t = await startInlet({ STREAM_BUFFER_EVENTS_MAX: '5', STREAM_COALESCE_MS: '0' })
    const p = await t.project()
    const s = await open(t, p.api_key)
    const events = Array.from({ length: 5 }, (_, i) => ({ id: `k${i}`, name: 'Fit' }))
    await t.request('POST', '/v1/events/batch', { key: p.api_key, body: { events } })
    await s.next()
    const got = await s.until(m => m.event === 'event' && m.data.includes('"k4"'))
    expect(eventsOf(got).map(e => e.event.id)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4'])
    // A lagged message would have come in the same chunk, before anything sent later.
    await t.request('POST', '/v1/events', { key: p.api_key, body: { id: 'k-end', name: 'Fit' } })
    const after = await s.next()
    expect(after.event).toBe('event')
    expect(JSON.parse(after.data).event.id).toBe('k-end')
    await s.cancel()
  })

  test('STREAM_SUBSCRIBERS_MAX streams may be open; one more gets 503, and a closed one frees its slot at once', async () => {
    t = await startInlet({ STREAM_SUBSCRIBERS_MAX: '2' })
    const p = await t.project()
    const first = await open(t, p.api_key)
    const second = await open(t, p.api_key)
    expect([first.status, second.status]).toEqual([200, 200])
    expect(t.deps.live!.hub.count).toBe(2)
    const refused = await t.request('GET', '/v1/events/stream', { key: p.api_key })
    expect(refused.status).toBe(503)
    expect(refused.body.error.code).toBe('overloaded')
    expect(refused.body.error.message).toContain('STREAM_SUBSCRIBERS_MAX')
    expect(refused.headers.get('retry-after')).toBe('5')
    await first.cancel()
    expect(t.deps.live!.hub.count).toBe(1)
    const third = await open(t, p.api_key)
    expect(third.status).toBe(200)
    expect((await third.next()).event).toBe('ready')
    await second.cancel()
    await third.cancel()
    expect(t.deps.live!.hub.count).toBe(0)
  })

  test('a key in the URL is refused with 401 and told to send it in a header, on every console route', async () => {
    t = await startInlet()
    const p = await t.project()
    for (const path of ['/v1/events/stream?key=', '/v1/events/stream?api_key=', '/v1/events/stream?token=', '/v1/events/x/receipt?api_key=', '/v1/debug/rejections?key=']) {
      const r = await t.request('GET', path + p.api_key, { key: p.api_key })
      expect(r.status).toBe(401)
      expect(r.body.error.code).toBe('unauthorized')
      expect(r.body.error.message).toContain('header')
    }
    expect(t.deps.live!.hub.count).toBe(0)
    expect((await t.request('GET', '/v1/events/stream')).status).toBe(401)
  })
})
