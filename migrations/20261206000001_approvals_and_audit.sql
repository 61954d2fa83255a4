-- Approvals for phases 4 and 5, and the audit events of accounts and share
-- links (issue 11, SPEC section 6).

-- Which phases of a migration need an approval before they run; an admin
-- sets it. No row: the phase runs without one.
CREATE TABLE switchyard.approval_policies (
    migration_id  bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    phase         smallint NOT NULL CHECK (phase IN (4, 5)),
    set_by        text NOT NULL,
    set_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, phase)
);

-- Requests for approval and their decisions. A request is bound to what it
-- was asked about: the pinned recipe's hash and the latest change of any of
-- the migration's phase states when it was made. Once either differs, the
-- request (approved or not) has expired: it is never updated for that, the
-- console and the run compare the two values with the current ones.
CREATE TABLE switchyard.approvals (
    id               bigserial PRIMARY KEY,
    migration_id     bigint NOT NULL REFERENCES switchyard.migrations(id) ON DELETE CASCADE,
    phase            smallint NOT NULL CHECK (phase IN (4, 5)),
    recipe_hash      text,
    states_at        timestamptz,
    requested_by     text NOT NULL,
    reason           text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    requested_at     timestamptz NOT NULL DEFAULT now(),
    decision         text CHECK (decision IN ('approved', 'rejected')),
    decided_by       text,
    decided_at       timestamptz,
    comment          text CHECK (length(comment) <= 2000),
    CHECK ((decision IS NULL) = (decided_by IS NULL) AND (decision IS NULL) = (decided_at IS NULL)),
    -- Nobody approves their own request (emails compare case-insensitively).
    CHECK (lower(decided_by) <> lower(requested_by))
);
CREATE INDEX approvals_migration_phase_idx ON switchyard.approvals (migration_id, phase, id DESC);

-- The event log admits the approval, share-link and account events. Account
-- events (sign-ins, account changes) belong to no migration.
ALTER TABLE switchyard.events ALTER COLUMN migration_id DROP NOT NULL;
CREATE INDEX events_actor_idx ON switchyard.events (lower(actor), id DESC);
ALTER TABLE switchyard.events DROP CONSTRAINT events_kind_check;
ALTER TABLE switchyard.events ADD CONSTRAINT events_kind_check CHECK (kind IN (
    'phase_state', 'rollback_started', 'progress', 'throttle', 'capture_drained',
    'verify_progress', 'verified', 'accepted', 'recipe_changed',
    'task_created', 'task_edited', 'task_moved', 'criterion', 'task_deleted',
    'plan_saved', 'seeded',
    'approval_policy', 'approval_requested', 'approval_decided', 'approval_overridden',
    'share_created', 'share_revoked',
    'signed_in', 'signed_out', 'sign_in_failed', 'account_added', 'account_changed'
));
