// Leases tokens from a project's shared bucket (sql/009_rate_limit_buckets.sql) in
// one statement: refill since the last lease (capped at one minute's worth, the
// burst), take up to `want` whole tokens, and say what is left.

import type { Sql } from './db'

export interface Lease {
  // Whole tokens this process may now spend.
  granted: number
  // What the bucket holds after the lease (fractional: the refill is continuous).
  tokens: number
}

const LEASE = `
  insert into rate_limit_buckets as b (project_id, tokens, updated_at, granted)
  values ($1, $2::float8 - least($3::int, $2::int), now(), least($3::int, $2::int))
  on conflict (project_id) do update set
    granted = least($3::int, floor(least($2::float8, b.tokens + extract(epoch from now() - b.updated_at) * $2::float8 / 60))::int),
    tokens = least($2::float8, b.tokens + extract(epoch from now() - b.updated_at) * $2::float8 / 60)
      - least($3::int, floor(least($2::float8, b.tokens + extract(epoch from now() - b.updated_at) * $2::float8 / 60))::int),
    updated_at = now()
  returning granted, tokens`

export async function leaseTokens(sql: Sql, projectId: number, rpm: number, want: number): Promise<Lease> {
  const [row] = await sql.unsafe(LEASE, [projectId, rpm, want], { prepare: true })
  return { granted: Number(row!.granted), tokens: Number(row!.tokens) }
}
