//! Where the engine records a migration's life: its phase states, its
//! event log, the recipe pinned at phase 1, operators' acceptances, and the
//! runner epoch that fences a replaced runner. The engine states what it
//! needs here and nothing more; the store keeps those records
//! (`store::journal::PgJournal`), in the same tables and with the same SQL
//! as everything else of ours, so the engine stays a leaf.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::Serialize;

use super::recipe::Recipe;
use super::state::Fence;
use super::vocab::{Event, Phase, PhaseState};

/// One phase as recorded.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseRecord {
    pub phase: Phase,
    pub state: PhaseState,
    pub started_by: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// A phase's new state, and who or what changed it.
pub struct StateChange<'a> {
    pub migration_id: i64,
    pub phase: Phase,
    pub state: PhaseState,
    pub actor: &'a str,
    pub error: Option<&'a str>,
    /// The runner that changes it: the change commits only while it is the
    /// current one.
    pub fence: Option<&'a Fence>,
    /// Forget the pinned recipe in the same transaction (phase 1 rolled
    /// back: the migration is back at the start).
    pub unpin: Option<&'a str>,
}

pub trait Journal: Send + Sync {
    /// The migration's id, its records created if they are missing (the CLI
    /// may run a recipe nobody opened in the browser yet).
    fn migration_id<'a>(&'a self, recipe: &'a Recipe) -> BoxFuture<'a, Result<i64, sqlx::Error>>;

    /// The five phases' records, in order.
    fn phases(&self, migration_id: i64) -> BoxFuture<'_, Result<Vec<PhaseRecord>, sqlx::Error>>;

    /// Records the new state and its `Event::PhaseState`, together.
    fn set_state<'a>(&'a self, change: StateChange<'a>) -> BoxFuture<'a, Result<(), sqlx::Error>>;

    /// Appends `event` to the migration's log (and announces it).
    fn record<'a>(
        &'a self,
        migration_id: i64,
        phase: Option<Phase>,
        actor: &'a str,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;

    /// Pins `recipe` (text and hash) as the one later phases use, unless
    /// one is pinned already; only while `fence` is the current runner.
    fn pin<'a>(
        &'a self,
        recipe: &'a Recipe,
        fence: &'a Fence,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;

    /// The pinned recipe of migration `name`, if any: (text, hash).
    fn pinned<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<(String, String)>, sqlx::Error>>;

    /// Records an operator's acceptance (`Event::Accepted`) and its event.
    fn accept<'a>(
        &'a self,
        migration_id: i64,
        name: &'a str,
        actor: &'a str,
        accepted: &'a Event,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>>;

    /// Starts a new runner epoch for migration `name` (its records exist)
    /// and returns it: transactions fenced by an older epoch are refused
    /// from now on (`Fence`).
    fn next_epoch<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<i64>, sqlx::Error>>;
}
