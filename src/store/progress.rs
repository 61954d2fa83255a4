//! The migration's progress as the plan's Notion page shows it (each
//! phase's state, start and finish, who ran it, rows done and quarantined),
//! when it was last written there, and the per-migration setting that moves
//! a phase's tasks to Done when the phase finishes.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{events, StoreError, StoreResult};
use crate::engine::Event;
use crate::model::TaskStatus;

/// One phase's progress.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct PhaseProgress {
    pub position: i16,
    pub title: String,
    /// As stored (`pending`, `running`, `done`…).
    pub state: String,
    pub started_by: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The backfill's counts (phase 2 only).
    pub rows_done: Option<i64>,
    pub rows_total: Option<i64>,
    pub quarantined: Option<i64>,
}

/// Migration `name`'s phases' progress, in order.
pub async fn phases(pool: &PgPool, name: &str) -> StoreResult<Vec<PhaseProgress>> {
    Ok(sqlx::query_as(
        "SELECT ps.position, pp.title, ps.state, ps.started_by, ps.started_at, ps.finished_at,
                CASE WHEN ps.position = 2 THEN b.rows_done END AS rows_done,
                CASE WHEN ps.position = 2 THEN b.rows_total END AS rows_total,
                CASE WHEN ps.position = 2 THEN
                    (SELECT count(*) FROM switchyard.quarantine q WHERE q.migration_name = m.name)
                END AS quarantined
         FROM switchyard.phase_states ps
         JOIN switchyard.migrations m ON m.id = ps.migration_id
         JOIN switchyard.plan_phases pp ON pp.migration_id = ps.migration_id AND pp.position = ps.position
         LEFT JOIN switchyard.backfill_progress b ON b.migration_name = m.name
         WHERE m.name = $1 ORDER BY ps.position",
    )
    .bind(name)
    .fetch_all(pool)
    .await?)
}

/// What was last written of the progress to the plan's page, and when.
pub async fn last_written(
    pool: &PgPool,
    mid: i64,
) -> StoreResult<(Option<String>, Option<DateTime<Utc>>)> {
    let row: Option<(Option<String>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT progress_text, progress_written_at FROM switchyard.plan_sync WHERE migration_id = $1",
    )
    .bind(mid)
    .fetch_optional(pool)
    .await?;
    Ok(row.unwrap_or((None, None)))
}

/// The progress `text` was written to the plan's page at `at`.
pub async fn written(pool: &PgPool, mid: i64, text: &str, at: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query(
        "UPDATE switchyard.plan_sync
         SET progress_text = $2, progress_written_at = $3, progress_writes = progress_writes + 1
         WHERE migration_id = $1",
    )
    .bind(mid)
    .bind(text)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

/// A task page that shows its phase's progress: a mirrored task linked to
/// a phase, with what was last written there and when.
#[derive(Debug, sqlx::FromRow)]
pub struct TaskPageProgress {
    pub task_id: i64,
    pub page_id: String,
    pub phase: i16,
    pub last_text: Option<String>,
    pub written_at: Option<DateTime<Utc>>,
}

/// Migration `name`'s task pages linked to a phase.
pub async fn task_pages(pool: &PgPool, name: &str) -> StoreResult<Vec<TaskPageProgress>> {
    Ok(sqlx::query_as(
        "SELECT t.id AS task_id, t.notion_page_id AS page_id, t.phase_position AS phase,
                s.progress_text AS last_text, s.progress_written_at AS written_at
         FROM switchyard.tasks t
         JOIN switchyard.task_sync s ON s.task_id = t.id
         JOIN switchyard.migrations m ON m.id = t.migration_id
         WHERE m.name = $1 AND t.notion_page_id IS NOT NULL
           AND t.phase_position IS NOT NULL
         ORDER BY t.id",
    )
    .bind(name)
    .fetch_all(pool)
    .await?)
}

/// The progress `text` was written to task `task`'s page at `at`.
pub async fn task_written(
    pool: &PgPool,
    task: i64,
    text: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE switchyard.task_sync SET progress_text = $2, progress_written_at = $3
         WHERE task_id = $1",
    )
    .bind(task)
    .bind(text)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

/// A write to task `task`'s page failed at `at`: the next try waits an
/// interval like a write would (the text is kept: it still differs).
pub async fn task_attempted(pool: &PgPool, task: i64, at: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query("UPDATE switchyard.task_sync SET progress_written_at = $2 WHERE task_id = $1")
        .bind(task)
        .bind(at)
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether a phase's tasks move to Done when it finishes (off by default).
pub async fn tasks_done_with_phase(pool: &PgPool, name: &str) -> StoreResult<bool> {
    let on: Option<bool> = sqlx::query_scalar(
        "SELECT p.tasks_done_with_phase FROM switchyard.notion_progress p
         JOIN switchyard.migrations m ON m.id = p.migration_id WHERE m.name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    Ok(on.unwrap_or(false))
}

/// An operator turns moving a phase's tasks to Done on or off (an event).
/// Phases finished before it is turned on are not acted on.
pub async fn set_tasks_done_with_phase(
    pool: &PgPool,
    name: &str,
    on: bool,
    actor: &str,
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let mid: i64 = sqlx::query_scalar("SELECT id FROM switchyard.migrations WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))?;
    sqlx::query(
        "INSERT INTO switchyard.notion_progress (migration_id, tasks_done_with_phase, closed_phases, changed_by)
         VALUES ($1, $2,
                 (SELECT coalesce(array_agg(position), '{}') FROM switchyard.phase_states
                  WHERE migration_id = $1 AND state = 'done'),
                 $3)
         ON CONFLICT (migration_id) DO UPDATE
         SET tasks_done_with_phase = $2, changed_by = $3, changed_at = now(),
             closed_phases = CASE WHEN $2 AND NOT notion_progress.tasks_done_with_phase
                                  THEN excluded.closed_phases
                                  ELSE notion_progress.closed_phases END",
    )
    .bind(mid)
    .bind(on)
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    events::record(
        &mut tx,
        mid,
        actor,
        &Event::ProgressSetting {
            tasks_done_with_phase: on,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// With the setting on: the tasks of each phase that finished since it was
/// last looked at are moved to Done (each phase once, through the board's
/// own move: recorded, and mirrored to Notion), by "Switchyard (phase N
/// done)". Returns the tasks moved.
pub async fn close_finished_phases(pool: &PgPool, name: &str) -> StoreResult<Vec<i64>> {
    let row: Option<(i64, Vec<i16>)> = sqlx::query_as(
        "SELECT p.migration_id,
                coalesce(array_agg(ps.position) FILTER (WHERE ps.position IS NOT NULL), '{}')
         FROM switchyard.notion_progress p
         JOIN switchyard.migrations m ON m.id = p.migration_id
         LEFT JOIN switchyard.phase_states ps ON ps.migration_id = p.migration_id
              AND ps.state = 'done' AND NOT ps.position = ANY(p.closed_phases)
         WHERE m.name = $1 AND p.tasks_done_with_phase
         GROUP BY p.migration_id",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    let Some((mid, finished)) = row else {
        return Ok(Vec::new());
    };
    if finished.is_empty() {
        return Ok(Vec::new());
    }
    // The tasks move first, and only then is the phase recorded as acted
    // on: a writer stopped in between (a crash, an aborted turn) leaves the
    // phase to the next turn, which finds its moved tasks Done already. The
    // other way round, the phase was closed with its tasks never moved.
    let tasks: Vec<(i64, i32, i16)> = sqlx::query_as(
        "SELECT id, revision, phase_position FROM switchyard.tasks
         WHERE migration_id = $1 AND phase_position = ANY($2) AND status <> $3 ORDER BY id",
    )
    .bind(mid)
    .bind(&finished)
    .bind(TaskStatus::Done.as_str())
    .fetch_all(pool)
    .await?;
    let mut moved = Vec::new();
    for (task, revision, phase) in tasks {
        let actor = format!("Switchyard (phase {phase} done)");
        match super::tasks::move_task(pool, name, task, TaskStatus::Done, revision, &actor).await {
            Ok(_) => moved.push(task),
            // Changed meanwhile by someone (or moved by another writer):
            // left as it is.
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    sqlx::query(
        "UPDATE switchyard.notion_progress
         SET closed_phases = ARRAY(SELECT DISTINCT unnest(closed_phases || $2::smallint[]))
         WHERE migration_id = $1",
    )
    .bind(mid)
    .bind(&finished)
    .execute(pool)
    .await?;
    Ok(moved)
}
