//! What each phase does (its steps, shown as a dry run before anything runs)
//! and the rules for running and rolling back phases.

use chrono::Utc;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::backfill::Progress;
use super::ddl::{run_in_transaction, run_outside_transaction};
use super::ident::literal;
use super::sql;
use super::state::{self, PhaseRecord, RunnerLock, READ_FLAG_CHANNEL};
use super::verify::VerifyReport;
use super::{Engine, EngineError, Step, StepMode};
use crate::model::PhaseState;

/// Called with each progress tick of a backfill.
pub type ProgressCallback = Arc<dyn Fn(&Progress) + Send + Sync>;

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
    pub backfill: Option<Progress>,
    pub quarantined: i64,
    pub unmapped_keys: Vec<UnmappedKey>,
    pub pending_captured_writes: i64,
    pub reads_from: String,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct UnmappedKey {
    pub key_path: String,
    pub documents: i64,
}

fn check_phase(phase: i16) -> Result<usize, EngineError> {
    if (1..=5).contains(&phase) {
        Ok(phase as usize - 1)
    } else {
        Err(EngineError::Refused(format!(
            "there is no phase {phase}; phases are 1 to 5"
        )))
    }
}

impl Engine {
    /// The exact steps `apply(phase)` runs (dry run; changes nothing).
    pub fn plan(&self, phase: i16) -> Result<Vec<Step>, EngineError> {
        check_phase(phase)?;
        let r = &self.recipe;
        let n = &self.names;
        let src = sql::source_table(r);
        let key = &r.source.key;
        let kt = r.source.key_type.sql();
        Ok(match phase {
            1 => {
                let mut steps = Vec::new();
                for t in &r.targets {
                    steps.push(Step::tx(
                        format!("create table {}", t.table.as_str()),
                        vec![sql::create_target(r, t).replacen(
                            "CREATE TABLE",
                            "CREATE TABLE IF NOT EXISTS",
                            1,
                        )],
                    ));
                    for ix in &t.indexes {
                        let cols: Vec<String> = ix.columns.iter().map(|c| c.to_string()).collect();
                        steps.push(Step {
                            label: format!("create index {}", ix.name.as_str()),
                            mode: StepMode::Concurrent,
                            sql: vec![format!(
                                "CREATE {}INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({})",
                                if ix.unique { "UNIQUE " } else { "" },
                                ix.name,
                                sql::target_table(r, t),
                                cols.join(", ")
                            )],
                        });
                    }
                    steps.push(Step::tx(
                        format!("foreign key {} (not valid)", t.table.as_str()),
                        vec![format!(
                            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {src} ({key}) ON DELETE CASCADE NOT VALID",
                            sql::target_table(r, t),
                            n.fk(t),
                            t.source_key_column
                        )],
                    ));
                    steps.push(Step::tx(
                        format!("validate foreign key {}", t.table.as_str()),
                        vec![format!(
                            "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                            sql::target_table(r, t),
                            n.fk(t)
                        )],
                    ));
                }
                steps.push(Step::tx(
                    "create mapping function",
                    vec![sql::create_remap_fn(r, n)],
                ));
                steps.push(Step::tx(
                    "capture writes from now on",
                    vec![
                        sql::create_capture_fn(r, n),
                        sql::create_capture_trigger(r, n)
                            .replacen("CREATE TRIGGER", "CREATE OR REPLACE TRIGGER", 1),
                    ],
                ));
                steps
            }
            2 => vec![Step {
                label: "backfill in keyset batches (checkpoint committed with each batch)".into(),
                mode: StepMode::Batched,
                sql: vec![
                    format!("SELECT (array_agg(k ORDER BY k DESC))[1]::text FROM (SELECT {key} AS k FROM {src} WHERE {key} > $1::{kt} ORDER BY {key} LIMIT $2) AS batch"),
                    sql::map_statement(r, &format!("s.{key} > $1::{kt} AND s.{key} <= $2::{kt}"), true),
                    "UPDATE switchyard.backfill_progress SET last_key = $2, rows_done = rows_done + $3, ... WHERE migration_name = $1".into(),
                ],
            }],
            3 => vec![
                Step::tx(
                    "switch capture to dual-write",
                    vec![
                        sql::create_dual_write_fn(r, n),
                        sql::create_dual_write_trigger(r, n)
                            .replacen("CREATE TRIGGER", "CREATE OR REPLACE TRIGGER", 1),
                        format!("DROP TRIGGER IF EXISTS {} ON {src}", n.capture_trigger()),
                    ],
                ),
                Step {
                    label: "drain writes captured since phase 1".into(),
                    mode: StepMode::Batched,
                    sql: vec![
                        format!(
                            "WITH d AS (DELETE FROM switchyard.capture_log WHERE id IN (SELECT id FROM switchyard.capture_log WHERE migration_name = {} ORDER BY id LIMIT 5000) RETURNING source_key) SELECT array_agg(DISTINCT source_key) FROM d",
                            literal(&r.name)
                        ),
                        format!("SELECT {}($1::{kt}[])", n.remap_fn()),
                    ],
                },
            ],
            4 => {
                let mut reverse = Vec::new();
                for t in &r.targets {
                    reverse.push(sql::create_reverse_fn(r, n, t));
                    reverse.push(
                        sql::create_reverse_trigger(r, n, t)
                            .replacen("CREATE TRIGGER", "CREATE OR REPLACE TRIGGER", 1),
                    );
                }
                vec![
                    Step {
                        label: "verify every document against the targets (gate)".into(),
                        mode: StepMode::Batched,
                        sql: r
                            .targets
                            .iter()
                            .map(|t| {
                                sql::verify_statement(
                                    r,
                                    t,
                                    &format!("s.{key} > $1::{kt} AND s.{key} <= $2::{kt}"),
                                    &format!("a.{} > $1::{kt} AND a.{} <= $2::{kt}", t.source_key_column, t.source_key_column),
                                )
                            })
                            .collect(),
                    },
                    Step::tx("writes to the targets flow back into the JSONB column", reverse),
                    Step::tx(
                        "flip the read flag",
                        vec![
                            format!(
                                "INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ({}, 'targets') ON CONFLICT (migration_name) DO UPDATE SET reads_from = 'targets', changed_at = now()",
                                literal(&r.name)
                            ),
                            format!(
                                "SELECT pg_notify({}, {})",
                                literal(READ_FLAG_CHANNEL),
                                literal(&serde_json::json!({"migration": r.name, "reads_from": "targets"}).to_string())
                            ),
                        ],
                    ),
                ]
            }
            5 => {
                let mut drop = vec![format!(
                    "DROP TRIGGER IF EXISTS {} ON {src}",
                    n.dual_write_trigger()
                )];
                for t in &r.targets {
                    drop.push(format!(
                        "DROP TRIGGER IF EXISTS {} ON {}",
                        n.reverse_trigger(),
                        sql::target_table(r, t)
                    ));
                }
                for t in &r.targets {
                    drop.push(sql::create_contract_capture_fn(r, n, t));
                    drop.push(sql::create_contract_capture_trigger(r, n, t));
                }
                drop.push(format!("ALTER TABLE {src} DROP COLUMN {}", r.source.column));
                vec![
                    Step::tx(
                        "back up the column",
                        vec![
                            format!("DROP TABLE IF EXISTS {}", n.backup_table()),
                            format!(
                                "CREATE TABLE {} AS SELECT {key}, {} FROM {src}",
                                n.backup_table(),
                                r.source.column
                            ),
                        ],
                    ),
                    Step::tx("drop the triggers and the old column", drop),
                ]
            }
            _ => unreachable!("checked above"),
        })
    }

    /// The exact steps `rollback(phase)` runs.
    pub fn rollback_plan(&self, phase: i16) -> Result<Vec<Step>, EngineError> {
        check_phase(phase)?;
        let r = &self.recipe;
        let n = &self.names;
        let src = sql::source_table(r);
        let key = &r.source.key;
        let kt = r.source.key_type.sql();
        let name = literal(&r.name);
        Ok(match phase {
            1 => {
                let mut sql_drop = vec![
                    format!("DROP TRIGGER IF EXISTS {} ON {src}", n.capture_trigger()),
                    format!("DROP FUNCTION IF EXISTS {}()", n.capture_fn()),
                ];
                sql_drop.push(format!("DROP FUNCTION IF EXISTS {}({kt}[])", n.remap_fn()));
                for t in r.targets.iter().rev() {
                    sql_drop.push(format!("DROP TABLE IF EXISTS {}", sql::target_table(r, t)));
                }
                for table in [
                    "quarantine",
                    "capture_log",
                    "unmapped_keys",
                    "backfill_progress",
                ] {
                    sql_drop.push(format!(
                        "DELETE FROM switchyard.{table} WHERE migration_name = {name}"
                    ));
                }
                vec![Step::tx(
                    "drop capture, mapping and target tables",
                    sql_drop,
                )]
            }
            2 => {
                let mut s: Vec<String> = r
                    .targets
                    .iter()
                    .map(|t| format!("TRUNCATE {}", sql::target_table(r, t)))
                    .collect();
                for table in ["quarantine", "unmapped_keys", "backfill_progress"] {
                    s.push(format!(
                        "DELETE FROM switchyard.{table} WHERE migration_name = {name}"
                    ));
                }
                vec![Step::tx("empty the targets and forget the checkpoint", s)]
            }
            3 => vec![Step::tx(
                "switch dual-write back to capture",
                vec![
                    sql::create_capture_trigger(r, n).replacen(
                        "CREATE TRIGGER",
                        "CREATE OR REPLACE TRIGGER",
                        1,
                    ),
                    format!("DROP TRIGGER IF EXISTS {} ON {src}", n.dual_write_trigger()),
                    format!("DROP FUNCTION IF EXISTS {}()", n.dual_write_fn()),
                ],
            )],
            4 => {
                let mut s = Vec::new();
                for t in &r.targets {
                    s.push(format!(
                        "DROP TRIGGER IF EXISTS {} ON {}",
                        n.reverse_trigger(),
                        sql::target_table(r, t)
                    ));
                    s.push(format!("DROP FUNCTION IF EXISTS {}()", n.reverse_fn(t)));
                }
                s.push(format!(
                    "INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ({name}, 'source') ON CONFLICT (migration_name) DO UPDATE SET reads_from = 'source', changed_at = now()"
                ));
                s.push(format!(
                    "SELECT pg_notify({}, {})",
                    literal(READ_FLAG_CHANNEL),
                    literal(
                        &serde_json::json!({"migration": r.name, "reads_from": "source"})
                            .to_string()
                    )
                ));
                vec![Step::tx(
                    "stop reverse sync and read from the source again",
                    s,
                )]
            }
            5 => {
                let mut restore_triggers = vec![
                    format!(
                        "ALTER TABLE {src} ADD COLUMN IF NOT EXISTS {} jsonb",
                        r.source.column
                    ),
                    sql::create_dual_write_trigger(r, n).replacen(
                        "CREATE TRIGGER",
                        "CREATE OR REPLACE TRIGGER",
                        1,
                    ),
                ];
                for t in &r.targets {
                    restore_triggers.push(sql::create_reverse_trigger(r, n, t).replacen(
                        "CREATE TRIGGER",
                        "CREATE OR REPLACE TRIGGER",
                        1,
                    ));
                }
                let restore = format!(
                    "UPDATE {src} s SET {col} = b.{col} FROM {bk} b WHERE s.{key} = b.{key} AND b.{key} > $1::{kt} AND b.{key} <= $2::{kt}",
                    col = r.source.column,
                    bk = n.backup_table()
                );
                // Target rows written after the contract: replay them through
                // the reverse trigger into the restored documents.
                let contract_log = literal(&format!("{}:contract", r.name));
                let mut replay = Vec::new();
                for t in &r.targets {
                    replay.push(format!(
                        "UPDATE {} SET {kc} = {kc} WHERE {kc} IN (SELECT source_key::{kt} FROM switchyard.capture_log WHERE migration_name = {contract_log})",
                        sql::target_table(r, t),
                        kc = t.source_key_column
                    ));
                }
                replay.push(format!(
                    "DELETE FROM switchyard.capture_log WHERE migration_name = {contract_log}"
                ));
                let mut cleanup = Vec::new();
                for t in &r.targets {
                    cleanup.push(format!(
                        "DROP TRIGGER IF EXISTS {} ON {}",
                        n.contract_trigger(),
                        sql::target_table(r, t)
                    ));
                    cleanup.push(format!("DROP FUNCTION IF EXISTS {}()", n.contract_fn(t)));
                }
                cleanup.push(format!("DROP TABLE IF EXISTS {}", n.backup_table()));
                vec![
                    Step::tx("re-add the column and the triggers", restore_triggers),
                    Step {
                        label: "restore documents from the backup (sync off)".into(),
                        mode: StepMode::Batched,
                        sql: vec![restore],
                    },
                    Step::tx("replay target writes made since the contract", replay),
                    Step::tx("drop the contract capture and the backup", cleanup),
                ]
            }
            _ => unreachable!("checked above"),
        })
    }

    /// Why phase `phase` cannot run now (order, soak time), or `None`.
    pub fn why_not_apply(&self, phases: &[PhaseRecord], phase: i16) -> Option<String> {
        let idx = check_phase(phase).ok()?;
        let me = phases.get(idx)?;
        if me.state == PhaseState::Done {
            return Some(format!("phase {phase} is already done"));
        }
        if idx > 0 && phases[idx - 1].state != PhaseState::Done {
            return Some(format!(
                "phase {} is {}; phases run in order, so phase {phase} must wait",
                phase - 1,
                phases[idx - 1].state.label().to_lowercase()
            ));
        }
        if phase == 5 {
            let finished = phases[3].finished_at.unwrap_or_else(Utc::now);
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
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND classid = hashtext('switchyard.runner')::oid AND objid = hashtext($1)::oid
                 AND objsubid = 2)",
        )
        .bind(&self.recipe.name)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Records of the five phases (creating the migration's rows if needed).
    pub async fn phase_records(&self) -> Result<Vec<PhaseRecord>, EngineError> {
        let id = self.migration_id().await?;
        state::phases(&self.pool, id).await
    }

    async fn migration_id(&self) -> Result<i64, EngineError> {
        state::ensure_migration(&self.pool, &self.recipe).await
    }

    /// Runs phase `phase` to completion (or until paused / aborted).
    pub async fn apply(&self, phase: i16, ctl: &RunControl) -> Result<Outcome, EngineError> {
        check_phase(phase)?;
        let lock = RunnerLock::acquire(&self.pool, &self.recipe.name).await?;
        let result = self.apply_locked(phase, ctl).await;
        lock.release().await;
        result
    }

    async fn apply_locked(&self, phase: i16, ctl: &RunControl) -> Result<Outcome, EngineError> {
        check_phase(phase)?;
        let id = self.migration_id().await?;
        let phases = state::phases(&self.pool, id).await?;
        if let Some(reason) = self.why_not_apply(&phases, phase) {
            return Err(EngineError::Refused(reason));
        }
        state::set_state(
            &self.pool,
            id,
            phase,
            PhaseState::Running,
            &self.opts.actor,
            None,
        )
        .await?;
        let result = self.run_phase(id, phase, ctl).await;
        let (final_state, error) = match &result {
            Ok(Outcome::Done) => (PhaseState::Done, None),
            Ok(Outcome::Paused) => (PhaseState::Paused, None),
            Ok(Outcome::Aborted) => (
                PhaseState::Failed,
                Some("aborted by the operator".to_string()),
            ),
            Err(e) => (PhaseState::Failed, Some(e.to_string())),
        };
        let recorded = state::set_state(
            &self.pool,
            id,
            phase,
            final_state,
            &self.opts.actor,
            error.as_deref(),
        )
        .await;
        // A failed phase reports its own error first; recording is best effort then.
        if result.is_ok() {
            recorded?;
        }
        result
    }

    async fn run_steps(&self, steps: &[Step]) -> Result<(), EngineError> {
        for step in steps {
            match step.mode {
                StepMode::Transaction => {
                    run_in_transaction(&self.pool, &step.label, &step.sql, &self.opts.lock).await?;
                }
                StepMode::Concurrent => {
                    for s in &step.sql {
                        self.drop_invalid_index(step).await?;
                        run_outside_transaction(&self.pool, &step.label, s, None, &self.opts.lock)
                            .await?;
                        self.drop_invalid_index(step).await?;
                    }
                }
                StepMode::Batched => {}
            }
        }
        Ok(())
    }

    /// A CREATE INDEX CONCURRENTLY that failed (lock timeout, crash) leaves
    /// an invalid index that IF NOT EXISTS would then skip: drop it first.
    async fn drop_invalid_index(&self, step: &Step) -> Result<(), EngineError> {
        let Some(name) = step.label.strip_prefix("create index ") else {
            return Ok(());
        };
        let qualified = format!("{}.\"{}\"", self.recipe.source.schema, name);
        let invalid: Option<bool> = sqlx::query_scalar(
            "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
        )
        .bind(&qualified)
        .fetch_optional(&self.pool)
        .await?;
        if invalid == Some(true) {
            run_outside_transaction(
                &self.pool,
                &format!("drop invalid index {name}"),
                &format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}"),
                None,
                &self.opts.lock,
            )
            .await?;
        }
        Ok(())
    }

    async fn run_phase(
        &self,
        id: i64,
        phase: i16,
        ctl: &RunControl,
    ) -> Result<Outcome, EngineError> {
        let steps = self.plan(phase)?;
        match phase {
            1 => {
                // Skip the FK steps whose constraint already exists (re-run).
                let mut todo = Vec::new();
                for s in steps {
                    if s.label.starts_with("foreign key ") && self.fk_exists(&s).await? {
                        continue;
                    }
                    todo.push(s);
                }
                self.run_steps(&todo).await?;
                Ok(Outcome::Done)
            }
            2 => self.backfill(id, ctl).await,
            3 => {
                self.run_steps(&steps).await?;
                self.drain_capture(id).await?;
                Ok(Outcome::Done)
            }
            4 => {
                state::set_state(
                    &self.pool,
                    id,
                    4,
                    PhaseState::Verifying,
                    &self.opts.actor,
                    None,
                )
                .await?;
                let report = self.verify().await?;
                state::set_state(
                    &self.pool,
                    id,
                    4,
                    PhaseState::Running,
                    &self.opts.actor,
                    None,
                )
                .await?;
                self.gate(id, &report, ctl).await?;
                self.run_steps(&steps).await?;
                Ok(Outcome::Done)
            }
            5 => {
                self.run_steps(&steps).await?;
                Ok(Outcome::Done)
            }
            _ => unreachable!("checked by plan"),
        }
    }

    async fn fk_exists(&self, step: &Step) -> Result<bool, EngineError> {
        let Some(t) = self
            .recipe
            .targets
            .iter()
            .find(|t| step.label == format!("foreign key {} (not valid)", t.table.as_str()))
        else {
            return Ok(false);
        };
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1 AND conrelid = to_regclass($2))",
        )
        .bind(self.names.fk(t).trim_matches('"'))
        .bind(sql::target_table(&self.recipe, t))
        .fetch_one(&self.pool)
        .await?;
        Ok(exists)
    }

    /// Phase 4's gate: zero differences and no quarantine, or the operator's
    /// recorded acceptance of what is listed.
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
            let accepted = serde_json::json!({
                "differences": report.differences,
                "first_differences": report.first_differences,
                "quarantined": report.quarantined,
            });
            sqlx::query(
                "INSERT INTO switchyard.acceptances (migration_name, actor, accepted) VALUES ($1, $2, $3)",
            )
            .bind(&self.recipe.name)
            .bind(&self.opts.actor)
            .bind(&accepted)
            .execute(&self.pool)
            .await?;
            state::event(
                &self.pool,
                id,
                Some(4),
                &self.opts.actor,
                "accepted",
                accepted,
            )
            .await?;
        }
        Ok(())
    }

    /// Rolls back phase `phase` (phases roll back in reverse order).
    pub async fn rollback(&self, phase: i16) -> Result<(), EngineError> {
        check_phase(phase)?;
        let lock = RunnerLock::acquire(&self.pool, &self.recipe.name).await?;
        let result = self.rollback_locked(phase).await;
        lock.release().await;
        result
    }

    async fn rollback_locked(&self, phase: i16) -> Result<(), EngineError> {
        check_phase(phase)?;
        let id = self.migration_id().await?;
        let phases = state::phases(&self.pool, id).await?;
        if let Some(reason) = why_not_roll_back(&phases, phase) {
            return Err(EngineError::Refused(reason));
        }
        state::event(
            &self.pool,
            id,
            Some(phase),
            &self.opts.actor,
            "rollback_started",
            serde_json::json!({}),
        )
        .await?;
        let steps = self.rollback_plan(phase)?;
        let result = async {
            if phase == 5 {
                // Column and triggers back, documents restored, then the
                // backup dropped: in that order, or the backup is lost.
                self.run_steps(&steps[..1]).await?;
                self.restore_column().await?;
                self.run_steps(&steps[2..]).await?;
            } else {
                self.run_steps(&steps).await?;
            }
            Ok::<(), EngineError>(())
        }
        .await;
        match result {
            Ok(()) => {
                state::set_state(
                    &self.pool,
                    id,
                    phase,
                    PhaseState::RolledBack,
                    &self.opts.actor,
                    None,
                )
                .await
            }
            Err(e) => {
                let _ = state::set_state(
                    &self.pool,
                    id,
                    phase,
                    PhaseState::Failed,
                    &self.opts.actor,
                    Some(&format!("rollback failed: {e}")),
                )
                .await;
                Err(e)
            }
        }
    }

    /// Current state, progress, quarantine and unmapped keys.
    pub async fn status(&self) -> Result<Status, EngineError> {
        let id = self.migration_id().await?;
        let phases = state::phases(&self.pool, id).await?;
        let backfill = self.progress().await?;
        let quarantined: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM switchyard.quarantine WHERE migration_name = $1",
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
        let pending_captured_writes: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM switchyard.capture_log WHERE migration_name = $1",
        )
        .bind(&self.recipe.name)
        .fetch_one(&self.pool)
        .await?;
        let reads_from: Option<String> = sqlx::query_scalar(
            "SELECT reads_from FROM switchyard.read_flags WHERE migration_name = $1",
        )
        .bind(&self.recipe.name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(Status {
            migration: self.recipe.name.clone(),
            phases,
            backfill,
            quarantined,
            unmapped_keys,
            pending_captured_writes,
            reads_from: reads_from.unwrap_or_else(|| "source".into()),
        })
    }

    /// Phase 3: every key captured since phase 1 is re-mapped from the
    /// document as it is now (dual-write already covers new writes).
    async fn drain_capture(&self, id: i64) -> Result<(), EngineError> {
        let kt = self.recipe.source.key_type.sql();
        let take = "WITH d AS (DELETE FROM switchyard.capture_log WHERE id IN (SELECT id FROM switchyard.capture_log WHERE migration_name = $1 ORDER BY id LIMIT 5000) RETURNING source_key) SELECT array_agg(DISTINCT source_key ORDER BY source_key) FROM d";
        let remap = format!("SELECT {}($1::text[]::{kt}[])", self.names.remap_fn());
        let mut drained = 0usize;
        loop {
            let mut tx = self.pool.begin().await?;
            let keys: Option<Vec<String>> = sqlx::query_scalar(take)
                .bind(&self.recipe.name)
                .fetch_one(&mut *tx)
                .await?;
            let Some(keys) = keys else {
                tx.commit().await?;
                break;
            };
            drained += keys.len();
            sqlx::query(&remap).bind(&keys).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        state::event(
            &self.pool,
            id,
            Some(3),
            &self.opts.actor,
            "capture_drained",
            serde_json::json!({ "keys": drained }),
        )
        .await?;
        Ok(())
    }

    /// Phase 5 rollback: documents back from the backup in key batches,
    /// with the sync triggers silenced (the targets already hold the truth).
    async fn restore_column(&self) -> Result<(), EngineError> {
        let r = &self.recipe;
        let steps = self.rollback_plan(5)?;
        let restore = &steps[1].sql[0];
        let kt = r.source.key_type.sql();
        let key = &r.source.key;
        let next = format!(
            "SELECT (array_agg(k ORDER BY k DESC))[1]::text FROM (SELECT {key} AS k FROM {} WHERE {key} > $1::{kt} ORDER BY {key} LIMIT 5000) AS b",
            self.names.backup_table()
        );
        let mut lo = min_key(r.source.key_type);
        loop {
            let hi: Option<String> = sqlx::query_scalar(&next)
                .bind(&lo)
                .fetch_one(&self.pool)
                .await?;
            let Some(hi) = hi else { break };
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT set_config('switchyard.syncing', 'on', true)")
                .execute(&mut *tx)
                .await?;
            sqlx::query(restore)
                .bind(&lo)
                .bind(&hi)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            lo = hi;
        }
        Ok(())
    }
}

/// Why phase `phase` cannot be rolled back now, or `None`.
pub fn why_not_roll_back(phases: &[PhaseRecord], phase: i16) -> Option<String> {
    let idx = check_phase(phase).ok()?;
    if matches!(
        phases.get(idx)?.state,
        PhaseState::Pending | PhaseState::RolledBack
    ) {
        return Some(format!(
            "phase {phase} has not run, so there is nothing to roll back"
        ));
    }
    if let Some(next) = phases.get(idx + 1) {
        if !matches!(next.state, PhaseState::Pending | PhaseState::RolledBack) {
            return Some(format!(
                "phase {} is {}; roll back in reverse order, phase {} first",
                phase + 1,
                next.state.label().to_lowercase(),
                phase + 1
            ));
        }
    }
    None
}

/// A key below every real key, as text, for `key > $1` on the first batch.
pub fn min_key(kt: super::recipe::KeyType) -> String {
    match kt {
        super::recipe::KeyType::Integer => i32::MIN.to_string(),
        super::recipe::KeyType::BigInt => i64::MIN.to_string(),
        super::recipe::KeyType::Uuid => "00000000-0000-0000-0000-000000000000".into(),
    }
}
