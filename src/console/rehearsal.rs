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
use crate::engine::state::SessionLock;
use crate::engine::vocab::actor;
use crate::engine::vocab::RehearsedStep;
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
/// whatever goes wrong is the report's. It holds the rehearsal's lock
/// throughout; when the server ends the lock's session, it stops and
/// leaves the rehearsal to `recover`.
async fn run(pool: PgPool, production: Recipe, id: i64, percent: f64, actor: String) {
    let held = match SessionLock::try_acquire(&pool, REHEARSAL_LOCK, &rehearsal_name(id)).await {
        Ok(Some(held)) => Ok(held),
        Ok(None) => Err("another process holds this rehearsal".to_string()),
        Err(e) => Err(e.to_string()),
    };
    let lock = LockPolicy::default();
    let outcome = match &held {
        Ok(session) => {
            rehearse_locked(&pool, &production, id, percent, &actor, &lock, session).await
        }
        Err(e) => Err(e.clone()),
    };
    if let Ok(session) = &held {
        if !session.held().await {
            tracing::warn!(
                rehearsal = id,
                "a rehearsal lost its lock's session; left to recovery"
            );
            return;
        }
    }
    let failed_step = match &outcome {
        Ok(steps) => steps.iter().any(|s| s.error.is_some()),
        Err(_) => false,
    };
    let cleanup = rehearse::drop_scratch(&pool, id, &lock).await;
    let dropped = cleanup.is_ok();
    let error = match (outcome, cleanup) {
        (Err(e), Ok(())) => Some(e),
        (Err(e), Err(c)) => Some(format!("{e}; then dropping the scratch schema failed: {c}")),
        (Ok(_), Err(c)) => Some(format!("dropping the scratch schema failed: {c}")),
        (Ok(_), Ok(())) => None,
    };
    if let Err(e) =
        rehearsals::finish(&pool, id, error.as_deref(), failed_step, dropped, &actor).await
    {
        tracing::error!(rehearsal = id, error = %e, "recording the end of a rehearsal failed");
    }
    if let Ok(session) = held {
        session.release().await;
    }
}

/// The copy and the runs: the steps as run. `Err`: what stopped it before
/// the steps (a failed step is in the report, not here).
async fn rehearse_locked(
    pool: &PgPool,
    production: &Recipe,
    id: i64,
    percent: f64,
    actor: &str,
    lock: &LockPolicy,
    session: &SessionLock,
) -> Result<Vec<RehearsedStep>, String> {
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
    Ok(rehearse::run_all(&engine, |step| {
        let step = step.clone();
        async move {
            if let Err(e) = rehearsals::add_step(pool, id, &step).await {
                tracing::warn!(rehearsal = id, error = %e, "recording a rehearsal step failed");
            }
            // Only while this process still owns the rehearsal.
            session.held().await
        }
        .boxed()
    })
    .await)
}

/// Cleans up after every rehearsal whose process is gone: one recorded as
/// running whose lock nobody holds (a crash, a restart) has its scratch
/// objects dropped and is recorded as failed; one that ended without
/// dropping them has them dropped now. Each is done holding the
/// rehearsal's lock, so two processes never clean the same one, and a
/// live rehearsal (holding it) is never touched. Errors are logged (the
/// next call tries again).
pub async fn recover(pool: &PgPool) {
    let candidates = match rehearsals::to_clean(pool).await {
        Ok(candidates) => candidates,
        Err(e) => {
            tracing::warn!(error = %e, "listing rehearsals to clean up failed");
            return;
        }
    };
    for (id, running) in candidates {
        let held = match SessionLock::try_acquire(pool, REHEARSAL_LOCK, &rehearsal_name(id)).await {
            Ok(Some(held)) => held,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(rehearsal = id, error = %e, "taking a rehearsal's lock failed");
                continue;
            }
        };
        let lock = LockPolicy::default();
        let cleanup = rehearse::drop_scratch(pool, id, &lock).await;
        let dropped = cleanup.is_ok();
        let recorded = if running {
            let error = match cleanup {
                Ok(()) => {
                    "interrupted: the server stopped while it ran; its scratch schema was dropped"
                        .to_string()
                }
                Err(e) => format!("interrupted, and dropping its scratch schema failed: {e}"),
            };
            rehearsals::finish(pool, id, Some(&error), true, dropped, actor::SYSTEM)
                .await
                .map(|_| ())
        } else if dropped {
            rehearsals::mark_dropped(pool, id).await
        } else {
            Ok(())
        };
        if let Err(e) = recorded {
            tracing::warn!(rehearsal = id, error = %e, "recording a rehearsal's cleanup failed");
        }
        held.release().await;
    }
}
