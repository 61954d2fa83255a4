-- ===== phase 1 =====
-- create table order_details (one transaction, lock_timeout, retried)
SET LOCAL TimeZone = 'UTC';

SET LOCAL DateStyle = 'ISO, MDY';

SET LOCAL extra_float_digits = 1;

SET LOCAL jit = off;

CREATE TABLE IF NOT EXISTS "public"."order_details" (
    "order_id" uuid NOT NULL,
    "total" numeric NOT NULL CHECK ("total" NOT IN ('NaN', 'Infinity', '-Infinity')),
    "currency" text NOT NULL DEFAULT ('EUR')::text CHECK ("currency" IN ('EUR', 'USD', 'GBP')),
    "placed_at" timestamptz NOT NULL,
    "item_count" integer NOT NULL DEFAULT (0)::integer,
    PRIMARY KEY ("order_id")
);

-- create index order_details_placed_at_idx (outside a transaction, lock_timeout, retried)
DROP INDEX CONCURRENTLY IF EXISTS "public"."order_details_placed_at_idx";

CREATE INDEX CONCURRENTLY IF NOT EXISTS "order_details_placed_at_idx" ON "public"."order_details" ("placed_at");

-- foreign key of order_details (not valid) (one transaction, lock_timeout, retried)
ALTER TABLE "public"."order_details" ADD CONSTRAINT "sy_order_metadata_24cf9166_fk_0" FOREIGN KEY ("order_id") REFERENCES "public"."orders" ("order_id") ON UPDATE CASCADE ON DELETE CASCADE NOT VALID;

-- validate the foreign key of order_details (one transaction, lock_timeout, retried)
ALTER TABLE "public"."order_details" VALIDATE CONSTRAINT "sy_order_metadata_24cf9166_fk_0";

-- create table order_lines (one transaction, lock_timeout, retried)
SET LOCAL TimeZone = 'UTC';

SET LOCAL DateStyle = 'ISO, MDY';

SET LOCAL extra_float_digits = 1;

SET LOCAL jit = off;

CREATE TABLE IF NOT EXISTS "public"."order_lines" (
    "order_id" uuid NOT NULL,
    "sku" text NOT NULL,
    "quantity" integer NOT NULL,
    "unit_price" numeric NOT NULL DEFAULT (0)::numeric CHECK ("unit_price" NOT IN ('NaN', 'Infinity', '-Infinity')),
    PRIMARY KEY ("order_id", "sku")
);

-- foreign key of order_lines (not valid) (one transaction, lock_timeout, retried)
ALTER TABLE "public"."order_lines" ADD CONSTRAINT "sy_order_metadata_24cf9166_fk_1" FOREIGN KEY ("order_id") REFERENCES "public"."orders" ("order_id") ON UPDATE CASCADE ON DELETE CASCADE NOT VALID;

-- validate the foreign key of order_lines (one transaction, lock_timeout, retried)
ALTER TABLE "public"."order_lines" VALIDATE CONSTRAINT "sy_order_metadata_24cf9166_fk_1";

-- create the mapping and sync functions (one transaction, lock_timeout, retried)
CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_apply"(keys uuid[], backfill boolean, lock_rows boolean, write_0 boolean DEFAULT true, write_1 boolean DEFAULT true, OUT n_rows bigint, OUT n_quarantined bigint) RETURNS record
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off SET plan_cache_mode = auto
AS $sy$
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
    PERFORM 1 FROM "public"."orders" s WHERE s."order_id" = ANY(keys) ORDER BY s."order_id" FOR NO KEY UPDATE;
  END IF;
  LOCK TABLE "public"."order_details" IN ROW EXCLUSIVE MODE;
  IF current_setting('transaction_isolation') <> 'read committed' OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = '"public"."order_details"'::regclass AND g.tgname IN ('sy_order_metadata_24cf9166_rev', 'sy_order_metadata_24cf9166_ctr')) THEN
    PERFORM 1 FROM "public"."order_details" t WHERE t."order_id" = ANY(keys) FOR UPDATE;
  END IF;
  LOCK TABLE "public"."order_lines" IN ROW EXCLUSIVE MODE;
  IF current_setting('transaction_isolation') <> 'read committed' OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = '"public"."order_lines"'::regclass AND g.tgname IN ('sy_order_metadata_24cf9166_rev', 'sy_order_metadata_24cf9166_ctr')) THEN
    PERFORM 1 FROM "public"."order_lines" t WHERE t."order_id" = ANY(keys) FOR UPDATE;
  END IF;
  WITH d AS (DELETE FROM switchyard.sync_queue q WHERE q.migration_name = 'order-metadata' AND q.kind = 'forward' AND q.source_key = ANY(keys::text[]) RETURNING q.source_key)
  SELECT array_agg(d.source_key) FROM d INTO dirty;
  SELECT array_agg(q.source_key) FROM switchyard.sync_queue q WHERE q.migration_name = 'order-metadata' AND q.kind IN ('reverse', 'contract') AND q.source_key = ANY(keys::text[]) INTO waiting;
  IF waiting IS NOT NULL THEN
    PERFORM switchyard."sy_order_metadata_24cf9166_replay"(ARRAY['reverse', 'contract'], keys, NULL, false);
    dirty := dirty || waiting;
  END IF;
  WITH d AS (DELETE FROM switchyard.quarantine q WHERE q.migration_name = 'order-metadata' AND q.source_key = ANY(keys::text[]) RETURNING q.source_key)
  SELECT dirty || array_agg(d.source_key) FROM d INTO dirty;
  PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
  IF NOT (write_0 AND write_1) AND EXISTS (SELECT 1 FROM switchyard.capture_log c WHERE c.migration_name = 'order-metadata') THEN
    SELECT dirty || array_agg(DISTINCT c.source_key) FROM switchyard.capture_log c WHERE c.migration_name = 'order-metadata' AND c.source_key = ANY(keys::text[]) INTO dirty;
  END IF;
ELSIF lock_rows THEN
  PERFORM 1 FROM "public"."orders" s WHERE s."order_id" = ANY(keys) ORDER BY s."order_id" FOR KEY SHARE;
END IF;
IF backfill THEN
  IF EXISTS (SELECT 1 FROM "public"."order_details" t WHERE t."order_id" BETWEEN keys[1] AND keys[cardinality(keys)]) THEN
    DELETE FROM "public"."order_details" t WHERE t."order_id" = ANY(keys);
  END IF;
  IF EXISTS (SELECT 1 FROM "public"."order_lines" t WHERE t."order_id" BETWEEN keys[1] AND keys[cardinality(keys)]) THEN
    DELETE FROM "public"."order_lines" t WHERE t."order_id" = ANY(keys);
  END IF;
WITH sy_doc AS MATERIALIZED (
  SELECT s."order_id" AS k, s."meta" AS d, (CASE WHEN s."meta" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."meta") <> 'object' THEN 'document is ' || jsonb_typeof(s."meta") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."meta" -> 'billing' -> 'total')), 'null') WHEN 'null' THEN 'billing.total' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'billing.total' || ': expected number, got ' || jsonb_typeof((s."meta" -> 'billing' -> 'total')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'billing' -> 'currency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."meta" -> 'billing' ->> 'currency') NOT IN ('EUR', 'USD', 'GBP') THEN 'billing.currency' || ': value ' || (s."meta" -> 'billing' ->> 'currency') || ' is not allowed' ELSE NULL END ELSE 'billing.currency' || ': expected string, got ' || jsonb_typeof((s."meta" -> 'billing' -> 'currency')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'timeline' -> 'placed_at')), 'null') WHEN 'null' THEN 'timeline.placed_at' || ': required key is missing' WHEN 'string' THEN CASE WHEN lower((s."meta" -> 'timeline' ->> 'placed_at')) ~ '(now|today|tomorrow|yesterday)' THEN 'timeline.placed_at' || ': a relative time is not a value: ' || (s."meta" -> 'timeline' ->> 'placed_at') WHEN switchyard.try_cast((s."meta" -> 'timeline' ->> 'placed_at'), 'timestamptz') IS NOT TRUE THEN 'timeline.placed_at' || ': not a valid timestamptz: ' || (s."meta" -> 'timeline' ->> 'placed_at') ELSE NULL END ELSE 'timeline.placed_at' || ': expected string, got ' || jsonb_typeof((s."meta" -> 'timeline' -> 'placed_at')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'stats' -> 'items')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."meta" -> 'stats' ->> 'items')::numeric <> trunc((s."meta" -> 'stats' ->> 'items')::numeric) OR (s."meta" -> 'stats' ->> 'items')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN 'stats.items' || ': not a valid integer: ' || (s."meta" -> 'stats' ->> 'items') ELSE NULL END ELSE 'stats.items' || ': expected number, got ' || jsonb_typeof((s."meta" -> 'stats' -> 'items')) END,
        CASE WHEN (s."meta" -> 'lines') IS NOT NULL AND jsonb_typeof((s."meta" -> 'lines')) NOT IN ('object', 'null') THEN 'lines: expected object, got ' || jsonb_typeof((s."meta" -> 'lines')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."meta" -> 'lines')) = 'object' THEN (s."meta" -> 'lines') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'lines.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'qty')), 'null') WHEN 'null' THEN ('lines.' || e.key || '.qty') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'qty')::numeric <> trunc((e.value ->> 'qty')::numeric) OR (e.value ->> 'qty')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('lines.' || e.key || '.qty') || ': not a valid integer: ' || (e.value ->> 'qty') ELSE NULL END ELSE ('lines.' || e.key || '.qty') || ': expected number, got ' || jsonb_typeof((e.value -> 'qty')) END, CASE coalesce(jsonb_typeof((e.value -> 'price' -> 'amount')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN NULL ELSE ('lines.' || e.key || '.price.amount') || ': expected number, got ' || jsonb_typeof((e.value -> 'price' -> 'amount')) END) IS NOT NULL) THEN 'entry' END) END IS NULL) AS ok
  FROM "public"."orders" s WHERE s."order_id" = ANY(keys)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
q AS (
  INSERT INTO switchyard.quarantine (migration_name, source_key, reason, document)
  SELECT 'order-metadata', c.k::text, CASE WHEN c.d IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(c.d) <> 'object' THEN 'document is ' || jsonb_typeof(c.d) || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((c.d -> 'billing' -> 'total')), 'null') WHEN 'null' THEN 'billing.total' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'billing.total' || ': expected number, got ' || jsonb_typeof((c.d -> 'billing' -> 'total')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'billing' -> 'currency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (c.d -> 'billing' ->> 'currency') NOT IN ('EUR', 'USD', 'GBP') THEN 'billing.currency' || ': value ' || (c.d -> 'billing' ->> 'currency') || ' is not allowed' ELSE NULL END ELSE 'billing.currency' || ': expected string, got ' || jsonb_typeof((c.d -> 'billing' -> 'currency')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'timeline' -> 'placed_at')), 'null') WHEN 'null' THEN 'timeline.placed_at' || ': required key is missing' WHEN 'string' THEN CASE WHEN lower((c.d -> 'timeline' ->> 'placed_at')) ~ '(now|today|tomorrow|yesterday)' THEN 'timeline.placed_at' || ': a relative time is not a value: ' || (c.d -> 'timeline' ->> 'placed_at') WHEN switchyard.try_cast((c.d -> 'timeline' ->> 'placed_at'), 'timestamptz') IS NOT TRUE THEN 'timeline.placed_at' || ': not a valid timestamptz: ' || (c.d -> 'timeline' ->> 'placed_at') ELSE NULL END ELSE 'timeline.placed_at' || ': expected string, got ' || jsonb_typeof((c.d -> 'timeline' -> 'placed_at')) END,
        CASE coalesce(jsonb_typeof((c.d -> 'stats' -> 'items')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (c.d -> 'stats' ->> 'items')::numeric <> trunc((c.d -> 'stats' ->> 'items')::numeric) OR (c.d -> 'stats' ->> 'items')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN 'stats.items' || ': not a valid integer: ' || (c.d -> 'stats' ->> 'items') ELSE NULL END ELSE 'stats.items' || ': expected number, got ' || jsonb_typeof((c.d -> 'stats' -> 'items')) END,
        CASE WHEN (c.d -> 'lines') IS NOT NULL AND jsonb_typeof((c.d -> 'lines')) NOT IN ('object', 'null') THEN 'lines: expected object, got ' || jsonb_typeof((c.d -> 'lines')) END,
        (SELECT x.r FROM (SELECT coalesce(CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'lines.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'qty')), 'null') WHEN 'null' THEN ('lines.' || e.key || '.qty') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'qty')::numeric <> trunc((e.value ->> 'qty')::numeric) OR (e.value ->> 'qty')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('lines.' || e.key || '.qty') || ': not a valid integer: ' || (e.value ->> 'qty') ELSE NULL END ELSE ('lines.' || e.key || '.qty') || ': expected number, got ' || jsonb_typeof((e.value -> 'qty')) END, CASE coalesce(jsonb_typeof((e.value -> 'price' -> 'amount')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN NULL ELSE ('lines.' || e.key || '.price.amount') || ': expected number, got ' || jsonb_typeof((e.value -> 'price' -> 'amount')) END) AS r FROM jsonb_each((CASE WHEN jsonb_typeof((c.d -> 'lines')) = 'object' THEN (c.d -> 'lines') ELSE '{}'::jsonb END)) AS e) x WHERE x.r IS NOT NULL LIMIT 1)) END, c.d FROM sy_doc c WHERE NOT c.ok
  ON CONFLICT (migration_name, source_key) DO UPDATE
    SET reason = EXCLUDED.reason, document = EXCLUDED.document, quarantined_at = now()
  RETURNING 1
),
t0 AS (
  INSERT INTO "public"."order_details" AS t ("order_id", "total", "currency", "placed_at", "item_count")
  SELECT x.* FROM (SELECT src.k, (src.d -> 'billing' ->> 'total')::numeric, coalesce((src.d -> 'billing' ->> 'currency'), ('EUR')::text), (src.d -> 'timeline' ->> 'placed_at')::timestamptz, coalesce((src.d -> 'stats' ->> 'items')::numeric::integer, (0)::integer) FROM src OFFSET 0) AS x(sy_k, sy_c0, sy_c1, sy_c2, sy_c3)
  RETURNING 1
),
t1 AS (
  INSERT INTO "public"."order_lines" AS t ("order_id", "sku", "quantity", "unit_price")
  SELECT x.* FROM (SELECT src.k, e.key, (e.value ->> 'qty')::numeric::integer, coalesce((e.value -> 'price' ->> 'amount')::numeric, (0)::numeric) FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((src.d -> 'lines')) = 'object' THEN (src.d -> 'lines') ELSE '{}'::jsonb END)) AS e OFFSET 0) AS x(sy_k, sy_ek, sy_c0, sy_c1)
  RETURNING 1
),
u AS (
  INSERT INTO switchyard.unmapped_keys (migration_name, key_path, documents)
  SELECT 'order-metadata', x.path, count(*) FROM (SELECT k.key AS path FROM (SELECT src.d - ARRAY['billing', 'lines', 'stats', 'timeline']::text[] AS rest FROM src WHERE jsonb_typeof(src.d) = 'object') r CROSS JOIN LATERAL jsonb_object_keys(r.rest) AS k(key) WHERE r.rest <> '{}'::jsonb
  UNION ALL SELECT 'lines' || '.*.' || k.key FROM (SELECT e.value - ARRAY['price', 'qty']::text[] AS rest FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((src.d -> 'lines')) = 'object' THEN (src.d -> 'lines') ELSE '{}'::jsonb END)) AS e WHERE jsonb_typeof(e.value) = 'object') r CROSS JOIN LATERAL jsonb_object_keys(r.rest) AS k(key) WHERE r.rest <> '{}'::jsonb) AS x WHERE backfill GROUP BY x.path
  ON CONFLICT (migration_name, key_path) DO UPDATE SET documents = switchyard.unmapped_keys.documents + EXCLUDED.documents
  RETURNING 1
)
SELECT (SELECT count(*) FROM sy_doc), (SELECT count(*) FROM q), (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1) + (SELECT count(*) FROM u) INTO n_rows, n_quarantined, n_written;
ELSE
LOOP
WITH sy_doc AS MATERIALIZED (
  SELECT s."order_id" AS k, s."meta" AS d, (CASE WHEN s."meta" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."meta") <> 'object' THEN 'document is ' || jsonb_typeof(s."meta") || ', expected an object' ELSE coalesce(CASE WHEN write_0 THEN coalesce(CASE coalesce(jsonb_typeof((s."meta" -> 'billing' -> 'total')), 'null') WHEN 'null' THEN 'billing.total' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'billing.total' || ': expected number, got ' || jsonb_typeof((s."meta" -> 'billing' -> 'total')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'billing' -> 'currency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."meta" -> 'billing' ->> 'currency') NOT IN ('EUR', 'USD', 'GBP') THEN 'billing.currency' || ': value ' || (s."meta" -> 'billing' ->> 'currency') || ' is not allowed' ELSE NULL END ELSE 'billing.currency' || ': expected string, got ' || jsonb_typeof((s."meta" -> 'billing' -> 'currency')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'timeline' -> 'placed_at')), 'null') WHEN 'null' THEN 'timeline.placed_at' || ': required key is missing' WHEN 'string' THEN CASE WHEN lower((s."meta" -> 'timeline' ->> 'placed_at')) ~ '(now|today|tomorrow|yesterday)' THEN 'timeline.placed_at' || ': a relative time is not a value: ' || (s."meta" -> 'timeline' ->> 'placed_at') WHEN switchyard.try_cast((s."meta" -> 'timeline' ->> 'placed_at'), 'timestamptz') IS NOT TRUE THEN 'timeline.placed_at' || ': not a valid timestamptz: ' || (s."meta" -> 'timeline' ->> 'placed_at') ELSE NULL END ELSE 'timeline.placed_at' || ': expected string, got ' || jsonb_typeof((s."meta" -> 'timeline' -> 'placed_at')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'stats' -> 'items')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."meta" -> 'stats' ->> 'items')::numeric <> trunc((s."meta" -> 'stats' ->> 'items')::numeric) OR (s."meta" -> 'stats' ->> 'items')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN 'stats.items' || ': not a valid integer: ' || (s."meta" -> 'stats' ->> 'items') ELSE NULL END ELSE 'stats.items' || ': expected number, got ' || jsonb_typeof((s."meta" -> 'stats' -> 'items')) END) END,
        CASE WHEN write_1 THEN coalesce(CASE WHEN (s."meta" -> 'lines') IS NOT NULL AND jsonb_typeof((s."meta" -> 'lines')) NOT IN ('object', 'null') THEN 'lines: expected object, got ' || jsonb_typeof((s."meta" -> 'lines')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."meta" -> 'lines')) = 'object' THEN (s."meta" -> 'lines') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'lines.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'qty')), 'null') WHEN 'null' THEN ('lines.' || e.key || '.qty') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'qty')::numeric <> trunc((e.value ->> 'qty')::numeric) OR (e.value ->> 'qty')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('lines.' || e.key || '.qty') || ': not a valid integer: ' || (e.value ->> 'qty') ELSE NULL END ELSE ('lines.' || e.key || '.qty') || ': expected number, got ' || jsonb_typeof((e.value -> 'qty')) END, CASE coalesce(jsonb_typeof((e.value -> 'price' -> 'amount')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN NULL ELSE ('lines.' || e.key || '.price.amount') || ': expected number, got ' || jsonb_typeof((e.value -> 'price' -> 'amount')) END) IS NOT NULL) THEN 'entry' END) END) END IS NULL) AS ok
  FROM "public"."orders" s WHERE s."order_id" = ANY(keys)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
t0 AS (
  INSERT INTO "public"."order_details" AS t ("order_id", "total", "currency", "placed_at", "item_count")
  SELECT x.* FROM (SELECT src.k, (src.d -> 'billing' ->> 'total')::numeric, coalesce((src.d -> 'billing' ->> 'currency'), ('EUR')::text), (src.d -> 'timeline' ->> 'placed_at')::timestamptz, coalesce((src.d -> 'stats' ->> 'items')::numeric::integer, (0)::integer) FROM src WHERE write_0 OFFSET 0) AS x(sy_k, sy_c0, sy_c1, sy_c2, sy_c3)
  ON CONFLICT ("order_id") DO UPDATE SET "total" = EXCLUDED."total", "currency" = EXCLUDED."currency", "placed_at" = EXCLUDED."placed_at", "item_count" = EXCLUDED."item_count"
  WHERE ROW(t."total"::text, t."currency"::text, t."placed_at"::text, t."item_count"::text) IS DISTINCT FROM ROW(EXCLUDED."total"::text, EXCLUDED."currency"::text, EXCLUDED."placed_at"::text, EXCLUDED."item_count"::text)
  RETURNING 1
),
t1 AS (
  INSERT INTO "public"."order_lines" AS t ("order_id", "sku", "quantity", "unit_price")
  SELECT x.* FROM (SELECT src.k, e.key, (e.value ->> 'qty')::numeric::integer, coalesce((e.value -> 'price' ->> 'amount')::numeric, (0)::numeric) FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((src.d -> 'lines')) = 'object' THEN (src.d -> 'lines') ELSE '{}'::jsonb END)) AS e WHERE write_1 OFFSET 0) AS x(sy_k, sy_ek, sy_c0, sy_c1)
  ON CONFLICT ("order_id", "sku") DO UPDATE SET "quantity" = EXCLUDED."quantity", "unit_price" = EXCLUDED."unit_price"
  WHERE ROW(t."quantity"::text, t."unit_price"::text) IS DISTINCT FROM ROW(EXCLUDED."quantity"::text, EXCLUDED."unit_price"::text)
  RETURNING 1
)
SELECT (SELECT count(*) FROM sy_doc), (SELECT count(*) FROM t0) + (SELECT count(*) FROM t1), (SELECT array_agg(c.k) FROM sy_doc c WHERE NOT c.ok) INTO n_rows, n_written, bad;
  n_quarantined := 0;
  IF bad IS NOT NULL THEN
    INSERT INTO switchyard.quarantine (migration_name, source_key, reason, document)
    SELECT 'order-metadata', s."order_id"::text, CASE WHEN s."meta" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."meta") <> 'object' THEN 'document is ' || jsonb_typeof(s."meta") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."meta" -> 'billing' -> 'total')), 'null') WHEN 'null' THEN 'billing.total' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'billing.total' || ': expected number, got ' || jsonb_typeof((s."meta" -> 'billing' -> 'total')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'billing' -> 'currency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."meta" -> 'billing' ->> 'currency') NOT IN ('EUR', 'USD', 'GBP') THEN 'billing.currency' || ': value ' || (s."meta" -> 'billing' ->> 'currency') || ' is not allowed' ELSE NULL END ELSE 'billing.currency' || ': expected string, got ' || jsonb_typeof((s."meta" -> 'billing' -> 'currency')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'timeline' -> 'placed_at')), 'null') WHEN 'null' THEN 'timeline.placed_at' || ': required key is missing' WHEN 'string' THEN CASE WHEN lower((s."meta" -> 'timeline' ->> 'placed_at')) ~ '(now|today|tomorrow|yesterday)' THEN 'timeline.placed_at' || ': a relative time is not a value: ' || (s."meta" -> 'timeline' ->> 'placed_at') WHEN switchyard.try_cast((s."meta" -> 'timeline' ->> 'placed_at'), 'timestamptz') IS NOT TRUE THEN 'timeline.placed_at' || ': not a valid timestamptz: ' || (s."meta" -> 'timeline' ->> 'placed_at') ELSE NULL END ELSE 'timeline.placed_at' || ': expected string, got ' || jsonb_typeof((s."meta" -> 'timeline' -> 'placed_at')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'stats' -> 'items')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."meta" -> 'stats' ->> 'items')::numeric <> trunc((s."meta" -> 'stats' ->> 'items')::numeric) OR (s."meta" -> 'stats' ->> 'items')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN 'stats.items' || ': not a valid integer: ' || (s."meta" -> 'stats' ->> 'items') ELSE NULL END ELSE 'stats.items' || ': expected number, got ' || jsonb_typeof((s."meta" -> 'stats' -> 'items')) END,
        CASE WHEN (s."meta" -> 'lines') IS NOT NULL AND jsonb_typeof((s."meta" -> 'lines')) NOT IN ('object', 'null') THEN 'lines: expected object, got ' || jsonb_typeof((s."meta" -> 'lines')) END,
        (SELECT x.r FROM (SELECT coalesce(CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'lines.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'qty')), 'null') WHEN 'null' THEN ('lines.' || e.key || '.qty') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'qty')::numeric <> trunc((e.value ->> 'qty')::numeric) OR (e.value ->> 'qty')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('lines.' || e.key || '.qty') || ': not a valid integer: ' || (e.value ->> 'qty') ELSE NULL END ELSE ('lines.' || e.key || '.qty') || ': expected number, got ' || jsonb_typeof((e.value -> 'qty')) END, CASE coalesce(jsonb_typeof((e.value -> 'price' -> 'amount')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN NULL ELSE ('lines.' || e.key || '.price.amount') || ': expected number, got ' || jsonb_typeof((e.value -> 'price' -> 'amount')) END) AS r FROM jsonb_each((CASE WHEN jsonb_typeof((s."meta" -> 'lines')) = 'object' THEN (s."meta" -> 'lines') ELSE '{}'::jsonb END)) AS e) x WHERE x.r IS NOT NULL LIMIT 1)) END, s."meta" FROM "public"."orders" s WHERE s."order_id" = ANY(bad)
    ON CONFLICT (migration_name, source_key) DO UPDATE
    SET reason = EXCLUDED.reason, document = EXCLUDED.document, quarantined_at = now();
    GET DIAGNOSTICS n_quarantined = ROW_COUNT;
  END IF;
  IF bad IS NOT NULL THEN
    DELETE FROM "public"."order_details" t WHERE t."order_id" = ANY(bad);
  END IF;
  IF bad IS NOT NULL THEN
    DELETE FROM "public"."order_lines" t WHERE t."order_id" = ANY(bad);
  END IF;
  IF write_1 THEN
    DELETE FROM "public"."order_lines" t WHERE t."order_id" = ANY(keys) AND NOT EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = t."order_id" AND jsonb_typeof((s."meta" -> 'lines')) = 'object' AND (s."meta" -> 'lines') ? t."sku");
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
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_map"(keys uuid[], backfill boolean, write_0 boolean DEFAULT true, write_1 boolean DEFAULT true, OUT n_rows bigint, OUT n_quarantined bigint) RETURNS record
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
  SELECT a.n_rows, a.n_quarantined INTO n_rows, n_quarantined FROM switchyard."sy_order_metadata_24cf9166_apply"(keys, backfill, false, write_0, write_1) a;
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
      SELECT a.n_rows, a.n_quarantined INTO one FROM switchyard."sy_order_metadata_24cf9166_apply"(ARRAY[k], backfill, true, write_0, write_1) a;
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
  SELECT s."meta" INTO doc FROM "public"."orders" s WHERE s."order_id" = k;
  IF FOUND THEN
        DELETE FROM "public"."order_details" t WHERE t."order_id" = k;
        DELETE FROM "public"."order_lines" t WHERE t."order_id" = k;
    INSERT INTO switchyard.quarantine (migration_name, source_key, reason, document)
    VALUES ('order-metadata', k::text, 'the database refused the mapping: ' || reasons[i], doc)
    ON CONFLICT (migration_name, source_key) DO UPDATE
      SET reason = EXCLUDED.reason, document = EXCLUDED.document, quarantined_at = now();
    n_rows := n_rows + 1;
    n_quarantined := n_quarantined + 1;
  END IF;
END LOOP;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_capture"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys uuid[];
BEGIN
IF TG_OP = 'INSERT' THEN
  SELECT array_agg(n."order_id" ORDER BY n."order_id") FROM sy_new n INTO keys;
ELSIF TG_OP = 'DELETE' THEN
  SELECT array_agg(o."order_id" ORDER BY o."order_id") FROM sy_old o INTO keys;
ELSE
  SELECT array_agg(DISTINCT coalesce(n."order_id", o."order_id") ORDER BY coalesce(n."order_id", o."order_id")) FROM sy_new n FULL JOIN sy_old o ON o."order_id" = n."order_id"
    WHERE n."order_id" IS NULL OR o."order_id" IS NULL OR NOT (o."meta" IS NOT DISTINCT FROM n."meta" AND o."meta"::text IS NOT DISTINCT FROM n."meta"::text) INTO keys;
END IF;
IF keys IS NOT NULL THEN
  INSERT INTO switchyard.capture_log (migration_name, source_key) SELECT 'order-metadata', k::text FROM unnest(keys) AS k;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_dw"() RETURNS trigger
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
      SELECT coalesce(n."order_id", o."order_id") AS k, o."order_id" IS NULL OR n."order_id" IS NULL OR NOT ((o."meta" -> 'billing' -> 'currency') IS NOT DISTINCT FROM (n."meta" -> 'billing' -> 'currency') AND (o."meta" -> 'billing' -> 'currency')::text IS NOT DISTINCT FROM (n."meta" -> 'billing' -> 'currency')::text AND (o."meta" -> 'billing' -> 'total') IS NOT DISTINCT FROM (n."meta" -> 'billing' -> 'total') AND (o."meta" -> 'billing' -> 'total')::text IS NOT DISTINCT FROM (n."meta" -> 'billing' -> 'total')::text AND (o."meta" -> 'stats' -> 'items') IS NOT DISTINCT FROM (n."meta" -> 'stats' -> 'items') AND (o."meta" -> 'stats' -> 'items')::text IS NOT DISTINCT FROM (n."meta" -> 'stats' -> 'items')::text AND (o."meta" -> 'timeline' -> 'placed_at') IS NOT DISTINCT FROM (n."meta" -> 'timeline' -> 'placed_at') AND (o."meta" -> 'timeline' -> 'placed_at')::text IS NOT DISTINCT FROM (n."meta" -> 'timeline' -> 'placed_at')::text) AS w0, o."order_id" IS NULL OR n."order_id" IS NULL OR NOT ((o."meta" -> 'lines') IS NOT DISTINCT FROM (n."meta" -> 'lines') AND (o."meta" -> 'lines')::text IS NOT DISTINCT FROM (n."meta" -> 'lines')::text) AS w1 FROM sy_new n FULL JOIN sy_old o ON o."order_id" = n."order_id"
      WHERE n."order_id" IS NULL OR o."order_id" IS NULL OR NOT (o."meta" IS NOT DISTINCT FROM n."meta" AND o."meta"::text IS NOT DISTINCT FROM n."meta"::text)) x
      GROUP BY x.w0, x.w1 ORDER BY 1 LOOP
      PERFORM switchyard."sy_order_metadata_24cf9166_apply"(part.keys, false, false, part.w0, part.w1);
    END LOOP;
  ELSE
    IF TG_OP = 'INSERT' THEN
      SELECT array_agg(n."order_id" ORDER BY n."order_id") FROM sy_new n INTO keys;
    ELSIF TG_OP = 'DELETE' THEN
      SELECT array_agg(o."order_id" ORDER BY o."order_id") FROM sy_old o INTO keys;
    END IF;
    IF keys IS NOT NULL THEN
      PERFORM switchyard."sy_order_metadata_24cf9166_apply"(keys, false, false);
    END IF;
  END IF;
EXCEPTION
  WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
    IF TG_OP = 'UPDATE' THEN
      SELECT array_agg(DISTINCT coalesce(n."order_id", o."order_id") ORDER BY coalesce(n."order_id", o."order_id")) FROM sy_new n FULL JOIN sy_old o ON o."order_id" = n."order_id"
        WHERE n."order_id" IS NULL OR o."order_id" IS NULL OR NOT (o."meta" IS NOT DISTINCT FROM n."meta" AND o."meta"::text IS NOT DISTINCT FROM n."meta"::text) INTO keys;
    END IF;
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key)
    SELECT 'order-metadata', 'forward', k::text FROM unnest(keys) AS k;
  WHEN OTHERS THEN
    -- The database refused something the checks let through: what the
    -- block wrote is undone, and map takes every key again (an INSERT's or
    -- DELETE's read again: the error may have come before they were).
    IF TG_OP = 'INSERT' THEN
      SELECT array_agg(n."order_id" ORDER BY n."order_id") FROM sy_new n INTO keys;
    ELSIF TG_OP = 'DELETE' THEN
      SELECT array_agg(o."order_id" ORDER BY o."order_id") FROM sy_old o INTO keys;
    END IF;
    BEGIN
      IF TG_OP = 'UPDATE' THEN
        FOR part IN SELECT array_agg(DISTINCT x.k ORDER BY x.k) AS keys, x.w0, x.w1 FROM (
          SELECT coalesce(n."order_id", o."order_id") AS k, o."order_id" IS NULL OR n."order_id" IS NULL OR NOT ((o."meta" -> 'billing' -> 'currency') IS NOT DISTINCT FROM (n."meta" -> 'billing' -> 'currency') AND (o."meta" -> 'billing' -> 'currency')::text IS NOT DISTINCT FROM (n."meta" -> 'billing' -> 'currency')::text AND (o."meta" -> 'billing' -> 'total') IS NOT DISTINCT FROM (n."meta" -> 'billing' -> 'total') AND (o."meta" -> 'billing' -> 'total')::text IS NOT DISTINCT FROM (n."meta" -> 'billing' -> 'total')::text AND (o."meta" -> 'stats' -> 'items') IS NOT DISTINCT FROM (n."meta" -> 'stats' -> 'items') AND (o."meta" -> 'stats' -> 'items')::text IS NOT DISTINCT FROM (n."meta" -> 'stats' -> 'items')::text AND (o."meta" -> 'timeline' -> 'placed_at') IS NOT DISTINCT FROM (n."meta" -> 'timeline' -> 'placed_at') AND (o."meta" -> 'timeline' -> 'placed_at')::text IS NOT DISTINCT FROM (n."meta" -> 'timeline' -> 'placed_at')::text) AS w0, o."order_id" IS NULL OR n."order_id" IS NULL OR NOT ((o."meta" -> 'lines') IS NOT DISTINCT FROM (n."meta" -> 'lines') AND (o."meta" -> 'lines')::text IS NOT DISTINCT FROM (n."meta" -> 'lines')::text) AS w1 FROM sy_new n FULL JOIN sy_old o ON o."order_id" = n."order_id"
          WHERE n."order_id" IS NULL OR o."order_id" IS NULL OR NOT (o."meta" IS NOT DISTINCT FROM n."meta" AND o."meta"::text IS NOT DISTINCT FROM n."meta"::text)) x
          GROUP BY x.w0, x.w1 ORDER BY 1 LOOP
          PERFORM switchyard."sy_order_metadata_24cf9166_map"(part.keys, false, part.w0, part.w1);
        END LOOP;
      ELSE
        PERFORM switchyard."sy_order_metadata_24cf9166_map"(keys, false);
      END IF;
    EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
      IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT coalesce(n."order_id", o."order_id") ORDER BY coalesce(n."order_id", o."order_id")) FROM sy_new n FULL JOIN sy_old o ON o."order_id" = n."order_id"
          WHERE n."order_id" IS NULL OR o."order_id" IS NULL OR NOT (o."meta" IS NOT DISTINCT FROM n."meta" AND o."meta"::text IS NOT DISTINCT FROM n."meta"::text) INTO keys;
      END IF;
      INSERT INTO switchyard.sync_queue (migration_name, kind, source_key)
      SELECT 'order-metadata', 'forward', k::text FROM unnest(keys) AS k;
    END;
END;
PERFORM set_config('switchyard.syncing', 'off', true), set_config('switchyard.rows_held', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_wb_0"(doc jsonb, op text, old_row jsonb, new_row jsonb) RETURNS jsonb
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
  d := switchyard.jsonb_remove(d, '{"billing","total"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"billing","currency"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"timeline","placed_at"}'::text[]);
  d := switchyard.jsonb_remove(d, '{"stats","items"}'::text[]);
  RETURN d;
END IF;
IF op = 'REPLAY_DELETE' THEN
  v := (d -> 'billing' -> 'total');
  IF (CASE WHEN (old_row -> 'total') IS NULL THEN false WHEN (old_row -> 'total') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v::text = (old_row -> 'total')::text, false) END) THEN d := switchyard.jsonb_remove(d, '{"billing","total"}'::text[]); END IF;
  v := (d -> 'billing' -> 'currency');
  IF (CASE WHEN (old_row -> 'currency') IS NULL THEN false WHEN (old_row -> 'currency') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'currency') = to_jsonb(('EUR')::text), false) ELSE coalesce(v = (old_row -> 'currency'), false) END) END) THEN d := switchyard.jsonb_remove(d, '{"billing","currency"}'::text[]); END IF;
  v := (d -> 'timeline' -> 'placed_at');
  IF (CASE WHEN (old_row -> 'placed_at') IS NULL THEN false WHEN (old_row -> 'placed_at') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (coalesce(v = (old_row -> 'placed_at'), false) OR switchyard.same_value(v, (old_row -> 'placed_at') #>> '{}', 'timestamptz')) END) THEN d := switchyard.jsonb_remove(d, '{"timeline","placed_at"}'::text[]); END IF;
  v := (d -> 'stats' -> 'items');
  IF (CASE WHEN (old_row -> 'item_count') IS NULL THEN false WHEN (old_row -> 'item_count') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'item_count') = to_jsonb((0)::integer), false) ELSE coalesce(v = (old_row -> 'item_count'), false) END) END) THEN d := switchyard.jsonb_remove(d, '{"stats","items"}'::text[]); END IF;
  RETURN d;
END IF;
IF d IS NULL OR d = 'null'::jsonb THEN d := '{}'::jsonb; END IF;
x := new_row -> 'total';
v := (d -> 'billing' -> 'total');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'total')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'total') IS NULL THEN false WHEN (old_row -> 'total') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v::text = (old_row -> 'total')::text, false) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"billing","total"}'::text[]); END IF;
  ELSIF NOT coalesce(v::text = x::text, false) THEN
    d := switchyard.jsonb_put(d, '{"billing","total"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'currency';
v := (d -> 'billing' -> 'currency');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'currency')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'currency') IS NULL THEN false WHEN (old_row -> 'currency') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'currency') = to_jsonb(('EUR')::text), false) ELSE coalesce(v = (old_row -> 'currency'), false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"billing","currency"}'::text[]); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb(('EUR')::text), false) ELSE coalesce(v = x, false) END) THEN
    d := switchyard.jsonb_put(d, '{"billing","currency"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'placed_at';
v := (d -> 'timeline' -> 'placed_at');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'placed_at')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'placed_at') IS NULL THEN false WHEN (old_row -> 'placed_at') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (coalesce(v = (old_row -> 'placed_at'), false) OR switchyard.same_value(v, (old_row -> 'placed_at') #>> '{}', 'timestamptz')) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"timeline","placed_at"}'::text[]); END IF;
  ELSIF NOT (coalesce(v = x, false) OR switchyard.same_value(v, x #>> '{}', 'timestamptz')) THEN
    d := switchyard.jsonb_put(d, '{"timeline","placed_at"}'::text[], x);
  END IF;
END IF;
x := new_row -> 'item_count';
v := (d -> 'stats' -> 'items');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'item_count')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'item_count') IS NULL THEN false WHEN (old_row -> 'item_count') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'item_count') = to_jsonb((0)::integer), false) ELSE coalesce(v = (old_row -> 'item_count'), false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, '{"stats","items"}'::text[]); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb((0)::integer), false) ELSE coalesce(v = x, false) END) THEN
    d := switchyard.jsonb_put(d, '{"stats","items"}'::text[], x);
  END IF;
END IF;
RETURN d;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_rsync_0"(op text, old_row jsonb, new_row jsonb) RETURNS void
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
ok := (old_row ->> 'order_id')::uuid;
nk := (new_row ->> 'order_id')::uuid;
moved := op = 'UPDATE' AND (ok IS DISTINCT FROM nk);
IF moved AND ok IS DISTINCT FROM nk AND (NOT EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = ok) OR EXISTS (SELECT 1 FROM "public"."order_details" x WHERE x."order_id" = ok)) THEN
  -- A cascaded source key update: the document moved with the row, and
  -- the dual-write has already mapped it; the row's image is older.
  RETURN;
END IF;
IF op = 'REPLAY_DELETE' THEN
  SELECT s."meta" INTO d FROM "public"."orders" s WHERE s."order_id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_order_metadata_24cf9166_wb_0"(d, op, old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."orders" s SET "meta" = nd WHERE s."order_id" = ok; END IF;
  END IF;
  RETURN;
END IF;
IF op = 'DELETE' OR moved THEN
  SELECT s."meta" INTO d FROM "public"."orders" s WHERE s."order_id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_order_metadata_24cf9166_wb_0"(d, 'DELETE', old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."orders" s SET "meta" = nd WHERE s."order_id" = ok; END IF;
  END IF;
END IF;
IF op <> 'DELETE' THEN
  SELECT s."meta" INTO d FROM "public"."orders" s WHERE s."order_id" = nk FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_order_metadata_24cf9166_wb_0"(d, CASE WHEN moved THEN 'SYNC' ELSE op END, old_row, new_row);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."orders" s SET "meta" = nd WHERE s."order_id" = nk; END IF;
  END IF;
END IF;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_resync_0"(k uuid, entry text, first_op text, baseline jsonb, deleted boolean) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  img jsonb;
  prev text;
BEGIN
prev := current_setting('switchyard.syncing', true);
PERFORM set_config('switchyard.syncing', 'on', true);
SELECT to_jsonb(t.*) INTO img FROM "public"."order_details" t WHERE t."order_id" = k FOR SHARE;
IF first_op IS NULL THEN
  IF FOUND THEN
    PERFORM switchyard."sy_order_metadata_24cf9166_rsync_0"('SYNC', NULL, img);
  ELSE
    PERFORM switchyard."sy_order_metadata_24cf9166_rsync_0"('DELETE', jsonb_build_object('order_id', k), NULL);
  END IF;
ELSIF FOUND THEN
  PERFORM switchyard."sy_order_metadata_24cf9166_rsync_0"(CASE WHEN first_op = 'INSERT' THEN 'REPLAY_INSERT' ELSE 'REPLAY' END, baseline, img);
ELSIF first_op <> 'INSERT' AND deleted THEN
  PERFORM switchyard."sy_order_metadata_24cf9166_rsync_0"('REPLAY_DELETE', coalesce(baseline, '{}'::jsonb) || jsonb_build_object('order_id', k), NULL);
END IF;
PERFORM set_config('switchyard.syncing', coalesce(prev, 'off'), true);
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_rev_0"() RETURNS trigger
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
  PERFORM switchyard."sy_order_metadata_24cf9166_rsync_0"(TG_OP, old_img, new_img);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('order-metadata', 'reverse', NEW."order_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
  ELSIF TG_OP = 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = OLD."order_id") THEN
      INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
      VALUES ('order-metadata', 'reverse', OLD."order_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD));
    END IF;
  ELSIF OLD."order_id" IS DISTINCT FROM NEW."order_id" AND NULL::text IS NOT DISTINCT FROM NULL::text
        AND (NOT EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = OLD."order_id") OR EXISTS (SELECT 1 FROM "public"."order_details" x WHERE x."order_id" = OLD."order_id")) THEN
    -- The cascade of a source key update: the document moved with its row,
    -- and the source's triggers moved the key's queued writes before this
    -- fires. The row is unchanged: nothing to remember.
    NULL;
  ELSIF (OLD."order_id", NULL::text) IS DISTINCT FROM (NEW."order_id", NULL::text) THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('order-metadata', 'reverse', OLD."order_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD)), ('order-metadata', 'reverse', NEW."order_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
  ELSE
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    SELECT c.* FROM (VALUES ('order-metadata', 'reverse', NEW."order_id"::text, 0, NULL::text, 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
  END IF;
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_0"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys uuid[];
  pending uuid[];
BEGIN
IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;
IF TG_OP = 'INSERT' THEN
  SELECT array_agg(DISTINCT n."order_id") INTO keys FROM sy_new n;
ELSIF TG_OP = 'DELETE' THEN
  SELECT array_agg(DISTINCT o."order_id") INTO keys FROM sy_old o;
ELSE
  SELECT array_agg(DISTINCT x.k) INTO keys FROM (SELECT n."order_id" AS k FROM sy_new n UNION SELECT o."order_id" FROM sy_old o) x;
END IF;
SELECT array_agg(DISTINCT q.source_key::uuid) INTO pending FROM switchyard.sync_queue q
WHERE q.migration_name = 'order-metadata' AND q.kind = 'forward' AND q.source_key = ANY(keys::text[]);
IF pending IS NULL THEN RETURN NULL; END IF;
PERFORM set_config('switchyard.syncing', 'on', true);
BEGIN
  PERFORM switchyard."sy_order_metadata_24cf9166_map"(pending, false);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  NULL; -- still queued: the next writer of these keys, or the engine, does it
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_ctr_0"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'INSERT' THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('order-metadata', 'contract', NEW."order_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
ELSIF TG_OP = 'DELETE' THEN
  IF EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = OLD."order_id") THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('order-metadata', 'contract', OLD."order_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD));
  END IF;
ELSIF OLD."order_id" IS DISTINCT FROM NEW."order_id" AND NULL::text IS NOT DISTINCT FROM NULL::text
      AND (NOT EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = OLD."order_id") OR EXISTS (SELECT 1 FROM "public"."order_details" x WHERE x."order_id" = OLD."order_id")) THEN
  -- The cascade of a source key update: the document moved with its row,
  -- and the source's triggers moved the key's queued writes before this
  -- fires. The row is unchanged: nothing to remember.
  NULL;
ELSIF (OLD."order_id", NULL::text) IS DISTINCT FROM (NEW."order_id", NULL::text) THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('order-metadata', 'contract', OLD."order_id"::text, 0, NULL::text, 'DELETE', to_jsonb(OLD)), ('order-metadata', 'contract', NEW."order_id"::text, 0, NULL::text, 'INSERT', NULL::jsonb);
ELSE
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  SELECT c.* FROM (VALUES ('order-metadata', 'contract', NEW."order_id"::text, 0, NULL::text, 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_wb_1"(doc jsonb, op text, old_row jsonb, new_row jsonb) RETURNS jsonb
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
  RETURN switchyard.jsonb_remove(d, '{"lines"}'::text[] || (old_row ->> 'sku'));
END IF;
IF op = 'REPLAY_DELETE' THEN
  ek := old_row ->> 'sku';
  IF jsonb_typeof((d -> 'lines') -> ek) IS DISTINCT FROM 'object' THEN RETURN d; END IF;
  -- The entry goes only if it still is what the row was.
  write := true;
  v := (((d -> 'lines') -> ek) -> 'qty');
  write := write AND (CASE WHEN (old_row -> 'quantity') IS NULL THEN false WHEN (old_row -> 'quantity') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v = (old_row -> 'quantity'), false) END);
  v := (((d -> 'lines') -> ek) -> 'price' -> 'amount');
  write := write AND (CASE WHEN (old_row -> 'unit_price') IS NULL THEN false WHEN (old_row -> 'unit_price') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'unit_price') = to_jsonb((0)::numeric), false) ELSE coalesce(v::text = (old_row -> 'unit_price')::text, false) END) END);
  IF write THEN d := switchyard.jsonb_remove(d, '{"lines"}'::text[] || ek); END IF;
  RETURN d;
END IF;
ek := new_row ->> 'sku';
IF op = 'REPLAY' AND jsonb_typeof((d -> 'lines') -> ek) IS DISTINCT FROM 'object' THEN RETURN d; END IF;
IF op = 'REPLAY_INSERT' AND jsonb_typeof((d -> 'lines') -> ek) = 'object' THEN RETURN d; END IF;
IF jsonb_typeof((d -> 'lines') -> ek) IS DISTINCT FROM 'object' THEN
  -- A new entry gets every column, whatever the write changed.
  d := switchyard.jsonb_put(d, '{"lines"}'::text[] || ek, '{}'::jsonb);
  IF op = 'UPDATE' THEN op := 'INSERT'; END IF;
END IF;
x := new_row -> 'quantity';
v := (((d -> 'lines') -> ek) -> 'qty');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'quantity')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'quantity') IS NULL THEN false WHEN (old_row -> 'quantity') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE coalesce(v = (old_row -> 'quantity'), false) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, ('{"lines"}'::text[] || ek || '{"qty"}'::text[])); END IF;
  ELSIF NOT coalesce(v = x, false) THEN
    d := switchyard.jsonb_put(d, ('{"lines"}'::text[] || ek || '{"qty"}'::text[]), x);
  END IF;
END IF;
x := new_row -> 'unit_price';
v := (((d -> 'lines') -> ek) -> 'price' -> 'amount');
write := CASE op WHEN 'UPDATE' THEN (old_row -> 'unit_price')::text IS DISTINCT FROM x::text
                 WHEN 'REPLAY' THEN (CASE WHEN (old_row -> 'unit_price') IS NULL THEN false WHEN (old_row -> 'unit_price') = 'null'::jsonb THEN (v IS NULL OR v = 'null'::jsonb) ELSE (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce((old_row -> 'unit_price') = to_jsonb((0)::numeric), false) ELSE coalesce(v::text = (old_row -> 'unit_price')::text, false) END) END)
                 ELSE true END;
IF write THEN
  IF x IS NULL OR x = 'null'::jsonb THEN
    IF v IS NOT NULL AND v <> 'null'::jsonb THEN d := switchyard.jsonb_remove(d, ('{"lines"}'::text[] || ek || '{"price","amount"}'::text[])); END IF;
  ELSIF NOT (CASE WHEN v IS NULL OR v = 'null'::jsonb THEN coalesce(x = to_jsonb((0)::numeric), false) ELSE coalesce(v::text = x::text, false) END) THEN
    d := switchyard.jsonb_put(d, ('{"lines"}'::text[] || ek || '{"price","amount"}'::text[]), x);
  END IF;
END IF;
RETURN d;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_rsync_1"(op text, old_row jsonb, new_row jsonb) RETURNS void
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
ok := (old_row ->> 'order_id')::uuid;
nk := (new_row ->> 'order_id')::uuid;
moved := op = 'UPDATE' AND (ok IS DISTINCT FROM nk OR (old_row ->> 'sku') IS DISTINCT FROM (new_row ->> 'sku'));
IF moved AND ok IS DISTINCT FROM nk AND (NOT EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = ok) OR EXISTS (SELECT 1 FROM "public"."order_lines" x WHERE x."order_id" = ok AND x."sku" = (old_row ->> 'sku'))) THEN
  -- A cascaded source key update: the document moved with the row, and
  -- the dual-write has already mapped it; the row's image is older.
  RETURN;
END IF;
IF op = 'REPLAY_DELETE' THEN
  SELECT s."meta" INTO d FROM "public"."orders" s WHERE s."order_id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_order_metadata_24cf9166_wb_1"(d, op, old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."orders" s SET "meta" = nd WHERE s."order_id" = ok; END IF;
  END IF;
  RETURN;
END IF;
IF op = 'DELETE' OR moved THEN
  SELECT s."meta" INTO d FROM "public"."orders" s WHERE s."order_id" = ok FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_order_metadata_24cf9166_wb_1"(d, 'DELETE', old_row, NULL);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."orders" s SET "meta" = nd WHERE s."order_id" = ok; END IF;
  END IF;
END IF;
IF op <> 'DELETE' THEN
  SELECT s."meta" INTO d FROM "public"."orders" s WHERE s."order_id" = nk FOR NO KEY UPDATE;
  IF FOUND THEN
    nd := switchyard."sy_order_metadata_24cf9166_wb_1"(d, CASE WHEN moved THEN 'SYNC' ELSE op END, old_row, new_row);
    IF nd IS DISTINCT FROM d THEN UPDATE "public"."orders" s SET "meta" = nd WHERE s."order_id" = nk; END IF;
  END IF;
END IF;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_resync_1"(k uuid, entry text, first_op text, baseline jsonb, deleted boolean) RETURNS void
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  img jsonb;
  prev text;
BEGIN
prev := current_setting('switchyard.syncing', true);
PERFORM set_config('switchyard.syncing', 'on', true);
SELECT to_jsonb(t.*) INTO img FROM "public"."order_lines" t WHERE t."order_id" = k AND t."sku" = entry FOR SHARE;
IF first_op IS NULL THEN
  IF FOUND THEN
    PERFORM switchyard."sy_order_metadata_24cf9166_rsync_1"('SYNC', NULL, img);
  ELSE
    PERFORM switchyard."sy_order_metadata_24cf9166_rsync_1"('DELETE', jsonb_build_object('order_id', k, 'sku', entry), NULL);
  END IF;
ELSIF FOUND THEN
  PERFORM switchyard."sy_order_metadata_24cf9166_rsync_1"(CASE WHEN first_op = 'INSERT' THEN 'REPLAY_INSERT' ELSE 'REPLAY' END, baseline, img);
ELSIF first_op <> 'INSERT' AND deleted THEN
  PERFORM switchyard."sy_order_metadata_24cf9166_rsync_1"('REPLAY_DELETE', coalesce(baseline, '{}'::jsonb) || jsonb_build_object('order_id', k, 'sku', entry), NULL);
END IF;
PERFORM set_config('switchyard.syncing', coalesce(prev, 'off'), true);
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_rev_1"() RETURNS trigger
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
  PERFORM switchyard."sy_order_metadata_24cf9166_rsync_1"(TG_OP, old_img, new_img);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('order-metadata', 'reverse', NEW."order_id"::text, 1, NEW."sku", 'INSERT', NULL::jsonb);
  ELSIF TG_OP = 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = OLD."order_id") THEN
      INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
      VALUES ('order-metadata', 'reverse', OLD."order_id"::text, 1, OLD."sku", 'DELETE', to_jsonb(OLD));
    END IF;
  ELSIF OLD."order_id" IS DISTINCT FROM NEW."order_id" AND OLD."sku" IS NOT DISTINCT FROM NEW."sku"
        AND (NOT EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = OLD."order_id") OR EXISTS (SELECT 1 FROM "public"."order_lines" x WHERE x."order_id" = OLD."order_id" AND x."sku" = OLD."sku")) THEN
    -- The cascade of a source key update: the document moved with its row,
    -- and the source's triggers moved the key's queued writes before this
    -- fires. The row is unchanged: nothing to remember.
    NULL;
  ELSIF (OLD."order_id", OLD."sku") IS DISTINCT FROM (NEW."order_id", NEW."sku") THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('order-metadata', 'reverse', OLD."order_id"::text, 1, OLD."sku", 'DELETE', to_jsonb(OLD)), ('order-metadata', 'reverse', NEW."order_id"::text, 1, NEW."sku", 'INSERT', NULL::jsonb);
  ELSE
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    SELECT c.* FROM (VALUES ('order-metadata', 'reverse', NEW."order_id"::text, 1, NEW."sku", 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
  END IF;
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_1"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys uuid[];
  pending uuid[];
BEGIN
IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;
IF TG_OP = 'INSERT' THEN
  SELECT array_agg(DISTINCT n."order_id") INTO keys FROM sy_new n;
ELSIF TG_OP = 'DELETE' THEN
  SELECT array_agg(DISTINCT o."order_id") INTO keys FROM sy_old o;
ELSE
  SELECT array_agg(DISTINCT x.k) INTO keys FROM (SELECT n."order_id" AS k FROM sy_new n UNION SELECT o."order_id" FROM sy_old o) x;
END IF;
SELECT array_agg(DISTINCT q.source_key::uuid) INTO pending FROM switchyard.sync_queue q
WHERE q.migration_name = 'order-metadata' AND q.kind = 'forward' AND q.source_key = ANY(keys::text[]);
IF pending IS NULL THEN RETURN NULL; END IF;
PERFORM set_config('switchyard.syncing', 'on', true);
BEGIN
  PERFORM switchyard."sy_order_metadata_24cf9166_map"(pending, false);
EXCEPTION WHEN deadlock_detected OR lock_not_available OR serialization_failure THEN
  NULL; -- still queued: the next writer of these keys, or the engine, does it
END;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_ctr_1"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'INSERT' THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('order-metadata', 'contract', NEW."order_id"::text, 1, NEW."sku", 'INSERT', NULL::jsonb);
ELSIF TG_OP = 'DELETE' THEN
  IF EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = OLD."order_id") THEN
    INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
    VALUES ('order-metadata', 'contract', OLD."order_id"::text, 1, OLD."sku", 'DELETE', to_jsonb(OLD));
  END IF;
ELSIF OLD."order_id" IS DISTINCT FROM NEW."order_id" AND OLD."sku" IS NOT DISTINCT FROM NEW."sku"
      AND (NOT EXISTS (SELECT 1 FROM "public"."orders" s WHERE s."order_id" = OLD."order_id") OR EXISTS (SELECT 1 FROM "public"."order_lines" x WHERE x."order_id" = OLD."order_id" AND x."sku" = OLD."sku")) THEN
  -- The cascade of a source key update: the document moved with its row,
  -- and the source's triggers moved the key's queued writes before this
  -- fires. The row is unchanged: nothing to remember.
  NULL;
ELSIF (OLD."order_id", OLD."sku") IS DISTINCT FROM (NEW."order_id", NEW."sku") THEN
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  VALUES ('order-metadata', 'contract', OLD."order_id"::text, 1, OLD."sku", 'DELETE', to_jsonb(OLD)), ('order-metadata', 'contract', NEW."order_id"::text, 1, NEW."sku", 'INSERT', NULL::jsonb);
ELSE
  INSERT INTO switchyard.sync_queue (migration_name, kind, source_key, target, entry_key, op, old_row)
  SELECT c.* FROM (VALUES ('order-metadata', 'contract', NEW."order_id"::text, 1, NEW."sku", 'UPDATE', (SELECT jsonb_object_agg(o.key, o.value) FROM jsonb_each(to_jsonb(OLD)) AS o WHERE (to_jsonb(NEW) -> o.key)::text IS DISTINCT FROM o.value::text))) AS c(m, k, s, t, e, o, img) WHERE c.img IS NOT NULL;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_replay"(kinds text[], keys uuid[], max_rows integer, remap boolean) RETURNS bigint
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
    WHERE q.migration_name = 'order-metadata' AND q.kind = ANY(kinds)
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
    WHEN 0 THEN PERFORM switchyard."sy_order_metadata_24cf9166_resync_0"(queued.source_key::uuid, queued.entry_key, queued.first_op, queued.baseline, queued.deleted);
    WHEN 1 THEN PERFORM switchyard."sy_order_metadata_24cf9166_resync_1"(queued.source_key::uuid, queued.entry_key, queued.first_op, queued.baseline, queued.deleted);
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
  PERFORM switchyard."sy_order_metadata_24cf9166_map"(replayed, false);
  PERFORM set_config('switchyard.syncing', coalesce(prev, 'off'), true);
END IF;
RETURN done;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_drain"() RETURNS bigint
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
DECLARE
  keys uuid[];
  done bigint;
BEGIN
PERFORM set_config('switchyard.syncing', 'on', true);
done := switchyard."sy_order_metadata_24cf9166_replay"(ARRAY['reverse'], NULL, NULL, true);
SELECT array_agg(DISTINCT q.source_key::uuid) INTO keys FROM switchyard.sync_queue q WHERE q.migration_name = 'order-metadata' AND q.kind = 'forward';
IF keys IS NOT NULL THEN
  PERFORM switchyard."sy_order_metadata_24cf9166_map"(keys, false);
  done := done + cardinality(keys);
END IF;
PERFORM set_config('switchyard.syncing', 'off', true);
RETURN done;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_bkk"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'DELETE' THEN
  DELETE FROM switchyard."sy_order_metadata_24cf9166_backup" b WHERE b.key = OLD."order_id";
  -- Nothing remembered for the deleted row may reach a new row that
  -- takes its key.
  DELETE FROM switchyard.sync_queue q WHERE q.migration_name = 'order-metadata' AND q.source_key = OLD."order_id"::text;
ELSIF OLD."order_id" IS DISTINCT FROM NEW."order_id" THEN
  UPDATE switchyard."sy_order_metadata_24cf9166_backup" b SET key = NEW."order_id" WHERE b.key = OLD."order_id";
  UPDATE switchyard.sync_queue q SET source_key = (NEW."order_id")::text WHERE q.migration_name = 'order-metadata' AND q.source_key = (OLD."order_id")::text;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_kf"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
UPDATE switchyard.sync_queue q SET source_key = (NEW."order_id")::text WHERE q.migration_name = 'order-metadata' AND q.source_key = (OLD."order_id")::text;
RETURN NULL;
END;
$sy$;

-- capture writes from now on (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_capture_ins" AFTER INSERT ON "public"."orders" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_capture"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_capture_upd" AFTER UPDATE ON "public"."orders" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_capture"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_capture_del" AFTER DELETE ON "public"."orders" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_capture"();

-- ===== phase 2 =====
-- backfill in keyset batches (checkpoint committed with each batch) (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "order_id" AS k FROM "public"."orders" ORDER BY "order_id" LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "order_id" AS k FROM "public"."orders" WHERE "order_id" > $1::uuid ORDER BY "order_id" LIMIT $2) AS batch;

SELECT m.n_rows, m.n_quarantined FROM switchyard."sy_order_metadata_24cf9166_map"(ARRAY(SELECT s."order_id" FROM "public"."orders" s WHERE s."order_id" BETWEEN $1::uuid AND $2::uuid ORDER BY s."order_id"), true) AS m;

UPDATE switchyard.backfill_progress SET last_key = $2, rows_done = rows_done + $3, quarantined = quarantined + $4, batch_size = $5, rows_per_second = $6, updated_at = now() WHERE migration_name = $1;

-- ===== phase 3 =====
-- switch capture to dual-write (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_dw_ins" AFTER INSERT ON "public"."orders" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_dw"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_dw_upd" AFTER UPDATE ON "public"."orders" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_dw"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_dw_del" AFTER DELETE ON "public"."orders" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_dw"();

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_capture_ins" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_capture_upd" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_capture_del" ON "public"."orders";

-- re-map every key written since phase 1 (repeated in key batches)
WITH d AS (DELETE FROM switchyard.capture_log WHERE id IN (SELECT id FROM switchyard.capture_log WHERE migration_name = $1 ORDER BY id LIMIT 1000) RETURNING source_key) SELECT array_agg(DISTINCT source_key ORDER BY source_key) FROM d;

SELECT m.n_rows FROM switchyard."sy_order_metadata_24cf9166_map"($1::text[]::uuid[], false) AS m;

-- ===== phase 4 =====
-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_order_metadata_24cf9166_drain"();

-- verify every document against the targets (gate) (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "order_id" AS k FROM "public"."orders" ORDER BY "order_id" LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "order_id" AS k FROM "public"."orders" WHERE "order_id" > $1::uuid ORDER BY "order_id" LIMIT $2) AS batch;

WITH sy_doc AS MATERIALIZED (
  SELECT s."order_id" AS k, s."meta" AS d, (CASE WHEN s."meta" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."meta") <> 'object' THEN 'document is ' || jsonb_typeof(s."meta") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."meta" -> 'billing' -> 'total')), 'null') WHEN 'null' THEN 'billing.total' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'billing.total' || ': expected number, got ' || jsonb_typeof((s."meta" -> 'billing' -> 'total')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'billing' -> 'currency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."meta" -> 'billing' ->> 'currency') NOT IN ('EUR', 'USD', 'GBP') THEN 'billing.currency' || ': value ' || (s."meta" -> 'billing' ->> 'currency') || ' is not allowed' ELSE NULL END ELSE 'billing.currency' || ': expected string, got ' || jsonb_typeof((s."meta" -> 'billing' -> 'currency')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'timeline' -> 'placed_at')), 'null') WHEN 'null' THEN 'timeline.placed_at' || ': required key is missing' WHEN 'string' THEN CASE WHEN lower((s."meta" -> 'timeline' ->> 'placed_at')) ~ '(now|today|tomorrow|yesterday)' THEN 'timeline.placed_at' || ': a relative time is not a value: ' || (s."meta" -> 'timeline' ->> 'placed_at') WHEN switchyard.try_cast((s."meta" -> 'timeline' ->> 'placed_at'), 'timestamptz') IS NOT TRUE THEN 'timeline.placed_at' || ': not a valid timestamptz: ' || (s."meta" -> 'timeline' ->> 'placed_at') ELSE NULL END ELSE 'timeline.placed_at' || ': expected string, got ' || jsonb_typeof((s."meta" -> 'timeline' -> 'placed_at')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'stats' -> 'items')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."meta" -> 'stats' ->> 'items')::numeric <> trunc((s."meta" -> 'stats' ->> 'items')::numeric) OR (s."meta" -> 'stats' ->> 'items')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN 'stats.items' || ': not a valid integer: ' || (s."meta" -> 'stats' ->> 'items') ELSE NULL END ELSE 'stats.items' || ': expected number, got ' || jsonb_typeof((s."meta" -> 'stats' -> 'items')) END,
        CASE WHEN (s."meta" -> 'lines') IS NOT NULL AND jsonb_typeof((s."meta" -> 'lines')) NOT IN ('object', 'null') THEN 'lines: expected object, got ' || jsonb_typeof((s."meta" -> 'lines')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."meta" -> 'lines')) = 'object' THEN (s."meta" -> 'lines') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'lines.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'qty')), 'null') WHEN 'null' THEN ('lines.' || e.key || '.qty') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'qty')::numeric <> trunc((e.value ->> 'qty')::numeric) OR (e.value ->> 'qty')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('lines.' || e.key || '.qty') || ': not a valid integer: ' || (e.value ->> 'qty') ELSE NULL END ELSE ('lines.' || e.key || '.qty') || ': expected number, got ' || jsonb_typeof((e.value -> 'qty')) END, CASE coalesce(jsonb_typeof((e.value -> 'price' -> 'amount')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN NULL ELSE ('lines.' || e.key || '.price.amount') || ': expected number, got ' || jsonb_typeof((e.value -> 'price' -> 'amount')) END) IS NOT NULL) THEN 'entry' END) END IS NULL) AS ok
  FROM "public"."orders" s WHERE s."order_id" BETWEEN $1::uuid AND $2::uuid AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'order-metadata' AND q.source_key = s."order_id"::text)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
exp AS (SELECT k::text AS key, NULL::text AS ek, jsonb_build_array(to_jsonb((d -> 'billing' ->> 'total')::numeric), to_jsonb(coalesce((d -> 'billing' ->> 'currency'), ('EUR')::text)), to_jsonb((d -> 'timeline' ->> 'placed_at')::timestamptz), to_jsonb(coalesce((d -> 'stats' ->> 'items')::numeric::integer, (0)::integer))) AS v FROM src),
act AS (SELECT a."order_id"::text AS key, NULL::text AS ek, jsonb_build_array(to_jsonb(a."total"), to_jsonb(a."currency"), to_jsonb(a."placed_at"), to_jsonb(a."item_count")) AS v FROM "public"."order_details" a WHERE a."order_id" BETWEEN $1::uuid AND $2::uuid AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'order-metadata' AND q.source_key = a."order_id"::text))
SELECT coalesce(exp.key, act.key) AS key, coalesce(exp.ek, act.ek) AS entry, exp.v AS expected, act.v AS actual
FROM exp FULL JOIN act ON exp.key = act.key AND exp.ek IS NOT DISTINCT FROM act.ek
WHERE exp.v IS DISTINCT FROM act.v;

WITH sy_doc AS MATERIALIZED (
  SELECT s."order_id" AS k, s."meta" AS d, (CASE WHEN s."meta" IS NULL THEN 'document is SQL NULL' WHEN jsonb_typeof(s."meta") <> 'object' THEN 'document is ' || jsonb_typeof(s."meta") || ', expected an object' ELSE coalesce(CASE coalesce(jsonb_typeof((s."meta" -> 'billing' -> 'total')), 'null') WHEN 'null' THEN 'billing.total' || ': required key is missing' WHEN 'number' THEN NULL ELSE 'billing.total' || ': expected number, got ' || jsonb_typeof((s."meta" -> 'billing' -> 'total')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'billing' -> 'currency')), 'null') WHEN 'null' THEN NULL WHEN 'string' THEN CASE WHEN (s."meta" -> 'billing' ->> 'currency') NOT IN ('EUR', 'USD', 'GBP') THEN 'billing.currency' || ': value ' || (s."meta" -> 'billing' ->> 'currency') || ' is not allowed' ELSE NULL END ELSE 'billing.currency' || ': expected string, got ' || jsonb_typeof((s."meta" -> 'billing' -> 'currency')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'timeline' -> 'placed_at')), 'null') WHEN 'null' THEN 'timeline.placed_at' || ': required key is missing' WHEN 'string' THEN CASE WHEN lower((s."meta" -> 'timeline' ->> 'placed_at')) ~ '(now|today|tomorrow|yesterday)' THEN 'timeline.placed_at' || ': a relative time is not a value: ' || (s."meta" -> 'timeline' ->> 'placed_at') WHEN switchyard.try_cast((s."meta" -> 'timeline' ->> 'placed_at'), 'timestamptz') IS NOT TRUE THEN 'timeline.placed_at' || ': not a valid timestamptz: ' || (s."meta" -> 'timeline' ->> 'placed_at') ELSE NULL END ELSE 'timeline.placed_at' || ': expected string, got ' || jsonb_typeof((s."meta" -> 'timeline' -> 'placed_at')) END,
        CASE coalesce(jsonb_typeof((s."meta" -> 'stats' -> 'items')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN CASE WHEN (s."meta" -> 'stats' ->> 'items')::numeric <> trunc((s."meta" -> 'stats' ->> 'items')::numeric) OR (s."meta" -> 'stats' ->> 'items')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN 'stats.items' || ': not a valid integer: ' || (s."meta" -> 'stats' ->> 'items') ELSE NULL END ELSE 'stats.items' || ': expected number, got ' || jsonb_typeof((s."meta" -> 'stats' -> 'items')) END,
        CASE WHEN (s."meta" -> 'lines') IS NOT NULL AND jsonb_typeof((s."meta" -> 'lines')) NOT IN ('object', 'null') THEN 'lines: expected object, got ' || jsonb_typeof((s."meta" -> 'lines')) END,
        CASE WHEN EXISTS (SELECT 1 FROM jsonb_each((CASE WHEN jsonb_typeof((s."meta" -> 'lines')) = 'object' THEN (s."meta" -> 'lines') ELSE '{}'::jsonb END)) AS e WHERE coalesce(CASE WHEN jsonb_typeof(e.value) <> 'object' THEN 'lines.' || e.key || ': expected object, got ' || jsonb_typeof(e.value) END, CASE coalesce(jsonb_typeof((e.value -> 'qty')), 'null') WHEN 'null' THEN ('lines.' || e.key || '.qty') || ': required key is missing' WHEN 'number' THEN CASE WHEN (e.value ->> 'qty')::numeric <> trunc((e.value ->> 'qty')::numeric) OR (e.value ->> 'qty')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN ('lines.' || e.key || '.qty') || ': not a valid integer: ' || (e.value ->> 'qty') ELSE NULL END ELSE ('lines.' || e.key || '.qty') || ': expected number, got ' || jsonb_typeof((e.value -> 'qty')) END, CASE coalesce(jsonb_typeof((e.value -> 'price' -> 'amount')), 'null') WHEN 'null' THEN NULL WHEN 'number' THEN NULL ELSE ('lines.' || e.key || '.price.amount') || ': expected number, got ' || jsonb_typeof((e.value -> 'price' -> 'amount')) END) IS NOT NULL) THEN 'entry' END) END IS NULL) AS ok
  FROM "public"."orders" s WHERE s."order_id" BETWEEN $1::uuid AND $2::uuid AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'order-metadata' AND q.source_key = s."order_id"::text)
),
src AS NOT MATERIALIZED (SELECT c.k, c.d FROM sy_doc c WHERE c.ok),
exp AS (SELECT k::text AS key, e.key AS ek, jsonb_build_array(to_jsonb((e.value ->> 'qty')::numeric::integer), to_jsonb(coalesce((e.value -> 'price' ->> 'amount')::numeric, (0)::numeric))) AS v FROM src CROSS JOIN LATERAL jsonb_each((CASE WHEN jsonb_typeof((d -> 'lines')) = 'object' THEN (d -> 'lines') ELSE '{}'::jsonb END)) AS e),
act AS (SELECT a."order_id"::text AS key, a."sku" AS ek, jsonb_build_array(to_jsonb(a."quantity"), to_jsonb(a."unit_price")) AS v FROM "public"."order_lines" a WHERE a."order_id" BETWEEN $1::uuid AND $2::uuid AND NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.migration_name = 'order-metadata' AND q.source_key = a."order_id"::text))
SELECT coalesce(exp.key, act.key) AS key, coalesce(exp.ek, act.ek) AS entry, exp.v AS expected, act.v AS actual
FROM exp FULL JOIN act ON exp.key = act.key AND exp.ek IS NOT DISTINCT FROM act.ek
WHERE exp.v IS DISTINCT FROM act.v;

-- queued target writes follow source key updates (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_kf" AFTER UPDATE ON "public"."orders" FOR EACH ROW WHEN (OLD."order_id" IS DISTINCT FROM NEW."order_id") EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_kf"();

-- writes to order_details flow back into the JSONB column (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rev" AFTER INSERT OR UPDATE OR DELETE ON "public"."order_details" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rev_0"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_ins" AFTER INSERT ON "public"."order_details" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_upd" AFTER UPDATE ON "public"."order_details" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_del" AFTER DELETE ON "public"."order_details" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_0"();

-- writes to order_lines flow back into the JSONB column (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rev" AFTER INSERT OR UPDATE OR DELETE ON "public"."order_lines" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rev_1"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_ins" AFTER INSERT ON "public"."order_lines" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_upd" AFTER UPDATE ON "public"."order_lines" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_del" AFTER DELETE ON "public"."order_lines" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_1"();

-- flip the read flag (one transaction, lock_timeout, retried)
INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ('order-metadata', 'targets') ON CONFLICT (migration_name) DO UPDATE SET reads_from = 'targets', changed_at = now();

SELECT pg_notify('switchyard_read_flag', '{"migration":"order-metadata","reads_from":"targets"}');

-- ===== phase 5 =====
-- record the column's definition (default, NOT NULL, checks, indexes) (one transaction, lock_timeout, retried)
INSERT INTO switchyard.contract_columns (migration_name, definition)
SELECT 'order-metadata', jsonb_build_object(
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
WHERE a.attrelid = '"public"."orders"'::regclass AND a.attname = 'meta' AND NOT a.attisdropped
ON CONFLICT (migration_name) DO UPDATE SET definition = EXCLUDED.definition, rolling_back = false, saved_at = now();

-- keep a backup of the column in step from now on (one transaction, lock_timeout, retried)
CREATE TABLE IF NOT EXISTS switchyard."sy_order_metadata_24cf9166_backup" (key uuid PRIMARY KEY, doc jsonb);

CREATE OR REPLACE FUNCTION switchyard."sy_order_metadata_24cf9166_bk"() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET search_path = pg_catalog, pg_temp SET jit = off
AS $sy$
#variable_conflict use_variable
BEGIN
IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD."order_id" IS DISTINCT FROM NEW."order_id") THEN
  DELETE FROM switchyard."sy_order_metadata_24cf9166_backup" b WHERE b.key = OLD."order_id";
END IF;
IF TG_OP = 'UPDATE' AND OLD."order_id" IS DISTINCT FROM NEW."order_id" THEN
  UPDATE switchyard.sync_queue q SET source_key = (NEW."order_id")::text WHERE q.migration_name = 'order-metadata' AND q.source_key = (OLD."order_id")::text;
END IF;

IF TG_OP <> 'DELETE' THEN
  INSERT INTO switchyard."sy_order_metadata_24cf9166_backup" (key, doc) VALUES (NEW."order_id", NEW."meta")
  ON CONFLICT (key) DO UPDATE SET doc = EXCLUDED.doc;
END IF;
RETURN NULL;
END;
$sy$;

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_bk" AFTER INSERT OR UPDATE OR DELETE ON "public"."orders" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_bk"();

-- copy the column into the backup (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "order_id" AS k FROM "public"."orders" ORDER BY "order_id" LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT "order_id" AS k FROM "public"."orders" WHERE "order_id" > $1::uuid ORDER BY "order_id" LIMIT $2) AS batch;

INSERT INTO switchyard."sy_order_metadata_24cf9166_backup" (key, doc) SELECT s."order_id", s."meta" FROM "public"."orders" s WHERE s."order_id" BETWEEN $1::uuid AND $2::uuid FOR KEY SHARE OF s ON CONFLICT (key) DO NOTHING;

-- remember writes to order_details from now on, instead of writing them back (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rev" ON "public"."order_details";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_ins" ON "public"."order_details";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_upd" ON "public"."order_details";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_del" ON "public"."order_details";

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_ctr" AFTER INSERT OR UPDATE OR DELETE ON "public"."order_details" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_ctr_0"();

-- remember writes to order_lines from now on, instead of writing them back (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rev" ON "public"."order_lines";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_ins" ON "public"."order_lines";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_upd" ON "public"."order_lines";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_del" ON "public"."order_lines";

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_ctr" AFTER INSERT OR UPDATE OR DELETE ON "public"."order_lines" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_ctr_1"();

-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_order_metadata_24cf9166_drain"();

-- drop dual-write, apply deferred sync work, drop the column (the backup is exact) (one transaction, lock_timeout, retried)
LOCK TABLE "public"."orders" IN ACCESS EXCLUSIVE MODE;

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_dw_ins" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_dw_upd" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_dw_del" ON "public"."orders";

SELECT switchyard."sy_order_metadata_24cf9166_drain"();

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_kf" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_bk" ON "public"."orders";

ALTER TABLE "public"."orders" DROP COLUMN IF EXISTS "meta";

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_bkk" AFTER UPDATE OR DELETE ON "public"."orders" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_bkk"();

UPDATE switchyard.contract_columns SET dropped = true WHERE migration_name = 'order-metadata';

-- ===== rollback 5 =====
-- mark the contract as being rolled back (phase 5 may not run until this is done) (one transaction, lock_timeout, retried)
UPDATE switchyard.contract_columns SET rolling_back = true WHERE migration_name = 'order-metadata';

-- re-add the column (and its default) (one transaction, lock_timeout, retried)
ALTER TABLE "public"."orders" ADD COLUMN IF NOT EXISTS "meta" jsonb;

ALTER TABLE "public"."orders" ALTER COLUMN "meta" SET DEFAULT '{}'::jsonb;

-- restore the documents from the backup (repeated in key batches)
SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT key AS k FROM switchyard."sy_order_metadata_24cf9166_backup" ORDER BY key LIMIT $1) AS batch;

SELECT (array_agg(k ORDER BY k))[1]::text, (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT key AS k FROM switchyard."sy_order_metadata_24cf9166_backup" WHERE key > $1::uuid ORDER BY key LIMIT $2) AS batch;

UPDATE "public"."orders" s SET "meta" = b.doc FROM switchyard."sy_order_metadata_24cf9166_backup" b WHERE s."order_id" = b.key AND b.key BETWEEN $1::uuid AND $2::uuid AND s."meta" IS NULL AND b.doc IS NOT NULL;

UPDATE "public"."orders" s SET "meta" = b.doc FROM switchyard."sy_order_metadata_24cf9166_backup" b WHERE s."order_id" = b.key AND s."meta" IS NULL AND b.doc IS NOT NULL;

SELECT count(*) FROM "public"."orders" s JOIN switchyard."sy_order_metadata_24cf9166_backup" b ON s."order_id" = b.key WHERE s."meta" IS NULL AND b.doc IS NOT NULL;

-- rows inserted since the contract get the column's default (one transaction, lock_timeout, retried)
UPDATE "public"."orders" s SET "meta" = '{}'::jsonb WHERE s."meta" IS NULL AND NOT EXISTS (SELECT 1 FROM switchyard."sy_order_metadata_24cf9166_backup" b WHERE b.key = s."order_id");

-- queued target writes follow source key updates again (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_kf" AFTER UPDATE ON "public"."orders" FOR EACH ROW WHEN (OLD."order_id" IS DISTINCT FROM NEW."order_id") EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_kf"();

-- writes to order_details flow back into the column again, instead of being remembered (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_ctr" ON "public"."order_details";

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rev" AFTER INSERT OR UPDATE OR DELETE ON "public"."order_details" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rev_0"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_ins" AFTER INSERT ON "public"."order_details" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_upd" AFTER UPDATE ON "public"."order_details" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_0"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_del" AFTER DELETE ON "public"."order_details" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_0"();

-- writes to order_lines flow back into the column again, instead of being remembered (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_ctr" ON "public"."order_lines";

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rev" AFTER INSERT OR UPDATE OR DELETE ON "public"."order_lines" FOR EACH ROW EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rev_1"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_ins" AFTER INSERT ON "public"."order_lines" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_upd" AFTER UPDATE ON "public"."order_lines" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_1"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_rvs_del" AFTER DELETE ON "public"."order_lines" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_rvs_1"();

-- dual-write again (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_dw_ins" AFTER INSERT ON "public"."orders" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_dw"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_dw_upd" AFTER UPDATE ON "public"."orders" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_dw"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_dw_del" AFTER DELETE ON "public"."orders" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_dw"();

-- replay into the documents the target writes made since the contract (repeated in key batches)
SELECT switchyard."sy_order_metadata_24cf9166_replay"(ARRAY['contract'], NULL, 1000, true);

-- queue a re-map of the rows inserted since the contract (one transaction, lock_timeout, retried)
INSERT INTO switchyard.sync_queue (migration_name, kind, source_key) SELECT 'order-metadata', 'forward', s."order_id"::text FROM "public"."orders" s WHERE NOT EXISTS (SELECT 1 FROM switchyard."sy_order_metadata_24cf9166_backup" b WHERE b.key = s."order_id");

-- restore check doc_is_object (one transaction, lock_timeout, retried)
ALTER TABLE "public"."orders" ADD CONSTRAINT "doc_is_object" CHECK (jsonb_typeof(doc) = 'object'::text) NOT VALID;

-- validate check doc_is_object (one transaction, lock_timeout, retried)
ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "doc_is_object";

-- NOT NULL: a check, not yet validated (one transaction, lock_timeout, retried)
ALTER TABLE "public"."orders" ADD CONSTRAINT "sy_order_metadata_24cf9166_nn" CHECK ("meta" IS NOT NULL) NOT VALID;

-- NOT NULL: validate the check (one transaction, lock_timeout, retried)
ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "sy_order_metadata_24cf9166_nn";

-- NOT NULL: set it (proved by the check, no scan) and drop the check (one transaction, lock_timeout, retried)
ALTER TABLE "public"."orders" ALTER COLUMN "meta" SET NOT NULL;

ALTER TABLE "public"."orders" DROP CONSTRAINT IF EXISTS "sy_order_metadata_24cf9166_nn";

-- restore index docs_gin (outside a transaction, lock_timeout, retried)
DROP INDEX CONCURRENTLY IF EXISTS "public"."docs_gin";

CREATE INDEX CONCURRENTLY IF NOT EXISTS docs_gin ON app.docs USING gin (doc);

-- restore the column's storage, statistics, compression and comment (one transaction, lock_timeout, retried)
ALTER TABLE "public"."orders" ALTER COLUMN "meta" SET STORAGE MAIN;

ALTER TABLE "public"."orders" ALTER COLUMN "meta" SET STATISTICS 500;

ALTER TABLE "public"."orders" ALTER COLUMN "meta" SET COMPRESSION lz4;

COMMENT ON COLUMN "public"."orders"."meta" IS 'it''s the document';

-- drop the backup (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_bk" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_bkk" ON "public"."orders";

DROP TABLE IF EXISTS switchyard."sy_order_metadata_24cf9166_backup";

DELETE FROM switchyard.contract_columns WHERE migration_name = 'order-metadata';

-- ===== rollback 4 =====
-- read from the source again (one transaction, lock_timeout, retried)
INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ('order-metadata', 'source') ON CONFLICT (migration_name) DO UPDATE SET reads_from = 'source', changed_at = now();

SELECT pg_notify('switchyard_read_flag', '{"migration":"order-metadata","reads_from":"source"}');

-- stop writing order_details back into the column (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rev" ON "public"."order_details";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_ins" ON "public"."order_details";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_upd" ON "public"."order_details";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_del" ON "public"."order_details";

-- stop writing order_lines back into the column (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rev" ON "public"."order_lines";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_ins" ON "public"."order_lines";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_upd" ON "public"."order_lines";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_rvs_del" ON "public"."order_lines";

-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_order_metadata_24cf9166_drain"();

-- stop following source key updates (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_kf" ON "public"."orders";

-- ===== rollback 3 =====
-- apply sync work deferred by triggers that gave way to a deadlock (repeated in key batches)
SELECT switchyard."sy_order_metadata_24cf9166_drain"();

-- switch dual-write back to capture (one transaction, lock_timeout, retried)
CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_capture_ins" AFTER INSERT ON "public"."orders" REFERENCING NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_capture"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_capture_upd" AFTER UPDATE ON "public"."orders" REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_capture"();

CREATE OR REPLACE TRIGGER "sy_order_metadata_24cf9166_capture_del" AFTER DELETE ON "public"."orders" REFERENCING OLD TABLE AS sy_old FOR EACH STATEMENT EXECUTE FUNCTION switchyard."sy_order_metadata_24cf9166_capture"();

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_dw_ins" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_dw_upd" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_dw_del" ON "public"."orders";

INSERT INTO switchyard.capture_log (migration_name, source_key) SELECT migration_name, source_key FROM switchyard.sync_queue WHERE migration_name = 'order-metadata' AND kind = 'forward';

DELETE FROM switchyard.sync_queue WHERE migration_name = 'order-metadata' AND kind IN ('forward', 'reverse');

-- ===== rollback 2 =====
-- empty order_details (one transaction, lock_timeout, retried)
TRUNCATE "public"."order_details";

-- empty order_lines (one transaction, lock_timeout, retried)
TRUNCATE "public"."order_lines";

-- forget the checkpoint and the quarantine (one transaction, lock_timeout, retried)
DELETE FROM switchyard.quarantine WHERE migration_name = 'order-metadata';

DELETE FROM switchyard.unmapped_keys WHERE migration_name = 'order-metadata';

DELETE FROM switchyard.backfill_progress WHERE migration_name = 'order-metadata';

-- ===== rollback 1 =====
-- drop our triggers on the source (one transaction, lock_timeout, retried)
DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_capture_ins" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_capture_upd" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_capture_del" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_dw_ins" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_dw_upd" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_dw_del" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_bk" ON "public"."orders";

DROP TRIGGER IF EXISTS "sy_order_metadata_24cf9166_bkk" ON "public"."orders";

-- drop the foreign key of order_lines (one transaction, lock_timeout, retried)
ALTER TABLE IF EXISTS "public"."order_lines" DROP CONSTRAINT IF EXISTS "sy_order_metadata_24cf9166_fk_1";

-- drop table order_lines (one transaction, lock_timeout, retried)
DROP TABLE IF EXISTS "public"."order_lines";

-- drop the foreign key of order_details (one transaction, lock_timeout, retried)
ALTER TABLE IF EXISTS "public"."order_details" DROP CONSTRAINT IF EXISTS "sy_order_metadata_24cf9166_fk_0";

-- drop table order_details (one transaction, lock_timeout, retried)
DROP TABLE IF EXISTS "public"."order_details";

-- drop our functions and bookkeeping (one transaction, lock_timeout, retried)
DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_apply"(uuid[], boolean, boolean, boolean, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_map"(uuid[], boolean, boolean, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_drain"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_replay"(text[], uuid[], integer, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_capture"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_dw"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_bk"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_bkk"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_kf"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_wb_0"(jsonb, text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_rsync_0"(text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_resync_0"(uuid, text, text, jsonb, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_rev_0"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_rvs_0"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_ctr_0"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_wb_1"(jsonb, text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_rsync_1"(text, jsonb, jsonb);

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_resync_1"(uuid, text, text, jsonb, boolean);

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_rev_1"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_rvs_1"();

DROP FUNCTION IF EXISTS switchyard."sy_order_metadata_24cf9166_ctr_1"();

DROP TABLE IF EXISTS switchyard."sy_order_metadata_24cf9166_backup";

DELETE FROM switchyard.quarantine WHERE migration_name = 'order-metadata';

DELETE FROM switchyard.capture_log WHERE migration_name = 'order-metadata';

DELETE FROM switchyard.sync_queue WHERE migration_name = 'order-metadata';

DELETE FROM switchyard.unmapped_keys WHERE migration_name = 'order-metadata';

DELETE FROM switchyard.backfill_progress WHERE migration_name = 'order-metadata';

DELETE FROM switchyard.contract_columns WHERE migration_name = 'order-metadata';

