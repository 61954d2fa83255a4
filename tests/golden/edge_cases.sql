-- ===== phase 1 =====
-- create table thing_facts (one transaction, lock_timeout, retried)
SET LOCAL TimeZone = 'UTC';

SET LOCAL DateStyle = 'ISO, MDY';

SET LOCAL extra_float_digits = 1;

SET LOCAL jit = off;

CREATE TABLE IF NOT EXISTS "app"."thing_facts" (
    "thing_id" uuid NOT NULL,
    "label" text NOT NULL DEFAULT (E'it''s $sy$ \\ "quoted" ünïcode')::text CHECK ("label" IN (E'it''s $sy$ \\ "quoted" ünïcode', 'plain')),
    "weight" double precision CHECK ("weight" NOT IN ('NaN', 'Infinity', '-Infinity')),
    "count" smallint NOT NULL DEFAULT (-32768)::smallint,
    "price" numeric NOT NULL CHECK ("price" NOT IN ('NaN', 'Infinity', '-Infinity')),
    "seen_at" timestamptz,
    "born_on" date NOT NULL DEFAULT ('2000-01-31')::date,
    "ref" uuid,
    "active" boolean NOT NULL DEFAULT (false)::boolean,
    "big" bigint,
    PRIMARY KEY ("thing_id")
);

-- create index thing_facts_label (outside a transaction, lock_timeout, retried)
DROP INDEX CONCURRENTLY IF EXISTS "app"."thing_facts_label";

CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "thing_facts_label" ON "app"."thing_facts" ("label", "price");

-- foreign key of thing_facts (not valid) (one transaction, lock_timeout, retried)
ALTER TABLE "app"."thing_facts" ADD CONSTRAINT "sy_edge_cases_8e2d2f6b_fk_0" FOREIGN KEY ("thing_id") REFERENCES "app"."things" ("id") ON UPDATE CASCADE ON DELETE CASCADE NOT VALID;

-- validate the foreign key of thing_facts (one transaction, lock_timeout, retried)
ALTER TABLE "app"."thing_facts" VALIDATE CONSTRAINT "sy_edge_cases_8e2d2f6b_fk_0";

-- create table thing_parts (one transaction, lock_timeout, retried)
SET LOCAL TimeZone = 'UTC';

SET LOCAL DateStyle = 'ISO, MDY';

SET LOCAL extra_float_digits = 1;

SET LOCAL jit = off;

CREATE TABLE IF NOT EXISTS "app"."thing_parts" (
    "thing_id" uuid NOT NULL,
    "slot" text NOT NULL CHECK ("slot" IN ('left', 'right')),
    "size" integer NOT NULL,
    "note" text,
    PRIMARY KEY ("thing_id", "slot")
);

-- foreign key of thing_parts (not valid) (one transaction, lock_timeout, retried)
ALTER TABLE "app"."thing_parts" ADD CONSTRAINT "sy_edge_cases_8e2d2f6b_fk_1" FOREIGN KEY ("thing_id") REFERENCES "app"."things" ("id") ON UPDATE CASCADE ON DELETE CASCADE NOT VALID;

-- validate the foreign key of thing_parts (one transaction, lock_timeout, retried)
ALTER TABLE "app"."thing_parts" VALIDATE CONSTRAINT "sy_edge_cases_8e2d2f6b_fk_1";

-- create the mapping and sync functions (one transaction, lock_timeout, retried)
CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_apply"(keys uuid[], backfill boolean, lock_rows boolean, write_0 boolean DEFAULT true, write_1 boolean DEFAULT true, OUT n_rows bigint, OUT n_quarantined bigint) RETURNS record
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off SET plan_cache_mode = auto
AS $sy1$
#variable_conflict use_variable
DECLARE
  n_written bigint;
  bad uuid[];
  dirty text[];
  waiting text[];
  counted bigint[];
BEGIN
IF NOT backfill THEN
  IF current_setting('switchyard.rows_held', true) IS DISTINCT FROM 'on' THEN
    PERFORM 1 FROM "app"."things" s WHERE s."id" = ANY(keys) ORDER BY s."id" FOR NO KEY UPDATE;
  END IF;
  LOCK TABLE "app"."thing_facts" IN ROW EXCLUSIVE MODE;
  IF current_setting('transaction_isolation') <> 'read committed' OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = '"app"."thing_facts"'::regclass AND g.tgname IN ('sy_edge_cases_8e2d2f6b_rev', 'sy_edge_cases_8e2d2f6b_ctr')) THEN
    PERFORM 1 FROM "app"."thing_facts" t WHERE t."thing_id" = ANY(keys) FOR UPDATE;
  END IF;
  LOCK TABLE "app"."thing_parts" IN ROW EXCLUSIVE MODE;
  IF current_setting('transaction_isolation') <> 'read committed' OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = '"app"."thing_parts"'::regclass AND g.tgname IN ('sy_edge_cases_8e2d2f6b_rev', 'sy_edge_cases_8e2d2f6b_ctr')) THEN
    PERFORM 1 FROM "app"."thing_parts" t WHERE t."thing_id" = ANY(keys) FOR UPDATE;
  END IF;
  WITH d AS (DELETE FROM switchyard.sync_queue q WHERE q.migration_name = 'edge-cases' AND q.kind = 'forward' AND q.source_key = ANY(keys::text[]) RETURNING q.source_key)
  SELECT array_agg(d.source_key) FROM d INTO dirty;
  SELECT array_agg(q.source_key) FROM switchyard.sync_queue q WHERE q.migration_name = 'edge-cases' AND q.kind IN ('reverse', 'contract') AND q.source_key = ANY(keys::text[]) INTO waiting;
  IF waiting IS NOT NULL THEN
    PERFORM switchyard."sy_edge_cases_8e2d2f6b_replay"(ARRAY['reverse', 'contract'], keys, NULL, false);
    dirty := dirty || waiting;
  END IF;
  WITH d AS (DELETE FROM switchyard.quarantine q WHERE q.migration_name = 'edge-cases' AND q.source_key = ANY(keys::text[]) RETURNING q.source_key)
  SELECT dirty || array_agg(d.source_key) FROM d INTO dirty;
  PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
  IF NOT (write_0 AND write_1) AND EXISTS (SELECT 1 FROM switchyard.capture_log c WHERE c.migration_name = 'edge-cases') THEN
    SELECT dirty || array_agg(DISTINCT c.source_key) FROM switchyard.capture_log c WHERE c.migration_name = 'edge-cases' AND c.source_key = ANY(keys::text[]) INTO dirty;
  END IF;
ELSIF lock_rows THEN
  PERFORM 1 FROM "app"."things" s WHERE s."id" = ANY(keys) ORDER BY s."id" FOR KEY SHARE;
END IF;
IF backfill THEN
  IF EXISTS (SELECT 1 FROM "app"."thing_facts" t WHERE t."thing_id" BETWEEN keys[1] AND keys[cardinality(keys)]) THEN
    DELETE FROM "app"."thing_facts" t WHERE t."thing_id" = ANY(keys);
  END IF;
  IF EXISTS (SELECT 1 FROM "app"."thing_parts" t WHERE t."thing_id" BETWEEN keys[1] AND keys[cardinality(keys)]) THEN
    DELETE FROM "app"."thing_parts" t WHERE t."thing_id" = ANY(keys);
  END IF;
WITH sy_doc AS MATERIALIZED (
  SELECT s."id" AS k, s."data" AS d, (CASE WHEN s."data" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."data") <> 'object' THEN 'document is ' || jsonb_typeof(s."data") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."data" -> 'meta' -> 'label')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."data" -> 'meta' ->> 'label') NOT IN (E'it''s $sy$ \\ "quoted" ünïcode', 'plain') THEN 'meta.label' || ': value ' || (s."data" -> 'meta' ->> 'label') || ' is not allowed' ELSE NULL END ELSE 'meta.label' || ': expected string, got ' || jsonb_typeof((s."data" -> 'meta' -> 'label')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'meta' -> 'measures' -> 'weight')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN abs((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric) >= 1.7976931348623159e308 OR ((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric <> 0 AND abs((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric) < 2.4703282292062327e-324) THEN 'meta.measures.weight' || ': out of range for double precision: ' || (s."data" -> 'meta' -> 'measures' ->> 'weight') ELSE NULL END ELSE 'meta.measures.weight' || ': expected number, got ' || jsonb_typeof((s."data" -> 'meta' -> 'measures' -> 'weight')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'count')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."data" ->> 'count')::numeric <> trunc((s."data" ->> 'count')::numeric) OR (s."data" ->> 'count')::numeric NOT BETWEEN -32768 AND 32767 THEN 'count' || ': not a valid smallint: ' || (s."data" ->> 'count') ELSE NULL END ELSE 'count' || ': expected number, got ' || jsonb_typeof((s."data" -> 'count')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'price')), 'null') WHEN 'null' THEN 'price' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'price' || ': expected number, got ' || jsonb_typeof((s."data" -> 'price')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'seen' -> 'at')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((s."data" -> 'seen' ->> 'at')) ~ '(now|today|tomorrow|yesterday)' THEN 'seen.at' || ': a relative time is not a value: ' || (s."data" -> 'seen' ->> 'at') WHEN switchyard.try_cast((s."data" -> 'seen' ->> 'at'), 'timestamptz') IS NOT TRUE THEN 'seen.at' || ': not a valid timestamptz: ' || (s."data" -> 'seen' ->> 'at') ELSE NULL END ELSE 'seen.at' || ': expected string, got ' || jsonb_typeof((s."data" -> 'seen' -> 'at')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'born_on')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((s."data" ->> 'born_on')) ~ '(now|today|tomorrow|yesterday)' THEN 'born_on' || ': a relative time is not a value: ' || (s."data" ->> 'born_on') WHEN switchyard.try_cast((s."data" ->> 'born_on'), 'date') IS NOT TRUE THEN 'born_on' || ': not a valid date: ' || (s."data" ->> 'born_on') ELSE NULL END ELSE 'born_on' || ': expected string, got ' || jsonb_typeof((s."data" -> 'born_on')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'ref')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN switchyard.try_cast((s."data" ->> 'ref'), 'uuid') IS NOT TRUE THEN 'ref' || ': not a valid uuid: ' || (s."data" ->> 'ref') ELSE NULL END ELSE 'ref' || ': expected string, got ' || jsonb_typeof((s."data" -> 'ref')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'active')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE 'active' || ': expected boolean, got ' || jsonb_typeof((s."data" -> 'active')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'big')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."data" ->> 'big')::numeric <> trunc((s."data" ->> 'big')::numeric) OR (s."data" ->> 'big')::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN 'big' || ': not a valid bigint: ' || (s."data" ->> 'big') ELSE NULL END ELSE 'big' || ': expected number, got ' || jsonb_typeof((s."data" -> 'big')) END,
        CASE WHEN (s."data" -> 'parts' -> 'by_slot') IS NOT NULL AND jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) NOT IN ('object', 'null') THEN 'parts.by_slot: expected object, got ' || jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) = 'object' THEN (s."data" -> 'parts' -> 'by_slot') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN e.key NOT IN ('left', 'right') THEN 'parts.by_slot: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'parts.by_slot.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'size')), 'null') WHEN 'null' THEN ('parts.by_slot.' || e.key || '.size') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'size')::numeric <> trunc((e.value ->> 'size')::numeric) OR (e.value ->> 'size')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('parts.by_slot.' || e.key || '.size') || ': not a valid integer: ' || (e.value ->> 'size') ELSE NULL END ELSE ('parts.by_slot.' || e.key || '.size') || ': expected number, got ' || jsonb_typeof((e.value -> 'size')) END, CASE coalesce(jsonb_typeof((e.value -> 'note' -> 'text')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE ('parts.by_slot.' || e.key || '.note.text') || ': expected string, got ' || jsonb_typeof((e.value -> 'note' -> 'text')) END) IS NOT NULL) THEN 'entry' END) END IS NULL) AS ok
  FROM "app"."things" s WHERE s."id" = ANY(keys)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
q AS (
  INSERT INTO switchyard.quarantine (migration_name, source_key, reason, document)
  SELECT 'edge-cases', c.k::text, CASE WHEN c.d IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(c.d) <> 'object' THEN 'document is ' || jsonb_typeof(c.d) || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((c.d -> 'meta' -> 'label')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (c.d -> 'meta' ->> 'label') NOT IN (E'it''s $sy$ \\ "quoted" ünïcode', 'plain') THEN 'meta.label' || ': value ' || (c.d -> 'meta' ->> 'label') || ' is not allowed' ELSE NULL END ELSE 'meta.label' || ': expected string, got ' || jsonb_typeof((c.d -> 'meta' -> 'label')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'meta' -> 'measures' -> 'weight')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN abs((c.d -> 'meta' -> 'measures' ->> 'weight')::numeric) >= 1.7976931348623159e308 OR ((c.d -> 'meta' -> 'measures' ->> 'weight')::numeric <> 0 AND abs((c.d -> 'meta' -> 'measures' ->> 'weight')::numeric) < 2.4703282292062327e-324) THEN 'meta.measures.weight' || ': out of range for double precision: ' || (c.d -> 'meta' -> 'measures' ->> 'weight') ELSE NULL END ELSE 'meta.measures.weight' || ': expected number, got ' || jsonb_typeof((c.d -> 'meta' -> 'measures' -> 'weight')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'count')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (c.d ->> 'count')::numeric <> trunc((c.d ->> 'count')::numeric) OR (c.d ->> 'count')::numeric NOT BETWEEN -32768 AND 32767 THEN 'count' || ': not a valid smallint: ' || (c.d ->> 'count') ELSE NULL END ELSE 'count' || ': expected number, got ' || jsonb_typeof((c.d -> 'count')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'price')), 'null') WHEN 'null' THEN 'price' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'price' || ': expected number, got ' || jsonb_typeof((c.d -> 'price')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'seen' -> 'at')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((c.d -> 'seen' ->> 'at')) ~ '(now|today|tomorrow|yesterday)' THEN 'seen.at' || ': a relative time is not a value: ' || (c.d -> 'seen' ->> 'at') WHEN switchyard.try_cast((c.d -> 'seen' ->> 'at'), 'timestamptz') IS NOT TRUE THEN 'seen.at' || ': not a valid timestamptz: ' || (c.d -> 'seen' ->> 'at') ELSE NULL END ELSE 'seen.at' || ': expected string, got ' || jsonb_typeof((c.d -> 'seen' -> 'at')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'born_on')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((c.d ->> 'born_on')) ~ '(now|today|tomorrow|yesterday)' THEN 'born_on' || ': a relative time is not a value: ' || (c.d ->> 'born_on') WHEN switchyard.try_cast((c.d ->> 'born_on'), 'date') IS NOT TRUE THEN 'born_on' || ': not a valid date: ' || (c.d ->> 'born_on') ELSE NULL END ELSE 'born_on' || ': expected string, got ' || jsonb_typeof((c.d -> 'born_on')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'ref')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN switchyard.try_cast((c.d ->> 'ref'), 'uuid') IS NOT TRUE THEN 'ref' || ': not a valid uuid: ' || (c.d ->> 'ref') ELSE NULL END ELSE 'ref' || ': expected string, got ' || jsonb_typeof((c.d -> 'ref')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'active')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE 'active' || ': expected boolean, got ' || jsonb_typeof((c.d -> 'active')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'big')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (c.d ->> 'big')::numeric <> trunc((c.d ->> 'big')::numeric) OR (c.d ->> 'big')::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN 'big' || ': not a valid bigint: ' || (c.d ->> 'big') ELSE NULL END ELSE 'big' || ': expected number, got ' || jsonb_typeof((c.d -> 'big')) END,
        CASE WHEN (c.d -> 'parts' -> 'by_slot') IS NOT NULL AND jsonb_typeof((c.d -> 'parts' -> 'by_slot')) NOT IN ('object', 'null') THEN 'parts.by_slot: expected object, got ' || jsonb_typeof((c.d -> 'parts' -> 'by_slot')) END,
        (SELECT x.r FROM (SELECT coalesce(CASE WHEN e.key NOT IN ('left', 'right') THEN 'parts.by_slot: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'parts.by_slot.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'size')), 'null') WHEN 'null' THEN ('parts.by_slot.' || e.key || '.size') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'size')::numeric <> trunc((e.value ->> 'size')::numeric) OR (e.value ->> 'size')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('parts.by_slot.' || e.key || '.size') || ': not a valid integer: ' || (e.value ->> 'size') ELSE NULL END ELSE ('parts.by_slot.' || e.key || '.size') || ': expected number, got ' || jsonb_typeof((e.value -> 'size')) END, CASE coalesce(jsonb_typeof((e.value -> 'note' -> 'text')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE ('parts.by_slot.' || e.key || '.note.text') || ': expected string, got ' || jsonb_typeof((e.value -> 'note' -> 'text')) END) AS r FROM jsonb_each((CASE WHEN jsonb_typeof((c.d -> 'parts' -> 'by_slot')) = 'object' THEN (c.d -> 'parts' -> 'by_slot') ELSE '{}'::jsonb END)) AS e) x WHERE x.r IS NOT NULL LIMIT 1)) END, c.d FROM sy_doc c WHERE NOT c.ok
  ON CONFLICT (migration_name, source_key) DO UPDATE
    SET reason = EXCLUDED.reason, document = EXCLUDED.document, quarantined_at = now()
  RETURNING 1
),
t0 AS (
  INSERT INTO "app"."thing_facts" AS t ("thing_id", "label", "weight", "count", "price", "seen_at", "born_on", "ref", "active", "big")
  SELECT x.* FROM (SELECT src.k, coalesce((src.d -> 'meta' ->> 'label'), (E'it''s $sy$ \\ "quoted" ünïcode')::text), (src.d -> 'meta' -> 'measures' ->> 'weight')::double precision, coalesce((src.d ->> 'count')::numeric::smallint, (-32768)::smallint), (src.d ->> 'price')::numeric, (src.d -> 'seen' ->> 'at')::timestamptz, coalesce((src.d ->> 'born_on')::date, ('2000-01-31')::date), (src.d ->> 'ref')::uuid, coalesce((src.d ->> 'active')::boolean, (false)::boolean), (src.d ->> 'big')::numeric::bigint FROM src OFFSET 0) AS x(sy_k, sy_c0, sy_c1, sy_c2, sy_c3, sy_c4, sy_c5, sy_c6, sy_c7, sy_c8)
  RETURNING 1
),
t1 AS (
  INSERT INTO "app"."thing_parts" AS t ("thing_id", "slot", "size", "note")
  SELECT x.* FROM (SELECT src.k, e.key, (e.value ->> 'size')::numeric::integer, (e.value -> 'note' ->> 'text') FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((src.d -> 'parts' -> 'by_slot')) = 'object' THEN (src.d -> 'parts' -> 'by_slot') ELSE '{}'::jsonb END)) AS e OFFSET 0) AS x(sy_k, sy_ek, sy_c0, sy_c1)
  RETURNING 1
),
u AS (
  INSERT INTO switchyard.unmapped_keys (migration_name, key_path, documents)
  SELECT 'edge-cases', x.path, count(*) FROM (SELECT k.key AS path FROM (SELECT src.d - ARRAY['active', 'big', 'born_on', 'count', 'meta', 'parts', 'price', 'ref', 'seen']::text[] AS rest FROM src WHERE jsonb_typeof(src.d) = 'object') r CROSS JOIN LATERAL jsonb_object_keys(r.rest) AS k(key) WHERE r.rest <> '{}'::jsonb
  UNION ALL SELECT 'parts.by_slot' || '.*.' || k.key FROM (SELECT e.value - ARRAY['note', 'size']::text[] AS rest FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((src.d -> 'parts' -> 'by_slot')) = 'object' THEN (src.d -> 'parts' -> 'by_slot') ELSE '{}'::jsonb END)) AS e WHERE jsonb_typeof(e.value) = 'object') r CROSS JOIN LATERAL jsonb_object_keys(r.rest) AS k(key) WHERE r.rest <> '{}'::jsonb) AS x WHERE backfill GROUP BY x.path
  ON CONFLICT (migration_name, key_path) DO UPDATE SET documents = switchyard.unmapped_keys.documents + EXCLUDED.documents
  RETURNING 1
)
SELECT (SELECT count(*) FROM sy_doc), (SELECT count(*) FROM q), (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1) + (SELECT count(*) FROM u) INTO n_rows, n_quarantined, n_written;
ELSE
LOOP
WITH sy_doc AS MATERIALIZED (
  SELECT s."id" AS k, s."data" AS d, (CASE WHEN s."data" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."data") <> 'object' THEN 'document is ' || jsonb_typeof(s."data") || ', expected an object' ELSE coalesce(CASE WHEN write_0 THEN coalesce(CASE coalesce(jsonb_typeof((s."data" -> 'meta' -> 'label')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."data" -> 'meta' ->> 'label') NOT IN (E'it''s $sy$ \\ "quoted" ünïcode', 'plain') THEN 'meta.label' || ': value ' || (s."data" -> 'meta' ->> 'label') || ' is not allowed' ELSE NULL END ELSE 'meta.label' || ': expected string, got ' || jsonb_typeof((s."data" -> 'meta' -> 'label')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'meta' -> 'measures' -> 'weight')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN abs((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric) >= 1.7976931348623159e308 OR ((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric <> 0 AND abs((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric) < 2.4703282292062327e-324) THEN 'meta.measures.weight' || ': out of range for double precision: ' || (s."data" -> 'meta' -> 'measures' ->> 'weight') ELSE NULL END ELSE 'meta.measures.weight' || ': expected number, got ' || jsonb_typeof((s."data" -> 'meta' -> 'measures' -> 'weight')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'count')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."data" ->> 'count')::numeric <> trunc((s."data" ->> 'count')::numeric) OR (s."data" ->> 'count')::numeric NOT BETWEEN -32768 AND 32767 THEN 'count' || ': not a valid smallint: ' || (s."data" ->> 'count') ELSE NULL END ELSE 'count' || ': expected number, got ' || jsonb_typeof((s."data" -> 'count')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'price')), 'null') WHEN 'null' THEN 'price' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'price' || ': expected number, got ' || jsonb_typeof((s."data" -> 'price')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'seen' -> 'at')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((s."data" -> 'seen' ->> 'at')) ~ '(now|today|tomorrow|yesterday)' THEN 'seen.at' || ': a relative time is not a value: ' || (s."data" -> 'seen' ->> 'at') WHEN switchyard.try_cast((s."data" -> 'seen' ->> 'at'), 'timestamptz') IS NOT TRUE THEN 'seen.at' || ': not a valid timestamptz: ' || (s."data" -> 'seen' ->> 'at') ELSE NULL END ELSE 'seen.at' || ': expected string, got ' || jsonb_typeof((s."data" -> 'seen' -> 'at')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'born_on')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((s."data" ->> 'born_on')) ~ '(now|today|tomorrow|yesterday)' THEN 'born_on' || ': a relative time is not a value: ' || (s."data" ->> 'born_on') WHEN switchyard.try_cast((s."data" ->> 'born_on'), 'date') IS NOT TRUE THEN 'born_on' || ': not a valid date: ' || (s."data" ->> 'born_on') ELSE NULL END ELSE 'born_on' || ': expected string, got ' || jsonb_typeof((s."data" -> 'born_on')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'ref')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN switchyard.try_cast((s."data" ->> 'ref'), 'uuid') IS NOT TRUE THEN 'ref' || ': not a valid uuid: ' || (s."data" ->> 'ref') ELSE NULL END ELSE 'ref' || ': expected string, got ' || jsonb_typeof((s."data" -> 'ref')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'active')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE 'active' || ': expected boolean, got ' || jsonb_typeof((s."data" -> 'active')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'big')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."data" ->> 'big')::numeric <> trunc((s."data" ->> 'big')::numeric) OR (s."data" ->> 'big')::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN 'big' || ': not a valid bigint: ' || (s."data" ->> 'big') ELSE NULL END ELSE 'big' || ': expected number, got ' || jsonb_typeof((s."data" -> 'big')) END) END,
        CASE WHEN write_1 THEN coalesce(CASE WHEN (s."data" -> 'parts' -> 'by_slot') IS NOT NULL AND jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) NOT IN ('object', 'null') THEN 'parts.by_slot: expected object, got ' || jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) = 'object' THEN (s."data" -> 'parts' -> 'by_slot') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN e.key NOT IN ('left', 'right') THEN 'parts.by_slot: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'parts.by_slot.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'size')), 'null') WHEN 'null' THEN ('parts.by_slot.' || e.key || '.size') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'size')::numeric <> trunc((e.value ->> 'size')::numeric) OR (e.value ->> 'size')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('parts.by_slot.' || e.key || '.size') || ': not a valid integer: ' || (e.value ->> 'size') ELSE NULL END ELSE ('parts.by_slot.' || e.key || '.size') || ': expected number, got ' || jsonb_typeof((e.value -> 'size')) END, CASE coalesce(jsonb_typeof((e.value -> 'note' -> 'text')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE ('parts.by_slot.' || e.key || '.note.text') || ': expected string, got ' || jsonb_typeof((e.value -> 'note' -> 'text')) END) IS NOT NULL) THEN 'entry' END) END) END IS NULL) AS ok
  FROM "app"."things" s WHERE s."id" = ANY(keys)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
t0 AS (
  INSERT INTO "app"."thing_facts" AS t ("thing_id", "label", "weight", "count", "price", "seen_at", "born_on", "ref", "active", "big")
  SELECT x.* FROM (SELECT src.k, coalesce((src.d -> 'meta' ->> 'label'), (E'it''s $sy$ \\ "quoted" ünïcode')::text), (src.d -> 'meta' -> 'measures' ->> 'weight')::double precision, coalesce((src.d ->> 'count')::numeric::smallint, (-32768)::smallint), (src.d ->> 'price')::numeric, (src.d -> 'seen' ->> 'at')::timestamptz, coalesce((src.d ->> 'born_on')::date, ('2000-01-31')::date), (src.d ->> 'ref')::uuid, coalesce((src.d ->> 'active')::boolean, (false)::boolean), (src.d ->> 'big')::numeric::bigint FROM src WHERE write_0 OFFSET 0) AS x(sy_k, sy_c0, sy_c1, sy_c2, sy_c3, sy_c4, sy_c5, sy_c6, sy_c7, sy_c8)
  ON CONFLICT ("thing_id") DO UPDATE SET "label" = EXCLUDED."label", "weight" = EXCLUDED."weight", "count" = EXCLUDED."count", "price" = EXCLUDED."price", "seen_at" = EXCLUDED."seen_at", "born_on" = EXCLUDED."born_on", "ref" = EXCLUDED."ref", "active" = EXCLUDED."active", "big" = EXCLUDED."big"
  WHERE ROW(t."label"::text, t."weight"::text, t."count"::text, t."price"::text, t."seen_at"::text, t."born_on"::text, t."ref"::text, t."active"::text, t."big"::text) IS DISTINCT FROM ROW(EXCLUDED."label"::text, EXCLUDED."weight"::text, EXCLUDED."count"::text, EXCLUDED."price"::text, EXCLUDED."seen_at"::text, EXCLUDED."born_on"::text, EXCLUDED."ref"::text, EXCLUDED."active"::text, EXCLUDED."big"::text)
  RETURNING 1
),
t1 AS (
  INSERT INTO "app"."thing_parts" AS t ("thing_id", "slot", "size", "note")
  SELECT x.* FROM (SELECT src.k, e.key, (e.value ->> 'size')::numeric::integer, (e.value -> 'note' ->> 'text') FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((src.d -> 'parts' -> 'by_slot')) = 'object' THEN (src.d -> 'parts' -> 'by_slot') ELSE '{}'::jsonb END)) AS e WHERE write_1 OFFSET 0) AS x(sy_k, sy_ek, sy_c0, sy_c1)
  ON CONFLICT ("thing_id", "slot") DO UPDATE SET "size" = EXCLUDED."size", "note" = EXCLUDED."note"
  WHERE ROW(t."size"::text, t."note"::text) IS DISTINCT FROM ROW(EXCLUDED."size"::text, EXCLUDED."note"::text)
  RETURNING 1
)
SELECT (SELECT count(*) FROM sy_doc), (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1), (SELECT array_agg(c.k) FROM sy_doc c WHERE NOT c.ok) INTO n_rows, n_written, bad;
  n_quarantined := 0;
  IF bad IS NOT NULL THEN
    INSERT INTO switchyard.quarantine (migration_name, source_key, reason, document)
    SELECT 'edge-cases', s."id"::text, CASE WHEN s."data" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."data") <> 'object' THEN 'document is ' || jsonb_typeof(s."data") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."data" -> 'meta' -> 'label')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."data" -> 'meta' ->> 'label') NOT IN (E'it''s $sy$ \\ "quoted" ünïcode', 'plain') THEN 'meta.label' || ': value ' || (s."data" -> 'meta' ->> 'label') || ' is not allowed' ELSE NULL END ELSE 'meta.label' || ': expected string, got ' || jsonb_typeof((s."data" -> 'meta' -> 'label')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'meta' -> 'measures' -> 'weight')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN abs((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric) >= 1.7976931348623159e308 OR ((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric <> 0 AND abs((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric) < 2.4703282292062327e-324) THEN 'meta.measures.weight' || ': out of range for double precision: ' || (s."data" -> 'meta' -> 'measures' ->> 'weight') ELSE NULL END ELSE 'meta.measures.weight' || ': expected number, got ' || jsonb_typeof((s."data" -> 'meta' -> 'measures' -> 'weight')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'count')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."data" ->> 'count')::numeric <> trunc((s."data" ->> 'count')::numeric) OR (s."data" ->> 'count')::numeric NOT BETWEEN -32768 AND 32767 THEN 'count' || ': not a valid smallint: ' || (s."data" ->> 'count') ELSE NULL END ELSE 'count' || ': expected number, got ' || jsonb_typeof((s."data" -> 'count')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'price')), 'null') WHEN 'null' THEN 'price' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'price' || ': expected number, got ' || jsonb_typeof((s."data" -> 'price')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'seen' -> 'at')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((s."data" -> 'seen' ->> 'at')) ~ '(now|today|tomorrow|yesterday)' THEN 'seen.at' || ': a relative time is not a value: ' || (s."data" -> 'seen' ->> 'at') WHEN switchyard.try_cast((s."data" -> 'seen' ->> 'at'), 'timestamptz') IS NOT TRUE THEN 'seen.at' || ': not a valid timestamptz: ' || (s."data" -> 'seen' ->> 'at') ELSE NULL END ELSE 'seen.at' || ': expected string, got ' || jsonb_typeof((s."data" -> 'seen' -> 'at')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'born_on')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((s."data" ->> 'born_on')) ~ '(now|today|tomorrow|yesterday)' THEN 'born_on' || ': a relative time is not a value: ' || (s."data" ->> 'born_on') WHEN switchyard.try_cast((s."data" ->> 'born_on'), 'date') IS NOT TRUE THEN 'born_on' || ': not a valid date: ' || (s."data" ->> 'born_on') ELSE NULL END ELSE 'born_on' || ': expected string, got ' || jsonb_typeof((s."data" -> 'born_on')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'ref')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN switchyard.try_cast((s."data" ->> 'ref'), 'uuid') IS NOT TRUE THEN 'ref' || ': not a valid uuid: ' || (s."data" ->> 'ref') ELSE NULL END ELSE 'ref' || ': expected string, got ' || jsonb_typeof((s."data" -> 'ref')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'active')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE 'active' || ': expected boolean, got ' || jsonb_typeof((s."data" -> 'active')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'big')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."data" ->> 'big')::numeric <> trunc((s."data" ->> 'big')::numeric) OR (s."data" ->> 'big')::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN 'big' || ': not a valid bigint: ' || (s."data" ->> 'big') ELSE NULL END ELSE 'big' || ': expected number, got ' || jsonb_typeof((s."data" -> 'big')) END,
        CASE WHEN (s."data" -> 'parts' -> 'by_slot') IS NOT NULL AND jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) NOT IN ('object', 'null') THEN 'parts.by_slot: expected object, got ' || jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) END,
        (SELECT x.r FROM (SELECT coalesce(CASE WHEN e.key NOT IN ('left', 'right') THEN 'parts.by_slot: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'parts.by_slot.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'size')), 'null') WHEN 'null' THEN ('parts.by_slot.' || e.key || '.size') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'size')::numeric <> trunc((e.value ->> 'size')::numeric) OR (e.value ->> 'size')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('parts.by_slot.' || e.key || '.size') || ': not a valid integer: ' || (e.value ->> 'size') ELSE NULL END ELSE ('parts.by_slot.' || e.key || '.size') || ': expected number, got ' || jsonb_typeof((e.value -> 'size')) END, CASE coalesce(jsonb_typeof((e.value -> 'note' -> 'text')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE ('parts.by_slot.' || e.key || '.note.text') || ': expected string, got ' || jsonb_typeof((e.value -> 'note' -> 'text')) END) AS r FROM jsonb_each((CASE WHEN jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) = 'object' THEN (s."data" -> 'parts' -> 'by_slot') ELSE '{}'::jsonb END)) AS e) x WHERE x.r IS NOT NULL LIMIT 1)) END, s."data" FROM "app"."things" s WHERE s."id" = ANY(bad)
    ON CONFLICT (migration_name, source_key) DO UPDATE
    SET reason = EXCLUDED.reason, document = EXCLUDED.document, quarantined_at = now();
    GET DIAGNOSTICS n_quarantined = ROW_COUNT;
  END IF;
  IF bad IS NOT NULL THEN
    DELETE FROM "app"."thing_facts" t WHERE t."thing_id" = ANY(bad);
  END IF;
  IF bad IS NOT NULL THEN
    DELETE FROM "app"."thing_parts" t WHERE t."thing_id" = ANY(bad);
  END IF;
  IF write_1 THEN
    DELETE FROM "app"."thing_parts" t WHERE t."thing_id" = ANY(keys) AND NOT EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = t."thing_id" AND jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) = 'object' AND (s."data" -> 'parts' -> 'by_slot') ? t."slot");
  END IF;
  EXIT WHEN dirty IS NULL OR (write_0 AND write_1);
  IF counted IS NULL THEN counted := ARRAY[n_rows, n_quarantined]; END IF;
  keys := dirty::uuid[]; dirty := NULL; write_0 := true; write_1 := true;
END LOOP;
IF counted IS NOT NULL THEN
  n_rows := counted[1]; n_quarantined := counted[2];
END IF;
END IF;
END;
$sy1$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_map"(keys uuid[], backfill boolean, write_0 boolean DEFAULT true, write_1 boolean DEFAULT true, OUT n_rows bigint, OUT n_quarantined bigint) RETURNS record
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  k uuid;
  one record;
  msg text;
  doc jsonb;
  pending uuid[];
  refused uuid[];
  reasons text[];
  i integer;
BEGIN
n_rows := 0;
n_quarantined := 0;
IF keys IS NULL OR cardinality(keys) = 0 THEN RETURN; END IF;
BEGIN
  SELECT a.n_rows, a.n_quarantined INTO n_rows, n_quarantined FROM switchyard."sy_edge_cases_8e2d2f6b_apply"(keys, backfill, false, write_0, write_1) a;
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
      SELECT a.n_rows, a.n_quarantined INTO one FROM switchyard."sy_edge_cases_8e2d2f6b_apply"(ARRAY[k], backfill, true, write_0, write_1) a;
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
  SELECT s."data" INTO doc FROM "app"."things" s WHERE s."id" = k;
  IF FOUND THEN
        DELETE FROM "app"."thing_facts" t WHERE t."thing_id" = k;
        DELETE FROM "app"."thing_parts" t WHERE t."thing_id" = k;
    INSERT INTO switchyard.quarantine (migration_name, source_key, reason, document)
    VALUES ('edge-cases', k::text, 'the database refused the mapping: ' || reasons[i], doc)
    ON CONFLICT (migration_name, source_key) DO UPDATE
      SET reason = EXCLUDED.reason, document = EXCLUDED.document, quarantined_at = now();
    n_rows := n_rows + 1;
    n_quarantined := n_quarantined + 1;
  END IF;
END LOOP;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_capture"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys uuid[];
BEGIN
IF TG_OP = 'INSERT' THEN
  SELECT array_agg(n."id" ORDER BY n."id") FROM sy_new n INTO keys;
ELSIF TG_OP = 'DELETE' THEN
  SELECT array_agg(o."id" ORDER BY o."id") FROM sy_old o INTO keys;
ELSE
  SELECT array_agg(DISTINCT coalesce(n."id", o."id") ORDER BY coalesce(n."id", o."id")) FROM sy_new n FULL JOIN sy_old o ON o."id" = n."id"
    WHERE n."id" IS NULL OR o."id" IS NULL OR NOT (o."data" IS NOT DISTINCT FROM n."data" AND o."data"::text IS NOT DISTINCT FROM n."data"::text) INTO keys;
END IF;
IF keys IS NOT NULL THEN
  INSERT INTO switchyard.capture_log (migration_name, source_key) SELECT 'edge-cases', k::text FROM unnest(keys) AS k;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_dw"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys uuid[];
  part record;
BEGIN
IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;
PERFORM set_config('switchyard.syncing', 'on', true), set_config('switchyard.rows_held', 'on', true);
BEGIN
  IF TG_OP = 'UPDATE' THEN
    FOR part IN SELECT array_agg(DISTINCT x.k ORDER BY x.k) AS keys, x.w0, x.w1 FROM (
      SELECT coalesce(n."id", o."id") AS k, o."id" IS NULL OR n."id" IS NULL OR NOT ((o."data" -> 'active') IS NOT DISTINCT FROM (n."data" -> 'active') AND (o."data" -> 'active')::text IS NOT DISTINCT FROM (n."data" -> 'active')::text AND (o."data" -> 'big') IS NOT DISTINCT FROM (n."data" -> 'big') AND (o."data" -> 'big')::text IS NOT DISTINCT FROM (n."data" -> 'big')::text AND (o."data" -> 'born_on') IS NOT DISTINCT FROM (n."data" -> 'born_on') AND (o."data" -> 'born_on')::text IS NOT DISTINCT FROM (n."data" -> 'born_on')::text AND (o."data" -> 'count') IS NOT DISTINCT FROM (n."data" -> 'count') AND (o."data" -> 'count')::text IS NOT DISTINCT FROM (n."data" -> 'count')::text AND (o."data" -> 'meta' -> 'label') IS NOT DISTINCT FROM (n."data" -> 'meta' -> 'label') AND (o."data" -> 'meta' -> 'label')::text IS NOT DISTINCT FROM (n."data" -> 'meta' -> 'label')::text AND (o."data" -> 'meta' -> 'measures' -> 'weight') IS NOT DISTINCT FROM (n."data" -> 'meta' -> 'measures' -> 'weight') AND (o."data" -> 'meta' -> 'measures' -> 'weight')::text IS NOT DISTINCT FROM (n."data" -> 'meta' -> 'measures' -> 'weight')::text AND (o."data" -> 'price') IS NOT DISTINCT FROM (n."data" -> 'price') AND (o."data" -> 'price')::text IS NOT DISTINCT FROM (n."data" -> 'price')::text AND (o."data" -> 'ref') IS NOT DISTINCT FROM (n."data" -> 'ref') AND (o."data" -> 'ref')::text IS NOT DISTINCT FROM (n."data" -> 'ref')::text AND (o."data" -> 'seen' -> 'at') IS NOT DISTINCT FROM (n."data" -> 'seen' -> 'at') AND (o."data" -> 'seen' -> 'at')::text IS NOT DISTINCT FROM (n."data" -> 'seen' -> 'at')::text) AS w0, o."id" IS NULL OR n."id" IS NULL OR NOT ((o."data" -> 'parts' -> 'by_slot') IS NOT DISTINCT FROM (n."data" -> 'parts' -> 'by_slot') AND (o."data" -> 'parts' -> 'by_slot')::text IS NOT DISTINCT FROM (n."data" -> 'parts' -> 'by_slot')::text) AS w1 FROM sy_new n FULL JOIN sy_old o ON o."id" = n."id"
      WHERE n."id" IS NULL OR o."id" IS NULL OR NOT (o."data" IS NOT DISTINCT FROM n."data" AND o."data"::text IS NOT DISTINCT FROM n."data"::text)) x
      GROUP BY x.w0, x.w1 ORDER BY 1 LOOP
      PERFORM switchyard."sy_edge_cases_8e2d2f6b_apply"(part.keys, false, false, part.w0, part.w1);
    END LOOP;
  ELSE
    IF TG_OP = 'INSERT' THEN
      SELECT array_agg(n."id" ORDER BY n."id") FROM sy_new n INTO keys;
    ELSIF TG_OP = 'DELETE' THEN
      SELECT array_agg(o."id" ORDER BY o."id") FROM sy_old o INTO keys;
    END IF;
    IF keys IS NOT NULL THEN
      PERFORM switchyard."sy_edge_cases_8e2d2f6b_apply"(keys, false, false);
    END IF;
  END IF;
EXCEPTION
  WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
    IF TG_OP = 'UPDATE' THEN
      SELECT array_agg(DISTINCT coalesce(n."id", o."id") ORDER BY coalesce(n."id", o."id")) FROM sy_new n FULL JOIN sy_old o ON o."id" = n."id"
        WHERE n."id" IS NULL OR o."id" IS NULL OR NOT (o."data" IS NOT DISTINCT FROM n."data" AND o."data"::text IS NOT DISTINCT FROM n."data"::text) INTO keys;
    END IF;
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key)
    SELECT 'edge-cases', 'forward', k::text FROM unnest(keys) AS k;
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
          SELECT coalesce(n."id", o."id") AS k, o."id" IS NULL OR n."id" IS NULL OR NOT ((o."data" -> 'active') IS NOT DISTINCT FROM (n."data" -> 'active') AND (o."data" -> 'active')::text IS NOT DISTINCT FROM (n."data" -> 'active')::text AND (o."data" -> 'big') IS NOT DISTINCT FROM (n."data" -> 'big') AND (o."data" -> 'big')::text IS NOT DISTINCT FROM (n."data" -> 'big')::text AND (o."data" -> 'born_on') IS NOT DISTINCT FROM (n."data" -> 'born_on') AND (o."data" -> 'born_on')::text IS NOT DISTINCT FROM (n."data" -> 'born_on')::text AND (o."data" -> 'count') IS NOT DISTINCT FROM (n."data" -> 'count') AND (o."data" -> 'count')::text IS NOT DISTINCT FROM (n."data" -> 'count')::text AND (o."data" -> 'meta' -> 'label') IS NOT DISTINCT FROM (n."data" -> 'meta' -> 'label') AND (o."data" -> 'meta' -> 'label')::text IS NOT DISTINCT FROM (n."data" -> 'meta' -> 'label')::text AND (o."data" -> 'meta' -> 'measures' -> 'weight') IS NOT DISTINCT FROM (n."data" -> 'meta' -> 'measures' -> 'weight') AND (o."data" -> 'meta' -> 'measures' -> 'weight')::text IS NOT DISTINCT FROM (n."data" -> 'meta' -> 'measures' -> 'weight')::text AND (o."data" -> 'price') IS NOT DISTINCT FROM (n."data" -> 'price') AND (o."data" -> 'price')::text IS NOT DISTINCT FROM (n."data" -> 'price')::text AND (o."data" -> 'ref') IS NOT DISTINCT FROM (n."data" -> 'ref') AND (o."data" -> 'ref')::text IS NOT DISTINCT FROM (n."data" -> 'ref')::text AND (o."data" -> 'seen' -> 'at') IS NOT DISTINCT FROM (n."data" -> 'seen' -> 'at') AND (o."data" -> 'seen' -> 'at')::text IS NOT DISTINCT FROM (n."data" -> 'seen' -> 'at')::text) AS w0, o."id" IS NULL OR n."id" IS NULL OR NOT ((o."data" -> 'parts' -> 'by_slot') IS NOT DISTINCT FROM (n."data" -> 'parts' -> 'by_slot') AND (o."data" -> 'parts' -> 'by_slot')::text IS NOT DISTINCT FROM (n."data" -> 'parts' -> 'by_slot')::text) AS w1 FROM sy_new n FULL JOIN sy_old o ON o."id" = n."id"
          WHERE n."id" IS NULL OR o."id" IS NULL OR NOT (o."data" IS NOT DISTINCT FROM n."data" AND o."data"::text IS NOT DISTINCT FROM n."data"::text)) x
          GROUP BY x.w0, x.w1 ORDER BY 1 LOOP
          PERFORM switchyard."sy_edge_cases_8e2d2f6b_map"(part.keys, false, part.w0, part.w1);
        END LOOP;
      ELSE
        PERFORM switchyard."sy_edge_cases_8e2d2f6b_map"(keys, false);
      END IF;
    EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
      IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT coalesce(n."id", o."id") ORDER BY coalesce(n."id", o."id")) FROM sy_new n FULL JOIN sy_old o ON o."id" = n."id"
          WHERE n."id" IS NULL OR o."id" IS NULL OR NOT (o."data" IS NOT DISTINCT FROM n."data" AND o."data"::text IS NOT DISTINCT FROM n."data"::text) INTO keys;
      END IF;
      INSERT INTO switchyard.sync_queue (migration_name, kind, source_key)
      SELECT 'edge-cases', 'forward', k::text FROM unnest(keys) AS k;
    END;
END;
PERFORM set_config('switchyard.syncing', 'off', true), set_config('switchyard.rows_held', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_wb_0"(doc jsonb, op text, old_row jsonb, new_row jsonb) RETURNS jsonb
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy1$
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
  d := switchyard.jsonb_remove(d, '{"meta","label"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"meta","measures","weight"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"count"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"price"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"seen","at"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"born_on"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"ref"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"active"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"big"}'::text[]);
  RETURN d;
END IF;
IF op = 'REPLAY_DELETE' THEN
  v := (d -> 'meta' -> 'label');
  IF (CASE WHEN (old_row -> 'label') IS NULL THEN false WHEN (old_row -> 'label') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'label') = to_jsonb((E'it''s $sy$ \\ "quoted" ünïcode')::text), false) ELSE coalesce(v = (old_row -> 'label'), false) END) END) THEN d := switchyard.jsonb_remove(d, '{"meta","label"}'::text[]); END IF;
  v := (d -> 'meta' -> 'measures' -> 'weight');
  IF (CASE WHEN (old_row -> 'weight') IS NULL THEN false WHEN (old_row -> 'weight') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (coalesce(v = (old_row -> 'weight'), false) OR switchyard.same_value(v, (old_row -> 'weight') #>> '{}', 'double precision')) END) THEN d := switchyard.jsonb_remove(d, '{"meta","measures","weight"}'::text[]); END IF;
  v := (d -> 'count');
  IF (CASE WHEN (old_row -> 'count') IS NULL THEN false WHEN (old_row -> 'count') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'count') = to_jsonb((-32768)::smallint), false) ELSE coalesce(v = (old_row -> 'count'), false) END) END) THEN d := switchyard.jsonb_remove(d, '{"count"}'::text[]); END IF;
  v := (d -> 'price');
  IF (CASE WHEN (old_row -> 'price') IS NULL THEN false WHEN (old_row -> 'price') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v::text = (old_row -> 'price')::text, false) END) THEN d := switchyard.jsonb_remove(d, '{"price"}'::text[]); END IF;
  v := (d -> 'seen' -> 'at');
  IF (CASE WHEN (old_row -> 'seen_at') IS NULL THEN false WHEN (old_row -> 'seen_at') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (coalesce(v = (old_row -> 'seen_at'), false) OR switchyard.same_value(v, (old_row -> 'seen_at') #>> '{}', 'timestamptz')) END) THEN d := switchyard.jsonb_remove(d, '{"seen","at"}'::text[]); END IF;
  v := (d -> 'born_on');
  IF (CASE WHEN (old_row -> 'born_on') IS NULL THEN false WHEN (old_row -> 'born_on') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'born_on') = to_jsonb(('2000-01-31')::date), false) ELSE (coalesce(v = (old_row -> 'born_on'), false) OR switchyard.same_value(v, (old_row -> 'born_on') #>> '{}', 'date')) END) END) THEN d := switchyard.jsonb_remove(d, '{"born_on"}'::text[]); END IF;
  v := (d -> 'ref');
  IF (CASE WHEN (old_row -> 'ref') IS NULL THEN false WHEN (old_row -> 'ref') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (coalesce(v = (old_row -> 'ref'), false) OR switchyard.same_value(v, (old_row -> 'ref') #>> '{}', 'uuid')) END) THEN d := switchyard.jsonb_remove(d, '{"ref"}'::text[]); END IF;
  v := (d -> 'active');
  IF (CASE WHEN (old_row -> 'active') IS NULL THEN false WHEN (old_row -> 'active') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'active') = to_jsonb((false)::boolean), false) ELSE coalesce(v = (old_row -> 'active'), false) END) END) THEN d := switchyard.jsonb_remove(d, '{"active"}'::text[]); END IF;
  v := (d -> 'big');
  IF (CASE WHEN (old_row -> 'big') IS NULL THEN false WHEN (old_row -> 'big') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v = (old_row -> 'big'), false) END) THEN d := switchyard.jsonb_remove(d, '{"big"}'::text[]); END IF;
  RETURN d;
END IF;
IF d IS NULL OR d = 'null'::jsonb THEN d := '{}'::jsonb; END IF;
x := new_row -> 'label';
v := (d -> 'meta' -> 'label');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'label')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'label') IS NULL THEN false WHEN (old_row -> 'label') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'label') = to_jsonb((E'it''s $sy$ \\ "quoted" ünïcode')::text), false) ELSE coalesce(v = (old_row -> 'label'), false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"meta","label"}'::text[]); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb((E'it''s $sy$ \\ "quoted" ünïcode')::text), false) ELSE coalesce(v = x, false) END) THEN
    d := switchyard.jsonb_put(d, '{"meta","label"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'weight';
v := (d -> 'meta' -> 'measures' -> 'weight');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'weight')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'weight') IS NULL THEN false WHEN (old_row -> 'weight') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (coalesce(v = (old_row -> 'weight'), false) OR switchyard.same_value(v, (old_row -> 'weight') #>> '{}', 'double precision')) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"meta","measures","weight"}'::text[]); END IF;
  ELSIF NOT (coalesce(v = x, false) OR switchyard.same_value(v, x #>> '{}', 'double precision')) THEN
    d := switchyard.jsonb_put(d, '{"meta","measures","weight"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'count';
v := (d -> 'count');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'count')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'count') IS NULL THEN false WHEN (old_row -> 'count') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'count') = to_jsonb((-32768)::smallint), false) ELSE coalesce(v = (old_row -> 'count'), false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"count"}'::text[]); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb((-32768)::smallint), false) ELSE coalesce(v = x, false) END) THEN
    d := switchyard.jsonb_put(d, '{"count"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'price';
v := (d -> 'price');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'price')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'price') IS NULL THEN false WHEN (old_row -> 'price') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v::text = (old_row -> 'price')::text, false) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"price"}'::text[]); END IF;
  ELSIF NOT coalesce(v::text = x::text, false) THEN
    d := switchyard.jsonb_put(d, '{"price"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'seen_at';
v := (d -> 'seen' -> 'at');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'seen_at')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'seen_at') IS NULL THEN false WHEN (old_row -> 'seen_at') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (coalesce(v = (old_row -> 'seen_at'), false) OR switchyard.same_value(v, (old_row -> 'seen_at') #>> '{}', 'timestamptz')) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"seen","at"}'::text[]); END IF;
  ELSIF NOT (coalesce(v = x, false) OR switchyard.same_value(v, x #>> '{}', 'timestamptz')) THEN
    d := switchyard.jsonb_put(d, '{"seen","at"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'born_on';
v := (d -> 'born_on');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'born_on')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'born_on') IS NULL THEN false WHEN (old_row -> 'born_on') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'born_on') = to_jsonb(('2000-01-31')::date), false) ELSE (coalesce(v = (old_row -> 'born_on'), false) OR switchyard.same_value(v, (old_row -> 'born_on') #>> '{}', 'date')) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"born_on"}'::text[]); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb(('2000-01-31')::date), false) ELSE (coalesce(v = x, false) OR switchyard.same_value(v, x #>> '{}', 'date')) END) THEN
    d := switchyard.jsonb_put(d, '{"born_on"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'ref';
v := (d -> 'ref');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'ref')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'ref') IS NULL THEN false WHEN (old_row -> 'ref') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (coalesce(v = (old_row -> 'ref'), false) OR switchyard.same_value(v, (old_row -> 'ref') #>> '{}', 'uuid')) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"ref"}'::text[]); END IF;
  ELSIF NOT (coalesce(v = x, false) OR switchyard.same_value(v, x #>> '{}', 'uuid')) THEN
    d := switchyard.jsonb_put(d, '{"ref"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'active';
v := (d -> 'active');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'active')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'active') IS NULL THEN false WHEN (old_row -> 'active') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'active') = to_jsonb((false)::boolean), false) ELSE coalesce(v = (old_row -> 'active'), false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"active"}'::text[]); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb((false)::boolean), false) ELSE coalesce(v = x, false) END) THEN
    d := switchyard.jsonb_put(d, '{"active"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'big';
v := (d -> 'big');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'big')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'big') IS NULL THEN false WHEN (old_row -> 'big') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v = (old_row -> 'big'), false) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"big"}'::text[]); END IF;
  ELSIF NOT coalesce(v = x, false) THEN
    d := switchyard.jsonb_put(d, '{"big"}'::text[], x);
  END IF;
END IF;
RETURN d;
END;
$sy1$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rsync_0"(op text, old_row jsonb, new_row jsonb) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  d jsonb;
  nd jsonb;
  ok uuid;
  nk uuid;
  moved boolean;
BEGIN
ok := (old_row ->> 'thing_id')::uuid;
nk := (new_row ->> 'thing_id')::uuid;
moved := op = 'UPDATE' AND (ok IS DISTINCT FROM nk);
IF moved AND ok IS DISTINCT FROM nk AND (NOT EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = ok) OR EXISTS (SELECT 1 FROM "app"."thing_facts" x WHERE x."thing_id" = ok)) THEN
  -- A cascaded source key update: the document moved with the row, and
  -- the dual-write has already mapped it; the row's image is older.
  RETURN;
END IF;
IF op = 'REPLAY_DELETE' THEN
  SELECT s."data" INTO d FROM "app"."things" s WHERE s."id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_edge_cases_8e2d2f6b_wb_0"(d, op, old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "app"."things" s SET "data" = nd WHERE s."id" = ok; END IF;
  END IF;
  RETURN;
END IF;
IF op = 'DELETE' OR moved THEN
  SELECT s."data" INTO d FROM "app"."things" s WHERE s."id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_edge_cases_8e2d2f6b_wb_0"(d, 'DELETE', old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "app"."things" s SET "data" = nd WHERE s."id" = ok; END IF;
  END IF;
END IF;
IF op <> 'DELETE' THEN
  SELECT s."data" INTO d FROM "app"."things" s WHERE s."id" = nk FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_edge_cases_8e2d2f6b_wb_0"(d, CASE WHEN moved THEN 'SYNC' ELSE op END, old_row, new_row);
    IF nd IS DISTINCT FROM d THEN UPDATE "app"."things" s SET "data" = nd WHERE s."id" = nk; END IF;
  END IF;
END IF;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_resync_0"(k uuid, entry text, first_op text, baseline jsonb, deleted boolean) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  img jsonb;
  prev text;
BEGIN
prev := current_setting('switchyard.syncing', true);
PERFORM set_config('switchyard.syncing', 'on', true);
SELECT to_jsonb(t.*) INTO img FROM "app"."thing_facts" t WHERE t."thing_id" = k FOR SHARE;
IF first_op IS NULL THEN
  IF FOUND THEN
    PERFORM switchyard."sy_edge_cases_8e2d2f6b_rsync_0"('SYNC', NULL, img);
  ELSE
    PERFORM switchyard."sy_edge_cases_8e2d2f6b_rsync_0"('DELETE', jsonb_build_object('thing_id', k), NULL);
  END IF;
ELSIF FOUND THEN
  PERFORM switchyard."sy_edge_cases_8e2d2f6b_rsync_0"(CASE WHEN first_op = 'INSERT' THEN 'REPLAY_INSERT' ELSE 'REPLAY' END, baseline, img);
ELSIF first_op <> 'INSERT' AND deleted THEN
  PERFORM switchyard."sy_edge_cases_8e2d2f6b_rsync_0"('REPLAY_DELETE', coalesce(baseline, '{}'::jsonb) || jsonb_build_object('thing_id', k), NULL);
END IF;
PERFORM set_config('switchyard.syncing', coalesce(prev, 'off'), true);
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rev_0"() RETURNS trigger
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
  PERFORM switchyard."sy_edge_cases_8e2d2f6b_rsync_0"(TG_OP, old_img, new_img);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('edge-cases', 'reverse', NEW."thing_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
  ELSIF TG_OP = 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = OLD."thing_id") THEN
      INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
      VALUES ('edge-cases', 'reverse', OLD."thing_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD));
    END IF;
  ELSIF OLD."thing_id" IS DISTINCT FROM NEW."thing_id" AND NULL::text IS NOT DISTINCT FROM NULL::text
        AND (NOT EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = OLD."thing_id") OR EXISTS (SELECT 1 FROM "app"."thing_facts" x WHERE x."thing_id" = OLD."thing_id")) THEN
    -- The cascade of a source key update: the document moved with its row,
    -- and the source's triggers moved the key's queued writes before this
    -- fires. The row is unchanged: nothing to remember.
    NULL;
  ELSIF (OLD."thing_id", NULL::text) IS DISTINCT FROM (NEW."thing_id", NULL::text) THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('edge-cases', 'reverse', OLD."thing_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD)), ('edge-cases', 'reverse', NEW."thing_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
  ELSE
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    SELECT c.* FROM (VALUES ('edge-cases', 'reverse', NEW."thing_id"::text, 0, NULL::text, 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
  END IF;
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_0"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys uuid[];
  pending uuid[];
BEGIN
IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;
IF TG_OP = 'INSERT' THEN
  SELECT array_agg(DISTINCT n."thing_id") INTO keys FROM sy_new n;
ELSIF TG_OP = 'DELETE' THEN
  SELECT array_agg(DISTINCT o."thing_id") INTO keys FROM sy_old o;
ELSE
  SELECT array_agg(DISTINCT x.k) INTO keys FROM (SELECT n."thing_id" AS k FROM sy_new n UNION SELECT o."thing_id" FROM sy_old o) x;
END IF;
SELECT array_agg(DISTINCT q.source_key::uuid) INTO pending FROM switchyard.sync_queue q
WHERE q.migration_name = 'edge-cases' AND q.kind = 'forward' AND q.source_key = ANY(keys::text[]);
IF pending IS NULL THEN RETURN NULL; END IF;
PERFORM set_config('switchyard.syncing', 'on', true);
BEGIN
  PERFORM switchyard."sy_edge_cases_8e2d2f6b_map"(pending, false);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  NULL; -- still queued: the next writer of these keys, or the engine, does it
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_ctr_0"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'INSERT' THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('edge-cases', 'contract', NEW."thing_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
ELSIF TG_OP = 'DELETE' THEN
  IF EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = OLD."thing_id") THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('edge-cases', 'contract', OLD."thing_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD));
  END IF;
ELSIF OLD."thing_id" IS DISTINCT FROM NEW."thing_id" AND NULL::text IS NOT DISTINCT FROM NULL::text
      AND (NOT EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = OLD."thing_id") OR EXISTS (SELECT 1 FROM "app"."thing_facts" x WHERE x."thing_id" = OLD."thing_id")) THEN
  -- The cascade of a source key update: the document moved with its row,
  -- and the source's triggers moved the key's queued writes before this
  -- fires. The row is unchanged: nothing to remember.
  NULL;
ELSIF (OLD."thing_id", NULL::text) IS DISTINCT FROM (NEW."thing_id", NULL::text) THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('edge-cases', 'contract', OLD."thing_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD)), ('edge-cases', 'contract', NEW."thing_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
ELSE
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  SELECT c.* FROM (VALUES ('edge-cases', 'contract', NEW."thing_id"::text, 0, NULL::text, 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_wb_1"(doc jsonb, op text, old_row jsonb, new_row jsonb) RETURNS jsonb
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
  RETURN switchyard.jsonb_remove(d, '{"parts","by_slot"}'::text[] || (old_row ->> 'slot'));
END IF;
IF op = 'REPLAY_DELETE' THEN
  ek := old_row ->> 'slot';
  IF jsonb_typeof((d -> 'parts' -> 'by_slot') -> ek) IS DISTINCT FROM 'object' THEN RETURN d; END IF;
  -- The entry goes only if it still is what the row was.
  write := true;
  v := (((d -> 'parts' -> 'by_slot') -> ek) -> 'size');
  write := write AND (CASE WHEN (old_row -> 'size') IS NULL THEN false WHEN (old_row -> 'size') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v = (old_row -> 'size'), false) END);
  v := (((d -> 'parts' -> 'by_slot') -> ek) -> 'note' -> 'text');
  write := write AND (CASE WHEN (old_row -> 'note') IS NULL THEN false WHEN (old_row -> 'note') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v = (old_row -> 'note'), false) END);
  IF write THEN d := switchyard.jsonb_remove(d, '{"parts","by_slot"}'::text[] || ek); END IF;
  RETURN d;
END IF;
ek := new_row ->> 'slot';
IF op = 'REPLAY' AND jsonb_typeof((d -> 'parts' -> 'by_slot') -> ek) IS DISTINCT FROM 'object' THEN RETURN d; END IF;
IF op = 'REPLAY_INSERT' AND jsonb_typeof((d -> 'parts' -> 'by_slot') -> ek) = 'object' THEN RETURN d; END IF;
IF jsonb_typeof((d -> 'parts' -> 'by_slot') -> ek) IS DISTINCT FROM 'object' THEN
  -- A new entry gets every column, whatever the write changed.
  d := switchyard.jsonb_put(d, '{"parts","by_slot"}'::text[] || ek, '{}'::jsonb);
  IF op = 'UPDATE' THEN op := 'INSERT'; END IF;
END IF;
x := new_row -> 'size';
v := (((d -> 'parts' -> 'by_slot') -> ek) -> 'size');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'size')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'size') IS NULL THEN false WHEN (old_row -> 'size') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v = (old_row -> 'size'), false) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, ('{"parts","by_slot"}'::text[] || ek || '{"size"}'::text[])); END IF;
  ELSIF NOT coalesce(v = x, false) THEN
    d := switchyard.jsonb_put(d, ('{"parts","by_slot"}'::text[] || ek || '{"size"}'::text[]), x);
  END IF;
END IF;
x := new_row -> 'note';
v := (((d -> 'parts' -> 'by_slot') -> ek) -> 'note' -> 'text');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'note')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'note') IS NULL THEN false WHEN (old_row -> 'note') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v = (old_row -> 'note'), false) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, ('{"parts","by_slot"}'::text[] || ek || '{"note","text"}'::text[])); END IF;
  ELSIF NOT coalesce(v = x, false) THEN
    d := switchyard.jsonb_put(d, ('{"parts","by_slot"}'::text[] || ek || '{"note","text"}'::text[]), x);
  END IF;
END IF;
RETURN d;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rsync_1"(op text, old_row jsonb, new_row jsonb) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  d jsonb;
  nd jsonb;
  ok uuid;
  nk uuid;
  moved boolean;
BEGIN
ok := (old_row ->> 'thing_id')::uuid;
nk := (new_row ->> 'thing_id')::uuid;
moved := op = 'UPDATE' AND (ok IS DISTINCT FROM nk OR (old_row ->> 'slot') IS DISTINCT FROM (new_row ->> 'slot'));
IF moved AND ok IS DISTINCT FROM nk AND (NOT EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = ok) OR EXISTS (SELECT 1 FROM "app"."thing_parts" x WHERE x."thing_id" = ok AND x."slot" = (old_row ->> 'slot'))) THEN
  -- A cascaded source key update: the document moved with the row, and
  -- the dual-write has already mapped it; the row's image is older.
  RETURN;
END IF;
IF op = 'REPLAY_DELETE' THEN
  SELECT s."data" INTO d FROM "app"."things" s WHERE s."id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_edge_cases_8e2d2f6b_wb_1"(d, op, old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "app"."things" s SET "data" = nd WHERE s."id" = ok; END IF;
  END IF;
  RETURN;
END IF;
IF op = 'DELETE' OR moved THEN
  SELECT s."data" INTO d FROM "app"."things" s WHERE s."id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_edge_cases_8e2d2f6b_wb_1"(d, 'DELETE', old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "app"."things" s SET "data" = nd WHERE s."id" = ok; END IF;
  END IF;
END IF;
IF op <> 'DELETE' THEN
  SELECT s."data" INTO d FROM "app"."things" s WHERE s."id" = nk FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_edge_cases_8e2d2f6b_wb_1"(d, CASE WHEN moved THEN 'SYNC' ELSE op END, old_row, new_row);
    IF nd IS DISTINCT FROM d THEN UPDATE "app"."things" s SET "data" = nd WHERE s."id" = nk; END IF;
  END IF;
END IF;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_resync_1"(k uuid, entry text, first_op text, baseline jsonb, deleted boolean) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  img jsonb;
  prev text;
BEGIN
prev := current_setting('switchyard.syncing', true);
PERFORM set_config('switchyard.syncing', 'on', true);
SELECT to_jsonb(t.*) INTO img FROM "app"."thing_parts" t WHERE t."thing_id" = k AND t."slot" = entry FOR SHARE;
IF first_op IS NULL THEN
  IF FOUND THEN
    PERFORM switchyard."sy_edge_cases_8e2d2f6b_rsync_1"('SYNC', NULL, img);
  ELSE
    PERFORM switchyard."sy_edge_cases_8e2d2f6b_rsync_1"('DELETE', jsonb_build_object('thing_id', k, 'slot', entry), NULL);
  END IF;
ELSIF FOUND THEN
  PERFORM switchyard."sy_edge_cases_8e2d2f6b_rsync_1"(CASE WHEN first_op = 'INSERT' THEN 'REPLAY_INSERT' ELSE 'REPLAY' END, baseline, img);
ELSIF first_op <> 'INSERT' AND deleted THEN
  PERFORM switchyard."sy_edge_cases_8e2d2f6b_rsync_1"('REPLAY_DELETE', coalesce(baseline, '{}'::jsonb) || jsonb_build_object('thing_id', k, 'slot', entry), NULL);
END IF;
PERFORM set_config('switchyard.syncing', coalesce(prev, 'off'), true);
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rev_1"() RETURNS trigger
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
  PERFORM switchyard."sy_edge_cases_8e2d2f6b_rsync_1"(TG_OP, old_img, new_img);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('edge-cases', 'reverse', NEW."thing_id"::text, 1, NEW."slot", 'INSERT', NULL::jsonb);
  ELSIF TG_OP = 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = OLD."thing_id") THEN
      INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
      VALUES ('edge-cases', 'reverse', OLD."thing_id"::text, 1, OLD."slot", 'DELETE', to_jsonb(OLD));
    END IF;
  ELSIF OLD."thing_id" IS DISTINCT FROM NEW."thing_id" AND OLD."slot" IS NOT DISTINCT FROM NEW."slot"
        AND (NOT EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = OLD."thing_id") OR EXISTS (SELECT 1 FROM "app"."thing_parts" x WHERE x."thing_id" = OLD."thing_id" AND x."slot" = OLD."slot")) THEN
    -- The cascade of a source key update: the document moved with its row,
    -- and the source's triggers moved the key's queued writes before this
    -- fires. The row is unchanged: nothing to remember.
    NULL;
  ELSIF (OLD."thing_id", OLD."slot") IS DISTINCT FROM (NEW."thing_id", NEW."slot") THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('edge-cases', 'reverse', OLD."thing_id"::text, 1, OLD."slot", 'DELETE', to_jsonb(OLD)), ('edge-cases', 'reverse', NEW."thing_id"::text, 1, NEW."slot", 'INSERT', NULL::jsonb);
  ELSE
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    SELECT c.* FROM (VALUES ('edge-cases', 'reverse', NEW."thing_id"::text, 1, NEW."slot", 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
  END IF;
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_1"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys uuid[];
  pending uuid[];
BEGIN
IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;
IF TG_OP = 'INSERT' THEN
  SELECT array_agg(DISTINCT n."thing_id") INTO keys FROM sy_new n;
ELSIF TG_OP = 'DELETE' THEN
  SELECT array_agg(DISTINCT o."thing_id") INTO keys FROM sy_old o;
ELSE
  SELECT array_agg(DISTINCT x.k) INTO keys FROM (SELECT n."thing_id" AS k FROM sy_new n UNION SELECT o."thing_id" FROM sy_old o) x;
END IF;
SELECT array_agg(DISTINCT q.source_key::uuid) INTO pending FROM switchyard.sync_queue q
WHERE q.migration_name = 'edge-cases' AND q.kind = 'forward' AND q.source_key = ANY(keys::text[]);
IF pending IS NULL THEN RETURN NULL; END IF;
PERFORM set_config('switchyard.syncing', 'on', true);
BEGIN
  PERFORM switchyard."sy_edge_cases_8e2d2f6b_map"(pending, false);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  NULL; -- still queued: the next writer of these keys, or the engine, does it
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_ctr_1"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'INSERT' THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('edge-cases', 'contract', NEW."thing_id"::text, 1, NEW."slot", 'INSERT', NULL::jsonb);
ELSIF TG_OP = 'DELETE' THEN
  IF EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = OLD."thing_id") THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('edge-cases', 'contract', OLD."thing_id"::text, 1, OLD."slot", 'DELETE', to_jsonb(OLD));
  END IF;
ELSIF OLD."thing_id" IS DISTINCT FROM NEW."thing_id" AND OLD."slot" IS NOT DISTINCT FROM NEW."slot"
      AND (NOT EXISTS (SELECT 1 FROM "app"."things" s WHERE s."id" = OLD."thing_id") OR EXISTS (SELECT 1 FROM "app"."thing_parts" x WHERE x."thing_id" = OLD."thing_id" AND x."slot" = OLD."slot")) THEN
  -- The cascade of a source key update: the document moved with its row,
  -- and the source's triggers moved the key's queued writes before this
  -- fires. The row is unchanged: nothing to remember.
  NULL;
ELSIF (OLD."thing_id", OLD."slot") IS DISTINCT FROM (NEW."thing_id", NEW."slot") THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('edge-cases', 'contract', OLD."thing_id"::text, 1, OLD."slot", 'DELETE', to_jsonb(OLD)), ('edge-cases', 'contract', NEW."thing_id"::text, 1, NEW."slot", 'INSERT', NULL::jsonb);
ELSE
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  SELECT c.* FROM (VALUES ('edge-cases', 'contract', NEW."thing_id"::text, 1, NEW."slot", 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_replay"(kinds text[], keys uuid[], max_rows integer, remap boolean) RETURNS bigint
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  queued record;
  done bigint;
  replayed uuid[] := '{}';
  prev text;
BEGIN
done := 0;
FOR queued IN
  WITH pending AS (
    SELECT q.* FROM switchyard.sync_queue q
    WHERE q.migration_name = 'edge-cases' AND q.kind = ANY(kinds)
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
    WHEN 0 THEN PERFORM switchyard."sy_edge_cases_8e2d2f6b_resync_0"(queued.source_key::uuid, queued.entry_key, queued.first_op, queued.baseline, queued.deleted);
    WHEN 1 THEN PERFORM switchyard."sy_edge_cases_8e2d2f6b_resync_1"(queued.source_key::uuid, queued.entry_key, queued.first_op, queued.baseline, queued.deleted);
    ELSE RAISE EXCEPTION 'sync_queue entries % name no target', queued.ids;
  END CASE;
  DELETE FROM switchyard.sync_queue q
  WHERE q.id = ANY(queued.ids) AND q.source_key = queued.source_key
    AND q.entry_key IS NOT DISTINCT FROM queued.entry_key;
  done := done + 1;
  replayed := replayed || queued.source_key::uuid;
END LOOP;
-- Where the document won (it was written since), the targets follow it.
-- Inside `apply` (remap false) the mapping that follows does this.
IF remap AND cardinality(replayed) > 0 THEN
  prev := current_setting('switchyard.syncing', true);
  PERFORM set_config('switchyard.syncing', 'on', true);
  PERFORM switchyard."sy_edge_cases_8e2d2f6b_map"(replayed, false);
  PERFORM set_config('switchyard.syncing', coalesce(prev, 'off'), true);
END IF;
RETURN done;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_drain"() RETURNS bigint
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys uuid[];
  done bigint;
BEGIN
PERFORM set_config('switchyard.syncing', 'on', true);
done := switchyard."sy_edge_cases_8e2d2f6b_replay"(ARRAY['reverse'], NULL, NULL, true);
SELECT array_agg(DISTINCT q.source_key::uuid) INTO keys FROM switchyard.sync_queue q WHERE q.migration_name = 'edge-cases' AND q.kind = 'forward';
IF keys IS NOT NULL THEN
  PERFORM switchyard."sy_edge_cases_8e2d2f6b_map"(keys, false);
  done := done + cardinality(keys);
END IF;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN done;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_bkk"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'DELETE' THEN
  DELETE FROM switchyard."sy_edge_cases_8e2d2f6b_backup" b WHERE b.key = OLD."id";
  -- Nothing remembered for the deleted row may reach a new row that
  -- takes its key.
  DELETE FROM switchyard.sync_queue q WHERE q.migration_name = 'edge-cases' AND q.source_key = OLD."id"::text;
ELSIF OLD."id" IS DISTINCT FROM NEW."id" THEN
  UPDATE switchyard."sy_edge_cases_8e2d2f6b_backup" b SET key = NEW."id" WHERE b.key = OLD."id";
  UPDATE switchyard.sync_queue q SET source_key = (NEW."id")::text WHERE q.migration_name = 'edge-cases' AND q.source_key = (OLD."id")::text;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_kf"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
UPDATE switchyard.sync_queue q SET source_key = (NEW."id")::text WHERE q.migration_name = 'edge-cases' AND q.source_key = (OLD."id")::text;
RETURN NULL;
END;
$sy$;

-- capture writes from now on (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_capture_ins" AFTER INSERT ON "app"."things" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_capture"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_capture_upd" AFTER UPDATE ON "app"."things" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_capture"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_capture_del" AFTER DELETE ON "app"."things" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_capture"();

-- ===== phase 2 =====
-- backfill in keyset batches (checkpoint committed with each batch) (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "app"."things" ORDER BY "id" LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "app"."things" WHERE "id" > $1::uuid ORDER BY "id" LIMIT $2) AS batch;

SELECT m.n_rows, m.n_quarantined FROM switchyard."sy_edge_cases_8e2d2f6b_map"(ARRAY(SELECT s."id" FROM "app"."things" s WHERE s."id" BETWEEN $1::uuid AND $2::uuid ORDER BY s."id"), true) AS m;

UPDATE switchyard.backfill_progress SET last_key = $2, rows_done = rows_done + $3, quarantined = quarantined + $4, batch_size = $5, rows_per_second = $6, updated_at = now() WHERE migration_name = $1;

-- ===== phase 3 =====
-- switch capture to dual-write (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_dw_ins" AFTER INSERT ON "app"."things" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_dw"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_dw_upd" AFTER UPDATE ON "app"."things" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_dw"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_dw_del" AFTER DELETE ON "app"."things" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_dw"();

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_capture_ins" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_capture_upd" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_capture_del" ON "app"."things";

-- re-map every key written since phase 1 (repeated in key batches)
WITH d AS (DELETE FROM switchyard.capture_log WHERE id IN (SELECT id FROM switchyard.capture_log WHERE migration_name = $1 ORDER BY id LIMIT 1000) RETURNING source_key) SELECT array_agg(DISTINCT source_key ORDER BY source_key) FROM d;

SELECT m.n_rows FROM switchyard."sy_edge_cases_8e2d2f6b_map"($1::text[]::uuid[], false) AS m;

-- ===== phase 4 =====
-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_edge_cases_8e2d2f6b_drain"();

-- verify every document against the targets (gate) (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "app"."things" ORDER BY "id" LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "app"."things" WHERE "id" > $1::uuid ORDER BY "id" LIMIT $2) AS batch;

WITH sy_doc AS MATERIALIZED (
  SELECT s."id" AS k, s."data" AS d, (CASE WHEN s."data" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."data") <> 'object' THEN 'document is ' || jsonb_typeof(s."data") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."data" -> 'meta' -> 'label')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."data" -> 'meta' ->> 'label') NOT IN (E'it''s $sy$ \\ "quoted" ünïcode', 'plain') THEN 'meta.label' || ': value ' || (s."data" -> 'meta' ->> 'label') || ' is not allowed' ELSE NULL END ELSE 'meta.label' || ': expected string, got ' || jsonb_typeof((s."data" -> 'meta' -> 'label')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'meta' -> 'measures' -> 'weight')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN abs((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric) >= 1.7976931348623159e308 OR ((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric <> 0 AND abs((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric) < 2.4703282292062327e-324) THEN 'meta.measures.weight' || ': out of range for double precision: ' || (s."data" -> 'meta' -> 'measures' ->> 'weight') ELSE NULL END ELSE 'meta.measures.weight' || ': expected number, got ' || jsonb_typeof((s."data" -> 'meta' -> 'measures' -> 'weight')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'count')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."data" ->> 'count')::numeric <> trunc((s."data" ->> 'count')::numeric) OR (s."data" ->> 'count')::numeric NOT BETWEEN -32768 AND 32767 THEN 'count' || ': not a valid smallint: ' || (s."data" ->> 'count') ELSE NULL END ELSE 'count' || ': expected number, got ' || jsonb_typeof((s."data" -> 'count')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'price')), 'null') WHEN 'null' THEN 'price' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'price' || ': expected number, got ' || jsonb_typeof((s."data" -> 'price')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'seen' -> 'at')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((s."data" -> 'seen' ->> 'at')) ~ '(now|today|tomorrow|yesterday)' THEN 'seen.at' || ': a relative time is not a value: ' || (s."data" -> 'seen' ->> 'at') WHEN switchyard.try_cast((s."data" -> 'seen' ->> 'at'), 'timestamptz') IS NOT TRUE THEN 'seen.at' || ': not a valid timestamptz: ' || (s."data" -> 'seen' ->> 'at') ELSE NULL END ELSE 'seen.at' || ': expected string, got ' || jsonb_typeof((s."data" -> 'seen' -> 'at')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'born_on')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((s."data" ->> 'born_on')) ~ '(now|today|tomorrow|yesterday)' THEN 'born_on' || ': a relative time is not a value: ' || (s."data" ->> 'born_on') WHEN switchyard.try_cast((s."data" ->> 'born_on'), 'date') IS NOT TRUE THEN 'born_on' || ': not a valid date: ' || (s."data" ->> 'born_on') ELSE NULL END ELSE 'born_on' || ': expected string, got ' || jsonb_typeof((s."data" -> 'born_on')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'ref')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN switchyard.try_cast((s."data" ->> 'ref'), 'uuid') IS NOT TRUE THEN 'ref' || ': not a valid uuid: ' || (s."data" ->> 'ref') ELSE NULL END ELSE 'ref' || ': expected string, got ' || jsonb_typeof((s."data" -> 'ref')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'active')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE 'active' || ': expected boolean, got ' || jsonb_typeof((s."data" -> 'active')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'big')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."data" ->> 'big')::numeric <> trunc((s."data" ->> 'big')::numeric) OR (s."data" ->> 'big')::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN 'big' || ': not a valid bigint: ' || (s."data" ->> 'big') ELSE NULL END ELSE 'big' || ': expected number, got ' || jsonb_typeof((s."data" -> 'big')) END,
        CASE WHEN (s."data" -> 'parts' -> 'by_slot') IS NOT NULL AND jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) NOT IN ('object', 'null') THEN 'parts.by_slot: expected object, got ' || jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) = 'object' THEN (s."data" -> 'parts' -> 'by_slot') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN e.key NOT IN ('left', 'right') THEN 'parts.by_slot: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'parts.by_slot.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'size')), 'null') WHEN 'null' THEN ('parts.by_slot.' || e.key || '.size') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'size')::numeric <> trunc((e.value ->> 'size')::numeric) OR (e.value ->> 'size')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('parts.by_slot.' || e.key || '.size') || ': not a valid integer: ' || (e.value ->> 'size') ELSE NULL END ELSE ('parts.by_slot.' || e.key || '.size') || ': expected number, got ' || jsonb_typeof((e.value -> 'size')) END, CASE coalesce(jsonb_typeof((e.value -> 'note' -> 'text')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE ('parts.by_slot.' || e.key || '.note.text') || ': expected string, got ' || jsonb_typeof((e.value -> 'note' -> 'text')) END) IS NOT NULL) THEN 'entry' END) END IS NULL) AS ok
  FROM "app"."things" s WHERE s."id" BETWEEN $1::uuid AND $2::uuid AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'edge-cases' AND q.source_key = s."id"::text)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
exp AS (SELECT k::text AS key, NULL::text AS ek, jsonb_build_array(to_jsonb(coalesce((d -> 'meta' ->> 'label'), (E'it''s $sy$ \\ "quoted" ünïcode')::text)), to_jsonb((d -> 'meta' -> 'measures' ->> 'weight')::double precision), to_jsonb(coalesce((d ->> 'count')::numeric::smallint, (-32768)::smallint)), to_jsonb((d ->> 'price')::numeric), to_jsonb((d -> 'seen' ->> 'at')::timestamptz), to_jsonb(coalesce((d ->> 'born_on')::date, ('2000-01-31')::date)), to_jsonb((d ->> 'ref')::uuid), to_jsonb(coalesce((d ->> 'active')::boolean, (false)::boolean)), to_jsonb((d ->> 'big')::numeric::bigint)) AS v FROM src),
act AS (SELECT a."thing_id"::text AS key, NULL::text AS ek, jsonb_build_array(to_jsonb(a."label"), to_jsonb(a."weight"), to_jsonb(a."count"), to_jsonb(a."price"), to_jsonb(a."seen_at"), to_jsonb(a."born_on"), to_jsonb(a."ref"), to_jsonb(a."active"), to_jsonb(a."big")) AS v FROM "app"."thing_facts" a WHERE a."thing_id" BETWEEN $1::uuid AND $2::uuid AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'edge-cases' AND q.source_key = a."thing_id"::text))
SELECT coalesce(exp.key, act.key) AS key, coalesce(exp.ek, act.ek) AS entry, exp.v AS expected, act.v AS actual
FROM exp FULL JOIN act ON exp.key = act.key AND exp.ek IS NOT DISTINCT FROM act.ek
WHERE exp.v IS DISTINCT FROM act.v;

WITH sy_doc AS MATERIALIZED (
  SELECT s."id" AS k, s."data" AS d, (CASE WHEN s."data" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."data") <> 'object' THEN 'document is ' || jsonb_typeof(s."data") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."data" -> 'meta' -> 'label')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."data" -> 'meta' ->> 'label') NOT IN (E'it''s $sy$ \\ "quoted" ünïcode', 'plain') THEN 'meta.label' || ': value ' || (s."data" -> 'meta' ->> 'label') || ' is not allowed' ELSE NULL END ELSE 'meta.label' || ': expected string, got ' || jsonb_typeof((s."data" -> 'meta' -> 'label')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'meta' -> 'measures' -> 'weight')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN abs((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric) >= 1.7976931348623159e308 OR ((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric <> 0 AND abs((s."data" -> 'meta' -> 'measures' ->> 'weight')::numeric) < 2.4703282292062327e-324) THEN 'meta.measures.weight' || ': out of range for double precision: ' || (s."data" -> 'meta' -> 'measures' ->> 'weight') ELSE NULL END ELSE 'meta.measures.weight' || ': expected number, got ' || jsonb_typeof((s."data" -> 'meta' -> 'measures' -> 'weight')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'count')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."data" ->> 'count')::numeric <> trunc((s."data" ->> 'count')::numeric) OR (s."data" ->> 'count')::numeric NOT BETWEEN -32768 AND 32767 THEN 'count' || ': not a valid smallint: ' || (s."data" ->> 'count') ELSE NULL END ELSE 'count' || ': expected number, got ' || jsonb_typeof((s."data" -> 'count')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'price')), 'null') WHEN 'null' THEN 'price' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'price' || ': expected number, got ' || jsonb_typeof((s."data" -> 'price')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'seen' -> 'at')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((s."data" -> 'seen' ->> 'at')) ~ '(now|today|tomorrow|yesterday)' THEN 'seen.at' || ': a relative time is not a value: ' || (s."data" -> 'seen' ->> 'at') WHEN switchyard.try_cast((s."data" -> 'seen' ->> 'at'), 'timestamptz') IS NOT TRUE THEN 'seen.at' || ': not a valid timestamptz: ' || (s."data" -> 'seen' ->> 'at') ELSE NULL END ELSE 'seen.at' || ': expected string, got ' || jsonb_typeof((s."data" -> 'seen' -> 'at')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'born_on')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN lower((s."data" ->> 'born_on')) ~ '(now|today|tomorrow|yesterday)' THEN 'born_on' || ': a relative time is not a value: ' || (s."data" ->> 'born_on') WHEN switchyard.try_cast((s."data" ->> 'born_on'), 'date') IS NOT TRUE THEN 'born_on' || ': not a valid date: ' || (s."data" ->> 'born_on') ELSE NULL END ELSE 'born_on' || ': expected string, got ' || jsonb_typeof((s."data" -> 'born_on')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'ref')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN switchyard.try_cast((s."data" ->> 'ref'), 'uuid') IS NOT TRUE THEN 'ref' || ': not a valid uuid: ' || (s."data" ->> 'ref') ELSE NULL END ELSE 'ref' || ': expected string, got ' || jsonb_typeof((s."data" -> 'ref')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'active')), 'null') WHEN 'null' THEN NULL WHEN 'boolean' THEN NULL ELSE 'active' || ': expected boolean, got ' || jsonb_typeof((s."data" -> 'active')) END,
        CASE coalesce(jsonb_typeof((s."data" -> 'big')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."data" ->> 'big')::numeric <> trunc((s."data" ->> 'big')::numeric) OR (s."data" ->> 'big')::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN 'big' || ': not a valid bigint: ' || (s."data" ->> 'big') ELSE NULL END ELSE 'big' || ': expected number, got ' || jsonb_typeof((s."data" -> 'big')) END,
        CASE WHEN (s."data" -> 'parts' -> 'by_slot') IS NOT NULL AND jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) NOT IN ('object', 'null') THEN 'parts.by_slot: expected object, got ' || jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."data" -> 'parts' -> 'by_slot')) = 'object' THEN (s."data" -> 'parts' -> 'by_slot') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN e.key NOT IN ('left', 'right') THEN 'parts.by_slot: entry ' || e.key || ' is not allowed' END, CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'parts.by_slot.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'size')), 'null') WHEN 'null' THEN ('parts.by_slot.' || e.key || '.size') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'size')::numeric <> trunc((e.value ->> 'size')::numeric) OR (e.value ->> 'size')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('parts.by_slot.' || e.key || '.size') || ': not a valid integer: ' || (e.value ->> 'size') ELSE NULL END ELSE ('parts.by_slot.' || e.key || '.size') || ': expected number, got ' || jsonb_typeof((e.value -> 'size')) END, CASE coalesce(jsonb_typeof((e.value -> 'note' -> 'text')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN NULL ELSE ('parts.by_slot.' || e.key || '.note.text') || ': expected string, got ' || jsonb_typeof((e.value -> 'note' -> 'text')) END) IS NOT NULL) THEN 'entry' END) END IS NULL) AS ok
  FROM "app"."things" s WHERE s."id" BETWEEN $1::uuid AND $2::uuid AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'edge-cases' AND q.source_key = s."id"::text)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
exp AS (SELECT k::text AS key, e.key AS ek, jsonb_build_array(to_jsonb((e.value ->> 'size')::numeric::integer), to_jsonb((e.value -> 'note' ->> 'text'))) AS v FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((d -> 'parts' -> 'by_slot')) = 'object' THEN (d -> 'parts' -> 'by_slot') ELSE '{}'::jsonb END)) AS e),
act AS (SELECT a."thing_id"::text AS key, a."slot" AS ek, jsonb_build_array(to_jsonb(a."size"), to_jsonb(a."note")) AS v FROM "app"."thing_parts" a WHERE a."thing_id" BETWEEN $1::uuid AND $2::uuid AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'edge-cases' AND q.source_key = a."thing_id"::text))
SELECT coalesce(exp.key, act.key) AS key, coalesce(exp.ek, act.ek) AS entry, exp.v AS expected, act.v AS actual
FROM exp FULL JOIN act ON exp.key = act.key AND exp.ek IS NOT DISTINCT FROM act.ek
WHERE exp.v IS DISTINCT FROM act.v;

-- queued target writes follow source key updates (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_kf" AFTER UPDATE ON "app"."things" FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_kf"();

-- writes to thing_facts flow back into the JSONB column (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rev" AFTER INSERT OR UPDATE OR DELETE ON "app"."thing_facts" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rev_0"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_ins" AFTER INSERT ON "app"."thing_facts" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_upd" AFTER UPDATE ON "app"."thing_facts" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_del" AFTER DELETE ON "app"."thing_facts" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_0"();

-- writes to thing_parts flow back into the JSONB column (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rev" AFTER INSERT OR UPDATE OR DELETE ON "app"."thing_parts" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rev_1"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_ins" AFTER INSERT ON "app"."thing_parts" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_upd" AFTER UPDATE ON "app"."thing_parts" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_del" AFTER DELETE ON "app"."thing_parts" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_1"();

-- flip the read flag (one transaction, lock_timeout, retried)
INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ('edge-cases', 'targets') ON CONFLICT (migration_name) DO UPDATE SET reads_from = 'targets', changed_at = now();

SELECT pg_notify('switchyard_read_flag', '{"migration":"edge-cases","reads_from":"targets"}');

-- ===== phase 5 =====
-- record the column's definition (default, NOT NULL, checks, indexes) (one transaction, lock_timeout, retried)
INSERT INTO switchyard.contract_columns (migration_name, definition)
SELECT 'edge-cases', jsonb_build_object(
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
WHERE a.attrelid = '"app"."things"'::regclass AND a.attname = 'data' AND NOT a.attisdropped
ON CONFLICT (migration_name) DO UPDATE SET definition = EXCLUDED.definition, rolling_back = false, saved_at = now();

-- keep a backup of the column in step from now on (one transaction, lock_timeout, retried)
CREATE TABLE IF NOT EXISTS switchyard."sy_edge_cases_8e2d2f6b_backup" (key uuid PRIMARY KEY, doc jsonb);

CREATE OR REPLACE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_bk"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD."id" IS DISTINCT FROM NEW."id") THEN
  DELETE FROM switchyard."sy_edge_cases_8e2d2f6b_backup" b WHERE b.key = OLD."id";
END IF;
IF TG_OP = 'UPDATE' AND OLD."id" IS DISTINCT FROM NEW."id" THEN
  UPDATE switchyard.sync_queue q SET source_key = (NEW."id")::text WHERE q.migration_name = 'edge-cases' AND q.source_key = (OLD."id")::text;
END IF;

IF TG_OP <> 'DELETE' THEN
  INSERT INTO switchyard."sy_edge_cases_8e2d2f6b_backup" (key, doc) VALUES (NEW."id", NEW."data")
  ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_bk" AFTER INSERT OR UPDATE OR DELETE ON "app"."things" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_bk"();

-- copy the column into the backup (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "app"."things" ORDER BY "id" LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "id" AS k FROM "app"."things" WHERE "id" > $1::uuid ORDER BY "id" LIMIT $2) AS batch;

INSERT INTO switchyard."sy_edge_cases_8e2d2f6b_backup" (key, doc) SELECT s."id", s."data" FROM "app"."things" s WHERE s."id" BETWEEN $1::uuid AND $2::uuid FOR KEY SHARE OF s ON CONFLICT (key) DO NOTHING;

-- remember writes to thing_facts from now on, instead of writing them back (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rev" ON "app"."thing_facts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_ins" ON "app"."thing_facts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_upd" ON "app"."thing_facts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_del" ON "app"."thing_facts";

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_ctr" AFTER INSERT OR UPDATE OR DELETE ON "app"."thing_facts" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_ctr_0"();

-- remember writes to thing_parts from now on, instead of writing them back (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rev" ON "app"."thing_parts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_ins" ON "app"."thing_parts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_upd" ON "app"."thing_parts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_del" ON "app"."thing_parts";

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_ctr" AFTER INSERT OR UPDATE OR DELETE ON "app"."thing_parts" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_ctr_1"();

-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_edge_cases_8e2d2f6b_drain"();

-- drop dual-write, apply deferred sync work, drop the column (the backup is exact) (one transaction, lock_timeout, retried)
LOCK TABLE "app"."things" IN ACCESS EXCLUSIVE MODE;

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_dw_ins" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_dw_upd" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_dw_del" ON "app"."things";

SELECT switchyard."sy_edge_cases_8e2d2f6b_drain"();

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_kf" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_bk" ON "app"."things";

ALTER TABLE "app"."things" DROP COLUMN IF EXISTS "data";

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_bkk" AFTER UPDATE OR DELETE ON "app"."things" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_bkk"();

UPDATE switchyard.contract_columns SET dropped = true WHERE migration_name = 'edge-cases';

-- ===== rollback 5 =====
-- mark the contract as being rolled back (phase 5 may not run until this is done) (one transaction, lock_timeout, retried)
UPDATE switchyard.contract_columns SET rolling_back = true WHERE migration_name = 'edge-cases';

-- re-add the column (and its default) (one transaction, lock_timeout, retried)
ALTER TABLE "app"."things" ADD COLUMN IF NOT EXISTS "data" jsonb;

ALTER TABLE "app"."things" ALTER COLUMN "data" SET DEFAULT '{}'::jsonb;

-- restore the documents from the backup (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT key AS k FROM switchyard."sy_edge_cases_8e2d2f6b_backup" ORDER BY key LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT key AS k FROM switchyard."sy_edge_cases_8e2d2f6b_backup" WHERE key > $1::uuid ORDER BY key LIMIT $2) AS batch;

UPDATE "app"."things" s SET "data" = b.doc FROM switchyard."sy_edge_cases_8e2d2f6b_backup" b WHERE s."id" = b.key AND b.key BETWEEN $1::uuid AND $2::uuid AND s."data" IS NULL AND b.doc IS NOT NULL;

UPDATE "app"."things" s SET "data" = b.doc FROM switchyard."sy_edge_cases_8e2d2f6b_backup" b WHERE s."id" = b.key AND s."data" IS NULL AND b.doc IS NOT NULL;

SELECT count(*) FROM "app"."things" s JOIN switchyard."sy_edge_cases_8e2d2f6b_backup" b ON s."id" = b.key WHERE s."data" IS NULL AND b.doc IS NOT NULL;

-- rows inserted since the contract get the column's default (one transaction, lock_timeout, retried)
UPDATE "app"."things" s SET "data" = '{}'::jsonb WHERE s."data" IS NULL AND NOT EXISTS (SELECT 1 FROM switchyard."sy_edge_cases_8e2d2f6b_backup" b WHERE b.key = s."id");

-- queued target writes follow source key updates again (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_kf" AFTER UPDATE ON "app"."things" FOR EACH ROW WHEN (OLD."id" IS DISTINCT FROM NEW."id") EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_kf"();

-- writes to thing_facts flow back into the column again, instead of being remembered (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_ctr" ON "app"."thing_facts";

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rev" AFTER INSERT OR UPDATE OR DELETE ON "app"."thing_facts" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rev_0"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_ins" AFTER INSERT ON "app"."thing_facts" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_upd" AFTER UPDATE ON "app"."thing_facts" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_del" AFTER DELETE ON "app"."thing_facts" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_0"();

-- writes to thing_parts flow back into the column again, instead of being remembered (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_ctr" ON "app"."thing_parts";

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rev" AFTER INSERT OR UPDATE OR DELETE ON "app"."thing_parts" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rev_1"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_ins" AFTER INSERT ON "app"."thing_parts" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_upd" AFTER UPDATE ON "app"."thing_parts" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_rvs_del" AFTER DELETE ON "app"."thing_parts" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_rvs_1"();

-- dual-write again (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_dw_ins" AFTER INSERT ON "app"."things" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_dw"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_dw_upd" AFTER UPDATE ON "app"."things" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_dw"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_dw_del" AFTER DELETE ON "app"."things" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_dw"();

-- replay into the documents the target writes made since the contract (repeated in key batches)
SELECT switchyard."sy_edge_cases_8e2d2f6b_replay"(ARRAY['contract'], NULL, 1000, true);

-- queue a re-map of the rows inserted since the contract (one transaction, lock_timeout, retried)
INSERT INTO switchyard.sync_queue (migration_name, kind, source_key) SELECT 'edge-cases', 'forward', s."id"::text FROM "app"."things" s WHERE NOT EXISTS (SELECT 1 FROM switchyard."sy_edge_cases_8e2d2f6b_backup" b WHERE b.key = s."id");

-- restore check doc_is_object (one transaction, lock_timeout, retried)
ALTER TABLE "app"."things" ADD CONSTRAINT "doc_is_object" CHECK (jsonb_typeof(doc) = 'object'::text) NOT VALID;

-- validate check doc_is_object (one transaction, lock_timeout, retried)
ALTER TABLE "app"."things" VALIDATE CONSTRAINT "doc_is_object";

-- NOT NULL: a check, not yet validated (one transaction, lock_timeout, retried)
ALTER TABLE "app"."things" ADD CONSTRAINT "sy_edge_cases_8e2d2f6b_nn" CHECK ("data" IS NOT NULL) NOT VALID;

-- NOT NULL: validate the check (one transaction, lock_timeout, retried)
ALTER TABLE "app"."things" VALIDATE CONSTRAINT "sy_edge_cases_8e2d2f6b_nn";

-- NOT NULL: set it (proved by the check, no scan) and drop the check (one transaction, lock_timeout, retried)
ALTER TABLE "app"."things" ALTER COLUMN "data" SET NOT NULL;

ALTER TABLE "app"."things" DROP CONSTRAINT IF EXISTS "sy_edge_cases_8e2d2f6b_nn";

-- restore index docs_gin (outside a transaction, lock_timeout, retried)
DROP INDEX CONCURRENTLY IF EXISTS "app"."docs_gin";

CREATE INDEX CONCURRENTLY IF NOT EXISTS docs_gin ON app.docs USING gin (doc);

-- restore the column's storage, statistics, compression and comment (one transaction, lock_timeout, retried)
ALTER TABLE "app"."things" ALTER COLUMN "data" SET STORAGE MAIN;

ALTER TABLE "app"."things" ALTER COLUMN "data" SET STATISTICS 500;

ALTER TABLE "app"."things" ALTER COLUMN "data" SET COMPRESSION lz4;

COMMENT ON COLUMN "app"."things"."data" IS 'it''s the document';

-- drop the backup (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_bk" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_bkk" ON "app"."things";

DROP TABLE IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_backup";

DELETE FROM switchyard.contract_columns WHERE migration_name = 'edge-cases';

-- ===== rollback 4 =====
-- read from the source again (one transaction, lock_timeout, retried)
INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ('edge-cases', 'source') ON CONFLICT (migration_name) DO UPDATE SET reads_from = 'source', changed_at = now();

SELECT pg_notify('switchyard_read_flag', '{"migration":"edge-cases","reads_from":"source"}');

-- stop writing thing_facts back into the column (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rev" ON "app"."thing_facts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_ins" ON "app"."thing_facts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_upd" ON "app"."thing_facts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_del" ON "app"."thing_facts";

-- stop writing thing_parts back into the column (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rev" ON "app"."thing_parts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_ins" ON "app"."thing_parts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_upd" ON "app"."thing_parts";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_rvs_del" ON "app"."thing_parts";

-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_edge_cases_8e2d2f6b_drain"();

-- stop following source key updates (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_kf" ON "app"."things";

-- ===== rollback 3 =====
-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_edge_cases_8e2d2f6b_drain"();

-- switch dual-write back to capture (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_capture_ins" AFTER INSERT ON "app"."things" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_capture"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_capture_upd" AFTER UPDATE ON "app"."things" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_capture"();

CREATE OR REPLACE TRIGGER "sy_edge_cases_8e2d2f6b_capture_del" AFTER DELETE ON "app"."things" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_edge_cases_8e2d2f6b_capture"();

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_dw_ins" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_dw_upd" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_dw_del" ON "app"."things";

INSERT INTO switchyard.capture_log (migration_name, source_key) SELECT migration_name, source_key FROM switchyard.sync_queue WHERE migration_name = 'edge-cases' AND kind = 'forward';

DELETE FROM switchyard.sync_queue WHERE migration_name = 'edge-cases' AND kind IN ('forward', 'reverse');

-- ===== rollback 2 =====
-- empty thing_facts (one transaction, lock_timeout, retried)
TRUNCATE "app"."thing_facts";

-- empty thing_parts (one transaction, lock_timeout, retried)
TRUNCATE "app"."thing_parts";

-- forget the checkpoint and the quarantine (one transaction, lock_timeout, retried)
DELETE FROM switchyard.quarantine WHERE migration_name = 'edge-cases';

DELETE FROM switchyard.unmapped_keys WHERE migration_name = 'edge-cases';

DELETE FROM switchyard.backfill_progress WHERE migration_name = 'edge-cases';

-- ===== rollback 1 =====
-- drop our triggers on the source (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_capture_ins" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_capture_upd" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_capture_del" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_dw_ins" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_dw_upd" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_dw_del" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_bk" ON "app"."things";

DROP TRIGGER IF EXISTS "sy_edge_cases_8e2d2f6b_bkk" ON "app"."things";

-- drop the foreign key of thing_parts (one transaction, lock_timeout, retried)
ALTER TABLE IF EXISTS "app"."thing_parts" DROP CONSTRAINT IF EXISTS "sy_edge_cases_8e2d2f6b_fk_1";

-- drop table thing_parts (one transaction, lock_timeout, retried)
DROP TABLE IF EXISTS "app"."thing_parts";

-- drop the foreign key of thing_facts (one transaction, lock_timeout, retried)
ALTER TABLE IF EXISTS "app"."thing_facts" DROP CONSTRAINT IF EXISTS "sy_edge_cases_8e2d2f6b_fk_0";

-- drop table thing_facts (one transaction, lock_timeout, retried)
DROP TABLE IF EXISTS "app"."thing_facts";

-- drop our functions and bookkeeping (one transaction, lock_timeout, retried)
DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_apply"(uuid[], boolean, boolean, boolean, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_map"(uuid[], boolean, boolean, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_drain"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_replay"(text[], uuid[], integer, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_capture"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_dw"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_bk"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_bkk"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_kf"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_wb_0"(jsonb, text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_rsync_0"(text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_resync_0"(uuid, text, text, jsonb, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_rev_0"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_rvs_0"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_ctr_0"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_wb_1"(jsonb, text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_rsync_1"(text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_resync_1"(uuid, text, text, jsonb, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_rev_1"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_rvs_1"();

DROP FUNCTION IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_ctr_1"();

DROP TABLE IF EXISTS switchyard."sy_edge_cases_8e2d2f6b_backup";

DELETE FROM switchyard.quarantine WHERE migration_name = 'edge-cases';

DELETE FROM switchyard.capture_log WHERE migration_name = 'edge-cases';

DELETE FROM switchyard.sync_queue WHERE migration_name = 'edge-cases';

DELETE FROM switchyard.unmapped_keys WHERE migration_name = 'edge-cases';

DELETE FROM switchyard.backfill_progress WHERE migration_name = 'edge-cases';

DELETE FROM switchyard.contract_columns WHERE migration_name = 'edge-cases';

