//! The event log: who did what, when. Every event of every layer is an
//! `Event` (the engine's vocabulary) appended here, and announced with
//! `NOTIFY switchyard_events` so it reaches live pages on every instance.

use sqlx::PgConnection;

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

/// Wakes every live page of migration `name` (on every instance) without
/// writing an event: for a change that has none, such as a runner's lock
/// released after its last event was announced (a page built on that event
/// still saw the lock held, and would say "another runner is active" until
/// the next event).
pub async fn announce(pool: &sqlx::PgPool, name: &str) -> StoreResult<()> {
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
