//! What the phase console and the live endpoints read from our schema: a
//! migration's id, recipe location, everything its console shows (in one
//! statement: `snapshot`) and its read flag. Events
//! come back as the engine's `Event`, never as raw JSON.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;

use super::{StoreError, StoreResult};
use crate::engine::journal::PhaseRecord;
use crate::engine::vocab::kind;
use crate::engine::vocab::BackfillProgress;
use crate::engine::{Event, Phase, PhaseState, ReadsFrom};

/// One event of a migration's log.
pub struct StoredEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub phase: Option<Phase>,
    pub event: Event,
}

#[derive(sqlx::FromRow, serde::Deserialize)]
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

/// Records `event` of `phase` in migration `name`'s log, as `actor`'s: what
/// the console itself did or saw (a stop asked for, a run refused when its
/// runner started), beside what the engine records.
pub async fn record(
    pool: &PgPool,
    name: &str,
    phase: Phase,
    actor: &str,
    event: &Event,
) -> StoreResult<()> {
    let Some(id) = migration_id(pool, name).await? else {
        return Err(StoreError::NotFound(format!("migration {name}")));
    };
    let mut conn = pool.acquire().await?;
    super::events::append(&mut conn, id, Some(phase), actor, event).await?;
    Ok(())
}

/// Where the migration's recipe is: the SHA-256 of its newest stored
/// version, and the file of a migration attached to one before recipes were
/// stored (either may be None; both None: no recipe attached).
pub async fn recipe_source(
    pool: &PgPool,
    name: &str,
) -> StoreResult<(Option<String>, Option<String>)> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT (SELECT r.hash FROM switchyard.recipes r WHERE r.migration_id = m.id
                 ORDER BY r.version DESC LIMIT 1), m.recipe_path
         FROM switchyard.migrations m WHERE m.name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    row.ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))
}

/// Everything the phase console shows of one migration, as of one
/// statement: a view is built on every page load and every live update, so
/// it is read in one round trip instead of one per part.
pub struct Snapshot {
    /// SHA-256 of the newest stored version of the recipe (None: none stored).
    pub recipe_hash: Option<String>,
    /// Where the recipe file is, for a migration attached to one before
    /// recipes were stored (None: no file).
    pub recipe_path: Option<String>,
    /// SHA-256 of the recipe pinned at phase 1 (None before phase 1).
    pub pinned_hash: Option<String>,
    /// The phases' records, in phase order (fewer than five until the
    /// engine has created them).
    pub phases: Vec<PhaseRecord>,
    /// The plan's title of each phase, in phase order.
    pub titles: Vec<String>,
    pub backfill: Option<BackfillProgress>,
    pub quarantined: i64,
    /// Keys mapped nowhere: (key path, documents), most frequent first.
    pub unmapped_keys: Vec<(String, i64)>,
    pub reads_from: ReadsFrom,
    /// The latest events, newest first, progress ticks left out.
    pub events: Vec<StoredEvent>,
    /// The current backfill's latest progress ticks, oldest first (not
    /// those of a backfill before a rollback of phase 2).
    pub ticks: Vec<StoredEvent>,
    /// The latest verification event (in progress or finished), if any.
    pub verification: Option<StoredEvent>,
    /// The first quarantined documents: (source key, reason).
    pub quarantine_sample: Vec<(String, String)>,
    /// Whether a runner holds the migration's lock now (what
    /// `engine::state::runner_active` answers), asked in the same statement.
    pub runner_active: bool,
    /// Phases an admin made wait for an approval.
    pub approval_required: Vec<Phase>,
    /// The latest request for approval of each phase that has one.
    pub approvals: Vec<super::approvals::StoredApproval>,
    /// The latest change of any phase state (what approvals are bound to).
    pub states_at: Option<DateTime<Utc>>,
}

/// Latest events in `Snapshot::events`.
const EVENTS_SHOWN: i64 = 50;
/// Progress ticks in `Snapshot::ticks` (the throughput chart).
const TICKS_SHOWN: i64 = 120;
/// Quarantined documents in `Snapshot::quarantine_sample`.
const QUARANTINE_SHOWN: i64 = 20;

#[derive(sqlx::FromRow)]
struct SnapshotRow {
    recipe_hash: Option<String>,
    recipe_path: Option<String>,
    pinned_hash: Option<String>,
    phases: Json<Vec<PhaseJson>>,
    titles: Vec<String>,
    backfill: Option<Json<BackfillProgress>>,
    quarantined: i64,
    unmapped: Json<Vec<(String, i64)>>,
    reads_from: Option<ReadsFrom>,
    events: Json<Vec<EventRow>>,
    ticks: Json<Vec<EventRow>>,
    verification: Option<Json<EventRow>>,
    quarantine_sample: Json<Vec<(String, String)>>,
    runner_active: bool,
    approval_required: Vec<Phase>,
    approvals: Json<Vec<super::approvals::StoredApproval>>,
    states_at: Option<DateTime<Utc>>,
}

#[derive(serde::Deserialize)]
struct PhaseJson {
    phase: Phase,
    state: String,
    started_by: Option<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    error: Option<String>,
}

/// The console's `Snapshot` of migration `name`; None when there is no
/// such migration.
pub async fn snapshot(pool: &PgPool, name: &str) -> StoreResult<Option<Snapshot>> {
    const EVENT: &str = "e.id, e.at, e.actor, e.phase, e.kind, e.payload";
    let sql = format!(
        "SELECT m.recipe_path, m.pinned_hash,
            (SELECT r.hash FROM switchyard.recipes r WHERE r.migration_id = m.id
             ORDER BY r.version DESC LIMIT 1) AS recipe_hash,
            coalesce((SELECT json_agg(json_build_object('phase', s.position, 'state', s.state,
                         'started_by', s.started_by, 'started_at', s.started_at,
                         'finished_at', s.finished_at, 'error', s.error) ORDER BY s.position)
                      FROM switchyard.phase_states s WHERE s.migration_id = m.id), '[]') AS phases,
            array(SELECT p.title FROM switchyard.plan_phases p WHERE p.migration_id = m.id
                  ORDER BY p.position) AS titles,
            (SELECT row_to_json(b) FROM (
                 SELECT last_key, rows_done, rows_total, quarantined, batch_size, rows_per_second,
                        paused, target_batch_ms, throttle_ms, throttled
                 FROM switchyard.backfill_progress WHERE migration_name = m.name) b) AS backfill,
            (SELECT count(*) FROM switchyard.quarantine q WHERE q.migration_name = m.name) AS quarantined,
            coalesce((SELECT json_agg(json_build_array(u.key_path, u.documents)
                                      ORDER BY u.documents DESC, u.key_path)
                      FROM switchyard.unmapped_keys u WHERE u.migration_name = m.name), '[]') AS unmapped,
            (SELECT f.reads_from FROM switchyard.read_flags f WHERE f.migration_name = m.name) AS reads_from,
            coalesce((SELECT json_agg(x ORDER BY x.id DESC) FROM (
                 SELECT {EVENT} FROM switchyard.events e
                 WHERE e.migration_id = m.id AND e.kind <> ALL($2)
                 ORDER BY e.id DESC LIMIT $3) x), '[]') AS events,
            coalesce((SELECT json_agg(x ORDER BY x.id) FROM (
                 SELECT {EVENT} FROM switchyard.events e
                 WHERE e.migration_id = m.id AND e.kind = $4
                   AND e.id > coalesce((SELECT max(r.id) FROM switchyard.events r
                                        WHERE r.migration_id = m.id AND r.phase = $5
                                          AND r.kind = $6), 0)
                 ORDER BY e.id DESC LIMIT $7) x), '[]') AS ticks,
            (SELECT row_to_json(x) FROM (
                 SELECT {EVENT} FROM switchyard.events e
                 WHERE e.migration_id = m.id AND e.kind IN ($8, $9)
                 ORDER BY e.id DESC LIMIT 1) x) AS verification,
            coalesce((SELECT json_agg(json_build_array(x.source_key, x.reason)) FROM (
                 SELECT source_key, reason FROM switchyard.quarantine WHERE migration_name = m.name
                 ORDER BY quarantined_at, source_key LIMIT $10) x), '[]') AS quarantine_sample,
            {runner_active} AS runner_active,
            {required} AS approval_required,
            {latest} AS approvals,
            {states_at} AS states_at
         FROM switchyard.migrations m WHERE m.name = $1",
        runner_active = crate::engine::state::lock_granted_sql("m.name", "$11", "true"),
        required = super::approvals::REQUIRED_SQL,
        latest = super::approvals::LATEST_SQL,
        states_at = super::approvals::STATES_AT_SQL,
    );
    let row: Option<SnapshotRow> = sqlx::query_as(&sql)
        .bind(name)
        .bind(&Event::TICKS[..])
        .bind(EVENTS_SHOWN)
        .bind(kind::PROGRESS)
        .bind(Phase::Backfill)
        .bind(kind::ROLLBACK_STARTED)
        .bind(TICKS_SHOWN)
        .bind(kind::VERIFY_PROGRESS)
        .bind(kind::VERIFIED)
        .bind(QUARANTINE_SHOWN)
        .bind(crate::engine::state::RUNNER_LOCK)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let phases = row
        .phases
        .0
        .into_iter()
        .map(|p| {
            let state = PhaseState::parse(&p.state).ok_or_else(|| StoreError::Corrupt {
                what: format!("state of phase {}", p.phase),
                detail: format!("unknown state {:?}", p.state),
            })?;
            Ok(PhaseRecord {
                phase: p.phase,
                state,
                started_by: p.started_by,
                started_at: p.started_at,
                finished_at: p.finished_at,
                error: p.error,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(Snapshot {
        recipe_hash: row.recipe_hash,
        recipe_path: row.recipe_path,
        pinned_hash: row.pinned_hash,
        phases,
        titles: row.titles,
        backfill: row.backfill.map(|b| b.0),
        quarantined: row.quarantined,
        unmapped_keys: row.unmapped.0,
        reads_from: row.reads_from.unwrap_or_default(),
        events: row.events.0.into_iter().map(StoredEvent::from).collect(),
        ticks: row.ticks.0.into_iter().map(StoredEvent::from).collect(),
        verification: row.verification.map(|v| StoredEvent::from(v.0)),
        quarantine_sample: row.quarantine_sample.0,
        runner_active: row.runner_active,
        approval_required: row.approval_required,
        approvals: row.approvals.0,
        states_at: row.states_at,
    }))
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

/// How far migration `name`'s backfill has got, in percent: None before
/// it started (or after a rollback of phase 2, which starts it again from
/// nothing), as the console's progress says. What a share link's page
/// shows, read without the rest of the console's snapshot.
pub async fn backfill_percent(pool: &PgPool, name: &str) -> StoreResult<Option<f64>> {
    let progress: Option<Json<BackfillProgress>> = sqlx::query_scalar(
        "SELECT row_to_json(b) FROM (
             SELECT b.last_key, b.rows_done, b.rows_total, b.quarantined, b.batch_size,
                    b.rows_per_second, b.paused, b.target_batch_ms, b.throttle_ms, b.throttled
             FROM switchyard.migrations m
             JOIN switchyard.phase_states s ON s.migration_id = m.id AND s.position = $2
             JOIN switchyard.backfill_progress b ON b.migration_name = m.name
             WHERE m.name = $1 AND s.state NOT IN ($3, $4)) b",
    )
    .bind(name)
    .bind(Phase::Backfill)
    .bind(PhaseState::Pending.as_str())
    .bind(PhaseState::RolledBack.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(progress.map(|p| p.0.percent()))
}
