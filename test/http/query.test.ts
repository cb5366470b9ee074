// Reads: get-by-id, the list with filters and its cursor, read-after-write, and
// tenant isolation; plus group commit as seen in /metrics.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet() })
afterAll(async () => { await inlet.stop() })

const list = async (key: string, query: string) => (await inlet.request('GET', `/v1/events?${query}`, { key })).body

async function walk(key: string, query: string, onPage?: (page: number) => Promise<void>): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | null = null
  for (let page = 0; ; page++) {
    const body = await list(key, `${query}${cursor ? `&cursor=${cursor}` : ''}`)
    ids.push(...body.data.map((e: { id: string }) => e.id))
    if (!body.next_cursor) return ids
    cursor = body.next_cursor
    await onPage?.(page)
  }
}

describe('reads', () => {
  test('every event acknowledged in a concurrent burst of 1,000 is found at once by id and by the list', async () => {
    const { api_key: key } = await inlet.project()
    const ids = Array.from({ length: 1000 }, (_, i) => `raw-${i}`)
    const acks = await Promise.all(ids.map(id => inlet.request('POST', '/v1/events', { key, body: { id, name: 'Burst' } })))
    expect(acks.every(a => a.status === 200 && a.body.status === 'accepted')).toBe(true)
    const found = await Promise.all(ids.map(id => inlet.request('GET', `/v1/events/${id}`, { key })))
    expect(found.filter(f => f.status === 200 && f.body.id).length).toBe(1000)
    expect(new Set(await walk(key, 'limit=1000'))).toEqual(new Set(ids))
  })

  test('an unknown id answers 404 not_found', async () => {
    const { api_key: key } = await inlet.project()
    const r = await inlet.request('GET', '/v1/events/nope', { key })
    expect([r.status, r.body.error.code]).toEqual([404, 'not_found'])
  })

  test('the list is newest first and filters by name, user_id and time range', async () => {
    const { api_key: key } = await inlet.project()
    const events = [
      { id: 'a', name: 'View', user_id: 'u1', timestamp: '2026-01-01T00:00:01Z' },
      { id: 'b', name: 'Buy', user_id: 'u1', timestamp: '2026-01-01T00:00:02Z' },
      { id: 'c', name: 'View', user_id: 'u2', timestamp: '2026-01-01T00:00:03Z' },
    ]
    await inlet.request('POST', '/v1/events/batch', { key, body: { events } })
    const ids = async (q: string) => (await list(key, q)).data.map((e: { id: string }) => e.id)
    expect(await ids('')).toEqual(['c', 'b', 'a'])
    expect(await ids('name=View')).toEqual(['c', 'a'])
    expect(await ids('user_id=u1')).toEqual(['b', 'a'])
    expect(await ids('from=2026-01-01T00:00:02Z&to=2026-01-01T00:00:03Z')).toEqual(['b'])
  })

  test('limit must be 1..1000: 1 and 1000 pass, 0 and 1001 answer 422; a forged cursor answers 422', async () => {
    const { api_key: key } = await inlet.project()
    for (const [q, status] of [['limit=1', 200], ['limit=1000', 200], ['limit=0', 422], ['limit=1001', 422], ['cursor=garbage', 422]] as const) {
      expect((await inlet.request('GET', `/v1/events?${q}`, { key })).status).toBe(status)
    }
  })

  test('walking the list while 1,000 new events arrive returns every older event exactly once', async () => {
    const { api_key: key } = await inlet.project()
    const old = Array.from({ length: 500 }, (_, i) => ({ id: `old-${String(i).padStart(3, '0')}`, name: 'Old' }))
    for (let i = 0; i < old.length; i += 100) {
      await inlet.request('POST', '/v1/events/batch', { key, body: { events: old.slice(i, i + 100) } })
    }
    let arrived = 0
    const seen = await walk(key, 'limit=25', async () => {
      // Between pages, 50 new events land (some with timestamps in the past,
      // so they fall into the part of the list not yet walked).
      const events = Array.from({ length: 50 }, (_, k) => ({
        id: `new-${arrived + k}`, name: 'New', timestamp: k % 2 ? Date.now() - 86_400_000 : Date.now(),
      }))
      if (arrived < 1000) await inlet.request('POST', '/v1/events/batch', { key, body: { events } })
      arrived += 50
    })
    expect(arrived).toBeGreaterThanOrEqual(1000)
    const olds = seen.filter(id => id.startsWith('old-'))
    expect(olds.length).toBe(500)
    expect(new Set(olds).size).toBe(500)
    expect(new Set(seen).size).toBe(seen.length)
  })

  test('events written by another tool within one millisecond are each listed once, page by page', async () => {
    const p = await inlet.project()
    // Microseconds 200, 500 and 900 of one millisecond: the JSON shows all three as
    // the same instant, so a cursor at that millisecond would skip the later two.
    const ids = ['sub-200', 'sub-500', 'sub-900']
    const at = (us: number) => inlet.sql`date_trunc('second', now()) + ${us} * interval '1 microsecond'`
    for (const id of ids) {
      const us = Number(id.slice(4))
      await inlet.sql`insert into event_ids (project_id, id, "timestamp") values (${p.id}, ${id}, ${at(us)})`
      await inlet.sql`insert into events (project_id, id, type, name, "timestamp", received_at, properties, context)
        values (${p.id}, ${id}, 'track', 'Sub', ${at(us)}, now(), '{}', '{}')`
    }
    expect(await walk(p.api_key, 'name=Sub&limit=1')).toEqual(['sub-900', 'sub-500', 'sub-200'])
    expect(await walk(p.api_key, 'name=Sub&limit=2')).toEqual(['sub-900', 'sub-500', 'sub-200'])
    // A cursor of the earlier form, [milliseconds, id], still reads from that millisecond on.
    const [first] = (await list(p.api_key, 'name=Sub&limit=1')).data
    const old = Buffer.from(JSON.stringify([Date.parse(first.timestamp), 'zzz'])).toString('base64url')
    expect((await list(p.api_key, `name=Sub&cursor=${old}`)).data).toEqual([])
    const after = Buffer.from(JSON.stringify([Date.parse(first.timestamp) + 1, ''])).toString('base64url')
    expect((await list(p.api_key, `name=Sub&cursor=${after}`)).data.map((e: { id: string }) => e.id)).toEqual(ids.slice().reverse())
    // Past a millisecond's 999 microseconds the cursor is not one this server issued.
    const bad = Buffer.from(JSON.stringify([Date.parse(first.timestamp), 'x', 1000])).toString('base64url')
    const r = await inlet.request('GET', `/v1/events?cursor=${bad}`, { key: p.api_key })
    expect([r.status, r.body.error.code, r.body.error.details]).toEqual([422, 'validation_failed', [{ path: '/cursor', message: 'is not a cursor this server issued' }]])
  })

  test('project B never reads project A\'s events, by id or by list', async () => {
    const a = await inlet.project()
    const b = await inlet.project()
    await inlet.request('POST', '/v1/events', { key: a.api_key, body: { id: 'secret-a', name: 'Private', user_id: 'ua' } })
    expect((await inlet.request('GET', '/v1/events/secret-a', { key: b.api_key })).status).toBe(404)
    expect((await list(b.api_key, '')).data).toEqual([])
    expect((await list(b.api_key, 'user_id=ua')).data).toEqual([])
    expect((await list(b.api_key, 'name=Private')).data).toEqual([])
    // The same id in B is B's own event, independent of A's.
    const mine = await inlet.request('POST', '/v1/events', { key: b.api_key, body: { id: 'secret-a', name: 'Mine' } })
    expect(mine.body.status).toBe('accepted')
    expect((await inlet.request('GET', '/v1/events/secret-a', { key: a.api_key })).body.name).toBe('Private')
  })
})

describe('group commit', () => {
  test('under 32 concurrent clients the average events per Postgres transaction is well above 1', async () => {
    const fresh = await startInlet()
    const { api_key: key } = await fresh.project()
    let sent = 0
    await Promise.all(Array.from({ length: 32 }, async (_, c) => {
      for (let i = 0; i < 50; i++) {
        const r = await fresh.request('POST', '/v1/events', { key, body: { id: `gc-${c}-${i}`, name: 'Group' } })
        if (r.status === 200) sent++
      }
    }))
    const metrics = (await fresh.request('GET', '/metrics')).body as string
    const value = (name: string) => Number(metrics.match(new RegExp(`^${name} (\\S+)$`, 'm'))![1])
    const events = value('inlet_flush_batch_events_sum')
    const transactions = value('inlet_flush_batch_events_count')
    expect(sent).toBe(1600)
    expect(events).toBeGreaterThanOrEqual(1600)
    console.log(`group commit: ${events} events in ${transactions} transactions (${(events / transactions).toFixed(1)} per transaction)`)
    expect(events / transactions).toBeGreaterThan(4)
    await fresh.stop()
  })
})
