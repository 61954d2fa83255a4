//! The Notion outbox (`switchyard.notion_outbox`): every change going to
//! Notion, queued in the transaction of the change it mirrors, claimed by
//! one worker at a time (a lease, with the attempt counted before sending),
//! and marked done in the same transaction that records what it created.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;

use super::{events, StoreError, StoreResult};
use crate::engine::Event;

/// What an outbox item does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxKind {
    /// Create the plan's Notion page (payload: `PublishPlan`).
    PublishPlan,
    /// Create a task's page in the task data source (payload:
    /// `task_sync::CreateTaskPage`).
    CreateTaskPage,
    /// Bring one task and its page in step, both ways (payload: `{task}`).
    SyncTask,
    /// Move a deleted task's page to the trash (payload:
    /// `task_sync::TrashTaskPage`).
    TrashTaskPage,
    /// Bring the published plan and its Notion page in step, both ways
    /// (payload: `{}`; see `notion::plan_sync::sync`).
    SyncPlan,
}

impl OutboxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::PublishPlan => "publish_plan",
            OutboxKind::CreateTaskPage => "create_task_page",
            OutboxKind::SyncTask => "sync_task",
            OutboxKind::TrashTaskPage => "trash_task_page",
            OutboxKind::SyncPlan => "sync_plan",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "publish_plan" => Some(OutboxKind::PublishPlan),
            "create_task_page" => Some(OutboxKind::CreateTaskPage),
            "sync_task" => Some(OutboxKind::SyncTask),
            "trash_task_page" => Some(OutboxKind::TrashTaskPage),
            "sync_plan" => Some(OutboxKind::SyncPlan),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OutboxItem {
    pub id: i64,
    pub migration_id: i64,
    pub migration_name: String,
    pub kind: String,
    pub payload: sqlx::types::Json<Value>,
    pub state: String,
    pub attempts: i32,
    /// Of `attempts`, those brought forward by a new change
    /// (`hurry_waiting`): outside the backoff schedule and the budget.
    pub hurried: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_token: Option<i64>,
    pub result_page_id: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    /// The task an item is about (task items only).
    pub task_id: Option<i64>,
}

const COLUMNS: &str = "o.id, o.migration_id, m.name AS migration_name, o.kind, o.payload, o.state,
     o.attempts, o.hurried, o.last_error, o.next_attempt_at, o.lease_token, o.result_page_id, o.created_by,
     o.created_at, o.done_at, o.task_id";

/// Queues an item in the caller's transaction.
pub async fn enqueue(
    conn: &mut PgConnection,
    migration_id: i64,
    kind: OutboxKind,
    payload: &Value,
    actor: &str,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO switchyard.notion_outbox (migration_id, kind, payload, created_by)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(migration_id)
    .bind(kind.as_str())
    .bind(sqlx::types::Json(payload))
    .bind(actor)
    .fetch_one(conn)
    .await?)
}

/// Queues an item about one task in the caller's transaction.
pub async fn enqueue_for_task(
    conn: &mut PgConnection,
    migration_id: i64,
    kind: OutboxKind,
    payload: &Value,
    actor: &str,
    task: i64,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO switchyard.notion_outbox (migration_id, kind, payload, created_by, task_id)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(migration_id)
    .bind(kind.as_str())
    .bind(sqlx::types::Json(payload))
    .bind(actor)
    .bind(task)
    .fetch_one(conn)
    .await?)
}

/// What an item is about, for finding one that waits already.
#[derive(Clone, Copy, Debug)]
pub enum About {
    /// A migration's plan (its published page).
    Plan { migration: i64 },
    /// One task (its page).
    Task { task: i64 },
}

/// Whether an item of `kind` about `about` waits to be sent and is not
/// being sent now: a new one would do nothing more, as it reads what it is
/// about when it runs. One waiting out a retry is brought forward to now,
/// in the caller's transaction: a new change is a reason to try again, and
/// must not wait behind a delay grown while Notion was failing (up to ten
/// minutes; an operator's resolved conflict sat there unsynced). That
/// attempt is counted in `hurried`: it is outside the item's schedule and
/// budget, so changes made during an outage do not use up the attempts
/// that ride it out. The row lock also orders the caller with a worker
/// claiming the item: the worker either reads the change (it claims after
/// the caller commits) or holds a lease the caller sees (a new item).
pub async fn hurry_waiting(
    conn: &mut PgConnection,
    kind: OutboxKind,
    about: About,
) -> StoreResult<bool> {
    let (column, id) = match about {
        About::Plan { migration } => ("migration_id", migration),
        About::Task { task } => ("task_id", task),
    };
    let waiting = sqlx::query(&format!(
        "UPDATE switchyard.notion_outbox
         SET next_attempt_at = least(next_attempt_at, now()),
             hurried = hurried + (next_attempt_at > now())::int
         WHERE {column} = $1 AND kind = $2 AND state = 'pending'
           AND (lease_until IS NULL OR lease_until < now())"
    ))
    .bind(id)
    .bind(kind.as_str())
    .execute(conn)
    .await?;
    Ok(waiting.rows_affected() > 0)
}

/// Marks a claimed item done (with the page it created, if any), in the
/// caller's transaction. `false` when the lease was lost.
pub async fn mark_done(
    conn: &mut PgConnection,
    item: &OutboxItem,
    page_id: Option<&str>,
) -> StoreResult<bool> {
    let done: Option<i64> = sqlx::query_scalar(
        "UPDATE switchyard.notion_outbox
         SET state = 'done', done_at = now(), result_page_id = $3, lease_until = NULL,
             last_error = NULL
         WHERE id = $1 AND lease_token = $2 AND state = 'pending' RETURNING id",
    )
    .bind(item.id)
    .bind(item.lease_token)
    .bind(page_id)
    .fetch_optional(conn)
    .await?;
    Ok(done.is_some())
}

/// Marks a claimed item done that records nothing else.
pub async fn complete(
    pool: &PgPool,
    item: &OutboxItem,
    page_id: Option<&str>,
) -> StoreResult<bool> {
    let mut conn = pool.acquire().await?;
    mark_done(&mut conn, item, page_id).await
}

/// What publishing a plan needs, read in the transaction that queues it.
pub struct PlanToPublish {
    pub migration_id: i64,
    pub spec_page_id: Option<String>,
    pub plan_page_id: Option<String>,
}

/// Queues the plan's publication (`payload` built by the caller from what
/// `check` returned), refusing a second one while one is pending or done.
/// `build` gets the facts and returns the payload or a refusal.
pub async fn queue_plan_publication<F>(
    pool: &PgPool,
    name: &str,
    actor: &str,
    build: F,
) -> StoreResult<i64>
where
    F: FnOnce(&PlanToPublish) -> StoreResult<Value>,
{
    let mut tx = pool.begin().await?;
    let facts: Option<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT m.id, s.notion_page_id, p.notion_page_id
         FROM switchyard.migrations m
         LEFT JOIN switchyard.specs s ON s.migration_id = m.id
         LEFT JOIN switchyard.plans p ON p.migration_id = m.id
         WHERE m.name = $1 FOR UPDATE OF m",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let (migration_id, spec_page_id, plan_page_id) =
        facts.ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))?;
    if let Some(page) = &plan_page_id {
        return Err(StoreError::Conflict(format!(
            "the plan is already published to Notion (page {page})"
        )));
    }
    let queued: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM switchyard.notion_outbox
         WHERE migration_id = $1 AND kind = $2 AND state IN ('pending', 'failed')",
    )
    .bind(migration_id)
    .bind(OutboxKind::PublishPlan.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(item) = queued {
        return Err(StoreError::Conflict(format!(
            "the plan is already queued for Notion (outbox item {item}); retry or discard that one"
        )));
    }
    let payload = build(&PlanToPublish {
        migration_id,
        spec_page_id,
        plan_page_id,
    })?;
    let item = enqueue(
        &mut tx,
        migration_id,
        OutboxKind::PublishPlan,
        &payload,
        actor,
    )
    .await?;
    events::record(
        &mut tx,
        migration_id,
        actor,
        &Event::PlanPublishQueued { item },
    )
    .await?;
    tx.commit().await?;
    Ok(item)
}

/// Holds `item` for another `lease` from now. `false` when it is no longer
/// this claim's (taken over by another worker, or settled).
pub async fn renew_lease(pool: &PgPool, item: &OutboxItem, lease: Duration) -> StoreResult<bool> {
    let renewed = sqlx::query(
        "UPDATE switchyard.notion_outbox SET lease_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND lease_token = $2 AND state = 'pending'",
    )
    .bind(item.id)
    .bind(item.lease_token)
    .bind(lease.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(renewed.rows_affected() == 1)
}

/// An item `claim` may take now: pending, due, and held by no worker. One
/// text for `claim` and `any_due`, so the cheap look and the claim agree.
const CLAIMABLE: &str = "state = 'pending' AND next_attempt_at <= now()
       AND (lease_until IS NULL OR lease_until < now())";

/// The advisory lock a sending worker holds (`sender_lock`).
const SENDER_LOCK: &str = "switchyard.notion_outbox.sender";

/// Is any item due now and not held by a worker? A cheap look before
/// taking `sender_lock` (most turns find nothing).
pub async fn any_due(pool: &PgPool) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT EXISTS (SELECT 1 FROM switchyard.notion_outbox WHERE {CLAIMABLE})"
    ))
    .fetch_one(pool)
    .await?)
}

/// One sender at a time, across every instance of the app: a session that
/// holds this lock is the only one claiming and sending, so the integration
/// token's pace is one client's and items go out in order. `None` when
/// another session holds it. The returned session holds the lock until it
/// is closed (it is detached from the pool, so dropping it, even halfway
/// through a turn, ends the session and frees the lock: a locked session
/// never goes back to the pool).
pub async fn sender_lock(pool: &PgPool) -> StoreResult<Option<PgConnection>> {
    let mut conn = pool.acquire().await?.detach();
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1))")
        .bind(SENDER_LOCK)
        .fetch_one(&mut conn)
        .await?;
    Ok(got.then_some(conn))
}

/// Gives up the sender lock and ends its session. The unlock is explicit:
/// a closed session's locks go only when its backend has exited, which may
/// be after this instance's next turn asks for the lock again.
pub async fn release_sender(mut conn: PgConnection) {
    if let Err(e) = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(SENDER_LOCK)
        .execute(&mut conn)
        .await
    {
        tracing::debug!(error = %e, "outbox: unlocking the sender lock (the session's end frees it)");
    }
    if let Err(e) = sqlx::Connection::close(conn).await {
        tracing::debug!(error = %e, "outbox: closing the sender's session");
    }
}

/// Takes the next due item for `lease` (none: nothing due, or every due
/// item is held by another worker). The attempt is counted and committed
/// before anything is sent.
pub async fn claim(pool: &PgPool, lease: Duration) -> StoreResult<Option<OutboxItem>> {
    let token = ((rand::random::<u64>() >> 1) as i64).max(1);
    let sql = format!(
        "WITH next AS (
             SELECT id FROM switchyard.notion_outbox
             WHERE {CLAIMABLE}
             ORDER BY next_attempt_at, id LIMIT 1
             FOR UPDATE SKIP LOCKED),
         claimed AS (
             UPDATE switchyard.notion_outbox o
             SET attempts = o.attempts + 1, lease_token = $1,
                 lease_until = now() + make_interval(secs => $2)
             FROM next WHERE o.id = next.id
             RETURNING o.*)
         SELECT {COLUMNS} FROM claimed o JOIN switchyard.migrations m ON m.id = o.migration_id"
    );
    Ok(sqlx::query_as(&sql)
        .bind(token)
        .bind(lease.as_secs_f64())
        .fetch_optional(pool)
        .await?)
}

/// Marks a plan publication done and records the page it created on the
/// plan, in one transaction. `false` when the lease was lost (another
/// worker holds the item now; nothing is written).
pub async fn complete_plan_publication(
    pool: &PgPool,
    item: &OutboxItem,
    page_id: &str,
    hashes: Option<(&str, &str)>,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await?;
    if !mark_done(&mut tx, item, Some(page_id)).await? {
        return Ok(false);
    }
    let migration_id = item.migration_id;
    sqlx::query("UPDATE switchyard.plans SET notion_page_id = $2 WHERE migration_id = $1")
        .bind(migration_id)
        .bind(page_id)
        .execute(&mut *tx)
        .await?;
    // Both sides as published: the plan sync's starting point (none: the
    // first sync compares the two).
    sqlx::query(
        "INSERT INTO switchyard.plan_sync (migration_id, page_id, board_hash, notion_hash)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (migration_id) DO UPDATE
         SET page_id = $2, board_hash = $3, notion_hash = $4, version = plan_sync.version + 1",
    )
    .bind(migration_id)
    .bind(page_id)
    .bind(hashes.map(|(b, _)| b))
    .bind(hashes.map(|(_, n)| n))
    .execute(&mut *tx)
    .await?;
    events::record(
        &mut tx,
        migration_id,
        &item.created_by,
        &Event::PlanPublished {
            item: item.id,
            page: page_id.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Records a failed attempt: to try again at `retry_at`, or (None) given
/// up until an operator retries it. `false` when the lease was lost.
pub async fn record_failure(
    pool: &PgPool,
    item: &OutboxItem,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> StoreResult<bool> {
    let updated = sqlx::query(
        "UPDATE switchyard.notion_outbox
         SET state = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
             next_attempt_at = coalesce($4, next_attempt_at), last_error = $3,
             lease_until = NULL
         WHERE id = $1 AND lease_token = $2 AND state = 'pending'",
    )
    .bind(item.id)
    .bind(item.lease_token)
    .bind(error)
    .bind(retry_at)
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// A migration's items: pending and failed ones first, then the latest
/// done or discarded ones.
pub async fn list(pool: &PgPool, name: &str) -> StoreResult<Vec<OutboxItem>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM switchyard.notion_outbox o
         JOIN switchyard.migrations m ON m.id = o.migration_id
         WHERE m.name = $1
         ORDER BY (o.state IN ('pending', 'failed')) DESC, o.id DESC LIMIT 20"
    );
    Ok(sqlx::query_as(&sql).bind(name).fetch_all(pool).await?)
}

/// One item by id (any migration).
pub async fn get(pool: &PgPool, id: i64) -> StoreResult<OutboxItem> {
    let sql = format!(
        "SELECT {COLUMNS} FROM switchyard.notion_outbox o
         JOIN switchyard.migrations m ON m.id = o.migration_id WHERE o.id = $1"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("outbox item {id}")))
}

/// An operator (`actor`) sends a failed (or waiting) item again now.
pub async fn retry(pool: &PgPool, name: &str, id: i64, actor: &str) -> StoreResult<()> {
    let event = Event::OutboxRetried { item: id };
    change_state(pool, name, id, "pending", "retried", actor, &event).await
}

/// An operator (`actor`) gives up on an item (it is never sent).
pub async fn discard(pool: &PgPool, name: &str, id: i64, actor: &str) -> StoreResult<()> {
    let event = Event::OutboxDiscarded { item: id };
    change_state(pool, name, id, "discarded", "discarded", actor, &event).await
}

/// The item's new state and the event saying who changed it, in one
/// transaction.
async fn change_state(
    pool: &PgPool,
    name: &str,
    id: i64,
    to: &str,
    verb: &str,
    actor: &str,
    event: &Event,
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let migration: Option<i64> = sqlx::query_scalar(
        "UPDATE switchyard.notion_outbox o SET state = $3, next_attempt_at = now()
         FROM switchyard.migrations m
         WHERE o.id = $1 AND m.id = o.migration_id AND m.name = $2
           AND o.state IN ('pending', 'failed')
           AND (o.lease_until IS NULL OR o.lease_until < now())
         RETURNING m.id",
    )
    .bind(id)
    .bind(name)
    .bind(to)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(migration) = migration {
        super::events::record(&mut tx, migration, actor, event).await?;
        tx.commit().await?;
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "outbox item {id} cannot be {verb} now: it is done, discarded, being sent, or not this migration's"
        )))
    }
}

/// Items per state (for `/metrics`): every state, 0 included.
pub async fn depth(pool: &PgPool) -> StoreResult<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT s.state, count(o.id)
         FROM unnest(ARRAY['pending', 'failed', 'done', 'discarded']) AS s(state)
         LEFT JOIN switchyard.notion_outbox o ON o.state = s.state
         GROUP BY s.state ORDER BY s.state",
    )
    .fetch_all(pool)
    .await?)
}
