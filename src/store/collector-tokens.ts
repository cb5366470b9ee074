// Collector tokens (sql/006): a project's public, revocable, write-only credentials,
// for trackers that send no key (Snowplow's, in the collector URL) and for tracking
// code anyone can read (a page's posthog-js, analytics.js or rudderstack-js, as their
// project token or write key), where an API key would also let the reader query the
// project. Created and revoked by the operator, found through a bounded TTL cache, so
// an event costs no database round trip. As for an API key, the token is shown once and stored only as
// its SHA-256 beside a short visible prefix; a revocation is seen within the cache's
// TTL (KEY_CACHE_TTL_MS).

import type { Sql } from './db'
import { base62, PLAN_RPM, sha256 } from './projects'
import { SecretCache } from './secret-cache'

// 32 base62 characters carry 190 bits, like an API key's secret.
const TOKEN_SECRET_CHARS = 32
const TOKEN_PREFIX_CHARS = 10
// `ct_<10>_<32>`; anything much longer is not a token and is not hashed.
export const COLLECTOR_TOKEN_CHARS_MAX = 128
// Tells a collector token from an API key (`ik_`) without a lookup.
export const COLLECTOR_TOKEN_PREFIX = 'ct_'

export interface CollectorToken {
  id: number
  projectId: number
  // The owning project's plan limit: events spend from the project's bucket, as with a key.
  rpm: number
}

export interface CollectorTokenInfo {
  id: number
  name: string
  prefix: string
  created_at: string
  revoked_at: string | null
}

// `ct_<prefix>_<secret>`: recognisable, and only the whole token opens the URL.
export function newCollectorToken(): { token: string; prefix: string } {
  const prefix = `${COLLECTOR_TOKEN_PREFIX}${base62(TOKEN_PREFIX_CHARS)}`
  return { token: `${prefix}_${base62(TOKEN_SECRET_CHARS)}`, prefix }
}

const info = (r: Record<string, any>): CollectorTokenInfo => ({
  id: r.id, name: r.name, prefix: r.token_prefix,
  created_at: (r.created_at as Date).toISOString(), revoked_at: r.revoked_at ? (r.revoked_at as Date).toISOString() : null,
})

// Null when the project does not exist.
export async function createCollectorToken(sql: Sql, projectId: number, name: string) {
  const { token, prefix } = newCollectorToken()
  const [row] = await sql`
    insert into collector_tokens (project_id, name, token_prefix, token_sha256)
    select p.id, ${name}, ${prefix}, ${sha256(token)} from projects p where p.id = ${projectId}
    returning id, name, token_prefix, created_at, revoked_at`
  return row ? { ...info(row), token } : null
}

// What the operator may see: never the token.
export async function listCollectorTokens(sql: Sql, projectId: number): Promise<CollectorTokenInfo[]> {
  const rows = await sql`
    select id, name, token_prefix, created_at, revoked_at from collector_tokens where project_id = ${projectId} order by id`
  return rows.map(info)
}

// Revoking twice keeps the first time. Null when no token has this prefix.
export async function revokeCollectorToken(sql: Sql, prefix: string): Promise<CollectorTokenInfo | null> {
  const [row] = await sql`
    update collector_tokens set revoked_at = coalesce(revoked_at, now()) where token_prefix = ${prefix}
    returning id, name, token_prefix, created_at, revoked_at`
  return row ? info(row) : null
}

export async function findCollectorToken(sql: Sql, tokenSha256: Buffer): Promise<CollectorToken | null> {
  const [r] = await sql`
    select c.id, c.project_id, coalesce(p.rate_limit_rpm,
             case p.plan when 'free' then ${PLAN_RPM.free}::int when 'pro' then ${PLAN_RPM.pro}::int else ${PLAN_RPM.enterprise}::int end) as rpm
    from collector_tokens c join projects p on p.id = c.project_id
    where c.token_sha256 = ${tokenSha256} and c.revoked_at is null`
  return r ? { id: r.id, projectId: r.project_id, rpm: r.rpm } : null
}

// Tokens → their project, through the shared secret cache (the API keys' bounds):
// unknown tokens are remembered too, and while Postgres is away a token seen before
// keeps working for KEY_CACHE_STALE_IF_ERROR_MS, so events go on into the spill.
export class CollectorTokenCache {
  private readonly cache: SecretCache<CollectorToken>

  constructor(sql: Sql, entriesMax: number, ttlMs: number, postgresUp: () => boolean = () => true, staleIfErrorMs = 0) {
    this.cache = new SecretCache(hash => findCollectorToken(sql, hash), entriesMax, ttlMs, postgresUp, staleIfErrorMs)
  }
  // A change announced by Postgres (sql/010_change_notices.sql): ask again.
  clear(): void {
    this.cache.clear()
  }
  // A change may have been missed: ask again, keeping stale-if-error (secret-cache.ts).
  recheck(): void {
    this.cache.recheck()
  }


  resolve(token: string): Promise<CollectorToken | null> {
    if (token.length === 0 || token.length > COLLECTOR_TOKEN_CHARS_MAX) return Promise.resolve(null)
    return this.cache.resolve(token)
  }
}
