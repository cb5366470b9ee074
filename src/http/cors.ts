// CORS for the routes of browser tracking libraries that send credentials: the
// Snowplow browser tracker fetches with `credentials: 'include'` (so `*` would make
// the browser reject every answer), and PostHog's capture answers its SDKs the same
// way. The Origin is echoed with Allow-Credentials, as PostHog's capture and
// Snowplow's collector do. This gives a page nothing it lacks: these routes read no
// cookie and hold no session; their credential is the project key or collector
// token the page already carries.

type Headers = Record<string, string>

// The headers of an actual answer (also on errors: the browser must be able to read them).
export function credentialedCors(request: Request): Headers {
  const origin = request.headers.get('origin')
  if (!origin) return { 'access-control-allow-origin': '*' }
  return { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' }
}

// A preflight's answer: the methods given, and whatever headers the page asked to
// send (trackers let the app add custom ones); cached by the browser for a day.
export function credentialedPreflight(request: Request, methods: string): Response {
  const headers: Headers = {
    ...credentialedCors(request),
    'access-control-allow-methods': methods,
    'access-control-allow-headers': request.headers.get('access-control-request-headers') ?? 'content-type',
    'access-control-max-age': '86400',
  }
  if (headers.vary) headers.vary = 'Origin, Access-Control-Request-Headers'
  return new Response(null, { status: 204, headers })
}
