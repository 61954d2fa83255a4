-- The migration engine's bookkeeping, kept in the database being migrated.

-- Documents that could not be mapped, with the reason. Never blocks a phase.
CREATE TABLE switchyard.quarantine (
    migration_name  text NOT NULL,
    source_key      text NOT NULL,
    reason          text NOT NULL,
    document        jsonb,
    quarantined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_name, source_key)
);

-- Keys of source rows written since phase 1 (until dual-write takes over).
CREATE TABLE switchyard.capture_log (
    id              bigserial PRIMARY KEY,
    migration_name  text NOT NULL,
    source_key      text NOT NULL,
    captured_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX capture_log_migration_idx ON switchyard.capture_log (migration_name, id);

-- Keys found in documents that no target maps (they would be lost at phase 5).
CREATE TABLE switchyard.unmapped_keys (
    migration_name  text NOT NULL,
    key_path        text NOT NULL,
    documents       bigint NOT NULL,
    PRIMARY KEY (migration_name, key_path)
);

-- Backfill checkpoint and progress, committed with each batch.
CREATE TABLE switchyard.backfill_progress (
    migration_name  text PRIMARY KEY,
    last_key        text,
    rows_done       bigint NOT NULL DEFAULT 0,
    rows_total      bigint NOT NULL DEFAULT 0,
    quarantined     bigint NOT NULL DEFAULT 0,
    batch_size      integer NOT NULL,
    rows_per_second double precision NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Operator controls, read before every batch.
    paused          boolean NOT NULL DEFAULT false,
    abort_requested boolean NOT NULL DEFAULT false,
    target_batch_ms integer NOT NULL DEFAULT 200,
    throttle_ms     integer NOT NULL DEFAULT 0
);

-- Where applications should read from; also announced with NOTIFY.
CREATE TABLE switchyard.read_flags (
    migration_name  text PRIMARY KEY,
    reads_from      text NOT NULL CHECK (reads_from IN ('source', 'targets')),
    changed_at      timestamptz NOT NULL DEFAULT now()
);

-- Operator acceptance of known quarantined documents / differences (phase 4).
CREATE TABLE switchyard.acceptances (
    id              bigserial PRIMARY KEY,
    migration_name  text NOT NULL,
    actor           text NOT NULL,
    accepted        jsonb NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);

-- Phase state for recipes run by the CLI without a page yet: the engine
-- creates the migration row itself; events get an optional phase.
ALTER TABLE switchyard.events ADD COLUMN phase smallint;
ALTER TABLE switchyard.phase_states ADD COLUMN error text;

-- Can `value` be cast to `type_name`? PostgreSQL 15 has no pg_input_is_valid.
CREATE FUNCTION switchyard.try_cast(value text, type_name text) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
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
