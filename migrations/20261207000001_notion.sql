-- The Notion connection (issue 12).

-- New event kinds: a spec imported or refreshed from Notion, the plan
-- queued for and published to Notion (beside every kind before them).
ALTER TABLE switchyard.events DROP CONSTRAINT events_kind_check;
ALTER TABLE switchyard.events ADD CONSTRAINT events_kind_check CHECK (kind IN (
    'phase_state', 'rollback_started', 'progress', 'throttle', 'capture_drained',
    'verify_progress', 'verified', 'accepted', 'recipe_changed',
    'task_created', 'task_edited', 'task_moved', 'criterion', 'task_deleted',
    'plan_saved', 'seeded',
    'approval_policy', 'approval_requested', 'approval_decided', 'approval_overridden',
    'share_created', 'share_revoked',
    'signed_in', 'signed_out', 'sign_in_failed', 'account_added', 'account_changed',
    'spec_imported', 'spec_refreshed', 'plan_publish_queued', 'plan_published'
));

-- Earlier versions of a spec: the row `switchyard.specs` held before each
-- refresh from Notion replaced it.
CREATE TABLE switchyard.spec_versions (
    id              bigserial PRIMARY KEY,
    migration_id    bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    title           text NOT NULL,
    blocks          jsonb NOT NULL CHECK (jsonb_typeof(blocks) = 'array'),
    notion_page_id  text,
    fetched_at      timestamptz NOT NULL,
    replaced_at     timestamptz NOT NULL DEFAULT now(),
    replaced_by     text NOT NULL
);
CREATE INDEX spec_versions_by_migration ON switchyard.spec_versions (migration_id, id);

-- Every change going to Notion, written in the same transaction as the
-- change it mirrors and delivered by the outbox worker (`notion::outbox`).
--   pending:   to send at next_attempt_at (again, after a failure)
--   done:      sent; result_page_id is what it created, recorded in the
--              same transaction that marked it done
--   failed:    retried as often as allowed, or refused in a way retrying
--              cannot mend (the error says why); an operator retries or
--              discards it
--   discarded: an operator gave up on it
-- A worker holds an item while lease_until is in the future (claimed with
-- attempts + 1 in a transaction of its own, so a crash mid-send is known
-- on the next attempt: attempts > 1 means "look before creating").
CREATE TABLE switchyard.notion_outbox (
    id               bigserial PRIMARY KEY,
    migration_id     bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('publish_plan')),
    payload          jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'done', 'failed', 'discarded')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error       text,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    lease_token      bigint,
    result_page_id   text,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    done_at          timestamptz,
    CHECK ((state = 'done') = (done_at IS NOT NULL))
);
CREATE INDEX notion_outbox_due ON switchyard.notion_outbox (next_attempt_at, id)
    WHERE state = 'pending';
CREATE INDEX notion_outbox_by_migration ON switchyard.notion_outbox (migration_id, id);
