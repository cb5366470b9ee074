// The schema stays shardable by project (docs/SCALING.md): in the migrated schema,
// every primary key and unique index of a table is led by project_id, so Citus can
// distribute the table on project_id with no change to Inlet's writes; the few
// tables looked up by something else (a key's hash, a token) are small and named
// here as reference tables, copied whole to every node.

import { expect, test } from 'bun:test'
import postgres from 'postgres'
import { migrate } from '../../src/store/migrate'
import type { Sql } from '../../src/store/db'

// Looked up by a credential's hash or by id, never by project: Citus reference tables.
// Also the one-row bookkeeping of the data lifecycle (sql/007-008: the online move's
// cursor and the lifecycle pass's lease), which hold no project data.
const REFERENCE = new Set(['projects', 'api_keys', 'webhook_sources', 'collector_tokens', 'schema_migrations', 'events_move', 'lifecycle_lease'])

test('every unique key is led by project_id, except in the named reference tables', async () => {
  const sql = postgres(process.env.INLET_TEST_DATABASE_URL!, { max: 1, onnotice: () => {} })
  try {
    await migrate(sql as unknown as Sql)
    const rows = await sql`
      select c.relname as table, i.relname as index, a.attname as first
      from pg_index x
      join pg_class i on i.oid = x.indexrelid
      join pg_class c on c.oid = x.indrelid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attribute a on a.attrelid = c.oid and a.attnum = x.indkey[0]
      where n.nspname = 'public' and x.indisunique and c.relkind in ('r', 'p')`
    const tables = new Set(rows.map(r => r.table as string))
    const offending = rows.filter(r => !REFERENCE.has(r.table) && r.first !== 'project_id').map(r => `${r.table}.${r.index} (led by ${r.first ?? 'an expression'})`)
    expect(offending).toEqual([])
    // The tables that carry the volume are distributed, not reference tables
    // (events itself has no unique key since sql/007: event_ids holds it).
    for (const t of ['event_ids', 'event_counts_minute', 'event_counts_hour', 'event_users_day', 'user_counts_day', 'user_counts_hour', 'dead_letter', 'rate_limit_buckets']) {
      expect(tables.has(t)).toBe(true)
      expect(REFERENCE.has(t)).toBe(false)
    }
  } finally {
    await sql.end({ timeout: 1 })
  }
})
