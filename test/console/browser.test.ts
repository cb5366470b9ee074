// The console in a real browser: Debian's headless Chromium (playwright-core, no
// browser download) with every non-loopback host unresolvable, against the real
// server process. Sign in, see events arrive in Live within 1 s, find one in Events
// with its receipt, see an invalid event in the Debugger with its path, render each
// report, create and revoke a key from Admin, and never execute event content.
// Screenshots of each view go to a temp dir (and to CONSOLE_SCREENSHOTS_DIR if set).

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { ADMIN_TOKEN, databaseUrl } from '../support/inlet'
import { type ServerProcess, startServer } from '../support/server'

// Page-side code (page.evaluate) runs in the browser; the test project has no DOM types.
declare const window: any, document: any

let server: ServerProcess
let browser: Browser
let page: Page
let key: string
let projectId: number
const shots = mkdtempSync(join(tmpdir(), 'inlet-console-shots-'))
const dataDir = mkdtempSync(join(tmpdir(), 'inlet-console-'))
const problems: string[] = []

const api = async (path: string, init: { method?: string; body?: unknown; token?: string } = {}) => {
  const r = await fetch(server.url + path, {
    method: init.method ?? (init.body ? 'POST' : 'GET'),
    headers: { authorization: `Bearer ${init.token ?? key}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  })
  return { status: r.status, body: (await r.json().catch(() => null)) as any }
}

async function shot(name: string) {
  const path = join(shots, `console-${name}.png`)
  await page.screenshot({ path, fullPage: false })
  const keep = process.env.CONSOLE_SCREENSHOTS_DIR
  if (keep) { mkdirSync(keep, { recursive: true }); copyFileSync(path, join(keep, `console-${name}.png`)) }
}

beforeAll(async () => {
  server = await startServer({ DATABASE_URL: databaseUrl(), INLET_ADMIN_TOKEN: ADMIN_TOKEN, INLET_DATA_DIR: dataDir })
  const created = await api('/admin/projects', { token: ADMIN_TOKEN, body: { name: 'Acme shop', plan: 'pro' } })
  key = created.body.api_key
  projectId = created.body.id
  const chromiumPath = Bun.which('chromium') ?? '/usr/bin/chromium'
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  })
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
  page.on('pageerror', e => problems.push(`pageerror: ${e.message}`))
  page.on('console', m => { if (m.type() === 'error' && !/status of 40[14]/.test(m.text())) problems.push(`console: ${m.text()}`) })
  page.on('dialog', d => void d.accept())
  console.log(`console screenshots: ${shots}`)
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await server?.kill()
  rmSync(dataDir, { recursive: true, force: true })
})

test('signing in with a project key opens Live, where sent events appear within 1 s of their ack', async () => {
  await page.goto(server.url + '/', { waitUntil: 'load' })
  await page.fill('#signin-secret', key)
  await page.click('#signin-submit')
  await page.waitForSelector('#live-state[data-ready="1"]')
  expect(await page.evaluate(() => sessionStorage.length)).toBe(1)
  const lagsMs: number[] = []
  for (let i = 0; i < 5; i++) {
    const id = `live-${i}`
    const r = await api('/v1/events', { body: { id, name: i % 2 ? 'AddToCart' : 'PageView', user_id: `u${i}`, properties: { path: `/p/${i}` } } })
    expect(r.body.status).toBe('accepted')
    const acked = performance.now()
    await page.waitForSelector(`#live-rows tr[data-id="${id}"]`, { timeout: 5_000 })
    lagsMs.push(performance.now() - acked)
  }
  console.log(`ack to Live in the browser (ms): ${lagsMs.map(x => x.toFixed(0)).join(', ')}`)
  expect(Math.max(...lagsMs)).toBeLessThan(1_000)
  await page.click('#live-rows tr[data-id="live-2"]')
  expect(JSON.parse((await page.textContent('#live-json'))!)).toMatchObject({ id: 'live-2', name: 'PageView', user_id: 'u2', properties: { path: '/p/2' } })
  await shot('live')
})

test('event content is shown as text and never executed: an <img onerror> in a property or the name creates no element', async () => {
  const payload = '<img src=x onerror="window.__xss=1">'
  await api('/v1/events', { body: { id: 'xss-1', name: '<img src=x onerror="window.__xss=2">', properties: { html: payload }, context: { page: { title: payload } } } })
  await page.waitForSelector('#live-rows tr[data-id="xss-1"]')
  await page.click('#live-rows tr[data-id="xss-1"]')
  await Bun.sleep(300)
  expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined()
  expect(await page.evaluate(() => document.querySelectorAll('img').length)).toBe(0)
  expect(await page.textContent('#live-rows tr[data-id="xss-1"]')).toContain('<img src=x')
  expect(await page.textContent('#live-json')).toContain(payload.replaceAll('"', '\\"'))
})

test('Events finds an event by name and shows its JSON and its receipt', async () => {
  await page.click('#nav-events')
  await page.waitForSelector('#events-rows tr')
  await page.fill('input[name="name"]', 'AddToCart')
  await page.click('form.filters button[type="submit"]')
  await page.waitForFunction(() => [...document.querySelectorAll('#events-rows tr')].every(tr => tr.textContent!.includes('AddToCart')) && document.querySelectorAll('#events-rows tr').length === 2)
  await page.click('#events-rows tr[data-id="live-3"]')
  await page.waitForSelector('#events-receipt')
  expect(await page.textContent('#events-receipt')).toContain('stored')
  expect(await page.textContent('#events-receipt')).toContain('in postgres')
  expect(JSON.parse((await page.textContent('#events-json'))!)).toMatchObject({ id: 'live-3', name: 'AddToCart' })
  await shot('events')
})

test('the Debugger shows a deliberately invalid event with the path of its problem', async () => {
  const r = await api('/v1/events/batch', { body: { events: [{ id: 'fine', name: 'PageView' }, { id: 'broken-1', name: 'Checkout', properties: 'not an object' }] } })
  expect(r.body.rejected).toBe(1)
  await api('/v1/events', { body: { id: 'broken-2', timestamp: 'last tuesday' } })
  await page.click('#nav-debugger')
  await page.waitForFunction(() => document.querySelector('#rejections-rows')?.textContent?.includes('broken-1'))
  const text = (await page.textContent('#rejections-rows'))!
  expect(text).toContain('/properties')
  expect(text).toContain('broken-2')
  expect(text).toContain('/timestamp')
  await shot('debugger')
})

test('Reports renders the counts chart, the funnel bars with conversion, and the retention heatmap', async () => {
  const events: unknown[] = []
  for (const [user, steps] of [['a', 3], ['b', 3], ['c', 2], ['d', 1], ['e', 1]] as const) {
    events.push({ name: 'Signup', user_id: user })
    for (const name of ['Land', 'Cart', 'Buy'].slice(0, steps)) events.push({ name, user_id: user })
  }
  expect((await api('/v1/events/batch', { body: { events } })).body.accepted).toBe(events.length)
  await page.click('#nav-reports')
  await page.waitForSelector('#counts-chart canvas')
  await page.waitForSelector('#funnel-chart canvas')
  await page.fill('#report-funnel input[name="steps"]', 'Land,Cart,Buy')
  await page.click('#report-funnel button[type="submit"]')
  await page.waitForFunction(() => document.querySelector('#funnel-table')?.textContent?.includes('Land'))
  await page.waitForSelector('#retention-table')
  const funnel = (await page.textContent('#funnel-table'))!
  expect(funnel).toMatch(/Land\s*5\s*100\.0 %/)
  expect(funnel).toMatch(/Cart\s*3\s*60\.0 %/)
  expect(funnel).toMatch(/Buy\s*2\s*40\.0 %/)
  expect(await page.textContent('#retention-table')).toContain('100%')
  await page.setViewportSize({ width: 1280, height: 1500 })
  await shot('reports')
  await page.setViewportSize({ width: 1280, height: 860 })
})

test('with the admin token: pick the project, create a key and revoke it from Admin', async () => {
  await page.click('#signout')
  await page.waitForSelector('#signin-secret')
  await page.fill('#signin-secret', ADMIN_TOKEN)
  await page.click('#signin-submit')
  await page.click(`#project-list button[data-id="${projectId}"]`)
  await page.waitForSelector('#live-state[data-ready="1"]')
  await page.click('#nav-admin')
  await page.click(`#admin-projects tr[data-id="${projectId}"] button:text("Manage")`)
  await page.click('#admin-create-key')
  await page.waitForSelector('#admin-secret-value')
  const created = (await page.textContent('#admin-secret-value'))!.trim()
  expect(created).toMatch(/^ik_/)
  expect((await api('/v1/debug/rejections', { token: created })).status).toBe(200)
  const prefix = created.split('_').slice(0, 2).join('_')
  await shot('admin')
  await page.click(`#admin-keys tr[data-prefix="${prefix}"] button`)
  await page.waitForFunction(p => !document.querySelector(`#admin-keys tr[data-prefix="${p}"] button`), prefix)
  const deadline = Date.now() + 10_000
  let status = 200
  while (Date.now() < deadline && (status = (await api('/v1/debug/rejections', { token: created })).status) !== 401) await Bun.sleep(200)
  expect(status).toBe(401)
})

test('the browser saw no script error and no CSP violation', () => {
  expect(problems).toEqual([])
})
