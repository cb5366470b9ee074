-- Acknowledged events that Postgres refused as data errors (SQLSTATE classes 22, 23
-- and 54: a constraint an operator added, a value too large for an index, …). Such
-- an event was answered 200 from the local spill before Postgres saw it, so it must
-- not disappear: the drainer moves it here, in the same transaction that stores the
-- rows replayed with it, and an operator lists it (GET /admin/dead-letter) and
-- replays it after a fix (POST /admin/dead-letter/replay). Only data errors land
-- here; anything else ("not now") stays in the spill and is retried.
--
-- Columns are plain text where events has jsonb: what Postgres refused as a value
-- must still fit here. The verdict trail says what the client was told and when.

create table dead_letter (
  project_id      bigint not null,
  id              text not null,
  type            text not null,
  name            text not null,
  "timestamp"     timestamptz not null,
  received_at     timestamptz not null,
  user_id         text,
  anonymous_id    text,
  session_id      text,
  properties      text not null,
  context         text not null,
  -- What the client was told, by which path, and when that answer was made durable.
  acked_status    text not null default 'accepted',
  acked_via       text not null default 'spill',
  spilled_at      timestamptz,
  sqlstate        text not null,
  error           text not null,
  attempts        integer not null default 1,
  first_failed_at timestamptz not null default now(),
  last_failed_at  timestamptz not null default now(),
  primary key (project_id, id)
);
create index dead_letter_failed on dead_letter (first_failed_at, project_id, id);
