-- Collector tokens: the public credential of tracking code, which anyone can read:
-- a Snowplow tracker (it sends no key, so the token is in its collector URL,
-- /v1/snowplow/<token>/com.snowplowanalytics.snowplow/tp2), or a browser page's
-- posthog-js, analytics.js or rudderstack-js (as their project token or write key).
-- It grants only writing events into its project; the operator revokes it
-- (revoked_at) and creates another. Like an API key, only its SHA-256 is
-- stored, beside the short visible prefix that names it for listing and revocation.
-- Every unique key is led by project_id, except the two lookups a token is found by
-- (its hash, for a request; its prefix, for the operator), as for api_keys.

create table collector_tokens (
  project_id    bigint not null references projects(id),
  id            bigint generated always as identity,
  name          text not null check (length(name) between 1 and 200),
  token_prefix  text not null unique,
  token_sha256  bytea not null unique,
  created_at    timestamptz not null default now(),
  revoked_at    timestamptz,
  primary key (project_id, id)
);
