// /admin/* for webhook sources: create one (its URL token is shown once), list a
// project's sources (never their secrets or tokens), and rotate a secret with an
// overlap during which both the old and the new secret verify.

import { Elysia, t } from 'elysia'
import { limits } from '../../config'
import { InletError } from '../../errors'
import { SCHEMES } from '../../ingest/signatures'
import { getProject } from '../../store/projects'
import { createSource, listSources, rotateSecret } from '../../store/webhooks'
import { requireAdmin } from '../auth'
import { readJson } from '../body'
import type { Deps } from '../context'
import { doc } from '../schemas'
import { checkBody } from './admin'

// A dotted path into the payload (`data.object.id`).
const Path = t.String({ minLength: 1, maxLength: 200, pattern: '^[^.]+(\\.[^.]+)*$' })
// Shorter secrets are guessable offline from one signed delivery.
const Secret = t.String({ minLength: 16, maxLength: 512 })

const SourceIn = t.Object({
  name: t.String({ minLength: 1, maxLength: 200 }),
  scheme: t.Union(SCHEMES.map(s => t.Literal(s))),
  secret: Secret,
  name_path: t.Optional(t.Nullable(Path)),
  id_path: t.Optional(t.Nullable(Path)),
}, { title: 'WebhookSourceIn' })

const SourceOut = t.Object({ id: t.Integer(), token: t.String(), url: t.String() }, { title: 'WebhookSourceCreated' })

const RotateIn = t.Object({
  secret: Secret,
  overlap_s: t.Optional(t.Integer({ minimum: 0, maximum: limits.WEBHOOK_ROTATION_OVERLAP_S[2], description: 'how long the old secret still verifies; default WEBHOOK_ROTATION_OVERLAP_S' })),
}, { title: 'WebhookRotateIn' })

const positiveId = (raw: string, what: string) => {
  const id = Number(raw)
  if (!Number.isSafeInteger(id) || id < 1) throw new InletError('not_found', `no ${what} with id ${JSON.stringify(raw)}`)
  return id
}

export function webhookAdminRoutes(deps: Deps, adminToken: string) {
  const bodyLimit = 64 * 1024
  return new Elysia({ prefix: '/admin' })
    .onBeforeHandle(requireAdmin(adminToken))
    .post('/projects/:id/webhook-sources', async ({ params, request, set }) => {
      const projectId = positiveId(params.id, 'project')
      const body = checkBody(SourceIn, (await readJson(request, bodyLimit)).value)
      const created = await createSource(deps.sql, projectId, body)
      if (!created) throw new InletError('not_found', `no project with id ${params.id}`)
      set.status = 201
      return { id: created.id, token: created.token, url: `/v1/webhooks/${created.token}` }
    }, { parse: 'none', detail: doc({ tag: 'admin', summary: 'Create a webhook source (its URL token is shown once)', body: SourceIn, ok: SourceOut, okStatus: 201, errors: [400, 401, 404, 422] }) })
    .get('/projects/:id/webhook-sources', async ({ params }) => {
      const projectId = positiveId(params.id, 'project')
      if (!(await getProject(deps.sql, projectId))) throw new InletError('not_found', `no project with id ${params.id}`)
      return { data: await listSources(deps.sql, projectId) }
    }, { detail: doc({ tag: 'admin', summary: 'List a project\'s webhook sources (no secrets, no tokens)', ok: t.Object({ data: t.Array(t.Unknown()) }), errors: [401, 404] }) })
    .post('/webhook-sources/:id/rotate', async ({ params, request }) => {
      const id = positiveId(params.id, 'webhook source')
      const body = checkBody(RotateIn, (await readJson(request, bodyLimit)).value)
      const rotated = await rotateSecret(deps.sql, id, body.secret, body.overlap_s ?? deps.config.limits.WEBHOOK_ROTATION_OVERLAP_S)
      if (!rotated) throw new InletError('not_found', `no webhook source with id ${params.id}`)
      return rotated
    }, {
      parse: 'none',
      detail: doc({
        tag: 'admin', summary: 'Rotate a webhook source\'s secret (the old one verifies until previous_expires_at)', body: RotateIn,
        ok: t.Object({ id: t.Integer(), project_id: t.Integer(), previous_expires_at: t.String({ format: 'date-time' }) }), errors: [400, 401, 404, 422],
      }),
    })
}
