//! Rehearsal: every phase and every rollback of a recipe, run on a copy of
//! a sample of its source in a scratch schema, measured step by step, then
//! dropped. The production table is only read (its definition, and a
//! `TABLESAMPLE` of its rows); nothing of the real migration is touched:
//! the rehearsal runs under a migration name of its own, so it has its own
//! generated functions, runner lock and records.
//!
//! The caller (the rehearsal service) owns the journal records of that
//! name and removes them; this module owns the database objects.

use std::time::Instant;

use futures::future::BoxFuture;

use sqlx::PgPool;

use super::ddl::{run_in_transaction, LockPolicy};
use super::ident::{literal, Ident};
use super::phases::RunControl;
use super::recipe::Recipe;
use super::sql::{self, Names};
use super::vocab::{Phase, PhaseState, RehearsedStep};
use super::{Engine, EngineError};

/// The largest sample a rehearsal copies, in percent of the source.
pub const MAX_PERCENT: f64 = 50.0;
/// The smallest.
pub const MIN_PERCENT: f64 = 0.1;

/// The most rows a rehearsal copies (by the planner's estimate of the
/// table times the percent): the copy, its targets and its phase 5 backup
/// are written into the user's database, so their size is bounded.
pub const MAX_SAMPLE_ROWS: f64 = 1_000_000.0;

/// Tables of at most this many pages are sampled row by row (`BERNOULLI`:
/// every row has the same chance, even in a table of a few pages); larger
/// ones page by page (`SYSTEM`: reads only the pages it keeps, so a 1 %
/// sample of a large table reads about 1 % of it).
const ROW_SAMPLED_PAGES: i64 = 1_000;

/// The scratch schema of rehearsal `id`.
pub fn scratch_schema(id: i64) -> String {
    format!("switchyard_rehearsal_{id}")
}

/// The migration name rehearsal `id` runs under.
pub fn rehearsal_name(id: i64) -> String {
    format!("rehearsal-{id}")
}

/// Is `name` one `rehearsal_name` gives (reserved: no recipe of a user's
/// may take it)?
pub fn is_rehearsal_name(name: &str) -> bool {
    name.strip_prefix("rehearsal-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `recipe` as rehearsal `id` runs it: the same targets, mapping and
/// tuning, with its source (and so its targets) in the scratch schema,
/// under the rehearsal's name. Made from the recipe's text, since that is
/// what phase 1 pins and later phases run.
pub fn scratch_recipe(recipe: &Recipe, id: i64) -> Result<Recipe, EngineError> {
    let invalid = |message: String| EngineError::Refused(format!("rehearsal recipe: {message}"));
    let mut doc: toml::Table = recipe
        .text
        .parse()
        .map_err(|e: toml::de::Error| invalid(e.to_string()))?;
    doc.insert("name".into(), toml::Value::String(rehearsal_name(id)));
    let title: String = format!("Rehearsal of {}", recipe.title)
        .chars()
        .take(200)
        .collect();
    doc.insert("title".into(), toml::Value::String(title));
    match doc.get_mut("source").and_then(toml::Value::as_table_mut) {
        Some(source) => {
            source.insert("schema".into(), toml::Value::String(scratch_schema(id)));
        }
        None => return Err(invalid("it has no [source] table".into())),
    }
    let text = toml::to_string(&doc).map_err(|e| invalid(e.to_string()))?;
    Recipe::parse(&text).map_err(EngineError::Recipe)
}

/// Creates the scratch schema of rehearsal `id` with a copy of the
/// definition of `production`'s source table (columns, defaults, checks,
/// indexes, identity; no foreign keys or triggers), fills it with about
/// `percent` % of its rows, and returns how many were copied. DDL runs
/// under `lock`'s `lock_timeout`, retried: the production table is only
/// read, and a rehearsal never makes its writers wait.
pub async fn copy_sample(
    pool: &PgPool,
    production: &Recipe,
    id: i64,
    percent: f64,
    lock: &LockPolicy,
) -> Result<i64, EngineError> {
    if !(MIN_PERCENT..=MAX_PERCENT).contains(&percent) {
        return Err(EngineError::Refused(format!(
            "a rehearsal copies between {MIN_PERCENT} and {MAX_PERCENT} % of the table, not {percent}"
        )));
    }
    let schema = quoted(&scratch_schema(id))?;
    let source = sql::source_table(production);
    let copy = format!("{schema}.{}", production.source.table);
    // The table's size on disk (every partition of a partitioned one) and
    // the planner's row estimate: `relpages` is 0 for a partitioned parent
    // and for a table never vacuumed.
    let (pages, rows): (i64, f64) = sqlx::query_as(&format!(
        "SELECT coalesce(sum(pg_relation_size(c.oid)), 0)::bigint / current_setting('block_size')::bigint,
                coalesce(sum(greatest(c.reltuples, 0)), 0)::float8
         FROM pg_class c WHERE {}",
        super::sql::HEAP_RELATIONS_OF
    ))
    .bind(&source)
    .fetch_one(pool)
    .await?;
    if rows * percent / 100.0 > MAX_SAMPLE_ROWS {
        return Err(EngineError::Refused(format!(
            "{percent} % of about {rows:.0} rows is more than a rehearsal copies ({MAX_SAMPLE_ROWS:.0} rows): choose at most {:.2} %",
            (MAX_SAMPLE_ROWS * 100.0 / rows * 100.0).floor() / 100.0
        )));
    }
    // Ours, and said so: `drop_scratch` drops only a schema that says it.
    run_in_transaction(
        pool,
        "create the scratch schema and its copy of the source table",
        &[
            format!("CREATE SCHEMA {schema}"),
            format!(
                "COMMENT ON SCHEMA {schema} IS {}",
                literal(&schema_mark(id))
            ),
            format!("CREATE TABLE {copy} (LIKE {source} INCLUDING ALL)"),
        ],
        lock,
        None,
    )
    .await?;
    // Generated columns are computed again; identity values are copied.
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(attname) FROM pg_attribute
         WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
         ORDER BY attnum",
    )
    .bind(&source)
    .fetch_all(pool)
    .await?;
    let method = if pages <= ROW_SAMPLED_PAGES {
        "BERNOULLI"
    } else {
        "SYSTEM"
    };
    let columns = columns.join(", ");
    let copied = sqlx::query(&format!(
        "INSERT INTO {copy} ({columns}) OVERRIDING SYSTEM VALUE
         SELECT {columns} FROM {source} TABLESAMPLE {method} ({percent})"
    ))
    .execute(pool)
    .await?
    .rows_affected();
    if copied == 0 {
        return Err(EngineError::Refused(format!(
            "the {percent} % sample of {source} is empty: nothing to rehearse on; choose a larger percent"
        )));
    }
    sqlx::query(&format!("ANALYZE {copy}"))
        .execute(pool)
        .await?;
    Ok(copied as i64)
}

/// Runs phases 1 to 5 of `engine` (a scratch recipe's) and then rolls back
/// 5 to 1, measuring each step; `on_step` is called (and awaited) after
/// each, and answers whether to go on (false: stop now, with nothing more
/// run or rolled back: the rehearsal is no longer this process's). A run that
/// fails stops the runs there and rolls back what was done. Quarantined
/// documents are accepted at the phase 4 gate (they are reported), while
/// differences fail it, as they would in production.
pub async fn run_all<'a>(
    engine: &Engine,
    mut on_step: impl FnMut(&RehearsedStep) -> BoxFuture<'a, bool>,
) -> Vec<RehearsedStep> {
    let mut steps = Vec::new();
    let ctl = RunControl {
        accept_quarantine: true,
        ..RunControl::default()
    };
    for phase in Phase::ALL {
        let step = measure(engine, phase, false, async {
            match engine.apply(phase, &ctl).await {
                Ok(super::phases::Outcome::Done) => Ok(()),
                Ok(other) => Err(format!("stopped: {other:?}").to_lowercase()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        let failed = step.error.is_some();
        let go_on = on_step(&step).await;
        steps.push(step);
        if !go_on {
            return steps;
        }
        if failed {
            break;
        }
    }
    for phase in Phase::ALL.into_iter().rev() {
        // A phase that never started (or after the one that failed) has
        // nothing to undo.
        let state = engine
            .phase_records()
            .await
            .ok()
            .and_then(|records| records.get(phase.index()).map(|r| r.state));
        if matches!(state, Some(PhaseState::Pending | PhaseState::RolledBack)) {
            continue;
        }
        let step = measure(engine, phase, true, async {
            engine.rollback(phase).await.map_err(|e| e.to_string())
        })
        .await;
        let failed = step.error.is_some();
        let go_on = on_step(&step).await;
        steps.push(step);
        if failed || !go_on {
            break;
        }
    }
    steps
}

async fn measure(
    engine: &Engine,
    phase: Phase,
    rollback: bool,
    work: impl std::future::Future<Output = Result<(), String>>,
) -> RehearsedStep {
    let waits_before = engine.lock_waits();
    let started = Instant::now();
    let outcome = work.await;
    let millis = started.elapsed().as_millis() as i64;
    let status = engine.status().await;
    let (rows, quarantined, unmapped_keys) = match &status {
        Ok(s) => (
            (phase == Phase::Backfill && !rollback)
                .then(|| s.backfill.as_ref().map(|p| p.rows_done))
                .flatten(),
            s.quarantined,
            s.unmapped_keys.len() as i64,
        ),
        Err(_) => (None, 0, 0),
    };
    RehearsedStep {
        phase,
        rollback,
        millis,
        rows,
        quarantined,
        unmapped_keys,
        lock_waits: (engine.lock_waits() - waits_before) as i64,
        error: outcome.err(),
    }
}

/// Removes every database object of rehearsal `id`: the scratch schema
/// with the copy and the target tables, the functions generated for it,
/// and the engine's rows of its name. Idempotent: also what clears a
/// rehearsal a crash interrupted (it needs no recipe: every name is made
/// from the rehearsal's).
pub async fn drop_scratch(pool: &PgPool, id: i64, lock: &LockPolicy) -> Result<(), EngineError> {
    let name = rehearsal_name(id);
    let schema = quoted(&scratch_schema(id))?;
    // A schema of that name that is not ours is left alone, and said so.
    let mark: Option<Option<String>> = sqlx::query_scalar(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1",
    )
    .bind(scratch_schema(id))
    .fetch_optional(pool)
    .await?;
    match mark {
        None => {}
        Some(Some(m)) if m == schema_mark(id) => {
            run_in_transaction(
                pool,
                "drop the scratch schema",
                &[format!("DROP SCHEMA IF EXISTS {schema} CASCADE")],
                lock,
                None,
            )
            .await?;
        }
        Some(_) => {
            return Err(EngineError::Refused(format!(
                "schema {schema} exists but is not a rehearsal's: left as it is"
            )))
        }
    }
    let prefix = format!("{}_", Names::of_name(&name).prefix());
    // Tables of ours in the switchyard schema (the phase 5 backup) are not
    // in the scratch schema, and functions are not dropped with the tables
    // their bodies name: both go by the rehearsal's name prefix.
    let drops: Vec<String> = sqlx::query_scalar(
        "SELECT format('DROP TABLE IF EXISTS %s CASCADE', c.oid::regclass) FROM pg_class c
         WHERE c.relnamespace = 'switchyard'::regnamespace AND c.relkind IN ('r', 'p')
           AND left(c.relname, length($1)) = $1
         UNION ALL
         SELECT format('DROP FUNCTION IF EXISTS %s CASCADE', p.oid::regprocedure) FROM pg_proc p
         WHERE p.pronamespace = 'switchyard'::regnamespace AND left(p.proname, length($1)) = $1",
    )
    .bind(&prefix)
    .fetch_all(pool)
    .await?;
    if !drops.is_empty() {
        run_in_transaction(
            pool,
            "drop the rehearsal's tables and functions",
            &drops,
            lock,
            None,
        )
        .await?;
    }
    // The engine's own rows of that name (quarantine, unmapped keys, the
    // capture log, sync queue, read flag, checkpoint…): every table of ours
    // that keys its rows by migration name.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', c.table_schema, c.table_name) FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'switchyard' AND c.column_name = 'migration_name'
           AND t.table_type = 'BASE TABLE'",
    )
    .fetch_all(pool)
    .await?;
    for table in tables {
        sqlx::query(&format!("DELETE FROM {table} WHERE migration_name = $1"))
            .bind(&name)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// The comment that marks a scratch schema as rehearsal `id`'s.
fn schema_mark(id: i64) -> String {
    format!("switchyard rehearsal {id}: dropped when it ends")
}

fn quoted(name: &str) -> Result<String, EngineError> {
    Ident::parse(name)
        .map(|i| i.to_string())
        .map_err(|e| EngineError::Refused(format!("scratch schema {name:?}: {e}")))
}
