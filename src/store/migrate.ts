// Applies sql/NNN_*.sql in order, each once, in one transaction under an advisory
// lock so that two processes starting together do not race.

import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Sql } from './db'

// Beside the source tree when run with `bun src/main.ts`; beside the executable
// when run as a `bun build --compile` binary (the Dockerfile puts sql/ there).
const MIGRATIONS_DIR = [join(import.meta.dir, '../../sql'), join(dirname(process.execPath), 'sql')]
  .find(dir => existsSync(dir)) ?? join(import.meta.dir, '../../sql')
// Any constant; it only has to be the same in every Inlet process.
const MIGRATION_LOCK_KEY = 0x1e7_0001

export function migrationFiles(dir = MIGRATIONS_DIR): { version: number; name: string; text: string }[] {
  return readdirSync(dir)
    .filter(f => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map(name => ({ version: parseInt(name, 10), name, text: readFileSync(join(dir, name), 'utf8') }))
}

export async function migrate(sql: Sql, dir?: string): Promise<string[]> {
  const files = migrationFiles(dir)
  return sql.begin(async tx => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`
    await tx`create table if not exists schema_migrations (
      version integer primary key, name text not null, applied_at timestamptz not null default now())`
    const done = new Set((await tx`select version from schema_migrations`).map(r => r.version as number))
    const applied: string[] = []
    for (const f of files) {
      if (done.has(f.version)) continue
      await tx.unsafe(f.text)
      await tx`insert into schema_migrations (version, name) values (${f.version}, ${f.name})`
      applied.push(f.name)
    }
    return applied
  })
}
