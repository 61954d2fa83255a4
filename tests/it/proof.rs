//! The proof suite (issue 8): the engine's guarantees checked by means that
//! do not share its assumptions.
//! - `model_and_engine_agree`: generated recipes and documents through the
//!   real engine on Postgres (phases 1-4 and back), compared with the
//!   reference model in `proof/model.rs`, forward and reverse.
//! - `workload` (proof/workload.rs): concurrent application writes from both
//!   sides through 1 → 5 → 1, compared with what the application alone
//!   would have produced.
//! - `crash` (proof/crash.rs): kill -9 of the runner at random points of
//!   every phase and rollback, and Postgres restarts, then resume.
//!
//! `make test` runs a few cases of each; `make proof` the full set
//! (`SWITCHYARD_PROOF=full`), printing one `PROOF` line per check.

#[path = "proof/crash.rs"]
mod crash;
#[path = "proof/gen.rs"]
mod gen;
#[path = "proof/model.rs"]
mod model;
#[path = "proof/workload.rs"]
mod workload;

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use switchyard::engine::phases::{Outcome, RunControl};
use switchyard::engine::recipe::{KeyType, Recipe, SqlType, TargetKind};
use switchyard::engine::{Engine, Phase};

use gen::Gen;
use model::{Cell, Write, J};

/// The full set (`make proof`) or the small one (`make test`).
pub fn full() -> bool {
    std::env::var("SWITCHYARD_PROOF").is_ok_and(|v| v == "full")
}

pub fn report(check: &str, tried: impl std::fmt::Display, held: &str) {
    eprintln!("PROOF | {check} | {tried} | {held}");
}

/// A database of its own for one proof test (dropped first if left over).
pub async fn fresh_database(tag: &str) -> (PgPool, String) {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL (make test provides one)");
    let (server, _) = base.rsplit_once('/').expect("DATABASE_URL with a database");
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await
        .expect("admin connection");
    let db = format!("switchyard_proof_{tag}");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .expect("drop");
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .expect("create");
    let url = format!("{server}/{db}");
    let pool = reading_pool(&url, 20).await;
    switchyard::store::migrate(&pool).await.expect("migrate");
    (pool, url)
}

/// A pool whose sessions read target values back in one fixed format
/// (what the model's cells are written in).
pub async fn reading_pool(url: &str, size: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(size)
        .after_connect(|conn, _| {
            Box::pin(async move {
                for s in [
                    "SET TimeZone = 'UTC'",
                    "SET DateStyle = 'ISO, MDY'",
                    "SET extra_float_digits = 1",
                ] {
                    sqlx::query(s).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .expect("proof pool")
}

pub fn engine(pool: &PgPool, recipe: Recipe) -> Engine {
    crate::engine_with(pool, recipe, "proof", 300, 200, Some(0.0))
}

pub async fn run(e: &Engine, phase: Phase) -> Result<(), String> {
    let ctl = RunControl {
        accept_quarantine: true,
        ..RunControl::default()
    };
    match e.apply(phase, &ctl).await {
        Ok(Outcome::Done) => Ok(()),
        other => Err(format!("phase {phase}: {other:?}")),
    }
}

fn key_sql(kt: KeyType) -> &'static str {
    kt.sql()
}

/// The documents the model holds, by key text.
type Docs = BTreeMap<String, Option<J>>;

/// Targets as the database holds them: (target, key, entry) -> cells.
type Held = BTreeMap<(usize, String, Option<String>), Vec<Cell>>;

async fn held(pool: &PgPool, r: &Recipe) -> Result<Held, String> {
    let mut out = Held::new();
    for (i, t) in r.targets.iter().enumerate() {
        let mut cols = vec![format!("{}::text", t.source_key_column)];
        cols.push(match &t.kind {
            TargetKind::PerRow => "NULL::text".into(),
            TargetKind::PerEntry { key_column, .. } => key_column.to_string(),
        });
        for c in &t.columns {
            cols.push(format!("{}::text", c.name));
        }
        let rows: Vec<Vec<Option<String>>> = sqlx::query_scalar(&format!(
            "SELECT ARRAY[{}] FROM {}.{}",
            cols.join(", "),
            r.source.schema,
            t.table
        ))
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
        for row in rows {
            let key = row[0].clone().unwrap_or_default();
            let entry = row[1].clone();
            let cells = t
                .columns
                .iter()
                .zip(&row[2..])
                .map(|(c, v)| match (v, c.ty) {
                    (None, _) => Cell::Null,
                    (Some(v), SqlType::Double) => Cell::Float(v.parse().unwrap_or(f64::NAN)),
                    (Some(v), _) => Cell::Text(v.clone()),
                })
                .collect();
            out.insert((i, key, entry), cells);
        }
    }
    Ok(out)
}

/// What the model says the targets and the quarantine hold.
fn expected(r: &Recipe, docs: &Docs) -> (Held, BTreeSet<String>) {
    let mut rows = Held::new();
    let mut quarantined = BTreeSet::new();
    for (k, d) in docs {
        match model::forward(r, d.as_ref()) {
            Ok(rs) => {
                for (t, e, cells) in rs {
                    rows.insert((t, k.clone(), e), cells);
                }
            }
            Err(_) => {
                quarantined.insert(k.clone());
            }
        }
    }
    (rows, quarantined)
}

async fn compare(pool: &PgPool, r: &Recipe, docs: &Docs, when: &str) -> Result<(), String> {
    let (want, want_q) = expected(r, docs);
    let got = held(pool, r).await?;
    let got_q: BTreeSet<String> = sqlx::query_scalar(
        "SELECT source_key FROM switchyard.quarantine WHERE migration_name = $1",
    )
    .bind(&r.name)
    .fetch_all(pool)
    .await
    .map_err(|e| e.to_string())?
    .into_iter()
    .collect();
    if got_q != want_q {
        let reasons: Vec<(String, String)> = sqlx::query_as(
            "SELECT source_key, reason FROM switchyard.quarantine WHERE migration_name = $1",
        )
        .bind(&r.name)
        .fetch_all(pool)
        .await
        .map_err(|e| e.to_string())?;
        return Err(format!(
            "{when}: quarantine differs\n engine only: {:?}\n model only: {:?}\n reasons: {reasons:?}\n docs: {}",
            got_q.difference(&want_q).collect::<Vec<_>>(),
            want_q.difference(&got_q).collect::<Vec<_>>(),
            describe(docs, got_q.symmetric_difference(&want_q))
        ));
    }
    if got != want {
        let mut diffs = Vec::new();
        for (k, v) in &want {
            if got.get(k) != Some(v) {
                diffs.push(format!("{k:?}: model {v:?}, engine {:?}", got.get(k)));
            }
        }
        for (k, v) in &got {
            if !want.contains_key(k) {
                diffs.push(format!("{k:?}: model none, engine {v:?}"));
            }
        }
        diffs.truncate(8);
        return Err(format!("{when}: targets differ\n {}", diffs.join("\n ")));
    }
    Ok(())
}

fn describe<'a>(docs: &Docs, keys: impl Iterator<Item = &'a String>) -> String {
    keys.take(4)
        .map(|k| {
            format!(
                "{k} = {}",
                docs.get(k)
                    .map(|d| d.as_ref().map(J::to_json).unwrap_or("SQL NULL".into()))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

async fn set_doc(
    pool: &PgPool,
    r: &Recipe,
    key: &str,
    doc: &Option<J>,
    insert: bool,
) -> Result<(), String> {
    let kt = key_sql(r.source.key_type);
    let sql = if insert {
        format!(
            "INSERT INTO {}.src (id, doc) VALUES ($1::text::{kt}, $2::text::jsonb)",
            r.source.schema
        )
    } else {
        format!(
            "UPDATE {}.src SET doc = $2::text::jsonb WHERE id = $1::text::{kt}",
            r.source.schema
        )
    };
    sqlx::query(&sql)
        .bind(key)
        .bind(doc.as_ref().map(J::to_json))
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| format!("application write of {key} failed: {e}"))
}

async fn doc_matches(pool: &PgPool, r: &Recipe, key: &str, doc: &Option<J>) -> Result<(), String> {
    let (same, actual): (Option<bool>, Option<String>) = sqlx::query_as(&format!(
        "SELECT doc IS NOT DISTINCT FROM $2::text::jsonb, doc::text FROM {}.src WHERE id = $1::text::{}",
        r.source.schema,
        key_sql(r.source.key_type)
    ))
    .bind(key)
    .bind(doc.as_ref().map(J::to_json))
    .fetch_one(pool)
    .await
    .map_err(|e| e.to_string())?;
    if same != Some(true) {
        return Err(format!(
            "document {key}: engine {actual:?}, model {:?}",
            doc.as_ref().map(J::to_json)
        ));
    }
    Ok(())
}

/// A target write on a key whose document maps (so it has rows).
fn target_write(g: &mut Gen, r: &Recipe, docs: &Docs) -> Option<(String, Write)> {
    let live: Vec<&String> = docs
        .iter()
        .filter(|(_, d)| model::forward(r, d.as_ref()).is_ok())
        .map(|(k, _)| k)
        .collect();
    if live.is_empty() {
        return None;
    }
    let key = (*g.pick(&live)).clone();
    let rows = model::forward(r, docs.get(&key)?.as_ref()).ok()?;
    let ti = g.below(r.targets.len());
    let t = &r.targets[ti];
    let value = |g: &mut Gen, ci: usize| {
        let c = &t.columns[ci];
        gen::target_value(g, c.ty, &c.allowed, !c.required && c.default.is_none())
    };
    match &t.kind {
        TargetKind::PerRow => {
            let ci = g.below(t.columns.len());
            Some((
                key,
                Write::Update {
                    target: ti,
                    entry: None,
                    column: ci,
                    new: value(g, ci),
                },
            ))
        }
        TargetKind::PerEntry { key_allowed, .. } => {
            let entries: Vec<String> = rows
                .iter()
                .filter(|(i, _, _)| *i == ti)
                .filter_map(|(_, e, _)| e.clone())
                .collect();
            let choice = g.below(5);
            if !entries.is_empty() && choice < 2 {
                let ci = g.below(t.columns.len());
                Some((
                    key,
                    Write::Update {
                        target: ti,
                        entry: Some(g.pick(&entries).clone()),
                        column: ci,
                        new: value(g, ci),
                    },
                ))
            } else if !entries.is_empty() && choice == 2 {
                Some((
                    key,
                    Write::Delete {
                        target: ti,
                        entry: g.pick(&entries).clone(),
                    },
                ))
            } else {
                let pool: Vec<String> = if key_allowed.is_empty() {
                    ["x", "y", "z", "w", "new"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect()
                } else {
                    key_allowed.clone()
                };
                let free: Vec<String> = pool.into_iter().filter(|e| !entries.contains(e)).collect();
                if free.is_empty() {
                    return None;
                }
                let values = (0..t.columns.len()).map(|ci| value(g, ci)).collect();
                Some((
                    key,
                    Write::Insert {
                        target: ti,
                        entry: g.pick(&free).clone(),
                        values,
                    },
                ))
            }
        }
    }
}

async fn apply_write(pool: &PgPool, r: &Recipe, key: &str, w: &Write) -> Result<(), String> {
    let kt = key_sql(r.source.key_type);
    let schema = &r.source.schema;
    let result = match w {
        Write::Update {
            target,
            entry,
            column,
            new,
        } => {
            let t = &r.targets[*target];
            let c = &t.columns[*column];
            let entry_filter = match &t.kind {
                TargetKind::PerEntry { key_column, .. } => format!(" AND {key_column} = $3"),
                TargetKind::PerRow => String::new(),
            };
            sqlx::query(&format!(
                "UPDATE {schema}.{} SET {} = $1::text::{} WHERE {} = $2::text::{kt}{entry_filter}",
                t.table,
                c.name,
                c.ty.sql(),
                t.source_key_column
            ))
            .bind(new.sql_text())
            .bind(key)
            .bind(entry.clone())
            .execute(pool)
            .await
        }
        Write::Insert {
            target,
            entry,
            values,
        } => {
            let t = &r.targets[*target];
            let TargetKind::PerEntry { key_column, .. } = &t.kind else {
                return Ok(());
            };
            let names: Vec<String> = t.columns.iter().map(|c| c.name.to_string()).collect();
            let params: Vec<String> = t
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("${}::text::{}", i + 3, c.ty.sql()))
                .collect();
            let sql = format!(
                "INSERT INTO {schema}.{} ({}, {key_column}, {}) VALUES ($1::text::{kt}, $2, {})",
                t.table,
                t.source_key_column,
                names.join(", "),
                params.join(", ")
            );
            let mut q = sqlx::query(&sql).bind(key).bind(entry);
            for v in values {
                q = q.bind(v.sql_text());
            }
            q.execute(pool).await
        }
        Write::Delete { target, entry } => {
            let t = &r.targets[*target];
            let TargetKind::PerEntry { key_column, .. } = &t.kind else {
                return Ok(());
            };
            sqlx::query(&format!(
                "DELETE FROM {schema}.{} WHERE {} = $1::text::{kt} AND {key_column} = $2",
                t.table, t.source_key_column
            ))
            .bind(key)
            .bind(entry)
            .execute(pool)
            .await
        }
    };
    result
        .map(|_| ())
        .map_err(|e| format!("application target write {w:?} on {key} failed: {e}"))
}

/// One generated case, end to end. Returns the number of checks made.
async fn one_case(pool: &PgPool, seed: u64, n: usize) -> Result<usize, String> {
    let mut g = Gen::new(seed);
    let schema = format!("p{n}");
    let r = gen::recipe(&mut g, &format!("p{n}"), &schema);
    let kt = key_sql(r.source.key_type);
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(pool)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(&format!(
        "CREATE TABLE {schema}.src (id {kt} PRIMARY KEY, doc jsonb)"
    ))
    .execute(pool)
    .await
    .map_err(|e| e.to_string())?;
    let mut docs = Docs::new();
    let mut next = 0i64;
    for _ in 0..(8 + g.below(16)) {
        let k = gen::key(&mut g, r.source.key_type, next);
        next += 1;
        let d = gen::document(&mut g, &r);
        set_doc(pool, &r, &k, &d, true).await?;
        docs.insert(k, d);
    }
    let e = engine(pool, r.clone());
    let mut checks = 0;
    run(&e, Phase::Expand).await?;
    run(&e, Phase::Backfill).await?;
    compare(pool, &r, &docs, "after the backfill").await?;
    checks += 1;
    run(&e, Phase::DualWrite).await?;
    // Dual-write: updates, inserts and deletes of documents.
    for _ in 0..(4 + g.below(8)) {
        match g.below(6) {
            0 => {
                let k = gen::key(&mut g, r.source.key_type, next);
                next += 1;
                let d = gen::document(&mut g, &r);
                set_doc(pool, &r, &k, &d, true).await?;
                docs.insert(k, d);
            }
            1 if !docs.is_empty() => {
                let k = docs
                    .keys()
                    .nth(g.below(docs.len()))
                    .cloned()
                    .unwrap_or_default();
                sqlx::query(&format!(
                    "DELETE FROM {schema}.src WHERE id = $1::text::{kt}"
                ))
                .bind(&k)
                .execute(pool)
                .await
                .map_err(|e| e.to_string())?;
                docs.remove(&k);
            }
            _ if !docs.is_empty() => {
                let k = docs
                    .keys()
                    .nth(g.below(docs.len()))
                    .cloned()
                    .unwrap_or_default();
                let d = gen::document(&mut g, &r);
                set_doc(pool, &r, &k, &d, false).await?;
                docs.insert(k, d);
            }
            _ => {}
        }
    }
    compare(pool, &r, &docs, "during dual-write").await?;
    checks += 1;
    run(&e, Phase::SwitchReads).await?;
    // Reads switched: target writes flow back into the documents.
    for _ in 0..(4 + g.below(10)) {
        let Some((key, w)) = target_write(&mut g, &r, &docs) else {
            break;
        };
        apply_write(pool, &r, &key, &w).await?;
        let before = docs.get(&key).cloned().flatten();
        let after = model::reverse(&r, before.as_ref(), &w);
        doc_matches(pool, &r, &key, &after).await.map_err(|m| {
            format!(
                "{m}\n after {w:?}\n on {:?}",
                before.as_ref().map(J::to_json)
            )
        })?;
        docs.insert(key, after);
        checks += 1;
        compare(pool, &r, &docs, &format!("after target write {w:?}")).await?;
        checks += 1;
    }
    let report = e.verify().await.map_err(|e| e.to_string())?;
    if report.differences != 0 {
        return Err(format!("verification: {:?}", report.first_differences));
    }
    for phase in Phase::ALL[..4].iter().copied().rev() {
        e.rollback(phase)
            .await
            .map_err(|e| format!("rollback {phase}: {e}"))?;
    }
    for (k, d) in &docs {
        doc_matches(pool, &r, k, d).await?;
    }
    checks += docs.len();
    let leftovers: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM pg_proc WHERE proname LIKE $1) + (SELECT count(*) FROM pg_trigger WHERE tgname LIKE $1)
                + (SELECT count(*) FROM pg_tables WHERE schemaname = $2 AND tablename <> 'src')",
    )
    .bind(format!("sy\\_{}\\_%", r.slug_ident()))
    .bind(&schema)
    .fetch_one(pool)
    .await
    .map_err(|e| e.to_string())?;
    if leftovers != 0 {
        return Err(format!("{leftovers} objects left after the full rollback"));
    }
    Ok(checks)
}

#[test]
fn model_and_engine_agree_on_generated_recipes() {
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let cases: u32 = std::env::var("SWITCHYARD_PROOF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full() { 300 } else { 24 });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (pool, _) = rt.block_on(fresh_database("model"));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let checks = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&proptest::num::u64::ANY, |seed| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match rt.block_on(one_case(&pool, seed, n)) {
            Ok(c) => {
                checks.fetch_add(c, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            Err(m) => Err(TestCaseError::fail(format!("seed {seed}: {m}"))),
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    report(
        "model vs engine (generated recipes, phases 1-4 and back)",
        format!("{cases} cases, {} comparisons", checks.into_inner()),
        "held",
    );
}
