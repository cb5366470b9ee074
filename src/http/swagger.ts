// The Swagger UI at /swagger and the OpenAPI document at /swagger/json, working
// with no internet access: the UI's script and stylesheet are served from the
// swagger-ui-dist package (embedded in a `bun build --compile` binary via the
// file imports below) instead of the CDN the plugin points at by default.

import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
// @ts-ignore: Bun's file import attribute gives the path of an embedded asset.
import bundlePath from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' }
// @ts-ignore
import cssPath from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' }
import pkg from '../../package.json'

const ASSETS = '/swagger/assets'

export function swagger() {
  const asset = (path: string, type: string) => () =>
    new Response(Bun.file(path), { headers: { 'content-type': type, 'cache-control': 'public, max-age=86400' } })
  return new Elysia()
    .get(`${ASSETS}/swagger-ui-bundle.js`, asset(bundlePath, 'text/javascript; charset=utf-8'), { detail: { hide: true } })
    .get(`${ASSETS}/swagger-ui.css`, asset(cssPath, 'text/css; charset=utf-8'), { detail: { hide: true } })
    .use(openapi({
      path: '/swagger',
      specPath: '/swagger/json',
      provider: 'swagger-ui',
      // Paths with a dot are documented too: the Snowplow tp2 route and posthog-js's config.js
      // (static assets are hidden from the document by their own `hide`).
      exclude: { staticFile: false },
      swagger: { cdn: `${ASSETS}/swagger-ui-bundle.js`, theme: `${ASSETS}/swagger-ui.css`, autoDarkMode: false },
      documentation: {
        info: {
          title: 'Inlet',
          version: pkg.version,
          description: 'Self-hosted event ingestion: every acknowledged event is durable, stored exactly once, and queryable.',
        },
        tags: [
          { name: 'ingest', description: 'Send events (answered once durable)' },
          { name: 'segment', description: 'Segment/RudderStack-compatible HTTP Tracking API' },
          { name: 'posthog', description: 'PostHog-compatible capture, and the config PostHog SDKs load' },
          { name: 'snowplow', description: 'Snowplow collector (tracker protocol v2), per collector token' },
          { name: 'webhooks', description: 'Signed third-party webhooks' },
          { name: 'query', description: 'Read events back' },
          { name: 'reports', description: 'Counts, funnels, retention' },
          { name: 'admin', description: 'Projects, keys, webhook sources, collector tokens (INLET_ADMIN_TOKEN)' },
          { name: 'ops', description: 'Health, readiness, metrics' },
        ],
        components: {
          securitySchemes: {
            apiKey: { type: 'http', scheme: 'bearer', description: 'A project API key' },
          },
        },
        security: [{ apiKey: [] }],
      },
    }))
}
