//! Tasks mirrored with a Notion data source: the migration's link to it
//! (`switchyard.notion_task_links`: the mapping, proposed then confirmed),
//! each linked task's values as last synced per side
//! (`switchyard.task_sync`), conflicts (`switchyard.task_conflicts`), and
//! the outbox items board changes queue in their own transaction.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};

use super::outbox::{self, About, OutboxItem, OutboxKind};
use super::{events, StoreError, StoreResult};
use crate::engine::Event;
use crate::model::mirror::{PropertyChoice, TaskField, TaskMapping};
use crate::notion::tasks::Side;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TaskLink {
    pub migration_id: i64,
    pub migration_name: String,
    pub database_id: Option<String>,
    pub data_source_id: String,
    pub data_source_name: String,
    pub properties: Json<Vec<PropertyChoice>>,
    pub mapping: Json<TaskMapping>,
    pub connected_by: String,
    pub connected_at: DateTime<Utc>,
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub pages_queued_at: Option<DateTime<Utc>>,
    pub polled_at: Option<DateTime<Utc>>,
    pub polls: i64,
}

const LINK_COLUMNS: &str = "l.migration_id, m.name AS migration_name, l.database_id,
    l.data_source_id, l.data_source_name, l.properties, l.mapping, l.connected_by, l.connected_at,
    l.confirmed_by, l.confirmed_at, l.pages_queued_at, l.polled_at, l.polls";

async fn migration_id(conn: &mut PgConnection, name: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT id FROM switchyard.migrations WHERE name = $1 FOR UPDATE")
        .bind(name)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: what.into(),
        detail: e.to_string(),
    }
}

/// When the migration's tasks were sent to Notion: None when no task
/// database is connected, Some(None) before "Create tasks in Notion".
async fn pages_queued(
    conn: &mut PgConnection,
    mid: i64,
) -> StoreResult<Option<Option<DateTime<Utc>>>> {
    Ok(sqlx::query_scalar(
        "SELECT pages_queued_at FROM switchyard.notion_task_links WHERE migration_id = $1",
    )
    .bind(mid)
    .fetch_optional(conn)
    .await?)
}

/// What "connect the task database" stores.
pub struct NewLink<'a> {
    pub database_id: Option<String>,
    pub data_source_id: String,
    pub data_source_name: String,
    pub properties: &'a [PropertyChoice],
    pub mapping: &'a TaskMapping,
}

/// Connects migration `name`'s tasks to a data source with a proposed
/// mapping (not confirmed). Refused once tasks were sent to Notion.
pub async fn connect(pool: &PgPool, name: &str, link: NewLink<'_>, actor: &str) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let mid = migration_id(&mut tx, name).await?;
    let queued = pages_queued(&mut tx, mid).await?;
    if matches!(queued, Some(Some(_))) {
        return Err(StoreError::Conflict(
            "the tasks are in Notion already: the task database cannot be changed".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO switchyard.notion_task_links
             (migration_id, database_id, data_source_id, data_source_name, properties, mapping,
              connected_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (migration_id) DO UPDATE SET database_id = $2, data_source_id = $3,
             data_source_name = $4, properties = $5, mapping = $6, connected_by = $7,
             connected_at = now(), confirmed_by = NULL, confirmed_at = NULL",
    )
    .bind(mid)
    .bind(&link.database_id)
    .bind(&link.data_source_id)
    .bind(&link.data_source_name)
    .bind(Json(link.properties))
    .bind(Json(link.mapping))
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    events::record(
        &mut tx,
        mid,
        actor,
        &Event::TaskDbConnected {
            data_source: link.data_source_id.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Migration `name`'s task database, if connected.
pub async fn link(pool: &PgPool, name: &str) -> StoreResult<Option<TaskLink>> {
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM switchyard.notion_task_links l
         JOIN switchyard.migrations m ON m.id = l.migration_id WHERE m.name = $1"
    );
    Ok(sqlx::query_as(&sql).bind(name).fetch_optional(pool).await?)
}

/// Every link whose tasks are mirrored (pages asked for): what the poller
/// visits.
pub async fn mirrored_links(pool: &PgPool) -> StoreResult<Vec<TaskLink>> {
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM switchyard.notion_task_links l
         JOIN switchyard.migrations m ON m.id = l.migration_id
         WHERE l.pages_queued_at IS NOT NULL ORDER BY l.migration_id"
    );
    Ok(sqlx::query_as(&sql).fetch_all(pool).await?)
}

/// The operator's mapping (confirmed as it is, or changed). Refused once
/// tasks were sent to Notion.
pub async fn confirm(
    pool: &PgPool,
    name: &str,
    mapping: &TaskMapping,
    actor: &str,
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let mid = migration_id(&mut tx, name).await?;
    let queued = pages_queued(&mut tx, mid).await?;
    match queued {
        None => {
            return Err(StoreError::Invalid {
                field: "mapping".into(),
                message: "connect a task database first".into(),
            })
        }
        Some(Some(_)) => {
            return Err(StoreError::Conflict(
                "the tasks are in Notion already: the mapping cannot change".into(),
            ))
        }
        Some(None) => {}
    }
    sqlx::query(
        "UPDATE switchyard.notion_task_links
         SET mapping = $2, confirmed_by = $3, confirmed_at = now() WHERE migration_id = $1",
    )
    .bind(mid)
    .bind(Json(mapping))
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    events::record(&mut tx, mid, actor, &Event::TaskMappingConfirmed).await?;
    tx.commit().await?;
    Ok(())
}

/// A `create_task_page` item's payload.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CreateTaskPage {
    pub task: i64,
    /// Written into the page's first block; unique per item.
    pub marker: String,
}

/// A `trash_task_page` item's payload.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct TrashTaskPage {
    pub task: i64,
    pub page: String,
}

fn marker() -> String {
    format!("sy-{:032x}", rand::random::<u128>())
}

async fn enqueue_create(
    conn: &mut PgConnection,
    mid: i64,
    task: i64,
    actor: &str,
) -> StoreResult<i64> {
    let payload = serde_json::to_value(CreateTaskPage {
        task,
        marker: marker(),
    })
    .map_err(|e| corrupt("a task page's outbox item", e))?;
    outbox::enqueue_for_task(conn, mid, OutboxKind::CreateTaskPage, &payload, actor, task).await
}

/// "Create tasks in Notion": an item per task that has no page yet, in
/// one transaction with the event; from then on board changes are
/// mirrored. Refused before the mapping is confirmed, and a second time.
pub async fn queue_pages(pool: &PgPool, name: &str, actor: &str) -> StoreResult<i64> {
    let mut tx = pool.begin().await?;
    let mid = migration_id(&mut tx, name).await?;
    type Times = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let state: Option<Times> = sqlx::query_as(
        "SELECT confirmed_at, pages_queued_at FROM switchyard.notion_task_links WHERE migration_id = $1",
    )
    .bind(mid)
    .fetch_optional(&mut *tx)
    .await?;
    match state {
        None | Some((None, _)) => {
            return Err(StoreError::Invalid {
                field: "mapping".into(),
                message: "connect the task database and confirm the mapping first".into(),
            })
        }
        Some((_, Some(_))) => {
            return Err(StoreError::Conflict(
                "the tasks were sent to Notion already".into(),
            ))
        }
        Some(_) => {}
    }
    let tasks: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM switchyard.tasks WHERE migration_id = $1 AND notion_page_id IS NULL
         ORDER BY rank, id",
    )
    .bind(mid)
    .fetch_all(&mut *tx)
    .await?;
    for task in &tasks {
        enqueue_create(&mut tx, mid, *task, actor).await?;
    }
    sqlx::query(
        "UPDATE switchyard.notion_task_links SET pages_queued_at = now() WHERE migration_id = $1",
    )
    .bind(mid)
    .execute(&mut *tx)
    .await?;
    events::record(
        &mut tx,
        mid,
        actor,
        &Event::TaskPagesQueued {
            items: tasks.len() as i64,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(tasks.len() as i64)
}

/// Called in the transaction of a board change to task `task`: when the
/// migration's tasks are mirrored, queues what brings Notion in step (a
/// page for a task without one, else a sync of the task, unless one is
/// waiting already: it reads the task when it runs).
pub async fn board_changed(
    conn: &mut PgConnection,
    mid: i64,
    task: i64,
    actor: &str,
) -> StoreResult<()> {
    let mirrored: Option<bool> = sqlx::query_scalar(
        "SELECT pages_queued_at IS NOT NULL FROM switchyard.notion_task_links WHERE migration_id = $1",
    )
    .bind(mid)
    .fetch_optional(&mut *conn)
    .await?;
    if mirrored != Some(true) {
        return Ok(());
    }
    let page: Option<Option<String>> =
        sqlx::query_scalar("SELECT notion_page_id FROM switchyard.tasks WHERE id = $1")
            .bind(task)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(page) = page else {
        return Ok(());
    };
    let kind = if page.is_some() {
        OutboxKind::SyncTask
    } else {
        OutboxKind::CreateTaskPage
    };
    if outbox::hurry_waiting(&mut *conn, kind, About::Task { task }).await? {
        return Ok(());
    }
    match kind {
        OutboxKind::CreateTaskPage => {
            enqueue_create(conn, mid, task, actor).await?;
        }
        _ => {
            outbox::enqueue_for_task(
                conn,
                mid,
                kind,
                &serde_json::json!({ "task": task }),
                actor,
                task,
            )
            .await?;
        }
    }
    Ok(())
}

/// Called in the transaction deleting task `task`: its page goes to
/// Notion's trash.
pub async fn board_deleted(
    conn: &mut PgConnection,
    mid: i64,
    task: i64,
    page: Option<String>,
    actor: &str,
) -> StoreResult<()> {
    let Some(page) = page else {
        return Ok(());
    };
    let payload = serde_json::to_value(TrashTaskPage { task, page })
        .map_err(|e| corrupt("a trash item", e))?;
    outbox::enqueue(conn, mid, OutboxKind::TrashTaskPage, &payload, actor).await?;
    Ok(())
}

/// What was last synced of a task.
#[derive(Clone, Debug)]
pub struct SyncState {
    pub page_id: String,
    pub board: Side,
    pub notion: Side,
    pub version: i64,
    /// When it was last synced.
    pub synced_at: DateTime<Utc>,
}

pub async fn state(pool: &PgPool, task: i64) -> StoreResult<Option<SyncState>> {
    type Row = (String, Json<Side>, Json<Side>, i64, DateTime<Utc>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT page_id, board, notion, version, synced_at FROM switchyard.task_sync WHERE task_id = $1",
    )
    .bind(task)
    .fetch_optional(pool)
    .await?;
    Ok(
        row.map(|(page_id, board, notion, version, synced_at)| SyncState {
            page_id,
            board: board.0,
            notion: notion.0,
            version,
            synced_at,
        }),
    )
}

/// Task id and page id of every task of the migration that has a page.
pub async fn pages(pool: &PgPool, mid: i64) -> StoreResult<Vec<(i64, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, notion_page_id FROM switchyard.tasks
         WHERE migration_id = $1 AND notion_page_id IS NOT NULL ORDER BY id",
    )
    .bind(mid)
    .fetch_all(pool)
    .await?)
}

async fn queue_syncs(
    conn: &mut PgConnection,
    mid: i64,
    tasks: &[i64],
    actor: &str,
) -> StoreResult<()> {
    for task in tasks {
        if !outbox::hurry_waiting(
            &mut *conn,
            OutboxKind::SyncTask,
            About::Task { task: *task },
        )
        .await?
        {
            outbox::enqueue_for_task(
                conn,
                mid,
                OutboxKind::SyncTask,
                &serde_json::json!({ "task": task }),
                actor,
                *task,
            )
            .await?;
        }
    }
    Ok(())
}

/// Marks a `create_task_page` item done and links its page to the task
/// with the values it was created with, in one transaction; then the task
/// and the tasks depending on it (with pages) are queued for a sync, which
/// sets their dependencies now that this page exists. `false` when the
/// lease was lost.
pub async fn complete_task_page(
    pool: &PgPool,
    item: &OutboxItem,
    task: i64,
    page: &str,
    board: &Side,
    notion: &Side,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await?;
    if !outbox::mark_done(&mut tx, item, Some(page)).await? {
        return Ok(false);
    }
    let mid = item.migration_id;
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT id FROM switchyard.tasks WHERE id = $1 FOR UPDATE")
            .bind(task)
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_some() {
        sqlx::query("UPDATE switchyard.tasks SET notion_page_id = $2 WHERE id = $1")
            .bind(task)
            .bind(page)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO switchyard.task_sync (task_id, page_id, board, notion) VALUES ($1, $2, $3, $4)
             ON CONFLICT (task_id) DO UPDATE SET page_id = $2, board = $3, notion = $4,
                 version = task_sync.version + 1, synced_at = now()",
        )
        .bind(task)
        .bind(page)
        .bind(Json(board))
        .bind(Json(notion))
        .execute(&mut *tx)
        .await?;
        events::record(
            &mut tx,
            mid,
            &item.created_by,
            &Event::TaskPageCreated {
                task,
                page: page.to_string(),
            },
        )
        .await?;
        let mut to_sync: Vec<i64> = sqlx::query_scalar(
            "SELECT d.task_id FROM switchyard.task_dependencies d
             JOIN switchyard.tasks t ON t.id = d.task_id
             WHERE d.depends_on = $1 AND t.notion_page_id IS NOT NULL",
        )
        .bind(task)
        .fetch_all(&mut *tx)
        .await?;
        to_sync.insert(0, task);
        queue_syncs(&mut tx, mid, &to_sync, &item.created_by).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// A field changed on both sides, as found.
#[derive(Clone, Debug)]
pub struct NewConflict {
    pub field: String,
    pub board_value: Value,
    pub notion_value: Value,
    /// `notion_value` as the board would show it, when it can.
    pub notion_shown: Option<String>,
    pub board_by: String,
    pub board_at: DateTime<Utc>,
    pub notion_by: String,
    pub notion_at: DateTime<Utc>,
}

/// Changes Notion brought to a task's fields (board values).
pub type BoardChanges = Vec<(String, Value)>;

/// What a reconcile writes, in one transaction: the board's changes from
/// Notion (checked against the task's `revision` as read), conflicts, and
/// the new values as last synced (checked against `version`).
pub struct SyncWrite {
    pub task: i64,
    pub revision: i32,
    pub version: i64,
    pub changes: BoardChanges,
    pub conflicts: Vec<NewConflict>,
    pub board: Side,
    pub notion: Side,
    /// Who the changes are from ("Notion: NAME").
    pub actor: String,
}

/// Writes a reconcile's outcome. A task changed on the board meanwhile
/// (when there are changes from Notion to write), or synced by someone
/// else meanwhile, is a `Conflict` error: nothing is written, and the next
/// attempt reads it again.
pub async fn apply(pool: &PgPool, w: &SyncWrite) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let row: Option<(i64, i32)> = sqlx::query_as(
        "SELECT migration_id, revision FROM switchyard.tasks WHERE id = $1 FOR UPDATE",
    )
    .bind(w.task)
    .fetch_optional(&mut *tx)
    .await?;
    let (mid, revision) = row.ok_or_else(|| StoreError::NotFound(format!("task {}", w.task)))?;
    // Only Notion's changes need the task as it was read; what was sent to
    // Notion is recorded whatever the board did since (a later board
    // change then differs from it, and is sent next).
    if !w.changes.is_empty() && revision != w.revision {
        return Err(StoreError::Conflict(format!(
            "task {} changed on the board during the sync",
            w.task
        )));
    }
    let updated = sqlx::query(
        "UPDATE switchyard.task_sync SET board = $3, notion = $4, version = version + 1,
             synced_at = now()
         WHERE task_id = $1 AND version = $2",
    )
    .bind(w.task)
    .bind(w.version)
    .bind(Json(&w.board))
    .bind(Json(&w.notion))
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(StoreError::Conflict(format!(
            "task {} was synced by another worker meanwhile",
            w.task
        )));
    }
    if !w.changes.is_empty() {
        write_changes(&mut tx, w.task, &w.changes).await?;
        sqlx::query(
            "UPDATE switchyard.tasks SET revision = revision + 1, updated_at = now() WHERE id = $1",
        )
        .bind(w.task)
        .execute(&mut *tx)
        .await?;
        events::record(
            &mut tx,
            mid,
            &w.actor,
            &Event::TaskSynced {
                task: w.task,
                fields: w.changes.iter().map(|(f, _)| f.clone()).collect(),
            },
        )
        .await?;
    }
    for c in &w.conflicts {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO switchyard.task_conflicts
                 (task_id, field, board_value, notion_value, notion_shown, board_by, board_at,
                  notion_by, notion_at)
             VALUES ($1, $2, $3, $4, $9, $5, $6, $7, $8)
             ON CONFLICT (task_id, field) WHERE resolved_at IS NULL DO NOTHING RETURNING id",
        )
        .bind(w.task)
        .bind(&c.field)
        .bind(Json(&c.board_value))
        .bind(Json(&c.notion_value))
        .bind(&c.board_by)
        .bind(c.board_at)
        .bind(&c.notion_by)
        .bind(c.notion_at)
        .bind(&c.notion_shown)
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_some() {
            events::record(
                &mut tx,
                mid,
                &c.notion_by,
                &Event::TaskConflict {
                    task: w.task,
                    field: c.field.clone(),
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// Sets the task's fields to Notion's values (board form).
async fn write_changes(
    tx: &mut PgConnection,
    task: i64,
    changes: &[(String, Value)],
) -> StoreResult<()> {
    for (field, value) in changes {
        if field == crate::notion::tasks::CRITERIA {
            let criteria = crate::notion::tasks::criteria_of(value);
            sqlx::query("DELETE FROM switchyard.acceptance_criteria WHERE task_id = $1")
                .bind(task)
                .execute(&mut *tx)
                .await?;
            for (i, (text, done)) in criteria
                .iter()
                .filter(|(t, _)| !t.trim().is_empty())
                .take(50)
                .enumerate()
            {
                let text: String = text.trim().chars().take(500).collect();
                sqlx::query(
                    "INSERT INTO switchyard.acceptance_criteria (task_id, position, text, done)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(task)
                .bind(i as i32)
                .bind(text)
                .bind(done)
                .execute(&mut *tx)
                .await?;
            }
            continue;
        }
        let column = match TaskField::parse(field) {
            Some(TaskField::Title) => "title",
            Some(TaskField::Status) => "status",
            Some(TaskField::Priority) => "priority",
            Some(TaskField::Assignee) => "assignee",
            Some(TaskField::Sprint) => "sprint",
            Some(TaskField::DependsOn) => {
                let ids: Vec<i64> = serde_json::from_value(value.clone()).unwrap_or_default();
                sqlx::query("DELETE FROM switchyard.task_dependencies WHERE task_id = $1")
                    .bind(task)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO switchyard.task_dependencies (task_id, depends_on)
                     SELECT $1, d FROM unnest($2::bigint[]) AS d WHERE d <> $1
                     ON CONFLICT DO NOTHING",
                )
                .bind(task)
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
                continue;
            }
            None => continue,
        };
        let value = match column {
            "title" => text(value).map(|t| t.chars().take(200).collect::<String>()),
            "assignee" | "sprint" => text(value).map(|t| t.chars().take(100).collect()),
            _ => text(value),
        };
        sqlx::query(&format!(
            "UPDATE switchyard.tasks SET {column} = $2 WHERE id = $1"
        ))
        .bind(task)
        .bind(value)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Who last changed the task on the board, and when (for a conflict).
pub async fn board_change_of(pool: &PgPool, task: i64) -> StoreResult<(String, DateTime<Utc>)> {
    let row: Option<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT e.actor, t.updated_at FROM switchyard.tasks t
         LEFT JOIN LATERAL (
             SELECT actor FROM switchyard.events
             WHERE migration_id = t.migration_id
               AND kind IN ('task_created', 'task_edited', 'task_moved', 'criterion')
               AND (payload->>'task')::bigint = t.id
             ORDER BY id DESC LIMIT 1) e ON true
         WHERE t.id = $1",
    )
    .bind(task)
    .fetch_optional(pool)
    .await?;
    let (actor, at) = row.ok_or_else(|| StoreError::NotFound(format!("task {task}")))?;
    Ok((actor, at))
}

/// A new row in Notion becomes a task (linked to its page, with both
/// sides' values as synced; `criteria` as Notion ticks them). Returns its
/// id; None when the page has a task already.
#[allow(clippy::too_many_arguments)]
pub async fn create_from_notion(
    pool: &PgPool,
    mid: i64,
    input: super::tasks::TaskInput,
    page: &str,
    notion: &Side,
    criteria: &Value,
    mapping: &TaskMapping,
    actor: &str,
) -> StoreResult<Option<i64>> {
    let input = input.validate()?;
    let mut tx = pool.begin().await?;
    let taken: Option<i64> =
        sqlx::query_scalar("SELECT id FROM switchyard.tasks WHERE notion_page_id = $1")
            .bind(page)
            .fetch_optional(&mut *tx)
            .await?;
    if taken.is_some() {
        return Ok(None);
    }
    let id = super::tasks::insert_task(&mut tx, mid, &input, actor).await?;
    // The criteria as Notion has them, ticks included.
    write_changes(
        &mut tx,
        id,
        &[(crate::notion::tasks::CRITERIA.to_string(), criteria.clone())],
    )
    .await?;
    sqlx::query("UPDATE switchyard.tasks SET notion_page_id = $2 WHERE id = $1")
        .bind(id)
        .bind(page)
        .execute(&mut *tx)
        .await?;
    let view = super::migrations::task_in(&mut tx, id).await?;
    let board = crate::notion::tasks::board_side(&view, mapping);
    sqlx::query(
        "INSERT INTO switchyard.task_sync (task_id, page_id, board, notion) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(page)
    .bind(Json(&board))
    .bind(Json(notion))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// A task whose page went to Notion's trash is removed from the board
/// (recorded as deleted by `actor`); nothing is sent back.
pub async fn remove_trashed(pool: &PgPool, task: i64, actor: &str) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let mid: Option<i64> =
        sqlx::query_scalar("DELETE FROM switchyard.tasks WHERE id = $1 RETURNING migration_id")
            .bind(task)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(mid) = mid {
        events::record(&mut tx, mid, actor, &Event::TaskDeleted { task }).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A poll of the link started at `at` and went through.
pub async fn polled(pool: &PgPool, mid: i64, at: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query(
        "UPDATE switchyard.notion_task_links SET polled_at = $2, polls = polls + 1
         WHERE migration_id = $1",
    )
    .bind(mid)
    .bind(at)
    .execute(pool)
    .await?;
    Ok(())
}

/// An open conflict, as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Conflict {
    pub id: i64,
    pub task_id: i64,
    pub task_title: String,
    pub field: String,
    pub board_value: Json<Value>,
    pub notion_value: Json<Value>,
    pub notion_shown: Option<String>,
    pub board_by: String,
    pub board_at: DateTime<Utc>,
    pub notion_by: String,
    pub notion_at: DateTime<Utc>,
}

/// Migration `name`'s open conflicts, oldest first.
pub async fn open_conflicts(pool: &PgPool, name: &str) -> StoreResult<Vec<Conflict>> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.task_id, t.title AS task_title, c.field, c.board_value, c.notion_value,
                c.notion_shown, c.board_by, c.board_at, c.notion_by, c.notion_at
         FROM switchyard.task_conflicts c
         JOIN switchyard.tasks t ON t.id = c.task_id
         JOIN switchyard.migrations m ON m.id = t.migration_id
         WHERE m.name = $1 AND c.resolved_at IS NULL ORDER BY c.id",
    )
    .bind(name)
    .fetch_all(pool)
    .await?)
}

/// Fields of task `task` held by an open conflict.
pub async fn held_fields(pool: &PgPool, task: i64) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT field FROM switchyard.task_conflicts WHERE task_id = $1 AND resolved_at IS NULL",
    )
    .bind(task)
    .fetch_all(pool)
    .await?)
}

/// Which side an operator keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Keep {
    Board,
    Notion,
    /// A value the operator typed (a merge of both): set on the board,
    /// then written to Notion like a board change. Text fields only
    /// (`MERGEABLE`); a status or a priority is one side's option.
    Merged(String),
}

impl Keep {
    pub fn as_str(&self) -> &'static str {
        match self {
            Keep::Board => "board",
            Keep::Notion => "notion",
            Keep::Merged(_) => "merged",
        }
    }
}

/// The fields a typed value may resolve, and their most characters.
pub const MERGEABLE: [(TaskField, usize); 3] = [
    (TaskField::Title, 200),
    (TaskField::Assignee, 100),
    (TaskField::Sprint, 100),
];

/// A typed value for `field`, trimmed, or what is wrong with it. An empty
/// assignee or sprint is none (as the board's form makes it).
fn merged_value(field: &str, value: &str) -> StoreResult<String> {
    let invalid = |message: String| StoreError::Invalid {
        field: "value".into(),
        message,
    };
    let Some((_, most)) = MERGEABLE
        .iter()
        .find(|(f, _)| TaskField::parse(field) == Some(*f))
    else {
        return Err(invalid(format!(
            "a value can be typed for the title, the assignee or the sprint; keep one side's {field}"
        )));
    };
    let value = value.trim();
    if value.is_empty() && field == TaskField::Title.as_str() {
        return Err(invalid("a task needs a title".into()));
    }
    if value.chars().count() > *most {
        return Err(invalid(format!("at most {most} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid("no control characters".into()));
    }
    Ok(value.to_string())
}

/// Resolves a conflict: the field's last-synced value of the side not
/// kept becomes that side's current value (as the conflict recorded it),
/// so the next sync sees only the kept side as changed and writes it to
/// the other; a sync of the task is queued; the choice is an event. All in
/// one transaction.
pub async fn resolve(
    pool: &PgPool,
    name: &str,
    conflict: i64,
    keep: Keep,
    actor: &str,
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    type Row = (i64, i64, String, Json<Value>, Json<Value>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT t.migration_id, c.task_id, c.field, c.board_value, c.notion_value
         FROM switchyard.task_conflicts c
         JOIN switchyard.tasks t ON t.id = c.task_id
         JOIN switchyard.migrations m ON m.id = t.migration_id
         WHERE c.id = $1 AND m.name = $2 AND c.resolved_at IS NULL FOR UPDATE OF c",
    )
    .bind(conflict)
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let (mid, task, field, board_value, notion_value) = row.ok_or_else(|| {
        StoreError::NotFound(format!("open conflict {conflict} of migration {name:?}"))
    })?;
    // A typed value goes on the board first (an edit of the task), and is
    // then kept as the board's.
    let merged = match &keep {
        Keep::Merged(value) => {
            let value = merged_value(&field, value)?;
            let as_board = if value.is_empty() {
                Value::Null
            } else {
                Value::String(value.clone())
            };
            write_changes(&mut tx, task, &[(field.clone(), as_board)]).await?;
            sqlx::query(
                "UPDATE switchyard.tasks SET revision = revision + 1, updated_at = now() WHERE id = $1",
            )
            .bind(task)
            .execute(&mut *tx)
            .await?;
            Some(value)
        }
        Keep::Board | Keep::Notion => None,
    };
    // Keep the board: Notion's value as found counts as synced (so only
    // the board differs); keep Notion: the board's value as found does.
    let (column, value) = match keep {
        Keep::Board | Keep::Merged(_) => ("notion", notion_value.0),
        Keep::Notion => ("board", board_value.0),
    };
    sqlx::query(&format!(
        "UPDATE switchyard.task_sync SET {column} = jsonb_set({column}, ARRAY[$2], $3),
             version = version + 1
         WHERE task_id = $1"
    ))
    .bind(task)
    .bind(&field)
    .bind(Json(&value))
    .execute(&mut *tx)
    .await?;
    // The other side's entry is made to differ from its current value, so
    // the kept side is the only one that looks changed.
    let other = match keep {
        Keep::Board | Keep::Merged(_) => "board",
        Keep::Notion => "notion",
    };
    sqlx::query(&format!(
        "UPDATE switchyard.task_sync SET {other} = jsonb_set({other}, ARRAY[$2], $3)
         WHERE task_id = $1"
    ))
    .bind(task)
    .bind(&field)
    .bind(Json(serde_json::json!({ "unsynced": true })))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE switchyard.task_conflicts
         SET resolved_at = now(), resolved_by = $2, kept = $3, merged_value = $4
         WHERE id = $1",
    )
    .bind(conflict)
    .bind(actor)
    .bind(keep.as_str())
    .bind(&merged)
    .execute(&mut *tx)
    .await?;
    events::record(
        &mut tx,
        mid,
        actor,
        &Event::TaskConflictResolved {
            task,
            field: field.clone(),
            kept: keep.as_str().into(),
        },
    )
    .await?;
    queue_syncs(&mut tx, mid, &[task], actor).await?;
    tx.commit().await?;
    Ok(())
}
