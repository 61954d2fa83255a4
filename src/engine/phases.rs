//! The runner: the rules for running and rolling back phases (order, soak
//! time, gates, the runner lock), and the execution of exactly the steps the
//! planner returns (`plan` / `rollback_plan`), each by its kind of work: the
//! dry run is the run.

use chrono::Utc;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;

use super::ddl::{gave_way, run_in_transaction, run_outside_transaction};
use super::journal::{PhaseRecord, StateChange};
use super::planner::Planner;
pub use super::planner::{ColumnDefinition, ContractRecord, NamedDefinition};
use super::recipe::Recipe;
use super::sql;
use super::state::{self, Fence, RunnerLock};
use super::step::{IndexBuild, KeyBounds, Step, Verification, Work};
use super::vocab::VerifyReport;
use super::vocab::{BackfillProgress, Event, Phase, PhaseState, ReadsFrom};
use super::{Engine, EngineError};

/// Called with each progress tick of a backfill.
pub type ProgressCallback = Arc<dyn Fn(&BackfillProgress) + Send + Sync>;

/// Asked under the runner lock, after the engine's own checks and just
/// before a phase starts or resumes: `Err(reason)` refuses the run and
/// leaves the phase as it was. It checks what the engine cannot know (a
/// required approval, held by the caller's records) at a point where no
/// other runner can change the phase's state before it starts.
pub type StartGate = Arc<dyn Fn(Phase) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Operator choices and controls for one run.
#[derive(Clone, Default)]
pub struct RunControl {
    /// Phase 4: proceed although documents are quarantined (recorded).
    pub accept_quarantine: bool,
    /// Phase 4: proceed although verification lists differences (recorded).
    pub accept_differences: bool,
    /// Set to stop cleanly (Ctrl-C): the backfill pauses at its checkpoint.
    pub stop: Arc<AtomicBool>,
    pub on_progress: Option<ProgressCallback>,
    /// What else must hold for the phase to start (see `StartGate`).
    pub gate: Option<StartGate>,
}

impl RunControl {
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    Paused,
    Aborted,
}

/// Everything `status` reports.
#[derive(Debug, Serialize)]
pub struct Status {
    pub migration: String,
    pub phases: Vec<PhaseRecord>,
    pub backfill: Option<BackfillProgress>,
    pub quarantined: i64,
    pub unmapped_keys: Vec<UnmappedKey>,
    pub pending_captured_writes: i64,
    /// Sync work handed over by triggers that gave way to a deadlock.
    pub pending_sync: i64,
    pub reads_from: ReadsFrom,
    /// The hash of the recipe pinned at phase 1 (None before phase 1).
    pub pinned_recipe_hash: Option<String>,
    /// The hash of the recipe this engine was given.
    pub recipe_hash: String,
    /// True when the given recipe differs from the pinned one (later phases
    /// use the pinned one).
    pub recipe_changed: bool,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct UnmappedKey {
    pub key_path: String,
    pub documents: i64,
}

impl Engine {
    fn src(&self) -> String {
        sql::source_table(&self.recipe)
    }

    /// The exact steps `apply(phase)` runs (dry run; changes nothing).
    pub fn plan(&self, phase: Phase) -> Vec<Step> {
        Planner::new(&self.recipe).apply(phase)
    }

    /// Objects depending on the source column that phase 5 could not
    /// restore on rollback (views, rules, triggers naming it, policies,
    /// unique or exclusion constraints, column privileges…).
    pub async fn unrestorable_dependents(&self) -> Result<Vec<String>, EngineError> {
        Ok(sqlx::query_scalar(
            "WITH col AS (SELECT attrelid, attnum, attacl FROM pg_attribute
                          WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped)
             SELECT pg_describe_object(dep.classid, dep.objid, dep.objsubid)
             FROM pg_depend dep JOIN col ON dep.refclassid = 'pg_class'::regclass
                  AND dep.refobjid = col.attrelid AND dep.refobjsubid = col.attnum
             WHERE dep.deptype IN ('n', 'a')
               AND dep.classid <> 'pg_attrdef'::regclass
               AND NOT (dep.classid = 'pg_class'::regclass AND EXISTS (
                        SELECT 1 FROM pg_index i WHERE i.indexrelid = dep.objid
                        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)))
               AND NOT (dep.classid = 'pg_constraint'::regclass AND EXISTS (
                        SELECT 1 FROM pg_constraint c WHERE c.oid = dep.objid AND c.contype = 'c'))
             UNION ALL
             SELECT 'column-level privileges on ' || $2 FROM col WHERE attacl IS NOT NULL",
        )
        .bind(self.src())
        .bind(self.recipe.source.column.as_str())
        .fetch_all(&self.pool)
        .await?)
    }

    /// The column was dropped and a rollback of phase 5 has begun to
    /// restore it (and has not finished).
    async fn contract_rollback_unfinished(&self) -> Result<bool, EngineError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM switchyard.contract_columns
                            WHERE migration_name = $1 AND dropped AND rolling_back)",
        )
        .bind(&self.recipe.name)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn column_exists(&self) -> Result<bool, EngineError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped)",
        )
        .bind(self.src())
        .bind(self.recipe.source.column.as_str())
        .fetch_one(&self.pool)
        .await?)
    }

    /// What phase 5 recorded: the column's definition, and whether the
    /// column was dropped (set in the drop's own transaction).
    async fn contract_record(&self) -> Result<ContractRecord, EngineError> {
        let raw: Option<(serde_json::Value, bool)> = sqlx::query_as(
            "SELECT definition, dropped FROM switchyard.contract_columns WHERE migration_name = $1",
        )
        .bind(&self.recipe.name)
        .fetch_optional(&self.pool)
        .await?;
        let Some((definition, dropped)) = raw else {
            return Ok(ContractRecord::default());
        };
        let definition = serde_json::from_value(definition).map_err(|e| {
            EngineError::Refused(format!(
                "the recorded definition of the dropped column cannot be read: {e}"
            ))
        })?;
        Ok(ContractRecord {
            definition: Some(definition),
            dropped,
        })
    }

    /// The exact steps `rollback(phase)` runs. Rolling back phase 5
    /// depends on what phase 5 recorded (whether the column was dropped, and
    /// its definition), so this one asks the database first.
    pub async fn rollback_plan(&self, phase: Phase) -> Result<Vec<Step>, EngineError> {
        let contract = match phase {
            Phase::Contract => self.contract_record().await?,
            _ => ContractRecord::default(),
        };
        Ok(Planner::new(&self.recipe).rollback(phase, &contract))
    }

    /// Why phase `phase` cannot run now (order, soak time), or `None`.
    pub fn why_not_apply(&self, phases: &[PhaseRecord], phase: Phase) -> Option<String> {
        let me = phases.get(phase.index())?;
        if me.state == PhaseState::Done {
            return Some(format!("phase {phase} is already done"));
        }
        if let Some(before) = phase.previous().and_then(|p| phases.get(p.index())) {
            if before.state != PhaseState::Done {
                return Some(format!(
                    "phase {} is {}; phases run in order, so phase {phase} must wait",
                    before.phase,
                    before.state.label().to_lowercase()
                ));
            }
        }
        if phase == Phase::Contract {
            let finished = phases
                .get(Phase::SwitchReads.index())
                .and_then(|p| p.finished_at)
                .unwrap_or_else(Utc::now);
            let soak =
                chrono::Duration::milliseconds((self.recipe.soak_hours * 3_600_000.0) as i64);
            let ready_at = finished + soak;
            if Utc::now() < ready_at {
                return Some(format!(
                    "the soak time is not over: phase 5 may run from {} ({} h after phase 4 finished)",
                    ready_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    self.recipe.soak_hours
                ));
            }
        }
        None
    }

    /// Is another runner acting on this migration right now?
    pub async fn is_busy(&self) -> Result<bool, EngineError> {
        state::runner_active(&self.pool, &self.recipe.name).await
    }

    /// Records of the five phases (creating the migration's rows if needed).
    pub async fn phase_records(&self) -> Result<Vec<PhaseRecord>, EngineError> {
        let id = self.migration_id().await?;
        Ok(self.journal.phases(id).await?)
    }

    pub(super) async fn migration_id(&self) -> Result<i64, EngineError> {
        Ok(self.journal.migration_id(&self.recipe).await?)
    }

    /// Records `phase`'s new state (refused if `fence` is no longer the
    /// current runner's).
    pub(super) async fn set_state(
        &self,
        migration_id: i64,
        phase: Phase,
        state: PhaseState,
        error: Option<&str>,
        fence: Option<&Fence>,
    ) -> Result<(), EngineError> {
        // Phase 1 rolled back: the migration is back at the start, and the
        // next phase 1 pins afresh (in the same transaction as the state).
        let back_at_start = phase == Phase::Expand && state == PhaseState::RolledBack;
        let change = StateChange {
            migration_id,
            phase,
            state,
            actor: &self.opts.actor,
            error,
            fence,
            unpin: back_at_start.then_some(self.recipe.name.as_str()),
        };
        self.journal
            .set_state(change)
            .await
            .map_err(|e| EngineError::from_step("record the phase state", e))
    }

    /// The recipe pinned at phase 1, if any: (text, hash).
    pub async fn pinned(&self) -> Result<Option<(String, String)>, EngineError> {
        Ok(self.journal.pinned(&self.recipe.name).await?)
    }

    /// An engine for the recipe pinned at phase 1, when it differs from the
    /// one given (what `apply`, `rollback` and an honest dry run use).
    pub async fn pinned_engine(&self) -> Result<Option<Engine>, EngineError> {
        let Some((text, hash)) = self.pinned().await? else {
            return Ok(None);
        };
        if hash == self.recipe.hash() {
            return Ok(None);
        }
        // Everything from the pinned recipe, soak time included (an edited
        // file cannot shorten it); only an explicit override applies.
        let pinned = Recipe::parse(&text).map_err(EngineError::Recipe)?;
        Ok(Some(Engine::new(
            self.pool.clone(),
            pinned,
            self.opts.clone(),
            self.journal.clone(),
        )))
    }

    /// The engine that must act: this one, or (once phase 1 pinned a
    /// recipe that differs from the one given) one for the pinned recipe,
    /// after recording that the given recipe is not the pinned one.
    async fn effective(&self, id: i64) -> Result<Option<Engine>, EngineError> {
        let Some(pinned) = self.pinned_engine().await? else {
            return Ok(None);
        };
        let (pinned_hash, given) = (pinned.recipe.hash(), self.recipe.hash());
        tracing::warn!(
            migration = %self.recipe.name,
            pinned = %pinned_hash,
            given = %given,
            "the recipe differs from the one pinned at phase 1; using the pinned one"
        );
        let changed = Event::RecipeChanged {
            pinned_hash,
            given_hash: given,
        };
        self.journal
            .record(id, None, &self.opts.actor, &changed)
            .await?;
        Ok(Some(pinned))
    }

    /// Runs phase `phase` to completion (or until paused / aborted).
    pub async fn apply(&self, phase: Phase, ctl: &RunControl) -> Result<Outcome, EngineError> {
        // The migration's records first: the lock's epoch lives on them.
        let id = self.migration_id().await?;
        let lock = RunnerLock::acquire(&self.pool, &self.recipe, &*self.journal).await?;
        let result = match self.effective(id).await {
            Ok(Some(pinned)) => pinned.apply_locked(phase, ctl, &lock).await,
            Ok(None) => self.apply_locked(phase, ctl, &lock).await,
            Err(e) => Err(e),
        };
        lock.release().await;
        result
    }

    async fn apply_locked(
        &self,
        phase: Phase,
        ctl: &RunControl,
        lock: &RunnerLock,
    ) -> Result<Outcome, EngineError> {
        let id = self.migration_id().await?;
        let phases = self.journal.phases(id).await?;
        self.preflight(&phases, phase).await?;
        if let Some(gate) = &ctl.gate {
            gate(phase).await.map_err(EngineError::Refused)?;
        }
        let fence = Some(lock.fence());
        self.set_state(id, phase, PhaseState::Running, None, fence)
            .await?;
        if phase == Phase::Expand {
            self.pin(lock).await?;
        }
        let result = self.run_phase(id, phase, ctl, lock).await;
        let (final_state, error) = match &result {
            Ok(Outcome::Done) => (PhaseState::Done, None),
            Ok(Outcome::Paused) => (PhaseState::Paused, None),
            Ok(Outcome::Aborted) => (
                PhaseState::Failed,
                Some("aborted by the operator".to_string()),
            ),
            Err(e) => (PhaseState::Failed, Some(e.to_string())),
        };
        if matches!(result, Err(EngineError::LockLost(_))) {
            // The runner that replaced us owns the state now.
            return result;
        }
        let recorded = self
            .set_state(id, phase, final_state, error.as_deref(), fence)
            .await;
        // A failed phase reports its own error first; recording is best effort then.
        if result.is_ok() {
            recorded?;
        }
        result
    }

    /// What must hold before `phase` starts: its order and soak time, what
    /// only the database can tell about the recipe (phase 1), and that the
    /// column can be dropped and restored (phase 5).
    async fn preflight(&self, phases: &[PhaseRecord], phase: Phase) -> Result<(), EngineError> {
        if let Some(reason) = self.why_not_apply(phases, phase) {
            return Err(EngineError::Refused(reason));
        }
        if phase == Phase::Expand
            && matches!(
                phases[Phase::Expand.index()].state,
                PhaseState::Pending | PhaseState::RolledBack
            )
        {
            // What only the database can tell (tables or index names taken,
            // key column nullable…), checked by the runner itself.
            let errors = super::inspect::check_database(&self.pool, &self.recipe, false).await?;
            if !errors.is_empty() {
                return Err(EngineError::Recipe(errors));
            }
        }
        if phase == Phase::Contract && self.contract_rollback_unfinished().await? {
            return Err(EngineError::Refused(
                "a rollback of phase 5 has not finished (the column was dropped and is being restored); roll back phase 5 again first".into(),
            ));
        }
        if phase == Phase::Contract {
            let blockers = self.unrestorable_dependents().await?;
            if !blockers.is_empty() {
                return Err(EngineError::Refused(format!(
                    "the column {} cannot be dropped and restored losslessly: {} depend(s) on it. Remove or change them first",
                    self.recipe.source.column.as_str(),
                    blockers.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Phase 1 pins the recipe it runs with (later phases use it).
    async fn pin(&self, lock: &RunnerLock) -> Result<(), EngineError> {
        self.journal
            .pin(&self.recipe, lock.fence())
            .await
            .map_err(|e| EngineError::from_step("pin the recipe", e))
    }

    /// Runs `steps` in order, each by its kind of work. The lock is
    /// checked before every step.
    async fn run_steps(
        &self,
        id: i64,
        phase: Phase,
        steps: &[Step],
        ctl: &RunControl,
        lock: &RunnerLock,
    ) -> Result<Outcome, EngineError> {
        for step in steps {
            lock.check().await?;
            let outcome = self.run_step(id, phase, step, ctl, lock).await?;
            if outcome != Outcome::Done {
                return Ok(outcome);
            }
        }
        Ok(Outcome::Done)
    }

    async fn run_step(
        &self,
        id: i64,
        phase: Phase,
        step: &Step,
        ctl: &RunControl,
        lock: &RunnerLock,
    ) -> Result<Outcome, EngineError> {
        let (label, fence) = (&step.label, Some(lock.fence()));
        match &step.work {
            Work::Transaction(sql) => {
                run_in_transaction(&self.pool, label, sql, &self.opts.lock, fence).await?;
            }
            Work::NewConstraint { add, table, name } => {
                // A re-run after a crash: the constraint is there already.
                if !self.constraint_exists(table, name).await? {
                    let sql = std::slice::from_ref(add);
                    run_in_transaction(&self.pool, label, sql, &self.opts.lock, fence).await?;
                }
            }
            Work::Index(index) => self.build_index(label, index, lock).await?,
            Work::Backfill {
                bounds,
                map,
                checkpoint,
            } => return self.backfill(id, bounds, map, checkpoint, ctl, lock).await,
            Work::DrainCapture { take, remap } => {
                self.drain_capture(id, label, take, remap, lock).await?;
            }
            Work::Verify(verification) => {
                self.verify_gate(id, phase, label, verification, ctl, lock)
                    .await?;
            }
            Work::BackupCopy { bounds, copy } => {
                self.copy_in_batches(label, bounds, copy, lock).await?;
            }
            Work::Restore {
                bounds,
                restore,
                catch_up,
                count,
            } => {
                self.copy_in_batches(label, bounds, restore, lock).await?;
                self.restore_catch_up(label, catch_up, count, lock).await?;
            }
            Work::ReplayContract { replay } => self.replay_contract(label, replay, lock).await?,
            Work::DrainSync { drain } => self.drain_sync(label, drain, lock).await?,
        }
        Ok(Outcome::Done)
    }

    /// An index built CONCURRENTLY (see `Work::Index`): a failed attempt's
    /// invalid index is dropped before every attempt (IF NOT EXISTS would
    /// skip it), and the step is done only when the index exists and is
    /// valid. The lock is checked before every statement: a runner that lost
    /// it must not drop an index its successor built.
    async fn build_index(
        &self,
        label: &str,
        ix: &IndexBuild,
        lock: &RunnerLock,
    ) -> Result<(), EngineError> {
        let policy = &self.opts.lock;
        for _ in 0..policy.max_attempts.max(1) {
            if self.index_validity(&ix.index, &ix.table).await? == Some(false) {
                lock.check().await?;
                let cleanup = format!("drop the invalid index left by {label}");
                run_outside_transaction(&self.pool, &cleanup, &ix.drop_invalid, None, policy)
                    .await?;
            }
            // A lock timeout inside leaves an invalid index: drop it and retry.
            lock.check().await?;
            run_outside_transaction(&self.pool, label, &ix.build, None, policy).await?;
            if self.index_validity(&ix.index, &ix.table).await? == Some(true) {
                return Ok(());
            }
        }
        Err(EngineError::Refused(format!(
            "{label}: the index is still not valid after {} attempts",
            policy.max_attempts
        )))
    }

    /// Is the index valid (None: no index of that name on that table)?
    async fn index_validity(
        &self,
        qualified: &str,
        table: &str,
    ) -> Result<Option<bool>, EngineError> {
        Ok(sqlx::query_scalar(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1) AND indrelid = to_regclass($2)",
        )
        .bind(qualified)
        .bind(table)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn constraint_exists(&self, table: &str, name: &str) -> Result<bool, EngineError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass($2))",
        )
        .bind(name)
        .bind(table)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn run_phase(
        &self,
        id: i64,
        phase: Phase,
        ctl: &RunControl,
        lock: &RunnerLock,
    ) -> Result<Outcome, EngineError> {
        if phase == Phase::Contract && !self.column_exists().await? {
            // A re-run after the drop committed: its last step is done.
            return Ok(Outcome::Done);
        }
        let steps = self.plan(phase);
        self.run_steps(id, phase, &steps, ctl, lock).await
    }

    /// Phase 4's gate: verification (with its own states), then zero
    /// differences and no quarantine, or the operator's recorded acceptance.
    async fn verify_gate(
        &self,
        id: i64,
        phase: Phase,
        label: &str,
        verification: &Verification,
        ctl: &RunControl,
        lock: &RunnerLock,
    ) -> Result<(), EngineError> {
        let fence = Some(lock.fence());
        self.set_state(id, phase, PhaseState::Verifying, None, fence)
            .await?;
        let report = self.verify_with(label, verification, Some(lock)).await?;
        self.set_state(id, phase, PhaseState::Running, None, fence)
            .await?;
        self.gate(id, &report, ctl).await
    }

    async fn gate(
        &self,
        id: i64,
        report: &VerifyReport,
        ctl: &RunControl,
    ) -> Result<(), EngineError> {
        if report.differences > 0 && !ctl.accept_differences {
            return Err(EngineError::Refused(format!(
                "verification found {} difference(s) (first: {}); fix them or accept them explicitly",
                report.differences,
                report
                    .first_differences
                    .first()
                    .map(|d| d.key.clone())
                    .unwrap_or_default()
            )));
        }
        if report.quarantined > 0 && !ctl.accept_quarantine {
            return Err(EngineError::Refused(format!(
                "{} document(s) are in quarantine; they would not be readable from the new tables. \
                 Review them and accept explicitly (--accept-quarantine)",
                report.quarantined
            )));
        }
        if (report.differences > 0 && ctl.accept_differences)
            || (report.quarantined > 0 && ctl.accept_quarantine)
        {
            let accepted = Event::Accepted {
                differences: report.differences,
                first_differences: report.first_differences.clone(),
                quarantined: report.quarantined,
            };
            let (name, actor) = (&self.recipe.name, &self.opts.actor);
            self.journal.accept(id, name, actor, &accepted).await?;
        }
        Ok(())
    }

    /// Rolls back phase `phase` (phases roll back in reverse order).
    pub async fn rollback(&self, phase: Phase) -> Result<(), EngineError> {
        let id = self.migration_id().await?;
        let lock = RunnerLock::acquire(&self.pool, &self.recipe, &*self.journal).await?;
        let result = match self.effective(id).await {
            Ok(Some(pinned)) => pinned.rollback_locked(phase, &lock).await,
            Ok(None) => self.rollback_locked(phase, &lock).await,
            Err(e) => Err(e),
        };
        lock.release().await;
        result
    }

    async fn rollback_locked(&self, phase: Phase, lock: &RunnerLock) -> Result<(), EngineError> {
        let id = self.migration_id().await?;
        let phases = self.journal.phases(id).await?;
        if let Some(reason) = why_not_roll_back(&phases, phase) {
            return Err(EngineError::Refused(reason));
        }
        let started = Event::RollbackStarted;
        self.journal
            .record(id, Some(phase), &self.opts.actor, &started)
            .await?;
        let result = async {
            let steps = self.rollback_plan(phase).await?;
            self.run_steps(id, phase, &steps, &RunControl::default(), lock)
                .await
        }
        .await;
        let fence = Some(lock.fence());
        match result {
            Ok(_) => {
                self.set_state(id, phase, PhaseState::RolledBack, None, fence)
                    .await
            }
            Err(e @ EngineError::LockLost(_)) => Err(e),
            Err(e) => {
                let _ = self
                    .set_state(
                        id,
                        phase,
                        PhaseState::Failed,
                        Some(&format!("rollback failed: {e}")),
                        fence,
                    )
                    .await;
                Err(e)
            }
        }
    }

    /// Current state, progress, quarantine and unmapped keys.
    pub async fn status(&self) -> Result<Status, EngineError> {
        let id = self.migration_id().await?;
        let phases = self.journal.phases(id).await?;
        let backfill = self.progress().await?;
        let counts: (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM switchyard.quarantine WHERE migration_name = $1),
                    (SELECT count(*) FROM switchyard.capture_log WHERE migration_name = $1),
                    (SELECT count(*) FROM switchyard.sync_queue WHERE migration_name = $1 AND kind IN ('forward', 'reverse'))",
        )
        .bind(&self.recipe.name)
        .fetch_one(&self.pool)
        .await?;
        let unmapped_keys: Vec<UnmappedKey> = sqlx::query_as(
            "SELECT key_path, documents FROM switchyard.unmapped_keys WHERE migration_name = $1 ORDER BY documents DESC, key_path",
        )
        .bind(&self.recipe.name)
        .fetch_all(&self.pool)
        .await?;
        let reads_from: Option<ReadsFrom> = sqlx::query_scalar(
            "SELECT reads_from FROM switchyard.read_flags WHERE migration_name = $1",
        )
        .bind(&self.recipe.name)
        .fetch_optional(&self.pool)
        .await?;
        let pinned = self.pinned().await?.map(|(_, h)| h);
        let recipe_hash = self.recipe.hash();
        Ok(Status {
            migration: self.recipe.name.clone(),
            phases,
            backfill,
            quarantined: counts.0,
            unmapped_keys,
            pending_captured_writes: counts.1,
            pending_sync: counts.2,
            reads_from: reads_from.unwrap_or_default(),
            recipe_changed: pinned.as_ref().is_some_and(|p| *p != recipe_hash),
            pinned_recipe_hash: pinned,
            recipe_hash,
        })
    }

    /// Phase 3: every key captured since phase 1 is re-mapped from the
    /// document as it is now (dual-write already covers new writes). Taking
    /// keys from the log and re-mapping them commit together, or not at all.
    async fn drain_capture(
        &self,
        id: i64,
        label: &str,
        take: &str,
        remap: &str,
        lock: &RunnerLock,
    ) -> Result<(), EngineError> {
        let mut drained = 0usize;
        loop {
            let taken = self
                .in_batch(lock, label, |conn| {
                    let (take, remap, name) = (
                        take.to_string(),
                        remap.to_string(),
                        self.recipe.name.clone(),
                    );
                    Box::pin(async move {
                        let keys: Option<Vec<String>> = sqlx::query_scalar(&take)
                            .bind(&name)
                            .fetch_one(&mut *conn)
                            .await?;
                        if let Some(keys) = &keys {
                            sqlx::query(&remap).bind(keys).execute(&mut *conn).await?;
                        }
                        Ok(keys.map(|k| k.len()))
                    })
                })
                .await?;
            match taken {
                Some(n) => drained += n,
                None => break,
            }
        }
        let drained = Event::CaptureDrained {
            keys: drained as i64,
        };
        let phase = Some(Phase::DualWrite);
        self.journal
            .record(id, phase, &self.opts.actor, &drained)
            .await?;
        Ok(())
    }

    /// A transaction for one batch: fenced, and under `lock_timeout` so a
    /// batch gives way rather than make an application wait, or lose a
    /// deadlock to it.
    async fn batch_tx(
        &self,
        lock: &RunnerLock,
        label: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, EngineError> {
        lock.check().await?;
        let mut tx = self.pool.begin().await?;
        lock.fence()
            .assert(&mut tx)
            .await
            .map_err(|e| EngineError::from_step(label, e))?;
        // Named, so the backfill's health probe does not take our own
        // batches (their commits above all) for the application at work.
        sqlx::query(
            "SELECT set_config('lock_timeout', $1, true), set_config('application_name', $2, true)",
        )
        .bind(format!("{}ms", self.opts.lock.lock_timeout.as_millis()))
        .bind(super::health::OURS)
        .execute(&mut *tx)
        .await?;
        Ok(tx)
    }

    /// Runs `work` as one batch in a `batch_tx`, committed when it succeeds.
    /// A batch that gave way to an application (deadlock, lock timeout,
    /// serialization failure) is rolled back whole and run again, up to
    /// `BATCH_ATTEMPTS` times: nothing half-done is ever committed.
    pub(super) async fn in_batch<T, F>(
        &self,
        lock: &RunnerLock,
        label: &str,
        mut work: F,
    ) -> Result<T, EngineError>
    where
        F: for<'c> FnMut(&'c mut sqlx::PgConnection) -> BoxFuture<'c, Result<T, sqlx::Error>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut tx = self.batch_tx(lock, label).await?;
            match work(&mut tx).await {
                Ok(value) => {
                    tx.commit().await?;
                    return Ok(value);
                }
                Err(e) if gave_way(&e) && attempt < BATCH_ATTEMPTS => {
                    self.opts.lock.note_gave_way();
                    drop(tx);
                    tokio::time::sleep(self.opts.lock.base_backoff).await;
                }
                Err(e) => return Err(EngineError::from_step(label, e)),
            }
        }
    }

    /// Runs `work($1, $2)` over every key batch of `bounds`, each batch in
    /// its own transaction.
    async fn copy_in_batches(
        &self,
        label: &str,
        bounds: &KeyBounds,
        work: &str,
        lock: &RunnerLock,
    ) -> Result<(), EngineError> {
        let mut last: Option<String> = None;
        loop {
            let done_up_to = self
                .in_batch(lock, label, |conn| {
                    let (first, next, work, last) = (
                        bounds.first.clone(),
                        bounds.next.clone(),
                        work.to_string(),
                        last.clone(),
                    );
                    Box::pin(async move {
                        let (lo, hi, _) =
                            batch_bounds(conn, &first, &next, last.as_deref(), COPY_BATCH).await?;
                        let (Some(lo), Some(hi)) = (lo, hi) else {
                            return Ok(None);
                        };
                        sqlx::query(&work)
                            .bind(&lo)
                            .bind(&hi)
                            .execute(&mut *conn)
                            .await?;
                        Ok(Some(hi))
                    })
                })
                .await?;
            match done_up_to {
                Some(hi) => last = Some(hi),
                None => return Ok(()),
            }
        }
    }

    /// The restore's last pass: `catch_up` until a fresh snapshot shows
    /// (`count`) no source row that still lacks its backed-up document. (A
    /// key update in flight still shows its old version, so it is counted
    /// and waited out.)
    async fn restore_catch_up(
        &self,
        label: &str,
        catch_up: &str,
        count: &str,
        lock: &RunnerLock,
    ) -> Result<(), EngineError> {
        loop {
            self.in_batch(lock, label, |conn| {
                let catch_up = catch_up.to_string();
                Box::pin(async move { sqlx::query(&catch_up).execute(conn).await.map(|_| ()) })
            })
            .await?;
            let left: i64 = sqlx::query_scalar(count).fetch_one(&self.pool).await?;
            if left == 0 {
                return Ok(());
            }
        }
    }

    /// Rolling back phase 5: the documents of target rows written since the
    /// contract are replayed from the targets' current state (see
    /// `sql::create_replay_fn`), up to 1000 target rows per transaction.
    async fn replay_contract(
        &self,
        label: &str,
        replay: &str,
        lock: &RunnerLock,
    ) -> Result<(), EngineError> {
        loop {
            let replayed: i64 = self
                .in_batch(lock, label, |conn| {
                    let replay = replay.to_string();
                    Box::pin(async move { sqlx::query_scalar(&replay).fetch_one(&mut *conn).await })
                })
                .await?;
            if replayed == 0 {
                return Ok(());
            }
        }
    }

    /// Applies sync work deferred by triggers (see `sql::create_drain_fn`).
    async fn drain_sync(
        &self,
        label: &str,
        drain: &str,
        lock: &RunnerLock,
    ) -> Result<(), EngineError> {
        self.in_batch(lock, label, |conn| {
            let drain = drain.to_string();
            Box::pin(async move { sqlx::query(&drain).execute(conn).await.map(|_| ()) })
        })
        .await
    }
}

/// How many times a batch that gave way to an application is tried.
const BATCH_ATTEMPTS: u32 = 50;

/// Keys per batch when copying or restoring the backup.
const COPY_BATCH: i64 = 1000;

/// The keyset batch after `last` (from the start when None), `size` keys at
/// most, by the step's `[first, next]` statements (`sql::batch_bounds`):
/// (first key, last key, count); no rows left gives NULLs and 0.
pub(super) async fn batch_bounds(
    conn: &mut sqlx::PgConnection,
    first: &str,
    next: &str,
    last: Option<&str>,
    size: i64,
) -> Result<(Option<String>, Option<String>, i64), sqlx::Error> {
    match last {
        None => sqlx::query_as(first).bind(size).fetch_one(conn).await,
        Some(k) => {
            sqlx::query_as(next)
                .bind(k)
                .bind(size)
                .fetch_one(conn)
                .await
        }
    }
}

/// Why phase `phase` cannot be rolled back now, or `None`.
pub fn why_not_roll_back(phases: &[PhaseRecord], phase: Phase) -> Option<String> {
    if matches!(
        phases.get(phase.index())?.state,
        PhaseState::Pending | PhaseState::RolledBack
    ) {
        return Some(format!(
            "phase {phase} has not run, so there is nothing to roll back"
        ));
    }
    if let Some(next) = phase.next().and_then(|p| phases.get(p.index())) {
        if !matches!(next.state, PhaseState::Pending | PhaseState::RolledBack) {
            return Some(format!(
                "phase {} is {}; roll back in reverse order, phase {} first",
                next.phase,
                next.state.label().to_lowercase(),
                next.phase
            ));
        }
    }
    None
}
