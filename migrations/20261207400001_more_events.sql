-- Issue 11: every change has an event with its actor: a run the console
-- accepted but its runner refused on starting (the approval read again
-- under the lock, another runner, the engine's checks), a pause or abort
-- asked for, a Notion outbox item retried or discarded, a draft changed.
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
    'draft_changed'
));
