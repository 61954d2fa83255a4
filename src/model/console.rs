//! What the phase console shows; sent whole on every live update so a
//! browser that reconnects gets the current state, never a gap.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Phase, PhaseState, ReadsFrom};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsoleView {
    pub name: String,
    pub phases: Vec<ConsolePhase>,
    /// The backfill's progress, once it has started (not while it is
    /// pending or rolled back).
    pub progress: Option<ProgressView>,
    /// Rows/s over time during the backfill, oldest first.
    pub throughput: Vec<ThroughputPoint>,
    pub quarantined: i64,
    pub quarantine_sample: Vec<QuarantineRow>,
    pub unmapped_keys: Vec<(String, i64)>,
    pub events: Vec<EventView>,
    pub reads_from: ReadsFrom,
    /// Another runner currently holds the migration.
    pub busy: bool,
    /// Set when the recipe cannot be loaded; the console is then read-only.
    pub recipe_error: Option<String>,
    /// The latest verification (phase 4 gate or `switchyard verify`).
    pub verification: Option<VerificationView>,
    /// Backfill throttle: target batch duration and pause between batches.
    pub target_batch_ms: i32,
    pub throttle_ms: i32,
    /// Whether the throttle controls apply now (the backfill is not done).
    pub throttle_applies: bool,
    /// SHA-256 of the recipe pinned at phase 1 (None before phase 1).
    pub pinned_recipe_hash: Option<String>,
    /// SHA-256 of the recipe that runs, whose dry run the page shows (None
    /// when it cannot be loaded).
    pub recipe_hash: Option<String>,
    /// The recipe file differs from the pinned one (which is what runs).
    pub recipe_changed: bool,
    /// The latest rehearsal on a sample (`console::rehearsal`), if any:
    /// its report, and what the phases' estimates are made of.
    pub rehearsal: Option<super::rehearsal::RehearsalView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsolePhase {
    pub phase: Phase,
    pub title: String,
    pub state: PhaseState,
    pub started_by: Option<String>,
    #[serde(with = "crate::model::time::option")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::model::time::option")]
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Why the phase cannot run yet (shown while it waits), if it cannot.
    pub blocked: Option<String>,
    /// The buttons of the phase, in order, as the server decided them: the
    /// page renders exactly these, and the server refuses anything else.
    /// The dry run (every statement the phase executes) is not part of the
    /// view: the page loads it when asked (`api::console::get_dry_run`).
    pub choices: Vec<PhaseChoice>,
    /// Phases 4 and 5: whether the phase needs an approval to run, and its
    /// latest request (None for the other phases).
    pub approval: Option<super::approval::PhaseApproval>,
    /// The table locks its run takes (strongest per table), from the
    /// statements it runs.
    pub locks: Vec<crate::engine::vocab::TableLock>,
}

/// A phase's dry run: every statement it executes (label comments, then
/// statements), from the recipe whose SHA-256 is `recipe_hash`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DryRunSql {
    pub recipe_hash: String,
    pub sql: String,
}

/// One thing the operator may ask of a phase, now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseChoice {
    pub action: PhaseAction,
    /// Why it is not possible now (the button is shown disabled), if not.
    pub refused: Option<String>,
    /// What the operator must confirm first (what it means for the
    /// applications), if anything.
    pub confirm: Option<String>,
    /// The run passes the verification gate while this many documents are
    /// in quarantine: the operator must accept them first (the page asks;
    /// the server refuses the run without that acceptance).
    pub accept_quarantined: Option<i64>,
}

impl ConsolePhase {
    /// The choice for `action`, if the phase offers it.
    pub fn choice(&self, action: PhaseAction) -> Option<&PhaseChoice> {
        self.choices.iter().find(|c| c.action == action)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgressView {
    pub rows_done: i64,
    pub rows_total: i64,
    pub rows_per_second: f64,
    pub eta_seconds: Option<f64>,
    pub percent: f64,
    pub quarantined: i64,
    pub batch_size: i32,
    pub paused: bool,
    pub target_batch_ms: i32,
    pub throttle_ms: i32,
    /// Why the backfill yields to the application now, if it does.
    pub throttled: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThroughputPoint {
    #[serde(with = "crate::model::time")]
    pub at: DateTime<Utc>,
    pub rows_per_second: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuarantineRow {
    pub key: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub id: i64,
    #[serde(with = "crate::model::time")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub phase: Option<Phase>,
    /// The event's kind (`Event::kind`).
    pub kind: String,
    /// What happened, in words (`Event::describe`): worded on the server,
    /// so the browser needs no copy of the event vocabulary.
    pub description: String,
}

/// What the operator asks of a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhaseAction {
    Run,
    Pause,
    Resume,
    Abort,
    RollBack,
}

impl PhaseAction {
    /// The button's label.
    pub fn label(self) -> &'static str {
        match self {
            PhaseAction::Run => "Run",
            PhaseAction::Pause => "Pause",
            PhaseAction::Resume => "Resume",
            PhaseAction::Abort => "Abort",
            PhaseAction::RollBack => "Roll back",
        }
    }

    /// "Confirm {verb} phase N".
    pub fn verb(self) -> &'static str {
        match self {
            PhaseAction::Run => "running",
            PhaseAction::Pause => "pausing",
            PhaseAction::Resume => "resuming",
            PhaseAction::Abort => "aborting",
            PhaseAction::RollBack => "rolling back",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerificationView {
    #[serde(with = "crate::model::time")]
    pub at: DateTime<Utc>,
    pub finished: bool,
    pub rows_compared: i64,
    pub rows_total: i64,
    pub differences: i64,
    pub first_differences: Vec<DifferenceRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DifferenceRow {
    pub table: String,
    pub key: String,
    pub entry: Option<String>,
    pub expected: Option<String>,
    pub actual: Option<String>,
}
