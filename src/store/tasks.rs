//! Changing tasks: status moves, acceptance criteria, create / edit / delete.
//! Every change checks the caller's revision (optimistic concurrency), bumps
//! it, stamps updated_at, and is recorded in the event log, in one
//! transaction: nothing is half-saved.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::{StoreError, StoreResult};
use crate::engine::Event;
use crate::model::{Phase, Priority, TaskStatus};

/// A new or edited task, as submitted (already parsed into domain types).
#[derive(Clone, Debug)]
pub struct TaskInput {
    pub title: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub assignee: Option<String>,
    pub sprint: Option<String>,
    pub phase_position: Option<Phase>,
    pub depends_on: Vec<i64>,
    pub criteria: Vec<String>,
}

fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

impl TaskInput {
    /// Checks lengths and trims; every problem names its field.
    pub fn validate(mut self) -> StoreResult<Self> {
        self.title = self.title.trim().to_string();
        if self.title.is_empty() {
            return Err(invalid("title", "a task needs a title"));
        }
        if self.title.chars().count() > 200 {
            return Err(invalid("title", "at most 200 characters"));
        }
        for (field, value) in [
            ("assignee", &mut self.assignee),
            ("sprint", &mut self.sprint),
        ] {
            if let Some(v) = value.as_mut() {
                *v = v.trim().to_string();
                if v.chars().count() > 100 {
                    return Err(invalid(field, "at most 100 characters"));
                }
            }
            if value.as_deref() == Some("") {
                *value = None;
            }
        }
        self.criteria = self
            .criteria
            .into_iter()
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if let Some(long) = self.criteria.iter().find(|c| c.chars().count() > 500) {
            return Err(invalid(
                "criteria",
                format!("at most 500 characters: {:.40}…", long),
            ));
        }
        if self.criteria.len() > 50 {
            return Err(invalid("criteria", "at most 50 acceptance criteria"));
        }
        self.depends_on.sort_unstable();
        self.depends_on.dedup();
        Ok(self)
    }
}

async fn migration_id(tx: &mut Transaction<'_, Postgres>, name: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT id FROM switchyard.migrations WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))
}

/// Locks the task and checks it belongs to the migration and is at `revision`.
async fn lock_task(
    tx: &mut Transaction<'_, Postgres>,
    migration_id: i64,
    task_id: i64,
    revision: i32,
) -> StoreResult<()> {
    let current: Option<(i64, i32)> = sqlx::query_as(
        "SELECT migration_id, revision FROM switchyard.tasks WHERE id = $1 FOR UPDATE",
    )
    .bind(task_id)
    .fetch_optional(&mut **tx)
    .await?;
    match current {
        Some((m, _)) if m != migration_id => Err(StoreError::NotFound(format!("task {task_id}"))),
        None => Err(StoreError::NotFound(format!("task {task_id}"))),
        Some((_, r)) if r != revision => Err(StoreError::Conflict(format!(
            "task {task_id} was changed by someone else (revision {r}, you had {revision}); reload to see it"
        ))),
        Some(_) => Ok(()),
    }
}

async fn bump(tx: &mut Transaction<'_, Postgres>, task_id: i64) -> StoreResult<i32> {
    Ok(sqlx::query_scalar(
        "UPDATE switchyard.tasks SET revision = revision + 1, updated_at = now() WHERE id = $1 RETURNING revision",
    )
    .bind(task_id)
    .fetch_one(&mut **tx)
    .await?)
}

async fn record(
    tx: &mut PgConnection,
    migration_id: i64,
    actor: &str,
    event: Event,
) -> StoreResult<()> {
    super::events::record(tx, migration_id, actor, &event).await
}

/// Moves a card to another column. Returns the new revision.
pub async fn move_task(
    pool: &PgPool,
    name: &str,
    task_id: i64,
    status: TaskStatus,
    revision: i32,
    actor: &str,
) -> StoreResult<i32> {
    let mut tx = pool.begin().await?;
    let mid = migration_id(&mut tx, name).await?;
    lock_task(&mut tx, mid, task_id, revision).await?;
    sqlx::query("UPDATE switchyard.tasks SET status = $2 WHERE id = $1")
        .bind(task_id)
        .bind(status.as_str())
        .execute(&mut *tx)
        .await?;
    let rev = bump(&mut tx, task_id).await?;
    record(
        &mut tx,
        mid,
        actor,
        Event::TaskMoved {
            task: task_id,
            status: status.as_str().to_string(),
        },
    )
    .await?;
    super::task_sync::board_changed(&mut tx, mid, task_id, actor).await?;
    tx.commit().await?;
    Ok(rev)
}

/// Ticks or unticks one acceptance criterion. Returns the task's new revision.
pub async fn set_criterion(
    pool: &PgPool,
    name: &str,
    criterion_id: i64,
    done: bool,
    actor: &str,
) -> StoreResult<i32> {
    let mut tx = pool.begin().await?;
    let mid = migration_id(&mut tx, name).await?;
    let task_id: Option<i64> = sqlx::query_scalar(
        "SELECT c.task_id FROM switchyard.acceptance_criteria c
         JOIN switchyard.tasks t ON t.id = c.task_id
         WHERE c.id = $1 AND t.migration_id = $2 FOR UPDATE OF c, t",
    )
    .bind(criterion_id)
    .bind(mid)
    .fetch_optional(&mut *tx)
    .await?;
    let task_id = task_id
        .ok_or_else(|| StoreError::NotFound(format!("acceptance criterion {criterion_id}")))?;
    sqlx::query("UPDATE switchyard.acceptance_criteria SET done = $2 WHERE id = $1")
        .bind(criterion_id)
        .bind(done)
        .execute(&mut *tx)
        .await?;
    let rev = bump(&mut tx, task_id).await?;
    record(
        &mut tx,
        mid,
        actor,
        Event::Criterion {
            task: task_id,
            criterion: criterion_id,
            done,
        },
    )
    .await?;
    super::task_sync::board_changed(&mut tx, mid, task_id, actor).await?;
    tx.commit().await?;
    Ok(rev)
}

/// Checks dependencies: same migration, no cycle (including through `task`).
async fn check_dependencies(
    tx: &mut PgConnection,
    migration_id: i64,
    task: Option<i64>,
    deps: &[i64],
) -> StoreResult<()> {
    if deps.is_empty() {
        return Ok(());
    }
    let foreign: Vec<i64> = sqlx::query_scalar(
        "SELECT d FROM unnest($1::bigint[]) AS d
         WHERE NOT EXISTS (SELECT 1 FROM switchyard.tasks t WHERE t.id = d AND t.migration_id = $2)",
    )
    .bind(deps)
    .bind(migration_id)
    .fetch_all(&mut *tx)
    .await?;
    if let Some(f) = foreign.first() {
        return Err(invalid(
            "depends_on",
            format!("task {f} is not a task of this migration"),
        ));
    }
    if let Some(task) = task {
        if deps.contains(&task) {
            return Err(invalid("depends_on", "a task cannot depend on itself"));
        }
        // Would `task` become reachable from one of its new dependencies?
        let cycle: bool = sqlx::query_scalar(
            "WITH RECURSIVE reach(id) AS (
                 SELECT unnest($1::bigint[])
                 UNION
                 SELECT d.depends_on FROM switchyard.task_dependencies d JOIN reach r ON d.task_id = r.id
                 WHERE d.task_id <> $2
             )
             SELECT EXISTS (SELECT 1 FROM reach r JOIN switchyard.task_dependencies d
                            ON d.task_id = r.id WHERE d.depends_on = $2)
                 OR EXISTS (SELECT 1 FROM reach WHERE id = $2)",
        )
        .bind(deps)
        .bind(task)
        .fetch_one(&mut *tx)
        .await?;
        if cycle {
            return Err(invalid("depends_on", "that would make a dependency cycle"));
        }
    }
    Ok(())
}

async fn write_details(tx: &mut PgConnection, task_id: i64, input: &TaskInput) -> StoreResult<()> {
    sqlx::query("DELETE FROM switchyard.task_dependencies WHERE task_id = $1")
        .bind(task_id)
        .execute(&mut *tx)
        .await?;
    for d in &input.depends_on {
        sqlx::query(
            "INSERT INTO switchyard.task_dependencies (task_id, depends_on) VALUES ($1, $2)",
        )
        .bind(task_id)
        .bind(d)
        .execute(&mut *tx)
        .await?;
    }
    // Keep the ticks of criteria whose text did not change.
    let old: Vec<(String, bool)> =
        sqlx::query_as("SELECT text, done FROM switchyard.acceptance_criteria WHERE task_id = $1")
            .bind(task_id)
            .fetch_all(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM switchyard.acceptance_criteria WHERE task_id = $1")
        .bind(task_id)
        .execute(&mut *tx)
        .await?;
    for (i, text) in input.criteria.iter().enumerate() {
        let done = old.iter().any(|(t, d)| t == text && *d);
        sqlx::query(
            "INSERT INTO switchyard.acceptance_criteria (task_id, position, text, done) VALUES ($1, $2, $3, $4)",
        )
        .bind(task_id)
        .bind(i as i32)
        .bind(text)
        .bind(done)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

pub async fn create_task(
    pool: &PgPool,
    name: &str,
    input: TaskInput,
    actor: &str,
) -> StoreResult<i64> {
    let input = input.validate()?;
    let mut tx = pool.begin().await?;
    let mid = migration_id(&mut tx, name).await?;
    let id = insert_task(&mut tx, mid, &input, actor).await?;
    super::task_sync::board_changed(&mut tx, mid, id, actor).await?;
    tx.commit().await?;
    Ok(id)
}

/// Inserts a (validated) task with its details and its event, in the
/// caller's transaction. Returns its id.
pub async fn insert_task(
    tx: &mut PgConnection,
    mid: i64,
    input: &TaskInput,
    actor: &str,
) -> StoreResult<i64> {
    check_dependencies(tx, mid, None, &input.depends_on).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO switchyard.tasks (migration_id, title, status, priority, assignee, sprint, phase_position, rank)
         VALUES ($1, $2, $3, $4, $5, $6, $7,
                 (SELECT coalesce(max(rank), 0) + 1 FROM switchyard.tasks WHERE migration_id = $1))
         RETURNING id",
    )
    .bind(mid)
    .bind(&input.title)
    .bind(input.status.as_str())
    .bind(input.priority.as_str())
    .bind(&input.assignee)
    .bind(&input.sprint)
    .bind(input.phase_position)
    .fetch_one(&mut *tx)
    .await?;
    write_details(tx, id, input).await?;
    record(
        tx,
        mid,
        actor,
        Event::TaskCreated {
            task: id,
            title: input.title.clone(),
        },
    )
    .await?;
    Ok(id)
}

pub async fn update_task(
    pool: &PgPool,
    name: &str,
    task_id: i64,
    revision: i32,
    input: TaskInput,
    actor: &str,
) -> StoreResult<i32> {
    let input = input.validate()?;
    let mut tx = pool.begin().await?;
    let mid = migration_id(&mut tx, name).await?;
    lock_task(&mut tx, mid, task_id, revision).await?;
    check_dependencies(&mut tx, mid, Some(task_id), &input.depends_on).await?;
    sqlx::query(
        "UPDATE switchyard.tasks SET title = $2, status = $3, priority = $4, assignee = $5, sprint = $6,
             phase_position = $7 WHERE id = $1",
    )
    .bind(task_id)
    .bind(&input.title)
    .bind(input.status.as_str())
    .bind(input.priority.as_str())
    .bind(&input.assignee)
    .bind(&input.sprint)
    .bind(input.phase_position)
    .execute(&mut *tx)
    .await?;
    write_details(&mut tx, task_id, &input).await?;
    let rev = bump(&mut tx, task_id).await?;
    record(&mut tx, mid, actor, Event::TaskEdited { task: task_id }).await?;
    super::task_sync::board_changed(&mut tx, mid, task_id, actor).await?;
    tx.commit().await?;
    Ok(rev)
}

pub async fn delete_task(
    pool: &PgPool,
    name: &str,
    task_id: i64,
    revision: i32,
    actor: &str,
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let mid = migration_id(&mut tx, name).await?;
    lock_task(&mut tx, mid, task_id, revision).await?;
    let page: Option<String> =
        sqlx::query_scalar("DELETE FROM switchyard.tasks WHERE id = $1 RETURNING notion_page_id")
            .bind(task_id)
            .fetch_one(&mut *tx)
            .await?;
    record(&mut tx, mid, actor, Event::TaskDeleted { task: task_id }).await?;
    super::task_sync::board_deleted(&mut tx, mid, task_id, page, actor).await?;
    tx.commit().await?;
    Ok(())
}
