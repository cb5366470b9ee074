// GET /v1/events/{id} and GET /v1/events: reads, always scoped to the key's project.
// Get-by-id also looks in the spill, so a client reads its own acknowledged writes
// while Postgres is down, and in the dead-letter table, where an acknowledged event
// Postgres refused waits for an operator. Reads are bounded by PG_STATEMENT_TIMEOUT_MS;
// while Postgres is known unreachable they answer at once: get-by-id from the spill
// (else 503), the list 503 with Retry-After (the spill holds no order to page
// through). A read-only Postgres (after a failover) still serves reads.

import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import { parseTime } from '../../ingest/validate'
import { getDeadLettered } from '../../store/dead-letter'
import { bounded, getEvent, listEvents, type ListPosition } from '../../store/events'
import { authenticate, type Deps } from '../context'
import { json } from '../respond'
import { doc, Event, EventList } from '../schemas'

const invalid = (path: string, message: string) =>
  new InletError('validation_failed', `query parameter ${path.slice(1)} is invalid`, [{ path, message }])

function time(value: string | undefined, path: string): number | undefined {
  if (value === undefined || value === '') return undefined
  const ms = parseTime(/^\d+$/.test(value) ? Number(value) : value)
  if (Number.isNaN(ms)) throw invalid(path, 'must be an ISO-8601 time with a zone, or epoch milliseconds')
  return ms
}

// The cursor is opaque to clients: base64url of the last event's time and id, as
// [milliseconds, id, microseconds past that millisecond] (the third was added later:
// a cursor without it means 0).
export const encodeCursor = ({ timestampUs, id }: ListPosition) => {
  const ms = Math.floor(timestampUs / 1000)
  return Buffer.from(JSON.stringify([ms, id, timestampUs - ms * 1000])).toString('base64url')
}

function decodeCursor(cursor: string): ListPosition {
  try {
    const [ms, id, us = 0] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (Number.isSafeInteger(ms) && typeof id === 'string' && Number.isInteger(us) && us >= 0 && us < 1000) {
      return { timestampUs: ms * 1000 + us, id }
    }
  } catch {}
  throw invalid('/cursor', 'is not a cursor this server issued')
}

const postgresDown = () => new InletError('unavailable',
  'Postgres is unavailable; events acknowledged meanwhile are safe in the spill; retry shortly', undefined, 2)

export function queryRoutes(deps: Deps) {
  const max = deps.config.limits.QUERY_LIMIT_MAX
  const deadlineMs = deps.config.limits.PG_STATEMENT_TIMEOUT_MS
  return new Elysia()
    .get('/v1/events/:id', async ({ request, params, set }) => {
      const owner = await authenticate(deps, request, set)
      const spilled = deps.spill?.get(owner.projectId, params.id)
      if (spilled) return json(spilled, set)
      if (!deps.health.postgresReachable()) throw postgresDown()
      const event = await deps.reads.read(sql => getEvent(sql, owner.projectId, params.id, deadlineMs))
      if (event) return json(event, set)
      const held = await bounded(deps.sql, deadlineMs, 'reading a dead letter', getDeadLettered(deps.sql, owner.projectId, params.id))
      if (held) return json({ ...held.event, dead_letter: { error: held.error, acked: held.acked } }, set)
      throw new InletError('not_found', `no event with id ${JSON.stringify(params.id)} in this project`)
    }, {
      detail: doc({
        tag: 'query', summary: 'Get one event by id', ok: Event, errors: [401, 404, 429, 503],
        description: 'Found in Postgres, or in the local spill while it waits to be written there. An acknowledged event '
          + 'that Postgres refused as data is returned from the dead-letter table with a `dead_letter` field '
          + '(the error, and when it was acknowledged). 503 when Postgres is down and the event is not in the spill.',
      }),
    })
    .get('/v1/events', async ({ request, query, set }) => {
      const owner = await authenticate(deps, request, set)
      let limit = 100
      if (query.limit !== undefined) {
        limit = Number(query.limit)
        if (!Number.isInteger(limit) || limit < 1 || limit > max) throw invalid('/limit', `must be an integer from 1 to ${max}`)
      }
      if (!deps.health.postgresReachable()) throw postgresDown()
      const filter = {
        name: query.name || undefined,
        userId: query.user_id || undefined,
        fromMs: time(query.from, '/from'),
        toMs: time(query.to, '/to'),
        limit,
        after: query.cursor ? decodeCursor(query.cursor) : undefined,
      }
      const { events, next } = await deps.reads.read(sql => listEvents(sql, owner.projectId, filter, deadlineMs))
      if (deps.spill) set.headers['x-inlet-pending-events'] = deps.spill.pendingFor(owner.projectId)
      return json({ data: events, next_cursor: next ? encodeCursor(next) : null }, set)
    }, {
      query: t.Object({
        name: t.Optional(t.String()), user_id: t.Optional(t.String()),
        from: t.Optional(t.String({ description: 'ISO-8601 or epoch ms, inclusive' })),
        to: t.Optional(t.String({ description: 'ISO-8601 or epoch ms, exclusive' })),
        limit: t.Optional(t.String({ description: '1..1000, default 100' })),
        cursor: t.Optional(t.String({ description: 'next_cursor of the previous page' })),
      }),
      detail: doc({
        tag: 'query', summary: 'List events, newest first, with a cursor', ok: EventList, errors: [401, 422, 429, 503],
        description: 'Header `X-Inlet-Pending-Events`: events of this project acknowledged but still waiting in the local spill '
          + '(they appear here once drained). 503 with Retry-After while Postgres is down.',
      }),
    })
}
