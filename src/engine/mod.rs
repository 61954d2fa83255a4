//! The migration engine: runs a recipe's five expand/contract phases against
//! a Postgres database. A leaf library: it uses nothing else of this crate
//! (no Leptos, no store, no model); the console, the CLI and the store use
//! it. `vocab` holds the words they share (`Phase`, `PhaseState`,
//! `ReadsFrom`, `Event`) and compiles for the browser too.
//!
//! Phase guarantees (SPEC section 3):
//! 1. expand: targets, indexes CONCURRENTLY, FKs NOT VALID + VALIDATE, and a
//!    capture trigger that logs the key of every later write;
//! 2. backfill: keyset batches, upserts, checkpoint in the batch's transaction;
//! 3. dual-write: statement triggers re-map the written rows in the writing
//!    transaction, then the capture log is drained (nothing since phase 1
//!    is missed);
//! 4. switch reads: gated by a full verification; read flag + NOTIFY; writes
//!    to the targets flow back into the JSONB column;
//! 5. contract: after the soak time, the column's definition recorded, a
//!    backup kept in step by a trigger, and the column dropped (one table
//!    locked per transaction).
//!
//! `sql` states the mapping's semantics; `phases` what each phase runs.

// The vocabulary compiles for the browser too; everything else is
// server-only (`#[cfg(feature = "ssr")]` on each item below).
pub mod vocab;

#[cfg(feature = "ssr")]
pub mod backfill;
#[cfg(feature = "ssr")]
pub mod ddl;
#[cfg(feature = "ssr")]
pub mod ident;
#[cfg(feature = "ssr")]
pub mod inspect;
#[cfg(feature = "ssr")]
pub mod phases;
#[cfg(feature = "ssr")]
pub mod recipe;
#[cfg(feature = "ssr")]
pub mod sql;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod verify;

#[cfg(feature = "ssr")]
use serde::Serialize;
#[cfg(feature = "ssr")]
use sqlx::PgPool;

#[cfg(feature = "ssr")]
pub use ddl::LockPolicy;
#[cfg(feature = "ssr")]
pub use recipe::{Recipe, RecipeError};
#[cfg(feature = "ssr")]
pub use state::Fence;
pub use vocab::{Event, Phase, PhaseState, ReadsFrom};

#[cfg(feature = "ssr")]
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the recipe is invalid:\n{}", .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Recipe(Vec<RecipeError>),
    #[error("busy: another runner is acting on migration {0:?}; try again when it is done")]
    Busy(String),
    #[error("refused: {0}")]
    Refused(String),
    /// What was lost, and how it showed.
    #[error("this runner lost its lock ({0}); it stopped before writing anything more. Run the phase again to resume")]
    LockLost(String),
    #[error("{statement}: could not get its lock within lock_timeout after {attempts} attempts; the application was never blocked, try again later")]
    LockTimeout { statement: String, attempts: u32 },
    #[error("step {step:?} failed: {source}")]
    Step {
        step: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

#[cfg(feature = "ssr")]
impl EngineError {
    /// A failed step, with the fencing refusal told apart.
    pub fn from_step(step: &str, source: sqlx::Error) -> Self {
        // The database's message names the migration and the stale epoch.
        if let Some(message) = state::fenced(&source) {
            return EngineError::LockLost(message);
        }
        EngineError::Step {
            step: step.to_string(),
            source,
        }
    }
}

#[cfg(feature = "ssr")]
/// Who acts, and how DDL waits.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    pub actor: String,
    pub lock: LockPolicy,
    /// Overrides the recipe's soak time (demos, tests); not part of the
    /// pinned recipe.
    pub soak_hours: Option<f64>,
}

#[cfg(feature = "ssr")]
impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            actor: "cli".into(),
            lock: LockPolicy::default(),
            soak_hours: None,
        }
    }
}

#[cfg(feature = "ssr")]
/// How a step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepMode {
    /// In a transaction under lock_timeout, retried with backoff.
    Transaction,
    /// Outside any transaction (CONCURRENTLY), under lock_timeout, retried.
    Concurrent,
    /// Repeated in batches by the engine (backfill, drain, verify, restore).
    Batched,
}

#[cfg(feature = "ssr")]
/// One step of a phase, exactly as it will run.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub label: String,
    pub mode: StepMode,
    /// Statements run together (one transaction) for `Transaction` steps;
    /// one by one for `Concurrent` steps (an index step's first statement
    /// only when a failed attempt left an invalid index); the statements a
    /// `Batched` step repeats.
    pub sql: Vec<String>,
    /// What the runner checks around the step (not part of its SQL).
    #[serde(skip)]
    pub guard: Option<Guard>,
    /// For `Batched` steps: which loop runs `sql`.
    #[serde(skip)]
    pub batch: Option<Batch>,
}

#[cfg(feature = "ssr")]
/// The batched loops; each runs its step's `sql` in order, as listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// [first bounds, next bounds, map batch, checkpoint]
    Backfill,
    /// [take keys from the capture log, map them]
    DrainCapture,
    /// [first bounds, next bounds, one comparison per target]
    Verify,
    /// [first bounds, next bounds, copy]
    BackupCopy,
    /// [first bounds, next bounds, restore, catch-up, count left]
    Restore,
    /// [replay up to 1000 target rows written since the contract]
    ReplayContract,
    /// [apply deferred sync work]
    DrainSync,
}

#[cfg(feature = "ssr")]
/// Checks the runner makes around a step.
#[derive(Clone, Debug)]
pub enum Guard {
    /// An index built CONCURRENTLY (`index` schema-qualified, quoted) on
    /// `table`: an invalid leftover of a failed attempt is dropped before
    /// every attempt, and the step only counts as done when an index of that
    /// name exists on that table and is valid.
    Index { index: String, table: String },
    /// Skipped when constraint `name` already exists on `table` (a re-run).
    NewConstraint { table: String, name: String },
}

#[cfg(feature = "ssr")]
impl StepMode {
    /// How the step runs, in words.
    pub fn describe(self) -> &'static str {
        match self {
            StepMode::Transaction => "one transaction, lock_timeout, retried",
            StepMode::Concurrent => "outside a transaction, lock_timeout, retried",
            StepMode::Batched => "repeated in key batches",
        }
    }
}

/// A phase's steps as text: each step's label and how it runs as a
/// comment, then its statements. What `switchyard plan` prints, and what the
/// golden files of the generated SQL hold.
#[cfg(feature = "ssr")]
pub fn render_steps(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        out.push_str(&format!("-- {} ({})\n", step.label, step.mode.describe()));
        for sql in &step.sql {
            out.push_str(sql);
            out.push_str(";\n\n");
        }
    }
    out
}

#[cfg(feature = "ssr")]
impl Step {
    fn tx(label: impl Into<String>, sql: Vec<String>) -> Self {
        Step {
            label: label.into(),
            mode: StepMode::Transaction,
            sql,
            guard: None,
            batch: None,
        }
    }
    /// An index built CONCURRENTLY on `table`: its statements are
    /// `[drop the invalid leftover of a failed attempt, build]` (see `Guard::Index`).
    fn index(label: impl Into<String>, build: String, index: String, table: String) -> Self {
        Step {
            label: label.into(),
            mode: StepMode::Concurrent,
            sql: vec![format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"), build],
            guard: Some(Guard::Index { index, table }),
            batch: None,
        }
    }
    fn batched(label: impl Into<String>, batch: Batch, sql: Vec<String>) -> Self {
        Step {
            label: label.into(),
            mode: StepMode::Batched,
            sql,
            guard: None,
            batch: Some(batch),
        }
    }
}

#[cfg(feature = "ssr")]
pub struct Engine {
    pool: PgPool,
    recipe: Recipe,
    names: sql::Names,
    opts: EngineOptions,
}

#[cfg(feature = "ssr")]
impl Engine {
    pub fn new(pool: PgPool, mut recipe: Recipe, opts: EngineOptions) -> Self {
        if let Some(hours) = opts.soak_hours {
            recipe.soak_hours = hours;
        }
        let names = sql::Names::new(&recipe);
        Engine {
            pool,
            recipe,
            names,
            opts,
        }
    }

    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }
}
