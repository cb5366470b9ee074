// DELETE /v1/users/{id} and GET /v1/erasures/{id}: a project erases one user's
// events (by user_id, or by anonymous_id with ?kind=anonymous_id). The job is
// stored before the 202, so it is durable once answered; it runs in the
// background (src/store/erasure.ts) and its progress is read back here.

import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import { createErasure, type ErasureKind, getErasure } from '../../store/erasure'
import { authenticate, type Deps } from '../context'
import { doc } from '../schemas'

const Erasure = t.Object({
  id: t.Integer(), kind: t.Union([t.Literal('user_id'), t.Literal('anonymous_id')]), user_key: t.String(),
  status: t.Union([t.Literal('pending'), t.Literal('running'), t.Literal('waiting_for_spill'), t.Literal('done')]),
  events_erased: t.Integer(), requested_at: t.String({ format: 'date-time' }), finished_at: t.Nullable(t.String({ format: 'date-time' })),
}, { title: 'Erasure' })

const invalid = (path: string, message: string) =>
  new InletError('validation_failed', `${path.slice(1)} is invalid`, [{ path, message }])

export function erasureRoutes(deps: Deps) {
  const idMax = deps.config.limits.ID_CHARS_MAX
  return new Elysia()
    .delete('/v1/users/:user_id', async ({ request, params, query, set }) => {
      const owner = await authenticate(deps, request, set)
      const kind = (query.kind ?? 'user_id') as ErasureKind
      if (kind !== 'user_id' && kind !== 'anonymous_id') throw invalid('/kind', 'must be user_id or anonymous_id')
      const key = params.user_id
      if (key.length < 1 || key.length > idMax) throw invalid('/user_id', `must be 1 to ${idMax} characters`)
      const job = await createErasure(deps.sql, owner.projectId, kind, key)
      void deps.lifecycle?.erase().catch(() => {})
      set.status = 202
      return { id: job.id, status: job.status }
    }, { detail: doc({ tag: 'erasure', summary: 'Erase every event of a user (user_id, or anonymous_id with ?kind=anonymous_id)', ok: t.Object({ id: t.Integer(), status: t.String() }), okStatus: 202, errors: [401, 422, 429, 503] }) })
    .get('/v1/erasures/:id', async ({ request, params, set }) => {
      const owner = await authenticate(deps, request, set)
      const id = Number(params.id)
      const job = Number.isSafeInteger(id) && id > 0 ? await getErasure(deps.sql, owner.projectId, id) : null
      if (!job) throw new InletError('not_found', `no erasure with id ${JSON.stringify(params.id)} in this project`)
      return job
    }, { detail: doc({ tag: 'erasure', summary: 'The progress of an erasure', ok: Erasure, errors: [401, 404, 429] }) })
}
