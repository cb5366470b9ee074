-- Events partitioned by event time (one partition per UTC day, created ahead by
-- src/store/partitions.ts), so that retention drops whole days instead of deleting
-- rows. Postgres has no unique index across partitions, so the uniqueness of
-- (project_id, id) moves to event_ids: the write statement inserts a row's id there
-- first (ON CONFLICT DO NOTHING) and stores in events only the rows whose id went
-- in. event_ids also keeps the event's timestamp, so that a get-by-id reads one
-- partition (pruned by that timestamp) instead of probing every one.
--
-- An existing, filled events table is moved over online (src/store/partitions.ts):
-- until it is, writes go to it as before, and a statement trigger mirrors every new
-- row into the partitioned table and its id into event_ids; a copier moves the rows
-- that were there before in short keyset batches; when it has passed them all, one
-- short transaction swaps the names. On an empty events table (a new install) the
-- swap happens here, at once.

create table event_ids (
  project_id   bigint not null,
  id           text not null,
  "timestamp"  timestamptz not null,
  primary key (project_id, id)
);

create table events_part (like events including defaults) partition by range ("timestamp");
-- The same reads as sql/001 and sql/003, without the (project_id, id) key: event_ids has it.
create index events_p_project_time on events_part (project_id, "timestamp" desc, id desc);
create index events_p_project_name_time_users on events_part (project_id, name, "timestamp") include (user_id, anonymous_id);
create index events_p_project_user_time on events_part (project_id, user_id, "timestamp") where user_id is not null;
-- Rows whose day has no partition (far past or future clocks, or a day not yet
-- created) land here, never refused; partitions.ts moves them into their day.
create table events_default partition of events_part default;

-- Where the online move of a filled table has got to: the last (project_id, id) copied.
create table events_move (
  one         boolean primary key default true check (one),
  project_id  bigint not null,
  id          text not null,
  started_at  timestamptz not null default now()
);

create function events_mirror() returns trigger language plpgsql as $$
begin
  insert into event_ids (project_id, id, "timestamp") select project_id, id, "timestamp" from new_rows on conflict do nothing;
  insert into events_part select * from new_rows;
  return null;
end $$;

do $$
begin
  -- Taken first, so no write lands between the check and what follows (held to the
  -- end of the migration's transaction: the length of a few CREATEs).
  lock table events in access exclusive mode;
  if exists (select 1 from events limit 1) then
    create trigger events_mirror after insert on events referencing new table as new_rows
      for each statement execute function events_mirror();
    insert into events_move (project_id, id) values (-1, '');
  else
    -- New install (or nothing stored yet): swap now.
    drop table events;
    alter table events_part rename to events;
    drop function events_mirror();
  end if;
end $$;
