// /admin/* for collector tokens (store/collector-tokens.ts): create one for a project
// (shown once, with the collector URL a Snowplow tracker is given; browser SDKs take
// the token itself as their key), list a
// project's tokens (never the tokens themselves), revoke one by its prefix.

import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import { createCollectorToken, listCollectorTokens, revokeCollectorToken } from '../../store/collector-tokens'
import { getProject } from '../../store/projects'
import { requireAdmin } from '../auth'
import { readJson } from '../body'
import type { Deps } from '../context'
import { doc } from '../schemas'
import { checkBody } from './admin'

const TokenIn = t.Object({ name: t.String({ minLength: 1, maxLength: 200 }) }, { title: 'CollectorTokenIn' })

const TokenInfo = t.Object({
  id: t.Integer(), name: t.String(), prefix: t.String(),
  created_at: t.String({ format: 'date-time' }), revoked_at: t.Nullable(t.String({ format: 'date-time' })),
}, { title: 'CollectorToken' })

const TokenCreated = t.Composite([TokenInfo, t.Object({
  token: t.String({ description: 'shown once; only its SHA-256 is stored' }),
  snowplow_collector: t.String({ description: 'the collector URL (path) to give a Snowplow tracker as its endpoint' }),
})], { title: 'CollectorTokenCreated' })

const projectIdOf = (raw: string) => {
  const id = Number(raw)
  if (!Number.isSafeInteger(id) || id < 1) throw new InletError('not_found', `no project with id ${JSON.stringify(raw)}`)
  return id
}

export function collectorAdminRoutes(deps: Deps, adminToken: string) {
  const bodyLimit = 64 * 1024
  return new Elysia({ prefix: '/admin' })
    .onBeforeHandle(requireAdmin(adminToken))
    .post('/projects/:id/collector-tokens', async ({ params, request, set }) => {
      const body = checkBody(TokenIn, (await readJson(request, bodyLimit)).value)
      const created = await createCollectorToken(deps.sql, projectIdOf(params.id), body.name)
      if (!created) throw new InletError('not_found', `no project with id ${params.id}`)
      set.status = 201
      return { ...created, snowplow_collector: `/v1/snowplow/${created.token}` }
    }, {
      parse: 'none',
      detail: doc({
        tag: 'admin', summary: 'Create a collector token (shown once): the write-only credential for tracking code anyone can read',
        body: TokenIn, ok: TokenCreated, okStatus: 201, errors: [400, 401, 404, 422],
        description: 'A Snowplow tracker is given `<inlet>/v1/snowplow/<token>` as its collector endpoint; posthog-js, analytics.js and '
          + 'rudderstack-js take the token as their project token / write key. It only writes events into its project (the query '
          + 'routes refuse it), spending the project\'s rate limit.',
      }),
    })
    .get('/projects/:id/collector-tokens', async ({ params }) => {
      const id = projectIdOf(params.id)
      if (!(await getProject(deps.sql, id))) throw new InletError('not_found', `no project with id ${params.id}`)
      return { data: await listCollectorTokens(deps.sql, id) }
    }, { detail: doc({ tag: 'admin', summary: 'List a project\'s collector tokens (never the tokens)', ok: t.Object({ data: t.Array(TokenInfo) }), errors: [401, 404] }) })
    .delete('/collector-tokens/:prefix', async ({ params }) => {
      const revoked = await revokeCollectorToken(deps.sql, params.prefix)
      if (!revoked) throw new InletError('not_found', `no collector token with prefix ${JSON.stringify(params.prefix)}`)
      return revoked
    }, {
      detail: doc({
        tag: 'admin', summary: 'Revoke a collector token by its prefix (effective within KEY_CACHE_TTL_MS)', ok: TokenInfo, errors: [401, 404],
        description: 'From then on its collector URL answers 401, which Snowplow trackers do not retry.',
      }),
    })
}
