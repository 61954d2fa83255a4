//! The phase console service: builds what the Phases section shows and
//! carries out operator actions by driving the engine. Server functions stay
//! thin by calling only this. Runs happen in background tasks; their outcome
//! reaches every browser through the engine's events (see `live`).

pub mod live;

use sqlx::PgPool;

use crate::engine::phases::{why_not_roll_back, RunControl};
use crate::engine::state::PhaseRecord;
use crate::engine::verify::VerifyReport;
use crate::engine::{Engine, EngineError, EngineOptions, Recipe};
use crate::model::console::{
    ConsolePhase, ConsoleView, DifferenceRow, EventView, PhaseAction, ProgressView, QuarantineRow,
    ThroughputPoint, VerificationView,
};
use crate::model::{AppError, PhaseState};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("migration {0:?} not found")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("the recipe of this migration cannot be used: {0}")]
    Recipe(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<ConsoleError> for AppError {
    fn from(err: ConsoleError) -> Self {
        match err {
            ConsoleError::NotFound(name) => AppError::not_found(format!("migration {name:?}")),
            ConsoleError::Refused(m) => AppError::invalid("action", m),
            ConsoleError::Recipe(m) => AppError::invalid("recipe", m),
            ConsoleError::Engine(EngineError::Refused(m)) => AppError::invalid("action", m),
            ConsoleError::Engine(e @ EngineError::Busy(_)) => {
                AppError::invalid("action", e.to_string())
            }
            other => crate::store::StoreError::Corrupt {
                what: "phase console".into(),
                detail: other.to_string(),
            }
            .into(),
        }
    }
}

/// Loads the migration's recipe and builds an engine for it.
pub async fn engine_for(pool: &PgPool, name: &str, actor: &str) -> Result<Engine, ConsoleError> {
    let path: Option<Option<String>> =
        sqlx::query_scalar("SELECT recipe_path FROM switchyard.migrations WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    let path = path
        .ok_or_else(|| ConsoleError::NotFound(name.to_string()))?
        .ok_or_else(|| ConsoleError::Recipe("no recipe is attached to this migration".into()))?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConsoleError::Recipe(format!("cannot read {path}: {e}")))?;
    let recipe = Recipe::parse(&text).map_err(|errors| {
        ConsoleError::Recipe(
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    // Demos and tests may shorten the soak time for every recipe.
    let soak_hours = std::env::var("SWITCHYARD_SOAK_HOURS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok());
    if recipe.name != name {
        return Err(ConsoleError::Recipe(format!(
            "{path} is for migration {:?}, not {name:?}",
            recipe.name
        )));
    }
    Ok(Engine::new(
        pool.clone(),
        recipe,
        EngineOptions {
            actor: actor.to_string(),
            soak_hours,
            ..EngineOptions::default()
        },
    ))
}

const CONSEQUENCES: [Option<&str>; 5] = [
    None,
    None,
    None,
    Some("Applications are told to read from the new tables (read flag + NOTIFY); writes to the new tables flow back into the JSONB column."),
    Some("The JSONB column is backed up and then dropped from the source table; applications can no longer read it."),
];

/// Everything the Phases section shows, as of now.
pub async fn view(pool: &PgPool, name: &str) -> Result<ConsoleView, ConsoleError> {
    let engine = match engine_for(pool, name, "web").await {
        Ok(e) => e,
        Err(ConsoleError::Recipe(message)) => return read_only_view(pool, name, message).await,
        Err(e) => return Err(e),
    };
    let status = engine.status().await?;
    // What runs (and so what the dry run shows) is the pinned recipe; it
    // is loaded only when it differs from the file.
    let pinned = if status.recipe_changed {
        engine.pinned_engine().await?
    } else {
        None
    };
    let engine = pinned.as_ref().unwrap_or(&engine);
    let records = &status.phases;
    let busy = engine.is_busy().await?;
    let titles: Vec<String> = sqlx::query_scalar(
        "SELECT p.title FROM switchyard.plan_phases p JOIN switchyard.migrations m ON m.id = p.migration_id
         WHERE m.name = $1 ORDER BY p.position",
    )
    .bind(name)
    .fetch_all(pool)
    .await?;
    let mut phases = Vec::new();
    for r in records {
        let sql = engine
            .plan(r.phase)?
            .into_iter()
            .flat_map(|s| {
                std::iter::once(format!("-- {}", s.label))
                    .chain(s.sql.into_iter().map(|q| format!("{q};")))
            })
            .collect();
        let cannot_run = if busy {
            Some("another runner is active on this migration".to_string())
        } else {
            engine.why_not_apply(records, r.phase)
        };
        let cannot_roll_back = if busy {
            Some("another runner is active on this migration".to_string())
        } else {
            why_not_roll_back(records, r.phase)
        };
        phases.push(console_phase(r, &titles, sql, cannot_run, cannot_roll_back));
    }
    let progress = status.backfill.as_ref().map(|p| ProgressView {
        rows_done: p.rows_done,
        rows_total: p.rows_total,
        rows_per_second: p.rows_per_second,
        eta_seconds: p.eta_seconds(),
        percent: p.percent(),
        quarantined: p.quarantined,
        batch_size: p.batch_size,
        paused: p.paused,
        target_batch_ms: p.target_batch_ms,
        throttle_ms: p.throttle_ms,
    });
    let mut view = base_view(pool, name).await?;
    view.target_batch_ms = status
        .backfill
        .as_ref()
        .map(|p| p.target_batch_ms)
        .unwrap_or(engine.recipe().target_batch_ms as i32);
    view.throttle_ms = status.backfill.as_ref().map(|p| p.throttle_ms).unwrap_or(0);
    view.phases = phases;
    view.progress = progress;
    view.quarantined = status.quarantined;
    view.unmapped_keys = status
        .unmapped_keys
        .into_iter()
        .map(|k| (k.key_path, k.documents))
        .collect();
    view.reads_from = status.reads_from;
    view.busy = busy;
    view.pinned_recipe_hash = status.pinned_recipe_hash;
    view.recipe_changed = status.recipe_changed;
    view.quarantine_sample = sqlx::query_as::<_, (String, String)>(
        "SELECT source_key, reason FROM switchyard.quarantine WHERE migration_name = $1
         ORDER BY quarantined_at, source_key LIMIT 20",
    )
    .bind(name)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(key, reason)| QuarantineRow { key, reason })
    .collect();
    Ok(view)
}

fn console_phase(
    r: &PhaseRecord,
    titles: &[String],
    sql: Vec<String>,
    cannot_run: Option<String>,
    cannot_roll_back: Option<String>,
) -> ConsolePhase {
    let idx = (r.phase - 1) as usize;
    ConsolePhase {
        position: r.phase,
        title: titles
            .get(idx)
            .cloned()
            .unwrap_or_else(|| format!("Phase {}", r.phase)),
        state: r.state,
        started_by: r.started_by.clone(),
        started_at: r.started_at,
        finished_at: r.finished_at,
        error: r.error.clone(),
        cannot_run,
        cannot_roll_back,
        sql,
        consequence: CONSEQUENCES.get(idx).copied().flatten().map(str::to_string),
    }
}

/// Events and throughput, shared by the full and the read-only view.
async fn base_view(pool: &PgPool, name: &str) -> Result<ConsoleView, ConsoleError> {
    #[derive(sqlx::FromRow)]
    struct Ev {
        id: i64,
        at: chrono::DateTime<chrono::Utc>,
        actor: String,
        phase: Option<i16>,
        kind: String,
        payload: serde_json::Value,
    }
    let events: Vec<Ev> = sqlx::query_as(
        "SELECT e.id, e.at, e.actor, e.phase, e.kind, e.payload FROM switchyard.events e
         JOIN switchyard.migrations m ON m.id = e.migration_id
         WHERE m.name = $1 AND e.kind NOT IN ('progress', 'verify_progress') ORDER BY e.id DESC LIMIT 50",
    )
    .bind(name)
    .fetch_all(pool)
    .await?;
    let throughput: Vec<(chrono::DateTime<chrono::Utc>, Option<f64>)> = sqlx::query_as(
        "SELECT at, (payload->>'rows_per_second')::float8 FROM (
             SELECT e.at, e.payload, e.id FROM switchyard.events e
             JOIN switchyard.migrations m ON m.id = e.migration_id
             WHERE m.name = $1 AND e.kind = 'progress'
               -- this backfill only: not one from before a rollback of phase 2
               AND e.id > coalesce((SELECT max(r.id) FROM switchyard.events r
                                    WHERE r.migration_id = m.id AND r.phase = 2
                                      AND r.kind = 'rollback_started'), 0)
             ORDER BY e.id DESC LIMIT 120) x
         ORDER BY id",
    )
    .bind(name)
    .fetch_all(pool)
    .await?;
    Ok(ConsoleView {
        name: name.to_string(),
        phases: Vec::new(),
        progress: None,
        throughput: throughput
            .into_iter()
            .filter_map(|(at, r)| {
                r.map(|rows_per_second| ThroughputPoint {
                    at,
                    rows_per_second,
                })
            })
            .collect(),
        quarantined: 0,
        quarantine_sample: Vec::new(),
        unmapped_keys: Vec::new(),
        events: events
            .into_iter()
            .map(|e| EventView {
                id: e.id,
                at: e.at,
                actor: e.actor,
                phase: e.phase,
                detail: describe(&e.kind, &e.payload),
                kind: e.kind,
            })
            .collect(),
        reads_from: "source".into(),
        busy: false,
        recipe_error: None,
        verification: latest_verification(pool, name).await?,
        target_batch_ms: 200,
        throttle_ms: 0,
        pinned_recipe_hash: None,
        recipe_changed: false,
    })
}

async fn latest_verification(
    pool: &PgPool,
    name: &str,
) -> Result<Option<VerificationView>, ConsoleError> {
    let row: Option<(chrono::DateTime<chrono::Utc>, String, serde_json::Value)> = sqlx::query_as(
        "SELECT e.at, e.kind, e.payload FROM switchyard.events e
         JOIN switchyard.migrations m ON m.id = e.migration_id
         WHERE m.name = $1 AND e.kind IN ('verify_progress', 'verified')
         ORDER BY e.id DESC LIMIT 1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    let Some((at, kind, payload)) = row else {
        return Ok(None);
    };
    let Ok(report) = serde_json::from_value::<VerifyReport>(payload) else {
        return Ok(None);
    };
    let show = |v: Option<serde_json::Value>| v.map(|v| v.to_string());
    Ok(Some(VerificationView {
        at,
        finished: kind == "verified",
        rows_compared: report.rows_compared,
        rows_total: report.rows_total,
        differences: report.differences,
        first_differences: report
            .first_differences
            .into_iter()
            .map(|d| DifferenceRow {
                table: d.table,
                key: d.key,
                entry: d.entry,
                expected: show(d.expected),
                actual: show(d.actual),
            })
            .collect(),
    }))
}

fn describe(kind: &str, payload: &serde_json::Value) -> String {
    match kind {
        "phase_state" => {
            let state = payload["state"].as_str().unwrap_or("?");
            match payload["error"].as_str() {
                Some(err) => format!("{state}: {err}"),
                None => state.replace('_', " "),
            }
        }
        "capture_drained" => format!("{} captured write(s) replayed", payload["keys"]),
        "accepted" => format!(
            "accepted {} quarantined document(s) and {} difference(s)",
            payload["quarantined"], payload["differences"]
        ),
        "rollback_started" => "rollback started".into(),
        "verified" => format!(
            "verified {} rows: {} difference(s), {} quarantined",
            payload["rows_compared"], payload["differences"], payload["quarantined"]
        ),
        "throttle" => format!(
            "throttle: target batch {} ms, pause {} ms",
            payload["target_batch_ms"], payload["throttle_ms"]
        ),
        "seeded" => "seeded from the built-in demo".into(),
        other => other.replace('_', " "),
    }
}

/// The console of a migration whose recipe cannot be loaded: states only.
async fn read_only_view(
    pool: &PgPool,
    name: &str,
    message: String,
) -> Result<ConsoleView, ConsoleError> {
    let records: Vec<crate::model::PhaseView> = crate::store::migrations::phases(pool, name)
        .await
        .map_err(|e| ConsoleError::Recipe(e.to_string()))?;
    let mut view = base_view(pool, name).await?;
    view.phases = records
        .into_iter()
        .map(|p| ConsolePhase {
            position: p.position,
            title: p.title,
            state: p.state,
            started_by: None,
            started_at: None,
            finished_at: None,
            error: None,
            cannot_run: Some(message.clone()),
            cannot_roll_back: Some(message.clone()),
            sql: Vec::new(),
            consequence: None,
        })
        .collect();
    view.recipe_error = Some(message);
    Ok(view)
}

/// Carries out an operator action. Refusals are checked here, on the server,
/// before anything starts; long work continues in a background task.
pub async fn act(
    pool: &PgPool,
    name: &str,
    phase: i16,
    action: PhaseAction,
    accept_quarantine: bool,
    actor: &str,
) -> Result<(), ConsoleError> {
    let engine = engine_for(pool, name, actor).await?;
    let records = engine.phase_records().await?;
    let record = records
        .get((phase.clamp(1, 5) - 1) as usize)
        .filter(|_| (1..=5).contains(&phase))
        .ok_or_else(|| ConsoleError::Refused(format!("there is no phase {phase}")))?
        .clone();
    let busy = engine.is_busy().await?;
    match action {
        PhaseAction::Run | PhaseAction::Resume => {
            if busy {
                return Err(ConsoleError::Refused(
                    "another runner is active on this migration; wait for it to finish".into(),
                ));
            }
            if action == PhaseAction::Resume
                && !matches!(
                    record.state,
                    PhaseState::Paused | PhaseState::Running | PhaseState::Failed
                )
            {
                return Err(ConsoleError::Refused(format!(
                    "phase {phase} is {}, there is nothing to resume",
                    record.state.label().to_lowercase()
                )));
            }
            if let Some(reason) = engine.why_not_apply(&records, phase) {
                return Err(ConsoleError::Refused(reason));
            }
            if phase == 4 && !accept_quarantine {
                // The engine's gate refuses this too; saying so now spares
                // the operator a full verification run.
                let quarantined = engine.status().await?.quarantined;
                if quarantined > 0 {
                    return Err(ConsoleError::Refused(format!(
                        "{quarantined} document(s) are in quarantine; review them and accept them to switch reads"
                    )));
                }
            }
            let ctl = RunControl {
                accept_quarantine,
                ..RunControl::default()
            };
            tokio::spawn(async move {
                if let Err(e) = engine.apply(phase, &ctl).await {
                    tracing::warn!(phase, error = %e, "phase run ended with an error");
                }
            });
        }
        PhaseAction::Pause | PhaseAction::Abort => {
            if phase != 2 || record.state != PhaseState::Running || !busy {
                return Err(ConsoleError::Refused(format!(
                    "only a running backfill (phase 2) can be paused or aborted; phase {phase} is {}",
                    record.state.label().to_lowercase()
                )));
            }
            engine.request_stop(action == PhaseAction::Abort).await?;
        }
        PhaseAction::RollBack => {
            if busy {
                return Err(ConsoleError::Refused(
                    "another runner is active on this migration; wait for it to finish".into(),
                ));
            }
            if let Some(reason) = why_not_roll_back(&records, phase) {
                return Err(ConsoleError::Refused(reason));
            }
            tokio::spawn(async move {
                if let Err(e) = engine.rollback(phase).await {
                    tracing::warn!(phase, error = %e, "rollback ended with an error");
                }
            });
        }
    }
    Ok(())
}

/// Backfill throttle controls (target batch duration, pause between batches).
pub async fn throttle(
    pool: &PgPool,
    name: &str,
    target_batch_ms: i32,
    throttle_ms: i32,
) -> Result<(), ConsoleError> {
    if !(10..=60_000).contains(&target_batch_ms) {
        return Err(ConsoleError::Refused(
            "target batch duration must be 10 to 60000 ms".into(),
        ));
    }
    if !(0..=60_000).contains(&throttle_ms) {
        return Err(ConsoleError::Refused(
            "pause between batches must be 0 to 60000 ms".into(),
        ));
    }
    let engine = engine_for(pool, name, "web").await?;
    engine.set_throttle(target_batch_ms, throttle_ms).await?;
    let id = crate::engine::state::ensure_migration(pool, engine.recipe()).await?;
    crate::engine::state::event(
        pool,
        id,
        Some(2),
        "web",
        "throttle",
        serde_json::json!({ "target_batch_ms": target_batch_ms, "throttle_ms": throttle_ms }),
    )
    .await?;
    Ok(())
}
