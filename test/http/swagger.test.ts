// The Swagger UI must work with no internet access: its page references only
// this server, and a headless Chromium that cannot resolve any other host
// renders every documented route.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { browserTest, renderedDom } from '../support/browser'
import { ADMIN_TOKEN, databaseUrl } from '../support/inlet'
import { type ServerProcess, startServer } from '../support/server'

let server: ServerProcess
const dataDir = mkdtempSync(join(tmpdir(), 'inlet-swagger-'))
beforeAll(async () => {
  server = await startServer({ DATABASE_URL: databaseUrl(), INLET_ADMIN_TOKEN: ADMIN_TOKEN, INLET_DATA_DIR: dataDir })
})
afterAll(async () => {
  await server.kill()
  rmSync(dataDir, { recursive: true, force: true })
})

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

test('the OpenAPI document describes the PostHog, Snowplow and browser-SDK routes and the collector-token admin', async () => {
  const spec = (await (await fetch(`${server.url}/swagger/json`)).json()) as any
  const paths = [
    '/e', '/i/v0/e', '/capture', '/batch', '/track', '/i/v0/ai/batch', '/s', '/flags', '/decide', '/array/{token}/config', '/array/{token}/config.js',
    '/v1/snowplow/{token}/com.snowplowanalytics.snowplow/tp2', '/v1/snowplow/{token}/i',
    '/v1/projects/{writeKey}/settings', '/sourceConfig', '/admin/projects/{id}/collector-tokens', '/admin/collector-tokens/{prefix}',
  ]
  for (const path of paths) expect(Object.keys(spec.paths)).toContain(path)
  // A spent rate limit is a 503 on the PostHog routes (posthog-js drops a 429): no 429 is promised there.
  expect(Object.keys(spec.paths['/e'].post.responses).sort()).toEqual(['200', '400', '401', '413', '422', '503'])
  expect(Object.keys(spec.paths['/v1/snowplow/{token}/i'].get.responses['200'].content)).toEqual(['image/gif'])
  expect(spec.paths['/e'].post.tags).toEqual(['posthog'])
})

browserTest('headless Chromium with every non-local host unresolvable renders the Swagger UI', async chromium => {
  const dom = await renderedDom(chromium, `${server.url}/swagger`)
  expect(dom).toContain('swagger-ui')
  // Rendered operations only exist once the UI script ran and fetched the spec.
  expect(dom).toContain('opblock-summary-path')
  expect(dom).toContain('/v1/events/batch')
}, 60_000)
