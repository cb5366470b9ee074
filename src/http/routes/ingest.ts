// POST /v1/events and POST /v1/events/batch: Inlet's native ingest. A response is
// sent only once every accepted event is durable.

import { Elysia } from 'elysia'
import { InletError } from '../../errors'
import type { Format } from '../../ingest'
import { isObject } from '../../ingest/validate'
import { readJson } from '../body'
import { json, text } from '../respond'
import { authenticate, type Deps, requestContextOf } from '../context'
import { BatchOut, batchIn, doc, eventIn, Verdict } from '../schemas'

// Inlet's own events: no mapping, type `track`.
const ONE: Format = { type: 'track', invalid: 'the event is invalid' }
const MANY: Format = { type: 'track', invalid: 'an event is invalid' }

export function ingestRoutes(deps: Deps) {
  const limits = deps.config.limits
  return new Elysia()
    .post('/v1/events', async ({ request, set }) => {
      const owner = await authenticate(deps, request, set)
      const { value } = await readJson(request, limits.BODY_BYTES_MAX)
      if (!isObject(value)) throw new InletError('malformed_json', 'the body must be a JSON object (an event)')
      deps.live?.rejections.attribute(request, owner.projectId, value) // hook (issue 11): a refusal names this event
      const { id, status } = await deps.ingest.one(requestContextOf(deps, request, owner.projectId, true), value, ONE)
      return text(`{"id":${JSON.stringify(id)},"status":"${status}"}`, set)
    }, {
      parse: 'none',
      detail: doc({
        tag: 'ingest', summary: 'Ingest one event', body: eventIn(limits), ok: Verdict, errors: [400, 401, 413, 422, 429, 503],
        description: 'Answers once the event is durable. `duplicate` when an event with the same id was stored before. '
          + 'Optional headers: `Idempotency-Key` (the event\'s id when it has none), `X-Sent-At` (clock-skew correction).',
      }),
    })
    .post('/v1/events/batch', async ({ request, set }) => {
      const owner = await authenticate(deps, request, set)
      const { value } = await readJson(request, limits.BODY_BYTES_MAX)
      if (!isObject(value)) throw new InletError('malformed_json', 'the body must be a JSON object: {"events": [...]}')
      const events = value.events
      if (!Array.isArray(events) || events.length === 0) {
        throw new InletError('validation_failed', 'events must be a non-empty array', [
          { path: '/events', message: 'must be an array of 1 to ' + limits.BATCH_EVENTS_MAX + ' events' },
        ])
      }
      if (events.length > limits.BATCH_EVENTS_MAX) {
        throw new InletError('payload_too_large', `the batch has ${events.length} events, over BATCH_EVENTS_MAX (${limits.BATCH_EVENTS_MAX})`)
      }
      const result = await deps.ingest.many(requestContextOf(deps, request, owner.projectId, false, value.sent_at), events, MANY, request)
      if (result.rejected === result.results.length) {
        throw new InletError('validation_failed', 'every event in the batch is invalid', result.results)
      }
      return json(result, set)
    }, {
      parse: 'none',
      detail: doc({
        tag: 'ingest', summary: 'Ingest a batch of events (partial success)', body: batchIn(limits), ok: BatchOut,
        errors: [400, 401, 413, 422, 429, 503],
        description: 'Each event is validated on its own: valid ones are stored, invalid ones reported in `results` '
          + '(one per input event, in input order). 422 only when every event is invalid.',
      }),
    })
}
