-- Tasks mirrored with the team's Notion task database (issue 13).

-- New event kinds: the task database connected and its mapping confirmed,
-- task pages queued and created, changes from Notion applied to the
-- board, conflicts found and resolved (beside every kind before them).
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
    'task_synced', 'task_conflict', 'task_conflict_resolved'
));

-- New outbox kinds: create a task's page, bring one task and its page in
-- step (both ways, see notion::tasks::reconcile), move a page to the trash.
ALTER TABLE switchyard.notion_outbox DROP CONSTRAINT notion_outbox_kind_check;
ALTER TABLE switchyard.notion_outbox ADD CONSTRAINT notion_outbox_kind_check CHECK (kind IN (
    'publish_plan', 'create_task_page', 'sync_task', 'trash_task_page'
));
-- A sync item is for one task (so a second one is not queued beside it).
ALTER TABLE switchyard.notion_outbox ADD COLUMN task_id bigint;
CREATE INDEX notion_outbox_open_by_task ON switchyard.notion_outbox (task_id)
    WHERE state = 'pending' AND task_id IS NOT NULL;

-- A migration's task database: the data source, its schema as read when
-- connected, and the mapping of our task fields to its properties
-- (`model::mirror::TaskMapping`), proposed when connected and confirmed
-- (or changed) by an operator. Nothing is sent before it is confirmed.
CREATE TABLE switchyard.notion_task_links (
    migration_id      bigint PRIMARY KEY REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    database_id       text,
    data_source_id    text NOT NULL,
    data_source_name  text NOT NULL,
    properties        jsonb NOT NULL CHECK (jsonb_typeof(properties) = 'array'),
    mapping           jsonb NOT NULL CHECK (jsonb_typeof(mapping) = 'object'),
    connected_by      text NOT NULL,
    connected_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_by      text,
    confirmed_at      timestamptz,
    -- "Create tasks in Notion" was asked for: board changes are mirrored
    -- from then on, and new tasks get a page.
    pages_queued_at   timestamptz,
    -- When the last poll of the data source started (the next asks for
    -- rows edited since a minute before it: Notion rounds to the minute).
    polled_at         timestamptz,
    polls             bigint NOT NULL DEFAULT 0
);

-- Each linked task's mapped fields as last synced, per side: the board's
-- values (`board`) and Notion's (`notion`, normalised: option names, user
-- ids, page ids). A field whose value differs from its side's entry was
-- changed on that side since; both sides: a conflict.
CREATE TABLE switchyard.task_sync (
    task_id     bigint PRIMARY KEY REFERENCES switchyard.tasks(id) ON DELETE CASCADE,
    page_id     text NOT NULL,
    board       jsonb NOT NULL CHECK (jsonb_typeof(board) = 'object'),
    notion      jsonb NOT NULL CHECK (jsonb_typeof(notion) = 'object'),
    version     bigint NOT NULL DEFAULT 1,
    synced_at   timestamptz NOT NULL DEFAULT now()
);

-- A field changed on both sides since the last sync: nothing is written
-- for it anywhere until an operator keeps one side.
CREATE TABLE switchyard.task_conflicts (
    id             bigserial PRIMARY KEY,
    task_id        bigint NOT NULL REFERENCES switchyard.tasks(id) ON DELETE CASCADE,
    field          text NOT NULL,
    board_value    jsonb NOT NULL,
    notion_value   jsonb NOT NULL,
    board_by       text NOT NULL,
    board_at       timestamptz NOT NULL,
    notion_by      text NOT NULL,
    notion_at      timestamptz NOT NULL,
    found_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    resolved_by    text,
    kept           text CHECK (kept IN ('board', 'notion')),
    CHECK ((resolved_at IS NULL) = (kept IS NULL))
);
CREATE UNIQUE INDEX task_conflicts_open ON switchyard.task_conflicts (task_id, field)
    WHERE resolved_at IS NULL;
