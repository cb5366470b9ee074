// The settings Segment's and RudderStack's browser SDKs load before they send
// anything, answered so both work unmodified against Inlet with one URL option:
//
//   GET /v1/projects/<writeKey>/settings   @segment/analytics-next, `cdnURL: <inlet>`
//     (what cdn.segment.com serves): send every call to this Inlet, no destinations,
//     no remote plugins, no metrics;
//   GET /sourceConfig/                      @rudderstack/analytics-js, `configUrl: <inlet>`
//     (what RudderStack's control plane serves): an enabled source, no destinations.
//
// Where events go is this server as the browser reached it: the Host (or, behind a
// proxy, X-Forwarded-Host) and the scheme (X-Forwarded-Proto, else the request's).
// Like PostHog's config these answers write nothing and are the same for every key,
// so they neither authenticate nor spend the rate limit: a 401 or 429 here would
// stop the SDK from loading and lose every event of the page; a wrong key shows at
// the first call (401).

import { Elysia, t } from 'elysia'
import { credentialedCors, credentialedPreflight } from '../cors'
import { doc } from '../schemas'

// host, host:port, or [v6]:port; a forwarded value that is not one is ignored.
const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/
const KEY_CHARS_MAX = 256

// This server's origin as the browser reached it, for the SDK to send its events to.
export function publicOrigin(request: Request): { protocol: 'http' | 'https'; host: string } {
  const url = new URL(request.url)
  const forwardedHost = request.headers.get('x-forwarded-host')?.split(',')[0].trim()
  const forwardedProto = request.headers.get('x-forwarded-proto')?.split(',')[0].trim().toLowerCase()
  const host = forwardedHost && HOST.test(forwardedHost) ? forwardedHost : url.host
  const protocol = forwardedProto === 'https' || forwardedProto === 'http' ? forwardedProto : url.protocol === 'https:' ? 'https' : 'http'
  return { protocol, host }
}

export function segmentSettings(request: Request, writeKey: string) {
  const { protocol, host } = publicOrigin(request)
  return {
    integrations: {
      'Segment.io': { apiKey: writeKey, apiHost: `${host}/v1`, protocol, unbundledIntegrations: [], addBundledMetadata: true },
    },
    plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } }, group: { __default: { enabled: true } } },
    edgeFunction: {}, analyticsNextEnabled: true, middlewareSettings: {}, enabledMiddleware: {},
    // sampleRate 0: analytics-next would otherwise post its own metrics to api.segment.io.
    metrics: { sampleRate: 0 }, legacyVideoPluginsEnabled: false, remotePlugins: [],
  }
}

export function rudderstackSourceConfig(writeKey: string) {
  return {
    isHosted: false,
    source: {
      id: 'inlet', name: 'inlet', writeKey, enabled: true, workspaceId: 'inlet', updatedAt: '1970-01-01T00:00:00.000Z',
      // Its own error and metrics reporting would post to RudderStack's servers.
      config: { statsCollection: { errorReports: { enabled: false }, metrics: { enabled: false } } },
      destinations: [],
    },
  }
}

// RudderStack sends the write key as Basic auth and again as ?writeKey=.
function rudderWriteKey(request: Request): string {
  const query = new URL(request.url).searchParams.get('writeKey')
  if (query) return query.slice(0, KEY_CHARS_MAX)
  const basic = request.headers.get('authorization')?.match(/^basic\s+(\S+)$/i)?.[1]
  return basic ? Buffer.from(basic, 'base64').toString('utf8').split(':', 1)[0].slice(0, KEY_CHARS_MAX) : ''
}

export function sdkSettingsRoutes() {
  const sourceConfig = ({ request }: { request: Request }) => Response.json(rudderstackSourceConfig(rudderWriteKey(request)), { headers: credentialedCors(request) })
  const sourceDoc = doc({
    tag: 'segment', summary: 'RudderStack source config (for @rudderstack/analytics-js, configUrl: <inlet>)', ok: t.Record(t.String(), t.Unknown()),
    description: 'An enabled source with no destinations, as RudderStack\'s control plane answers; the SDK then sends to the dataPlaneUrl it was '
      + 'given (Inlet\'s /v1/*). Not authenticated: the same answer for every write key.',
  })
  return new Elysia()
    .get('/v1/projects/:writeKey/settings', ({ request, params }) =>
      Response.json(segmentSettings(request, params.writeKey.slice(0, KEY_CHARS_MAX)), { headers: credentialedCors(request) }), {
      detail: doc({
        tag: 'segment', summary: 'Segment CDN settings (for @segment/analytics-next, cdnURL: <inlet>)', ok: t.Record(t.String(), t.Unknown()),
        description: 'What cdn.segment.com serves for a write key, pointing the SDK back at this server (`Segment.io.apiHost` = '
          + 'X-Forwarded-Host or Host, plus `/v1`; protocol from X-Forwarded-Proto), with no destinations, remote plugins or metrics. '
          + 'Not authenticated: the same answer for every write key.',
      }),
    })
    .get('/sourceConfig', sourceConfig, { detail: sourceDoc })
    .options('/sourceConfig', ({ request }) => credentialedPreflight(request, 'GET, OPTIONS'), { detail: { hide: true } })
    .options('/v1/projects/:writeKey/settings', ({ request }) => credentialedPreflight(request, 'GET, OPTIONS'), { detail: { hide: true } })
}
