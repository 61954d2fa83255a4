-- Issue 14: "Rehearse on a sample". A rehearsal runs every phase and every
-- rollback of a migration's recipe on a copy of a sample of its source in
-- a scratch schema, under a migration name of its own (its runner lock and
-- fence live on a `migrations` row, marked as the rehearsal of the real
-- one so that no list shows it); its report is kept here.
ALTER TABLE switchyard.migrations
    ADD COLUMN rehearsal_of bigint REFERENCES switchyard.migrations(id) ON DELETE CASCADE;

CREATE TABLE switchyard.rehearsals (
    id bigserial PRIMARY KEY,
    migration_id bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    percent double precision NOT NULL CHECK (percent > 0 AND percent <= 100),
    recipe_hash text NOT NULL,
    state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'passed', 'failed')),
    started_by text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    -- Rows copied into the scratch schema, and the planner's estimate of
    -- the production table's rows then (what estimates scale by).
    sample_rows bigint,
    source_rows bigint,
    -- One object per step (`RehearsedStep`), in the order they ran.
    steps jsonb NOT NULL DEFAULT '[]',
    -- What phase 5 would refuse on the production table (dependents of the
    -- column a scratch copy does not have).
    contract_blockers text[] NOT NULL DEFAULT '{}',
    error text,
    -- Its scratch schema, tables and functions are gone (else the next
    -- recovery tries again).
    scratch_dropped boolean NOT NULL DEFAULT false
);
-- One rehearsal at a time per migration.
CREATE UNIQUE INDEX rehearsals_one_running ON switchyard.rehearsals (migration_id) WHERE state = 'running';
CREATE INDEX rehearsals_latest ON switchyard.rehearsals (migration_id, id DESC);

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
    'recipe_saved', 'run_refused', 'stop_requested', 'outbox_retried', 'outbox_discarded',
    'draft_changed', 'rehearsal_started', 'rehearsal_finished'
)) NOT VALID;
-- Checked without holding the event log's writers back.
ALTER TABLE switchyard.events VALIDATE CONSTRAINT events_kind_check;
