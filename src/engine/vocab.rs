//! The words every layer uses about a migration's life: its phases, their
//! states, where the application reads from, and the events of its log.
//!
//! Plain data (serde only), compiled for the server and for the browser: the
//! engine defines what these words mean, and the store, the console, the CLI
//! and the pages all use these types instead of numbers and string literals.
//! The database's CHECK constraints list the same values (tested against
//! these enums in the integration tests).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One of the five phases of an expand/contract migration, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i16", into = "i16")]
pub enum Phase {
    Expand,
    Backfill,
    DualWrite,
    SwitchReads,
    Contract,
}

/// A number that names no phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("there is no phase {0} (phases are numbered 1 to 5)")]
pub struct NotAPhase(pub i16);

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Expand,
        Phase::Backfill,
        Phase::DualWrite,
        Phase::SwitchReads,
        Phase::Contract,
    ];

    /// 1 to 5: how people, the plan and the database number phases.
    pub const fn number(self) -> i16 {
        match self {
            Phase::Expand => 1,
            Phase::Backfill => 2,
            Phase::DualWrite => 3,
            Phase::SwitchReads => 4,
            Phase::Contract => 5,
        }
    }

    /// 0 to 4: the phase's place in `ALL` (and in any list of phase records).
    pub const fn index(self) -> usize {
        self.number() as usize - 1
    }

    pub fn from_number(n: i16) -> Result<Phase, NotAPhase> {
        Phase::ALL
            .into_iter()
            .find(|p| p.number() == n)
            .ok_or(NotAPhase(n))
    }

    /// The phase before this one (none before Expand).
    pub fn previous(self) -> Option<Phase> {
        Phase::ALL.get(self.index().checked_sub(1)?).copied()
    }

    /// The phase after this one (none after Contract).
    pub fn next(self) -> Option<Phase> {
        Phase::ALL.get(self.index() + 1).copied()
    }

    /// Short name, as the CLI accepts it and logs print it.
    pub const fn name(self) -> &'static str {
        match self {
            Phase::Expand => "expand",
            Phase::Backfill => "backfill",
            Phase::DualWrite => "dual-write",
            Phase::SwitchReads => "switch-reads",
            Phase::Contract => "contract",
        }
    }

    /// What running the phase means for the applications, when the
    /// operator must confirm it.
    pub const fn consequence(self) -> Option<&'static str> {
        match self {
            Phase::SwitchReads => Some("Applications are told to read from the new tables (read flag + NOTIFY); writes to the new tables flow back into the JSONB column."),
            Phase::Contract => Some("The JSONB column is backed up and then dropped from the source table; applications can no longer read it."),
            _ => None,
        }
    }

    /// What rolling the phase back does.
    pub const fn rollback_consequence(self) -> &'static str {
        match self {
            Phase::Expand => "the new tables, the capture trigger and all quarantine records are dropped.",
            Phase::Backfill => "the new tables are emptied; the backfill starts from the beginning next time.",
            Phase::DualWrite => "dual-write stops; writes are captured again instead.",
            Phase::SwitchReads => "applications are told to read from the JSONB column again; reverse sync stops.",
            Phase::Contract => "the column is re-added and restored from the backup, with every write made to the new tables since.",
        }
    }

    /// The standard plan's title of the phase.
    pub const fn title(self) -> &'static str {
        match self {
            Phase::Expand => "Expand: create the new tables",
            Phase::Backfill => "Backfill from the JSONB column",
            Phase::DualWrite => "Dual-write",
            Phase::SwitchReads => "Switch reads",
            Phase::Contract => "Contract: drop the old column",
        }
    }
}

impl From<Phase> for i16 {
    fn from(p: Phase) -> i16 {
        p.number()
    }
}

impl TryFrom<i16> for Phase {
    type Error = NotAPhase;
    fn try_from(n: i16) -> Result<Phase, NotAPhase> {
        Phase::from_number(n)
    }
}

/// Prints the number, so "phase {p}" reads as people write it.
impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// A phase's number (`4`) or its name (`switch-reads`).
impl FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Phase, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<i16>() {
            return Phase::from_number(n).map_err(|e| e.to_string());
        }
        Phase::ALL
            .into_iter()
            .find(|p| p.name() == s.to_ascii_lowercase().replace('_', "-"))
            .ok_or_else(|| {
                format!("{s:?} is not a phase: use 1 to 5 or expand, backfill, dual-write, switch-reads, contract")
            })
    }
}

/// A table-level lock mode, in the order of Postgres's table of them
/// (weakest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl LockMode {
    const ALL: [LockMode; 8] = [
        LockMode::AccessShare,
        LockMode::RowShare,
        LockMode::RowExclusive,
        LockMode::ShareUpdateExclusive,
        LockMode::Share,
        LockMode::ShareRowExclusive,
        LockMode::Exclusive,
        LockMode::AccessExclusive,
    ];

    /// As SQL writes it: `ACCESS EXCLUSIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// From SQL's spelling (any case, single spaces).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_uppercase();
        LockMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// What the application cannot do on the table while it is held.
    pub fn blocks(self) -> &'static str {
        match self {
            LockMode::AccessExclusive => "blocks reads and writes",
            LockMode::Exclusive | LockMode::ShareRowExclusive | LockMode::Share => "blocks writes",
            LockMode::ShareUpdateExclusive => {
                "blocks schema changes, VACUUM and index builds, not reads or writes"
            }
            _ => "blocks schema changes only",
        }
    }
}

/// A lock a phase takes on a table (`engine::locks`): the strongest one
/// per table, with the first step that takes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableLock {
    /// `schema.table`, unquoted.
    pub table: String,
    pub mode: LockMode,
    /// The step's label.
    pub step: String,
}

/// One step of a rehearsal (`engine::rehearse`): a phase run, or rolled
/// back, on the copy of a sample, as measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RehearsedStep {
    pub phase: Phase,
    /// A rollback of the phase (else a run).
    pub rollback: bool,
    pub millis: i64,
    /// Rows the backfill processed (phase 2's run only).
    pub rows: Option<i64>,
    /// Documents in quarantine and key paths mapped nowhere, after it.
    pub quarantined: i64,
    pub unmapped_keys: i64,
    /// Times a statement gave way to a lock held by someone else, and
    /// was tried again.
    pub lock_waits: i64,
    pub error: Option<String>,
}

impl RehearsedStep {
    /// "run phase 2" or "roll back phase 2".
    pub fn action(&self) -> String {
        if self.rollback {
            format!("roll back phase {}", self.phase)
        } else {
            format!("run phase {}", self.phase)
        }
    }
}

/// Runtime state of one phase, as the engine records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseState {
    Pending,
    Running,
    Paused,
    Verifying,
    Done,
    Failed,
    RolledBack,
}

impl PhaseState {
    pub const ALL: [PhaseState; 7] = [
        PhaseState::Pending,
        PhaseState::Running,
        PhaseState::Paused,
        PhaseState::Verifying,
        PhaseState::Done,
        PhaseState::Failed,
        PhaseState::RolledBack,
    ];

    /// The value stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            PhaseState::Pending => "pending",
            PhaseState::Running => "running",
            PhaseState::Paused => "paused",
            PhaseState::Verifying => "verifying",
            PhaseState::Done => "done",
            PhaseState::Failed => "failed",
            PhaseState::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub const fn label(self) -> &'static str {
        match self {
            PhaseState::Pending => "Pending",
            PhaseState::Running => "Running",
            PhaseState::Paused => "Paused",
            PhaseState::Verifying => "Verifying",
            PhaseState::Done => "Done",
            PhaseState::Failed => "Failed",
            PhaseState::RolledBack => "Rolled back",
        }
    }

    /// A state a phase ends in (the runner is no longer at work).
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            PhaseState::Done | PhaseState::Failed | PhaseState::RolledBack
        )
    }
}

impl fmt::Display for PhaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The read flag as applications see it: announced with `NOTIFY
/// switchyard_read_flag` when it flips (without `changed_at`) and served by
/// `GET /flags/{name}` (with it, once the flag was ever set).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadFlag {
    pub migration: String,
    pub reads_from: ReadsFrom,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Where applications should read from: the read flag of phase 4.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadsFrom {
    /// The JSONB column (before phase 4, and after its rollback).
    #[default]
    Source,
    /// The new tables (from phase 4 on).
    Targets,
}

impl ReadsFrom {
    pub const ALL: [ReadsFrom; 2] = [ReadsFrom::Source, ReadsFrom::Targets];

    /// The value stored in `switchyard.read_flags` and sent with NOTIFY.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReadsFrom::Source => "source",
            ReadsFrom::Targets => "targets",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for ReadsFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A backfill's progress, as persisted and reported with each tick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct BackfillProgress {
    pub last_key: Option<String>,
    pub rows_done: i64,
    pub rows_total: i64,
    pub quarantined: i64,
    pub batch_size: i32,
    pub rows_per_second: f64,
    pub paused: bool,
    pub target_batch_ms: i32,
    pub throttle_ms: i32,
    /// Why the backfill is yielding to the application now, if it is
    /// ("write latency 3.2 ms > 1.6 ms").
    #[serde(default)]
    pub throttled: Option<String>,
}

impl BackfillProgress {
    /// Seconds left at the current rate.
    pub fn eta_seconds(&self) -> Option<f64> {
        (self.rows_per_second > 0.0)
            .then(|| (self.rows_total - self.rows_done).max(0) as f64 / self.rows_per_second)
    }

    pub fn percent(&self) -> f64 {
        if self.rows_total <= 0 {
            0.0
        } else {
            (self.rows_done as f64 * 100.0 / self.rows_total as f64).min(100.0)
        }
    }
}

/// A verification's result so far (or final): documents compared with the
/// target rows, in key batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub rows_compared: i64,
    /// Source rows when the verification started.
    pub rows_total: i64,
    pub differences: i64,
    pub first_differences: Vec<Difference>,
    pub quarantined: i64,
}

/// One target row that is not what its document maps to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    pub table: String,
    pub key: String,
    pub entry: Option<String>,
    pub expected: Option<serde_json::Value>,
    pub actual: Option<serde_json::Value>,
}

/// One entry of a migration's event log: who did what is stored beside it
/// (actor, phase, time); this is the what. The only way events are written
/// (`kind` column + payload) and read back (the console and its live feed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A phase changed state (with the error, when it failed).
    PhaseState {
        state: PhaseState,
        #[serde(default)]
        error: Option<String>,
    },
    RollbackStarted,
    /// A backfill progress tick.
    Progress(BackfillProgress),
    /// The backfill throttle was changed.
    Throttle {
        target_batch_ms: i32,
        throttle_ms: i32,
    },
    /// The capture log was replayed into the targets (phase 3).
    CaptureDrained {
        keys: i64,
    },
    /// A verification is under way.
    VerifyProgress(VerifyReport),
    /// A verification finished.
    Verified(VerifyReport),
    /// An operator accepted quarantined documents or differences at the
    /// phase 4 gate.
    Accepted {
        quarantined: i64,
        differences: i64,
        #[serde(default)]
        first_differences: Vec<Difference>,
    },
    /// The recipe given differs from the one pinned at phase 1 (which is the
    /// one used).
    RecipeChanged {
        pinned_hash: String,
        given_hash: String,
    },
    TaskCreated {
        task: i64,
        title: String,
    },
    TaskEdited {
        task: i64,
    },
    TaskMoved {
        task: i64,
        status: String,
    },
    /// An acceptance criterion ticked or unticked.
    Criterion {
        task: i64,
        criterion: i64,
        done: bool,
    },
    TaskDeleted {
        task: i64,
    },
    PlanSaved {
        revision: i32,
    },
    /// The built-in demo was seeded.
    Seeded,
    /// An admin changed whether the event's phase needs an approval to run.
    ApprovalPolicy {
        required: bool,
    },
    /// An operator asked for approval to run the event's phase.
    ApprovalRequested {
        approval: i64,
        reason: String,
    },
    /// Someone other than the requester approved or rejected a request.
    ApprovalDecided {
        approval: i64,
        approved: bool,
        comment: String,
    },
    /// The phase was started without a valid approval, on an admin's
    /// explicit override (`switchyard phase run --override --as EMAIL`).
    ApprovalOverridden {
        admin: String,
    },
    /// A read-only share link was created.
    ShareCreated {
        link: i64,
        label: String,
    },
    ShareRevoked {
        link: i64,
    },
    /// The actor signed in to the web app.
    SignedIn,
    SignedOut,
    /// A web sign-in was refused; the actor is the email as typed (whether
    /// or not an account has it). `limited`: refused for too many failures
    /// (written by earlier versions; refusals for too many failures are
    /// logged, not recorded, now: they cost an attacker nothing).
    SignInFailed {
        limited: bool,
    },
    /// An account was added (`role`: viewer, operator or admin).
    AccountAdded {
        email: String,
        role: String,
    },
    AccountChanged {
        email: String,
        change: AccountChange,
    },
    /// The spec was imported from a Notion page (a new migration).
    SpecImported {
        page: String,
    },
    /// The spec was fetched again from Notion and replaced; the previous
    /// version is kept in its history.
    SpecRefreshed {
        added: i64,
        removed: i64,
        changed: i64,
    },
    /// The plan was queued to be published to Notion (outbox item).
    PlanPublishQueued {
        item: i64,
    },
    /// The plan's Notion page was created.
    PlanPublished {
        item: i64,
        page: String,
    },
    /// The migration's tasks were connected to a Notion data source (its
    /// mapping proposed).
    TaskDbConnected {
        data_source: String,
    },
    /// An operator confirmed (or changed) the mapping of task fields.
    TaskMappingConfirmed,
    /// "Create tasks in Notion": one outbox item per task.
    TaskPagesQueued {
        items: i64,
    },
    /// A task's Notion page was created.
    TaskPageCreated {
        task: i64,
        page: String,
    },
    /// Changes made in Notion were applied to the task (its fields named).
    TaskSynced {
        task: i64,
        fields: Vec<String>,
    },
    /// A field was changed on the board and in Notion since the last sync:
    /// held until an operator keeps one side.
    TaskConflict {
        task: i64,
        field: String,
    },
    /// An operator kept one side of a conflict (`kept`: board or notion).
    TaskConflictResolved {
        task: i64,
        field: String,
        kept: String,
    },
    /// The plan was changed in Switchyard (as revision `revision`) and in
    /// Notion since the last sync: nothing written until an operator
    /// keeps one side.
    PlanConflict {
        revision: i32,
    },
    /// An operator resolved the plan's conflict (`kept`: switchyard, notion
    /// or merged).
    PlanConflictResolved {
        kept: String,
    },
    /// An operator turned moving a phase's tasks to Done when the phase
    /// finishes on or off.
    ProgressSetting {
        tasks_done_with_phase: bool,
    },
    /// A new version of the migration's recipe was saved (from the
    /// browser, the CLI, an import or the seed).
    RecipeSaved {
        version: i32,
        hash: String,
        origin: String,
    },
    /// A run or rollback the console accepted was refused when its runner
    /// started (after the click was answered): by the approval read again
    /// under the lock, another runner, or the engine's own checks. The
    /// event's phase is the one refused.
    RunRefused {
        reason: String,
    },
    /// Someone asked the running backfill to pause (or to abort); the
    /// runner then records the state it stops in, as its own starter's.
    StopRequested {
        abort: bool,
    },
    /// An operator sent a failed Notion outbox item again, or discarded it.
    OutboxRetried {
        item: i64,
    },
    OutboxDiscarded {
        item: i64,
    },
    /// A new-migration draft was changed (`change`: what, e.g. "profiled
    /// (sample)", "recipe saved", "spec saved"); an event of no migration
    /// until the draft becomes one.
    DraftChanged {
        draft: i64,
        change: String,
    },
    /// "Rehearse on a sample" started: `percent` % of the source copied
    /// into a scratch schema, every phase and rollback run there.
    RehearsalStarted {
        rehearsal: i64,
        percent: f64,
    },
    /// A rehearsal finished (`passed`: every step without an error) and
    /// its scratch schema was dropped.
    RehearsalFinished {
        rehearsal: i64,
        passed: bool,
    },
    /// A kind this version does not know (written by a newer one), or a
    /// payload it cannot read: shown by its kind, never dropped.
    #[serde(skip)]
    Other {
        kind: String,
    },
}

/// What changed of an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountChange {
    /// Its role became `role` (viewer, operator or admin).
    Role(String),
    Disabled,
    /// Its failed sign-ins were forgotten (the sign-in limit lifted).
    Unlocked,
}

impl Event {
    /// Every kind this version writes, as stored in `switchyard.events.kind`.
    pub const KINDS: [&'static str; 49] = [
        kind::PHASE_STATE,
        kind::ROLLBACK_STARTED,
        kind::PROGRESS,
        kind::THROTTLE,
        kind::CAPTURE_DRAINED,
        kind::VERIFY_PROGRESS,
        kind::VERIFIED,
        kind::ACCEPTED,
        kind::RECIPE_CHANGED,
        kind::TASK_CREATED,
        kind::TASK_EDITED,
        kind::TASK_MOVED,
        kind::CRITERION,
        kind::TASK_DELETED,
        kind::PLAN_SAVED,
        kind::SEEDED,
        kind::APPROVAL_POLICY,
        kind::APPROVAL_REQUESTED,
        kind::APPROVAL_DECIDED,
        kind::APPROVAL_OVERRIDDEN,
        kind::SHARE_CREATED,
        kind::SHARE_REVOKED,
        kind::SIGNED_IN,
        kind::SIGNED_OUT,
        kind::SIGN_IN_FAILED,
        kind::ACCOUNT_ADDED,
        kind::ACCOUNT_CHANGED,
        kind::SPEC_IMPORTED,
        kind::SPEC_REFRESHED,
        kind::PLAN_PUBLISH_QUEUED,
        kind::PLAN_PUBLISHED,
        kind::TASK_DB_CONNECTED,
        kind::TASK_MAPPING_CONFIRMED,
        kind::TASK_PAGES_QUEUED,
        kind::TASK_PAGE_CREATED,
        kind::TASK_SYNCED,
        kind::TASK_CONFLICT,
        kind::TASK_CONFLICT_RESOLVED,
        kind::PLAN_CONFLICT,
        kind::PLAN_CONFLICT_RESOLVED,
        kind::PROGRESS_SETTING,
        kind::RECIPE_SAVED,
        kind::RUN_REFUSED,
        kind::STOP_REQUESTED,
        kind::OUTBOX_RETRIED,
        kind::OUTBOX_DISCARDED,
        kind::DRAFT_CHANGED,
        kind::REHEARSAL_STARTED,
        kind::REHEARSAL_FINISHED,
    ];

    /// Progress ticks: many, shown as a chart and a bar, not in the log.
    pub const TICKS: [&'static str; 2] = [kind::PROGRESS, kind::VERIFY_PROGRESS];

    /// The value of the `kind` column (serde's tag: the same names).
    pub fn kind(&self) -> &str {
        match self {
            Event::PhaseState { .. } => kind::PHASE_STATE,
            Event::RollbackStarted => kind::ROLLBACK_STARTED,
            Event::Progress(_) => kind::PROGRESS,
            Event::Throttle { .. } => kind::THROTTLE,
            Event::CaptureDrained { .. } => kind::CAPTURE_DRAINED,
            Event::VerifyProgress(_) => kind::VERIFY_PROGRESS,
            Event::Verified(_) => kind::VERIFIED,
            Event::Accepted { .. } => kind::ACCEPTED,
            Event::RecipeChanged { .. } => kind::RECIPE_CHANGED,
            Event::TaskCreated { .. } => kind::TASK_CREATED,
            Event::TaskEdited { .. } => kind::TASK_EDITED,
            Event::TaskMoved { .. } => kind::TASK_MOVED,
            Event::Criterion { .. } => kind::CRITERION,
            Event::TaskDeleted { .. } => kind::TASK_DELETED,
            Event::PlanSaved { .. } => kind::PLAN_SAVED,
            Event::Seeded => kind::SEEDED,
            Event::ApprovalPolicy { .. } => kind::APPROVAL_POLICY,
            Event::ApprovalRequested { .. } => kind::APPROVAL_REQUESTED,
            Event::ApprovalDecided { .. } => kind::APPROVAL_DECIDED,
            Event::ApprovalOverridden { .. } => kind::APPROVAL_OVERRIDDEN,
            Event::ShareCreated { .. } => kind::SHARE_CREATED,
            Event::ShareRevoked { .. } => kind::SHARE_REVOKED,
            Event::SignedIn => kind::SIGNED_IN,
            Event::SignedOut => kind::SIGNED_OUT,
            Event::SignInFailed { .. } => kind::SIGN_IN_FAILED,
            Event::AccountAdded { .. } => kind::ACCOUNT_ADDED,
            Event::AccountChanged { .. } => kind::ACCOUNT_CHANGED,
            Event::SpecImported { .. } => kind::SPEC_IMPORTED,
            Event::SpecRefreshed { .. } => kind::SPEC_REFRESHED,
            Event::PlanPublishQueued { .. } => kind::PLAN_PUBLISH_QUEUED,
            Event::PlanPublished { .. } => kind::PLAN_PUBLISHED,
            Event::TaskDbConnected { .. } => kind::TASK_DB_CONNECTED,
            Event::TaskMappingConfirmed => kind::TASK_MAPPING_CONFIRMED,
            Event::TaskPagesQueued { .. } => kind::TASK_PAGES_QUEUED,
            Event::TaskPageCreated { .. } => kind::TASK_PAGE_CREATED,
            Event::TaskSynced { .. } => kind::TASK_SYNCED,
            Event::TaskConflict { .. } => kind::TASK_CONFLICT,
            Event::TaskConflictResolved { .. } => kind::TASK_CONFLICT_RESOLVED,
            Event::PlanConflict { .. } => kind::PLAN_CONFLICT,
            Event::PlanConflictResolved { .. } => kind::PLAN_CONFLICT_RESOLVED,
            Event::ProgressSetting { .. } => kind::PROGRESS_SETTING,
            Event::RecipeSaved { .. } => kind::RECIPE_SAVED,
            Event::RunRefused { .. } => kind::RUN_REFUSED,
            Event::StopRequested { .. } => kind::STOP_REQUESTED,
            Event::OutboxRetried { .. } => kind::OUTBOX_RETRIED,
            Event::OutboxDiscarded { .. } => kind::OUTBOX_DISCARDED,
            Event::DraftChanged { .. } => kind::DRAFT_CHANGED,
            Event::RehearsalStarted { .. } => kind::REHEARSAL_STARTED,
            Event::RehearsalFinished { .. } => kind::REHEARSAL_FINISHED,
            Event::Other { kind } => kind,
        }
    }

    /// The payload stored beside the kind: the event's fields.
    pub fn payload(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(fields) = value.as_object_mut() {
            fields.remove("kind");
        }
        value
    }

    /// Reads a stored event back; a kind or payload this version cannot
    /// read becomes `Other`.
    pub fn from_stored(kind: &str, payload: &serde_json::Value) -> Event {
        let mut fields = match payload {
            serde_json::Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        fields.insert("kind".into(), serde_json::Value::String(kind.to_string()));
        serde_json::from_value(serde_json::Value::Object(fields)).unwrap_or(Event::Other {
            kind: kind.to_string(),
        })
    }

    /// One line for the event log.
    pub fn describe(&self) -> String {
        match self {
            Event::PhaseState { state, error } => match error {
                Some(err) => format!("{}: {err}", state.as_str()),
                None => state.as_str().replace('_', " "),
            },
            Event::RollbackStarted => "rollback started".into(),
            Event::Progress(p) => format!("{} of {} rows", p.rows_done, p.rows_total),
            Event::Throttle {
                target_batch_ms,
                throttle_ms,
            } => format!("throttle: target batch {target_batch_ms} ms, pause {throttle_ms} ms"),
            Event::CaptureDrained { keys } => format!("{keys} captured write(s) replayed"),
            Event::VerifyProgress(r) => {
                format!("verifying: {} of {} rows", r.rows_compared, r.rows_total)
            }
            Event::Verified(r) => format!(
                "verified {} rows: {} difference(s), {} quarantined",
                r.rows_compared, r.differences, r.quarantined
            ),
            Event::Accepted {
                quarantined,
                differences,
                ..
            } => format!(
                "accepted {quarantined} quarantined document(s) and {differences} difference(s)"
            ),
            Event::RecipeChanged {
                pinned_hash,
                given_hash,
            } => format!(
                "the recipe given (sha256 {}) differs from the pinned one (sha256 {}); the pinned one was used",
                short(given_hash),
                short(pinned_hash)
            ),
            Event::TaskCreated { task, title } => format!("task {task} created: {title}"),
            Event::TaskEdited { task } => format!("task {task} edited"),
            Event::TaskMoved { task, status } => format!("task {task} moved to {status}"),
            Event::Criterion {
                task,
                criterion,
                done,
            } => format!(
                "task {task}: criterion {criterion} {}",
                if *done { "ticked" } else { "unticked" }
            ),
            Event::TaskDeleted { task } => format!("task {task} deleted"),
            Event::PlanSaved { revision } => format!("plan saved (revision {revision})"),
            Event::Seeded => "seeded from the built-in demo".into(),
            Event::ApprovalPolicy { required: true } => "approval required before it runs".into(),
            Event::ApprovalPolicy { required: false } => "approval no longer required".into(),
            Event::ApprovalRequested { approval, reason } => {
                format!("approval requested (request {approval}): {reason}")
            }
            Event::ApprovalDecided {
                approval,
                approved,
                comment,
            } => format!(
                "request {approval} {}: {comment}",
                if *approved { "approved" } else { "rejected" }
            ),
            Event::ApprovalOverridden { admin } => {
                format!("run without a valid approval, overridden by admin {admin}")
            }
            Event::ShareCreated { link, label } if label.is_empty() => {
                format!("share link {link} created")
            }
            Event::ShareCreated { link, label } => format!("share link {link} created ({label})"),
            Event::ShareRevoked { link } => format!("share link {link} revoked"),
            Event::SignedIn => "signed in".into(),
            Event::SignedOut => "signed out".into(),
            Event::SignInFailed { limited: false } => "sign-in failed".into(),
            Event::SignInFailed { limited: true } => {
                "sign-in refused: too many failed sign-ins".into()
            }
            Event::AccountAdded { email, role } => format!("account {email} added ({role})"),
            Event::AccountChanged { email, change } => match change {
                AccountChange::Role(role) => format!("account {email}: role set to {role}"),
                AccountChange::Disabled => format!("account {email} disabled"),
                AccountChange::Unlocked => format!("account {email}: failed sign-ins forgotten"),
            },
            Event::SpecImported { page } => format!("spec imported from Notion page {page}"),
            Event::SpecRefreshed {
                added,
                removed,
                changed,
            } => format!(
                "spec refreshed from Notion: {added} block(s) added, {removed} removed, {changed} changed"
            ),
            Event::PlanPublishQueued { item } => {
                format!("plan queued for publishing to Notion (outbox item {item})")
            }
            Event::PlanPublished { item, page } => {
                format!("plan published to Notion page {page} (outbox item {item})")
            }
            Event::TaskDbConnected { data_source } => {
                format!("tasks connected to Notion data source {data_source} (mapping proposed)")
            }
            Event::TaskMappingConfirmed => "task fields' mapping to Notion confirmed".into(),
            Event::TaskPagesQueued { items } => {
                format!("{items} task page(s) queued for Notion")
            }
            Event::TaskPageCreated { task, page } => {
                format!("task {task}: Notion page {page} created")
            }
            Event::TaskSynced { task, fields } => {
                format!("task {task}: {} changed in Notion", fields.join(", "))
            }
            Event::TaskConflict { task, field } => {
                format!("task {task}: {field} changed on the board and in Notion; held until resolved")
            }
            Event::TaskConflictResolved { task, field, kept } => {
                format!("task {task}: {field} conflict resolved, {kept} side kept")
            }
            Event::PlanConflict { revision } => format!(
                "plan changed in Switchyard (revision {revision}) and in Notion; held until resolved"
            ),
            Event::PlanConflictResolved { kept } => match kept.as_str() {
                "merged" => "plan conflict resolved with a merge".into(),
                side => format!("plan conflict resolved, {side} side kept"),
            },
            Event::ProgressSetting {
                tasks_done_with_phase,
            } => format!(
                "tasks move to Done when their phase finishes: {}",
                if *tasks_done_with_phase { "on" } else { "off" }
            ),
            Event::RecipeSaved {
                version,
                hash,
                origin,
            } => format!(
                "recipe version {version} saved ({origin}, sha256 {})",
                short(hash)
            ),
            Event::RunRefused { reason } => format!("refused when it started: {reason}"),
            Event::StopRequested { abort: false } => "asked the backfill to pause".into(),
            Event::StopRequested { abort: true } => "asked the backfill to abort".into(),
            Event::OutboxRetried { item } => format!("Notion outbox item {item} sent again"),
            Event::OutboxDiscarded { item } => format!("Notion outbox item {item} discarded"),
            Event::DraftChanged { draft, change } => {
                format!("new-migration draft {draft}: {change}")
            }
            Event::RehearsalStarted { rehearsal, percent } => {
                format!("rehearsal {rehearsal} started on a {percent} % sample")
            }
            Event::RehearsalFinished { rehearsal, passed } => format!(
                "rehearsal {rehearsal} {}; its scratch schema dropped",
                if *passed { "passed" } else { "failed" }
            ),
            Event::Other { kind } => kind.replace('_', " "),
        }
    }
}

/// The stored names of event kinds (`Event::kind`), for queries that
/// select events by kind.
pub mod kind {
    pub const PHASE_STATE: &str = "phase_state";
    pub const ROLLBACK_STARTED: &str = "rollback_started";
    pub const PROGRESS: &str = "progress";
    pub const THROTTLE: &str = "throttle";
    pub const CAPTURE_DRAINED: &str = "capture_drained";
    pub const VERIFY_PROGRESS: &str = "verify_progress";
    pub const VERIFIED: &str = "verified";
    pub const ACCEPTED: &str = "accepted";
    pub const RECIPE_CHANGED: &str = "recipe_changed";
    pub const TASK_CREATED: &str = "task_created";
    pub const TASK_EDITED: &str = "task_edited";
    pub const TASK_MOVED: &str = "task_moved";
    pub const CRITERION: &str = "criterion";
    pub const TASK_DELETED: &str = "task_deleted";
    pub const PLAN_SAVED: &str = "plan_saved";
    pub const SEEDED: &str = "seeded";
    pub const APPROVAL_POLICY: &str = "approval_policy";
    pub const APPROVAL_REQUESTED: &str = "approval_requested";
    pub const APPROVAL_DECIDED: &str = "approval_decided";
    pub const APPROVAL_OVERRIDDEN: &str = "approval_overridden";
    pub const SHARE_CREATED: &str = "share_created";
    pub const SHARE_REVOKED: &str = "share_revoked";
    pub const SIGNED_IN: &str = "signed_in";
    pub const SIGNED_OUT: &str = "signed_out";
    pub const SIGN_IN_FAILED: &str = "sign_in_failed";
    pub const ACCOUNT_ADDED: &str = "account_added";
    pub const ACCOUNT_CHANGED: &str = "account_changed";
    pub const SPEC_IMPORTED: &str = "spec_imported";
    pub const SPEC_REFRESHED: &str = "spec_refreshed";
    pub const PLAN_PUBLISH_QUEUED: &str = "plan_publish_queued";
    pub const PLAN_PUBLISHED: &str = "plan_published";
    pub const TASK_DB_CONNECTED: &str = "task_db_connected";
    pub const TASK_MAPPING_CONFIRMED: &str = "task_mapping_confirmed";
    pub const TASK_PAGES_QUEUED: &str = "task_pages_queued";
    pub const TASK_PAGE_CREATED: &str = "task_page_created";
    pub const TASK_SYNCED: &str = "task_synced";
    pub const TASK_CONFLICT: &str = "task_conflict";
    pub const TASK_CONFLICT_RESOLVED: &str = "task_conflict_resolved";
    pub const PLAN_CONFLICT: &str = "plan_conflict";
    pub const PLAN_CONFLICT_RESOLVED: &str = "plan_conflict_resolved";
    pub const PROGRESS_SETTING: &str = "progress_setting";
    pub const RECIPE_SAVED: &str = "recipe_saved";
    pub const RUN_REFUSED: &str = "run_refused";
    pub const STOP_REQUESTED: &str = "stop_requested";
    pub const OUTBOX_RETRIED: &str = "outbox_retried";
    pub const OUTBOX_DISCARDED: &str = "outbox_discarded";
    pub const DRAFT_CHANGED: &str = "draft_changed";
    pub const REHEARSAL_STARTED: &str = "rehearsal_started";
    pub const REHEARSAL_FINISHED: &str = "rehearsal_finished";
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Who did something, as recorded in the event log.
pub mod actor {
    /// Actions taken from the web console before accounts exist.
    pub const WEB: &str = "web";
    /// Things Switchyard does by itself (seeding).
    pub const SYSTEM: &str = "system";
    /// The command line when it cannot tell who runs it (else `cli:NAME`).
    pub const CLI: &str = "cli";
}

/// How these types are stored: phases as `smallint`, states and flags as
/// their `as_str` text (the columns' CHECK constraints list the same values).
#[cfg(feature = "ssr")]
mod stored {
    use super::{Phase, PhaseState, ReadsFrom};
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef};
    use sqlx::{Decode, Encode, Postgres, Type};

    impl Type<Postgres> for Phase {
        fn type_info() -> PgTypeInfo {
            <i16 as Type<Postgres>>::type_info()
        }
    }
    impl PgHasArrayType for Phase {
        fn array_type_info() -> PgTypeInfo {
            <i16 as PgHasArrayType>::array_type_info()
        }
    }
    impl Encode<'_, Postgres> for Phase {
        fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            <i16 as Encode<Postgres>>::encode_by_ref(&self.number(), buf)
        }
    }
    impl<'r> Decode<'r, Postgres> for Phase {
        fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
            Ok(Phase::from_number(<i16 as Decode<Postgres>>::decode(
                value,
            )?)?)
        }
    }

    macro_rules! stored_as_text {
        ($t:ty, $what:literal) => {
            impl Type<Postgres> for $t {
                fn type_info() -> PgTypeInfo {
                    <&str as Type<Postgres>>::type_info()
                }
                fn compatible(ty: &PgTypeInfo) -> bool {
                    <&str as Type<Postgres>>::compatible(ty)
                }
            }
            impl Encode<'_, Postgres> for $t {
                fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                    <&str as Encode<Postgres>>::encode(self.as_str(), buf)
                }
            }
            impl<'r> Decode<'r, Postgres> for $t {
                fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                    let s = <&str as Decode<Postgres>>::decode(value)?;
                    <$t>::parse(s).ok_or_else(|| format!("{s:?} is not a {}", $what).into())
                }
            }
        };
    }
    stored_as_text!(PhaseState, "phase state");
    stored_as_text!(ReadsFrom, "read flag");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_number_and_order() {
        for (i, p) in Phase::ALL.into_iter().enumerate() {
            assert_eq!(p.index(), i);
            assert_eq!(Phase::from_number(p.number()), Ok(p));
            assert_eq!(p.name().parse::<Phase>(), Ok(p));
            assert_eq!(p.to_string().parse::<Phase>(), Ok(p));
        }
        assert_eq!(Phase::Expand.previous(), None);
        assert_eq!(Phase::Contract.next(), None);
        assert_eq!(Phase::SwitchReads.previous(), Some(Phase::DualWrite));
        assert!(Phase::from_number(0).is_err());
        assert!(Phase::from_number(6).is_err());
        assert!("7".parse::<Phase>().is_err());
        assert_eq!(serde_json::to_string(&Phase::SwitchReads).unwrap(), "4");
        assert!(serde_json::from_str::<Phase>("9").is_err());
    }

    #[test]
    fn events_round_trip_through_kind_and_payload() {
        let events = [
            Event::PhaseState {
                state: PhaseState::Failed,
                error: Some("boom".into()),
            },
            Event::RollbackStarted,
            Event::CaptureDrained { keys: 3 },
            Event::TaskMoved {
                task: 1,
                status: "Done".into(),
            },
            Event::Seeded,
            Event::ApprovalDecided {
                approval: 3,
                approved: false,
                comment: "not before Monday".into(),
            },
            Event::ShareRevoked { link: 2 },
            Event::AccountChanged {
                email: "dana@example.com".into(),
                change: AccountChange::Role("admin".into()),
            },
            Event::SignInFailed { limited: true },
            Event::SpecRefreshed {
                added: 1,
                removed: 2,
                changed: 3,
            },
            Event::PlanPublished {
                item: 4,
                page: "p".into(),
            },
            Event::TaskSynced {
                task: 2,
                fields: vec!["status".into()],
            },
            Event::TaskConflictResolved {
                task: 2,
                field: "status".into(),
                kept: "notion".into(),
            },
            Event::PlanConflict { revision: 3 },
            Event::PlanConflictResolved {
                kept: "merged".into(),
            },
            Event::ProgressSetting {
                tasks_done_with_phase: true,
            },
            Event::RecipeSaved {
                version: 2,
                hash: "ab".repeat(32),
                origin: "web".into(),
            },
            Event::RunRefused {
                reason: "phase 4 needs an approval".into(),
            },
            Event::StopRequested { abort: true },
            Event::OutboxRetried { item: 3 },
            Event::OutboxDiscarded { item: 3 },
            Event::DraftChanged {
                draft: 2,
                change: "recipe saved".into(),
            },
            Event::RehearsalStarted {
                rehearsal: 3,
                percent: 2.5,
            },
            Event::RehearsalFinished {
                rehearsal: 3,
                passed: false,
            },
        ];
        for e in events {
            assert!(Event::KINDS.contains(&e.kind()), "{} not listed", e.kind());
            let tagged = serde_json::to_value(&e).unwrap();
            assert_eq!(tagged["kind"], e.kind(), "serde's tag is the stored kind");
            assert_eq!(Event::from_stored(e.kind(), &e.payload()), e);
        }
        assert_eq!(
            Event::from_stored("from_the_future", &serde_json::json!({})),
            Event::Other {
                kind: "from_the_future".into()
            }
        );
        // A known kind whose payload is unreadable is kept by its kind.
        assert_eq!(
            Event::from_stored("capture_drained", &serde_json::json!({"keys": "x"})),
            Event::Other {
                kind: "capture_drained".into()
            }
        );
    }
}
