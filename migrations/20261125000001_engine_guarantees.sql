-- What the engine needs to keep its guarantees (issue 8): deferred sync work,
-- the pinned recipe, a fencing epoch for runners, the contracted column's
-- definition, and object-only JSON path helpers shared by every recipe.

-- Work the sync triggers could not do in the application's transaction
-- without risking a deadlock, and the target writes made after phase 5:
--   forward  : re-map source_key from its document (a dual-write that lost a
--              deadlock to a reverse sync; done by the next sync of that key,
--              or by the engine before phase 5 and rollbacks)
--   reverse  : write a target row image back into the document
--   contract : a target row changed after the column was dropped; rolling
--              back phase 5 re-syncs (target, source_key, entry) from the
--              target's state
CREATE TABLE switchyard.sync_queue (
    id              bigserial PRIMARY KEY,
    migration_name  text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('forward', 'reverse', 'contract')),
    source_key      text NOT NULL,
    target          smallint,
    op              text CHECK (op IN ('INSERT', 'UPDATE', 'DELETE')),
    entry_key       text,
    old_row         jsonb,
    new_row         jsonb,
    queued_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_queue_key_idx ON switchyard.sync_queue (migration_name, kind, source_key);

-- The recipe is pinned when phase 1 runs: later phases use this text, and a
-- different file is reported instead of silently used.
ALTER TABLE switchyard.migrations
    ADD COLUMN pinned_recipe text,
    ADD COLUMN pinned_hash   text,
    ADD COLUMN pinned_at     timestamptz,
    -- Fencing: every runner takes a new epoch with the advisory lock; a
    -- runner whose epoch is no longer current may not write progress.
    ADD COLUMN runner_epoch  bigint NOT NULL DEFAULT 0;

-- The source column's definition as it was before phase 5 dropped it, so the
-- rollback restores DEFAULT, NOT NULL, CHECKs, indexes, storage and comment.
CREATE TABLE switchyard.contract_columns (
    migration_name  text PRIMARY KEY,
    definition      jsonb NOT NULL,
    -- Set in the transaction that drops the column: a rollback interrupted
    -- after re-adding it still knows the documents come from the backup.
    dropped         boolean NOT NULL DEFAULT false,
    saved_at        timestamptz NOT NULL DEFAULT now()
);

-- `doc` with `val` at `path`, walking objects only: a missing or non-object
-- step becomes an object, every other key is kept. `val` must not be SQL NULL.
CREATE FUNCTION switchyard.jsonb_put(doc jsonb, path text[], val jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    base jsonb := CASE WHEN jsonb_typeof(doc) = 'object' THEN doc ELSE '{}'::jsonb END;
BEGIN
    IF cardinality(path) = 0 THEN
        RETURN val;
    ELSIF cardinality(path) = 1 THEN
        RETURN base || jsonb_build_object(path[1], val);
    END IF;
    RETURN base || jsonb_build_object(path[1], switchyard.jsonb_put(base -> path[1], path[2:], val));
END;
$$;

-- `doc` without the key at `path`, walking objects only (nothing else changes;
-- a path that does not lead through objects leaves the document as it is).
CREATE FUNCTION switchyard.jsonb_remove(doc jsonb, path text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF jsonb_typeof(doc) IS DISTINCT FROM 'object' OR cardinality(path) = 0 OR NOT doc ? path[1] THEN
        RETURN doc;
    ELSIF cardinality(path) = 1 THEN
        RETURN doc - path[1];
    ELSIF jsonb_typeof(doc -> path[1]) IS DISTINCT FROM 'object' THEN
        RETURN doc;
    END IF;
    RETURN doc || jsonb_build_object(path[1], switchyard.jsonb_remove(doc -> path[1], path[2:]));
END;
$$;

-- Can `value` be cast to `type_name`? PostgreSQL 15 has no pg_input_is_valid.
-- Time zone and date style are fixed so the answer (and the value) never
-- depends on the writing session's settings.
CREATE OR REPLACE FUNCTION switchyard.try_cast(value text, type_name text) RETURNS boolean
LANGUAGE plpgsql STABLE
SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY'
AS $$
BEGIN
    IF value IS NULL THEN RETURN NULL; END IF;
    CASE type_name
        WHEN 'timestamptz' THEN PERFORM value::timestamptz;
        WHEN 'date' THEN PERFORM value::date;
        WHEN 'uuid' THEN PERFORM value::uuid;
        WHEN 'numeric' THEN PERFORM value::numeric;
        ELSE RAISE EXCEPTION 'try_cast: unsupported type %', type_name;
    END CASE;
    RETURN true;
EXCEPTION WHEN data_exception THEN
    RETURN false;
END;
$$;

-- Does the JSON value `v` map to the same `type_name` value as `canon` (the
-- text of the target's value)? Reverse sync leaves a document value alone
-- when it already maps to the target's value ('2024-01-01T00:00:00Z' for
-- 2024-01-01 00:00:00+00, 0.1000000000000000055511 for the double 0.1).
-- Never raises: a value that cannot be cast is simply not the same.
CREATE FUNCTION switchyard.same_value(v jsonb, canon text, type_name text) RETURNS boolean
LANGUAGE plpgsql STABLE
SET TimeZone = 'UTC' SET DateStyle = 'ISO, MDY'
AS $$
DECLARE
    s text;
BEGIN
    IF canon IS NULL THEN RETURN false; END IF;
    IF type_name = 'double precision' THEN
        IF jsonb_typeof(v) IS DISTINCT FROM 'number' THEN RETURN false; END IF;
        RETURN (v #>> '{}')::double precision = canon::double precision;
    END IF;
    IF jsonb_typeof(v) IS DISTINCT FROM 'string' THEN RETURN false; END IF;
    s := v #>> '{}';
    IF s = canon THEN RETURN true; END IF;
    IF lower(s) ~ '(now|today|tomorrow|yesterday)' THEN RETURN false; END IF;
    CASE type_name
        WHEN 'timestamptz' THEN RETURN s::timestamptz = canon::timestamptz;
        WHEN 'date' THEN RETURN s::date = canon::date;
        WHEN 'uuid' THEN RETURN s::uuid = canon::uuid;
        ELSE RETURN false;
    END CASE;
EXCEPTION WHEN data_exception THEN
    RETURN false;
END;
$$;

-- Fencing: raises unless `epoch` is the migration's current runner epoch.
-- Every transaction a runner commits starts with it, so a runner that lost
-- its advisory lock (and was replaced) can no longer commit anything; the
-- row lock makes a new runner's epoch bump wait for those transactions.
CREATE FUNCTION switchyard.assert_runner(migration text, epoch bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM switchyard.migrations m
    WHERE m.name = migration AND m.runner_epoch = epoch FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the runner of migration % (epoch %) has been replaced', migration, epoch
            USING ERRCODE = 'SYF01';
    END IF;
END;
$$;
