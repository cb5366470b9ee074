// /admin/*: projects and API keys, for the operator holding INLET_ADMIN_TOKEN.
// A key is in the response once, at creation; only its hash is stored.

import type { TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Elysia, t } from 'elysia'
import { InletError } from '../../errors'
import { createProject, getProject, insertKey, listProjects, revokeKey, updateProject } from '../../store/projects'
import { requireAdmin } from '../auth'
import { readJson } from '../body'
import type { Deps } from '../context'
import { doc, Project, ProjectIn, ProjectPatch } from '../schemas'

// Validates a parsed body against a schema and reports every problem with its path.
const compiled = new WeakMap<TSchema, ReturnType<typeof TypeCompiler.Compile>>()

export function checkBody<S extends TSchema>(schema: S, value: unknown): S['static'] {
  let check = compiled.get(schema)
  if (!check) compiled.set(schema, (check = TypeCompiler.Compile(schema)))
  if (check.Check(value)) return value
  const details = [...check.Errors(value)].slice(0, 20).map(e => ({ path: e.path, message: e.message }))
  throw new InletError('validation_failed', 'the body does not match the schema', details)
}

const projectId = (raw: string) => {
  const id = Number(raw)
  if (!Number.isSafeInteger(id) || id < 1) throw new InletError('not_found', `no project with id ${JSON.stringify(raw)}`)
  return id
}

export function adminRoutes(deps: Deps, adminToken: string) {
  const bodyLimit = 64 * 1024
  return new Elysia({ prefix: '/admin' })
    .onBeforeHandle(requireAdmin(adminToken))
    .post('/projects', async ({ request, set }) => {
      const { value } = await readJson(request, bodyLimit)
      const body = checkBody(ProjectIn, value)
      const { project, api_key } = await createProject(deps.sql, body.name, body.plan ?? 'free', body.rate_limit_rpm ?? null, body.retention_days ?? null)
      set.status = 201
      return { ...project, api_key }
    }, { parse: 'none', detail: doc({ tag: 'admin', summary: 'Create a project (returns its first API key, once)', body: ProjectIn, ok: t.Composite([Project, t.Object({ api_key: t.String() })]), okStatus: 201, errors: [400, 401, 422] }) })
    .get('/projects', async ({ query }) => {
      const limit = Math.min(Math.max(Number(query.limit ?? 100) || 100, 1), 1000)
      const data = await listProjects(deps.sql, limit, Number(query.after ?? 0) || 0)
      return { data, next_after: data.length === limit ? data[data.length - 1].id : null }
    }, { detail: doc({ tag: 'admin', summary: 'List projects', ok: t.Object({ data: t.Array(Project), next_after: t.Nullable(t.Integer()) }), errors: [401] }) })
    .get('/projects/:id', async ({ params }) => {
      const project = await getProject(deps.sql, projectId(params.id))
      if (!project) throw new InletError('not_found', `no project with id ${params.id}`)
      return project
    }, { detail: doc({ tag: 'admin', summary: 'Get a project', ok: Project, errors: [401, 404] }) })
    .patch('/projects/:id', async ({ params, request }) => {
      const { value } = await readJson(request, bodyLimit)
      const patch = checkBody(ProjectPatch, value)
      const project = await updateProject(deps.sql, projectId(params.id), patch)
      if (!project) throw new InletError('not_found', `no project with id ${params.id}`)
      return project
    }, { parse: 'none', detail: doc({ tag: 'admin', summary: 'Change a project\'s name, plan or rate limit (effective within seconds)', body: ProjectPatch, ok: Project, errors: [400, 401, 404, 422] }) })
    .post('/projects/:id/keys', async ({ params, set }) => {
      const id = projectId(params.id)
      if (!(await getProject(deps.sql, id))) throw new InletError('not_found', `no project with id ${params.id}`)
      set.status = 201
      return { api_key: await insertKey(deps.sql, id) }
    }, { detail: doc({ tag: 'admin', summary: 'Create another API key (shown once)', ok: t.Object({ api_key: t.String() }), okStatus: 201, errors: [401, 404] }) })
    .delete('/keys/:prefix', async ({ params }) => {
      if (!(await revokeKey(deps.sql, params.prefix))) throw new InletError('not_found', `no key with prefix ${JSON.stringify(params.prefix)}`)
      return { prefix: params.prefix, revoked: true }
    }, { detail: doc({ tag: 'admin', summary: 'Revoke a key by its prefix (effective within 5 s)', ok: t.Object({ prefix: t.String(), revoked: t.Boolean() }), errors: [401, 404] }) })
}
