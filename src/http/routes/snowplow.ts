// A Snowplow collector (tracker protocol v2) per collector token:
//   POST /v1/snowplow/<token>/com.snowplowanalytics.snowplow/tp2   a payload_data envelope of events
//   GET  /v1/snowplow/<token>/i?<tp2 fields>                        the pixel: one event
// so a Snowplow tracker given `<inlet>/v1/snowplow/<token>` as its collector
// endpoint delivers into the token's project, unchanged. Trackers send no key: the
// token (admin API, store/collector-tokens.ts) is the credential, found through a
// TTL cache, and each request spends from the project's rate limit before its body
// is read. Each event is mapped (ingest/snowplow.ts) and validated on its own.
//
// Answers, as the trackers depend on them (docs/sdk-wire-formats.md):
// - POST 200 once durable, JSON with per-event results (trackers read only the
//   status; a collector's "ok" text carries nothing); GET 200 with a 1x1 GIF,
//   uncacheable, as a collector answers;
// - what must never be sent again gets a status trackers do not retry: 400 (not a
//   tp2 envelope), 401 (unknown or revoked token), 422 (every event invalid);
// - 429 and 503 carry Retry-After and are retried, with the same eids;
// - CORS with credentials (the browser tracker fetches with credentials: 'include').

import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import { snowplowFormat } from '../../ingest/snowplow'
import { decodeSnowplowPost, snowplowQueryEvent } from '../../ingest/snowplow-decode'
import type { KeyOwner } from '../../store/projects'
import { readBody } from '../body'
import { authenticateCollector, type Deps, requestContextOf } from '../context'
import { credentialedCors, credentialedPreflight } from '../cors'
import { json } from '../respond'
import { BatchOut, doc } from '../schemas'

type SetHeaders = { headers: Record<string, string | number>; status?: number | string }

export const TP2_PATH = '/com.snowplowanalytics.snowplow/tp2'

// A transparent 1x1 GIF, what a collector's pixel answers.
const GIF = Buffer.from('R0lGODlhAQABAPAAAP///wAAACH5BAUAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64')

// An unknown or revoked token is 401, not 404: Snowplow trackers retry a 404 forever, never a 401.
async function collector(deps: Deps, request: Request, set: SetHeaders, token: string): Promise<KeyOwner> {
  Object.assign(set.headers, credentialedCors(request))
  return await authenticateCollector(deps, request, set, token)
}

const SnowplowOk = t.Object({ status: t.Literal('ok'), ...BatchOut.properties }, { title: 'SnowplowOk' })

const Envelope = t.Object({
  schema: t.String({ description: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-<n>' }),
  data: t.Array(t.Record(t.String(), t.String(), { description: 'one tp2 event: e, eid, dtm, stm, uid, duid, sid, se_*, ue_pr/ue_px, co/cx, …' }), { minItems: 1 }),
}, { title: 'SnowplowPayloadData' })

const MAPPING = 'Mapping: `eid` → id; `e` pv → `$page` (type page), pp → `$page_ping`, se → `<se_ca>:<se_ac>`, ue → the self-describing '
  + 'event\'s schema name with its data in properties, tr/ti → `$transaction`/`$transaction_item`; `uid` → user_id, `duid`/`nuid` → '
  + 'anonymous_id, `sid` → session_id; `ttm`, else `dtm` corrected by `stm`, → timestamp; contexts (co/cx) in context.contexts, every '
  + 'other field in context.tp2. The token is a collector token (admin API); unknown or revoked: 401.'

export function snowplowRoutes(deps: Deps) {
  const limits = deps.config.limits
  const base = '/v1/snowplow/:token'
  return new Elysia()
    .post(`${base}${TP2_PATH}`, async ({ request, params, set }) => {
      const { projectId } = await collector(deps, request, set, params.token)
      const decoded = decodeSnowplowPost(await readBody(request, limits.BODY_BYTES_MAX), limits.BODY_BYTES_MAX)
      if (!decoded.ok) throw new InletError(decoded.problem.code, decoded.problem.message)
      const events = decoded.value
      if (events.length > limits.BATCH_EVENTS_MAX) {
        throw new InletError('payload_too_large', `the request has ${events.length} events, over BATCH_EVENTS_MAX (${limits.BATCH_EVENTS_MAX})`)
      }
      const req = requestContextOf(deps, request, projectId, false)
      const result = await deps.ingest.many(req, events, snowplowFormat(req, limits), request)
      if (result.rejected === result.results.length) throw new InletError('validation_failed', 'every event in the request is invalid', result.results)
      return json({ status: 'ok', ...result }, set)
    }, {
      parse: 'none',
      params: t.Object({ token: t.String() }),
      detail: doc({
        tag: 'snowplow', summary: 'Snowplow tp2 POST (batched events)', body: Envelope, ok: SnowplowOk, errors: [400, 401, 413, 422, 429, 503],
        description: 'What Snowplow trackers POST, unchanged (gzip accepted). Each event is validated on its own: 200 when any is stored '
          + '(the others in `results`), 422 when none is. ' + MAPPING,
      }),
    })
    .get(`${base}/i`, async ({ request, params, set }) => {
      const { projectId } = await collector(deps, request, set, params.token)
      const req = requestContextOf(deps, request, projectId, true)
      const event = snowplowQueryEvent(new URL(request.url).searchParams)
      deps.live?.rejections.attribute(request, projectId, { id: event.eid, name: event.e }) // hook (issue 11): a refusal names this event
      await deps.ingest.one(req, event, snowplowFormat(req, limits))
      set.headers['content-type'] = 'image/gif'
      set.headers['cache-control'] = 'no-cache, no-store, must-revalidate'
      const headers = Object.fromEntries(Object.entries(set.headers).map(([k, v]) => [k, String(v)]))
      set.headers = {}
      return new Response(GIF, { headers })
    }, {
      params: t.Object({ token: t.String() }),
      detail: doc({
        tag: 'snowplow', summary: 'Snowplow GET pixel (one event in the query)', ok: t.String({ format: 'binary' }), okType: 'image/gif', errors: [401, 413, 422, 429, 503],
        description: 'Answers a 1x1 GIF (`image/gif`, not JSON) once the event is durable; an invalid event is 422. ' + MAPPING,
      }),
    })
    .options(`${base}${TP2_PATH}`, ({ request }) => credentialedPreflight(request, 'POST, OPTIONS'), { detail: { hide: true } })
    .options(`${base}/i`, ({ request }) => credentialedPreflight(request, 'GET, OPTIONS'), { detail: { hide: true } })
}
