//! The migration engine: runs a recipe's five expand/contract phases against
//! a Postgres database. A plain library (no Leptos): the web console's server
//! functions and the CLI both drive it.
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

pub mod backfill;
pub mod ddl;
pub mod ident;
pub mod inspect;
pub mod phases;
pub mod recipe;
pub mod sql;
pub mod state;
pub mod verify;

use serde::Serialize;
use sqlx::PgPool;

pub use ddl::LockPolicy;
pub use recipe::{Recipe, RecipeError};
pub use state::Fence;

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

/// Who acts, and how DDL waits.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    pub actor: String,
    pub lock: LockPolicy,
    /// Overrides the recipe's soak time (demos, tests); not part of the
    /// pinned recipe.
    pub soak_hours: Option<f64>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            actor: "cli".into(),
            lock: LockPolicy::default(),
            soak_hours: None,
        }
    }
}

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

pub struct Engine {
    pool: PgPool,
    recipe: Recipe,
    names: sql::Names,
    opts: EngineOptions,
}

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
