-- Credentials and plans changed by any process (or by hand in psql) are announced on
-- the `inlet` channel (src/store/bus.ts), so every Inlet process forgets its cached
-- keys, tokens and plans at once instead of after KEY_CACHE_TTL_MS. One notice per
-- statement; only updates and deletes (a new key or project is not cached yet).
create or replace function inlet_credentials_changed() returns trigger language plpgsql as $$
begin
  perform pg_notify('inlet', '{"k":"credentials","table":"' || tg_table_name || '"}');
  return null;
end $$;

drop trigger if exists inlet_credentials_changed on projects;
create trigger inlet_credentials_changed after update or delete on projects
  for each statement execute function inlet_credentials_changed();
drop trigger if exists inlet_credentials_changed on api_keys;
create trigger inlet_credentials_changed after update or delete on api_keys
  for each statement execute function inlet_credentials_changed();
drop trigger if exists inlet_credentials_changed on webhook_sources;
create trigger inlet_credentials_changed after update or delete on webhook_sources
  for each statement execute function inlet_credentials_changed();
drop trigger if exists inlet_credentials_changed on collector_tokens;
create trigger inlet_credentials_changed after update or delete on collector_tokens
  for each statement execute function inlet_credentials_changed();
