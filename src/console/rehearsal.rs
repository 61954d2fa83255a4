//! "Rehearse on a sample": the console's service around
//! `engine::rehearse`. It records the rehearsal (`store::rehearsals`), runs
//! it in a background task (copy, every phase and rollback, cleanup), and
//! keeps its report for the console, the estimates and the phase 4 and 5
//! confirmations. A rehearsal holds an advisory lock for as long as it
//! runs, so one found "running" without its lock was interrupted (a crash,
//! a restart): `recover` drops what it left and records it as failed.

use std::sync::Arc;

use futures::FutureExt;
use sqlx::PgPool;

use super::{Console, ConsoleError};
use crate::engine::rehearse::{self, rehearsal_name, MAX_PERCENT, MIN_PERCENT};
use crate::engine::state::lock_granted_sql;
use crate::engine::vocab::actor;
use crate::engine::{Engine, EngineOptions, LockPolicy, Recipe};
use crate::store::journal::PgJournal;
use crate::store::rehearsals;

/// The advisory lock class a running rehearsal holds (key: its name).
const REHEARSAL_LOCK: &str = "switchyard.rehearsal";

impl Console {
    /// Starts a rehearsal of migration `name` on `percent` % of its source
    /// (the recipe that runs: the pinned one once phase 1 pinned it), as
    /// `actor`; returns its id. The work goes on in the background.
    pub async fn rehearse(
        &self,
        name: &str,
        percent: f64,
        actor: &str,
    ) -> Result<i64, ConsoleError> {
        if !percent.is_finite() || !(MIN_PERCENT..=MAX_PERCENT).contains(&percent) {
            return Err(ConsoleError::Invalid {
                field: "percent",
                message: "a rehearsal copies between 0.1 and 50 % of the table",
            });
        }
        recover(&self.pool).await;
        let engine = self.engine_for(name, actor).await?;
        let production = match engine.pinned_engine().await? {
            Some(pinned) => pinned.recipe().clone(),
            None => engine.recipe().clone(),
        };
        let title = format!("Rehearsal of {name}");
        let started =
            rehearsals::start(&self.pool, name, percent, &production.hash(), &title, actor).await?;
        let (pool, actor) = (self.pool.clone(), actor.to_string());
        let id = started.id;
        tokio::spawn(async move {
            run(pool, production, id, percent, actor).await;
        });
        Ok(id)
    }
}

/// Runs rehearsal `id` to its end and records the outcome; never fails:
/// whatever goes wrong is the report's.
async fn run(pool: PgPool, production: Recipe, id: i64, percent: f64, actor: String) {
    let name = rehearsal_name(id);
    // Held for the whole rehearsal, in a session of its own.
    let held = match pool.acquire().await {
        Ok(mut conn) => {
            let got: Result<bool, _> =
                sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($2), hashtext($1))")
                    .bind(&name)
                    .bind(REHEARSAL_LOCK)
                    .fetch_one(&mut *conn)
                    .await;
            match got {
                Ok(true) => Ok(conn),
                Ok(false) => Err("another process holds this rehearsal".to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    let lock = LockPolicy::default();
    let outcome = match &held {
        Ok(_) => rehearse_locked(&pool, &production, id, percent, &actor, &lock).await,
        Err(e) => Err(e.clone()),
    };
    let cleanup = rehearse::drop_scratch(&pool, id, &lock).await;
    let error = match (outcome, cleanup) {
        (Err(e), _) => Some(e),
        (Ok(()), Err(e)) => Some(format!("dropping the scratch schema failed: {e}")),
        (Ok(()), Ok(())) => None,
    };
    if let Err(e) = rehearsals::finish(&pool, id, error.as_deref(), &actor).await {
        tracing::error!(rehearsal = id, error = %e, "recording the end of a rehearsal failed");
    }
    // The lock goes with the session: never back into the pool.
    if let Ok(conn) = held {
        drop(conn.detach());
    }
}

/// The copy and the runs. `Err`: what stopped it before or beside the
/// steps (a failed step is in the report, not here).
async fn rehearse_locked(
    pool: &PgPool,
    production: &Recipe,
    id: i64,
    percent: f64,
    actor: &str,
    lock: &LockPolicy,
) -> Result<(), String> {
    let journal = Arc::new(PgJournal::new(pool.clone()));
    let options = |soak_hours| EngineOptions {
        actor: actor.to_string(),
        lock: lock.clone(),
        soak_hours,
        ..EngineOptions::default()
    };
    let sample_rows = rehearse::copy_sample(pool, production, id, percent, lock)
        .await
        .map_err(|e| format!("copying the sample failed: {e}"))?;
    let source_rows: Option<i64> = sqlx::query_scalar(
        "SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass AND reltuples >= 0",
    )
    .bind(crate::engine::sql::source_table(production))
    .fetch_optional(pool)
    .await
    .map_err(|e| e.to_string())?;
    // What the copy cannot show: objects on the production column that
    // phase 5 refuses to drop it under.
    let production_engine = Engine::new(
        pool.clone(),
        production.clone(),
        options(None),
        journal.clone(),
    );
    let blockers = production_engine
        .unrestorable_dependents()
        .await
        .map_err(|e| e.to_string())?;
    rehearsals::set_sample(pool, id, sample_rows, source_rows, &blockers)
        .await
        .map_err(|e| e.to_string())?;
    let scratch = rehearse::scratch_recipe(production, id).map_err(|e| e.to_string())?;
    // The soak time is the production run's to wait, not the rehearsal's.
    let engine = Engine::new(pool.clone(), scratch, options(Some(0.0)), journal);
    rehearse::run_all(&engine, |step| {
        let (pool, step) = (pool.clone(), step.clone());
        async move {
            if let Err(e) = rehearsals::add_step(&pool, id, &step).await {
                tracing::warn!(rehearsal = id, error = %e, "recording a rehearsal step failed");
            }
        }
        .boxed()
    })
    .await;
    Ok(())
}

/// Ends every rehearsal recorded as running whose process is gone: its
/// scratch schema and objects dropped, recorded as failed. Errors are
/// logged (the next call tries again).
pub async fn recover(pool: &PgPool) {
    let running = match rehearsals::running(pool).await {
        Ok(running) => running,
        Err(e) => {
            tracing::warn!(error = %e, "listing running rehearsals failed");
            return;
        }
    };
    let held = format!("SELECT {}", lock_granted_sql("$1", "$2", "true"));
    for (id, _) in running {
        let name = rehearsal_name(id);
        let alive: Result<bool, _> = sqlx::query_scalar(&held)
            .bind(&name)
            .bind(REHEARSAL_LOCK)
            .fetch_one(pool)
            .await;
        if !matches!(alive, Ok(false)) {
            continue;
        }
        let lock = LockPolicy::default();
        let error = match rehearse::drop_scratch(pool, id, &lock).await {
            Ok(()) => {
                "interrupted: the server stopped while it ran; its scratch schema was dropped"
                    .to_string()
            }
            Err(e) => format!("interrupted, and dropping its scratch schema failed: {e}"),
        };
        if let Err(e) = rehearsals::finish(pool, id, Some(&error), actor::SYSTEM).await {
            tracing::warn!(rehearsal = id, error = %e, "recording an interrupted rehearsal failed");
        }
    }
}
