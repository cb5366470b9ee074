// Per-project token buckets over requests: capacity is one minute's worth (the
// burst), refilled continuously at rpm/60 per second. Per process, in memory: what
// a single Inlet uses; several processes share a bucket through Postgres
// (shared-rate-limit.ts), and fall back to this with their share of the plan.

export interface RateDecision {
  allowed: boolean
  limit: number
  remaining: number
  // Seconds until the bucket is full again (RateLimit-Reset).
  resetS: number
  // Seconds until one request is allowed (Retry-After on 429).
  retryAfterS: number
}

// What a route spends a request through: this in-memory limiter (a decision at
// once), or the shared one (a promise only while it waits for a lease).
export interface RateLimit {
  take(projectId: number, rpm: number): RateDecision | Promise<RateDecision>
}

interface Bucket {
  tokens: number
  updatedMs: number
}

export class RateLimiter implements RateLimit {
  private buckets = new Map<number, Bucket>()

  constructor(private readonly projectsMax: number, private readonly now = () => performance.now()) {}

  take(projectId: number, rpm: number): RateDecision {
    const now = this.now()
    const perMs = rpm / 60_000
    let bucket = this.buckets.get(projectId)
    if (!bucket) {
      this.evictIfFull()
      bucket = { tokens: rpm, updatedMs: now }
    } else {
      // Re-inserted on every use so the map's order is least recently used first:
      // a project being limited right now is the last one eviction would reset.
      this.buckets.delete(projectId)
    }
    this.buckets.set(projectId, bucket)
    // A plan change takes effect here: the bucket is clamped to the new capacity.
    bucket.tokens = Math.min(rpm, bucket.tokens + (now - bucket.updatedMs) * perMs)
    bucket.updatedMs = now
    const allowed = bucket.tokens >= 1
    if (allowed) bucket.tokens -= 1
    return {
      allowed,
      limit: rpm,
      remaining: Math.floor(bucket.tokens),
      resetS: Math.ceil((rpm - bucket.tokens) / perMs / 1000),
      retryAfterS: allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)),
    }
  }

  // Dropping the least recently used bucket when the map is full: at worst that
  // idle project gets a fresh burst; memory stays bounded by RATE_LIMIT_PROJECTS_MAX.
  private evictIfFull() {
    if (this.buckets.size < this.projectsMax) return
    const oldest = this.buckets.keys().next().value
    if (oldest !== undefined) this.buckets.delete(oldest)
  }
}
