// A bounded TTL cache of what a secret (API key, webhook token) resolves to, keyed
// by the secret's SHA-256 so plain secrets are never held or compared. Concurrent
// misses for one secret share one query; unknown secrets are remembered too, so a
// flood of made-up ones costs one query per distinct secret per TTL at most. While
// Postgres is away, a secret seen before resolves to its last known value
// (stale-if-error) for at most KEY_CACHE_STALE_IF_ERROR_MS past its TTL — the
// longest a revoked key can keep working during an outage — and anything else is a
// 503, never a hang or a 500.

import { InletError } from '../errors'
import { sha256 } from './projects'

interface Cached<V> {
  value: V | null
  expiresMs: number
}

export class SecretCache<V> {
  private entries = new Map<string, Cached<V>>()
  private pending = new Map<string, Promise<V | null>>()

  constructor(
    private readonly lookup: (secretSha256: Buffer) => Promise<V | null>,
    private readonly entriesMax: number,
    // How long an answer is trusted: a revocation or change is seen within it.
    private readonly ttlMs: number,
    // While Postgres is known down, a lookup would only wait for a timeout.
    private readonly postgresUp: () => boolean = () => true,
    private readonly staleIfErrorMs = 0,
  ) {}

  async resolve(secret: string): Promise<V | null> {
    const hash = sha256(secret)
    const id = hash.toString('base64')
    const now = performance.now()
    const hit = this.entries.get(id)
    if (hit && hit.expiresMs > now) return hit.value
    if (!this.postgresUp()) return this.stale(hit, now)
    let lookup = this.pending.get(id)
    if (!lookup) {
      lookup = this.lookup(hash).finally(() => this.pending.delete(id))
      this.pending.set(id, lookup)
    }
    let value: V | null
    try {
      value = await lookup
    } catch (cause) {
      return this.stale(hit, now, cause)
    }
    this.remember(id, value, now)
    return value
  }

  private stale(hit: Cached<V> | undefined, now: number, cause?: unknown): V {
    if (hit?.value && now - hit.expiresMs <= this.staleIfErrorMs) return hit.value
    throw new InletError('unavailable', 'cannot check the credential right now; retry shortly', undefined, 1, { cause })
  }

  private remember(id: string, value: V | null, now: number) {
    this.entries.delete(id)
    if (this.entries.size >= this.entriesMax) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    this.entries.set(id, { value, expiresMs: now + this.ttlMs })
  }
}
