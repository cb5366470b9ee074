// The console page as HTTP: GET / negotiates (a browser gets the page, JSON
// clients keep the JSON), /console serves it with a strict CSP, its assets come
// from this server only, and the committed bundle is what console/src builds to.

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildConsole } from '../../console/build'
import { prefersHtml } from '../../src/http/routes/console'
import { startInlet, type TestInlet } from '../support/inlet'

let t: TestInlet
beforeAll(async () => { t = await startInlet() })
afterAll(async () => { await t.stop() })

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'

describe('the console page', () => {
  test('GET / with a browser\'s Accept is the console; with application/json, */* or no Accept it is the JSON', async () => {
    const page = await t.request('GET', '/', { headers: { accept: BROWSER_ACCEPT } })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(page.body).toContain('/console/app.js')
    for (const accept of ['application/json', '*/*', 'application/json, text/html', 'text/html;q=0.5, application/json']) {
      const r = await t.request('GET', '/', { headers: { accept } })
      expect(r.headers.get('content-type')).toStartWith('application/json')
      expect(r.body).toMatchObject({ name: 'inlet', docs: '/swagger', console: '/console' })
    }
    const bare = await t.app.handle(new Request('http://inlet.test/'))
    expect(await bare.json()).toMatchObject({ name: 'inlet' })
    expect(bare.headers.get('vary')).toBe('Accept')
  })

  test('Accept negotiation ranks by q, then by order', () => {
    expect(prefersHtml(null)).toBe(false)
    expect(prefersHtml('text/html')).toBe(true)
    expect(prefersHtml('text/html;q=0')).toBe(false)
    expect(prefersHtml('application/json;q=0.4, text/html;q=0.5')).toBe(true)
    expect(prefersHtml('text/html, application/json')).toBe(true)
  })

  test('/console has a CSP with no inline script, no eval and Trusted Types, and refuses framing', async () => {
    const r = await t.app.handle(new Request('http://inlet.test/console'))
    const csp = r.headers.get('content-security-policy')!
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("require-trusted-types-for 'script'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).not.toContain('unsafe-eval')
    expect(r.headers.get('x-frame-options')).toBe('DENY')
    const html = await r.text()
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
    expect(html).not.toMatch(/\sstyle=|<style/)
  })

  test('the page loads its one script and one stylesheet from this server, not a CDN', async () => {
    const html = await (await t.app.handle(new Request('http://inlet.test/console'))).text()
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map(m => m[1]).filter(r => !r.startsWith('data:'))
    expect(refs.sort()).toEqual(['/console/app.css', '/console/app.js'])
    const js = await t.app.handle(new Request('http://inlet.test/console/app.js'))
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const text = await js.text()
    expect(text).not.toMatch(/https?:\/\/(?!www\.w3\.org)[a-z0-9.-]+\.[a-z]{2,}\/[^"'\s]*\.(js|css)/i)
    expect((await t.app.handle(new Request('http://inlet.test/console/app.css'))).status).toBe(200)
  })

  test('the committed bundle (console/dist) is exactly what console/src builds to', async () => {
    const out = mkdtempSync(join(tmpdir(), 'inlet-console-build-'))
    try {
      const built = await buildConsole(out)
      const root = join(import.meta.dir, '../../console/dist')
      expect(readFileSync(built.js, 'utf8')).toBe(readFileSync(join(root, 'app.js'), 'utf8'))
      expect(readFileSync(built.css, 'utf8')).toBe(readFileSync(join(root, 'app.css'), 'utf8'))
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })

  test('Swagger documents the stream (as text/event-stream), receipts and rejections', async () => {
    const spec = (await t.request('GET', '/swagger/json')).body
    expect(Object.keys(spec.paths['/v1/events/stream'].get.responses['200'].content)).toEqual(['text/event-stream'])
    expect(spec.paths['/v1/events/stream'].get.description).toContain('curl -N')
    expect(spec.paths['/v1/events/{id}/receipt'].get.responses['200'].content['application/json'].schema.properties.status).toBeDefined()
    expect(spec.paths['/v1/debug/rejections'].get.summary).toContain('refusals')
    expect(spec.paths['/admin/projects/{id}/keys'].get).toBeDefined()
  })

  test('the bundle stays small: under 100 KB of script and 10 KB of style', () => {
    const root = join(import.meta.dir, '../../console/dist')
    expect(readFileSync(join(root, 'app.js')).length).toBeLessThan(100_000)
    expect(readFileSync(join(root, 'app.css')).length).toBeLessThan(10_000)
  })
})
