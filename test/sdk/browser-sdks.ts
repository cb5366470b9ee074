// Runs the real browser SDKs in a real browser with no internet: each SDK is
// bundled from node_modules with Bun.build (no CDN), served on a test page from its
// own loopback origin (so requests to the receiver on another port are cross-origin
// and their CORS preflights are real), and driven in Debian's headless Chromium
// where every host but 127.0.0.1 is unresolvable. Shared by the fixture recorder
// (test/fixtures/record.ts) and the end-to-end tests against Inlet.

import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'

export const BROWSER_SDKS = {
  'posthog-js': { pkg: 'posthog-js', global: 'posthog' },
  'snowplow-browser': { pkg: '@snowplow/browser-tracker', global: 'snowplow' },
  'segment-next': { pkg: '@segment/analytics-next', global: 'AnalyticsBrowser' },
  'rudderstack-js': { pkg: '@rudderstack/analytics-js', global: 'RudderAnalytics' },
} as const
export type BrowserSdk = keyof typeof BROWSER_SDKS

const ROOT = join(import.meta.dir, '../..')
const bundles = new Map<BrowserSdk, string>()

// The installed version of a package, as its package.json says.
export async function packageVersion(pkg: string): Promise<string> {
  return (await Bun.file(join(ROOT, 'node_modules', pkg, 'package.json')).json() as { version: string }).version
}

// One IIFE bundle per SDK (test/sdk/entries/<sdk>.ts puts it on window), built once per process.
export async function bundle(sdk: BrowserSdk): Promise<string> {
  const cached = bundles.get(sdk)
  if (cached) return cached
  const result = await Bun.build({
    entrypoints: [join(import.meta.dir, 'entries', `${sdk}.ts`)],
    target: 'browser', format: 'iife', minify: false,
    define: { 'process.env.NODE_ENV': '"production"' },
  })
  if (!result.success) throw new AggregateError(result.logs, `bundling ${sdk} failed`)
  const js = await result.outputs[0].text()
  bundles.set(sdk, js)
  return js
}

export interface PageServer {
  origin: string
  // The URL of a page that loads the bundle of `sdk` and nothing else.
  pageUrl(sdk: BrowserSdk): string
  stop(): Promise<void>
}

// The test page's origin: http://127.0.0.1:<its own port>, never the receiver's.
export async function startPageServer(): Promise<PageServer> {
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname
      // Chromium asks every page for one; a 404 would be a console error to explain.
      if (path === '/favicon.ico') return new Response(null, { status: 204 })
      const sdk = path.match(/^\/(?:sdk\/)?([a-z-]+)(\.js|\.html)$/)
      if (!sdk || !(sdk[1] in BROWSER_SDKS)) return new Response('not found', { status: 404 })
      const name = sdk[1] as BrowserSdk
      if (sdk[2] === '.js') return new Response(await bundle(name), { headers: { 'content-type': 'text/javascript' } })
      const html = `<!doctype html><html><head><meta charset="utf-8"><title>Inlet SDK test: ${name}</title>`
        + `<script src="/sdk/${name}.js"></script></head><body><h1>${name}</h1><a id="link" href="#next">next</a></body></html>`
      return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } })
    },
  })
  const origin = `http://127.0.0.1:${server.port}`
  return { origin, pageUrl: sdk => `${origin}/${sdk}.html`, stop: async () => { await server.stop(true) } }
}

export function chromiumPath(): string {
  const path = Bun.which('chromium') ?? Bun.which('chromium-browser') ?? Bun.which('google-chrome')
  if (!path) throw new Error('chromium is not installed (.ci/run installs it: apt-get install chromium)')
  return path
}

// Headless Chromium with the network closed: any name but 127.0.0.1 fails to resolve,
// so an SDK that reaches for its CDN or its vendor's API fails loudly instead of leaking.
export async function launchBrowser(executablePath = chromiumPath()): Promise<Browser> {
  return await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  })
}

export interface SdkPage {
  page: Page
  // Every request the page made to a host other than its own origin and the receiver's.
  strayRequests: string[]
  // Console errors and uncaught exceptions, for a readable failure.
  errors: string[]
  close(): Promise<void>
}

// A fresh context (no cookies, no storage) with the SDK's page loaded.
export async function openSdkPage(browser: Browser, pages: PageServer, sdk: BrowserSdk, receiverUrl: string): Promise<SdkPage> {
  const context = await browser.newContext()
  const page = await context.newPage()
  const strayRequests: string[] = []
  const errors: string[] = []
  const allowed = [pages.origin, receiverUrl]
  page.on('request', r => { if (!allowed.some(o => r.url().startsWith(o))) strayRequests.push(r.url()) })
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()) })
  page.on('pageerror', e => errors.push(String(e)))
  await page.goto(pages.pageUrl(sdk))
  await page.waitForFunction(g => g in globalThis, BROWSER_SDKS[sdk].global)
  return { page, strayRequests, errors, close: async () => { await context.close() } }
}
