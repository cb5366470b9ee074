-- Striped rollup counters. Concurrent flush transactions that count the same
-- (project, bucket, name) used to upsert the same row, so the second waited for the
-- first to commit: two flushers ran one after the other (Lock/transactionid in
-- pg_stat_activity) and fsyncs never overlapped. Each concurrent writer now owns a
-- shard of every counter row; readers sum the shards (reports already sum by bucket).
-- At most FLUSHERS + 1 shards per bucket, so the read cost is unchanged in practice.

alter table event_counts_minute add column shard smallint not null default 0;
alter table event_counts_minute drop constraint event_counts_minute_pkey;
alter table event_counts_minute add primary key (project_id, bucket, name, shard);

alter table event_counts_hour add column shard smallint not null default 0;
alter table event_counts_hour drop constraint event_counts_hour_pkey;
alter table event_counts_hour add primary key (project_id, bucket, name, shard);
