// GET /admin/projects/{id}/keys: a project's API keys by prefix (never the key or
// its hash), so the console can show which to revoke. Kept beside admin.ts rather
// than in it so the console's additions stay in files of their own.

import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import { getProject } from '../../store/projects'
import { requireAdmin } from '../auth'
import type { Deps } from '../context'
import { doc } from '../schemas'

const KeyOut = t.Object({
  prefix: t.String(), created_at: t.String({ format: 'date-time' }), revoked_at: t.Nullable(t.String({ format: 'date-time' })),
}, { title: 'ApiKeyInfo' })

export function adminKeyRoutes(deps: Deps, adminToken: string) {
  return new Elysia({ prefix: '/admin' })
    .onBeforeHandle(requireAdmin(adminToken))
    .get('/projects/:id/keys', async ({ params }) => {
      const id = Number(params.id)
      if (!Number.isSafeInteger(id) || id < 1 || !(await getProject(deps.sql, id))) {
        throw new InletError('not_found', `no project with id ${JSON.stringify(params.id)}`)
      }
      const rows = await deps.sql`
        select prefix, created_at, revoked_at from api_keys where project_id = ${id} order by created_at, prefix`
      return {
        data: rows.map(r => ({
          prefix: r.prefix as string, created_at: (r.created_at as Date).toISOString(),
          revoked_at: r.revoked_at ? (r.revoked_at as Date).toISOString() : null,
        })),
      }
    }, { detail: doc({ tag: 'admin', summary: 'List a project\'s API keys by prefix (never the keys)', ok: t.Object({ data: t.Array(KeyOut) }), errors: [401, 404] }) })
}
