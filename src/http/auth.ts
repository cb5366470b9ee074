// Who is calling: the API key from the request (Bearer, X-API-Key, or Basic with
// the key as user name), resolved to its project through a bounded cache so auth
// costs no database round trip per request. Entries live KEY_CACHE_TTL_MS, which
// is how quickly a revocation or plan change is seen (contract: within 5 s).

import { timingSafeEqual } from 'node:crypto'
import { InletError } from '../errors'
import type { Sql } from '../store/db'
import { findKeyOwner, type KeyOwner, sha256 } from '../store/projects'

export function keyFromHeaders(headers: Headers): string | null {
  const authorization = headers.get('authorization')
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

interface Cached {
  owner: KeyOwner | null
  expiresMs: number
}

export class KeyCache {
  private entries = new Map<string, Cached>()
  // Lookups of the same unknown key wait for one query instead of each sending one.
  private pending = new Map<string, Promise<KeyOwner | null>>()

  constructor(
    private readonly sql: Sql, private readonly entriesMax: number, private readonly ttlMs: number,
    // While Postgres is known down, a lookup would only wait for a timeout.
    private readonly postgresUp: () => boolean = () => true,
  ) {}

  // Keys are looked up by their SHA-256, never compared as plain text, so the time a
  // lookup takes says nothing about other keys.
  async resolve(key: string | null): Promise<KeyOwner> {
    if (!key || key.length > 256) throw new InletError('unauthorized', 'a valid API key is required')
    const hash = sha256(key)
    const id = hash.toString('base64')
    const now = performance.now()
    const hit = this.entries.get(id)
    let owner: KeyOwner | null
    if (hit && hit.expiresMs > now) owner = hit.owner
    else if (!this.postgresUp()) return this.stale(hit)
    else {
      let lookup = this.pending.get(id)
      if (!lookup) {
        lookup = findKeyOwner(this.sql, hash).finally(() => this.pending.delete(id))
        this.pending.set(id, lookup)
      }
      try {
        owner = await lookup
      } catch (cause) {
        return this.stale(hit, cause)
      }
      this.remember(id, owner, now)
    }
    if (!owner) throw new InletError('unauthorized', 'the API key is unknown or revoked')
    return owner
  }

  // Postgres unreachable: a key seen before keeps working (stale-if-error), so
  // ingest goes on through the spill; a key never seen cannot be checked.
  private stale(hit: Cached | undefined, cause?: unknown): KeyOwner {
    if (hit?.owner) return hit.owner
    throw new InletError('unavailable', 'cannot check the API key right now; retry shortly', undefined, 1, { cause })
  }

  private remember(id: string, owner: KeyOwner | null, now: number) {
    this.entries.delete(id)
    if (this.entries.size >= this.entriesMax) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    this.entries.set(id, { owner, expiresMs: now + this.ttlMs })
  }
}

export function adminTokenMatches(headers: Headers, token: string): boolean {
  const given = Buffer.from(headers.get('authorization')?.replace(/^bearer\s+/i, '') ?? '')
  const expected = Buffer.from(token)
  // Compare hashes so the comparison is constant-time whatever the lengths.
  return timingSafeEqual(sha256(given.toString()), sha256(expected.toString()))
}
