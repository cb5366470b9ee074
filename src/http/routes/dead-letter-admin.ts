// /admin/dead-letter: acknowledged events Postgres refused as data errors (a
// constraint an operator added, a value too large for an index, …), for the operator
// holding INLET_ADMIN_TOKEN: list them with the error and what the client was told,
// and retry them once the cause is fixed (a migration, a dropped constraint).

import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import { listDeadLetter, replayDeadLetter } from '../../store/dead-letter'
import { requireAdmin } from '../auth'
import { parseJson, readBody } from '../body'
import type { Deps } from '../context'
import { doc } from '../schemas'
import { checkBody } from './admin'

const PAGE_MAX = 1_000

const ReplayIn = t.Object({
  project_id: t.Optional(t.Integer({ minimum: 1, description: 'only this project\'s dead letters' })),
  limit: t.Optional(t.Integer({ minimum: 1, description: 'at most this many, oldest first; default and cap DEAD_LETTER_REPLAY_ROWS_MAX' })),
}, { title: 'DeadLetterReplayIn' })

const Entry = t.Object({
  project_id: t.Integer(),
  event: t.Record(t.String(), t.Unknown()),
  acked: t.Object({ status: t.String(), via: t.String(), at: t.Nullable(t.String({ format: 'date-time' })) }),
  error: t.Object({ sqlstate: t.String(), message: t.String() }),
  attempts: t.Integer(), first_failed_at: t.String({ format: 'date-time' }), last_failed_at: t.String({ format: 'date-time' }),
}, { title: 'DeadLetter' })

const cursorOf = (p: { ms: number; projectId: number; id: string }) => Buffer.from(JSON.stringify([p.ms, p.projectId, p.id])).toString('base64url')

function parseCursor(raw: string) {
  try {
    const [ms, projectId, id] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'))
    if (Number.isSafeInteger(ms) && Number.isSafeInteger(projectId) && typeof id === 'string') return { ms, projectId, id }
  } catch {}
  throw new InletError('validation_failed', 'query parameter cursor is invalid', [{ path: '/cursor', message: 'is not a cursor this server issued' }])
}

function positive(raw: string | undefined, path: string, max: number, fallback: number): number {
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new InletError('validation_failed', `query parameter ${path.slice(1)} is invalid`, [{ path, message: `must be an integer from 1 to ${max}` }])
  }
  return n
}

export function deadLetterRoutes(deps: Deps, adminToken: string) {
  const replayMax = deps.config.limits.DEAD_LETTER_REPLAY_ROWS_MAX
  const unavailable = () => new InletError('unavailable', 'the dead-letter table is in Postgres, which is unavailable; retry shortly', undefined, 2)
  return new Elysia({ prefix: '/admin' })
    .onBeforeHandle(requireAdmin(adminToken))
    .get('/dead-letter', async ({ query }) => {
      if (!deps.health.postgresReachable()) throw unavailable()
      const limit = positive(query.limit, '/limit', PAGE_MAX, 100)
      const projectId = query.project_id ? positive(query.project_id, '/project_id', Number.MAX_SAFE_INTEGER, 0) : undefined
      const rows = await listDeadLetter(deps.sql, { projectId, limit: limit + 1, after: query.cursor ? parseCursor(query.cursor) : undefined })
      const more = rows.length > limit
      const page = more ? rows.slice(0, limit) : rows
      return { data: page.map(r => r.entry), next_cursor: more ? cursorOf(page[page.length - 1].position) : null }
    }, {
      query: t.Object({
        project_id: t.Optional(t.String()), limit: t.Optional(t.String({ description: `1..${PAGE_MAX}, default 100` })),
        cursor: t.Optional(t.String()),
      }),
      detail: doc({
        tag: 'admin', summary: 'List dead letters: acknowledged events Postgres refused as data, oldest first',
        ok: t.Object({ data: t.Array(Entry), next_cursor: t.Nullable(t.String()) }), errors: [401, 422, 503],
      }),
    })
    .post('/dead-letter/replay', async ({ request }) => {
      if (!deps.health.postgresUp()) throw unavailable()
      const bytes = await readBody(request, 64 * 1024)
      const body = checkBody(ReplayIn, bytes.length === 0 ? {} : parseJson(bytes).value)
      return await replayDeadLetter(deps.sql, { projectId: body.project_id, limit: Math.min(body.limit ?? replayMax, replayMax) })
    }, {
      parse: 'none',
      detail: doc({
        tag: 'admin', summary: 'Retry dead letters (after a fix): stored ones leave the table, refused ones stay with the new error',
        body: ReplayIn, errors: [400, 401, 422, 503],
        ok: t.Object({ tried: t.Integer(), stored: t.Integer(), still_refused: t.Integer(), remaining: t.Integer() }),
      }),
    })
}
