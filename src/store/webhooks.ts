// Webhook sources: created and rotated by the operator, found by the token in
// their URL through a bounded TTL cache, so a delivery costs no database round
// trip (W2: 1,000 deliveries/s). Like an API key, the token is stored only as its
// SHA-256 beside a short visible prefix; the signing secret is stored as given,
// because verifying an HMAC needs it.

import type { Scheme } from '../ingest/signatures'
import type { Sql } from './db'
import { SecretCache } from './secret-cache'
import { base62, PLAN_RPM, sha256 } from './projects'

// 32 base62 characters carry 190 bits, like an API key's secret.
const TOKEN_SECRET_CHARS = 32
const TOKEN_PREFIX_CHARS = 10

export interface WebhookSource {
  id: number
  projectId: number
  name: string
  scheme: Scheme
  // Live secrets, current first; the previous one only until it expires.
  secret: string
  previousSecret: string | null
  previousExpiresMs: number | null
  namePath: string | null
  idPath: string | null
  // The owning project's plan limit: deliveries spend from the project's bucket.
  rpm: number
}

export interface SourceIn {
  name: string
  scheme: Scheme
  secret: string
  name_path?: string | null
  id_path?: string | null
}

export function liveSecrets(s: WebhookSource, nowMs: number): string[] {
  const live = [s.secret]
  if (s.previousSecret !== null && s.previousExpiresMs !== null && nowMs < s.previousExpiresMs) live.push(s.previousSecret)
  return live
}

// `wh_<prefix>_<secret>`: recognisable, and only the whole token opens the URL.
export function newWebhookToken(): { token: string; prefix: string } {
  const prefix = `wh_${base62(TOKEN_PREFIX_CHARS)}`
  return { token: `${prefix}_${base62(TOKEN_SECRET_CHARS)}`, prefix }
}

// Null when the project does not exist.
export async function createSource(sql: Sql, projectId: number, s: SourceIn) {
  const { token, prefix } = newWebhookToken()
  const rows = await sql`
    insert into webhook_sources (project_id, name, scheme, secret, name_path, id_path, token_prefix, token_sha256)
    select p.id, ${s.name}, ${s.scheme}, ${s.secret}, ${s.name_path ?? null}, ${s.id_path ?? null}, ${prefix}, ${sha256(token)}
    from projects p where p.id = ${projectId}
    returning id`
  return rows.length ? { id: rows[0].id as number, token, prefix } : null
}

// The old secret stays live for `overlapS`; a second rotation within the overlap
// retires the oldest one (two live secrets at most). Null when no such source.
export async function rotateSecret(sql: Sql, id: number, secret: string, overlapS: number) {
  const [row] = await sql`
    update webhook_sources set
      previous_secret = secret,
      previous_expires_at = now() + ${overlapS} * interval '1 second',
      secret = ${secret},
      updated_at = now()
    where id = ${id}
    returning id, project_id, previous_expires_at`
  return row ? { id: row.id as number, project_id: row.project_id as number, previous_expires_at: (row.previous_expires_at as Date).toISOString() } : null
}

// What the operator may see of a project's sources: never the secret, never the token.
export async function listSources(sql: Sql, projectId: number) {
  const rows = await sql`
    select id, name, scheme, name_path, id_path, token_prefix, previous_expires_at, created_at
    from webhook_sources where project_id = ${projectId} order by id`
  return rows.map(r => ({
    id: r.id as number, name: r.name as string, scheme: r.scheme as Scheme,
    name_path: r.name_path as string | null, id_path: r.id_path as string | null, token_prefix: r.token_prefix as string,
    previous_secret_expires_at: r.previous_expires_at ? (r.previous_expires_at as Date).toISOString() : null,
    created_at: (r.created_at as Date).toISOString(),
  }))
}

export async function findSource(sql: Sql, tokenSha256: Buffer): Promise<WebhookSource | null> {
  const [r] = await sql`
    select w.id, w.project_id, w.name, w.scheme, w.secret, w.previous_secret, w.previous_expires_at, w.name_path, w.id_path,
           coalesce(p.rate_limit_rpm,
             case p.plan when 'free' then ${PLAN_RPM.free}::int when 'pro' then ${PLAN_RPM.pro}::int else ${PLAN_RPM.enterprise}::int end) as rpm
    from webhook_sources w join projects p on p.id = w.project_id
    where w.token_sha256 = ${tokenSha256}`
  if (!r) return null
  return {
    id: r.id, projectId: r.project_id, name: r.name, scheme: r.scheme,
    secret: r.secret, previousSecret: r.previous_secret, previousExpiresMs: r.previous_expires_at ? (r.previous_expires_at as Date).getTime() : null,
    namePath: r.name_path, idPath: r.id_path, rpm: r.rpm,
  }
}

// Tokens → sources, through the shared secret cache: a rotation or plan change is
// seen within the TTL, and deliveries go on through the spill while Postgres is away.
export class WebhookSourceCache {
  private readonly cache: SecretCache<WebhookSource>

  constructor(sql: Sql, entriesMax: number, ttlMs: number, postgresUp: () => boolean = () => true, staleIfErrorMs = 0) {
    this.cache = new SecretCache(hash => findSource(sql, hash), entriesMax, ttlMs, postgresUp, staleIfErrorMs)
  }
  // A change announced by Postgres (sql/010_change_notices.sql): ask again.
  clear(): void {
    this.cache.clear()
  }
  // A change may have been missed: ask again, keeping stale-if-error (secret-cache.ts).
  recheck(): void {
    this.cache.recheck()
  }


  resolve(token: string): Promise<WebhookSource | null> {
    return this.cache.resolve(token)
  }
}
