// The Swagger UI must work with no internet access: its page references only
// this server, and a headless Chromium that cannot resolve any other host
// renders every documented route.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { browserTest, renderedDom } from '../support/browser'
import { ADMIN_TOKEN, databaseUrl } from '../support/inlet'
import { type ServerProcess, startServer } from '../support/server'

let server: ServerProcess
beforeAll(async () => {
  server = await startServer({ DATABASE_URL: databaseUrl(), INLET_ADMIN_TOKEN: ADMIN_TOKEN, INLET_DATA_DIR: `/tmp/inlet-swagger-${process.pid}` })
})
afterAll(async () => { await server.kill() })

test('the Swagger page loads its script and stylesheet from this server, not a CDN', async () => {
  const html = await (await fetch(`${server.url}/swagger`)).text()
  const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map(m => m[1])
  expect(refs.length).toBeGreaterThanOrEqual(2)
  expect(refs.filter(r => /^(https?:)?\/\//.test(r))).toEqual([])
  for (const ref of refs) expect((await fetch(new URL(ref, `${server.url}/swagger`))).status).toBe(200)
})

test('the OpenAPI document describes every route family with its schemas', async () => {
  const spec = (await (await fetch(`${server.url}/swagger/json`)).json()) as any
  for (const path of ['/v1/events', '/v1/events/batch', '/v1/events/{id}', '/admin/projects', '/ready', '/metrics']) {
    expect(Object.keys(spec.paths)).toContain(path)
  }
  const batch = spec.paths['/v1/events/batch'].post
  expect(batch.requestBody.content['application/json'].schema.properties.events.type).toBe('array')
  expect(Object.keys(batch.responses).sort()).toEqual(['200', '400', '401', '413', '422', '429', '503'])
})

browserTest('headless Chromium with every non-local host unresolvable renders the Swagger UI', async chromium => {
  const dom = await renderedDom(chromium, `${server.url}/swagger`)
  expect(dom).toContain('swagger-ui')
  // Rendered operations only exist once the UI script ran and fetched the spec.
  expect(dom).toContain('opblock-summary-path')
  expect(dom).toContain('/v1/events/batch')
}, 60_000)
