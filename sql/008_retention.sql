-- Retention per project (src/store/retention.ts): events older than this many whole
-- UTC days are removed, with their rollups. 0: kept forever; null: the project
-- follows RETENTION_DAYS_DEFAULT (whose 0 is forever too).
alter table projects add column retention_days integer check (retention_days is null or retention_days between 0 and 36600);

-- User erasure jobs (src/store/erasure.ts). A job is a row here before its request
-- is answered, so an erasure once answered survives a crash and is resumed; each of
-- its batches deletes events and corrects their rollups in one statement.
create table erasures (
  project_id    bigint not null,
  id            bigint generated always as identity,
  -- Which column names the user: user_id or anonymous_id.
  kind          text not null check (kind in ('user_id', 'anonymous_id')),
  user_key      text not null,
  status        text not null default 'pending' check (status in ('pending', 'running', 'waiting_for_spill', 'done')),
  events_erased bigint not null default 0,
  requested_at  timestamptz not null default now(),
  finished_at   timestamptz,
  primary key (project_id, id)
);
create index erasures_open on erasures (id) where status <> 'done';

-- Which Inlet process runs the lifecycle pass (partitions, the move, retention):
-- a lease renewed between steps, so one process at a time does it and another
-- takes over when a holder dies. A lease row, not a session advisory lock: that
-- would pin one pooled connection for the whole pass.
create table lifecycle_lease (
  one         boolean primary key default true check (one),
  holder      text not null,
  expires_at  timestamptz not null
);
