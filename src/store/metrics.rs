//! What `GET /metrics` reports, read in one go: every migration's phase
//! states, its backfill's progress and throttle (the engine's
//! `switchyard.backfill_progress` row) and its quarantine count.
//! Adding a figure: a column here, a gauge in `server::metrics`.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::StoreResult;
use crate::engine::{Phase, PhaseState};

/// One phase of one migration.
#[derive(Debug, sqlx::FromRow)]
pub struct PhaseStateRow {
    pub migration: String,
    pub phase: Phase,
    pub state: PhaseState,
}

/// A migration's backfill progress and its operator controls.
#[derive(Debug, sqlx::FromRow)]
pub struct BackfillRow {
    pub migration: String,
    pub rows_done: i64,
    pub rows_total: i64,
    pub rows_per_second: f64,
    pub batch_size: i32,
    pub paused: bool,
    pub abort_requested: bool,
    pub throttle_ms: i32,
    pub target_batch_ms: i32,
    /// Why the backfill yields to the application now (None: full speed).
    pub throttled: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Everything one scrape reports.
#[derive(Debug, Default)]
pub struct MetricsSnapshot {
    pub phases: Vec<PhaseStateRow>,
    pub backfills: Vec<BackfillRow>,
    /// (migration, quarantined documents), for every migration (0 included).
    pub quarantined: Vec<(String, i64)>,
    /// (state, items) of the Notion outbox, every state (0 included).
    pub outbox: Vec<(String, i64)>,
}

/// Reads the snapshot (four short queries; no lock taken).
pub async fn snapshot(pool: &PgPool) -> StoreResult<MetricsSnapshot> {
    let phases = sqlx::query_as(
        "SELECT m.name AS migration, s.position AS phase, s.state
         FROM switchyard.phase_states s JOIN switchyard.migrations m ON m.id = s.migration_id
         WHERE m.rehearsal_of IS NULL
         ORDER BY m.name, s.position",
    )
    .fetch_all(pool)
    .await?;
    let backfills = sqlx::query_as(
        "SELECT migration_name AS migration, rows_done, rows_total, rows_per_second, batch_size,
                paused, abort_requested, throttle_ms, target_batch_ms, throttled, updated_at
         FROM switchyard.backfill_progress ORDER BY migration_name",
    )
    .fetch_all(pool)
    .await?;
    let quarantined = sqlx::query_as(
        "SELECT m.name, (SELECT count(*) FROM switchyard.quarantine q WHERE q.migration_name = m.name)
         FROM switchyard.migrations m WHERE m.rehearsal_of IS NULL ORDER BY m.name",
    )
    .fetch_all(pool)
    .await?;
    let outbox = super::outbox::depth(pool).await?;
    Ok(MetricsSnapshot {
        phases,
        backfills,
        quarantined,
        outbox,
    })
}
