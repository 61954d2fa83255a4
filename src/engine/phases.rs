//! What each phase does (its steps, shown as a dry run before anything runs)
//! and the rules for running and rolling back phases. The runner executes
//! exactly the steps `plan` / `rollback_plan` return: the dry run is the run.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::future::BoxFuture;

use super::ddl::{gave_way, run_in_transaction, run_outside_transaction};
use super::ident::{literal, quote_ident};
use super::recipe::Recipe;
use super::sql;
use super::state::{self, PhaseRecord, RunnerLock, READ_FLAG_CHANNEL};
use super::vocab::VerifyReport;
use super::vocab::{BackfillProgress, Event, Phase, PhaseState, ReadsFrom};
use super::{Batch, Engine, EngineError, Guard, Step, StepMode};

/// Called with each progress tick of a backfill.
pub type ProgressCallback = Arc<dyn Fn(&BackfillProgress) + Send + Sync>;

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

/// The source column's definition as phase 5 found it (restored by its
/// rollback). Read from the catalog by `record_definition`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ColumnDefinition {
    pub default: Option<String>,
    pub not_null: bool,
    pub checks: Vec<NamedDefinition>,
    pub indexes: Vec<NamedDefinition>,
    /// Only when it differs from the type's default.
    pub storage: Option<String>,
    /// Only when set.
    pub statistics: Option<i32>,
    pub compression: Option<String>,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NamedDefinition {
    pub name: String,
    pub definition: String,
}

fn read_flag(r: &Recipe, to: ReadsFrom) -> Vec<String> {
    vec![
        format!(
            "INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ({name}, {to}) ON CONFLICT (migration_name) DO UPDATE SET reads_from = {to}, changed_at = now()",
            name = literal(&r.name),
            to = literal(to.as_str())
        ),
        format!(
            "SELECT pg_notify({}, {})",
            literal(READ_FLAG_CHANNEL),
            literal(&serde_json::json!({"migration": r.name, "reads_from": to}).to_string())
        ),
    ]
}

/// `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS ...` from the
/// catalog's `CREATE [UNIQUE] INDEX name ON ...`.
fn concurrently(def: &str) -> String {
    for prefix in ["CREATE UNIQUE INDEX ", "CREATE INDEX "] {
        if let Some(rest) = def.strip_prefix(prefix) {
            return format!("{prefix}CONCURRENTLY IF NOT EXISTS {rest}");
        }
    }
    def.to_string()
}

impl Engine {
    fn src(&self) -> String {
        sql::source_table(&self.recipe)
    }

    fn bounds(&self, table: &str, key: &str) -> [String; 2] {
        [
            sql::batch_bounds(&self.recipe, table, key, true),
            sql::batch_bounds(&self.recipe, table, key, false),
        ]
    }

    fn drain_sync_step(&self) -> Step {
        Step::batched(
            "apply sync work deferred by triggers that gave way to a deadlock",
            Batch::DrainSync,
            vec![format!("SELECT {}()", self.names.drain_fn())],
        )
    }

    /// The exact steps `apply(phase)` runs (dry run; changes nothing).
    pub fn plan(&self, phase: Phase) -> Result<Vec<Step>, EngineError> {
        let r = &self.recipe;
        let n = &self.names;
        let src = self.src();
        let key = &r.source.key;
        let kt = r.source.key_type.sql();
        Ok(match phase {
            Phase::Expand => {
                let mut steps = Vec::new();
                for (i, t) in r.targets.iter().enumerate() {
                    let tt = sql::target_table(r, t);
                    // The settings make a time or date DEFAULT mean what the
                    // mapping means by it, whatever the runner's session says.
                    let mut create: Vec<String> =
                        sql::LOCAL_SETTINGS.iter().map(|s| s.to_string()).collect();
                    create.push(sql::create_target(r, t));
                    steps.push(Step::tx(
                        format!("create table {}", t.table.as_str()),
                        create,
                    ));
                    for ix in &t.indexes {
                        let cols: Vec<String> = ix.columns.iter().map(|c| c.to_string()).collect();
                        steps.push(Step::index(
                            format!("create index {}", ix.name.as_str()),
                            format!(
                                "CREATE {}INDEX CONCURRENTLY IF NOT EXISTS {} ON {tt} ({})",
                                if ix.unique { "UNIQUE " } else { "" },
                                ix.name,
                                cols.join(", ")
                            ),
                            format!("{}.{}", r.source.schema, ix.name),
                            tt.clone(),
                        ));
                    }
                    let mut fk = Step::tx(
                        format!("foreign key of {} (not valid)", t.table.as_str()),
                        vec![format!(
                            "ALTER TABLE {tt} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {src} ({key}) ON UPDATE CASCADE ON DELETE CASCADE NOT VALID",
                            n.fk(i),
                            t.source_key_column
                        )],
                    );
                    fk.guard = Some(Guard::NewConstraint {
                        table: tt.clone(),
                        name: n.fk_bare(i),
                    });
                    steps.push(fk);
                    steps.push(Step::tx(
                        format!("validate the foreign key of {}", t.table.as_str()),
                        vec![format!("ALTER TABLE {tt} VALIDATE CONSTRAINT {}", n.fk(i))],
                    ));
                }
                let mut functions = vec![
                    sql::create_apply_fn(r, n),
                    sql::create_map_fn(r, n),
                    sql::create_capture_fn(r, n),
                    sql::create_dual_write_fn(r, n),
                ];
                for (i, t) in r.targets.iter().enumerate() {
                    functions.push(sql::create_writeback_fn(n, i, t));
                    functions.push(sql::create_rsync_fn(r, n, i, t));
                    functions.push(sql::create_resync_fn(r, n, i, t));
                    functions.push(sql::create_reverse_fn(r, n, i, t));
                    functions.push(sql::create_reverse_stmt_fn(r, n, i, t));
                    functions.push(sql::create_contract_fn(r, n, i, t));
                }
                functions.push(sql::create_replay_fn(r, n));
                functions.push(sql::create_drain_fn(r, n));
                functions.push(sql::create_backup_keys_fn(r, n));
                functions.push(sql::create_key_follow_fn(r, n));
                steps.push(Step::tx("create the mapping and sync functions", functions));
                steps.push(Step::tx(
                    "capture writes from now on",
                    sql::create_capture_triggers(r, n),
                ));
                steps
            }
            Phase::Backfill => {
                let [first, next] = self.bounds(&src, &key.to_string());
                vec![Step::batched(
                    "backfill in keyset batches (checkpoint committed with each batch)",
                    Batch::Backfill,
                    vec![
                        first,
                        next,
                        sql::backfill_batch(r, n),
                        super::backfill::CHECKPOINT.to_string(),
                    ],
                )]
            }
            Phase::DualWrite => {
                let mut switch = sql::create_dual_write_triggers(r, n);
                switch.extend(sql::drop_capture_triggers(r, n));
                vec![
                    Step::tx("switch capture to dual-write", switch),
                    Step::batched(
                        "re-map every key written since phase 1",
                        Batch::DrainCapture,
                        vec![
                            "WITH d AS (DELETE FROM switchyard.capture_log WHERE id IN (SELECT id FROM switchyard.capture_log WHERE migration_name = $1 ORDER BY id LIMIT 1000) RETURNING source_key) SELECT array_agg(DISTINCT source_key ORDER BY source_key) FROM d".to_string(),
                            format!("SELECT m.n_rows FROM {}($1::text[]::{kt}[], false) AS m", n.map_fn()),
                        ],
                    ),
                ]
            }
            Phase::SwitchReads => {
                let [first, next] = self.bounds(&src, &key.to_string());
                let mut verify = vec![first, next];
                verify.extend(r.targets.iter().map(|t| sql::verify_statement(r, t)));
                let mut steps = vec![
                    self.drain_sync_step(),
                    Step::batched(
                        "verify every document against the targets (gate)",
                        Batch::Verify,
                        verify,
                    ),
                    Step::tx(
                        "queued target writes follow source key updates",
                        vec![sql::create_key_follow_trigger(r, n)],
                    ),
                ];
                for (i, t) in r.targets.iter().enumerate() {
                    steps.push(Step::tx(
                        format!(
                            "writes to {} flow back into the JSONB column",
                            t.table.as_str()
                        ),
                        sql::create_reverse_triggers(r, n, i, t),
                    ));
                }
                steps.push(Step::tx(
                    "flip the read flag",
                    read_flag(r, ReadsFrom::Targets),
                ));
                steps
            }
            Phase::Contract => {
                let col = &r.source.column;
                let [first, next] = self.bounds(&src, &key.to_string());
                let mut steps = vec![
                    Step::tx(
                        "record the column's definition (default, NOT NULL, checks, indexes)",
                        vec![self.record_definition_sql()],
                    ),
                    Step::tx(
                        "keep a backup of the column in step from now on",
                        sql::create_backup(r, n),
                    ),
                    // Rows locked FOR KEY SHARE: a row deleted (or re-keyed)
                    // meanwhile is skipped, never copied back as a stale entry.
                    Step::batched(
                        "copy the column into the backup",
                        Batch::BackupCopy,
                        vec![
                            first,
                            next,
                            format!(
                                "INSERT INTO {} (key, doc) SELECT s.{key}, s.{col} FROM {src} s WHERE s.{key} BETWEEN $1::{kt} AND $2::{kt} FOR KEY SHARE OF s ON CONFLICT (key) DO NOTHING",
                                n.backup_table()
                            ),
                        ],
                    ),
                ];
                // One swap per target, in one transaction: every target
                // write is either synced into its document or remembered
                // for a rollback, never both (a replay of a write already
                // synced could undo a later document write).
                // Dropping first takes the table's strongest lock at once (a
                // lock upgrade halfway could deadlock with a writer).
                for (i, t) in r.targets.iter().enumerate() {
                    let mut swap = sql::drop_reverse_triggers(r, n, t);
                    swap.push(sql::create_contract_trigger(r, n, i, t));
                    steps.push(Step::tx(
                        format!(
                            "remember writes to {} from now on, instead of writing them back",
                            t.table.as_str()
                        ),
                        swap,
                    ));
                }
                // Deferred work applied before the exclusive lock; inside it
                // only what was queued in the last moment remains.
                steps.push(self.drain_sync_step());
                let mut drop = vec![format!("LOCK TABLE {src} IN ACCESS EXCLUSIVE MODE")];
                drop.extend(sql::drop_dual_write_triggers(r, n));
                drop.push(format!("SELECT {}()", n.drain_fn()));
                drop.push(sql::drop_key_follow_trigger(r, n));
                drop.push(format!(
                    "DROP TRIGGER IF EXISTS {} ON {src}",
                    n.backup_trigger()
                ));
                drop.push(format!("ALTER TABLE {src} DROP COLUMN IF EXISTS {col}"));
                drop.push(sql::create_backup_keys_trigger(r, n));
                drop.push(format!(
                    "UPDATE switchyard.contract_columns SET dropped = true WHERE migration_name = {}",
                    literal(&r.name)
                ));
                steps.push(Step::tx(
                    "drop dual-write, apply deferred sync work, drop the column (the backup is exact)",
                    drop,
                ));
                steps
            }
        })
    }

    /// The catalog query phase 5 records the column's definition with.
    fn record_definition_sql(&self) -> String {
        let r = &self.recipe;
        format!(
            "INSERT INTO switchyard.contract_columns (migration_name, definition)
SELECT {name}, jsonb_build_object(
  'default', pg_get_expr(d.adbin, d.adrelid),
  'not_null', a.attnotnull,
  'checks', coalesce((SELECT jsonb_agg(jsonb_build_object('name', c.conname, 'definition', pg_get_constraintdef(c.oid)) ORDER BY c.conname)
                      FROM pg_constraint c WHERE c.conrelid = a.attrelid AND c.contype = 'c' AND a.attnum = ANY (c.conkey)), '[]'::jsonb),
  'indexes', coalesce((SELECT jsonb_agg(jsonb_build_object('name', ic.relname, 'definition', pg_get_indexdef(i.indexrelid)) ORDER BY ic.relname)
                       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                       WHERE i.indrelid = a.attrelid AND EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_class'::regclass
                             AND dep.objid = i.indexrelid AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum)), '[]'::jsonb),
  'storage', CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END,
  'statistics', CASE WHEN a.attstattarget >= 0 THEN a.attstattarget END,
  'compression', nullif(a.attcompression::text, ''),
  'comment', col_description(a.attrelid, a.attnum))
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = {table}::regclass AND a.attname = {col} AND NOT a.attisdropped
ON CONFLICT (migration_name) DO UPDATE SET definition = EXCLUDED.definition, rolling_back = false, saved_at = now()",
            name = literal(&r.name),
            table = literal(&self.src()),
            col = literal(r.source.column.as_str()),
        )
    }

    /// Objects depending on the source column that phase 5 could not
    /// restore on rollback (views, rules, triggers naming it, policies,
    /// unique or exclusion constraints, column privileges…).
    async fn unrestorable_dependents(&self) -> Result<Vec<String>, EngineError> {
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
    async fn saved_definition(&self) -> Result<Option<(ColumnDefinition, bool)>, EngineError> {
        let raw: Option<(serde_json::Value, bool)> = sqlx::query_as(
            "SELECT definition, dropped FROM switchyard.contract_columns WHERE migration_name = $1",
        )
        .bind(&self.recipe.name)
        .fetch_optional(&self.pool)
        .await?;
        raw.map(|(v, dropped)| {
            serde_json::from_value(v)
                .map(|def| (def, dropped))
                .map_err(|e| {
                    EngineError::Refused(format!(
                        "the recorded definition of the dropped column cannot be read: {e}"
                    ))
                })
        })
        .transpose()
    }

    /// The exact steps `rollback(phase)` runs. Rolling back phase 5 reads
    /// what phase 5 recorded (whether the column was dropped, and its
    /// definition), so this one asks the database.
    pub async fn rollback_plan(&self, phase: Phase) -> Result<Vec<Step>, EngineError> {
        let r = &self.recipe;
        let n = &self.names;
        let src = self.src();
        let key = &r.source.key;
        let kt = r.source.key_type.sql();
        let name = literal(&r.name);
        Ok(match phase {
            Phase::Expand => {
                // One table locked per transaction.
                let mut on_source = sql::drop_capture_triggers(r, n);
                on_source.extend(sql::drop_dual_write_triggers(r, n));
                on_source.push(format!(
                    "DROP TRIGGER IF EXISTS {} ON {src}",
                    n.backup_trigger()
                ));
                on_source.push(format!(
                    "DROP TRIGGER IF EXISTS {} ON {src}",
                    n.backup_keys_trigger()
                ));
                let mut steps = vec![Step::tx("drop our triggers on the source", on_source)];
                for (i, t) in r.targets.iter().enumerate().rev() {
                    let tt = sql::target_table(r, t);
                    // Dropping a foreign key locks the table it references
                    // too: on its own, it holds the source for an instant
                    // (under lock_timeout), not for the whole table drop.
                    steps.push(Step::tx(
                        format!("drop the foreign key of {}", t.table.as_str()),
                        vec![format!(
                            "ALTER TABLE IF EXISTS {tt} DROP CONSTRAINT IF EXISTS {}",
                            n.fk(i)
                        )],
                    ));
                    steps.push(Step::tx(
                        format!("drop table {}", t.table.as_str()),
                        vec![format!("DROP TABLE IF EXISTS {tt}")],
                    ));
                }
                let mut rest: Vec<String> = n
                    .functions(r)
                    .into_iter()
                    .map(|f| format!("DROP FUNCTION IF EXISTS {f}"))
                    .collect();
                rest.push(format!("DROP TABLE IF EXISTS {}", n.backup_table()));
                for table in [
                    "quarantine",
                    "capture_log",
                    "sync_queue",
                    "unmapped_keys",
                    "backfill_progress",
                    "contract_columns",
                ] {
                    rest.push(format!(
                        "DELETE FROM switchyard.{table} WHERE migration_name = {name}"
                    ));
                }
                rest.push(format!(
                    "UPDATE switchyard.migrations SET pinned_recipe = NULL, pinned_hash = NULL, pinned_at = NULL WHERE name = {name}"
                ));
                steps.push(Step::tx(
                    "drop our functions and bookkeeping; unpin the recipe",
                    rest,
                ));
                steps
            }
            Phase::Backfill => {
                // One table locked per transaction.
                let mut steps: Vec<Step> = r
                    .targets
                    .iter()
                    .map(|t| {
                        Step::tx(
                            format!("empty {}", t.table.as_str()),
                            vec![format!("TRUNCATE {}", sql::target_table(r, t))],
                        )
                    })
                    .collect();
                let mut forget = Vec::new();
                for table in ["quarantine", "unmapped_keys", "backfill_progress"] {
                    forget.push(format!(
                        "DELETE FROM switchyard.{table} WHERE migration_name = {name}"
                    ));
                }
                steps.push(Step::tx("forget the checkpoint and the quarantine", forget));
                steps
            }
            Phase::DualWrite => {
                let mut s = sql::create_capture_triggers(r, n);
                s.extend(sql::drop_dual_write_triggers(r, n));
                // Re-maps handed over since the drain below (a reverse sync
                // can no longer queue anything once phase 4 is rolled back):
                // the capture log takes them, phase 3 re-maps them again.
                s.push(format!(
                    "INSERT INTO switchyard.capture_log (migration_name, source_key) SELECT migration_name, source_key FROM switchyard.sync_queue WHERE migration_name = {name} AND kind = 'forward'"
                ));
                s.push(format!(
                    "DELETE FROM switchyard.sync_queue WHERE migration_name = {name} AND kind IN ('forward', 'reverse')"
                ));
                // Deferred work first, while dual-write still maps: a target
                // write queued by a reverse sync must reach its document
                // before the queue is emptied.
                vec![
                    self.drain_sync_step(),
                    Step::tx("switch dual-write back to capture", s),
                ]
            }
            Phase::SwitchReads => {
                // The flag first: applications following it stop writing
                // the new tables before their writes stop flowing back.
                let mut steps = vec![Step::tx(
                    "read from the source again",
                    read_flag(r, ReadsFrom::Source),
                )];
                for t in &r.targets {
                    steps.push(Step::tx(
                        format!("stop writing {} back into the column", t.table.as_str()),
                        sql::drop_reverse_triggers(r, n, t),
                    ));
                }
                steps.push(self.drain_sync_step());
                steps.push(Step::tx(
                    "stop following source key updates",
                    vec![sql::drop_key_follow_trigger(r, n)],
                ));
                steps
            }
            Phase::Contract => {
                let col = &r.source.column;
                let (definition, dropped) = match self.saved_definition().await? {
                    Some((def, dropped)) => (Some(def), dropped),
                    None => (None, false),
                };
                let bk = n.backup_table();
                let mut steps = vec![Step::tx(
                    "mark the contract as being rolled back (phase 5 may not run until this is done)",
                    vec![format!(
                        "UPDATE switchyard.contract_columns SET rolling_back = true WHERE migration_name = {name}"
                    )],
                )];
                if dropped {
                    // The default at once (for rows inserted from now on),
                    // but not in ADD COLUMN, which would fill every row.
                    let mut readd = vec![format!(
                        "ALTER TABLE {src} ADD COLUMN IF NOT EXISTS {col} jsonb"
                    )];
                    if let Some(expr) = definition.as_ref().and_then(|d| d.default.as_ref()) {
                        readd.push(format!(
                            "ALTER TABLE {src} ALTER COLUMN {col} SET DEFAULT {expr}"
                        ));
                    }
                    steps.push(Step::tx("re-add the column (and its default)", readd));
                    let [first, next] = self.bounds(&bk, "key");
                    steps.push(Step::batched(
                        "restore the documents from the backup",
                        Batch::Restore,
                        vec![
                            first,
                            next,
                            format!(
                                "UPDATE {src} s SET {col} = b.doc FROM {bk} b WHERE s.{key} = b.key AND b.key BETWEEN $1::{kt} AND $2::{kt} AND s.{col} IS NULL AND b.doc IS NOT NULL"
                            ),
                            // Catch-up: a key updated while its batch ran is
                            // skipped by that batch (the join is re-checked
                            // against the moved row); repeated until nothing
                            // restorable is left.
                            format!(
                                "UPDATE {src} s SET {col} = b.doc FROM {bk} b WHERE s.{key} = b.key AND s.{col} IS NULL AND b.doc IS NOT NULL"
                            ),
                            format!(
                                "SELECT count(*) FROM {src} s JOIN {bk} b ON s.{key} = b.key WHERE s.{col} IS NULL AND b.doc IS NOT NULL"
                            ),
                        ],
                    ));
                    // (The default itself comes back with the definition, later.)
                    if let Some(expr) = definition.as_ref().and_then(|d| d.default.as_ref()) {
                        steps.push(Step::tx(
                            "rows inserted since the contract get the column's default",
                            vec![format!(
                                "UPDATE {src} s SET {col} = {expr} WHERE s.{col} IS NULL AND NOT EXISTS (SELECT 1 FROM {bk} b WHERE b.key = s.{key})"
                            )],
                        ));
                    }
                }
                steps.push(Step::tx(
                    "queued target writes follow source key updates again",
                    vec![sql::create_key_follow_trigger(r, n)],
                ));
                // The reverse of phase 5's swap, one transaction per target:
                // from here on a target write is synced into its document,
                // and only what was remembered before is replayed (a field
                // a later write changed is left as that write made it).
                for (i, t) in r.targets.iter().enumerate() {
                    let mut swap = vec![format!(
                        "DROP TRIGGER IF EXISTS {} ON {}",
                        n.contract_trigger(),
                        sql::target_table(r, t)
                    )];
                    swap.extend(sql::create_reverse_triggers(r, n, i, t));
                    steps.push(Step::tx(
                        format!(
                            "writes to {} flow back into the column again, instead of being remembered",
                            t.table.as_str()
                        ),
                        swap,
                    ));
                }
                steps.push(Step::tx(
                    "dual-write again",
                    sql::create_dual_write_triggers(r, n),
                ));
                steps.push(Step::batched(
                    "replay into the documents the target writes made since the contract",
                    Batch::ReplayContract,
                    vec![format!(
                        "SELECT {}(ARRAY['contract'], NULL, 1000, true)",
                        n.replay_fn()
                    )],
                ));
                if dropped {
                    // Rows inserted since the contract now have a document
                    // (the default, plus what their target rows say). Their
                    // targets follow it by a re-map, queued rather than done
                    // here: the application may still be inserting their
                    // target rows. The next sync of such a key does it in
                    // the writer's own transaction; rolling back phase 4
                    // (target writes stopped) does the rest.
                    steps.push(Step::tx(
                        "queue a re-map of the rows inserted since the contract",
                        vec![format!(
                            "INSERT INTO switchyard.sync_queue (migration_name, kind, source_key) SELECT {name}, 'forward', s.{key}::text FROM {src} s WHERE NOT EXISTS (SELECT 1 FROM {bk} b WHERE b.key = s.{key})"
                        )],
                    ));
                    if let Some(def) = &definition {
                        steps.extend(self.restore_definition_steps(def));
                    }
                }
                steps.push(Step::tx(
                    "drop the backup",
                    vec![
                        format!("DROP TRIGGER IF EXISTS {} ON {src}", n.backup_trigger()),
                        format!(
                            "DROP TRIGGER IF EXISTS {} ON {src}",
                            n.backup_keys_trigger()
                        ),
                        format!("DROP TABLE IF EXISTS {bk}"),
                        format!(
                            "DELETE FROM switchyard.contract_columns WHERE migration_name = {name}"
                        ),
                    ],
                ));
                steps
            }
        })
    }

    /// CHECKs, NOT NULL (through a validated CHECK, so the table is
    /// never scanned under an exclusive lock), indexes CONCURRENTLY, storage,
    /// statistics, compression and comment, as phase 5 recorded them.
    fn restore_definition_steps(&self, def: &ColumnDefinition) -> Vec<Step> {
        let r = &self.recipe;
        let src = self.src();
        let col = &r.source.column;
        let mut steps = Vec::new();
        for c in &def.checks {
            let cname = quote_ident(&c.name);
            let already_not_valid = c.definition.ends_with("NOT VALID");
            let mut add = Step::tx(
                format!("restore check {}", c.name),
                vec![format!(
                    "ALTER TABLE {src} ADD CONSTRAINT {cname} {}{}",
                    c.definition,
                    if already_not_valid { "" } else { " NOT VALID" }
                )],
            );
            add.guard = Some(Guard::NewConstraint {
                table: src.clone(),
                name: c.name.clone(),
            });
            steps.push(add);
            if !already_not_valid {
                steps.push(Step::tx(
                    format!("validate check {}", c.name),
                    vec![format!("ALTER TABLE {src} VALIDATE CONSTRAINT {cname}")],
                ));
            }
        }
        if def.not_null {
            let nn = self.names.not_null_check();
            let mut add = Step::tx(
                "NOT NULL: a check, not yet validated",
                vec![format!(
                    "ALTER TABLE {src} ADD CONSTRAINT {nn} CHECK ({col} IS NOT NULL) NOT VALID"
                )],
            );
            add.guard = Some(Guard::NewConstraint {
                table: src.clone(),
                name: nn.trim_matches('"').to_string(),
            });
            steps.push(add);
            steps.push(Step::tx(
                "NOT NULL: validate the check",
                vec![format!("ALTER TABLE {src} VALIDATE CONSTRAINT {nn}")],
            ));
            steps.push(Step::tx(
                "NOT NULL: set it (proved by the check, no scan) and drop the check",
                vec![
                    format!("ALTER TABLE {src} ALTER COLUMN {col} SET NOT NULL"),
                    format!("ALTER TABLE {src} DROP CONSTRAINT IF EXISTS {nn}"),
                ],
            ));
        }
        for ix in &def.indexes {
            steps.push(Step::index(
                format!("restore index {}", ix.name),
                concurrently(&ix.definition),
                format!("{}.{}", r.source.schema, quote_ident(&ix.name)),
                src.clone(),
            ));
        }
        let mut attrs = Vec::new();
        if let Some(s) = &def.storage {
            let mode = match s.as_str() {
                "p" => Some("PLAIN"),
                "e" => Some("EXTERNAL"),
                "m" => Some("MAIN"),
                "x" => Some("EXTENDED"),
                _ => None,
            };
            if let Some(mode) = mode {
                attrs.push(format!(
                    "ALTER TABLE {src} ALTER COLUMN {col} SET STORAGE {mode}"
                ));
            }
        }
        if let Some(stat) = def.statistics {
            attrs.push(format!(
                "ALTER TABLE {src} ALTER COLUMN {col} SET STATISTICS {stat}"
            ));
        }
        if let Some(c) = &def.compression {
            let method = match c.as_str() {
                "p" => Some("pglz"),
                "l" => Some("lz4"),
                _ => None,
            };
            if let Some(m) = method {
                attrs.push(format!(
                    "ALTER TABLE {src} ALTER COLUMN {col} SET COMPRESSION {m}"
                ));
            }
        }
        if let Some(comment) = &def.comment {
            attrs.push(format!(
                "COMMENT ON COLUMN {src}.{col} IS {}",
                literal(comment)
            ));
        }
        if !attrs.is_empty() {
            steps.push(Step::tx(
                "restore the column's storage, statistics, compression and comment",
                attrs,
            ));
        }
        steps
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
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND classid = hashtext($2)::oid AND objid = hashtext($1)::oid
                 AND objsubid = 2)",
        )
        .bind(&self.recipe.name)
        .bind(state::RUNNER_LOCK)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Records of the five phases (creating the migration's rows if needed).
    pub async fn phase_records(&self) -> Result<Vec<PhaseRecord>, EngineError> {
        let id = self.migration_id().await?;
        state::phases(&self.pool, id).await
    }

    pub(super) async fn migration_id(&self) -> Result<i64, EngineError> {
        state::ensure_migration(&self.pool, &self.recipe).await
    }

    /// The recipe pinned at phase 1, if any: (text, hash).
    pub async fn pinned(&self) -> Result<Option<(String, String)>, EngineError> {
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT pinned_recipe, pinned_hash FROM switchyard.migrations WHERE name = $1",
        )
        .bind(&self.recipe.name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some((Some(text), Some(hash))) => Some((text, hash)),
            _ => None,
        })
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
        state::event(&self.pool, id, None, &self.opts.actor, &changed).await?;
        Ok(Some(pinned))
    }

    /// Runs phase `phase` to completion (or until paused / aborted).
    pub async fn apply(&self, phase: Phase, ctl: &RunControl) -> Result<Outcome, EngineError> {
        let lock = RunnerLock::acquire(&self.pool, &self.recipe).await?;
        let id = self.migration_id().await;
        let result = match id {
            Ok(id) => match self.effective(id).await {
                Ok(Some(pinned)) => pinned.apply_locked(phase, ctl, &lock).await,
                Ok(None) => self.apply_locked(phase, ctl, &lock).await,
                Err(e) => Err(e),
            },
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
        let phases = state::phases(&self.pool, id).await?;
        if let Some(reason) = self.why_not_apply(&phases, phase) {
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
            let errors = super::inspect::check_database(&self.pool, &self.recipe).await?;
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
        let fence = Some(lock.fence());
        state::set_state(
            &self.pool,
            id,
            phase,
            PhaseState::Running,
            &self.opts.actor,
            None,
            fence,
        )
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
        let recorded = state::set_state(
            &self.pool,
            id,
            phase,
            final_state,
            &self.opts.actor,
            error.as_deref(),
            fence,
        )
        .await;
        // A failed phase reports its own error first; recording is best effort then.
        if result.is_ok() {
            recorded?;
        }
        result
    }

    /// Phase 1 pins the recipe it runs with (later phases use it).
    async fn pin(&self, lock: &RunnerLock) -> Result<(), EngineError> {
        let mut tx = self.pool.begin().await?;
        lock.fence()
            .assert(&mut tx)
            .await
            .map_err(|e| EngineError::from_step("pin the recipe", e))?;
        sqlx::query(
            "UPDATE switchyard.migrations SET pinned_recipe = $2, pinned_hash = $3, pinned_at = now()
             WHERE name = $1 AND pinned_hash IS NULL",
        )
        .bind(&self.recipe.name)
        .bind(&self.recipe.text)
        .bind(self.recipe.hash())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Runs `steps` in order: transactions and concurrent statements with
    /// their guards, batched loops by their kind. The lock is checked
    /// before every step.
    async fn run_steps(
        &self,
        id: i64,
        phase: Phase,
        steps: &[Step],
        ctl: &RunControl,
        lock: &RunnerLock,
    ) -> Result<Outcome, EngineError> {
        let fence = Some(lock.fence());
        for step in steps {
            lock.check().await?;
            if let Some(Guard::NewConstraint { table, name }) = &step.guard {
                if self.constraint_exists(table, name).await? {
                    continue;
                }
            }
            match step.mode {
                StepMode::Transaction => {
                    run_in_transaction(&self.pool, &step.label, &step.sql, &self.opts.lock, fence)
                        .await?;
                }
                StepMode::Concurrent => self.run_concurrent(step, lock).await?,
                StepMode::Batched => {
                    let outcome = match step.batch {
                        Some(Batch::Backfill) => self.backfill(id, step, ctl, lock).await?,
                        Some(Batch::DrainCapture) => {
                            self.drain_capture(id, step, lock).await?;
                            Outcome::Done
                        }
                        Some(Batch::Verify) => {
                            self.verify_gate(id, phase, step, ctl, lock).await?;
                            Outcome::Done
                        }
                        Some(Batch::BackupCopy) => {
                            self.copy_in_batches(step, lock).await?;
                            Outcome::Done
                        }
                        Some(Batch::Restore) => {
                            self.copy_in_batches(step, lock).await?;
                            self.restore_catch_up(step, lock).await?;
                            Outcome::Done
                        }
                        Some(Batch::ReplayContract) => {
                            self.replay_contract(step, lock).await?;
                            Outcome::Done
                        }
                        Some(Batch::DrainSync) => {
                            self.drain_sync(step, lock).await?;
                            Outcome::Done
                        }
                        None => Outcome::Done,
                    };
                    if outcome != Outcome::Done {
                        return Ok(outcome);
                    }
                }
            }
        }
        Ok(Outcome::Done)
    }

    /// A step outside any transaction. An index build (`Guard::Index`,
    /// statements `[drop the invalid index, build it]`): a failed attempt's
    /// invalid index is dropped before every attempt (IF NOT EXISTS would
    /// skip it), and the step is done only when the index exists and is
    /// valid. The lock is checked before every statement: a runner that lost
    /// it must not drop an index its successor built.
    async fn run_concurrent(&self, step: &Step, lock: &RunnerLock) -> Result<(), EngineError> {
        let Some(Guard::Index { index, table }) = &step.guard else {
            for statement in &step.sql {
                lock.check().await?;
                run_outside_transaction(&self.pool, &step.label, statement, None, &self.opts.lock)
                    .await?;
            }
            return Ok(());
        };
        let [drop_invalid, build] = [&step.sql[0], &step.sql[1]];
        for _ in 0..self.opts.lock.max_attempts.max(1) {
            if self.index_validity(index, table).await? == Some(false) {
                lock.check().await?;
                let label = format!("drop the invalid index left by {}", step.label);
                run_outside_transaction(&self.pool, &label, drop_invalid, None, &self.opts.lock)
                    .await?;
            }
            // A lock timeout inside leaves an invalid index: drop it and retry.
            lock.check().await?;
            run_outside_transaction(&self.pool, &step.label, build, None, &self.opts.lock).await?;
            if self.index_validity(index, table).await? == Some(true) {
                return Ok(());
            }
        }
        Err(EngineError::Refused(format!(
            "{}: the index is still not valid after {} attempts",
            step.label, self.opts.lock.max_attempts
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
        let steps = self.plan(phase)?;
        self.run_steps(id, phase, &steps, ctl, lock).await
    }

    /// Phase 4's gate: verification (with its own states), then zero
    /// differences and no quarantine, or the operator's recorded acceptance.
    async fn verify_gate(
        &self,
        id: i64,
        phase: Phase,
        step: &Step,
        ctl: &RunControl,
        lock: &RunnerLock,
    ) -> Result<(), EngineError> {
        let fence = Some(lock.fence());
        state::set_state(
            &self.pool,
            id,
            phase,
            PhaseState::Verifying,
            &self.opts.actor,
            None,
            fence,
        )
        .await?;
        let report = self.verify_with(step, Some(lock)).await?;
        state::set_state(
            &self.pool,
            id,
            phase,
            PhaseState::Running,
            &self.opts.actor,
            None,
            fence,
        )
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
            sqlx::query(
                "INSERT INTO switchyard.acceptances (migration_name, actor, accepted) VALUES ($1, $2, $3)",
            )
            .bind(&self.recipe.name)
            .bind(&self.opts.actor)
            .bind(accepted.payload())
            .execute(&self.pool)
            .await?;
            let phase = Some(Phase::SwitchReads);
            state::event(&self.pool, id, phase, &self.opts.actor, &accepted).await?;
        }
        Ok(())
    }

    /// Rolls back phase `phase` (phases roll back in reverse order).
    pub async fn rollback(&self, phase: Phase) -> Result<(), EngineError> {
        let lock = RunnerLock::acquire(&self.pool, &self.recipe).await?;
        let id = self.migration_id().await;
        let result = match id {
            Ok(id) => match self.effective(id).await {
                Ok(Some(pinned)) => pinned.rollback_locked(phase, &lock).await,
                Ok(None) => self.rollback_locked(phase, &lock).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        lock.release().await;
        result
    }

    async fn rollback_locked(&self, phase: Phase, lock: &RunnerLock) -> Result<(), EngineError> {
        let id = self.migration_id().await?;
        let phases = state::phases(&self.pool, id).await?;
        if let Some(reason) = why_not_roll_back(&phases, phase) {
            return Err(EngineError::Refused(reason));
        }
        let started = Event::RollbackStarted;
        state::event(&self.pool, id, Some(phase), &self.opts.actor, &started).await?;
        let result = async {
            let steps = self.rollback_plan(phase).await?;
            self.run_steps(id, phase, &steps, &RunControl::default(), lock)
                .await
        }
        .await;
        let fence = Some(lock.fence());
        match result {
            Ok(_) => {
                state::set_state(
                    &self.pool,
                    id,
                    phase,
                    PhaseState::RolledBack,
                    &self.opts.actor,
                    None,
                    fence,
                )
                .await
            }
            Err(e @ EngineError::LockLost(_)) => Err(e),
            Err(e) => {
                let _ = state::set_state(
                    &self.pool,
                    id,
                    phase,
                    PhaseState::Failed,
                    &self.opts.actor,
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
        let phases = state::phases(&self.pool, id).await?;
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
        step: &Step,
        lock: &RunnerLock,
    ) -> Result<(), EngineError> {
        let [take, remap] = [&step.sql[0], &step.sql[1]];
        let mut drained = 0usize;
        loop {
            let taken = self
                .in_batch(lock, &step.label, |conn| {
                    let (take, remap, name) =
                        (take.clone(), remap.clone(), self.recipe.name.clone());
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
        state::event(&self.pool, id, phase, &self.opts.actor, &drained).await?;
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
        sqlx::query(&format!(
            "SET LOCAL lock_timeout = '{}ms'",
            self.opts.lock.lock_timeout.as_millis()
        ))
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
                    drop(tx);
                    tokio::time::sleep(self.opts.lock.base_backoff).await;
                }
                Err(e) => return Err(EngineError::from_step(label, e)),
            }
        }
    }

    /// Runs `[first bounds, next bounds, statement($1, $2)]` over every key
    /// batch, each batch in its own transaction.
    async fn copy_in_batches(&self, step: &Step, lock: &RunnerLock) -> Result<(), EngineError> {
        let [first, next, work] = [&step.sql[0], &step.sql[1], &step.sql[2]];
        let mut last: Option<String> = None;
        loop {
            let done_up_to = self
                .in_batch(lock, &step.label, |conn| {
                    let (first, next, work, last) =
                        (first.clone(), next.clone(), work.clone(), last.clone());
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

    /// The restore's last pass (`[.., .., .., catch-up, count]`): until a
    /// fresh snapshot shows no source row that still lacks its backed-up
    /// document. (A key update in flight still shows its old version, so it
    /// is counted and waited out.)
    async fn restore_catch_up(&self, step: &Step, lock: &RunnerLock) -> Result<(), EngineError> {
        let [catch_up, count] = [&step.sql[3], &step.sql[4]];
        loop {
            self.in_batch(lock, &step.label, |conn| {
                let catch_up = catch_up.clone();
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
    async fn replay_contract(&self, step: &Step, lock: &RunnerLock) -> Result<(), EngineError> {
        let replay = &step.sql[0];
        loop {
            let replayed: i64 = self
                .in_batch(lock, &step.label, |conn| {
                    let replay = replay.clone();
                    Box::pin(async move { sqlx::query_scalar(&replay).fetch_one(&mut *conn).await })
                })
                .await?;
            if replayed == 0 {
                return Ok(());
            }
        }
    }

    /// Applies sync work deferred by triggers (see `sql::create_drain_fn`).
    async fn drain_sync(&self, step: &Step, lock: &RunnerLock) -> Result<(), EngineError> {
        self.in_batch(lock, &step.label, |conn| {
            let drain = step.sql[0].clone();
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
