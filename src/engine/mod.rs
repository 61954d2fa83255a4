//! The migration engine: runs a recipe's five expand/contract phases against
//! a Postgres database. A plain library (no Leptos): the web console's server
//! functions and the CLI both drive it.
//!
//! Phase guarantees (SPEC section 3):
//! 1. expand: targets, indexes CONCURRENTLY, FKs NOT VALID + VALIDATE, and a
//!    capture trigger that logs the key of every later write;
//! 2. backfill: keyset batches, upserts, checkpoint in the batch's transaction;
//! 3. dual-write: a trigger re-maps each written row in its own transaction,
//!    then the capture log is drained (so nothing since phase 1 is missed);
//! 4. switch reads: gated by a full verification; read flag + NOTIFY; writes
//!    to the targets flow back into the JSONB column;
//! 5. contract: after the soak time, back up the column, drop it.

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

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the recipe is invalid:\n{}", .0.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Recipe(Vec<RecipeError>),
    #[error("busy: another runner is acting on migration {0:?}; try again when it is done")]
    Busy(String),
    #[error("refused: {0}")]
    Refused(String),
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

/// Who acts, and how DDL waits.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    pub actor: String,
    pub lock: LockPolicy,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            actor: "cli".into(),
            lock: LockPolicy::default(),
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
    /// Statements run together (one transaction) for `Transaction` steps.
    pub sql: Vec<String>,
}

impl Step {
    fn tx(label: impl Into<String>, sql: Vec<String>) -> Self {
        Step {
            label: label.into(),
            mode: StepMode::Transaction,
            sql,
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
    pub fn new(pool: PgPool, recipe: Recipe, opts: EngineOptions) -> Self {
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
