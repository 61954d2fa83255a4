//! The phase console service: builds what the Phases section shows and
//! carries out operator actions by driving the engine. Server functions stay
//! thin by calling only this. Runs happen in background tasks; their outcome
//! reaches every browser through the engine's events (see `live`).

pub mod live;

use sqlx::PgPool;

use crate::engine::phases::{why_not_roll_back, RunControl};
use crate::engine::state::PhaseRecord;
use crate::engine::vocab::{actor, kind};
use crate::engine::{Engine, EngineError, EngineOptions, Event, Phase, Recipe};
use crate::model::console::{
    ConsolePhase, ConsoleView, DifferenceRow, EventView, PhaseAction, PhaseChoice, ProgressView,
    QuarantineRow, ThroughputPoint, VerificationView,
};
use crate::model::{AppError, PhaseState, ReadsFrom};

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
        use crate::server::error::{internal, is_outage, unavailable};
        match err {
            ConsoleError::NotFound(name) => AppError::not_found(format!("migration {name:?}")),
            ConsoleError::Refused(m) => AppError::invalid("action", m),
            ConsoleError::Recipe(m) => AppError::invalid("recipe", m),
            ConsoleError::Engine(EngineError::Refused(m)) => AppError::invalid("action", m),
            // Another runner holds the migration: a conflict, not bad input.
            ConsoleError::Engine(e @ EngineError::Busy(_)) => AppError::Conflict {
                message: e.to_string(),
            },
            ConsoleError::Database(e) | ConsoleError::Engine(EngineError::Database(e))
                if is_outage(&e) =>
            {
                unavailable(&e)
            }
            other => internal(&other),
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

/// Everything the Phases section shows, as of now.
pub async fn view(pool: &PgPool, name: &str) -> Result<ConsoleView, ConsoleError> {
    let engine = match engine_for(pool, name, actor::WEB).await {
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
            .plan(r.phase)
            .iter()
            .flat_map(|s| {
                std::iter::once(format!("-- {}", s.label))
                    .chain(s.statements().into_iter().map(|q| format!("{q};")))
            })
            .collect();
        let blocked = match r.state {
            PhaseState::Done | PhaseState::Running | PhaseState::Verifying => None,
            _ if busy => Some(ANOTHER_RUNNER.to_string()),
            _ => engine.why_not_apply(records, r.phase),
        };
        let choices = choices(engine, records, r.phase, busy);
        phases.push(console_phase(r, &titles, sql, blocked, choices));
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

const ANOTHER_RUNNER: &str = "another runner is active on this migration; wait for it to finish";

/// What the operator may do with `phase` now: the buttons its card shows,
/// each allowed or refused with the reason, and what must be confirmed.
/// Decided here only: the page renders these, and `act` refuses exactly
/// what `verdicts` refuses.
fn choices(engine: &Engine, records: &[PhaseRecord], phase: Phase, busy: bool) -> Vec<PhaseChoice> {
    verdicts(engine, records, phase, busy)
        .into_iter()
        .filter(|c| match c.action {
            // Stopping and resuming are the backfill's controls; another
            // phase shows Resume only when it can resume (it failed, or its
            // runner is gone).
            PhaseAction::Pause | PhaseAction::Abort => phase == Phase::Backfill,
            PhaseAction::Resume => phase == Phase::Backfill || c.refused.is_none(),
            PhaseAction::Run | PhaseAction::RollBack => true,
        })
        .collect()
}

/// Every action's verdict for `phase` now, in button order.
fn verdicts(
    engine: &Engine,
    records: &[PhaseRecord],
    phase: Phase,
    busy: bool,
) -> Vec<PhaseChoice> {
    let state = records
        .get(phase.index())
        .map(|r| r.state)
        .unwrap_or(PhaseState::Pending);
    let is = |states: &[PhaseState]| states.contains(&state);
    let now = |what: &str| format!("phase {phase} is {}, {what}", state.label().to_lowercase());
    let runs = |refused: Option<String>| {
        if busy {
            Some(ANOTHER_RUNNER.into())
        } else {
            refused
        }
    };
    let not_now = engine.why_not_apply(records, phase);
    let startable = is(&[
        PhaseState::Pending,
        PhaseState::RolledBack,
        PhaseState::Failed,
    ]);
    // A running backfill stops at its next checkpoint.
    let stoppable = phase == Phase::Backfill && state == PhaseState::Running && busy;
    let not_stoppable =
        (!stoppable).then(|| now("only a running backfill (phase 2) can be paused or aborted"));
    // Resume: a paused or failed phase, or one left running by a runner
    // that is gone (a server restart).
    let resumable = is(&[PhaseState::Paused, PhaseState::Failed])
        || (is(&[PhaseState::Running, PhaseState::Verifying]) && !busy);
    let choice = |action, refused, confirm| PhaseChoice {
        action,
        refused,
        confirm,
    };
    vec![
        choice(
            PhaseAction::Run,
            runs(
                not_now
                    .clone()
                    .or_else(|| (!startable).then(|| now("so it cannot be started"))),
            ),
            phase.consequence().map(str::to_string),
        ),
        choice(PhaseAction::Pause, not_stoppable.clone(), None),
        choice(
            PhaseAction::Resume,
            runs(if resumable {
                not_now
            } else {
                Some(now("there is nothing to resume"))
            }),
            phase.consequence().map(str::to_string),
        ),
        choice(PhaseAction::Abort, not_stoppable, None),
        choice(
            PhaseAction::RollBack,
            runs(why_not_roll_back(records, phase)),
            Some(format!(
                "Rolling back phase {phase} ({}) undoes it: {}",
                phase.title(),
                phase.rollback_consequence()
            )),
        ),
    ]
}

fn console_phase(
    r: &PhaseRecord,
    titles: &[String],
    sql: Vec<String>,
    blocked: Option<String>,
    choices: Vec<PhaseChoice>,
) -> ConsolePhase {
    ConsolePhase {
        phase: r.phase,
        title: titles
            .get(r.phase.index())
            .cloned()
            .unwrap_or_else(|| r.phase.title().to_string()),
        state: r.state,
        started_by: r.started_by.clone(),
        started_at: r.started_at,
        finished_at: r.finished_at,
        error: r.error.clone(),
        blocked,
        choices,
        sql,
    }
}

/// Events and throughput, shared by the full and the read-only view.
async fn base_view(pool: &PgPool, name: &str) -> Result<ConsoleView, ConsoleError> {
    #[derive(sqlx::FromRow)]
    struct Ev {
        id: i64,
        at: chrono::DateTime<chrono::Utc>,
        actor: String,
        phase: Option<Phase>,
        kind: String,
        payload: serde_json::Value,
    }
    let events: Vec<Ev> = sqlx::query_as(
        "SELECT e.id, e.at, e.actor, e.phase, e.kind, e.payload FROM switchyard.events e
         JOIN switchyard.migrations m ON m.id = e.migration_id
         WHERE m.name = $1 AND e.kind <> ALL($2) ORDER BY e.id DESC LIMIT 50",
    )
    .bind(name)
    .bind(&Event::TICKS[..])
    .fetch_all(pool)
    .await?;
    let ticks: Vec<(chrono::DateTime<chrono::Utc>, String, serde_json::Value)> = sqlx::query_as(
        "SELECT at, kind, payload FROM (
             SELECT e.at, e.kind, e.payload, e.id FROM switchyard.events e
             JOIN switchyard.migrations m ON m.id = e.migration_id
             WHERE m.name = $1 AND e.kind = $2
               -- this backfill only: not one from before a rollback of phase 2
               AND e.id > coalesce((SELECT max(r.id) FROM switchyard.events r
                                    WHERE r.migration_id = m.id AND r.phase = $3
                                      AND r.kind = $4), 0)
             ORDER BY e.id DESC LIMIT 120) x
         ORDER BY id",
    )
    .bind(name)
    .bind(kind::PROGRESS)
    .bind(Phase::Backfill)
    .bind(kind::ROLLBACK_STARTED)
    .fetch_all(pool)
    .await?;
    Ok(ConsoleView {
        name: name.to_string(),
        phases: Vec::new(),
        progress: None,
        throughput: ticks
            .into_iter()
            .filter_map(
                |(at, kind, payload)| match Event::from_stored(&kind, &payload) {
                    Event::Progress(p) => Some(ThroughputPoint {
                        at,
                        rows_per_second: p.rows_per_second,
                    }),
                    _ => None,
                },
            )
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
                event: Event::from_stored(&e.kind, &e.payload),
            })
            .collect(),
        reads_from: ReadsFrom::default(),
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
         WHERE m.name = $1 AND e.kind IN ($2, $3)
         ORDER BY e.id DESC LIMIT 1",
    )
    .bind(name)
    .bind(kind::VERIFY_PROGRESS)
    .bind(kind::VERIFIED)
    .fetch_optional(pool)
    .await?;
    let Some((at, kind, payload)) = row else {
        return Ok(None);
    };
    let (report, finished) = match Event::from_stored(&kind, &payload) {
        Event::VerifyProgress(report) => (report, false),
        Event::Verified(report) => (report, true),
        _ => return Ok(None),
    };
    let show = |v: Option<serde_json::Value>| v.map(|v| v.to_string());
    Ok(Some(VerificationView {
        at,
        finished,
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
            phase: p.position,
            title: p.title,
            state: p.state,
            started_by: None,
            started_at: None,
            finished_at: None,
            error: None,
            blocked: Some(message.clone()),
            choices: Vec::new(),
            sql: Vec::new(),
        })
        .collect();
    view.recipe_error = Some(message);
    Ok(view)
}

/// Carries out an operator action, if `verdicts` allows it now (refused
/// otherwise, with the reason); long work continues in a background task.
pub async fn act(
    pool: &PgPool,
    name: &str,
    phase: i16,
    action: PhaseAction,
    accept_quarantine: bool,
    actor: &str,
) -> Result<(), ConsoleError> {
    let phase = Phase::from_number(phase).map_err(|e| ConsoleError::Refused(e.to_string()))?;
    let engine = engine_for(pool, name, actor).await?;
    let records = engine.phase_records().await?;
    let busy = engine.is_busy().await?;
    let choice = verdicts(&engine, &records, phase, busy)
        .into_iter()
        .find(|c| c.action == action)
        .ok_or_else(|| ConsoleError::Refused(format!("phase {phase} has no {action:?}")))?;
    if let Some(reason) = choice.refused {
        return Err(ConsoleError::Refused(reason));
    }
    match action {
        PhaseAction::Run | PhaseAction::Resume => {
            if phase == Phase::SwitchReads && !accept_quarantine {
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
                    tracing::warn!(%phase, error = %e, "phase run ended with an error");
                }
            });
        }
        PhaseAction::Pause | PhaseAction::Abort => {
            engine.request_stop(action == PhaseAction::Abort).await?;
        }
        PhaseAction::RollBack => {
            tokio::spawn(async move {
                if let Err(e) = engine.rollback(phase).await {
                    tracing::warn!(%phase, error = %e, "rollback ended with an error");
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
    let engine = engine_for(pool, name, actor::WEB).await?;
    engine.set_throttle(target_batch_ms, throttle_ms).await?;
    let id = crate::engine::state::ensure_migration(pool, engine.recipe()).await?;
    let event = Event::Throttle {
        target_batch_ms,
        throttle_ms,
    };
    let phase = Some(Phase::Backfill);
    crate::engine::state::event(pool, id, phase, actor::WEB, &event).await?;
    Ok(())
}
