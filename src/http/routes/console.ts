// The console: one HTML page, one script and one stylesheet, built from console/
// (console/build.ts; the bundle is committed, so `bun run start` and the compiled
// binary serve the same bytes with no build step and no internet). The files are
// embedded in a `bun build --compile` binary by the file imports below.
//
// The page is user data's viewer, so it is locked down: same-origin only, a CSP
// with no inline script, no eval and Trusted Types required (no string ever
// reaches innerHTML), and no framing.

import { Elysia } from 'elysia'
// @ts-ignore: Bun's file import attribute gives the path of an embedded asset.
import htmlPath from '../../../console/index.html' with { type: 'file' }
// @ts-ignore
import jsPath from '../../../console/dist/app.js' with { type: 'file' }
// @ts-ignore
import cssPath from '../../../console/dist/app.css' with { type: 'file' }

export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'", 'trusted-types',
].join('; ')

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
  vary: 'Accept',
}

// Content negotiation for GET /: HTML only when the client ranks text/html above
// application/json (a browser's Accept); no Accept, */* or JSON first keeps the JSON.
export function prefersHtml(accept: string | null): boolean {
  if (!accept) return false
  let html = -1
  let json = -1
  let order = 0
  let htmlAt = 0
  let jsonAt = 0
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';')
    const qParam = params.map(p => p.trim()).find(p => p.startsWith('q='))
    const q = qParam ? Number(qParam.slice(2)) : 1
    order++
    if (type === 'text/html' && q > html) { html = q; htmlAt = order }
    if (type === 'application/json' && q > json) { json = q; jsonAt = order }
  }
  if (html <= 0) return false
  return html > json || (html === json && htmlAt < jsonAt)
}

export function consolePage(): Response {
  return new Response(Bun.file(htmlPath as unknown as string), { headers: PAGE_HEADERS })
}

export function consoleRoutes() {
  const asset = (path: string, type: string) => () => new Response(Bun.file(path), {
    headers: { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' },
  })
  return new Elysia()
    .get('/console', consolePage, { detail: { hide: true } })
    .get('/console/', consolePage, { detail: { hide: true } })
    .get('/console/app.js', asset(jsPath, 'text/javascript; charset=utf-8'), { detail: { hide: true } })
    .get('/console/app.css', asset(cssPath, 'text/css; charset=utf-8'), { detail: { hide: true } })
}
