// A bounded TTL cache of what a secret (API key, webhook token) resolves to. A hit
// costs one native 64-bit hash and a string compare, with no promise: the SHA-256
// that the database lookup needs (keys are stored only as their hash) is computed
// on a miss alone. Measured: hashing every request's key with SHA-256 and awaiting
// the cache cost ~3 µs a request. The plain secret is kept beside its entry to tell
// a hash collision from a hit (the process holds it anyway: it came in the request).
// Concurrent misses for one secret share one query; unknown secrets are remembered
// too, so a flood of made-up ones costs one query per distinct secret per TTL at
// most. While Postgres is away, a secret seen before resolves to its last known
// value (stale-if-error) for at most KEY_CACHE_STALE_IF_ERROR_MS past its TTL — the
// longest a revoked key can keep working during an outage — and anything else is a
// 503, never a hang or a 500.

import { InletError } from '../errors'
import { sha256 } from './projects'

interface Cached<V> {
  secret: string
  value: V | null
  expiresMs: number
}

type Key = number | bigint

export class SecretCache<V> {
  private entries = new Map<Key, Cached<V>>()
  private pending = new Map<Key, Promise<V | null>>()

  constructor(
    private readonly lookup: (secretSha256: Buffer) => Promise<V | null>,
    private readonly entriesMax: number,
    // How long an answer is trusted: a revocation or change is seen within it.
    private readonly ttlMs: number,
    // While Postgres is known down, a lookup would only wait for a timeout.
    private readonly postgresUp: () => boolean = () => true,
    private readonly staleIfErrorMs = 0,
  ) {}

  // The value of a secret seen within its TTL (null: known unknown), or undefined
  // when only resolve() can say. Synchronous: the hot path's whole cost.
  fresh(secret: string, now = performance.now()): V | null | undefined {
    const hit = this.entries.get(Bun.hash(secret))
    if (hit === undefined || hit.secret !== secret || hit.expiresMs <= now) return undefined
    return hit.value
  }

  async resolve(secret: string): Promise<V | null> {
    const key = Bun.hash(secret)
    const now = performance.now()
    const found = this.entries.get(key)
    const hit = found?.secret === secret ? found : undefined
    if (hit && hit.expiresMs > now) return hit.value
    if (!this.postgresUp()) return this.stale(hit, now)
    let lookup = this.pending.get(key)
    if (!lookup) {
      lookup = this.lookup(sha256(secret)).finally(() => this.pending.delete(key))
      this.pending.set(key, lookup)
    }
    let value: V | null
    try {
      value = await lookup
    } catch (cause) {
      return this.stale(hit, now, cause)
    }
    this.remember(key, secret, value, now)
    return value
  }

  // Forgets every entry: the next use of each secret asks Postgres again. For a
  // change Postgres announced: what was known is wrong, even during an outage.
  clear(): void {
    this.entries.clear()
  }

  // Every entry is asked again at its next use, but still answers stale-if-error
  // while Postgres is away. For a change that may have been missed (a lost LISTEN):
  // forgetting then would turn a process that restarts its LISTEN just before an
  // outage into one that refuses every key instead of taking events into its spill.
  recheck(now = performance.now()): void {
    for (const entry of this.entries.values()) entry.expiresMs = Math.min(entry.expiresMs, now)
  }

  private stale(hit: Cached<V> | undefined, now: number, cause?: unknown): V {
    if (hit?.value && now - hit.expiresMs <= this.staleIfErrorMs) return hit.value
    throw new InletError('unavailable', 'cannot check the credential right now; retry shortly', undefined, 1, { cause })
  }

  private remember(key: Key, secret: string, value: V | null, now: number) {
    this.entries.delete(key)
    if (this.entries.size >= this.entriesMax) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    this.entries.set(key, { secret, value, expiresMs: now + this.ttlMs })
  }
}
