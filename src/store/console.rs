//! What the phase console and the live endpoints read from our schema: a
//! migration's recipe location, phase titles, recent events, backfill
//! throughput, latest verification, quarantine sample and read flag. Events
//! come back as the engine's `Event`, never as raw JSON.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{StoreError, StoreResult};
use crate::engine::vocab::kind;
use crate::engine::{Event, Phase, ReadsFrom};

/// One event of a migration's log.
pub struct StoredEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub phase: Option<Phase>,
    pub event: Event,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    phase: Option<Phase>,
    kind: String,
    payload: serde_json::Value,
}

impl From<EventRow> for StoredEvent {
    fn from(r: EventRow) -> Self {
        StoredEvent {
            id: r.id,
            at: r.at,
            actor: r.actor,
            phase: r.phase,
            event: Event::from_stored(&r.kind, &r.payload),
        }
    }
}

/// The migration's id, if it exists.
pub async fn migration_id(pool: &PgPool, name: &str) -> StoreResult<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM switchyard.migrations WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?,
    )
}

/// Where the migration's recipe file is (None: no recipe attached).
pub async fn recipe_path(pool: &PgPool, name: &str) -> StoreResult<Option<String>> {
    let path: Option<Option<String>> =
        sqlx::query_scalar("SELECT recipe_path FROM switchyard.migrations WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    path.ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))
}

/// The plan's title of each phase, in phase order.
pub async fn phase_titles(pool: &PgPool, name: &str) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT p.title FROM switchyard.plan_phases p JOIN switchyard.migrations m ON m.id = p.migration_id
         WHERE m.name = $1 ORDER BY p.position",
    )
    .bind(name)
    .fetch_all(pool)
    .await?)
}

/// The first `limit` quarantined documents: (source key, reason).
pub async fn quarantine_sample(
    pool: &PgPool,
    name: &str,
    limit: i64,
) -> StoreResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT source_key, reason FROM switchyard.quarantine WHERE migration_name = $1
         ORDER BY quarantined_at, source_key LIMIT $2",
    )
    .bind(name)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// The latest `limit` events, newest first, progress ticks left out.
pub async fn recent_events(pool: &PgPool, name: &str, limit: i64) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT e.id, e.at, e.actor, e.phase, e.kind, e.payload FROM switchyard.events e
         JOIN switchyard.migrations m ON m.id = e.migration_id
         WHERE m.name = $1 AND e.kind <> ALL($2) ORDER BY e.id DESC LIMIT $3",
    )
    .bind(name)
    .bind(&Event::TICKS[..])
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(StoredEvent::from).collect())
}

/// The current backfill's last `limit` progress ticks, oldest first (not
/// those of a backfill before a rollback of phase 2).
pub async fn backfill_ticks(
    pool: &PgPool,
    name: &str,
    limit: i64,
) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, at, actor, phase, kind, payload FROM (
             SELECT e.* FROM switchyard.events e
             JOIN switchyard.migrations m ON m.id = e.migration_id
             WHERE m.name = $1 AND e.kind = $2
               AND e.id > coalesce((SELECT max(r.id) FROM switchyard.events r
                                    WHERE r.migration_id = m.id AND r.phase = $3
                                      AND r.kind = $4), 0)
             ORDER BY e.id DESC LIMIT $5) x
         ORDER BY id",
    )
    .bind(name)
    .bind(kind::PROGRESS)
    .bind(Phase::Backfill)
    .bind(kind::ROLLBACK_STARTED)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(StoredEvent::from).collect())
}

/// The latest verification event (in progress or finished), if any.
pub async fn latest_verification(pool: &PgPool, name: &str) -> StoreResult<Option<StoredEvent>> {
    let row: Option<EventRow> = sqlx::query_as(
        "SELECT e.id, e.at, e.actor, e.phase, e.kind, e.payload FROM switchyard.events e
         JOIN switchyard.migrations m ON m.id = e.migration_id
         WHERE m.name = $1 AND e.kind IN ($2, $3)
         ORDER BY e.id DESC LIMIT 1",
    )
    .bind(name)
    .bind(kind::VERIFY_PROGRESS)
    .bind(kind::VERIFIED)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(StoredEvent::from))
}

/// Where the migration's readers read from, and since when (None: the
/// flag was never set); `NotFound` for an unknown migration.
pub async fn read_flag(
    pool: &PgPool,
    name: &str,
) -> StoreResult<Option<(ReadsFrom, DateTime<Utc>)>> {
    let flag = sqlx::query_as(
        "SELECT reads_from, changed_at FROM switchyard.read_flags WHERE migration_name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    if flag.is_none() && migration_id(pool, name).await?.is_none() {
        return Err(StoreError::NotFound(format!("migration {name:?}")));
    }
    Ok(flag)
}
