// Fresh databases for each scenario on the bench's Postgres, and Inlet's own
// migrations for the servers that do not apply them themselves (the Postgres
// ceiling and the naive baseline write into the very same table definition).

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import postgres from 'postgres'
import { codeDir } from './snapshot'

export const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
// Admin statements (create/drop database) are quick; a hung one means a stuck lock.
const ADMIN_TIMEOUT_S = 30

export interface Database {
  name: string
  url: string
  drop(): Promise<void>
}

export function urlFor(database: string): string {
  const u = new URL(PG_URL)
  u.pathname = `/${database}`
  return u.toString()
}

function admin() {
  return postgres(PG_URL, { max: 1, idle_timeout: 1, connect_timeout: ADMIN_TIMEOUT_S, onnotice: () => {} })
}

// The bench Postgres's postmaster, found through a backend of ours (its parent), so
// Postgres CPU is summed over that cluster alone, not over every postgres process on
// the machine (a test suite's throwaway clusters would count too). null when the
// server is not on this machine.
export async function postmasterPid(): Promise<number | null> {
  const sql = admin()
  try {
    const [{ pid }] = await sql`select pg_backend_pid() as pid`
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch { return null } finally { await sql.end() }
}

// Databases are named inlet_bench_<label>; a leftover from a crashed run is replaced.
export async function freshDatabase(label: string): Promise<Database> {
  const name = `inlet_bench_${label.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`
  const sql = admin()
  try {
    await sql.unsafe(`drop database if exists ${name} with (force)`)
    await sql.unsafe(`create database ${name}`)
  } finally { await sql.end() }
  return {
    name, url: urlFor(name),
    async drop() {
      const s = admin()
      try { await s.unsafe(`drop database if exists ${name} with (force)`) } finally { await s.end() }
    },
  }
}

// Applies sql/*.sql (of the code under test) in order, as Inlet does at start-up.
export async function migrate(url: string) {
  const SQL_DIR = join(codeDir(), 'sql')
  const sql = postgres(url, { max: 1, idle_timeout: 1, connect_timeout: ADMIN_TIMEOUT_S, onnotice: () => {} })
  try {
    for (const file of readdirSync(SQL_DIR).filter(f => f.endsWith('.sql')).sort()) {
      await sql.unsafe(readFileSync(join(SQL_DIR, file), 'utf8'))
    }
  } finally { await sql.end() }
}

export async function postgresInfo(): Promise<Record<string, string>> {
  const sql = admin()
  try {
    const [v] = await sql`select version() as version, current_setting('synchronous_commit') as synchronous_commit,
      current_setting('fsync') as fsync, current_setting('shared_buffers') as shared_buffers,
      current_setting('max_connections') as max_connections`
    return v as unknown as Record<string, string>
  } finally { await sql.end() }
}

// Flushes dirty buffers so a phase does not pay for the previous phase's writes (a
// checkpoint landing mid-phase also makes every insert log full pages again).
export async function checkpoint() {
  const sql = admin()
  try { await sql`checkpoint` } catch { /* needs superuser; best effort */ } finally { await sql.end() }
}

export async function truncateEvents(url: string) {
  const sql = postgres(url, { max: 1, idle_timeout: 1, connect_timeout: ADMIN_TIMEOUT_S, onnotice: () => {} })
  try { await sql`truncate events, event_ids` } finally { await sql.end() }
}
