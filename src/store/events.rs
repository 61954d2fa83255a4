//! The event log: who did what, when. Every event of every layer is an
//! `Event` (the engine's vocabulary) appended here, and announced with
//! `NOTIFY switchyard_events` so it reaches live pages on every instance.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::StoreResult;
use crate::engine::{Event, Phase};

/// Channel carrying every event (payload: JSON with the event id).
pub const EVENTS_CHANNEL: &str = "switchyard_events";

/// Appends `event` to migration `migration_id`'s log, in the caller's
/// transaction (announced only if that transaction commits).
pub async fn record(
    conn: &mut PgConnection,
    migration_id: i64,
    actor: &str,
    event: &Event,
) -> StoreResult<()> {
    append(conn, migration_id, None, actor, event).await?;
    Ok(())
}

/// Appends an event (of `phase`, when it is about one) and NOTIFYs it, in
/// the caller's transaction. Every event of every layer is written here.
pub async fn append(
    conn: &mut PgConnection,
    migration_id: i64,
    phase: Option<Phase>,
    actor: &str,
    event: &Event,
) -> Result<i64, sqlx::Error> {
    append_to(conn, Some(migration_id), phase, actor, event).await
}

/// Records an event of no migration (a sign-in, an account change): it
/// shows in the audit log (`audit`). An event that can end sessions (a
/// sign-out, a disabled account, a changed role) is also announced (NOTIFY,
/// with no migration), which tells every live feed to check that its
/// session still holds; a sign-in, failed or not, ends none, and is not
/// announced: anyone can send failed sign-ins, and each announcement
/// costs every open feed a query.
pub async fn record_account_event(pool: &PgPool, actor: &str, event: &Event) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    if matches!(event, Event::SignedIn | Event::SignInFailed { .. }) {
        insert(&mut conn, None, None, actor, event).await?;
    } else {
        append_to(&mut conn, None, None, actor, event).await?;
    }
    Ok(())
}

async fn append_to(
    conn: &mut PgConnection,
    migration_id: Option<i64>,
    phase: Option<Phase>,
    actor: &str,
    event: &Event,
) -> Result<i64, sqlx::Error> {
    let id = insert(conn, migration_id, phase, actor, event).await?;
    let note = serde_json::json!({
        "event_id": id, "migration_id": migration_id, "phase": phase, "kind": event.kind(),
    });
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(EVENTS_CHANNEL)
        .bind(note.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// The event's row, unannounced.
async fn insert(
    conn: &mut PgConnection,
    migration_id: Option<i64>,
    phase: Option<Phase>,
    actor: &str,
    event: &Event,
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO switchyard.events (migration_id, phase, actor, kind, payload)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(migration_id)
    .bind(phase)
    .bind(actor)
    .bind(event.kind())
    .bind(event.payload())
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// Wakes every live page of migration `name` (on every instance) without
/// writing an event: for a change that has none, such as a runner's lock
/// released after its last event was announced (a page built on that event
/// still saw the lock held, and would say "another runner is active" until
/// the next event).
pub async fn announce(pool: &PgPool, name: &str) -> StoreResult<()> {
    sqlx::query(
        "SELECT pg_notify($1, json_build_object('migration_id', m.id)::text)
         FROM switchyard.migrations m WHERE m.name = $2",
    )
    .bind(EVENTS_CHANNEL)
    .bind(name)
    .execute(pool)
    .await?;
    Ok(())
}

/// One entry of the audit log: an event of any migration, or of none.
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The migration's name (None: an account event).
    pub migration: Option<String>,
    pub phase: Option<Phase>,
    pub event: Event,
}

/// The latest `limit` events of every migration and of none, newest first,
/// progress ticks left out; only those whose actor contains `actor`
/// (case-insensitively) when given.
pub async fn audit(pool: &PgPool, actor: Option<&str>, limit: i64) -> StoreResult<Vec<AuditEntry>> {
    type Row = (
        i64,
        DateTime<Utc>,
        String,
        Option<String>,
        Option<Phase>,
        String,
        serde_json::Value,
    );
    let pattern = actor.map(|a| {
        format!(
            "%{}%",
            a.trim()
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT e.id, e.at, e.actor, m.name, e.phase, e.kind, e.payload
         FROM switchyard.events e LEFT JOIN switchyard.migrations m ON m.id = e.migration_id
         WHERE e.kind <> ALL($1) AND ($2::text IS NULL OR lower(e.actor) LIKE $2)
         ORDER BY e.id DESC LIMIT $3",
    )
    .bind(&Event::TICKS[..])
    .bind(pattern)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, at, actor, migration, phase, kind, payload)| AuditEntry {
                id,
                at,
                actor,
                migration,
                phase,
                event: Event::from_stored(&kind, &payload),
            },
        )
        .collect())
}
