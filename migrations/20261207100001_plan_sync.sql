-- The published plan kept in step with its Notion page, both ways (issue 13).

-- New event kinds: the plan changed in Switchyard and in Notion since the
-- last sync (held), and an operator's choice (beside every kind before them).
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
    'plan_conflict', 'plan_conflict_resolved'
));

-- New outbox kind: bring the plan and its Notion page in step (both ways,
-- see notion::plan_sync::sync).
ALTER TABLE switchyard.notion_outbox DROP CONSTRAINT notion_outbox_kind_check;
ALTER TABLE switchyard.notion_outbox ADD CONSTRAINT notion_outbox_kind_check CHECK (kind IN (
    'publish_plan', 'create_task_page', 'sync_task', 'trash_task_page', 'sync_plan'
));

-- The published plan as last synced, per side: a hash of the plan's
-- editable content in Switchyard (`board_hash`) and of the same content as
-- read back from the Notion page (`notion_hash`). NULL: not synced yet (the
-- page is as Switchyard published it). A side whose hash differs changed
-- since; both: a conflict. `checked_at`: when the last sync started (a poll
-- skips a page last edited more than a minute before it: Notion rounds
-- last_edited_time down to the minute).
CREATE TABLE switchyard.plan_sync (
    migration_id  bigint PRIMARY KEY REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    page_id       text NOT NULL,
    board_hash    text,
    notion_hash   text,
    version       bigint NOT NULL DEFAULT 1,
    synced_at     timestamptz NOT NULL DEFAULT now(),
    checked_at    timestamptz
);

-- The plan changed on both sides since the last sync: nothing is written
-- anywhere until an operator keeps one side (or saves a merge). Both
-- versions are kept as found (`model::plan::PlanEdit` as JSON), with who
-- changed each and when.
CREATE TABLE switchyard.plan_conflicts (
    id              bigserial PRIMARY KEY,
    migration_id    bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    board_plan      jsonb NOT NULL CHECK (jsonb_typeof(board_plan) = 'object'),
    board_revision  integer NOT NULL,
    board_hash      text NOT NULL,
    board_by        text NOT NULL,
    board_at        timestamptz NOT NULL,
    notion_plan     jsonb NOT NULL CHECK (jsonb_typeof(notion_plan) = 'object'),
    notion_hash     text NOT NULL,
    notion_by       text NOT NULL,
    notion_at       timestamptz NOT NULL,
    found_at        timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    resolved_by     text,
    kept            text CHECK (kept IN ('switchyard', 'notion', 'merged')),
    CHECK ((resolved_at IS NULL) = (kept IS NULL))
);
CREATE UNIQUE INDEX plan_conflicts_open ON switchyard.plan_conflicts (migration_id)
    WHERE resolved_at IS NULL;
