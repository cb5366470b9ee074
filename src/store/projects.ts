// Projects and their API keys. A key is shown once, at creation; only its SHA-256
// is stored, beside a short visible prefix that names it for revocation.

import { randomBytes } from 'node:crypto'
import type { Sql } from './db'

export type Plan = 'free' | 'pro' | 'enterprise'

// Requests per minute per plan (API contract); rate_limit_rpm overrides.
export const PLAN_RPM: Record<Plan, number> = { free: 60, pro: 1_000, enterprise: 10_000 }

export interface Project {
  id: number
  name: string
  plan: Plan
  rate_limit_rpm: number
  rate_limit_override: number | null
  // Null: RETENTION_DAYS_DEFAULT applies.
  retention_days: number | null
  created_at: string
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
// 32 base62 characters carry 190 bits; the contract asks for at least 128.
const KEY_SECRET_CHARS = 32
const KEY_PREFIX_CHARS = 10

export function base62(chars: number): string {
  // Rejection sampling keeps every character uniform (248 = 4 * 62).
  let out = ''
  while (out.length < chars) {
    for (const b of randomBytes(chars * 2)) {
      if (b < 248 && out.length < chars) out += BASE62[b % 62]
    }
  }
  return out
}

export function sha256(text: string): Buffer {
  return new Bun.CryptoHasher('sha256').update(text).digest() as Buffer
}

// `ik_<prefix>_<secret>`: recognisable (secret scanners can match `ik_`), and the
// prefix alone cannot authenticate.
export function newApiKey(): { key: string; prefix: string } {
  const prefix = `ik_${base62(KEY_PREFIX_CHARS)}`
  return { key: `${prefix}_${base62(KEY_SECRET_CHARS)}`, prefix }
}

function toProject(r: Record<string, any>): Project {
  return {
    id: r.id, name: r.name, plan: r.plan,
    rate_limit_rpm: r.rate_limit_rpm ?? PLAN_RPM[r.plan as Plan],
    rate_limit_override: r.rate_limit_rpm,
    retention_days: r.retention_days ?? null,
    created_at: r.created_at.toISOString(),
  }
}

export async function createProject(sql: Sql, name: string, plan: Plan, rpm: number | null, retentionDays: number | null = null) {
  return sql.begin(async tx => {
    const [row] = await tx`insert into projects (name, plan, rate_limit_rpm, retention_days)
      values (${name}, ${plan}, ${rpm}, ${retentionDays}) returning *`
    const project = toProject(row)
    const api_key = await insertKey(tx as unknown as Sql, project.id)
    return { project, api_key }
  })
}

export async function insertKey(sql: Sql, projectId: number): Promise<string> {
  const { key, prefix } = newApiKey()
  await sql`insert into api_keys (prefix, project_id, key_sha256) values (${prefix}, ${projectId}, ${sha256(key)})`
  return key
}

export async function getProject(sql: Sql, id: number): Promise<Project | null> {
  const [row] = await sql`select * from projects where id = ${id}`
  return row ? toProject(row) : null
}

export async function listProjects(sql: Sql, limit: number, afterId: number): Promise<Project[]> {
  const rows = await sql`select * from projects where id > ${afterId} order by id limit ${limit}`
  return rows.map(toProject)
}

export async function updateProject(
  sql: Sql, id: number, patch: { name?: string; plan?: Plan; rate_limit_rpm?: number | null; retention_days?: number | null },
): Promise<Project | null> {
  const [row] = await sql`
    update projects set
      name = coalesce(${patch.name ?? null}, name),
      plan = coalesce(${patch.plan ?? null}, plan),
      rate_limit_rpm = case when ${patch.rate_limit_rpm !== undefined} then ${patch.rate_limit_rpm ?? null}::int else rate_limit_rpm end,
      retention_days = case when ${patch.retention_days !== undefined} then ${patch.retention_days ?? null}::int else retention_days end,
      updated_at = now()
    where id = ${id} returning *`
  return row ? toProject(row) : null
}

export async function revokeKey(sql: Sql, prefix: string): Promise<boolean> {
  const rows = await sql`update api_keys set revoked_at = coalesce(revoked_at, now()) where prefix = ${prefix} returning prefix`
  return rows.length > 0
}

export interface KeyOwner {
  projectId: number
  rpm: number
}

// The project a live key belongs to, found by the key's hash.
export async function findKeyOwner(sql: Sql, keySha256: Buffer): Promise<KeyOwner | null> {
  const [row] = await sql`
    select p.id, coalesce(p.rate_limit_rpm,
             case p.plan when 'free' then ${PLAN_RPM.free}::int when 'pro' then ${PLAN_RPM.pro}::int else ${PLAN_RPM.enterprise}::int end) as rpm
    from api_keys k join projects p on p.id = k.project_id
    where k.key_sha256 = ${keySha256} and k.revoked_at is null`
  return row ? { projectId: row.id, rpm: row.rpm } : null
}
