// The distinct-user counters (sql/013: user_counts_day, user_counts_hour) that a set
// of membership rows adds to, as two CTEs named cd and ch: the write statement uses
// it for the rows it inserts or gives new hour bits, erasure for the rows it deletes
// (sign -1) and rebuilds. `rows` has project_id, name, day and the columns named by
// `isNew` (which rows are new users of their day) and `bits` (the hours whose users
// they are new to).

export function userCountsCtes(o: { rows: string; shard: string; isNew: string; bits: string; sign?: 1 | -1 }): string {
  const n = o.sign === -1 ? '-count(*)' : 'count(*)'
  return `
  cd as (
    insert into user_counts_day (project_id, name, bucket, shard, users)
    select project_id, name, day, ${o.shard}, ${n} from ${o.rows} where ${o.isNew}
    group by 1, 2, 3 order by 1, 2, 3
    on conflict (project_id, bucket, name, shard) do update set users = user_counts_day.users + excluded.users
  ), ch as (
    insert into user_counts_hour (project_id, name, bucket, shard, users)
    select project_id, name, day::timestamp at time zone 'UTC' + h * interval '1 hour', ${o.shard}, ${n}
    from ${o.rows}, generate_series(0, 23) h where ${o.bits} & (1 << h) <> 0
    group by 1, 2, 3 order by 1, 2, 3
    on conflict (project_id, bucket, name, shard) do update set users = user_counts_hour.users + excluded.users
  )`
}
