-- The backfill watches the application's health while it copies: a probe
-- write (one row per migration, committed like an application write) timed
-- while each batch runs; when it is slower than the limit the backfill
-- yields, and says why in `throttled` (NULL when it runs at full speed).
ALTER TABLE switchyard.backfill_progress ADD COLUMN throttled text;

CREATE TABLE switchyard.health_probe (
    migration_name text PRIMARY KEY,
    probed_at      timestamptz NOT NULL
);
