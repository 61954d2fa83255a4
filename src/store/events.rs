//! The event log: who did what, when. Every writer (engine, board, plan,
//! seed) goes through `record`, so every event is also announced with
//! `NOTIFY switchyard_events` and reaches live pages on every instance.

use sqlx::PgConnection;

/// Channel carrying every event (payload: JSON with the event id).
pub const EVENTS_CHANNEL: &str = "switchyard_events";

/// Appends an event and NOTIFYs it, in the caller's transaction (the
/// notification is delivered only if that transaction commits).
pub async fn record(
    conn: &mut PgConnection,
    migration_id: i64,
    phase: Option<i16>,
    actor: &str,
    kind: &str,
    payload: serde_json::Value,
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO switchyard.events (migration_id, phase, actor, kind, payload)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(migration_id)
    .bind(phase)
    .bind(actor)
    .bind(kind)
    .bind(&payload)
    .fetch_one(&mut *conn)
    .await?;
    let note = serde_json::json!({
        "event_id": id, "migration_id": migration_id, "phase": phase, "kind": kind,
    });
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(EVENTS_CHANNEL)
        .bind(note.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(id)
}
