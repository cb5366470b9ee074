-- The shared rate limit (INLET_PROCESSES > 1, or several hosts): one token bucket
-- per project, from which each Inlet process leases a chunk of tokens at a time
-- (src/store/rate-leases.ts), so requests cost no round trip and the plan holds
-- across processes. Refilled lazily at rate_limit_rpm / 60 per second by the
-- lease itself, on Postgres's clock (one clock for every host). Keyed by
-- project_id, like every table, so it shards with the project (Citus).
create table if not exists rate_limit_buckets (
  project_id  bigint primary key references projects (id) on delete cascade,
  tokens      double precision not null,
  updated_at  timestamptz not null,
  -- What the last lease took (RETURNING sees only the new row).
  granted     integer not null default 0
);
