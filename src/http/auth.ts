// Who is calling: the API key from the request (Bearer, X-API-Key, or Basic with
// the key as user name), resolved to its project through a bounded cache so auth
// costs no database round trip per request. Entries live KEY_CACHE_TTL_MS, which
// is how quickly a revocation or plan change is seen (contract: within 5 s).

import { timingSafeEqual } from 'node:crypto'
import { InletError } from '../errors'
import type { Sql } from '../store/db'
import { findKeyOwner, type KeyOwner, sha256 } from '../store/projects'
import { SecretCache } from '../store/secret-cache'

export function keyFromHeaders(headers: Headers): string | null {
  const authorization = headers.get('authorization')
  // What SDKs and curl send, without the regular expressions of the general case.
  if (authorization !== null && authorization.startsWith('Bearer ') && authorization.indexOf(' ', 7) < 0) {
    return authorization.length > 7 ? authorization.slice(7) : null
  }
  if (authorization) {
    const [scheme, value = ''] = authorization.trim().split(/\s+/, 2)
    if (/^bearer$/i.test(scheme)) return value || null
    if (/^basic$/i.test(scheme)) {
      // Segment's write-key style: the key is the user name, the password empty.
      const decoded = Buffer.from(value, 'base64').toString('utf8')
      const user = decoded.split(':', 1)[0]
      return user || null
    }
  }
  return headers.get('x-api-key') || null
}

// Keys are `ik_<10>_<32>`; anything much longer is not one and is not looked up.
const KEY_CHARS_MAX = 256

// API keys → their project, through the shared secret cache.
export class KeyCache {
  private readonly cache: SecretCache<KeyOwner>

  constructor(sql: Sql, entriesMax: number, ttlMs: number, postgresUp: () => boolean = () => true, staleIfErrorMs = 0) {
    this.cache = new SecretCache(hash => findKeyOwner(sql, hash), entriesMax, ttlMs, postgresUp, staleIfErrorMs)
  }
  // A change announced by Postgres (sql/010_change_notices.sql): ask again.
  clear(): void {
    this.cache.clear()
  }
  // A change may have been missed: ask again, keeping stale-if-error (secret-cache.ts).
  recheck(): void {
    this.cache.recheck()
  }


  // A key seen within its TTL: no promise, no hash but a native 64-bit one.
  fresh(key: string | null): KeyOwner | undefined {
    if (!key || key.length > KEY_CHARS_MAX) return undefined
    return this.cache.fresh(key) ?? undefined
  }

  // Postgres finds a key by its SHA-256 (only the hash is stored); the cache finds a
  // key seen before by a native hash and a compare (store/secret-cache.ts).
  async resolve(key: string | null): Promise<KeyOwner> {
    if (!key || key.length > KEY_CHARS_MAX) throw new InletError('unauthorized', 'a valid API key is required')
    const owner = await this.cache.resolve(key)
    if (!owner) throw new InletError('unauthorized', 'the API key is unknown or revoked')
    return owner
  }
}

export function adminTokenMatches(headers: Headers, token: string): boolean {
  const given = Buffer.from(headers.get('authorization')?.replace(/^bearer\s+/i, '') ?? '')
  const expected = Buffer.from(token)
  // Compare hashes so the comparison is constant-time whatever the lengths.
  return timingSafeEqual(sha256(given.toString()), sha256(expected.toString()))
}

// Elysia beforeHandle for /admin/* routes.
export function requireAdmin(adminToken: string) {
  return ({ request }: { request: Request }) => {
    if (!adminTokenMatches(request.headers, adminToken)) {
      throw new InletError('unauthorized', 'the admin token (Authorization: Bearer <INLET_ADMIN_TOKEN>) is missing or wrong')
    }
  }
}
