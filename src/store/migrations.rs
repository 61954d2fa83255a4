//! Reading a migration and its documents: summary, spec, plan, tasks, phases.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::collections::HashMap;

use super::{StoreError, StoreResult};
use crate::domain::phases::{blocked_by, current_phase};
use crate::model::notion::Block;
use crate::model::{
    Criterion, MigrationSummary, Phase, PhaseHeadline, PhaseState, PhaseView, PlanView, Priority,
    SpecView, TaskProgress, TaskRef, TaskStatus, TaskView,
};

/// A migration's id (looked up by name).
#[derive(sqlx::FromRow)]
struct MigrationRow {
    id: i64,
}

#[derive(sqlx::FromRow)]
struct PhaseRow {
    migration_id: i64,
    position: Phase,
    title: String,
    description: String,
    owner: Option<String>,
    status_note: String,
    blockers: String,
    depends_on: Vec<Phase>,
    state: String,
    changed_at: DateTime<Utc>,
}

/// Every migration with its current phase, by name.
#[tracing::instrument(skip(pool))]
pub async fn list_summaries(pool: &PgPool) -> StoreResult<Vec<MigrationSummary>> {
    let rows: Vec<SummaryRow> = sqlx::query_as(&summary_sql("true"))
        .bind(PhaseState::Pending)
        .bind(TaskStatus::Done.as_str())
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(SummaryRow::summary).collect()
}

/// One migration's summary; `NotFound` when there is no such migration.
#[tracing::instrument(skip(pool))]
pub async fn find_summary(pool: &PgPool, name: &str) -> StoreResult<MigrationSummary> {
    let row: Option<SummaryRow> = sqlx::query_as(&summary_sql("m.name = $3"))
        .bind(PhaseState::Pending)
        .bind(TaskStatus::Done.as_str())
        .bind(name)
        .fetch_optional(pool)
        .await?;
    row.ok_or_else(|| not_found(name))?.summary()
}

/// Migrations (those `filter` keeps) with their phases' positions, titles
/// and states in order (`$1`: the state of a phase without a state row) and
/// their tasks, all and done (`$2`: the done status): one statement for a
/// page's header or the home page.
fn summary_sql(filter: &str) -> String {
    format!(
        "SELECT m.name, m.title, m.description, m.updated_at,
                coalesce(ph.positions, '{{}}') AS phase_positions,
                coalesce(ph.titles, '{{}}') AS phase_titles,
                coalesce(ph.states, '{{}}') AS phase_states,
                t.total AS tasks_total, t.done AS tasks_done
         FROM switchyard.migrations m
         LEFT JOIN LATERAL (
             SELECT array_agg(p.position ORDER BY p.position) AS positions,
                    array_agg(p.title ORDER BY p.position) AS titles,
                    array_agg(coalesce(s.state, $1) ORDER BY p.position) AS states
             FROM switchyard.plan_phases p
             LEFT JOIN switchyard.phase_states s
                    ON s.migration_id = p.migration_id AND s.position = p.position
             WHERE p.migration_id = m.id) ph ON true
         CROSS JOIN LATERAL (
             SELECT count(*) AS total, count(*) FILTER (WHERE t.status = $2) AS done
             FROM switchyard.tasks t WHERE t.migration_id = m.id) t
         WHERE m.rehearsal_of IS NULL AND {filter}
         ORDER BY m.name"
    )
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    name: String,
    title: String,
    description: String,
    updated_at: DateTime<Utc>,
    phase_positions: Vec<Phase>,
    phase_titles: Vec<String>,
    phase_states: Vec<String>,
    tasks_total: i64,
    tasks_done: i64,
}

impl SummaryRow {
    fn summary(self) -> StoreResult<MigrationSummary> {
        let mut phases = Vec::with_capacity(self.phase_positions.len());
        for ((position, title), state) in self
            .phase_positions
            .into_iter()
            .zip(self.phase_titles)
            .zip(self.phase_states)
        {
            let state = PhaseState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                what: format!("state of phase {position}"),
                detail: format!("unknown state {state:?}"),
            })?;
            phases.push(PhaseHeadline {
                position,
                title,
                state,
            });
        }
        Ok(MigrationSummary {
            phases_done: phases
                .iter()
                .filter(|p| p.state == PhaseState::Done)
                .count(),
            phases_total: phases.len(),
            current_phase: current_phase(phases),
            name: self.name,
            title: self.title,
            description: self.description,
            tasks_done: self.tasks_done as usize,
            tasks_total: self.tasks_total as usize,
            updated_at: self.updated_at,
        })
    }
}

async fn find_row(pool: &PgPool, name: &str) -> StoreResult<MigrationRow> {
    sqlx::query_as("SELECT id FROM switchyard.migrations WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| not_found(name))
}

fn not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!("migration {name:?}"))
}

/// Phases (document and runtime state together) of several migrations,
/// each with what it waits for and the progress of its tasks.
async fn phases_for(pool: &PgPool, ids: &[i64]) -> StoreResult<HashMap<i64, Vec<PhaseView>>> {
    let rows: Vec<PhaseRow> = sqlx::query_as(
        "SELECT p.migration_id, p.position, p.title, p.description, p.owner, p.status_note, p.blockers,
                coalesce(array_agg(d.depends_on ORDER BY d.depends_on)
                         FILTER (WHERE d.depends_on IS NOT NULL), '{}') AS depends_on,
                coalesce(s.state, $2) AS state,
                coalesce(s.changed_at, now()) AS changed_at
         FROM switchyard.plan_phases p
         LEFT JOIN switchyard.plan_phase_dependencies d
                ON d.migration_id = p.migration_id AND d.position = p.position
         LEFT JOIN switchyard.phase_states s
                ON s.migration_id = p.migration_id AND s.position = p.position
         WHERE p.migration_id = ANY($1)
         GROUP BY p.migration_id, p.position, s.state, s.changed_at
         ORDER BY p.migration_id, p.position",
    )
    .bind(ids)
    .bind(PhaseState::Pending)
    .fetch_all(pool)
    .await?;
    // Per migration and phase.
    let progress: Vec<(i64, Option<Phase>, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT t.migration_id, t.phase_position, count(DISTINCT t.id),
                count(DISTINCT t.id) FILTER (WHERE t.status = $2),
                count(c.id), count(c.id) FILTER (WHERE c.done)
         FROM switchyard.tasks t LEFT JOIN switchyard.acceptance_criteria c ON c.task_id = t.id
         WHERE t.migration_id = ANY($1)
         GROUP BY t.migration_id, t.phase_position",
    )
    .bind(ids)
    .bind(TaskStatus::Done.as_str())
    .fetch_all(pool)
    .await?;
    let progress_of = |migration: i64, position: Phase| {
        progress
            .iter()
            .find(|p| p.0 == migration && p.1 == Some(position))
            .map(|p| TaskProgress {
                tasks: p.2 as usize,
                tasks_done: p.3 as usize,
                criteria: p.4 as usize,
                criteria_done: p.5 as usize,
            })
            .unwrap_or_default()
    };
    let mut out: HashMap<i64, Vec<PhaseView>> = HashMap::new();
    for row in rows {
        let tasks = progress_of(row.migration_id, row.position);
        let state = PhaseState::parse(&row.state).ok_or_else(|| StoreError::Corrupt {
            what: format!("state of phase {}", row.position),
            detail: format!("unknown state {:?}", row.state),
        })?;
        out.entry(row.migration_id).or_default().push(PhaseView {
            position: row.position,
            title: row.title,
            description: row.description,
            owner: row.owner,
            status_note: row.status_note,
            blockers: row.blockers,
            depends_on: row.depends_on,
            waiting: None,
            state,
            state_changed_at: row.changed_at,
            tasks,
        });
    }
    for phases in out.values_mut() {
        let waiting: Vec<Option<String>> = phases.iter().map(|p| blocked_by(p, phases)).collect();
        for (phase, waiting) in phases.iter_mut().zip(waiting) {
            phase.waiting = waiting;
        }
    }
    Ok(out)
}

/// The five phases of one migration, in order.
#[tracing::instrument(skip(pool))]
pub async fn phases(pool: &PgPool, name: &str) -> StoreResult<Vec<PhaseView>> {
    let row = find_row(pool, name).await?;
    Ok(phases_for(pool, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default())
}

#[derive(sqlx::FromRow)]
struct SpecRow {
    title: String,
    blocks: sqlx::types::Json<serde_json::Value>,
    notion_page_id: Option<String>,
    fetched_at: DateTime<Utc>,
}

#[tracing::instrument(skip(pool))]
pub async fn spec(pool: &PgPool, name: &str) -> StoreResult<SpecView> {
    let row: SpecRow = sqlx::query_as(
        "SELECT s.title, s.blocks, s.notion_page_id, s.fetched_at
         FROM switchyard.specs s JOIN switchyard.migrations m ON m.id = s.migration_id
         WHERE m.name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("spec of migration {name:?}")))?;
    let blocks: Vec<Block> =
        serde_json::from_value(row.blocks.0).map_err(|e| StoreError::Corrupt {
            what: format!("spec of migration {name:?}"),
            detail: e.to_string(),
        })?;
    Ok(SpecView {
        title: row.title,
        blocks,
        notion_page_id: row.notion_page_id,
        fetched_at: row.fetched_at,
    })
}

#[derive(sqlx::FromRow)]
struct PlanRow {
    migration_id: i64,
    title: String,
    body_markdown: String,
    revision: i32,
    notion_page_id: Option<String>,
    updated_at: DateTime<Utc>,
}

#[tracing::instrument(skip(pool))]
pub async fn plan(pool: &PgPool, name: &str) -> StoreResult<PlanView> {
    let row: PlanRow = sqlx::query_as(
        "SELECT p.migration_id, p.title, p.body_markdown, p.revision, p.notion_page_id, p.updated_at
         FROM switchyard.plans p JOIN switchyard.migrations m ON m.id = p.migration_id
         WHERE m.name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("plan of migration {name:?}")))?;
    let phases = phases_for(pool, &[row.migration_id])
        .await?
        .remove(&row.migration_id)
        .unwrap_or_default();
    Ok(PlanView {
        title: row.title,
        body_markdown: row.body_markdown,
        revision: row.revision,
        updated_at: row.updated_at,
        notion_page_id: row.notion_page_id,
        phases,
    })
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    title: String,
    status: String,
    priority: String,
    assignee: Option<String>,
    sprint: Option<String>,
    phase_position: Option<Phase>,
    revision: i32,
    updated_at: DateTime<Utc>,
    notion_page_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct CriterionRow {
    id: i64,
    task_id: i64,
    text: String,
    done: bool,
}

#[derive(sqlx::FromRow)]
struct DependencyRow {
    task_id: i64,
    depends_on: i64,
}

/// The tasks of one migration, in board order, with dependencies and criteria.
#[tracing::instrument(skip(pool))]
pub async fn tasks(pool: &PgPool, name: &str) -> StoreResult<Vec<TaskView>> {
    let migration = find_row(pool, name).await?;
    let mut conn = pool.acquire().await?;
    tasks_of(&mut conn, migration.id).await
}

/// One task as the board shows it, read in the caller's transaction.
pub async fn task_in(conn: &mut sqlx::PgConnection, task: i64) -> StoreResult<TaskView> {
    let migration: Option<i64> =
        sqlx::query_scalar("SELECT migration_id FROM switchyard.tasks WHERE id = $1")
            .bind(task)
            .fetch_optional(&mut *conn)
            .await?;
    let migration = migration.ok_or_else(|| StoreError::NotFound(format!("task {task}")))?;
    tasks_of(conn, migration)
        .await?
        .into_iter()
        .find(|t| t.id == task)
        .ok_or_else(|| StoreError::NotFound(format!("task {task}")))
}

/// The tasks of the migration with id `migration`, in board order.
pub async fn tasks_of(conn: &mut sqlx::PgConnection, migration: i64) -> StoreResult<Vec<TaskView>> {
    let rows: Vec<TaskRow> = sqlx::query_as(
        "SELECT id, title, status, priority, assignee, sprint, phase_position, revision,
                updated_at, notion_page_id
         FROM switchyard.tasks WHERE migration_id = $1 ORDER BY rank, id",
    )
    .bind(migration)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let criteria: Vec<CriterionRow> = sqlx::query_as(
        "SELECT id, task_id, text, done FROM switchyard.acceptance_criteria
         WHERE task_id = ANY($1) ORDER BY task_id, position",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let deps: Vec<DependencyRow> = sqlx::query_as(
        "SELECT task_id, depends_on FROM switchyard.task_dependencies
         WHERE task_id = ANY($1) ORDER BY task_id, depends_on",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;

    let open_conflicts: Vec<(i64, String)> = sqlx::query_as(
        "SELECT task_id, field FROM switchyard.task_conflicts
         WHERE task_id = ANY($1) AND resolved_at IS NULL ORDER BY task_id, field",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut conflicts_by_task: HashMap<i64, Vec<String>> = HashMap::new();
    for (task, field) in open_conflicts {
        conflicts_by_task.entry(task).or_default().push(field);
    }

    let mut criteria_by_task: HashMap<i64, Vec<Criterion>> = HashMap::new();
    for c in criteria {
        criteria_by_task
            .entry(c.task_id)
            .or_default()
            .push(Criterion {
                id: c.id,
                text: c.text,
                done: c.done,
            });
    }

    let mut parsed = Vec::with_capacity(rows.len());
    for row in rows {
        let status = TaskStatus::parse(&row.status).ok_or_else(|| StoreError::Corrupt {
            what: format!("status of task {}", row.id),
            detail: format!("unknown status {:?}", row.status),
        })?;
        let priority = Priority::parse(&row.priority).ok_or_else(|| StoreError::Corrupt {
            what: format!("priority of task {}", row.id),
            detail: format!("unknown priority {:?}", row.priority),
        })?;
        parsed.push((row, status, priority));
    }
    let refs: HashMap<i64, TaskRef> = parsed
        .iter()
        .map(|(row, status, _)| {
            (
                row.id,
                TaskRef {
                    id: row.id,
                    title: row.title.clone(),
                    status: *status,
                },
            )
        })
        .collect();
    let mut deps_by_task: HashMap<i64, Vec<TaskRef>> = HashMap::new();
    for d in deps {
        if let Some(r) = refs.get(&d.depends_on) {
            deps_by_task.entry(d.task_id).or_default().push(r.clone());
        }
    }

    Ok(parsed
        .into_iter()
        .map(|(row, status, priority)| TaskView {
            depends_on: deps_by_task.remove(&row.id).unwrap_or_default(),
            criteria: criteria_by_task.remove(&row.id).unwrap_or_default(),
            id: row.id,
            title: row.title,
            status,
            priority,
            assignee: row.assignee,
            sprint: row.sprint,
            phase_position: row.phase_position,
            revision: row.revision,
            updated_at: row.updated_at,
            notion_page_id: row.notion_page_id,
            conflicts: conflicts_by_task.remove(&row.id).unwrap_or_default(),
        })
        .collect())
}
