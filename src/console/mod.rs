//! The phase console service: builds what the Phases section shows and
//! carries out operator actions by driving the engine. Server functions stay
//! thin by calling only this; what it reads of our schema, it reads through
//! the store. Runs happen in background tasks; their outcome reaches every
//! browser through the engine's events (see `live`).

pub mod live;
pub mod rehearsal;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::PgPool;

use crate::domain::approvals::{self as approval_rules, Circumstances};
use crate::engine::journal::PhaseRecord;
use crate::engine::locks::table_locks;
use crate::engine::phases::{why_not_roll_back, RunControl};
use crate::engine::vocab::actor;
use crate::engine::vocab::TableLock;
use crate::engine::{
    Engine, EngineError, EngineOptions, Event, Phase, Planner, Recipe, Step, Work,
};
use crate::model::approval::PhaseApproval;
use crate::model::console::{
    ConsolePhase, ConsoleView, DifferenceRow, EventView, PhaseAction, PhaseChoice, ProgressView,
    QuarantineRow, ThroughputPoint, VerificationView,
};
use crate::model::rehearsal::RehearsalView;
use crate::model::{AppError, PhaseState, ReadsFrom};
use crate::store::console::{self as stored, Snapshot, StoredEvent};
use crate::store::journal::PgJournal;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("migration {0:?} not found")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    /// A setting out of range; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("the recipe of this migration cannot be used: {0}")]
    Recipe(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Approval(#[from] crate::approvals::ApprovalError),
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
            ConsoleError::Invalid { field, message } => AppError::invalid(field, message),
            ConsoleError::Engine(EngineError::Recipe(errors)) => AppError::invalid(
                "recipe",
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            // The application held a lock too long, or another runner took
            // over: nothing is wrong with the request; try again later.
            ConsoleError::Engine(
                e @ (EngineError::LockTimeout { .. } | EngineError::LockLost(_)),
            ) => AppError::Conflict {
                message: e.to_string(),
            },
            ConsoleError::Engine(
                EngineError::Database(e) | EngineError::Step { source: e, .. },
            ) if is_outage(&e) => unavailable(&e),
            ConsoleError::Store(StoreError::NotFound(what)) => AppError::not_found(what),
            ConsoleError::Store(e) => AppError::from(e),
            ConsoleError::Approval(e) => AppError::from(e),
            other => internal(&other),
        }
    }
}

/// What the console needs: the database, and the settings that apply to
/// every engine it builds (from `server::config::Config`).
#[derive(Clone)]
pub struct Console {
    pool: PgPool,
    settings: Settings,
    /// Each recipe file's last parse (with its SHA-256), by path: a read
    /// that finds the same text again reuses it instead of parsing the TOML
    /// and hashing it anew.
    recipes: Arc<Mutex<HashMap<String, Arc<ParsedRecipe>>>>,
    /// Each recipe's dry run, computed once (by recipe hash): the plan is
    /// pure, so it is the same for as long as the recipe is.
    dry_runs: Arc<Mutex<HashMap<String, Arc<DryRun>>>>,
}

/// A recipe's dry run as the console shows it: each phase's SQL (label
/// comments, then statements), and whether the phase runs the verification
/// gate; indexed by `Phase::index`.
#[derive(Debug)]
struct DryRun {
    sql: Vec<Vec<String>>,
    gated: Vec<bool>,
    /// The table locks each phase takes (`engine::locks`).
    locks: Vec<Vec<TableLock>>,
}

impl DryRun {
    fn of(recipe: &Recipe) -> Self {
        let planner = Planner::new(recipe);
        let steps: Vec<Vec<Step>> = Phase::ALL.iter().map(|p| planner.apply(*p)).collect();
        DryRun {
            sql: steps
                .iter()
                .map(|steps| {
                    steps
                        .iter()
                        .flat_map(|s| {
                            std::iter::once(format!("-- {}", s.label))
                                .chain(s.statements().into_iter().map(|q| format!("{q};")))
                        })
                        .collect()
                })
                .collect(),
            gated: steps
                .iter()
                .map(|steps| steps.iter().any(|s| matches!(s.work, Work::Verify(_))))
                .collect(),
            locks: steps.iter().map(|steps| table_locks(steps)).collect(),
        }
    }
}

/// A recipe as parsed, and its SHA-256.
type ParsedRecipe = (Recipe, String);

/// Distinct recipes (and recipe files) kept in each cache before it starts
/// afresh.
const DRY_RUNS_KEPT: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Overrides every recipe's soak time (demos, browser tests).
    pub soak_hours: Option<f64>,
}

impl Console {
    pub fn new(pool: PgPool, settings: Settings) -> Self {
        Console {
            pool,
            settings,
            recipes: Arc::default(),
            dry_runs: Arc::default(),
        }
    }

    /// The dry run of `recipe` (whose SHA-256 is `hash`), from the cache
    /// when this recipe was seen before.
    fn dry_run(&self, hash: &str, recipe: &Recipe) -> Arc<DryRun> {
        // A panic elsewhere cannot leave the map half-written: use it anyway.
        let mut cache = self.dry_runs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = cache.get(hash) {
            return known.clone();
        }
        let made = Arc::new(DryRun::of(recipe));
        if cache.len() >= DRY_RUNS_KEPT {
            cache.clear();
        }
        cache.insert(hash.to_string(), made.clone());
        made
    }

    /// The recipe in `text` (read from `path`) and its SHA-256: the cached
    /// parse when the file held exactly this text last time, else a new
    /// one (cached).
    fn parse_recipe(&self, path: &str, text: String) -> Result<(Recipe, String), ConsoleError> {
        {
            let cache = self.recipes.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(known) = cache.get(path).filter(|r| r.0.text == text) {
                return Ok((known.0.clone(), known.1.clone()));
            }
        }
        let recipe = Recipe::parse(&text).map_err(|errors| {
            ConsoleError::Recipe(
                errors
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        let hash = recipe.hash();
        let mut cache = self.recipes.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= DRY_RUNS_KEPT {
            cache.clear();
        }
        cache.insert(path.to_string(), Arc::new((recipe.clone(), hash.clone())));
        Ok((recipe, hash))
    }

    /// The SQL phase `phase` of migration `name` executes (label comments,
    /// then statements), from the recipe that runs (the pinned one, once it
    /// differs from the file), with that recipe's SHA-256.
    pub async fn dry_run_sql(
        &self,
        name: &str,
        phase: Phase,
    ) -> Result<(String, Vec<String>), ConsoleError> {
        let engine = self.engine_for(name, actor::WEB).await?;
        let pinned = engine.pinned_engine().await?;
        let recipe = pinned.as_ref().unwrap_or(&engine).recipe();
        let hash = recipe.hash();
        let sql = self.dry_run(&hash, recipe).sql[phase.index()].clone();
        Ok((hash, sql))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Everything the Phases section shows, as of now.
    pub async fn view(&self, name: &str) -> Result<ConsoleView, ConsoleError> {
        view(self, name).await
    }

    /// Carries out an operator action, if `verdicts` allows it now (refused
    /// otherwise, with the reason); long work continues in a background task.
    pub async fn act(
        &self,
        name: &str,
        phase: Phase,
        action: PhaseAction,
        accept_quarantine: bool,
        actor: &str,
    ) -> Result<(), ConsoleError> {
        act(self, name, phase, action, accept_quarantine, actor).await
    }

    /// Backfill throttle controls (target batch duration, pause between
    /// batches), recorded as `actor`'s.
    pub async fn throttle(
        &self,
        name: &str,
        target_batch_ms: i32,
        throttle_ms: i32,
        actor: &str,
    ) -> Result<(), ConsoleError> {
        throttle(self, name, target_batch_ms, throttle_ms, actor).await
    }

    /// Loads the migration's recipe and builds an engine for it.
    pub async fn engine_for(&self, name: &str, actor: &str) -> Result<Engine, ConsoleError> {
        let (hash, path) = stored::recipe_source(&self.pool, name)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => ConsoleError::NotFound(name.to_string()),
                other => ConsoleError::Store(other),
            })?;
        let (recipe, _) = self.recipe_of(name, hash, path).await?;
        Ok(self.engine(recipe, actor))
    }

    /// The recipe migration `name` runs until phase 1 pins one, with its
    /// SHA-256: the newest version stored in our database (`stored_hash`:
    /// its hash, so a cached parse is reused), else the file at `path` of
    /// a migration attached to one before recipes were stored.
    async fn recipe_of(
        &self,
        name: &str,
        stored_hash: Option<String>,
        path: Option<String>,
    ) -> Result<(Recipe, String), ConsoleError> {
        let Some(hash) = stored_hash else {
            return self.recipe_at(name, path);
        };
        let key = format!("stored:{name}");
        {
            let cache = self.recipes.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(known) = cache.get(&key).filter(|r| r.1 == hash) {
                return Ok((known.0.clone(), known.1.clone()));
            }
        }
        let latest = crate::store::recipes::latest(&self.pool, name)
            .await?
            .ok_or_else(|| {
                ConsoleError::Recipe("no recipe is attached to this migration".into())
            })?;
        self.parse_recipe(&key, latest.body)
    }

    /// The recipe of migration `name` in the file at `path` (None: no recipe
    /// attached), with its SHA-256.
    fn recipe_at(
        &self,
        name: &str,
        path: Option<String>,
    ) -> Result<(Recipe, String), ConsoleError> {
        let path = path.ok_or_else(|| {
            ConsoleError::Recipe("no recipe is attached to this migration".into())
        })?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConsoleError::Recipe(format!("cannot read {path}: {e}")))?;
        let (recipe, hash) = self.parse_recipe(&path, text)?;
        if recipe.name != name {
            return Err(ConsoleError::Recipe(format!(
                "{path} is for migration {:?}, not {name:?}",
                recipe.name
            )));
        }
        Ok((recipe, hash))
    }

    /// An engine for `recipe`, acting as `actor`.
    fn engine(&self, recipe: Recipe, actor: &str) -> Engine {
        let opts = EngineOptions {
            actor: actor.to_string(),
            soak_hours: self.settings.soak_hours,
            ..EngineOptions::default()
        };
        let journal = Arc::new(PgJournal::new(self.pool.clone()));
        Engine::new(self.pool.clone(), recipe, opts, journal)
    }
}

async fn view(console: &Console, name: &str) -> Result<ConsoleView, ConsoleError> {
    let pool = console.pool();
    let snapshot = || async {
        stored::snapshot(pool, name)
            .await?
            .ok_or_else(|| ConsoleError::NotFound(name.to_string()))
    };
    let mut snap = snapshot().await?;
    let loaded = console
        .recipe_of(name, snap.recipe_hash.take(), snap.recipe_path.take())
        .await;
    let (recipe, file_hash) = match loaded {
        Ok(loaded) => loaded,
        Err(ConsoleError::Recipe(message)) => return Ok(read_only_view(name, snap, message)),
        Err(e) => return Err(e),
    };
    let engine = console.engine(recipe, actor::WEB);
    if snap.phases.len() != Phase::ALL.len() {
        // The engine creates a migration's phase records on first use.
        engine.status().await?;
        snap = snapshot().await?;
    }
    // Phases 4 and 5: whether they wait for an approval, and the latest
    // request of each as it stands now.
    let approvals = crate::approvals::phase_approvals(
        &snap.approval_required,
        &snap.approvals,
        &Circumstances {
            recipe_hash: snap.pinned_hash.clone(),
            states_at: snap.states_at,
        },
    )?;
    // What runs (and so what the dry run shows) is the pinned recipe; it
    // is loaded only when it differs from the file.
    let recipe_changed = snap.pinned_hash.as_ref().is_some_and(|p| *p != file_hash);
    let pinned = if recipe_changed {
        engine.pinned_engine().await?
    } else {
        None
    };
    let (engine, recipe_hash) = match &pinned {
        Some(pinned) => (pinned, pinned.recipe().hash()),
        None => (&engine, file_hash),
    };
    // Asked by the snapshot's statement (`Engine::is_busy` asks the same).
    let busy = snap.runner_active;
    let dry_run = console.dry_run(&recipe_hash, engine.recipe());
    let mut rehearsal = crate::store::rehearsals::latest(pool, name).await?;
    if let Some(r) = rehearsal.as_mut() {
        r.stale = r.recipe_hash != recipe_hash;
    }
    let records = &snap.phases;
    let mut phases = Vec::new();
    for r in records {
        let gated = dry_run.gated[r.phase.index()];
        let approval = approvals.get(r.phase.index()).cloned().flatten();
        let unapproved = approval_rules::why_not_run(r.phase, approval.as_ref());
        let blocked = match r.state {
            PhaseState::Done | PhaseState::Running | PhaseState::Verifying => None,
            _ if busy => Some(ANOTHER_RUNNER.to_string()),
            _ => engine
                .why_not_apply(records, r.phase)
                .or_else(|| unapproved.clone()),
        };
        let choices = choices(
            engine,
            records,
            r.phase,
            busy,
            snap.quarantined,
            gated,
            unapproved,
            rehearsal.as_ref(),
        );
        let mut phase = console_phase(r, &snap.titles, blocked, choices, approval);
        phase.locks = dry_run.locks[r.phase.index()].clone();
        phases.push(phase);
    }
    let backfill = records
        .get(Phase::Backfill.index())
        .map(|r| r.state)
        .unwrap_or(PhaseState::Pending);
    // Progress is shown once the backfill has started (a rolled-back one
    // starts again from nothing).
    let started = !matches!(backfill, PhaseState::Pending | PhaseState::RolledBack);
    let progress = snap
        .backfill
        .as_ref()
        .filter(|_| started)
        .map(|p| ProgressView {
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
            throttled: p.throttled.clone(),
        });
    let target_batch_ms = snap
        .backfill
        .as_ref()
        .map(|p| p.target_batch_ms)
        .unwrap_or(engine.recipe().target_batch_ms as i32);
    let throttle_ms = snap.backfill.as_ref().map(|p| p.throttle_ms).unwrap_or(0);
    let quarantined = snap.quarantined;
    let reads_from = snap.reads_from;
    let unmapped_keys = std::mem::take(&mut snap.unmapped_keys);
    let quarantine_sample = std::mem::take(&mut snap.quarantine_sample);
    let pinned_recipe_hash = snap.pinned_hash.take();
    let mut view = base_view(name, snap);
    view.target_batch_ms = target_batch_ms;
    view.throttle_ms = throttle_ms;
    // The throttle steers batches still to come: until the backfill is done.
    view.throttle_applies = backfill != PhaseState::Done;
    view.phases = phases;
    view.progress = progress;
    view.quarantined = quarantined;
    view.unmapped_keys = unmapped_keys;
    view.reads_from = reads_from;
    view.busy = busy;
    view.pinned_recipe_hash = pinned_recipe_hash;
    view.recipe_hash = Some(recipe_hash);
    view.recipe_changed = recipe_changed;
    view.rehearsal = rehearsal;
    view.quarantine_sample = quarantine_sample
        .into_iter()
        .map(|(key, reason)| QuarantineRow { key, reason })
        .collect();
    Ok(view)
}

const ANOTHER_RUNNER: &str = "another runner is active on this migration; wait for it to finish";

/// What the operator may do with `phase` now: the buttons its card shows,
/// each allowed or refused with the reason, and what must be confirmed.
/// Decided here only: the page renders these, and `act` refuses exactly
/// what `verdicts` refuses (and asks what they ask).
#[allow(clippy::too_many_arguments)]
fn choices(
    engine: &Engine,
    records: &[PhaseRecord],
    phase: Phase,
    busy: bool,
    quarantined: i64,
    gated: bool,
    unapproved: Option<String>,
    rehearsal: Option<&RehearsalView>,
) -> Vec<PhaseChoice> {
    verdicts(
        engine,
        records,
        phase,
        busy,
        quarantined,
        gated,
        unapproved,
        rehearsal,
    )
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

/// Every action's verdict for `phase` now, in button order, with
/// `quarantined` documents in quarantine; `gated`: the phase runs the
/// verification gate; `unapproved`: why it may not start or resume for want
/// of an approval (`domain::approvals::why_not_run`), if so; `rehearsal`:
/// the latest rehearsal, whose result the confirmation of a phase with a
/// consequence for the applications (4 and 5) shows.
#[allow(clippy::too_many_arguments)]
fn verdicts(
    engine: &Engine,
    records: &[PhaseRecord],
    phase: Phase,
    busy: bool,
    quarantined: i64,
    gated: bool,
    unapproved: Option<String>,
    rehearsal: Option<&RehearsalView>,
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
    // A run of a phase whose steps include the verification gate (phase 4)
    // is refused by the engine while documents are quarantined, unless the
    // operator accepts them: the run asks for that acceptance.
    let must_accept = (gated && quarantined > 0).then_some(quarantined);
    let consequence = phase.consequence().map(|c| {
        let rehearsed = match rehearsal {
            Some(r) => r.summary(),
            None => "No rehearsal was made: \"Rehearse on a sample\" runs every phase and rollback on a copy first.".to_string(),
        };
        format!("{c} {rehearsed}")
    });
    let choice = |action, refused, confirm| PhaseChoice {
        action,
        refused,
        confirm,
        accept_quarantined: match action {
            PhaseAction::Run | PhaseAction::Resume => must_accept,
            _ => None,
        },
    };
    vec![
        choice(
            PhaseAction::Run,
            runs(
                not_now
                    .clone()
                    .or_else(|| (!startable).then(|| now("so it cannot be started")))
                    .or_else(|| unapproved.clone()),
            ),
            consequence.clone(),
        ),
        choice(PhaseAction::Pause, not_stoppable.clone(), None),
        choice(
            PhaseAction::Resume,
            runs(if resumable {
                not_now.or(unapproved)
            } else {
                Some(now("there is nothing to resume"))
            }),
            consequence.clone(),
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
    blocked: Option<String>,
    choices: Vec<PhaseChoice>,
    approval: Option<PhaseApproval>,
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
        approval,
        locks: Vec::new(),
    }
}

/// Events, throughput and the latest verification, shared by the full and
/// the read-only view.
fn base_view(name: &str, snap: Snapshot) -> ConsoleView {
    ConsoleView {
        name: name.to_string(),
        phases: Vec::new(),
        progress: None,
        throughput: snap
            .ticks
            .into_iter()
            .filter_map(|e| match e.event {
                Event::Progress(p) => Some(ThroughputPoint {
                    at: e.at,
                    rows_per_second: p.rows_per_second,
                }),
                _ => None,
            })
            .collect(),
        quarantined: 0,
        quarantine_sample: Vec::new(),
        unmapped_keys: Vec::new(),
        events: snap.events.into_iter().map(event_view).collect(),
        reads_from: ReadsFrom::default(),
        busy: false,
        recipe_error: None,
        verification: snap.verification.and_then(verification_view),
        target_batch_ms: 200,
        throttle_ms: 0,
        throttle_applies: false,
        pinned_recipe_hash: None,
        recipe_hash: None,
        recipe_changed: false,
        rehearsal: None,
    }
}

fn event_view(e: StoredEvent) -> EventView {
    EventView {
        id: e.id,
        at: e.at,
        actor: e.actor,
        phase: e.phase,
        kind: e.event.kind().to_string(),
        description: e.event.describe(),
    }
}

/// A verification event as the console shows it (None for any other event).
fn verification_view(stored: StoredEvent) -> Option<VerificationView> {
    let (report, finished) = match stored.event {
        Event::VerifyProgress(report) => (report, false),
        Event::Verified(report) => (report, true),
        _ => return None,
    };
    let show = |v: Option<serde_json::Value>| v.map(|v| v.to_string());
    Some(VerificationView {
        at: stored.at,
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
    })
}

/// The console of a migration whose recipe cannot be loaded: states only.
fn read_only_view(name: &str, snap: Snapshot, message: String) -> ConsoleView {
    // Every phase the plan has, in the state recorded (pending before the
    // engine first recorded one).
    let phases: Vec<ConsolePhase> = Phase::ALL
        .iter()
        .zip(&snap.titles)
        .map(|(phase, title)| ConsolePhase {
            phase: *phase,
            title: title.clone(),
            state: snap
                .phases
                .iter()
                .find(|r| r.phase == *phase)
                .map(|r| r.state)
                .unwrap_or(PhaseState::Pending),
            started_by: None,
            started_at: None,
            finished_at: None,
            error: None,
            blocked: Some(message.clone()),
            choices: Vec::new(),
            approval: None,
            locks: Vec::new(),
        })
        .collect();
    let mut view = base_view(name, snap);
    view.phases = phases;
    view.recipe_error = Some(message);
    view
}

async fn act(
    console: &Console,
    name: &str,
    phase: Phase,
    action: PhaseAction,
    accept_quarantine: bool,
    actor: &str,
) -> Result<(), ConsoleError> {
    let engine = console.engine_for(name, actor).await?;
    let status = engine.status().await?;
    let busy = engine.is_busy().await?;
    let gated = console.dry_run(&status.recipe_hash, engine.recipe()).gated[phase.index()];
    let unapproved = crate::approvals::why_not_run(console.pool(), name, phase).await?;
    let choice = verdicts(
        &engine,
        &status.phases,
        phase,
        busy,
        status.quarantined,
        gated,
        unapproved,
        None,
    )
    .into_iter()
    .find(|c| c.action == action)
    .ok_or_else(|| ConsoleError::Refused(format!("phase {phase} has no {action:?}")))?;
    if let Some(reason) = choice.refused {
        return Err(ConsoleError::Refused(reason));
    }
    if let (Some(quarantined), false) = (choice.accept_quarantined, accept_quarantine) {
        // The engine's gate refuses this too; saying so now spares the
        // operator a full verification run.
        return Err(ConsoleError::Refused(format!(
            "{quarantined} document(s) are in quarantine; review them and accept them to switch reads"
        )));
    }
    match action {
        PhaseAction::Run | PhaseAction::Resume => {
            let ctl = RunControl {
                accept_quarantine,
                // The approval read above is read again under the lock.
                gate: Some(crate::approvals::start_gate(
                    console.pool.clone(),
                    name.to_string(),
                )),
                ..RunControl::default()
            };
            let (pool, name, actor) = (console.pool.clone(), name.to_string(), actor.to_string());
            let before = record_of(&status.phases, phase);
            tokio::spawn(async move {
                if let Err(e) = engine.apply(phase, &ctl).await {
                    tracing::warn!(%phase, error = %e, "phase run ended with an error");
                    if nothing_started(&engine, phase, &before).await {
                        record_refusal(&pool, &name, phase, &actor, &e).await;
                    }
                }
                runner_gone(&pool, &name).await;
            });
        }
        PhaseAction::Pause | PhaseAction::Abort => {
            let abort = action == PhaseAction::Abort;
            engine.request_stop(abort).await?;
            // The runner records the pause or the failure it ends in, under
            // the actor who started it: who asked is recorded here.
            let event = Event::StopRequested { abort };
            stored::record(console.pool(), name, phase, actor, &event).await?;
        }
        PhaseAction::RollBack => {
            let (pool, name, actor) = (console.pool.clone(), name.to_string(), actor.to_string());
            let before = record_of(&status.phases, phase);
            tokio::spawn(async move {
                if let Err(e) = engine.rollback(phase).await {
                    tracing::warn!(%phase, error = %e, "rollback ended with an error");
                    if nothing_started(&engine, phase, &before).await {
                        record_refusal(&pool, &name, phase, &actor, &e).await;
                    }
                }
                runner_gone(&pool, &name).await;
            });
        }
    }
    Ok(())
}

/// Phase `phase`'s state and start, as `records` have them.
fn record_of(
    records: &[PhaseRecord],
    phase: Phase,
) -> Option<(PhaseState, Option<chrono::DateTime<chrono::Utc>>)> {
    records
        .iter()
        .find(|r| r.phase == phase)
        .map(|r| (r.state, r.started_at))
}

/// Is phase `phase` as it was `before` the runner started (its state and
/// its start unchanged)? An error of a run that did start (a gate
/// refusing after a verification, a failed step) is the phase's own, with
/// its state; one before it started left nothing anywhere.
async fn nothing_started(
    engine: &Engine,
    phase: Phase,
    before: &Option<(PhaseState, Option<chrono::DateTime<chrono::Utc>>)>,
) -> bool {
    match engine.status().await {
        Ok(status) => record_of(&status.phases, phase) == *before,
        Err(_) => false,
    }
}

/// The click that started a background run was answered before the runner
/// took the lock; if the runner was then refused (the approval read again
/// under the lock, another runner, the engine's own checks), nothing ran
/// and the phase's state says nothing: the refusal goes to the event log,
/// where the console shows it. Errors of a run that started are the
/// phase's own (its state shows them).
async fn record_refusal(pool: &PgPool, name: &str, phase: Phase, actor: &str, e: &EngineError) {
    let reason = match e {
        EngineError::Refused(reason) => reason.clone(),
        EngineError::Busy(_) => e.to_string(),
        _ => return,
    };
    let event = Event::RunRefused { reason };
    if let Err(e) = stored::record(pool, name, phase, actor, &event).await {
        tracing::warn!(error = %e, "could not record a refused run");
    }
}

/// A runner (this console's, or the CLI's) has let go of migration
/// `name`'s lock: live pages are told, as their last view may have been
/// built while it still held it.
pub async fn runner_gone(pool: &PgPool, name: &str) {
    if let Err(e) = crate::store::events::announce(pool, name).await {
        tracing::warn!(error = %e, "could not tell live pages that the runner ended");
    }
}

async fn throttle(
    console: &Console,
    name: &str,
    target_batch_ms: i32,
    throttle_ms: i32,
    actor: &str,
) -> Result<(), ConsoleError> {
    if !(10..=60_000).contains(&target_batch_ms) {
        return Err(ConsoleError::Invalid {
            field: "target_batch_ms",
            message: "target batch duration must be 10 to 60000 ms",
        });
    }
    if !(0..=60_000).contains(&throttle_ms) {
        return Err(ConsoleError::Invalid {
            field: "throttle_ms",
            message: "pause between batches must be 0 to 60000 ms",
        });
    }
    let engine = console.engine_for(name, actor).await?;
    // The engine records the change in the event log.
    engine.set_throttle(target_batch_ms, throttle_ms).await?;
    Ok(())
}
