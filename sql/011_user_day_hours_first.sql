-- Each user-day membership row also says in which UTC hours of that day the user did
-- the event (`hours`: bit h set = some event in hour h, 0..23) and when they first did
-- it that day (`first_at`). Distinct users per hour are then counted from these rows
-- (a few per user and day) instead of raw events, exactly, and funnels join users'
-- first times per day instead of scanning every step's events. The flusher upserts a
-- row only when an event brings a new hour bit or an earlier first time, so a user's
-- repeated events in one hour change nothing (and the membership cache skips them
-- before they reach Postgres). Neither column is indexed: updates stay HOT.

alter table event_users_day
  add column hours int4 not null default 0,
  add column first_at timestamptz;

-- Backfill from the events stored before this migration.
update event_users_day d set hours = x.hours, first_at = x.first_at
from (
  select project_id, n as name, ("timestamp" at time zone 'UTC')::date as day, coalesce(user_id, anonymous_id) as user_key,
         bit_or(1 << extract(hour from "timestamp" at time zone 'UTC')::int) as hours, min("timestamp") as first_at
  from events, lateral (values (name), ('')) as v(n)
  where coalesce(user_id, anonymous_id) is not null
  group by 1, 2, 3, 4
) x
where d.project_id = x.project_id and d.name = x.name and d.day = x.day and d.user_key = x.user_key;

-- A row without a first time would silently drop its user from funnels: every
-- writer must say it.
alter table event_users_day alter column first_at set not null;
alter table event_users_day alter column hours drop default;
