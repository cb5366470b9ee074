// POST /v1/webhooks/{token}: third-party webhooks. The token in the URL names the
// source (no API key: the sender is Stripe, GitHub, or anyone holding the secret).
// Order of work, cheapest refusal first:
//   1. the source, from a TTL cache (no database round trip);
//   2. the owning project's rate limit: a delivery is a request into that project
//      and spends from the same bucket as its API calls, before the body is read
//      (a 429 carries Retry-After, and Stripe and GitHub both retry later);
//   3. the signature over the raw, decoded bytes, before they are parsed;
//   4. parse, take name and id from their paths, validate like any event, and
//      answer once it is durable. The id is the payload's own (API.md), so a
//      redelivery is a duplicate and the event is found by the sender's id.

import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import { verifySignature } from '../../ingest/signatures'
import type { Format, RequestContext } from '../../ingest'
import { isObject } from '../../ingest/validate'
import { liveSecrets, type WebhookSource } from '../../store/webhooks'
import { parseJson, readBody } from '../body'
import { json } from '../respond'
import { type Deps, spendRequest } from '../context'
import { doc, Verdict } from '../schemas'

const WEBHOOK: Format = { type: 'webhook', invalid: 'the webhook payload cannot be stored as an event' }

// A token is `wh_<10>_<32>`; anything much longer is not one and is not hashed.
const TOKEN_CHARS_MAX = 128

// `a.b.c` into an object; undefined when any step is missing.
export function atPath(value: unknown, path: string): unknown {
  let at = value
  for (const step of path.split('.')) {
    if (!isObject(at) && !Array.isArray(at)) return undefined
    at = (at as Record<string, unknown>)[step]
  }
  return at
}

const scalar = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined

// Name and id of the delivery: from the source's paths, else the scheme's default
// (GitHub names its events and deliveries in headers, not in the payload).
function nameAndId(source: WebhookSource, headers: Headers, payload: Record<string, unknown>, body: Uint8Array) {
  const github = source.scheme === 'github'
  const name = source.namePath !== null ? scalar(atPath(payload, source.namePath))
    : github ? headers.get('x-github-event') ?? undefined : scalar(payload.type)
  let id = source.idPath !== null ? scalar(atPath(payload, source.idPath))
    : github ? headers.get('x-github-delivery') ?? undefined : scalar(payload.id)
  // No id anywhere: the body's hash, so a byte-identical redelivery still dedupes.
  if (id === undefined || id === '') id = `sha256:${new Bun.CryptoHasher('sha256').update(body).digest('hex')}`
  const where = source.namePath ?? (github ? 'the X-GitHub-Event header' : 'type')
  if (name === undefined) {
    throw new InletError('validation_failed', 'the webhook has no event name', [{ path: github && source.namePath === null ? 'header:X-GitHub-Event' : `/${where.replaceAll('.', '/')}`, message: 'required: a string or number' }])
  }
  return { name, id }
}

export function webhookRoutes(deps: Deps) {
  const limits = deps.config.limits
  const sources = deps.webhookSources
  return new Elysia()
    .post('/v1/webhooks/:token', async ({ request, params, set }) => {
      const source = params.token.length <= TOKEN_CHARS_MAX ? await sources.resolve(params.token) : null
      if (!source) throw new InletError('not_found', 'no webhook source has this URL')
      deps.live?.rejections.attribute(request, source.projectId) // hook (issue 11): a bad signature is logged for this project
      const spent = spendRequest(deps, set, source.projectId, source.rpm)
      if (spent) await spent
      const body = await readBody(request, limits.BODY_BYTES_MAX)
      const now = Date.now()
      const verdict = verifySignature(source.scheme, liveSecrets(source, now), request.headers, body, now, limits.WEBHOOK_TOLERANCE_S)
      if (!verdict.ok) throw new InletError('unauthorized', verdict.reason)
      const { value } = parseJson(body)
      if (!isObject(value)) throw new InletError('malformed_json', 'the webhook payload must be a JSON object')
      const { name, id } = nameAndId(source, request.headers, value, body)
      deps.live?.rejections.attribute(request, source.projectId, { id, name }) // hook (issue 11)
      // The sender's clock is not ours to correct, and its id is the event's own.
      const req: RequestContext = { projectId: source.projectId, receivedAtMs: now, skewMs: 0, idempotencyKey: null, single: true }
      const context = { webhook: { source_id: source.id, source: source.name, scheme: source.scheme } }
      return json(await deps.ingest.one(req, { id, name, properties: value, context }, WEBHOOK), set)
    }, {
      parse: 'none',
      params: t.Object({ token: t.String() }),
      detail: doc({
        tag: 'webhooks', summary: 'Receive a signed third-party webhook', ok: Verdict, errors: [400, 401, 404, 413, 422, 429, 503],
        body: t.Record(t.String(), t.Unknown(), { description: 'the sender\'s JSON payload, kept whole in `properties`' }),
        description: 'The source\'s scheme is verified over the raw body before it is parsed: `stripe` (`Stripe-Signature: t=…,v1=…`, '
          + '5-minute tolerance), `github` (`X-Hub-Signature-256: sha256=…`) or `hmac-sha256` (`X-Signature: sha256=<hex>`). '
          + 'The event is `type: webhook`, named and identified from the source\'s paths (default `type` and `id`; GitHub: '
          + '`X-GitHub-Event` and `X-GitHub-Delivery`); its id is the payload id, so a redelivery answers `duplicate`. '
          + 'Deliveries spend from the owning project\'s rate limit.',
      }),
    })
}
