// The check every rollup test ends with: each rollup row equals the same aggregate
// recomputed from the stored events, and no row is missing or extra.

import { expect } from 'bun:test'
import type { Sql } from '../../src/store/db'

const bucketOf: Record<string, string> = {
  day: `("timestamp" at time zone 'UTC')::date`,
}

// Every rollup row (membership rows with their hour bits and first times, user counters) equals the same aggregate recomputed from events, and none is extra.
export async function expectExact(sql: Sql, projectId: number) {
  const [minute] = await sql`
    select count(*)::int as wrong from (
      (select name, bucket, sum(events)::int8 from event_counts_minute where project_id = ${projectId} group by 1, 2
       except all
       select name, date_trunc('minute', "timestamp"), count(*) from events where project_id = ${projectId} group by 1, 2)
      union all
      (select name, date_trunc('minute', "timestamp"), count(*) from events where project_id = ${projectId} group by 1, 2
       except all
       select name, bucket, sum(events)::int8 from event_counts_minute where project_id = ${projectId} group by 1, 2)) x`
  const [hour] = await sql`
    select count(*)::int as wrong from (
      (select name, bucket, sum(events)::int8 from event_counts_hour where project_id = ${projectId} group by 1, 2
       except all
       select name, date_trunc('hour', "timestamp", 'UTC'), count(*) from events where project_id = ${projectId} group by 1, 2)
      union all
      (select name, date_trunc('hour', "timestamp", 'UTC'), count(*) from events where project_id = ${projectId} group by 1, 2
       except all
       select name, bucket, sum(events)::int8 from event_counts_hour where project_id = ${projectId} group by 1, 2)) x`
  const membership = async (table: string, bucket: string) => {
    const [r] = await sql`
      select count(*)::int as wrong from (
        (select name, ${sql(bucket)} as b, user_key, hours, first_at from ${sql(table)} where project_id = ${projectId}
         except all
         select n, ${sql.unsafe(bucketOf[bucket])}, coalesce(user_id, anonymous_id),
                bit_or(1 << extract(hour from "timestamp" at time zone 'UTC')::int), min("timestamp")
         from events, lateral (values (name), ('')) v(n)
         where project_id = ${projectId} and coalesce(user_id, anonymous_id) is not null group by 1, 2, 3)
        union all
        (select n, ${sql.unsafe(bucketOf[bucket])}, coalesce(user_id, anonymous_id),
                bit_or(1 << extract(hour from "timestamp" at time zone 'UTC')::int), min("timestamp")
         from events, lateral (values (name), ('')) v(n)
         where project_id = ${projectId} and coalesce(user_id, anonymous_id) is not null group by 1, 2, 3
         except all
         select name, ${sql(bucket)}, user_key, hours, first_at from ${sql(table)} where project_id = ${projectId})) x`
    return r.wrong
  }
  const users = { wrong: await membership('event_users_day', 'day') }
  // The user counters (sql/013): distinct users per name (and '') and UTC day or hour,
  // summed over their stripes, equal a distinct count of the stored events.
  const counter = async (table: string, bucket: string) => {
    const [r] = await sql`
      select count(*)::int as wrong from (
        (select name, bucket, sum(users)::int8 from ${sql(table)} where project_id = ${projectId} group by 1, 2
         except all
         select n, ${sql.unsafe(bucket)}, count(distinct coalesce(user_id, anonymous_id))
         from events, lateral (values (name), ('')) v(n)
         where project_id = ${projectId} and coalesce(user_id, anonymous_id) is not null group by 1, 2)
        union all
        (select n, ${sql.unsafe(bucket)}, count(distinct coalesce(user_id, anonymous_id))
         from events, lateral (values (name), ('')) v(n)
         where project_id = ${projectId} and coalesce(user_id, anonymous_id) is not null group by 1, 2
         except all
         select name, bucket, sum(users)::int8 from ${sql(table)} where project_id = ${projectId} group by 1, 2)) x`
    return r.wrong
  }
  const usersPerDay = await counter('user_counts_day', bucketOf.day)
  const usersPerHour = await counter('user_counts_hour', `date_trunc('hour', "timestamp", 'UTC')`)
  expect({ minute: minute.wrong, hour: hour.wrong, usersDay: users.wrong, usersPerDay, usersPerHour })
    .toEqual({ minute: 0, hour: 0, usersDay: 0, usersPerDay: 0, usersPerHour: 0 })
}

