// POST /v1/events and POST /v1/events/batch: Inlet's native ingest. A response is
// sent only once every accepted event is durable.

import { Elysia } from 'elysia'
import { InletError } from '../../errors'
import { outcome, prepare } from '../../ingest/batch'
import { isObject, validateEvent } from '../../ingest/validate'
import { readJson } from '../body'
import { json } from '../respond'
import { authenticate, countOutcome, type Deps, requestContext, storeOne } from '../context'
import { BatchIn, BatchOut, doc, EventIn, Verdict } from '../schemas'

export function ingestRoutes(deps: Deps) {
  const limits = deps.config.limits
  return new Elysia()
    .post('/v1/events', async ({ request, set }) => {
      const owner = await authenticate(deps, request, set)
      const { value } = await readJson(request, limits.BODY_BYTES_MAX)
      if (!isObject(value)) throw new InletError('malformed_json', 'the body must be a JSON object (an event)')
      deps.live?.rejections.attribute(request, owner.projectId, value) // hook (issue 11): a refusal names this event
      const req = requestContext(deps, request, owner.projectId, undefined, true)
      return json(await storeOne(deps, validateEvent(value, 0, 'track', req, limits), 'the event is invalid'), set)
    }, {
      parse: 'none',
      detail: doc({
        tag: 'ingest', summary: 'Ingest one event', body: EventIn, ok: Verdict, errors: [400, 401, 413, 422, 429, 503],
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
      const req = requestContext(deps, request, owner.projectId, value.sent_at, false)
      const prepared = prepare(events, req, limits)
      const verdicts = prepared.rows.length > 0 ? await deps.pipeline.submit(prepared.rows) : []
      const result = outcome(events.length, prepared, verdicts)
      countOutcome(deps, result)
      deps.live?.rejections.batch(request, owner.projectId, events, prepared.rejected) // hook (issue 11)
      if (result.rejected === events.length) {
        throw new InletError('validation_failed', 'every event in the batch is invalid', result.results)
      }
      return json(result, set)
    }, {
      parse: 'none',
      detail: doc({
        tag: 'ingest', summary: 'Ingest a batch of events (partial success)', body: BatchIn, ok: BatchOut,
        errors: [400, 401, 413, 422, 429, 503],
        description: 'Each event is validated on its own: valid ones are stored, invalid ones reported in `results` '
          + '(one per input event, in input order). 422 only when every event is invalid.',
      }),
    })
}
