import { afterAll, beforeAll, expect, test } from 'bun:test'
import { startInlet, type TestInlet } from '../support/inlet'

let inlet: TestInlet
beforeAll(async () => { inlet = await startInlet() })
afterAll(async () => { await inlet.stop() })

test('an accepted event is stored and read back by id', async () => {
  const { api_key } = await inlet.project()
  const r = await inlet.request('POST', '/v1/events', { key: api_key, body: { id: 'e1', name: 'Signup' } })
  expect(r).toMatchObject({ status: 200, body: { id: 'e1', status: 'accepted' } })
  const got = await inlet.request('GET', '/v1/events/e1', { key: api_key })
  expect(got.body).toMatchObject({ id: 'e1', name: 'Signup', type: 'track' })
})
