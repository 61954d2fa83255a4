-- Issue 14: recipes live in our database, versioned; the wizard's drafts.

-- Every version of a migration's recipe (the TOML text as saved). The
-- newest version is the one the console and the CLI use until phase 1
-- pins one (`migrations.pinned_recipe`, unchanged); versions are never
-- rewritten, an edit is a new version.
CREATE TABLE switchyard.recipes (
    id            bigserial PRIMARY KEY,
    migration_id  bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    version       integer NOT NULL CHECK (version >= 1),
    body          text NOT NULL CHECK (length(body) BETWEEN 1 AND 1000000),
    hash          text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    -- Where it came from: 'web', 'cli', 'import', 'seed', 'draft'.
    origin        text NOT NULL CHECK (origin IN ('web', 'cli', 'import', 'seed', 'draft')),
    -- The file it was imported from or run with, if any.
    origin_path   text,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (migration_id, version)
);

-- The table a migration's recipe moves (schema.table as in the recipe):
-- one migration per source table at a time, enforced here too, so two
-- registrations racing cannot both win.
ALTER TABLE switchyard.migrations ADD COLUMN source_table text;
CREATE UNIQUE INDEX migrations_one_per_source_table
    ON switchyard.migrations (source_table) WHERE source_table IS NOT NULL;

-- The new-migration wizard's state, one row per wizard started: each step
-- stores what it found or what was typed, so every step can be read again
-- and resumed. `created_migration` is the migration made from it.
CREATE TABLE switchyard.migration_drafts (
    id                 bigserial PRIMARY KEY,
    source_schema      text NOT NULL,
    source_table       text NOT NULL,
    key_column         text NOT NULL,
    key_type           text NOT NULL,
    json_column        text NOT NULL,
    -- The profile (engine::profile::Profile as JSON) and how it was taken.
    profile            jsonb,
    profiled_at        timestamptz,
    recipe_text        text,
    created_migration  text,
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE switchyard.events DROP CONSTRAINT events_kind_check;
ALTER TABLE switchyard.events ADD CONSTRAINT events_kind_check CHECK (kind IN (
    'phase_state', 'rollback_started', 'progress', 'throttle', 'capture_drained',
    'verify_progress', 'verified', 'accepted', 'recipe_changed',
    'task_created', 'task_edited', 'task_moved', 'criterion', 'task_deleted',
    'plan_saved', 'seeded',
    'approval_policy', 'approval_requested', 'approval_decided', 'approval_overridden',
    'share_created', 'share_revoked',
    'signed_in', 'signed_out', 'sign_in_failed', 'account_added', 'account_changed',
    'spec_imported', 'spec_refreshed', 'plan_publish_queued', 'plan_published',
    'task_db_connected', 'task_mapping_confirmed', 'task_pages_queued', 'task_page_created',
    'task_synced', 'task_conflict', 'task_conflict_resolved',
    'plan_conflict', 'plan_conflict_resolved', 'progress_setting',
    'recipe_saved'
));
