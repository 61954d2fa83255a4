-- Progress written back to the plan's Notion page, and tasks moved to Done
-- when their phase finishes (issue 13).

-- New event kind: an operator turned "tasks to Done with their phase" on
-- or off (beside every kind before it).
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
    'plan_conflict', 'plan_conflict_resolved', 'progress_setting'
));

-- The progress block of the plan's page as last written, and when: a
-- page gets at most one progress write per interval, and none when
-- nothing changed.
ALTER TABLE switchyard.plan_sync
    ADD COLUMN progress_text        text,
    ADD COLUMN progress_written_at  timestamptz,
    ADD COLUMN progress_writes      bigint NOT NULL DEFAULT 0;

-- Per migration: move a phase's tasks to Done when the phase finishes
-- (off unless an operator turns it on), and the phases whose finish was
-- already acted on (each once: a task moved back by hand stays put).
CREATE TABLE switchyard.notion_progress (
    migration_id           bigint PRIMARY KEY REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    tasks_done_with_phase  boolean NOT NULL DEFAULT false,
    closed_phases          smallint[] NOT NULL DEFAULT '{}',
    changed_by             text,
    changed_at             timestamptz NOT NULL DEFAULT now()
);
