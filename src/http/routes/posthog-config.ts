// What PostHog SDKs fetch besides capture, answered so they start cleanly with no
// PostHog behind Inlet: "no feature flags, no session recording, no surveys, no
// site apps", and events sent to Inlet's capture route.
//
//   POST|GET /flags/, /decide/   posthog-js at start, posthog-node per flag read
//   GET /array/<token>/config.js posthog-js's first try: a script that registers the config
//   GET /array/<token>/config    its fallback: the same config as JSON
//   GET /static/*                404 (Inlet serves no PostHog scripts: surveys, toolbar…)
//
// These answers are the same for every project and write nothing, so they neither
// authenticate nor spend the rate limit: a 401 or 429 here would only stop an SDK
// from starting, and with it every event of the page. A wrong key shows at the
// first capture (401).

import { Elysia, t } from 'elysia'
import { credentialedCors, credentialedPreflight } from '../cors'
import { doc } from '../schemas'

// What posthog-js and posthog-node read of a /flags/ or /decide/ answer (every
// version: `flags` for v2, `featureFlags` for the older /decide/ formats).
export const FLAGS_ANSWER = {
  flags: {},
  featureFlags: {},
  featureFlagPayloads: {},
  errorsWhileComputingFlags: false,
  quotaLimited: [],
  requestId: '00000000-0000-4000-8000-000000000000',
  sessionRecording: false,
  // posthog-js compresses with gzip when offered (capture sniffs it; so does Inlet).
  supportedCompression: ['gzip', 'gzip-js'],
  autocapture_opt_out: false,
  capturePerformance: false,
  heatmaps: false,
  surveys: false,
  siteApps: [],
  toolbarParams: {},
  isAuthenticated: false,
  defaultIdentifiedOnly: true,
  elementsChainAsString: true,
} as const

// The remote config posthog-js loads before its flags. `analytics.endpoint` is the
// capture path it then posts to; `hasFeatureFlags: true` keeps the /flags/ call
// (an SDK that reads a flag gets "off" from it rather than "not loaded yet").
export function remoteConfig(token: string) {
  return {
    token, supportedCompression: FLAGS_ANSWER.supportedCompression, hasFeatureFlags: true, captureDeadClicks: false,
    capturePerformance: false, autocapture_opt_out: false, autocaptureExceptions: false, analytics: { endpoint: '/i/v0/e/' },
    elementsChainAsString: true, sessionRecording: false, heatmaps: false, surveys: false, defaultIdentifiedOnly: true, siteApps: [],
  }
}

// A project key as posthog-js puts it in the URL; anything else is not answered
// (the config.js answer embeds it in a script, so only these characters may pass).
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/

const FlagsOut = t.Object({
  flags: t.Record(t.String(), t.Unknown()), featureFlags: t.Record(t.String(), t.Unknown()),
  errorsWhileComputingFlags: t.Boolean(), sessionRecording: t.Literal(false), supportedCompression: t.Array(t.String()),
}, { title: 'PosthogFlags', additionalProperties: true })

export function posthogConfigRoutes() {
  const flags = ({ request }: { request: Request }) => Response.json(FLAGS_ANSWER, { headers: credentialedCors(request) })
  const notFound = (request: Request) => Response.json({ error: { code: 'not_found', message: 'no PostHog config for this token' } }, { status: 404, headers: credentialedCors(request) })
  const app = new Elysia()
  for (const path of ['/flags', '/decide']) {
    const detail = doc({
      tag: 'posthog', summary: `PostHog ${path}/: no feature flags`, ok: FlagsOut,
      description: 'Answers every project alike: no flags, no session recording, no surveys, gzip offered for capture. '
        + 'Neither authenticated nor rate-limited (the answer is the same for all and writes nothing), so an SDK always starts. '
        + 'Any body (posthog-js: gzip or JSON) and `?v=` are accepted and ignored.',
    })
    app.post(path, flags, { parse: 'none', detail })
    app.get(path, flags, { detail: { ...detail, summary: `${detail.summary} (GET)` } })
    app.options(path, ({ request }) => credentialedPreflight(request, 'GET, POST, OPTIONS'), { detail: { hide: true } })
  }
  app.get('/array/:token/config', ({ request, params }) => {
    if (!TOKEN.test(params.token)) return notFound(request)
    return Response.json(remoteConfig(params.token), { headers: credentialedCors(request) })
  }, {
    detail: doc({
      tag: 'posthog', summary: 'posthog-js remote config (JSON)', ok: t.Record(t.String(), t.Unknown()), errors: [404],
      description: 'Everything off, events to `/i/v0/e/`. The token is the project key posthog-js was given; it is not checked here.',
    }),
  })
  app.get('/array/:token/config.js', ({ request, params }) => {
    if (!TOKEN.test(params.token)) return notFound(request)
    // What PostHog's CDN serves: a script that registers the config under its token.
    const script = 'window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};\n'
      + `window._POSTHOG_REMOTE_CONFIG[${JSON.stringify(params.token)}] = ${JSON.stringify({ config: remoteConfig(params.token), siteApps: [] })};\n`
    return new Response(script, { headers: { ...credentialedCors(request), 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300' } })
  }, {
    detail: doc({
      tag: 'posthog', summary: 'posthog-js remote config (script)', ok: t.String(), okType: 'text/javascript', errors: [404],
      description: 'The script form posthog-js tries first (it loads it with crossorigin=anonymous); same config as the JSON form.',
    }),
  })
  // posthog-js fetches its surveys (and other lazy) scripts from here unless told not
  // to (`disable_surveys: true`). Inlet serves none; a 404 the page can read says so,
  // where a bare one shows in the console as a CORS failure.
  app.get('/static/*', ({ request }) => Response.json({
    error: { code: 'not_found', message: 'Inlet serves no PostHog scripts; posthog-js: set disable_surveys: true' },
  }, { status: 404, headers: credentialedCors(request) }), { detail: { hide: true } })
  return app
}
