//! Concurrent application writes from both sides through phases 1 → 5 and
//! back 5 → 1, with random pauses. Each worker owns its keys and keeps the
//! document the application alone would have produced (its own record of
//! what it wrote, in the old schema's terms: a value set in a new table is
//! set in the document unless the document already says so, an absent key
//! meaning the column's default); at the end the source table
//! must hold exactly those documents, with the column's definition restored
//! and nothing of ours left. Every application write must succeed.
//!
//! What the application may write when (the README's phase table):
//! documents until phase 5 starts and again once its rollback is done;
//! the new tables once reads are switched (phase 4 done) until rollback 4
//! starts; source rows (inserts, deletes, key updates) always.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

use super::{engine, fresh_database, full, report, run};
use switchyard::engine::{Phase, Recipe};

const RECIPE: &str = r#"
name = "workload"
soak_hours = 0.0
target_batch_ms = 20
initial_batch_size = 50
[source]
schema = "wl"
table = "users"
key = "id"
column = "prefs"
[[targets]]
table = "user_prefs"
source_key_column = "user_id"
[[targets.columns]]
name = "theme"
type = "text"
default = "system"
allowed = ["light", "dark", "system"]
[[targets.columns]]
name = "language"
type = "text"
default = "en"
[[targets.columns]]
name = "score"
type = "integer"
[[targets]]
table = "channels"
kind = "per_entry"
entries = "notifications"
source_key_column = "user_id"
entry_key_column = "channel"
entry_key_allowed = ["email", "push", "sms"]
[[targets.columns]]
name = "enabled"
type = "boolean"
default = true
[[targets.columns]]
name = "frequency"
type = "text"
default = "daily"
allowed = ["daily", "weekly"]
"#;

/// What the application may write right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Documents and source rows.
    Documents,
    /// Documents, the new tables and source rows.
    Both,
    /// The column is (about to be) gone: the new tables and source rows.
    Tables,
}

struct Shared {
    mode: RwLock<Mode>,
    stop: AtomicBool,
    writes: AtomicU64,
    /// What happened to each key, to explain a difference.
    history: std::sync::Mutex<Vec<(i64, String)>>,
    /// The engine step under way.
    stage: std::sync::Mutex<String>,
}

impl Shared {
    fn note(&self, key: i64, what: String) {
        let stage = self.stage.lock().map(|s| s.clone()).unwrap_or_default();
        if let Ok(mut h) = self.history.lock() {
            h.push((key, format!("{what} [{stage}]")));
        }
    }
}

const WORKERS: i64 = 4;

fn initial_doc(id: i64) -> Value {
    let theme = ["light", "dark", "system"][(id % 3) as usize];
    let language = ["en", "de", "fr"][(id % 3) as usize];
    json!({
        "theme": theme,
        "language": language,
        "notifications": {
            "email": {"enabled": id % 2 == 0, "frequency": "daily", "verified_at": "2024-01-01"},
            "push": {"enabled": true}
        },
        "legacy": {"kept": id}
    })
}

async fn worker(
    pool: PgPool,
    shared: Arc<Shared>,
    w: i64,
    mut docs: BTreeMap<i64, Value>,
    seed: u64,
) -> Result<BTreeMap<i64, Value>, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut next_id = 1_000_000 + w;
    while !shared.stop.load(Ordering::Relaxed) {
        let mode = shared.mode.read().await;
        let keys: Vec<i64> = docs.keys().copied().collect();
        let op = rng.random_range(0..10);
        let pick = |rng: &mut StdRng| keys.get(rng.random_range(0..keys.len().max(1))).copied();
        let result: Result<(), sqlx::Error> = async {
            match (*mode, op) {
                // Source rows: insert, delete, key update.
                (m, 0) => {
                    let id = next_id;
                    next_id += WORKERS;
                    if m == Mode::Tables {
                        sqlx::query("INSERT INTO wl.users (id, email) VALUES ($1, 'new')")
                            .bind(id)
                            .execute(&pool)
                            .await?;
                        docs.insert(id, json!({}));
                    } else {
                        let d = initial_doc(id);
                        sqlx::query("INSERT INTO wl.users (id, email, prefs) VALUES ($1, 'new', $2)")
                            .bind(id)
                            .bind(&d)
                            .execute(&pool)
                            .await?;
                        docs.insert(id, d);
                    }
                }
                (_, 1) => {
                    if let Some(id) = pick(&mut rng) {
                        sqlx::query("DELETE FROM wl.users WHERE id = $1")
                            .bind(id)
                            .execute(&pool)
                            .await?;
                        docs.remove(&id);
                    }
                }
                (_, 2) => {
                    if let Some(id) = pick(&mut rng) {
                        let new_id = next_id;
                        next_id += WORKERS;
                        sqlx::query("UPDATE wl.users SET id = $2 WHERE id = $1")
                            .bind(id)
                            .bind(new_id)
                            .execute(&pool)
                            .await?;
                        if let Some(d) = docs.remove(&id) {
                            docs.insert(new_id, d);
                        }
                        shared.note(new_id, format!("moved from {id} ({:?})", *mode));
                    }
                }
                // Documents, through the old schema.
                (Mode::Documents | Mode::Both, 3..=5) => {
                    if let Some(id) = pick(&mut rng) {
                        let mut d = docs.get(&id).cloned().unwrap_or_else(|| json!({}));
                        match rng.random_range(0..4) {
                            0 => {
                                let theme = ["light", "dark"][rng.random_range(0..2)];
                                d["theme"] = json!(theme);
                            }
                            1 => d["language"] = json!(format!("l{}", rng.random_range(0..50))),
                            2 => {
                                d["notifications"]["sms"] =
                                    json!({"enabled": rng.random_bool(0.5), "frequency": "weekly"})
                            }
                            _ => d["extra"] = json!(rng.random_range(0..1000)),
                        }
                        sqlx::query("UPDATE wl.users SET prefs = $2 WHERE id = $1")
                            .bind(id)
                            .bind(&d)
                            .execute(&pool)
                            .await?;
                        docs.insert(id, d);
                    }
                }
                // The new tables.
                (Mode::Both | Mode::Tables, 6..=9) => {
                    if let Some(id) = pick(&mut rng) {
                        let d = docs.entry(id).or_insert_with(|| json!({}));
                        match op {
                            6 => {
                                let theme = ["light", "dark", "system"][rng.random_range(0..3)];
                                let n = sqlx::query(
                                    "UPDATE wl.user_prefs SET theme = $2 WHERE user_id = $1",
                                )
                                .bind(id)
                                .bind(theme)
                                .execute(&pool)
                                .await?
                                .rows_affected();
                                if n == 0 {
                                    sqlx::query(
                                        "INSERT INTO wl.user_prefs (user_id, theme) VALUES ($1, $2)",
                                    )
                                    .bind(id)
                                    .bind(theme)
                                    .execute(&pool)
                                    .await?;
                                }
                                if d.get("theme").and_then(Value::as_str).unwrap_or("system") != theme {
                                    d["theme"] = json!(theme);
                                }
                            }
                            7 => {
                                let score = rng.random_range(0..3);
                                let value = (score > 0).then_some(score);
                                let n = sqlx::query(
                                    "UPDATE wl.user_prefs SET score = $2 WHERE user_id = $1",
                                )
                                .bind(id)
                                .bind(value)
                                .execute(&pool)
                                .await?
                                .rows_affected();
                                if n > 0 {
                                    match value {
                                        Some(v) => d["score"] = json!(v),
                                        None => {
                                            if let Some(o) = d.as_object_mut() {
                                                o.remove("score");
                                            }
                                        }
                                    }
                                }
                            }
                            8 => {
                                let n = sqlx::query(
                                    "INSERT INTO wl.channels (user_id, channel, enabled, frequency) VALUES ($1, 'sms', false, 'weekly')
                                     ON CONFLICT DO NOTHING",
                                )
                                .bind(id)
                                .execute(&pool)
                                .await?
                                .rows_affected();
                                if n > 0 {
                                    d["notifications"]["sms"] =
                                        json!({"enabled": false, "frequency": "weekly"});
                                }
                                shared.note(id, format!("insert sms: {n} ({:?})", *mode));
                            }
                            _ => {
                                let n = sqlx::query(
                                    "DELETE FROM wl.channels WHERE user_id = $1 AND channel = 'push'",
                                )
                                .bind(id)
                                .execute(&pool)
                                .await?
                                .rows_affected();
                                if n > 0 {
                                    if let Some(o) = d["notifications"].as_object_mut() {
                                        o.remove("push");
                                    }
                                }
                                shared.note(id, format!("delete push: {n} ({:?})", *mode));
                            }
                        }
                    }
                }
                _ => {}
            }
            Ok(())
        }
        .await;
        drop(mode);
        result.map_err(|e| format!("worker {w}: an application write failed: {e}"))?;
        shared.writes.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..4))).await;
    }
    Ok(docs)
}

async fn set_mode(shared: &Shared, mode: Mode) {
    *shared.mode.write().await = mode;
}

async fn pause(rng: &mut StdRng) {
    tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
}

async fn column_shape(pool: &PgPool) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT concat_ws(' | ', pg_get_expr(d.adbin, d.adrelid), a.attnotnull::text,
                (SELECT string_agg(pg_get_constraintdef(c.oid), ', ' ORDER BY 1) FROM pg_constraint c WHERE c.conrelid = a.attrelid AND c.contype = 'c'),
                (SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY 1) FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisvalid))
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = 'wl.users'::regclass AND a.attname = 'prefs'",
    )
    .fetch_one(pool)
    .await
}

/// No differences, except where the engine says why: a sync trigger that
/// gave way while the application kept writing has queued the work for the
/// key's next sync (or the engine's next drain), which the verification of
/// a moment does not wait for. A difference with nothing queued for its key
/// is a failure.
async fn zero_differences(
    e: &switchyard::engine::Engine,
    pool: &PgPool,
    when: &str,
) -> Result<(), String> {
    let report = e.verify().await.map_err(|e| e.to_string())?;
    if report.differences == 0 {
        return Ok(());
    }
    let keys: Vec<String> = report
        .first_differences
        .iter()
        .map(|d| d.key.clone())
        .collect();
    let queued: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT source_key FROM switchyard.sync_queue WHERE source_key = ANY($1)",
    )
    .bind(&keys)
    .fetch_all(pool)
    .await
    .map_err(|e| e.to_string())?;
    let unexplained: Vec<_> = report
        .first_differences
        .iter()
        .filter(|d| !queued.contains(&d.key))
        .collect();
    if unexplained.is_empty() && report.differences as usize == keys.len() {
        eprintln!(
            "{when}: {} difference(s), each with its sync work queued",
            keys.len()
        );
        return Ok(());
    }
    Err(format!("{when}: {:?}", report.first_differences))
}

#[test]
fn concurrent_writes_from_both_sides_through_every_phase_and_back() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let rounds = if full() { 3 } else { 1 };
    let mut writes = 0;
    for round in 0..rounds {
        writes += rt
            .block_on(one_round(round))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    report(
        "concurrent writes, both sides, 1 → 5 → 1",
        format!("{rounds} round(s), {writes} application writes"),
        "held: every write accepted, zero differences at each gate, documents as the application alone wrote them",
    );
}

async fn one_round(round: u64) -> Result<u64, String> {
    let (pool, _) = fresh_database(&format!("workload{round}")).await;
    let users: i64 = if full() { 3_000 } else { 600 };
    for stmt in [
        "CREATE SCHEMA wl",
        "CREATE TABLE wl.users (id bigint PRIMARY KEY, email text, prefs jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(prefs) = 'object'))",
        "CREATE INDEX users_prefs_gin ON wl.users USING gin (prefs)",
    ] {
        sqlx::query(stmt).execute(&pool).await.map_err(|e| e.to_string())?;
    }
    let mut per_worker: Vec<BTreeMap<i64, Value>> = vec![BTreeMap::new(); WORKERS as usize];
    for id in 0..users {
        let d = initial_doc(id);
        sqlx::query("INSERT INTO wl.users (id, prefs) VALUES ($1, $2)")
            .bind(id)
            .bind(&d)
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        per_worker[(id % WORKERS) as usize].insert(id, d);
    }
    let shape = column_shape(&pool).await.map_err(|e| e.to_string())?;
    let recipe = Recipe::parse(RECIPE).map_err(|e| format!("{e:?}"))?;
    let e = engine(&pool, recipe);
    let shared = Arc::new(Shared {
        mode: RwLock::new(Mode::Documents),
        stop: AtomicBool::new(false),
        writes: AtomicU64::new(0),
        history: std::sync::Mutex::new(Vec::new()),
        stage: std::sync::Mutex::new(String::new()),
    });
    let stage = |what: &str| {
        if let Ok(mut s) = shared.stage.lock() {
            *s = what.to_string();
        }
    };
    let mut handles = Vec::new();
    for (w, docs) in per_worker.into_iter().enumerate() {
        handles.push(tokio::spawn(worker(
            pool.clone(),
            shared.clone(),
            w as i64,
            docs,
            round * 100 + w as u64,
        )));
    }
    let mut rng = StdRng::seed_from_u64(round);
    let outcome = async {
        for phase in Phase::ALL[..4].iter().copied() {
            pause(&mut rng).await;
            stage(&format!("phase {phase}"));
            run(&e, phase).await?;
            stage(&format!("after phase {phase}"));
        }
        set_mode(&shared, Mode::Both).await;
        pause(&mut rng).await;
        zero_differences(&e, &pool, "reads switched, both sides writing").await?;
        set_mode(&shared, Mode::Tables).await;
        pause(&mut rng).await;
        stage("phase 5");
        run(&e, Phase::Contract).await?;
        stage("after phase 5");
        pause(&mut rng).await;
        stage("rollback 5");
        e.rollback(Phase::Contract)
            .await
            .map_err(|e| format!("rollback 5: {e}"))?;
        stage("after rollback 5");
        set_mode(&shared, Mode::Both).await;
        pause(&mut rng).await;
        set_mode(&shared, Mode::Documents).await;
        for phase in Phase::ALL[..4].iter().copied().rev() {
            pause(&mut rng).await;
            if phase == Phase::DualWrite {
                zero_differences(&e, &pool, "before rolling back dual-write").await?;
            }
            e.rollback(phase)
                .await
                .map_err(|e| format!("rollback {phase}: {e}"))?;
        }
        pause(&mut rng).await;
        Ok::<(), String>(())
    }
    .await;
    shared.stop.store(true, Ordering::Relaxed);
    let mut expected = BTreeMap::new();
    for h in handles {
        expected.extend(h.await.map_err(|e| e.to_string())??);
    }
    outcome?;

    let actual: Vec<(i64, Value)> = sqlx::query_as("SELECT id, prefs FROM wl.users ORDER BY id")
        .fetch_all(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let actual: BTreeMap<i64, Value> = actual.into_iter().collect();
    if actual.len() != expected.len() {
        return Err(format!(
            "{} rows, the application has {}",
            actual.len(),
            expected.len()
        ));
    }
    let mut wrong = Vec::new();
    let history = shared.history.lock().map(|h| h.clone()).unwrap_or_default();
    for (id, want) in &expected {
        if actual.get(id) != Some(want) {
            let mut trail: Vec<String> = Vec::new();
            let mut keys = vec![*id];
            for (k, what) in history.iter().rev() {
                if keys.contains(k) {
                    trail.push(format!("{k}: {what}"));
                    if let Some(from) = what.strip_prefix("moved from ") {
                        if let Some(old) = from.split(' ').next().and_then(|o| o.parse().ok()) {
                            keys.push(old);
                        }
                    }
                }
            }
            trail.reverse();
            wrong.push(format!(
                "{id}: {:?} vs application {want}\n   history: {}",
                actual.get(id),
                trail.join("; ")
            ));
        }
    }
    if !wrong.is_empty() {
        wrong.truncate(5);
        return Err(format!(
            "documents differ from what the application wrote:\n{}",
            wrong.join("\n")
        ));
    }
    if column_shape(&pool).await.map_err(|e| e.to_string())? != shape {
        return Err("the column's definition was not restored".into());
    }
    let leftovers: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'sy\\_%')
              + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'sy\\_workload%')
              + (SELECT count(*) FROM pg_tables WHERE schemaname = 'wl' AND tablename <> 'users')
              + (SELECT count(*) FROM pg_tables WHERE schemaname = 'switchyard' AND tablename LIKE 'sy\\_%')",
    )
    .fetch_one(&pool)
    .await
    .map_err(|e| e.to_string())?;
    if leftovers != 0 {
        return Err(format!("{leftovers} objects left over"));
    }
    Ok(shared.writes.load(Ordering::Relaxed))
}
