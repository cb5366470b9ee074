// The Postgres client. Every pool setting is passed explicitly (STYLE: don't rely
// on library defaults); sessions run in UTC so date_trunc buckets are UTC buckets.

import postgres from 'postgres'
import type { Config } from '../config'

export type Sql = postgres.Sql<{}>

export function connect(url: string, limits: Config['limits'], log: (msg: string, fields?: object) => void): Sql {
  return postgres(url, {
    max: limits.PG_POOL_MAX,
    idle_timeout: limits.PG_IDLE_TIMEOUT_S,
    connect_timeout: limits.PG_CONNECT_TIMEOUT_S,
    max_lifetime: 60 * 30,
    prepare: true,
    // Seconds before reconnecting after a connection failed. postgres.js's default
    // grows with every failure to 20 s, so after a long outage Inlet noticed that
    // Postgres was back only up to 20 s later (measured: a 12 s drain delay). Capped
    // at one probe interval, so recovery is seen as fast as the probe looks for it.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, limits.PG_PROBE_INTERVAL_MS / 1000),
    connection: { TimeZone: 'UTC', application_name: 'inlet' },
    onnotice: notice => log('postgres notice', { message: notice.message }),
    // int8 (ids, counts) as JS numbers: none of ours comes near 2^53.
    types: { int8: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  })
}

// postgres.js fetches the array types on every new connection, and a connection
// that drops during that fetch rejects a promise nobody holds, which ends a Bun
// process. The fetched types are shared by the whole pool: fetch them once here,
// then never again, so a Postgres restart or a cut connection is survivable.
export async function fetchTypesOnce(sql: Sql): Promise<void> {
  await sql`select 1`
  sql.options.fetch_types = false
}
