// What /metrics says of storage: bytes per table (events summed over its
// partitions) and the oldest event kept, read by the lifecycle pass so that a
// scrape costs no query. The oldest event is looked for only in the oldest day
// partition holding a row and in the default partition, one index probe per
// project in each (the events index is led by project_id, not by time).

import type { Sql } from './db'
import { listPartitions, partitionedTable } from './partitions'

export interface StorageStats {
  tableBytes: Map<string, number>
  oldestEventMs: number | null
}

const TABLES = ['event_ids', 'event_counts_minute', 'event_counts_hour', 'event_users_day', 'user_counts_day', 'user_counts_hour', 'dead_letter', 'erasures']

export async function readStorage(sql: Sql): Promise<StorageStats> {
  const parent = await partitionedTable(sql)
  const bytes = new Map<string, number>()
  const [{ n }] = await sql`select coalesce(sum(pg_total_relation_size(relid)), 0)::int8 as n from pg_partition_tree(${parent}::regclass)`
  bytes.set('events', n as number)
  for (const r of await sql`select relname, pg_total_relation_size(oid)::int8 as n from pg_class
      where relname in ${sql(TABLES)} and relnamespace = current_schema()::regnamespace`) bytes.set(r.relname as string, r.n as number)
  const candidates = ['events_default']
  for (const p of await listPartitions(sql, parent)) {
    const [row] = await sql.unsafe(`select 1 from ${p.name} limit 1`)
    if (row) {
      candidates.push(p.name)
      break
    }
  }
  let oldest: number | null = null
  for (const table of candidates) {
    const [r] = await sql.unsafe(`select min(x.t) as t from projects p cross join lateral (
      select "timestamp" as t from ${table} where project_id = p.id order by "timestamp" limit 1) x`)
    if (r?.t) oldest = Math.min(oldest ?? Infinity, (r.t as Date).getTime())
  }
  return { tableBytes: bytes, oldestEventMs: oldest }
}
