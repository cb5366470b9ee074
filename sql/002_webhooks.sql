-- Webhook sources: a third party (Stripe, GitHub, any HMAC signer) posting into a
-- project at /v1/webhooks/<token>. The token in the URL is the source's credential,
-- so like an API key only its SHA-256 is stored, beside a short visible prefix.
-- The signing secret must be kept as given: verifying an HMAC needs it.
-- Every unique key is led by project_id, except the token lookup (a token names
-- its project, the way an API key does).

create table webhook_sources (
  project_id            bigint not null references projects(id),
  id                    bigint generated always as identity,
  name                  text not null check (length(name) between 1 and 200),
  scheme                text not null check (scheme in ('stripe', 'github', 'hmac-sha256')),
  secret                text not null,
  -- Rotation: the secret before the last rotation stays valid until this time,
  -- so deliveries signed (or retried) with it during the overlap still verify.
  previous_secret       text,
  previous_expires_at   timestamptz,
  -- Where the event's name and id come from; null means the scheme's default
  -- (JSON paths `type` and `id`; GitHub: X-GitHub-Event and X-GitHub-Delivery).
  name_path             text,
  id_path               text,
  token_prefix          text not null,
  token_sha256          bytea not null unique,
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now(),
  primary key (project_id, id)
);
-- The operator's routes name a source by id alone (/admin/webhook-sources/{id}).
create index webhook_sources_id on webhook_sources (id);
