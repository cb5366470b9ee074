// sql/011 (and 012, 013, 014) on a database that already holds events and memberships (written
// before it existed): every membership row gets the hour bits and first time of its
// events, and the user counters are filled from them, so hourly users, funnels and
// counts are exact over old data from the start.

import { afterAll, beforeAll, expect, test } from 'bun:test'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import type { Sql } from '../../src/store/db'
import { migrate, migrationFiles } from '../../src/store/migrate'
import { generate } from './brute'
import { expectExact } from './exact'

const SQL_DIR = join(import.meta.dir, '../../sql')
const name = `inlet_test_m011_${Date.now()}_${process.pid}`
let admin: postgres.Sql, sql: Sql, before: string

beforeAll(async () => {
  admin = postgres(process.env.INLET_TEST_ADMIN_URL!, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(process.env.INLET_TEST_ADMIN_URL!)
  url.pathname = `/${name}`
  sql = postgres(url.toString(), { max: 1, onnotice: () => {} }) as unknown as Sql
  // The migrations before 011 only.
  before = mkdtempSync(join(tmpdir(), 'inlet-m011-'))
  for (const f of migrationFiles(SQL_DIR)) if (f.version < 11) cpSync(join(SQL_DIR, f.name), join(before, f.name))
})
afterAll(async () => {
  await (sql as unknown as postgres.Sql).end()
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end()
  rmSync(before, { recursive: true, force: true })
})

test('011 gives every membership row stored before it the hour bits and first time of its events', async () => {
  expect(await migrate(sql, before)).not.toContain('011_user_day_hours_first.sql')
  const events = generate(11, 'm', Date.UTC(2026, 9, 5, 3), 3, 200)
  // Events and their rollups as the write statement wrote them before 011.
  await sql`insert into events (project_id, id, type, name, "timestamp", received_at, user_id, anonymous_id, properties, context)
    select 7, e->>'id', 'track', e->>'name', 'epoch'::timestamptz + (e->>'t')::int8 * interval '1 ms', now(),
           e->>'user_id', e->>'anonymous_id', '{}', '{}'
    from jsonb_array_elements(${JSON.stringify(events)}::text::jsonb) e`
  await sql`insert into event_users_day (project_id, name, day, user_key)
    select distinct project_id, n, ("timestamp" at time zone 'UTC')::date, coalesce(user_id, anonymous_id)
    from events, lateral (values (name), ('')) as v(n) where coalesce(user_id, anonymous_id) is not null`
  await sql`insert into event_counts_minute (project_id, name, bucket, events)
    select project_id, name, date_trunc('minute', "timestamp"), count(*) from events group by 1, 2, 3`
  await sql`insert into event_counts_hour (project_id, name, bucket, events)
    select project_id, name, date_trunc('hour', "timestamp", 'UTC'), count(*) from events group by 1, 2, 3`
  const [{ rows }] = await sql`select count(*)::int as rows from event_users_day`
  expect(rows).toBeGreaterThan(500)
  expect(await migrate(sql, SQL_DIR)).toEqual(['011_user_day_hours_first.sql', '012_user_day_covering.sql', '013_user_counts.sql', '014_event_counts_hour_by_name.sql'])
  const [{ after }] = await sql`select count(*)::int as after from event_users_day where hours <> 0 and first_at is not null`
  expect(after).toBe(rows)
  // Rollups, memberships (bits and first times included) and user counters equal a recomputation from the events.
  await expectExact(sql, 7)
})
