-- Retention per project (src/store/retention.ts): events older than this many whole
-- UTC days are removed, with their rollups. Null: RETENTION_DAYS_DEFAULT applies
-- (and when that is 0, the project keeps its events forever); 0: forever, whatever the default.
alter table projects add column retention_days integer check (retention_days is null or retention_days between 0 and 36600);
