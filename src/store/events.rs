//! The event log: who did what, when. Every event of every layer is an
//! `Event` (the engine's vocabulary) written by `engine::state::record_event`,
//! which also announces it with `NOTIFY switchyard_events` so it reaches live
//! pages on every instance.

use sqlx::PgConnection;

use super::StoreResult;
use crate::engine::{state, Event};

/// Appends `event` to migration `migration_id`'s log, in the caller's
/// transaction (announced only if that transaction commits).
pub async fn record(
    conn: &mut PgConnection,
    migration_id: i64,
    actor: &str,
    event: &Event,
) -> StoreResult<()> {
    state::record_event(conn, migration_id, None, actor, event).await?;
    Ok(())
}
