-- Projects, API keys and events: the store of record.
-- Every unique key is led by project_id so the schema can be sharded by project
-- (Citus) or partitioned by time later without changing its keys.

create table projects (
  id              bigint generated always as identity primary key,
  name            text not null check (length(name) between 1 and 200),
  plan            text not null default 'free' check (plan in ('free', 'pro', 'enterprise')),
  rate_limit_rpm  integer check (rate_limit_rpm is null or rate_limit_rpm > 0),
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);

-- Only the SHA-256 of a key is stored; `prefix` is the short visible part that
-- lets an operator name a key (for revocation) without being able to use it.
create table api_keys (
  prefix      text primary key,
  project_id  bigint not null references projects(id),
  key_sha256  bytea not null unique,
  created_at  timestamptz not null default now(),
  revoked_at  timestamptz
);
create index api_keys_project on api_keys (project_id);

create table events (
  project_id    bigint not null,
  id            text not null,
  type          text not null,
  name          text not null,
  "timestamp"   timestamptz not null,
  received_at   timestamptz not null,
  user_id       text,
  anonymous_id  text,
  session_id    text,
  properties    jsonb not null,
  context       jsonb not null,
  primary key (project_id, id)
);

-- The list endpoint walks (timestamp desc, id desc) with a keyset cursor; counts
-- reports scan a time range. One index serves both.
create index events_project_time on events (project_id, "timestamp" desc, id desc);
-- Filtered lists (name=, user_id=) and funnels (one scan per step name).
create index events_project_name_time on events (project_id, name, "timestamp");
create index events_project_user_time on events (project_id, user_id, "timestamp") where user_id is not null;

-- Event counts per minute, upserted by the flusher in the same transaction as the
-- events it counts, so a counts report is never ahead of or behind the events.
create table event_counts_minute (
  project_id  bigint not null,
  name        text not null,
  bucket      timestamptz not null,
  events      bigint not null,
  primary key (project_id, bucket, name)
);
