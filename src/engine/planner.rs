//! The planner: recipe in, typed steps out, no database needed. Every
//! phase and every rollback is one function here; the runner (`phases`)
//! executes exactly these steps, and the dry run and the golden files render
//! them (`step::render_steps`).

use serde::{Deserialize, Serialize};

use super::ident::{literal, quote_ident};
use super::recipe::{Recipe, Target};
use super::sql::{self, Names};
use super::state::READ_FLAG_CHANNEL;
use super::step::{IndexBuild, KeyBounds, Step, Verification, Work};
use super::vocab::{Phase, ReadFlag, ReadsFrom};

/// The source column's definition as phase 5 found it (restored by its
/// rollback). Read from the catalog by `Planner::record_definition_sql`.
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

/// What phase 5 recorded, which its rollback depends on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContractRecord {
    /// The column's definition (None: phase 5 never got that far).
    pub definition: Option<ColumnDefinition>,
    /// The column was dropped (set in the drop's own transaction).
    pub dropped: bool,
}

/// Our bookkeeping rows of a migration, forgotten by rollbacks.
const BOOKKEEPING: [&str; 6] = [
    "quarantine",
    "capture_log",
    "sync_queue",
    "unmapped_keys",
    "backfill_progress",
    "contract_columns",
];

pub struct Planner<'a> {
    r: &'a Recipe,
    n: Names,
}

impl<'a> Planner<'a> {
    pub fn new(recipe: &'a Recipe) -> Self {
        Planner {
            r: recipe,
            n: Names::new(recipe),
        }
    }

    /// The exact steps running `phase` executes.
    pub fn apply(&self, phase: Phase) -> Vec<Step> {
        match phase {
            Phase::Expand => self.expand(),
            Phase::Backfill => vec![self.backfill()],
            Phase::DualWrite => self.dual_write(),
            Phase::SwitchReads => self.switch_reads(),
            Phase::Contract => self.contract(),
        }
    }

    /// The exact steps rolling back `phase` executes; rolling back phase 5
    /// depends on what phase 5 recorded.
    pub fn rollback(&self, phase: Phase, contract: &ContractRecord) -> Vec<Step> {
        match phase {
            Phase::Expand => self.undo_expand(),
            Phase::Backfill => self.undo_backfill(),
            Phase::DualWrite => self.undo_dual_write(),
            Phase::SwitchReads => self.undo_switch_reads(),
            Phase::Contract => self.undo_contract(contract),
        }
    }

    fn src(&self) -> String {
        sql::source_table(self.r)
    }

    fn bounds(&self, table: &str, key: &str) -> KeyBounds {
        KeyBounds {
            first: sql::batch_bounds(self.r, table, key, true),
            next: sql::batch_bounds(self.r, table, key, false),
        }
    }

    fn source_bounds(&self) -> KeyBounds {
        self.bounds(&self.src(), &self.r.source.key.to_string())
    }

    fn forget(&self, tables: &[&str]) -> Vec<String> {
        let name = literal(&self.r.name);
        tables
            .iter()
            .map(|t| format!("DELETE FROM switchyard.{t} WHERE migration_name = {name}"))
            .collect()
    }

    fn drain_sync_step(&self) -> Step {
        Step::new(
            "apply sync work deferred by triggers that gave way to a deadlock",
            Work::DrainSync {
                drain: format!("SELECT {}()", self.n.drain_fn()),
            },
        )
    }

    fn read_flag_step(&self, label: &str, to: ReadsFrom) -> Step {
        let name = &self.r.name;
        let flag = ReadFlag {
            migration: name.clone(),
            reads_from: to,
            changed_at: None,
        };
        // A struct of strings and an enum always serializes.
        let note = serde_json::to_string(&flag).unwrap_or_default();
        Step::tx(
            label,
            vec![
                format!(
                    "INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ({name}, {to}) ON CONFLICT (migration_name) DO UPDATE SET reads_from = {to}, changed_at = now()",
                    name = literal(name),
                    to = literal(to.as_str())
                ),
                format!(
                    "SELECT pg_notify({}, {})",
                    literal(READ_FLAG_CHANNEL),
                    literal(&note)
                ),
            ],
        )
    }

    // ---- phase 1 ----------------------------------------------------------

    fn expand(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        for (i, t) in self.r.targets.iter().enumerate() {
            steps.extend(self.create_target(i, t));
        }
        steps.push(Step::tx(
            "create the mapping and sync functions",
            self.functions(),
        ));
        steps.push(Step::tx(
            "capture writes from now on",
            sql::create_capture_triggers(self.r, &self.n),
        ));
        steps
    }

    /// Target `i`'s table, its indexes, and its foreign key (added NOT
    /// VALID, then validated: no long lock on the source).
    fn create_target(&self, i: usize, t: &Target) -> Vec<Step> {
        let (r, n) = (self.r, &self.n);
        let tt = sql::target_table(r, t);
        // The settings make a time or date DEFAULT mean what the mapping
        // means by it, whatever the runner's session says.
        let mut create: Vec<String> = sql::LOCAL_SETTINGS.iter().map(|s| s.to_string()).collect();
        create.push(sql::create_target(r, t));
        let mut steps = vec![Step::tx(
            format!("create table {}", t.table.as_str()),
            create,
        )];
        for ix in &t.indexes {
            let cols: Vec<String> = ix.columns.iter().map(|c| c.to_string()).collect();
            let index = format!("{}.{}", r.source.schema, ix.name);
            steps.push(Step::new(
                format!("create index {}", ix.name.as_str()),
                Work::Index(IndexBuild {
                    drop_invalid: format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"),
                    build: format!(
                        "CREATE {}INDEX CONCURRENTLY IF NOT EXISTS {} ON {tt} ({})",
                        if ix.unique { "UNIQUE " } else { "" },
                        ix.name,
                        cols.join(", ")
                    ),
                    index,
                    table: tt.clone(),
                }),
            ));
        }
        steps.push(Step::new(
            format!("foreign key of {} (not valid)", t.table.as_str()),
            Work::NewConstraint {
                add: format!(
                    "ALTER TABLE {tt} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON UPDATE CASCADE ON DELETE CASCADE NOT VALID",
                    n.fk(i),
                    t.source_key_column,
                    self.src(),
                    r.source.key
                ),
                table: tt.clone(),
                name: n.fk_bare(i),
            },
        ));
        steps.push(Step::tx(
            format!("validate the foreign key of {}", t.table.as_str()),
            vec![format!("ALTER TABLE {tt} VALIDATE CONSTRAINT {}", n.fk(i))],
        ));
        steps
    }

    fn functions(&self) -> Vec<String> {
        let (r, n) = (self.r, &self.n);
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
        functions
    }

    // ---- phases 2-4 -------------------------------------------------------

    fn backfill(&self) -> Step {
        Step::new(
            "backfill in keyset batches (checkpoint committed with each batch)",
            Work::Backfill {
                bounds: self.source_bounds(),
                map: sql::backfill_batch(self.r, &self.n),
                checkpoint: super::backfill::CHECKPOINT.to_string(),
            },
        )
    }

    fn dual_write(&self) -> Vec<Step> {
        let (r, n) = (self.r, &self.n);
        let mut switch = sql::create_dual_write_triggers(r, n);
        switch.extend(sql::drop_capture_triggers(r, n));
        let kt = r.source.key_type.sql();
        vec![
            Step::tx("switch capture to dual-write", switch),
            Step::new(
                "re-map every key written since phase 1",
                Work::DrainCapture {
                    take: "WITH d AS (DELETE FROM switchyard.capture_log WHERE id IN (SELECT id FROM switchyard.capture_log WHERE migration_name = $1 ORDER BY id LIMIT 1000) RETURNING source_key) SELECT array_agg(DISTINCT source_key ORDER BY source_key) FROM d".to_string(),
                    remap: format!("SELECT m.n_rows FROM {}($1::text[]::{kt}[], false) AS m", n.map_fn()),
                },
            ),
        ]
    }

    /// What phase 4's gate runs (and `Engine::verify`, outside any phase).
    pub fn verification(&self) -> Verification {
        Verification {
            bounds: self.source_bounds(),
            compare: (0..self.r.targets.len())
                .map(|i| sql::verify_statement(self.r, i))
                .collect(),
        }
    }

    fn switch_reads(&self) -> Vec<Step> {
        let (r, n) = (self.r, &self.n);
        let mut steps = vec![
            self.drain_sync_step(),
            Step::new(
                "verify every document against the targets (gate)",
                Work::Verify(self.verification()),
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
        steps.push(self.read_flag_step("flip the read flag", ReadsFrom::Targets));
        steps
    }

    // ---- phase 5 ----------------------------------------------------------

    fn contract(&self) -> Vec<Step> {
        let (r, n) = (self.r, &self.n);
        let (src, key, col) = (self.src(), &r.source.key, &r.source.column);
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
            Step::new(
                "copy the column into the backup",
                Work::BackupCopy {
                    bounds: self.source_bounds(),
                    copy: format!(
                        "INSERT INTO {} (key, doc) SELECT s.{key}, s.{col} FROM {src} s WHERE {} FOR KEY SHARE OF s ON CONFLICT (key) DO NOTHING",
                        n.backup_table(),
                        sql::in_batch(r, &format!("s.{key}"))
                    ),
                },
            ),
        ];
        // One swap per target, in one transaction: every target write is
        // either synced into its document or remembered for a rollback,
        // never both (a replay of a write already synced could undo a later
        // document write). Dropping first takes the table's strongest lock
        // at once (a lock upgrade halfway could deadlock with a writer).
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
        // Deferred work applied before the exclusive lock; inside it only
        // what was queued in the last moment remains.
        steps.push(self.drain_sync_step());
        steps.push(self.drop_column_step());
        steps
    }

    /// Phase 5's last step: the only transaction that locks the source.
    fn drop_column_step(&self) -> Step {
        let (r, n) = (self.r, &self.n);
        let (src, col) = (self.src(), &r.source.column);
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
        Step::tx(
            "drop dual-write, apply deferred sync work, drop the column (the backup is exact)",
            drop,
        )
    }

    /// The catalog query phase 5 records the column's definition with.
    pub fn record_definition_sql(&self) -> String {
        let r = self.r;
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

    // ---- rollbacks 1-4 ----------------------------------------------------

    fn undo_expand(&self) -> Vec<Step> {
        let (r, n) = (self.r, &self.n);
        let src = self.src();
        // One table locked per transaction.
        let mut on_source = sql::drop_capture_triggers(r, n);
        on_source.extend(sql::drop_dual_write_triggers(r, n));
        for trigger in [n.backup_trigger(), n.backup_keys_trigger()] {
            on_source.push(format!("DROP TRIGGER IF EXISTS {trigger} ON {src}"));
        }
        let mut steps = vec![Step::tx("drop our triggers on the source", on_source)];
        for (i, t) in r.targets.iter().enumerate().rev() {
            let tt = sql::target_table(r, t);
            // Dropping a foreign key locks the table it references too: on
            // its own, it holds the source for an instant (under
            // lock_timeout), not for the whole table drop.
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
        rest.extend(self.forget(&BOOKKEEPING));
        // (The runner unpins the recipe once this rollback is done.)
        steps.push(Step::tx("drop our functions and bookkeeping", rest));
        steps
    }

    fn undo_backfill(&self) -> Vec<Step> {
        // One table locked per transaction.
        let mut steps: Vec<Step> = self
            .r
            .targets
            .iter()
            .map(|t| {
                Step::tx(
                    format!("empty {}", t.table.as_str()),
                    vec![format!("TRUNCATE {}", sql::target_table(self.r, t))],
                )
            })
            .collect();
        steps.push(Step::tx(
            "forget the checkpoint and the quarantine",
            self.forget(&["quarantine", "unmapped_keys", "backfill_progress"]),
        ));
        steps
    }

    fn undo_dual_write(&self) -> Vec<Step> {
        let (r, n) = (self.r, &self.n);
        let name = literal(&r.name);
        let mut s = sql::create_capture_triggers(r, n);
        s.extend(sql::drop_dual_write_triggers(r, n));
        // Re-maps handed over since the drain below (a reverse sync can no
        // longer queue anything once phase 4 is rolled back): the capture
        // log takes them, phase 3 re-maps them again.
        s.push(format!(
            "INSERT INTO switchyard.capture_log (migration_name, source_key) SELECT migration_name, source_key FROM switchyard.sync_queue WHERE migration_name = {name} AND kind = 'forward'"
        ));
        s.push(format!(
            "DELETE FROM switchyard.sync_queue WHERE migration_name = {name} AND kind IN ('forward', 'reverse')"
        ));
        // Deferred work first, while dual-write still maps: a target write
        // queued by a reverse sync must reach its document before the queue
        // is emptied.
        vec![
            self.drain_sync_step(),
            Step::tx("switch dual-write back to capture", s),
        ]
    }

    fn undo_switch_reads(&self) -> Vec<Step> {
        let (r, n) = (self.r, &self.n);
        // The flag first: applications following it stop writing the new
        // tables before their writes stop flowing back.
        let mut steps = vec![self.read_flag_step("read from the source again", ReadsFrom::Source)];
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

    // ---- rollback 5 -------------------------------------------------------

    fn undo_contract(&self, contract: &ContractRecord) -> Vec<Step> {
        let mut steps = vec![Step::tx(
            "mark the contract as being rolled back (phase 5 may not run until this is done)",
            vec![format!(
                "UPDATE switchyard.contract_columns SET rolling_back = true WHERE migration_name = {}",
                literal(&self.r.name)
            )],
        )];
        let default = contract
            .definition
            .as_ref()
            .and_then(|d| d.default.as_deref());
        if contract.dropped {
            steps.extend(self.restore_column(default));
        }
        steps.extend(self.sync_again());
        if contract.dropped {
            steps.push(self.queue_new_rows_remap());
            if let Some(def) = &contract.definition {
                steps.extend(self.restore_definition(def));
            }
        }
        steps.push(self.drop_backup_step());
        steps
    }

    /// The column back (with its default for rows inserted from now on,
    /// but not in ADD COLUMN, which would fill every row), its documents
    /// restored from the backup, and rows inserted since the contract given
    /// the default.
    fn restore_column(&self, default: Option<&str>) -> Vec<Step> {
        let r = self.r;
        let (src, key, col) = (self.src(), &r.source.key, &r.source.column);
        let bk = self.n.backup_table();
        let mut readd = vec![format!(
            "ALTER TABLE {src} ADD COLUMN IF NOT EXISTS {col} jsonb"
        )];
        if let Some(expr) = default {
            readd.push(format!(
                "ALTER TABLE {src} ALTER COLUMN {col} SET DEFAULT {expr}"
            ));
        }
        let mut steps = vec![
            Step::tx("re-add the column (and its default)", readd),
            Step::new(
                "restore the documents from the backup",
                Work::Restore {
                    bounds: self.bounds(&bk, "key"),
                    restore: format!(
                        "UPDATE {src} s SET {col} = b.doc FROM {bk} b WHERE s.{key} = b.key AND {} AND s.{col} IS NULL AND b.doc IS NOT NULL",
                        sql::in_batch(r, "b.key")
                    ),
                    // Catch-up: a key updated while its batch ran is skipped
                    // by that batch (the join is re-checked against the moved
                    // row); repeated until nothing restorable is left.
                    catch_up: format!(
                        "UPDATE {src} s SET {col} = b.doc FROM {bk} b WHERE s.{key} = b.key AND s.{col} IS NULL AND b.doc IS NOT NULL"
                    ),
                    count: format!(
                        "SELECT count(*) FROM {src} s JOIN {bk} b ON s.{key} = b.key WHERE s.{col} IS NULL AND b.doc IS NOT NULL"
                    ),
                },
            ),
        ];
        // (The default itself comes back with the definition, later.)
        if let Some(expr) = default {
            steps.push(Step::tx(
                "rows inserted since the contract get the column's default",
                vec![format!(
                    "UPDATE {src} s SET {col} = {expr} WHERE s.{col} IS NULL AND NOT EXISTS (SELECT 1 FROM {bk} b WHERE b.key = s.{key})"
                )],
            ));
        }
        steps
    }

    /// The reverse of phase 5's swaps, one transaction per target: from
    /// here on a target write is synced into its document, and only what
    /// was remembered before is replayed (a field a later write changed is
    /// left as that write made it). Then dual-write, then the replay.
    fn sync_again(&self) -> Vec<Step> {
        let (r, n) = (self.r, &self.n);
        let mut steps = vec![Step::tx(
            "queued target writes follow source key updates again",
            vec![sql::create_key_follow_trigger(r, n)],
        )];
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
        steps.push(Step::new(
            "replay into the documents the target writes made since the contract",
            Work::ReplayContract {
                replay: format!(
                    "SELECT {}(ARRAY['contract'], NULL, 1000, true)",
                    n.replay_fn()
                ),
            },
        ));
        steps
    }

    /// Rows inserted since the contract now have a document (the default,
    /// plus what their target rows say). Their targets follow it by a
    /// re-map, queued rather than done here: the application may still be
    /// inserting their target rows. The next sync of such a key does it in
    /// the writer's own transaction; rolling back phase 4 (target writes
    /// stopped) does the rest.
    fn queue_new_rows_remap(&self) -> Step {
        let (src, key) = (self.src(), &self.r.source.key);
        Step::tx(
            "queue a re-map of the rows inserted since the contract",
            vec![format!(
                "INSERT INTO switchyard.sync_queue (migration_name, kind, source_key) SELECT {}, 'forward', s.{key}::text FROM {src} s WHERE NOT EXISTS (SELECT 1 FROM {} b WHERE b.key = s.{key})",
                literal(&self.r.name),
                self.n.backup_table()
            )],
        )
    }

    fn drop_backup_step(&self) -> Step {
        let (src, n) = (self.src(), &self.n);
        let mut sql: Vec<String> = [n.backup_trigger(), n.backup_keys_trigger()]
            .into_iter()
            .map(|trigger| format!("DROP TRIGGER IF EXISTS {trigger} ON {src}"))
            .collect();
        sql.push(format!("DROP TABLE IF EXISTS {}", n.backup_table()));
        sql.extend(self.forget(&["contract_columns"]));
        Step::tx("drop the backup", sql)
    }

    /// CHECKs, NOT NULL (through a validated CHECK, so the table is never
    /// scanned under an exclusive lock), indexes CONCURRENTLY, storage,
    /// statistics, compression and comment, as phase 5 recorded them.
    fn restore_definition(&self, def: &ColumnDefinition) -> Vec<Step> {
        let mut steps = Vec::new();
        for c in &def.checks {
            steps.extend(self.restore_check(c));
        }
        if def.not_null {
            steps.extend(self.restore_not_null());
        }
        let src = self.src();
        for ix in &def.indexes {
            let index = format!("{}.{}", self.r.source.schema, quote_ident(&ix.name));
            steps.push(Step::new(
                format!("restore index {}", ix.name),
                Work::Index(IndexBuild {
                    drop_invalid: format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"),
                    build: concurrently(&ix.definition),
                    index,
                    table: src.clone(),
                }),
            ));
        }
        let attributes = self.restore_attributes(def);
        if !attributes.is_empty() {
            steps.push(Step::tx(
                "restore the column's storage, statistics, compression and comment",
                attributes,
            ));
        }
        steps
    }

    fn restore_check(&self, c: &NamedDefinition) -> Vec<Step> {
        let src = self.src();
        let cname = quote_ident(&c.name);
        let already_not_valid = c.definition.ends_with("NOT VALID");
        let mut steps = vec![Step::new(
            format!("restore check {}", c.name),
            Work::NewConstraint {
                add: format!(
                    "ALTER TABLE {src} ADD CONSTRAINT {cname} {}{}",
                    c.definition,
                    if already_not_valid { "" } else { " NOT VALID" }
                ),
                table: src.clone(),
                name: c.name.clone(),
            },
        )];
        if !already_not_valid {
            steps.push(Step::tx(
                format!("validate check {}", c.name),
                vec![format!("ALTER TABLE {src} VALIDATE CONSTRAINT {cname}")],
            ));
        }
        steps
    }

    fn restore_not_null(&self) -> Vec<Step> {
        let (src, col) = (self.src(), &self.r.source.column);
        let nn = self.n.not_null_check();
        vec![
            Step::new(
                "NOT NULL: a check, not yet validated",
                Work::NewConstraint {
                    add: format!(
                        "ALTER TABLE {src} ADD CONSTRAINT {nn} CHECK ({col} IS NOT NULL) NOT VALID"
                    ),
                    table: src.clone(),
                    name: nn.trim_matches('"').to_string(),
                },
            ),
            Step::tx(
                "NOT NULL: validate the check",
                vec![format!("ALTER TABLE {src} VALIDATE CONSTRAINT {nn}")],
            ),
            Step::tx(
                "NOT NULL: set it (proved by the check, no scan) and drop the check",
                vec![
                    format!("ALTER TABLE {src} ALTER COLUMN {col} SET NOT NULL"),
                    format!("ALTER TABLE {src} DROP CONSTRAINT IF EXISTS {nn}"),
                ],
            ),
        ]
    }

    fn restore_attributes(&self, def: &ColumnDefinition) -> Vec<String> {
        let (src, col) = (self.src(), &self.r.source.column);
        let storage = def.storage.as_deref().and_then(|s| match s {
            "p" => Some("PLAIN"),
            "e" => Some("EXTERNAL"),
            "m" => Some("MAIN"),
            "x" => Some("EXTENDED"),
            _ => None,
        });
        let compression = def.compression.as_deref().and_then(|c| match c {
            "p" => Some("pglz"),
            "l" => Some("lz4"),
            _ => None,
        });
        let mut attrs = Vec::new();
        if let Some(mode) = storage {
            attrs.push(format!(
                "ALTER TABLE {src} ALTER COLUMN {col} SET STORAGE {mode}"
            ));
        }
        if let Some(stat) = def.statistics {
            attrs.push(format!(
                "ALTER TABLE {src} ALTER COLUMN {col} SET STATISTICS {stat}"
            ));
        }
        if let Some(method) = compression {
            attrs.push(format!(
                "ALTER TABLE {src} ALTER COLUMN {col} SET COMPRESSION {method}"
            ));
        }
        if let Some(comment) = &def.comment {
            attrs.push(format!(
                "COMMENT ON COLUMN {src}.{col} IS {}",
                literal(comment)
            ));
        }
        attrs
    }
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
