//! Rehearsals' records: one row per rehearsal with its report, and the
//! `migrations` row its engine runs under while it runs (marked
//! `rehearsal_of`, so no list shows it).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;

use super::events;
use super::{StoreError, StoreResult};
use crate::engine::rehearse::rehearsal_name;
use crate::engine::Event;
use crate::model::rehearsal::{RehearsalState, RehearsalView, RehearsedStep};

/// A rehearsal just recorded as running.
pub struct Started {
    pub id: i64,
    pub migration_id: i64,
}

/// Records a rehearsal of migration `name` on `percent` % as running, the
/// migration row its engine runs under, and the `RehearsalStarted` event,
/// together. Refused while another rehearsal of it runs.
pub async fn start(
    pool: &PgPool,
    name: &str,
    percent: f64,
    recipe_hash: &str,
    title: &str,
    actor: &str,
) -> StoreResult<Started> {
    let mut tx = pool.begin().await?;
    let migration_id: i64 = sqlx::query_scalar(
        "SELECT id FROM switchyard.migrations WHERE name = $1 AND rehearsal_of IS NULL FOR UPDATE",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))?;
    let running: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM switchyard.rehearsals WHERE migration_id = $1 AND state = 'running'",
    )
    .bind(migration_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(other) = running {
        return Err(StoreError::Conflict(format!(
            "rehearsal {other} of this migration is still running; wait for its report"
        )));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO switchyard.rehearsals (migration_id, percent, recipe_hash, started_by)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(migration_id)
    .bind(percent)
    .bind(recipe_hash)
    .bind(actor)
    .fetch_one(&mut *tx)
    .await?;
    let scratch = rehearsal_name(id);
    let inserted = sqlx::query(
        "INSERT INTO switchyard.migrations (name, title, rehearsal_of) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(&scratch)
    .bind(title)
    .bind(migration_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "a migration named {scratch:?} exists: rehearsals use that name; rename it to rehearse"
        )));
    }
    let event = Event::RehearsalStarted {
        rehearsal: id,
        percent,
    };
    events::append(&mut tx, migration_id, None, actor, &event).await?;
    tx.commit().await?;
    Ok(Started { id, migration_id })
}

/// What the copy found: rows copied, the production table's estimated
/// rows, and what phase 5 would refuse there.
pub async fn set_sample(
    pool: &PgPool,
    id: i64,
    sample_rows: i64,
    source_rows: Option<i64>,
    contract_blockers: &[String],
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE switchyard.rehearsals SET sample_rows = $2, source_rows = $3, contract_blockers = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(sample_rows)
    .bind(source_rows)
    .bind(contract_blockers)
    .execute(pool)
    .await?;
    Ok(())
}

/// Appends one measured step to the report.
pub async fn add_step(pool: &PgPool, id: i64, step: &RehearsedStep) -> StoreResult<()> {
    sqlx::query("UPDATE switchyard.rehearsals SET steps = steps || jsonb_build_array($2::jsonb) WHERE id = $1")
        .bind(id)
        .bind(Json(step))
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends rehearsal `id` if it is still running: failed when `failed_step`
/// (a step of the run ended in an error), when a step stored says so, or
/// on `error`; else passed. `scratch_dropped`: its scratch objects are
/// gone (if not, `recover` tries again). Its run's migration row (and so
/// its phase records and events) is removed and the `RehearsalFinished`
/// event recorded, together. None when it was no longer running (another
/// process ended it).
pub async fn finish(
    pool: &PgPool,
    id: i64,
    error: Option<&str>,
    failed_step: bool,
    scratch_dropped: bool,
    actor: &str,
) -> StoreResult<Option<RehearsalState>> {
    let mut tx = pool.begin().await?;
    let found: Option<(i64, bool)> = sqlx::query_as(
        "SELECT migration_id, EXISTS (SELECT 1 FROM jsonb_array_elements(steps) s
                                      WHERE s ->> 'error' IS NOT NULL)
         FROM switchyard.rehearsals WHERE id = $1 AND state = 'running' FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((migration_id, stored_failure)) = found else {
        return Ok(None);
    };
    let state = if failed_step || stored_failure || error.is_some() {
        RehearsalState::Failed
    } else {
        RehearsalState::Passed
    };
    sqlx::query(
        "UPDATE switchyard.rehearsals SET state = $2, error = $3, finished_at = now(), scratch_dropped = $4
         WHERE id = $1",
    )
    .bind(id)
    .bind(state.as_str())
    .bind(error)
    .bind(scratch_dropped)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM switchyard.migrations WHERE name = $1 AND rehearsal_of = $2")
        .bind(rehearsal_name(id))
        .bind(migration_id)
        .execute(&mut *tx)
        .await?;
    let event = Event::RehearsalFinished {
        rehearsal: id,
        passed: state == RehearsalState::Passed,
    };
    events::append(&mut tx, migration_id, None, actor, &event).await?;
    tx.commit().await?;
    Ok(Some(state))
}

/// Records that rehearsal `id`'s scratch objects are gone (a cleanup that
/// failed when it ended, done again).
pub async fn mark_dropped(pool: &PgPool, id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE switchyard.rehearsals SET scratch_dropped = true WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Rehearsals that may have left something: running for more than a
/// minute (the time their task has to take its lock), or ended with their
/// scratch objects not dropped. (id, still recorded as running.)
pub async fn to_clean(pool: &PgPool) -> StoreResult<Vec<(i64, bool)>> {
    Ok(sqlx::query_as(
        "SELECT id, state = 'running' FROM switchyard.rehearsals
         WHERE (state = 'running' AND started_at < now() - interval '1 minute')
            OR (state <> 'running' AND NOT scratch_dropped)
         ORDER BY id",
    )
    .fetch_all(pool)
    .await?)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    percent: f64,
    state: String,
    started_by: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    sample_rows: Option<i64>,
    source_rows: Option<i64>,
    steps: Json<Vec<RehearsedStep>>,
    contract_blockers: Vec<String>,
    error: Option<String>,
    recipe_hash: String,
}

/// The latest rehearsal of migration `name`, if any.
pub async fn latest(pool: &PgPool, name: &str) -> StoreResult<Option<RehearsalView>> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT r.id, r.percent, r.state, r.started_by, r.started_at, r.finished_at,
                r.sample_rows, r.source_rows, r.steps, r.contract_blockers, r.error, r.recipe_hash
         FROM switchyard.rehearsals r JOIN switchyard.migrations m ON m.id = r.migration_id
         WHERE m.name = $1 ORDER BY r.id DESC LIMIT 1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        let state = RehearsalState::parse(&r.state).ok_or_else(|| StoreError::Corrupt {
            what: format!("rehearsal {}", r.id),
            detail: format!("unknown state {:?}", r.state),
        })?;
        Ok(RehearsalView {
            id: r.id,
            percent: r.percent,
            state,
            started_by: r.started_by,
            started_at: r.started_at,
            finished_at: r.finished_at,
            sample_rows: r.sample_rows,
            source_rows: r.source_rows,
            steps: r.steps.0,
            contract_blockers: r.contract_blockers,
            error: r.error,
            recipe_hash: r.recipe_hash,
            stale: false,
        })
    })
    .transpose()
}
