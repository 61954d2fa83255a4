-- ===== phase 1 =====
-- create table user_preferences (one transaction, lock_timeout, retried)
SET LOCAL TimeZone = 'UTC';

SET LOCAL DateStyle = 'ISO, MDY';

SET LOCAL extra_float_digits = 1;

SET LOCAL jit = off;

CREATE TABLE IF NOT EXISTS "public"."user_preferences" (
    "user_id" bigint NOT NULL,
    "theme" text NOT NULL DEFAULT ('system')::text CHECK ("theme" IN ('light', 'dark', 'system')),
    "language" text NOT NULL DEFAULT ('en')::text,
    "timezone" text NOT NULL DEFAULT ('UTC')::text,
    PRIMARY KEY ("user_id")
);

-- create index user_preferences_theme_idx (outside a transaction, lock_timeout, retried)
DROP INDEX CONCURRENTLY IF EXISTS "public"."user_preferences_theme_idx";

CREATE INDEX CONCURRENTLY IF NOT EXISTS "user_preferences_theme_idx" ON "public"."user_preferences" ("theme");

-- foreign key of user_preferences (not valid) (one transaction, lock_timeout, retried)
ALTER TABLE "public"."user_preferences" ADD CONSTRAINT "sy_user_preferences_b93a2f57_fk_0" FOREIGN KEY ("user_id") REFERENCES "public"."users" ("id") ON UPDATE CASCADE ON DELETE CASCADE NOT VALID;

-- validate the foreign key of user_preferences (one transaction, lock_timeout, retried)
ALTER TABLE "public"."user_preferences" VALIDATE CONSTRAINT "sy_user_preferences_b93a2f57_fk_0";

-- create table notification_preferences (one transaction, lock_timeout, retried)
SET LOCAL TimeZone = 'UTC';

SET LOCAL DateStyle = 'ISO, MDY';

SET LOCAL extra_float_digits = 1;

SET LOCAL jit = off;

CREATE TABLE IF NOT EXISTS "public"."notification_preferences" (
    "user_id" bigint NOT NULL,
    "channel" text NOT NULL CHECK ("channel" IN ('email', 'push', 'sms')),
    "enabled" boolean NOT NULL DEFAULT (true)::boolean,
    "frequency" text NOT NULL DEFAULT ('daily')::text CHECK ("frequency" IN ('instant', 'daily', 'weekly', 'never')),
    PRIMARY KEY ("user_id", "channel")
);

-- create index notification_preferences_channel_enabled_idx (outside a transaction, lock_timeout, retried)
DROP INDEX CONCURRENTLY IF EXISTS "public"."notification_preferences_channel_enabled_idx";

CREATE INDEX CONCURRENTLY IF NOT EXISTS "notification_preferences_channel_enabled_idx" ON "public"."notification_preferences" ("channel", "enabled");

-- foreign key of notification_preferences (not valid) (one transaction, lock_timeout, retried)
ALTER TABLE "public"."notification_preferences" ADD CONSTRAINT "sy_user_preferences_b93a2f57_fk_1" FOREIGN KEY ("user_id") REFERENCES "public"."users" ("id") ON UPDATE CASCADE ON DELETE CASCADE NOT VALID;

-- validate the foreign key of notification_preferences (one transaction, lock_timeout, retried)
ALTER TABLE "public"."notification_preferences" VALIDATE CONSTRAINT "sy_user_preferences_b93a2f57_fk_1";

-- create the mapping and sync functions (one transaction, lock_timeout, retried)
CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_apply"(keys bigint[], backfill boolean, lock_rows boolean, write_0 boolean DEFAULT true, write_1 boolean DEFAULT true, OUT n_rows bigint, OUT n_quarantined bigint) RETURNS record
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off SET plan_cache_mode = auto
AS $sy$
#variable_conflict use_variable
DECLARE
  n_written bigint;
  bad bigint[];
  dirty text[];
  waiting text[];
  counted bigint[];
BEGIN
IF NOT backfill THEN
  IF current_setting('switchyard.rows_held', true) IS DISTINCT FROM 'on' THEN
    PERFORM 1 FROM "public"."users" s WHERE s."id" = ANY(keys) ORDER BY s."id" FOR NO KEY UPDATE;
  END IF;
  LOCK TABLE "public"."user_preferences" IN ROW EXCLUSIVE MODE;
  IF current_setting('transaction_isolation') <> 'read committed' OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = '"public"."user_preferences"'::regclass AND g.tgname IN ('sy_user_preferences_b93a2f57_rev', 'sy_user_preferences_b93a2f57_ctr')) THEN
    PERFORM 1 FROM "public"."user_preferences" t WHERE t."user_id" = ANY(keys) FOR UPDATE;
  END IF;
  LOCK TABLE "public"."notification_preferences" IN ROW EXCLUSIVE MODE;
  IF current_setting('transaction_isolation') <> 'read committed' OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = '"public"."notification_preferences"'::regclass AND g.tgname IN ('sy_user_preferences_b93a2f57_rev', 'sy_user_preferences_b93a2f57_ctr')) THEN
    PERFORM 1 FROM "public"."notification_preferences" t WHERE t."user_id" = ANY(keys) FOR UPDATE;
  END IF;
  WITH d AS (DELETE FROM switchyard.sync_queue q WHERE q.migration_name = 'user-preferences' AND q.kind = 'forward' AND q.source_key = ANY(keys::text[]) RETURNING q.source_key)
  SELECT array_agg(d.source_key) FROM d INTO dirty;
  SELECT array_agg(q.source_key) FROM switchyard.sync_queue q WHERE q.migration_name = 'user-preferences' AND q.kind IN ('reverse', 'contract') AND q.source_key = ANY(keys::text[]) INTO waiting;
  IF waiting IS NOT NULL THEN
    PERFORM switchyard."sy_user_preferences_b93a2f57_replay"(ARRAY['reverse', 'contract'], keys, NULL, false);
    dirty := dirty || waiting;
  END IF;
  WITH d AS (DELETE FROM switchyard.quarantine q WHERE q.migration_name = 'user-preferences' AND q.source_key = ANY(keys::text[]) RETURNING q.source_key)
  SELECT dirty || array_agg(d.source_key) FROM d INTO dirty;
  PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
  IF NOT (write_0 AND write_1) AND EXISTS (SELECT 1 FROM switchyard.capture_log c WHERE c.migration_name = 'user-preferences') THEN
    SELECT dirty || array_agg(DISTINCT c.source_key) FROM switchyard.capture_log c WHERE c.migration_name = 'user-preferences' AND c.source_key = ANY(keys::text[]) INTO dirty;
  END IF;
ELSIF lock_rows THEN
  PERFORM 1 FROM "public"."users" s WHERE s."id" = ANY(keys) ORDER BY s."id" FOR KEY SHARE;
END IF;
IF backfill THEN
  IF EXISTS (SELECT 1 FROM "public"."user_preferences" t WHERE t."user_id" BETWEEN keys[1] AND keys[cardinality(keys)]) THEN
    DELETE FROM "public"."user_preferences" t WHERE t."user_id" = ANY(keys);
  END IF;
  IF EXISTS (SELECT 1 FROM "public"."notification_preferences" t WHERE t."user_id" BETWEEN keys[1] AND keys[cardinality(keys)]) THEN
    DELETE FROM "public"."notification_preferences" t WHERE t."user_id" = ANY(keys);
  END IF;
WITH sy_doc AS MATERIALIZED (
  SELECT s."id" AS k, s."preferences" AS d, (CASE WHEN s."preferences" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."preferences") <> 'object' THEN 'document is ' || jsonb_typeof(s."preferences") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."preferences" -> 'theme')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."preferences" ->> 'theme') NOT IN ('light', 'dark', 'system') THEN 'theme' || ': value ' || (s."preferences" ->> 'theme') || ' is not allowed' ELSE NULL END ELSE 'theme' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'theme')) END,
        CASE coalesce(jsonb_typeof((s."preferences" -> 'language')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'language' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'language')) END,
        CASE coalesce(jsonb_typeof((s."preferences" -> 'timezone')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'timezone' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'timezone')) END,
        CASE WHEN (s."preferences" -> 'notifications') IS NOT NULL AND jsonb_typeof((s."preferences" -> 'notifications')) NOT IN ('object', 'null') THEN 'notifications: expected object, got ' || jsonb_typeof((s."preferences" -> 'notifications')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."preferences" -> 'notifications')) = 'object' THEN (s."preferences" -> 'notifications') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN e.key NOT IN ('email', 'push', 'sms') THEN 'notifications: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'notifications.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'enabled')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE ('notifications.' || e.key || '.enabled') || ': expected boolean, got ' || jsonb_typeof((e.value -> 'enabled')) END, CASE coalesce(jsonb_typeof((e.value -> 'frequency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (e.value ->> 'frequency') NOT IN ('instant', 'daily', 'weekly', 'never') THEN ('notifications.' || e.key || '.frequency') || ': value ' || (e.value ->> 'frequency') || ' is not allowed' ELSE NULL END ELSE ('notifications.' || e.key || '.frequency') || ': expected string, got ' || jsonb_typeof((e.value -> 'frequency')) END) IS NOT NULL) THEN 'entry' END) END IS NULL) AS ok
  FROM "public"."users" s WHERE s."id" = ANY(keys)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
q AS (
  INSERT INTO switchyard.quarantine (migration_name, source_key, reason, document)
  SELECT 'user-preferences', c.k::text, CASE WHEN c.d IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(c.d) <> 'object' THEN 'document is ' || jsonb_typeof(c.d) || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((c.d -> 'theme')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (c.d ->> 'theme') NOT IN ('light', 'dark', 'system') THEN 'theme' || ': value ' || (c.d ->> 'theme') || ' is not allowed' ELSE NULL END ELSE 'theme' || ': expected string, got ' || jsonb_typeof((c.d -> 'theme')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'language')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'language' || ': expected string, got ' || jsonb_typeof((c.d -> 'language')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'timezone')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'timezone' || ': expected string, got ' || jsonb_typeof((c.d -> 'timezone')) END,
        CASE WHEN (c.d -> 'notifications') IS NOT NULL AND jsonb_typeof((c.d -> 'notifications')) NOT IN ('object', 'null') THEN 'notifications: expected object, got ' || jsonb_typeof((c.d -> 'notifications')) END,
        (SELECT x.r FROM (SELECT coalesce(CASE WHEN e.key NOT IN ('email', 'push', 'sms') THEN 'notifications: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'notifications.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'enabled')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE ('notifications.' || e.key || '.enabled') || ': expected boolean, got ' || jsonb_typeof((e.value -> 'enabled')) END, CASE coalesce(jsonb_typeof((e.value -> 'frequency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (e.value ->> 'frequency') NOT IN ('instant', 'daily', 'weekly', 'never') THEN ('notifications.' || e.key || '.frequency') || ': value ' || (e.value ->> 'frequency') || ' is not allowed' ELSE NULL END ELSE ('notifications.' || e.key || '.frequency') || ': expected string, got ' || jsonb_typeof((e.value -> 'frequency')) END) AS r FROM jsonb_each((CASE WHEN jsonb_typeof((c.d -> 'notifications')) = 'object' THEN (c.d -> 'notifications') ELSE '{}'::jsonb END)) AS e) x WHERE x.r IS NOT NULL LIMIT 1)) END, c.d FROM sy_doc c WHERE NOT c.ok
  ON CONFLICT (migration_name, source_key) DO UPDATE
    SET reason = EXCLUDED.reason, document = EXCLUDED.document, quarantined_at = now()
  RETURNING 1
),
t0 AS (
  INSERT INTO "public"."user_preferences" AS t ("user_id", "theme", "language", "timezone")
  SELECT x.* FROM (SELECT src.k, coalesce((src.d ->> 'theme'), ('system')::text), coalesce((src.d ->> 'language'), ('en')::text), coalesce((src.d ->> 'timezone'), ('UTC')::text) FROM src OFFSET 0) AS x(sy_k, sy_c0, sy_c1, sy_c2)
  RETURNING 1
),
t1 AS (
  INSERT INTO "public"."notification_preferences" AS t ("user_id", "channel", "enabled", "frequency")
  SELECT x.* FROM (SELECT src.k, e.key, coalesce((e.value ->> 'enabled')::boolean, (true)::boolean), coalesce((e.value ->> 'frequency'), ('daily')::text) FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((src.d -> 'notifications')) = 'object' THEN (src.d -> 'notifications') ELSE '{}'::jsonb END)) AS e OFFSET 0) AS x(sy_k, sy_ek, sy_c0, sy_c1)
  RETURNING 1
),
u AS (
  INSERT INTO switchyard.unmapped_keys (migration_name, key_path, documents)
  SELECT 'user-preferences', x.path, count(*) FROM (SELECT k.key AS path FROM (SELECT src.d - ARRAY['language', 'notifications', 'theme', 'timezone']::text[] AS rest FROM src WHERE jsonb_typeof(src.d) = 'object') r CROSS JOIN LATERAL jsonb_object_keys(r.rest) AS k(key) WHERE r.rest <> '{}'::jsonb
  UNION ALL SELECT 'notifications' || '.*.' || k.key FROM (SELECT e.value - ARRAY['enabled', 'frequency']::text[] AS rest FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((src.d -> 'notifications')) = 'object' THEN (src.d -> 'notifications') ELSE '{}'::jsonb END)) AS e WHERE jsonb_typeof(e.value) = 'object') r CROSS JOIN LATERAL jsonb_object_keys(r.rest) AS k(key) WHERE r.rest <> '{}'::jsonb) AS x WHERE backfill GROUP BY x.path
  ON CONFLICT (migration_name, key_path) DO UPDATE SET documents = switchyard.unmapped_keys.documents + EXCLUDED.documents
  RETURNING 1
)
SELECT (SELECT count(*) FROM sy_doc), (SELECT count(*) FROM q), (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1) + (SELECT count(*) FROM u) INTO n_rows, n_quarantined, n_written;
ELSE
LOOP
WITH sy_doc AS MATERIALIZED (
  SELECT s."id" AS k, s."preferences" AS d, (CASE WHEN s."preferences" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."preferences") <> 'object' THEN 'document is ' || jsonb_typeof(s."preferences") || ', expected an object' ELSE coalesce(CASE WHEN write_0 THEN coalesce(CASE coalesce(jsonb_typeof((s."preferences" -> 'theme')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."preferences" ->> 'theme') NOT IN ('light', 'dark', 'system') THEN 'theme' || ': value ' || (s."preferences" ->> 'theme') || ' is not allowed' ELSE NULL END ELSE 'theme' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'theme')) END,
        CASE coalesce(jsonb_typeof((s."preferences" -> 'language')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'language' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'language')) END,
        CASE coalesce(jsonb_typeof((s."preferences" -> 'timezone')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'timezone' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'timezone')) END) END,
        CASE WHEN write_1 THEN coalesce(CASE WHEN (s."preferences" -> 'notifications') IS NOT NULL AND jsonb_typeof((s."preferences" -> 'notifications')) NOT IN ('object', 'null') THEN 'notifications: expected object, got ' || jsonb_typeof((s."preferences" -> 'notifications')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."preferences" -> 'notifications')) = 'object' THEN (s."preferences" -> 'notifications') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN e.key NOT IN ('email', 'push', 'sms') THEN 'notifications: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'notifications.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'enabled')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE ('notifications.' || e.key || '.enabled') || ': expected boolean, got ' || jsonb_typeof((e.value -> 'enabled')) END, CASE coalesce(jsonb_typeof((e.value -> 'frequency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (e.value ->> 'frequency') NOT IN ('instant', 'daily', 'weekly', 'never') THEN ('notifications.' || e.key || '.frequency') || ': value ' || (e.value ->> 'frequency') || ' is not allowed' ELSE NULL END ELSE ('notifications.' || e.key || '.frequency') || ': expected string, got ' || jsonb_typeof((e.value -> 'frequency')) END) IS NOT NULL) THEN 'entry' END) END) END IS NULL) AS ok
  FROM "public"."users" s WHERE s."id" = ANY(keys)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
t0 AS (
  INSERT INTO "public"."user_preferences" AS t ("user_id", "theme", "language", "timezone")
  SELECT x.* FROM (SELECT src.k, coalesce((src.d ->> 'theme'), ('system')::text), coalesce((src.d ->> 'language'), ('en')::text), coalesce((src.d ->> 'timezone'), ('UTC')::text) FROM src WHERE write_0 OFFSET 0) AS x(sy_k, sy_c0, sy_c1, sy_c2)
  ON CONFLICT ("user_id") DO UPDATE SET "theme" = EXCLUDED."theme", "language" = EXCLUDED."language", "timezone" = EXCLUDED."timezone"
  WHERE ROW(t."theme"::text, t."language"::text, t."timezone"::text) IS DISTINCT FROM ROW(EXCLUDED."theme"::text, EXCLUDED."language"::text, EXCLUDED."timezone"::text)
  RETURNING 1
),
t1 AS (
  INSERT INTO "public"."notification_preferences" AS t ("user_id", "channel", "enabled", "frequency")
  SELECT x.* FROM (SELECT src.k, e.key, coalesce((e.value ->> 'enabled')::boolean, (true)::boolean), coalesce((e.value ->> 'frequency'), ('daily')::text) FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((src.d -> 'notifications')) = 'object' THEN (src.d -> 'notifications') ELSE '{}'::jsonb END)) AS e WHERE write_1 OFFSET 0) AS x(sy_k, sy_ek, sy_c0, sy_c1)
  ON CONFLICT ("user_id", "channel") DO UPDATE SET "enabled" = EXCLUDED."enabled", "frequency" = EXCLUDED."frequency"
  WHERE ROW(t."enabled"::text, t."frequency"::text) IS DISTINCT FROM ROW(EXCLUDED."enabled"::text, EXCLUDED."frequency"::text)
  RETURNING 1
)
SELECT (SELECT count(*) FROM sy_doc), (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1), (SELECT array_agg(c.k) FROM sy_doc c WHERE NOT c.ok) INTO n_rows, n_written, bad;
  n_quarantined := 0;
  IF bad IS NOT NULL THEN
    INSERT INTO switchyard.quarantine (migration_name, source_key, reason, document)
    SELECT 'user-preferences', s."id"::text, CASE WHEN s."preferences" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."preferences") <> 'object' THEN 'document is ' || jsonb_typeof(s."preferences") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."preferences" -> 'theme')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."preferences" ->> 'theme') NOT IN ('light', 'dark', 'system') THEN 'theme' || ': value ' || (s."preferences" ->> 'theme') || ' is not allowed' ELSE NULL END ELSE 'theme' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'theme')) END,
        CASE coalesce(jsonb_typeof((s."preferences" -> 'language')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'language' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'language')) END,
        CASE coalesce(jsonb_typeof((s."preferences" -> 'timezone')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'timezone' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'timezone')) END,
        CASE WHEN (s."preferences" -> 'notifications') IS NOT NULL AND jsonb_typeof((s."preferences" -> 'notifications')) NOT IN ('object', 'null') THEN 'notifications: expected object, got ' || jsonb_typeof((s."preferences" -> 'notifications')) END,
        (SELECT x.r FROM (SELECT coalesce(CASE WHEN e.key NOT IN ('email', 'push', 'sms') THEN 'notifications: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'notifications.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'enabled')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE ('notifications.' || e.key || '.enabled') || ': expected boolean, got ' || jsonb_typeof((e.value -> 'enabled')) END, CASE coalesce(jsonb_typeof((e.value -> 'frequency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (e.value ->> 'frequency') NOT IN ('instant', 'daily', 'weekly', 'never') THEN ('notifications.' || e.key || '.frequency') || ': value ' || (e.value ->> 'frequency') || ' is not allowed' ELSE NULL END ELSE ('notifications.' || e.key || '.frequency') || ': expected string, got ' || jsonb_typeof((e.value -> 'frequency')) END) AS r FROM jsonb_each((CASE WHEN jsonb_typeof((s."preferences" -> 'notifications')) = 'object' THEN (s."preferences" -> 'notifications') ELSE '{}'::jsonb END)) AS e) x WHERE x.r IS NOT NULL LIMIT 1)) END, s."preferences" FROM "public"."users" s WHERE s."id" = ANY(bad)
    ON CONFLICT (migration_name, source_key) DO UPDATE
    SET reason = EXCLUDED.reason, document = EXCLUDED.document, quarantined_at = now();
    GET DIAGNOSTICS n_quarantined = ROW_COUNT;
  END IF;
  IF bad IS NOT NULL THEN
    DELETE FROM "public"."user_preferences" t WHERE t."user_id" = ANY(bad);
  END IF;
  IF bad IS NOT NULL THEN
    DELETE FROM "public"."notification_preferences" t WHERE t."user_id" = ANY(bad);
  END IF;
  IF write_1 THEN
    DELETE FROM "public"."notification_preferences" t WHERE t."user_id" = ANY(keys) AND NOT EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = t."user_id" AND jsonb_typeof((s."preferences" -> 'notifications')) = 'object' AND (s."preferences" -> 'notifications') ? t."channel");
  END IF;
  EXIT WHEN dirty IS NULL OR (write_0 AND write_1);
  IF counted IS NULL THEN counted := ARRAY[n_rows, n_quarantined]; END IF;
  keys := dirty::bigint[]; dirty := NULL; write_0 := true; write_1 := true;
END LOOP;
IF counted IS NOT NULL THEN
  n_rows := counted[1]; n_quarantined := counted[2];
END IF;
END IF;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_map"(keys bigint[], backfill boolean, write_0 boolean DEFAULT true, write_1 boolean DEFAULT true, OUT n_rows bigint, OUT n_quarantined bigint) RETURNS record
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  k bigint;
  one record;
  msg text;
  doc jsonb;
  pending bigint[];
  refused bigint[];
  reasons text[];
  i integer;
BEGIN
n_rows := 0;
n_quarantined := 0;
IF keys IS NULL OR cardinality(keys) = 0 THEN RETURN; END IF;
BEGIN
  SELECT a.n_rows, a.n_quarantined INTO n_rows, n_quarantined FROM switchyard."sy_user_preferences_b93a2f57_apply"(keys, backfill, false, write_0, write_1) a;
  RETURN;
EXCEPTION
  WHEN deadlock_detected OR lock_not_available OR query_canceled OR serialization_failure THEN RAISE;
  WHEN OTHERS THEN NULL;
END;
-- Slow path: one key at a time, rows locked, so one document the database
-- refuses (or a row deleted meanwhile) cannot stop the others. A key refused
-- only because of another key of the set (two rows swapping a unique value)
-- goes through once that one is written: refused keys are tried again as
-- long as a round writes any; those still refused are quarantined with the
-- database's own message.
pending := keys;
LOOP
  refused := '{}';
  reasons := '{}';
  FOREACH k IN ARRAY pending LOOP
    BEGIN
      SELECT a.n_rows, a.n_quarantined INTO one FROM switchyard."sy_user_preferences_b93a2f57_apply"(ARRAY[k], backfill, true, write_0, write_1) a;
      n_rows := n_rows + one.n_rows;
      n_quarantined := n_quarantined + one.n_quarantined;
    EXCEPTION
      WHEN deadlock_detected OR lock_not_available OR query_canceled OR serialization_failure THEN RAISE;
      WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
        refused := refused || k;
        reasons := reasons || msg;
    END;
  END LOOP;
  EXIT WHEN cardinality(refused) = 0 OR cardinality(refused) = cardinality(pending);
  pending := refused;
END LOOP;
FOR i IN 1 .. cardinality(refused) LOOP
  k := refused[i];
  SELECT s."preferences" INTO doc FROM "public"."users" s WHERE s."id" = k;
  IF FOUND THEN
        DELETE FROM "public"."user_preferences" t WHERE t."user_id" = k;
        DELETE FROM "public"."notification_preferences" t WHERE t."user_id" = k;
    INSERT INTO switchyard.quarantine (migration_name, source_key, reason, document)
    VALUES ('user-preferences', k::text, 'the database refused the mapping: ' || reasons[i], doc)
    ON CONFLICT (migration_name, source_key) DO UPDATE
      SET reason = EXCLUDED.reason, document = EXCLUDED.document, quarantined_at = now();
    n_rows := n_rows + 1;
    n_quarantined := n_quarantined + 1;
  END IF;
END LOOP;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_capture"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys bigint[];
BEGIN
IF TG_OP = 'INSERT' THEN
  SELECT array_agg(n."id" ORDER BY n."id") FROM sy_new n INTO keys;
ELSIF TG_OP = 'DELETE' THEN
  SELECT array_agg(o."id" ORDER BY o."id") FROM sy_old o INTO keys;
ELSE
  SELECT array_agg(DISTINCT coalesce(n."id", o."id") ORDER BY coalesce(n."id", o."id")) FROM sy_new n FULL JOIN sy_old o ON o."id" = n."id"
    WHERE n."id" IS NULL OR o."id" IS NULL OR NOT (o."preferences" IS NOT DISTINCT FROM n."preferences") INTO keys;
END IF;
IF keys IS NOT NULL THEN
  INSERT INTO switchyard.capture_log (migration_name, source_key) SELECT 'user-preferences', k::text FROM unnest(keys) AS k;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_dw"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys bigint[];
  part record;
BEGIN
IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;
PERFORM set_config('switchyard.syncing', 'on', true), set_config('switchyard.rows_held', 'on', true);
BEGIN
  IF TG_OP = 'UPDATE' THEN
    FOR part IN SELECT array_agg(DISTINCT x.k ORDER BY x.k) AS keys, x.w0, x.w1 FROM (
      SELECT coalesce(n."id", o."id") AS k, o."id" IS NULL OR n."id" IS NULL OR NOT ((o."preferences" -> 'language') IS NOT DISTINCT FROM (n."preferences" -> 'language') AND (o."preferences" -> 'theme') IS NOT DISTINCT FROM (n."preferences" -> 'theme') AND (o."preferences" -> 'timezone') IS NOT DISTINCT FROM (n."preferences" -> 'timezone')) AS w0, o."id" IS NULL OR n."id" IS NULL OR NOT ((o."preferences" -> 'notifications') IS NOT DISTINCT FROM (n."preferences" -> 'notifications')) AS w1 FROM sy_new n FULL JOIN sy_old o ON o."id" = n."id"
      WHERE n."id" IS NULL OR o."id" IS NULL OR NOT (o."preferences" IS NOT DISTINCT FROM n."preferences")) x
      GROUP BY x.w0, x.w1 ORDER BY 1 LOOP
      PERFORM switchyard."sy_user_preferences_b93a2f57_apply"(part.keys, false, false, part.w0, part.w1);
    END LOOP;
  ELSE
    IF TG_OP = 'INSERT' THEN
      SELECT array_agg(n."id" ORDER BY n."id") FROM sy_new n INTO keys;
    ELSIF TG_OP = 'DELETE' THEN
      SELECT array_agg(o."id" ORDER BY o."id") FROM sy_old o INTO keys;
    END IF;
    IF keys IS NOT NULL THEN
      PERFORM switchyard."sy_user_preferences_b93a2f57_apply"(keys, false, false);
    END IF;
  END IF;
EXCEPTION
  WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
    IF TG_OP = 'UPDATE' THEN
      SELECT array_agg(DISTINCT coalesce(n."id", o."id") ORDER BY coalesce(n."id", o."id")) FROM sy_new n FULL JOIN sy_old o ON o."id" = n."id"
        WHERE n."id" IS NULL OR o."id" IS NULL OR NOT (o."preferences" IS NOT DISTINCT FROM n."preferences") INTO keys;
    END IF;
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key)
    SELECT 'user-preferences', 'forward', k::text FROM unnest(keys) AS k;
  WHEN OTHERS THEN
    -- The database refused something the checks let through: what the
    -- block wrote is undone, and map takes every key again (an INSERT's or
    -- DELETE's read again: the error may have come before they were).
    IF TG_OP = 'INSERT' THEN
      SELECT array_agg(n."id" ORDER BY n."id") FROM sy_new n INTO keys;
    ELSIF TG_OP = 'DELETE' THEN
      SELECT array_agg(o."id" ORDER BY o."id") FROM sy_old o INTO keys;
    END IF;
    BEGIN
      IF TG_OP = 'UPDATE' THEN
        FOR part IN SELECT array_agg(DISTINCT x.k ORDER BY x.k) AS keys, x.w0, x.w1 FROM (
          SELECT coalesce(n."id", o."id") AS k, o."id" IS NULL OR n."id" IS NULL OR NOT ((o."preferences" -> 'language') IS NOT DISTINCT FROM (n."preferences" -> 'language') AND (o."preferences" -> 'theme') IS NOT DISTINCT FROM (n."preferences" -> 'theme') AND (o."preferences" -> 'timezone') IS NOT DISTINCT FROM (n."preferences" -> 'timezone')) AS w0, o."id" IS NULL OR n."id" IS NULL OR NOT ((o."preferences" -> 'notifications') IS NOT DISTINCT FROM (n."preferences" -> 'notifications')) AS w1 FROM sy_new n FULL JOIN sy_old o ON o."id" = n."id"
          WHERE n."id" IS NULL OR o."id" IS NULL OR NOT (o."preferences" IS NOT DISTINCT FROM n."preferences")) x
          GROUP BY x.w0, x.w1 ORDER BY 1 LOOP
          PERFORM switchyard."sy_user_preferences_b93a2f57_map"(part.keys, false, part.w0, part.w1);
        END LOOP;
      ELSE
        PERFORM switchyard."sy_user_preferences_b93a2f57_map"(keys, false);
      END IF;
    EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
      IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT coalesce(n."id", o."id") ORDER BY coalesce(n."id", o."id")) FROM sy_new n FULL JOIN sy_old o ON o."id" = n."id"
          WHERE n."id" IS NULL OR o."id" IS NULL OR NOT (o."preferences" IS NOT DISTINCT FROM n."preferences") INTO keys;
      END IF;
      INSERT INTO switchyard.sync_queue (migration_name, kind, source_key)
      SELECT 'user-preferences', 'forward', k::text FROM unnest(keys) AS k;
    END;
END;
PERFORM set_config('switchyard.syncing', 'off', true), set_config('switchyard.rows_held', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_wb_0"(doc jsonb, op text, old_row jsonb, new_row jsonb) RETURNS jsonb
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  d jsonb := doc;
  x jsonb;
  v jsonb;
  ek text;
  write boolean;
BEGIN
IF d IS NOT NULL AND jsonb_typeof(d) NOT IN ('object', 'null') THEN RETURN doc; END IF;
IF op = 'DELETE' THEN
  d := switchyard.jsonb_remove(d, '{"theme"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"language"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"timezone"}'::text[]);
  RETURN d;
END IF;
IF op = 'REPLAY_DELETE' THEN
  v := (d -> 'theme');
  IF (CASE WHEN (old_row -> 'theme') IS NULL THEN false WHEN (old_row -> 'theme') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'theme') = to_jsonb(('system')::text), false) ELSE coalesce(v = (old_row -> 'theme'), false) END) END) THEN d := switchyard.jsonb_remove(d, '{"theme"}'::text[]); END IF;
  v := (d -> 'language');
  IF (CASE WHEN (old_row -> 'language') IS NULL THEN false WHEN (old_row -> 'language') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'language') = to_jsonb(('en')::text), false) ELSE coalesce(v = (old_row -> 'language'), false) END) END) THEN d := switchyard.jsonb_remove(d, '{"language"}'::text[]); END IF;
  v := (d -> 'timezone');
  IF (CASE WHEN (old_row -> 'timezone') IS NULL THEN false WHEN (old_row -> 'timezone') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'timezone') = to_jsonb(('UTC')::text), false) ELSE coalesce(v = (old_row -> 'timezone'), false) END) END) THEN d := switchyard.jsonb_remove(d, '{"timezone"}'::text[]); END IF;
  RETURN d;
END IF;
IF d IS NULL OR d = 'null'::jsonb THEN d := '{}'::jsonb; END IF;
x := new_row -> 'theme';
v := (d -> 'theme');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'theme')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'theme') IS NULL THEN false WHEN (old_row -> 'theme') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'theme') = to_jsonb(('system')::text), false) ELSE coalesce(v = (old_row -> 'theme'), false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"theme"}'::text[]); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb(('system')::text), false) ELSE coalesce(v = x, false) END) THEN
    d := switchyard.jsonb_put(d, '{"theme"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'language';
v := (d -> 'language');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'language')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'language') IS NULL THEN false WHEN (old_row -> 'language') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'language') = to_jsonb(('en')::text), false) ELSE coalesce(v = (old_row -> 'language'), false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"language"}'::text[]); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb(('en')::text), false) ELSE coalesce(v = x, false) END) THEN
    d := switchyard.jsonb_put(d, '{"language"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'timezone';
v := (d -> 'timezone');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'timezone')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'timezone') IS NULL THEN false WHEN (old_row -> 'timezone') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'timezone') = to_jsonb(('UTC')::text), false) ELSE coalesce(v = (old_row -> 'timezone'), false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"timezone"}'::text[]); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb(('UTC')::text), false) ELSE coalesce(v = x, false) END) THEN
    d := switchyard.jsonb_put(d, '{"timezone"}'::text[], x);
  END IF;
END IF;
RETURN d;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_rsync_0"(op text, old_row jsonb, new_row jsonb) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  d jsonb;
  nd jsonb;
  ok bigint;
  nk bigint;
  moved boolean;
BEGIN
ok := (old_row ->> 'user_id')::bigint;
nk := (new_row ->> 'user_id')::bigint;
moved := op = 'UPDATE' AND (ok IS DISTINCT FROM nk);
IF moved AND ok IS DISTINCT FROM nk AND (NOT EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = ok) OR EXISTS (SELECT 1 FROM "public"."user_preferences" x WHERE x."user_id" = ok)) THEN
  -- A cascaded source key update: the document moved with the row, and
  -- the dual-write has already mapped it; the row's image is older.
  RETURN;
END IF;
IF op = 'REPLAY_DELETE' THEN
  SELECT s."preferences" INTO d FROM "public"."users" s WHERE s."id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_user_preferences_b93a2f57_wb_0"(d, op, old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."users" s SET "preferences" = nd WHERE s."id" = ok; END IF;
  END IF;
  RETURN;
END IF;
IF op = 'DELETE' OR moved THEN
  SELECT s."preferences" INTO d FROM "public"."users" s WHERE s."id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_user_preferences_b93a2f57_wb_0"(d, 'DELETE', old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."users" s SET "preferences" = nd WHERE s."id" = ok; END IF;
  END IF;
END IF;
IF op <> 'DELETE' THEN
  SELECT s."preferences" INTO d FROM "public"."users" s WHERE s."id" = nk FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_user_preferences_b93a2f57_wb_0"(d, CASE WHEN moved THEN 'SYNC' ELSE op END, old_row, new_row);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."users" s SET "preferences" = nd WHERE s."id" = nk; END IF;
  END IF;
END IF;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_resync_0"(k bigint, entry text, first_op text, baseline jsonb, deleted boolean) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  img jsonb;
  prev text;
BEGIN
prev := current_setting('switchyard.syncing', true);
PERFORM set_config('switchyard.syncing', 'on', true);
SELECT to_jsonb(t.*) INTO img FROM "public"."user_preferences" t WHERE t."user_id" = k FOR SHARE;
IF first_op IS NULL THEN
  IF FOUND THEN
    PERFORM switchyard."sy_user_preferences_b93a2f57_rsync_0"('SYNC', NULL, img);
  ELSE
    PERFORM switchyard."sy_user_preferences_b93a2f57_rsync_0"('DELETE', jsonb_build_object('user_id', k), NULL);
  END IF;
ELSIF FOUND THEN
  PERFORM switchyard."sy_user_preferences_b93a2f57_rsync_0"(CASE WHEN first_op = 'INSERT' THEN 'REPLAY_INSERT' ELSE 'REPLAY' END, baseline, img);
ELSIF first_op <> 'INSERT' AND deleted THEN
  PERFORM switchyard."sy_user_preferences_b93a2f57_rsync_0"('REPLAY_DELETE', coalesce(baseline, '{}'::jsonb) || jsonb_build_object('user_id', k), NULL);
END IF;
PERFORM set_config('switchyard.syncing', coalesce(prev, 'off'), true);
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_rev_0"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  old_img jsonb;
  new_img jsonb;
BEGIN
IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;
PERFORM set_config('switchyard.syncing', 'on', true);
IF TG_OP <> 'INSERT' THEN old_img := to_jsonb(OLD); END IF;
IF TG_OP <> 'DELETE' THEN new_img := to_jsonb(NEW); END IF;
BEGIN
  PERFORM switchyard."sy_user_preferences_b93a2f57_rsync_0"(TG_OP, old_img, new_img);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('user-preferences', 'reverse', NEW."user_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
  ELSIF TG_OP = 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = OLD."user_id") THEN
      INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
      VALUES ('user-preferences', 'reverse', OLD."user_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD));
    END IF;
  ELSIF OLD."user_id" IS DISTINCT FROM NEW."user_id" AND NULL::text IS NOT DISTINCT FROM NULL::text
        AND (NOT EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = OLD."user_id") OR EXISTS (SELECT 1 FROM "public"."user_preferences" x WHERE x."user_id" = OLD."user_id")) THEN
    -- The cascade of a source key update: the document moved with its row,
    -- and the source's triggers moved the key's queued writes before this
    -- fires. The row is unchanged: nothing to remember.
    NULL;
  ELSIF (OLD."user_id", NULL::text) IS DISTINCT FROM (NEW."user_id", NULL::text) THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('user-preferences', 'reverse', OLD."user_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD)), ('user-preferences', 'reverse', NEW."user_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
  ELSE
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    SELECT c.* FROM (VALUES ('user-preferences', 'reverse', NEW."user_id"::text, 0, NULL::text, 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
  END IF;
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_0"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys bigint[];
  pending bigint[];
BEGIN
IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;
IF TG_OP = 'INSERT' THEN
  SELECT array_agg(DISTINCT n."user_id") INTO keys FROM sy_new n;
ELSIF TG_OP = 'DELETE' THEN
  SELECT array_agg(DISTINCT o."user_id") INTO keys FROM sy_old o;
ELSE
  SELECT array_agg(DISTINCT x.k) INTO keys FROM (SELECT n."user_id" AS k FROM sy_new n UNION SELECT o."user_id" FROM sy_old o) x;
END IF;
SELECT array_agg(DISTINCT q.source_key::bigint) INTO pending FROM switchyard.sync_queue q
WHERE q.migration_name = 'user-preferences' AND q.kind = 'forward' AND q.source_key = ANY(keys::text[]);
IF pending IS NULL THEN RETURN NULL; END IF;
PERFORM set_config('switchyard.syncing', 'on', true);
BEGIN
  PERFORM switchyard."sy_user_preferences_b93a2f57_map"(pending, false);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  NULL; -- still queued: the next writer of these keys, or the engine, does it
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_ctr_0"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'INSERT' THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('user-preferences', 'contract', NEW."user_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
ELSIF TG_OP = 'DELETE' THEN
  IF EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = OLD."user_id") THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('user-preferences', 'contract', OLD."user_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD));
  END IF;
ELSIF OLD."user_id" IS DISTINCT FROM NEW."user_id" AND NULL::text IS NOT DISTINCT FROM NULL::text
      AND (NOT EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = OLD."user_id") OR EXISTS (SELECT 1 FROM "public"."user_preferences" x WHERE x."user_id" = OLD."user_id")) THEN
  -- The cascade of a source key update: the document moved with its row,
  -- and the source's triggers moved the key's queued writes before this
  -- fires. The row is unchanged: nothing to remember.
  NULL;
ELSIF (OLD."user_id", NULL::text) IS DISTINCT FROM (NEW."user_id", NULL::text) THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('user-preferences', 'contract', OLD."user_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD)), ('user-preferences', 'contract', NEW."user_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
ELSE
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  SELECT c.* FROM (VALUES ('user-preferences', 'contract', NEW."user_id"::text, 0, NULL::text, 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_wb_1"(doc jsonb, op text, old_row jsonb, new_row jsonb) RETURNS jsonb
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  d jsonb := doc;
  x jsonb;
  v jsonb;
  ek text;
  write boolean;
BEGIN
IF d IS NOT NULL AND jsonb_typeof(d) NOT IN ('object', 'null') THEN RETURN doc; END IF;
IF op = 'DELETE' THEN
  RETURN switchyard.jsonb_remove(d, '{"notifications"}'::text[] || (old_row ->> 'channel'));
END IF;
IF op = 'REPLAY_DELETE' THEN
  ek := old_row ->> 'channel';
  IF jsonb_typeof((d -> 'notifications') -> ek) IS DISTINCT FROM 'object' THEN RETURN d; END IF;
  -- The entry goes only if it still is what the row was.
  write := true;
  v := (((d -> 'notifications') -> ek) -> 'enabled');
  write := write AND (CASE WHEN (old_row -> 'enabled') IS NULL THEN false WHEN (old_row -> 'enabled') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'enabled') = to_jsonb((true)::boolean), false) ELSE coalesce(v = (old_row -> 'enabled'), false) END) END);
  v := (((d -> 'notifications') -> ek) -> 'frequency');
  write := write AND (CASE WHEN (old_row -> 'frequency') IS NULL THEN false WHEN (old_row -> 'frequency') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'frequency') = to_jsonb(('daily')::text), false) ELSE coalesce(v = (old_row -> 'frequency'), false) END) END);
  IF write THEN d := switchyard.jsonb_remove(d, '{"notifications"}'::text[] || ek); END IF;
  RETURN d;
END IF;
ek := new_row ->> 'channel';
IF op = 'REPLAY' AND jsonb_typeof((d -> 'notifications') -> ek) IS DISTINCT FROM 'object' THEN RETURN d; END IF;
IF op = 'REPLAY_INSERT' AND jsonb_typeof((d -> 'notifications') -> ek) = 'object' THEN RETURN d; END IF;
IF jsonb_typeof((d -> 'notifications') -> ek) IS DISTINCT FROM 'object' THEN
  -- A new entry gets every column, whatever the write changed.
  d := switchyard.jsonb_put(d, '{"notifications"}'::text[] || ek, '{}'::jsonb);
  IF op = 'UPDATE' THEN op := 'INSERT'; END IF;
END IF;
x := new_row -> 'enabled';
v := (((d -> 'notifications') -> ek) -> 'enabled');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'enabled')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'enabled') IS NULL THEN false WHEN (old_row -> 'enabled') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'enabled') = to_jsonb((true)::boolean), false) ELSE coalesce(v = (old_row -> 'enabled'), false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, ('{"notifications"}'::text[] || ek || '{"enabled"}'::text[])); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb((true)::boolean), false) ELSE coalesce(v = x, false) END) THEN
    d := switchyard.jsonb_put(d, ('{"notifications"}'::text[] || ek || '{"enabled"}'::text[]), x);
  END IF;
END IF;
x := new_row -> 'frequency';
v := (((d -> 'notifications') -> ek) -> 'frequency');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'frequency')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'frequency') IS NULL THEN false WHEN (old_row -> 'frequency') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'frequency') = to_jsonb(('daily')::text), false) ELSE coalesce(v = (old_row -> 'frequency'), false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, ('{"notifications"}'::text[] || ek || '{"frequency"}'::text[])); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb(('daily')::text), false) ELSE coalesce(v = x, false) END) THEN
    d := switchyard.jsonb_put(d, ('{"notifications"}'::text[] || ek || '{"frequency"}'::text[]), x);
  END IF;
END IF;
RETURN d;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_rsync_1"(op text, old_row jsonb, new_row jsonb) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  d jsonb;
  nd jsonb;
  ok bigint;
  nk bigint;
  moved boolean;
BEGIN
ok := (old_row ->> 'user_id')::bigint;
nk := (new_row ->> 'user_id')::bigint;
moved := op = 'UPDATE' AND (ok IS DISTINCT FROM nk OR (old_row ->> 'channel') IS DISTINCT FROM (new_row ->> 'channel'));
IF moved AND ok IS DISTINCT FROM nk AND (NOT EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = ok) OR EXISTS (SELECT 1 FROM "public"."notification_preferences" x WHERE x."user_id" = ok AND x."channel" = (old_row ->> 'channel'))) THEN
  -- A cascaded source key update: the document moved with the row, and
  -- the dual-write has already mapped it; the row's image is older.
  RETURN;
END IF;
IF op = 'REPLAY_DELETE' THEN
  SELECT s."preferences" INTO d FROM "public"."users" s WHERE s."id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_user_preferences_b93a2f57_wb_1"(d, op, old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."users" s SET "preferences" = nd WHERE s."id" = ok; END IF;
  END IF;
  RETURN;
END IF;
IF op = 'DELETE' OR moved THEN
  SELECT s."preferences" INTO d FROM "public"."users" s WHERE s."id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_user_preferences_b93a2f57_wb_1"(d, 'DELETE', old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."users" s SET "preferences" = nd WHERE s."id" = ok; END IF;
  END IF;
END IF;
IF op <> 'DELETE' THEN
  SELECT s."preferences" INTO d FROM "public"."users" s WHERE s."id" = nk FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_user_preferences_b93a2f57_wb_1"(d, CASE WHEN moved THEN 'SYNC' ELSE op END, old_row, new_row);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."users" s SET "preferences" = nd WHERE s."id" = nk; END IF;
  END IF;
END IF;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_resync_1"(k bigint, entry text, first_op text, baseline jsonb, deleted boolean) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  img jsonb;
  prev text;
BEGIN
prev := current_setting('switchyard.syncing', true);
PERFORM set_config('switchyard.syncing', 'on', true);
SELECT to_jsonb(t.*) INTO img FROM "public"."notification_preferences" t WHERE t."user_id" = k AND t."channel" = entry FOR SHARE;
IF first_op IS NULL THEN
  IF FOUND THEN
    PERFORM switchyard."sy_user_preferences_b93a2f57_rsync_1"('SYNC', NULL, img);
  ELSE
    PERFORM switchyard."sy_user_preferences_b93a2f57_rsync_1"('DELETE', jsonb_build_object('user_id', k, 'channel', entry), NULL);
  END IF;
ELSIF FOUND THEN
  PERFORM switchyard."sy_user_preferences_b93a2f57_rsync_1"(CASE WHEN first_op = 'INSERT' THEN 'REPLAY_INSERT' ELSE 'REPLAY' END, baseline, img);
ELSIF first_op <> 'INSERT' AND deleted THEN
  PERFORM switchyard."sy_user_preferences_b93a2f57_rsync_1"('REPLAY_DELETE', coalesce(baseline, '{}'::jsonb) || jsonb_build_object('user_id', k, 'channel', entry), NULL);
END IF;
PERFORM set_config('switchyard.syncing', coalesce(prev, 'off'), true);
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_rev_1"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  old_img jsonb;
  new_img jsonb;
BEGIN
IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;
PERFORM set_config('switchyard.syncing', 'on', true);
IF TG_OP <> 'INSERT' THEN old_img := to_jsonb(OLD); END IF;
IF TG_OP <> 'DELETE' THEN new_img := to_jsonb(NEW); END IF;
BEGIN
  PERFORM switchyard."sy_user_preferences_b93a2f57_rsync_1"(TG_OP, old_img, new_img);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('user-preferences', 'reverse', NEW."user_id"::text, 1, NEW."channel", 'INSERT', NULL::jsonb);
  ELSIF TG_OP = 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = OLD."user_id") THEN
      INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
      VALUES ('user-preferences', 'reverse', OLD."user_id"::text, 1, OLD."channel", 'DELETE', to_jsonb(OLD));
    END IF;
  ELSIF OLD."user_id" IS DISTINCT FROM NEW."user_id" AND OLD."channel" IS NOT DISTINCT FROM NEW."channel"
        AND (NOT EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = OLD."user_id") OR EXISTS (SELECT 1 FROM "public"."notification_preferences" x WHERE x."user_id" = OLD."user_id" AND x."channel" = OLD."channel")) THEN
    -- The cascade of a source key update: the document moved with its row,
    -- and the source's triggers moved the key's queued writes before this
    -- fires. The row is unchanged: nothing to remember.
    NULL;
  ELSIF (OLD."user_id", OLD."channel") IS DISTINCT FROM (NEW."user_id", NEW."channel") THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('user-preferences', 'reverse', OLD."user_id"::text, 1, OLD."channel", 'DELETE', to_jsonb(OLD)), ('user-preferences', 'reverse', NEW."user_id"::text, 1, NEW."channel", 'INSERT', NULL::jsonb);
  ELSE
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    SELECT c.* FROM (VALUES ('user-preferences', 'reverse', NEW."user_id"::text, 1, NEW."channel", 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
  END IF;
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_1"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys bigint[];
  pending bigint[];
BEGIN
IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;
IF TG_OP = 'INSERT' THEN
  SELECT array_agg(DISTINCT n."user_id") INTO keys FROM sy_new n;
ELSIF TG_OP = 'DELETE' THEN
  SELECT array_agg(DISTINCT o."user_id") INTO keys FROM sy_old o;
ELSE
  SELECT array_agg(DISTINCT x.k) INTO keys FROM (SELECT n."user_id" AS k FROM sy_new n UNION SELECT o."user_id" FROM sy_old o) x;
END IF;
SELECT array_agg(DISTINCT q.source_key::bigint) INTO pending FROM switchyard.sync_queue q
WHERE q.migration_name = 'user-preferences' AND q.kind = 'forward' AND q.source_key = ANY(keys::text[]);
IF pending IS NULL THEN RETURN NULL; END IF;
PERFORM set_config('switchyard.syncing', 'on', true);
BEGIN
  PERFORM switchyard."sy_user_preferences_b93a2f57_map"(pending, false);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  NULL; -- still queued: the next writer of these keys, or the engine, does it
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_ctr_1"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'INSERT' THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('user-preferences', 'contract', NEW."user_id"::text, 1, NEW."channel", 'INSERT', NULL::jsonb);
ELSIF TG_OP = 'DELETE' THEN
  IF EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = OLD."user_id") THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('user-preferences', 'contract', OLD."user_id"::text, 1, OLD."channel", 'DELETE', to_jsonb(OLD));
  END IF;
ELSIF OLD."user_id" IS DISTINCT FROM NEW."user_id" AND OLD."channel" IS NOT DISTINCT FROM NEW."channel"
      AND (NOT EXISTS (SELECT 1 FROM "public"."users" s WHERE s."id" = OLD."user_id") OR EXISTS (SELECT 1 FROM "public"."notification_preferences" x WHERE x."user_id" = OLD."user_id" AND x."channel" = OLD."channel")) THEN
  -- The cascade of a source key update: the document moved with its row,
  -- and the source's triggers moved the key's queued writes before this
  -- fires. The row is unchanged: nothing to remember.
  NULL;
ELSIF (OLD."user_id", OLD."channel") IS DISTINCT FROM (NEW."user_id", NEW."channel") THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('user-preferences', 'contract', OLD."user_id"::text, 1, OLD."channel", 'DELETE', to_jsonb(OLD)), ('user-preferences', 'contract', NEW."user_id"::text, 1, NEW."channel", 'INSERT', NULL::jsonb);
ELSE
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  SELECT c.* FROM (VALUES ('user-preferences', 'contract', NEW."user_id"::text, 1, NEW."channel", 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_replay"(kinds text[], keys bigint[], max_rows integer, remap boolean) RETURNS bigint
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  queued record;
  done bigint;
  replayed bigint[] := '{}';
  prev text;
BEGIN
done := 0;
FOR queued IN
  WITH pending AS (
    SELECT q.* FROM switchyard.sync_queue q
    WHERE q.migration_name = 'user-preferences' AND q.kind = ANY(kinds)
      AND (keys IS NULL OR q.source_key = ANY(keys::text[]))
  ), oldest AS (
    -- At most max_rows rows, chosen from the oldest entries (an index scan,
    -- not a sort of the whole backlog).
    SELECT DISTINCT p.target, p.source_key, p.entry_key
    FROM (SELECT p.target, p.source_key, p.entry_key FROM pending p ORDER BY p.id LIMIT max_rows) p
  )
  SELECT q.target, q.source_key, q.entry_key, array_agg(q.id) AS ids,
         -- Entries queued by an earlier version carry no op: whole-row sync.
         CASE WHEN bool_or(q.op IS NULL) THEN NULL ELSE (array_agg(q.op ORDER BY q.id))[1] END AS first_op,
         switchyard.sync_baseline(array_agg(q.old_row ORDER BY q.id)) AS baseline,
         coalesce(bool_or(q.op = 'DELETE'), false) AS deleted
  FROM pending q
  JOIN oldest o ON o.target = q.target AND o.source_key = q.source_key
                AND o.entry_key IS NOT DISTINCT FROM q.entry_key
  GROUP BY q.target, q.source_key, q.entry_key
  ORDER BY min(q.id)
LOOP
  CASE queued.target
    WHEN 0 THEN PERFORM switchyard."sy_user_preferences_b93a2f57_resync_0"(queued.source_key::bigint, queued.entry_key, queued.first_op, queued.baseline, queued.deleted);
    WHEN 1 THEN PERFORM switchyard."sy_user_preferences_b93a2f57_resync_1"(queued.source_key::bigint, queued.entry_key, queued.first_op, queued.baseline, queued.deleted);
    ELSE RAISE EXCEPTION 'sync_queue entries % name no target', queued.ids;
  END CASE;
  DELETE FROM switchyard.sync_queue q
  WHERE q.id = ANY(queued.ids) AND q.source_key = queued.source_key
    AND q.entry_key IS NOT DISTINCT FROM queued.entry_key;
  done := done + 1;
  replayed := replayed || queued.source_key::bigint;
END LOOP;
-- Where the document won (it was written since), the targets follow it.
-- Inside `apply` (remap false) the mapping that follows does this.
IF remap AND cardinality(replayed) > 0 THEN
  prev := current_setting('switchyard.syncing', true);
  PERFORM set_config('switchyard.syncing', 'on', true);
  PERFORM switchyard."sy_user_preferences_b93a2f57_map"(replayed, false);
  PERFORM set_config('switchyard.syncing', coalesce(prev, 'off'), true);
END IF;
RETURN done;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_drain"() RETURNS bigint
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys bigint[];
  done bigint;
BEGIN
PERFORM set_config('switchyard.syncing', 'on', true);
done := switchyard."sy_user_preferences_b93a2f57_replay"(ARRAY['reverse'], NULL, NULL, true);
SELECT array_agg(DISTINCT q.source_key::bigint) INTO keys FROM switchyard.sync_queue q WHERE q.migration_name = 'user-preferences' AND q.kind = 'forward';
IF keys IS NOT NULL THEN
  PERFORM switchyard."sy_user_preferences_b93a2f57_map"(keys, false);
  done := done + cardinality(keys);
END IF;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN done;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_bkk"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'DELETE' THEN
  DELETE FROM switchyard."sy_user_preferences_b93a2f57_backup" b WHERE b.key = OLD."id";
  -- Nothing remembered for the deleted row may reach a new row that
  -- takes its key.
  DELETE FROM switchyard.sync_queue q WHERE q.migration_name = 'user-preferences' AND q.source_key = OLD."id"::text;
ELSIF OLD."id" IS DISTINCT FROM NEW."id" THEN
  UPDATE switchyard."sy_user_preferences_b93a2f57_backup" b SET key = NEW."id" WHERE b.key = OLD."id";
  UPDATE switchyard.sync_queue q SET source_key = (NEW."id")::text WHERE q.migration_name = 'user-preferences' AND q.source_key = (OLD."id")::text;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_kf"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
UPDATE switchyard.sync_queue q SET source_key = (NEW."id")::text WHERE q.migration_name = 'user-preferences' AND q.source_key = (OLD."id")::text;
RETURN NULL;
END;
$sy$;

-- capture writes from now on (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_capture_ins" AFTER INSERT ON "public"."users" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_capture"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_capture_upd" AFTER UPDATE ON "public"."users" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_capture"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_capture_del" AFTER DELETE ON "public"."users" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_capture"();

-- ===== phase 2 =====
-- backfill in keyset batches (checkpoint committed with each batch) (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "public"."users" ORDER BY "id" LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "public"."users" WHERE "id" > $1::bigint ORDER BY "id" LIMIT $2) AS batch;

SELECT m.n_rows, m.n_quarantined FROM switchyard."sy_user_preferences_b93a2f57_map"(ARRAY(SELECT s."id" FROM "public"."users" s WHERE s."id" BETWEEN $1::bigint AND $2::bigint ORDER BY s."id"), true) AS m;

UPDATE switchyard.backfill_progress SET last_key = $2, rows_done = rows_done + $3, quarantined = quarantined + $4, batch_size = $5, rows_per_second = $6, updated_at = now() WHERE migration_name = $1;

-- ===== phase 3 =====
-- switch capture to dual-write (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_dw_ins" AFTER INSERT ON "public"."users" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_dw"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_dw_upd" AFTER UPDATE ON "public"."users" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_dw"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_dw_del" AFTER DELETE ON "public"."users" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_dw"();

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_capture_ins" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_capture_upd" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_capture_del" ON "public"."users";

-- re-map every key written since phase 1 (repeated in key batches)
WITH d AS (DELETE FROM switchyard.capture_log WHERE id IN (SELECT id FROM switchyard.capture_log WHERE migration_name = $1 ORDER BY id LIMIT 1000) RETURNING source_key) SELECT array_agg(DISTINCT source_key ORDER BY source_key) FROM d;

SELECT m.n_rows FROM switchyard."sy_user_preferences_b93a2f57_map"($1::text[]::bigint[], false) AS m;

-- ===== phase 4 =====
-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_user_preferences_b93a2f57_drain"();

-- verify every document against the targets (gate) (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "public"."users" ORDER BY "id" LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "public"."users" WHERE "id" > $1::bigint ORDER BY "id" LIMIT $2) AS batch;

WITH sy_doc AS MATERIALIZED (
  SELECT s."id" AS k, s."preferences" AS d, (CASE WHEN s."preferences" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."preferences") <> 'object' THEN 'document is ' || jsonb_typeof(s."preferences") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."preferences" -> 'theme')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."preferences" ->> 'theme') NOT IN ('light', 'dark', 'system') THEN 'theme' || ': value ' || (s."preferences" ->> 'theme') || ' is not allowed' ELSE NULL END ELSE 'theme' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'theme')) END,
        CASE coalesce(jsonb_typeof((s."preferences" -> 'language')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'language' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'language')) END,
        CASE coalesce(jsonb_typeof((s."preferences" -> 'timezone')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'timezone' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'timezone')) END,
        CASE WHEN (s."preferences" -> 'notifications') IS NOT NULL AND jsonb_typeof((s."preferences" -> 'notifications')) NOT IN ('object', 'null') THEN 'notifications: expected object, got ' || jsonb_typeof((s."preferences" -> 'notifications')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."preferences" -> 'notifications')) = 'object' THEN (s."preferences" -> 'notifications') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN e.key NOT IN ('email', 'push', 'sms') THEN 'notifications: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'notifications.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'enabled')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE ('notifications.' || e.key || '.enabled') || ': expected boolean, got ' || jsonb_typeof((e.value -> 'enabled')) END, CASE coalesce(jsonb_typeof((e.value -> 'frequency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (e.value ->> 'frequency') NOT IN ('instant', 'daily', 'weekly', 'never') THEN ('notifications.' || e.key || '.frequency') || ': value ' || (e.value ->> 'frequency') || ' is not allowed' ELSE NULL END ELSE ('notifications.' || e.key || '.frequency') || ': expected string, got ' || jsonb_typeof((e.value -> 'frequency')) END) IS NOT NULL) THEN 'entry' END) END IS NULL) AS ok
  FROM "public"."users" s WHERE s."id" BETWEEN $1::bigint AND $2::bigint AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'user-preferences' AND q.source_key = s."id"::text)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
exp AS (SELECT k::text AS key, NULL::text AS ek, jsonb_build_array(to_jsonb(coalesce((d ->> 'theme'), ('system')::text)), to_jsonb(coalesce((d ->> 'language'), ('en')::text)), to_jsonb(coalesce((d ->> 'timezone'), ('UTC')::text))) AS v FROM src),
act AS (SELECT a."user_id"::text AS key, NULL::text AS ek, jsonb_build_array(to_jsonb(a."theme"), to_jsonb(a."language"), to_jsonb(a."timezone")) AS v FROM "public"."user_preferences" a WHERE a."user_id" BETWEEN $1::bigint AND $2::bigint AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'user-preferences' AND q.source_key = a."user_id"::text))
SELECT coalesce(exp.key, act.key) AS key, coalesce(exp.ek, act.ek) AS entry, exp.v AS expected, act.v AS actual
FROM exp FULL JOIN act ON exp.key = act.key AND exp.ek IS NOT DISTINCT FROM act.ek
WHERE exp.v IS DISTINCT FROM act.v;

WITH sy_doc AS MATERIALIZED (
  SELECT s."id" AS k, s."preferences" AS d, (CASE WHEN s."preferences" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."preferences") <> 'object' THEN 'document is ' || jsonb_typeof(s."preferences") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."preferences" -> 'theme')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."preferences" ->> 'theme') NOT IN ('light', 'dark', 'system') THEN 'theme' || ': value ' || (s."preferences" ->> 'theme') || ' is not allowed' ELSE NULL END ELSE 'theme' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'theme')) END,
        CASE coalesce(jsonb_typeof((s."preferences" -> 'language')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'language' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'language')) END,
        CASE coalesce(jsonb_typeof((s."preferences" -> 'timezone')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE 'timezone' || ': expected string, got ' || jsonb_typeof((s."preferences" -> 'timezone')) END,
        CASE WHEN (s."preferences" -> 'notifications') IS NOT NULL AND jsonb_typeof((s."preferences" -> 'notifications')) NOT IN ('object', 'null') THEN 'notifications: expected object, got ' || jsonb_typeof((s."preferences" -> 'notifications')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."preferences" -> 'notifications')) = 'object' THEN (s."preferences" -> 'notifications') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN e.key NOT IN ('email', 'push', 'sms') THEN 'notifications: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'notifications.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'enabled')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE ('notifications.' || e.key || '.enabled') || ': expected boolean, got ' || jsonb_typeof((e.value -> 'enabled')) END, CASE coalesce(jsonb_typeof((e.value -> 'frequency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (e.value ->> 'frequency') NOT IN ('instant', 'daily', 'weekly', 'never') THEN ('notifications.' || e.key || '.frequency') || ': value ' || (e.value ->> 'frequency') || ' is not allowed' ELSE NULL END ELSE ('notifications.' || e.key || '.frequency') || ': expected string, got ' || jsonb_typeof((e.value -> 'frequency')) END) IS NOT NULL) THEN 'entry' END) END IS NULL) AS ok
  FROM "public"."users" s WHERE s."id" BETWEEN $1::bigint AND $2::bigint AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'user-preferences' AND q.source_key = s."id"::text)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
exp AS (SELECT k::text AS key, e.key AS ek, jsonb_build_array(to_jsonb(coalesce((e.value ->> 'enabled')::boolean, (true)::boolean)), to_jsonb(coalesce((e.value ->> 'frequency'), ('daily')::text))) AS v FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((d -> 'notifications')) = 'object' THEN (d -> 'notifications') ELSE '{}'::jsonb END)) AS e),
act AS (SELECT a."user_id"::text AS key, a."channel" AS ek, jsonb_build_array(to_jsonb(a."enabled"), to_jsonb(a."frequency")) AS v FROM "public"."notification_preferences" a WHERE a."user_id" BETWEEN $1::bigint AND $2::bigint AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'user-preferences' AND q.source_key = a."user_id"::text))
SELECT coalesce(exp.key, act.key) AS key, coalesce(exp.ek, act.ek) AS entry, exp.v AS expected, act.v AS actual
FROM exp FULL JOIN act ON exp.key = act.key AND exp.ek IS NOT DISTINCT FROM act.ek
WHERE exp.v IS DISTINCT FROM act.v;

-- queued target writes follow source key updates (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_kf" AFTER UPDATE ON "public"."users" FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_kf"();

-- writes to user_preferences flow back into the JSONB column (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rev" AFTER INSERT OR UPDATE OR DELETE ON "public"."user_preferences" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rev_0"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_ins" AFTER INSERT ON "public"."user_preferences" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_upd" AFTER UPDATE ON "public"."user_preferences" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_del" AFTER DELETE ON "public"."user_preferences" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_0"();

-- writes to notification_preferences flow back into the JSONB column (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rev" AFTER INSERT OR UPDATE OR DELETE ON "public"."notification_preferences" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rev_1"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_ins" AFTER INSERT ON "public"."notification_preferences" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_upd" AFTER UPDATE ON "public"."notification_preferences" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_del" AFTER DELETE ON "public"."notification_preferences" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_1"();

-- flip the read flag (one transaction, lock_timeout, retried)
INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ('user-preferences', 'targets') ON CONFLICT (migration_name) DO UPDATE SET reads_from = 'targets', changed_at = now();

SELECT pg_notify('switchyard_read_flag', '{"migration":"user-preferences","reads_from":"targets"}');

-- ===== phase 5 =====
-- record the column's definition (default, NOT NULL, checks, indexes) (one transaction, lock_timeout, retried)
INSERT INTO switchyard.contract_columns (migration_name, definition)
SELECT 'user-preferences', jsonb_build_object(
  'default', pg_get_expr(d.adbin, d.adrelid),
  'not_null', a.attnotnull,
  'checks', coalesce((SELECT jsonb_agg(jsonb_build_object('name', c.conname, 'definition', pg_get_constraintdef(c.oid)) ORDER BY c.conname)
                      FROM pg_constraint c WHERE c.conrelid = a.attrelid AND c.contype = 'c' AND a.attnum = ANY (c.conkey)), '[]'::jsonb),
  'indexes', coalesce((SELECT jsonb_agg(jsonb_build_object('name', ic.relname, 'definition', pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname)
                       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                       WHERE i.indrelid = a.attrelid AND EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_class'::regclass
                             AND dep.objid = i.indexrelid AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum)), '[]'::jsonb),
  'storage', CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END,
  'statistics', CASE WHEN a.attstattarget >= 0 THEN a.attstattarget END,
  'compression', nullif(a.attcompression::text, ''),
  'comment', col_description(a.attrelid, a.attnum))
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = '"public"."users"'::regclass AND a.attname = 'preferences' AND NOT a.attisdropped
ON CONFLICT (migration_name) DO UPDATE SET definition = EXCLUDED.definition, rolling_back = false, saved_at = now();

-- keep a backup of the column in step from now on (one transaction, lock_timeout, retried)
CREATE TABLE IF NOT EXISTS switchyard."sy_user_preferences_b93a2f57_backup" (key bigint PRIMARY KEY, doc jsonb);

CREATE OR REPLACE FUNCTION switchyard."sy_user_preferences_b93a2f57_bk"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD."id" IS DISTINCT FROM NEW."id") THEN
  DELETE FROM switchyard."sy_user_preferences_b93a2f57_backup" b WHERE b.key = OLD."id";
END IF;
IF TG_OP = 'UPDATE' AND OLD."id" IS DISTINCT FROM NEW."id" THEN
  UPDATE switchyard.sync_queue q SET source_key = (NEW."id")::text WHERE q.migration_name = 'user-preferences' AND q.source_key = (OLD."id")::text;
END IF;

IF TG_OP <> 'DELETE' THEN
  INSERT INTO switchyard."sy_user_preferences_b93a2f57_backup" (key, doc) VALUES (NEW."id", NEW."preferences")
  ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_bk" AFTER INSERT OR UPDATE OR DELETE ON "public"."users" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_bk"();

-- copy the column into the backup (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "public"."users" ORDER BY "id" LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "public"."users" WHERE "id" > $1::bigint ORDER BY "id" LIMIT $2) AS batch;

INSERT INTO switchyard."sy_user_preferences_b93a2f57_backup" (key, doc) SELECT s."id", s."preferences" FROM "public"."users" s WHERE s."id" BETWEEN $1::bigint AND $2::bigint FOR KEY SHARE OF s ON CONFLICT (key) DO NOTHING;

-- remember writes to user_preferences from now on, instead of writing them back (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rev" ON "public"."user_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_ins" ON "public"."user_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_upd" ON "public"."user_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_del" ON "public"."user_preferences";

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_ctr" AFTER INSERT OR UPDATE OR DELETE ON "public"."user_preferences" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_ctr_0"();

-- remember writes to notification_preferences from now on, instead of writing them back (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rev" ON "public"."notification_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_ins" ON "public"."notification_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_upd" ON "public"."notification_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_del" ON "public"."notification_preferences";

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_ctr" AFTER INSERT OR UPDATE OR DELETE ON "public"."notification_preferences" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_ctr_1"();

-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_user_preferences_b93a2f57_drain"();

-- drop dual-write, apply deferred sync work, drop the column (the backup is exact) (one transaction, lock_timeout, retried)
LOCK TABLE "public"."users" IN ACCESS EXCLUSIVE MODE;

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_dw_ins" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_dw_upd" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_dw_del" ON "public"."users";

SELECT switchyard."sy_user_preferences_b93a2f57_drain"();

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_kf" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_bk" ON "public"."users";

ALTER TABLE "public"."users" DROP COLUMN IF EXISTS "preferences";

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_bkk" AFTER UPDATE OR DELETE ON "public"."users" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_bkk"();

UPDATE switchyard.contract_columns SET dropped = true WHERE migration_name = 'user-preferences';

-- ===== rollback 5 =====
-- mark the contract as being rolled back (phase 5 may not run until this is done) (one transaction, lock_timeout, retried)
UPDATE switchyard.contract_columns SET rolling_back = true WHERE migration_name = 'user-preferences';

-- re-add the column (and its default) (one transaction, lock_timeout, retried)
ALTER TABLE "public"."users" ADD COLUMN IF NOT EXISTS "preferences" jsonb;

ALTER TABLE "public"."users" ALTER COLUMN "preferences" SET DEFAULT '{}'::jsonb;

-- restore the documents from the backup (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT key AS k FROM switchyard."sy_user_preferences_b93a2f57_backup" ORDER BY key LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT key AS k FROM switchyard."sy_user_preferences_b93a2f57_backup" WHERE key > $1::bigint ORDER BY key LIMIT $2) AS batch;

UPDATE "public"."users" s SET "preferences" = b.doc FROM switchyard."sy_user_preferences_b93a2f57_backup" b WHERE s."id" = b.key AND b.key BETWEEN $1::bigint AND $2::bigint AND s."preferences" IS NULL AND b.doc IS NOT NULL;

UPDATE "public"."users" s SET "preferences" = b.doc FROM switchyard."sy_user_preferences_b93a2f57_backup" b WHERE s."id" = b.key AND s."preferences" IS NULL AND b.doc IS NOT NULL;

SELECT count(*) FROM "public"."users" s JOIN switchyard."sy_user_preferences_b93a2f57_backup" b ON s."id" = b.key WHERE s."preferences" IS NULL AND b.doc IS NOT NULL;

-- rows inserted since the contract get the column's default (one transaction, lock_timeout, retried)
UPDATE "public"."users" s SET "preferences" = '{}'::jsonb WHERE s."preferences" IS NULL AND NOT EXISTS (SELECT 1 FROM switchyard."sy_user_preferences_b93a2f57_backup" b WHERE b.key = s."id");

-- queued target writes follow source key updates again (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_kf" AFTER UPDATE ON "public"."users" FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_kf"();

-- writes to user_preferences flow back into the column again, instead of being remembered (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_ctr" ON "public"."user_preferences";

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rev" AFTER INSERT OR UPDATE OR DELETE ON "public"."user_preferences" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rev_0"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_ins" AFTER INSERT ON "public"."user_preferences" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_upd" AFTER UPDATE ON "public"."user_preferences" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_del" AFTER DELETE ON "public"."user_preferences" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_0"();

-- writes to notification_preferences flow back into the column again, instead of being remembered (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_ctr" ON "public"."notification_preferences";

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rev" AFTER INSERT OR UPDATE OR DELETE ON "public"."notification_preferences" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rev_1"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_ins" AFTER INSERT ON "public"."notification_preferences" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_upd" AFTER UPDATE ON "public"."notification_preferences" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_rvs_del" AFTER DELETE ON "public"."notification_preferences" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_rvs_1"();

-- dual-write again (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_dw_ins" AFTER INSERT ON "public"."users" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_dw"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_dw_upd" AFTER UPDATE ON "public"."users" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_dw"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_dw_del" AFTER DELETE ON "public"."users" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_dw"();

-- replay into the documents the target writes made since the contract (repeated in key batches)
SELECT switchyard."sy_user_preferences_b93a2f57_replay"(ARRAY['contract'], NULL, 1000, true);

-- queue a re-map of the rows inserted since the contract (one transaction, lock_timeout, retried)
INSERT INTO switchyard.sync_queue (migration_name, kind, source_key) SELECT 'user-preferences', 'forward', s."id"::text FROM "public"."users" s WHERE NOT EXISTS (SELECT 1 FROM switchyard."sy_user_preferences_b93a2f57_backup" b WHERE b.key = s."id");

-- restore check doc_is_object (one transaction, lock_timeout, retried)
ALTER TABLE "public"."users" ADD CONSTRAINT "doc_is_object" CHECK (jsonb_typeof(doc) = 'object'::text) NOT VALID;

-- validate check doc_is_object (one transaction, lock_timeout, retried)
ALTER TABLE "public"."users" VALIDATE CONSTRAINT "doc_is_object";

-- NOT NULL: a check, not yet validated (one transaction, lock_timeout, retried)
ALTER TABLE "public"."users" ADD CONSTRAINT "sy_user_preferences_b93a2f57_nn" CHECK ("preferences" IS NOT NULL) NOT VALID;

-- NOT NULL: validate the check (one transaction, lock_timeout, retried)
ALTER TABLE "public"."users" VALIDATE CONSTRAINT "sy_user_preferences_b93a2f57_nn";

-- NOT NULL: set it (proved by the check, no scan) and drop the check (one transaction, lock_timeout, retried)
ALTER TABLE "public"."users" ALTER COLUMN "preferences" SET NOT NULL;

ALTER TABLE "public"."users" DROP CONSTRAINT IF EXISTS "sy_user_preferences_b93a2f57_nn";

-- restore index docs_gin (outside a transaction, lock_timeout, retried)
DROP INDEX CONCURRENTLY IF EXISTS "public"."docs_gin";

CREATE INDEX CONCURRENTLY IF NOT EXISTS docs_gin ON app.docs USING gin (doc);

-- restore the column's storage, statistics, compression and comment (one transaction, lock_timeout, retried)
ALTER TABLE "public"."users" ALTER COLUMN "preferences" SET STORAGE MAIN;

ALTER TABLE "public"."users" ALTER COLUMN "preferences" SET STATISTICS 500;

ALTER TABLE "public"."users" ALTER COLUMN "preferences" SET COMPRESSION lz4;

COMMENT ON COLUMN "public"."users"."preferences" IS 'it''s the document';

-- drop the backup (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_bk" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_bkk" ON "public"."users";

DROP TABLE IF EXISTS switchyard."sy_user_preferences_b93a2f57_backup";

DELETE FROM switchyard.contract_columns WHERE migration_name = 'user-preferences';

-- ===== rollback 4 =====
-- read from the source again (one transaction, lock_timeout, retried)
INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ('user-preferences', 'source') ON CONFLICT (migration_name) DO UPDATE SET reads_from = 'source', changed_at = now();

SELECT pg_notify('switchyard_read_flag', '{"migration":"user-preferences","reads_from":"source"}');

-- stop writing user_preferences back into the column (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rev" ON "public"."user_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_ins" ON "public"."user_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_upd" ON "public"."user_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_del" ON "public"."user_preferences";

-- stop writing notification_preferences back into the column (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rev" ON "public"."notification_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_ins" ON "public"."notification_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_upd" ON "public"."notification_preferences";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_rvs_del" ON "public"."notification_preferences";

-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_user_preferences_b93a2f57_drain"();

-- stop following source key updates (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_kf" ON "public"."users";

-- ===== rollback 3 =====
-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_user_preferences_b93a2f57_drain"();

-- switch dual-write back to capture (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_capture_ins" AFTER INSERT ON "public"."users" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_capture"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_capture_upd" AFTER UPDATE ON "public"."users" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_capture"();

CREATE OR REPLACE TRIGGER "sy_user_preferences_b93a2f57_capture_del" AFTER DELETE ON "public"."users" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_user_preferences_b93a2f57_capture"();

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_dw_ins" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_dw_upd" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_dw_del" ON "public"."users";

INSERT INTO switchyard.capture_log (migration_name, source_key) SELECT migration_name, source_key FROM switchyard.sync_queue WHERE migration_name = 'user-preferences' AND kind = 'forward';

DELETE FROM switchyard.sync_queue WHERE migration_name = 'user-preferences' AND kind IN ('forward', 'reverse');

-- ===== rollback 2 =====
-- empty user_preferences (one transaction, lock_timeout, retried)
TRUNCATE "public"."user_preferences";

-- empty notification_preferences (one transaction, lock_timeout, retried)
TRUNCATE "public"."notification_preferences";

-- forget the checkpoint and the quarantine (one transaction, lock_timeout, retried)
DELETE FROM switchyard.quarantine WHERE migration_name = 'user-preferences';

DELETE FROM switchyard.unmapped_keys WHERE migration_name = 'user-preferences';

DELETE FROM switchyard.backfill_progress WHERE migration_name = 'user-preferences';

-- ===== rollback 1 =====
-- drop our triggers on the source (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_capture_ins" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_capture_upd" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_capture_del" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_dw_ins" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_dw_upd" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_dw_del" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_bk" ON "public"."users";

DROP TRIGGER IF EXISTS "sy_user_preferences_b93a2f57_bkk" ON "public"."users";

-- drop the foreign key of notification_preferences (one transaction, lock_timeout, retried)
ALTER TABLE IF EXISTS "public"."notification_preferences" DROP CONSTRAINT IF EXISTS "sy_user_preferences_b93a2f57_fk_1";

-- drop table notification_preferences (one transaction, lock_timeout, retried)
DROP TABLE IF EXISTS "public"."notification_preferences";

-- drop the foreign key of user_preferences (one transaction, lock_timeout, retried)
ALTER TABLE IF EXISTS "public"."user_preferences" DROP CONSTRAINT IF EXISTS "sy_user_preferences_b93a2f57_fk_0";

-- drop table user_preferences (one transaction, lock_timeout, retried)
DROP TABLE IF EXISTS "public"."user_preferences";

-- drop our functions and bookkeeping (one transaction, lock_timeout, retried)
DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_apply"(bigint[], boolean, boolean, boolean, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_map"(bigint[], boolean, boolean, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_drain"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_replay"(text[], bigint[], integer, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_capture"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_dw"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_bk"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_bkk"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_kf"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_wb_0"(jsonb, text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_rsync_0"(text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_resync_0"(bigint, text, text, jsonb, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_rev_0"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_rvs_0"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_ctr_0"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_wb_1"(jsonb, text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_rsync_1"(text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_resync_1"(bigint, text, text, jsonb, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_rev_1"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_rvs_1"();

DROP FUNCTION IF EXISTS switchyard."sy_user_preferences_b93a2f57_ctr_1"();

DROP TABLE IF EXISTS switchyard."sy_user_preferences_b93a2f57_backup";

DELETE FROM switchyard.quarantine WHERE migration_name = 'user-preferences';

DELETE FROM switchyard.capture_log WHERE migration_name = 'user-preferences';

DELETE FROM switchyard.sync_queue WHERE migration_name = 'user-preferences';

DELETE FROM switchyard.unmapped_keys WHERE migration_name = 'user-preferences';

DELETE FROM switchyard.backfill_progress WHERE migration_name = 'user-preferences';

DELETE FROM switchyard.contract_columns WHERE migration_name = 'user-preferences';

