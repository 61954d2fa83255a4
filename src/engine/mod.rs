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
//! `sql` states the mapping's semantics; `planner` the steps of each phase
//! and rollback (pure: no database); `phases` runs them.

// The vocabulary compiles for the browser too; everything else is
// server-only (`#[cfg(feature = "ssr")]` on each item below).
pub mod vocab;

#[cfg(feature = "ssr")]
pub mod backfill;
#[cfg(feature = "ssr")]
pub mod ddl;
#[cfg(feature = "ssr")]
pub mod discover;
#[cfg(feature = "ssr")]
pub mod draft;
#[cfg(feature = "ssr")]
pub mod health;
#[cfg(feature = "ssr")]
pub mod ident;
#[cfg(feature = "ssr")]
pub mod inspect;
#[cfg(feature = "ssr")]
pub mod journal;
#[cfg(feature = "ssr")]
pub mod locks;
#[cfg(feature = "ssr")]
pub mod phases;
#[cfg(feature = "ssr")]
pub mod planner;
#[cfg(feature = "ssr")]
pub mod recipe;
#[cfg(feature = "ssr")]
pub mod rehearse;
#[cfg(feature = "ssr")]
pub mod sql;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod step;
#[cfg(feature = "ssr")]
pub mod verify;

#[cfg(feature = "ssr")]
use sqlx::PgPool;
#[cfg(feature = "ssr")]
use std::sync::Arc;

#[cfg(feature = "ssr")]
pub use journal::Journal;

#[cfg(feature = "ssr")]
pub use ddl::LockPolicy;
#[cfg(feature = "ssr")]
pub use planner::Planner;
#[cfg(feature = "ssr")]
pub use recipe::{Recipe, RecipeError};
#[cfg(feature = "ssr")]
pub use state::Fence;
#[cfg(feature = "ssr")]
pub use step::{render_steps, Step, StepMode, Work};
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
    /// When the backfill yields to the application (on by default).
    pub health: health::HealthPolicy,
}

#[cfg(feature = "ssr")]
impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            actor: vocab::actor::CLI.into(),
            lock: LockPolicy::default(),
            soak_hours: None,
            health: health::HealthPolicy::default(),
        }
    }
}

#[cfg(feature = "ssr")]
pub struct Engine {
    pool: PgPool,
    recipe: Recipe,
    opts: EngineOptions,
    journal: Arc<dyn Journal>,
}

#[cfg(feature = "ssr")]
impl Engine {
    /// An engine for `recipe` on the database of `pool`, recording what it
    /// does in `journal`.
    pub fn new(
        pool: PgPool,
        mut recipe: Recipe,
        opts: EngineOptions,
        journal: Arc<dyn Journal>,
    ) -> Self {
        if let Some(hours) = opts.soak_hours {
            recipe.soak_hours = hours;
        }
        Engine {
            pool,
            recipe,
            opts,
            journal,
        }
    }

    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// Times this engine's statements and batches gave way to the
    /// application's locks (and were tried again) so far.
    pub fn lock_waits(&self) -> u64 {
        self.opts.lock.gave_way_count()
    }
}
