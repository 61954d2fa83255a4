//! Crashes at random points of every phase and rollback: the runner (the
//! CLI, a process of its own) is killed with SIGKILL, and Postgres itself is
//! stopped immediately and restarted mid-phase. After each, the phase is run
//! again until it is done; then the targets must match the reference model
//! exactly (nothing lost, duplicated or mismatched), and after the full
//! rollback the documents and the column must be exactly as they were.
//!
//! Runs on a private cluster of its own (scripts/pg.sh), since it restarts it.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::model::J;
use super::{compare, full, reading_pool, report};
use switchyard::engine::Recipe;

const RECIPE: &str = r#"
name = "crash"
soak_hours = 0.0
target_batch_ms = 15
initial_batch_size = 100
[source]
schema = "cr"
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
name = "score"
type = "integer"
[[targets.indexes]]
columns = ["theme"]
[[targets]]
table = "channels"
kind = "per_entry"
entries = "notifications"
source_key_column = "user_id"
entry_key_column = "channel"
[[targets.columns]]
name = "enabled"
type = "boolean"
default = true
[[targets.indexes]]
columns = ["channel", "enabled"]
"#;

/// Our own cluster, stopped when dropped.
struct Cluster {
    dir: String,
}

impl Cluster {
    fn start() -> (Cluster, String) {
        let dir = format!("{}/target/proof-crash-pg", env!("CARGO_MANIFEST_DIR"));
        let out = Command::new("scripts/pg.sh")
            .args(["start", &dir])
            .env("PG_EXTRA_OPTS", "-c fsync=off -c max_connections=100")
            .env("PG_DATABASE", "crash")
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/pg.sh start");
        assert!(out.status.success(), "the private cluster did not start");
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (Cluster { dir }, url)
    }

    /// An immediate stop, as if the server crashed, then a start.
    fn crash_and_restart(&self) {
        let status = Command::new("scripts/pg.sh")
            .args(["crash", &self.dir])
            .env("PG_EXTRA_OPTS", "-c fsync=off -c max_connections=100")
            .status()
            .expect("scripts/pg.sh crash");
        assert!(status.success(), "the cluster did not restart");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("scripts/pg.sh")
            .args(["stop", &self.dir])
            .status();
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Run(i16),
    Rollback(i16),
}

fn cli(op: Op, recipe: &str, url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    match op {
        Op::Run(p) => cmd.args([
            "phase",
            "run",
            &p.to_string(),
            recipe,
            "--accept-quarantine",
        ]),
        Op::Rollback(p) => cmd.args(["phase", "rollback", &p.to_string(), recipe]),
    };
    cmd.env("DATABASE_URL", url)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Runs `op` until it is done: exit 0, or the phase already in its end
/// state (a killed runner may have finished just before the kill). Busy
/// right after a kill and refused connections right after a restart are
/// tried again.
fn finish(op: Op, recipe: &str, url: &str, done: impl Fn() -> bool) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let status = cli(op, recipe, url).status().map_err(|e| e.to_string())?;
        if status.success() || done() {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "{op:?} did not finish after crashes (last: {status})"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The id of the newest event (0 before the first).
async fn last_event(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM switchyard.events")
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}

async fn state_of(pool: &PgPool, phase: i16) -> Option<String> {
    sqlx::query_scalar(
        "SELECT s.state FROM switchyard.phase_states s JOIN switchyard.migrations m ON m.id = s.migration_id
         WHERE m.name = 'crash' AND s.position = $1",
    )
    .bind(phase)
    .fetch_optional(pool)
    .await
    .ok()
    .flatten()
}

fn doc(rng: &mut StdRng, id: i64) -> serde_json::Value {
    let theme = ["light", "dark", "system", "neon"][rng.random_range(0..4)];
    let mut d = serde_json::json!({
        "theme": theme,
        "notifications": {"email": {"enabled": id % 2 == 0, "since": id}, "push": {}},
        "kept": {"id": id}
    });
    if rng.random_bool(0.3) {
        d["score"] = serde_json::json!(rng.random_range(0..100));
    }
    d
}

async fn documents(pool: &PgPool) -> Result<BTreeMap<String, Option<J>>, String> {
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id::text, prefs::text FROM cr.users")
            .fetch_all(pool)
            .await
            .map_err(|e| e.to_string())?;
    rows.into_iter()
        .map(|(k, d)| {
            let j = d
                .map(|t| serde_json::from_str::<serde_json::Value>(&t).map(|v| to_j(&v)))
                .transpose()
                .map_err(|e| e.to_string())?;
            Ok((k, j))
        })
        .collect()
}

fn to_j(v: &serde_json::Value) -> J {
    match v {
        serde_json::Value::Null => J::Null,
        serde_json::Value::Bool(b) => J::Bool(*b),
        serde_json::Value::Number(n) => J::Num(n.to_string()),
        serde_json::Value::String(s) => J::Str(s.clone()),
        serde_json::Value::Array(a) => J::Arr(a.iter().map(to_j).collect()),
        serde_json::Value::Object(o) => {
            J::Obj(o.iter().map(|(k, v)| (k.clone(), to_j(v))).collect())
        }
    }
}

async fn checksum(pool: &PgPool) -> Result<String, String> {
    sqlx::query_scalar(
        "SELECT md5(string_agg(id::text || ':' || coalesce(prefs::text, '-'), ',' ORDER BY id)) FROM cr.users",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| e.to_string())
}

#[test]
fn killed_runners_and_postgres_restarts_resume_with_nothing_lost() {
    let seeds: &[u64] = if full() { &[8, 21, 34] } else { &[8] };
    let mut totals = (0, 0, 0, 0);
    for &seed in seeds {
        let (k, h, r, c) = crash_run(seed);
        totals = (totals.0 + k, totals.1 + h, totals.2 + r, totals.3 + c);
    }
    let users = if full() { 20_000 } else { 3_000 };
    report(
        "kill -9 of the runner, Postgres restarts, then resume",
        format!(
            "{} run(s) of {users} rows: {} kills ({} mid-operation) over 10 phases and rollbacks, {} restarts, {} full comparisons",
            seeds.len(),
            totals.0,
            totals.1,
            totals.2,
            totals.3
        ),
        "held: nothing lost, duplicated or mismatched",
    );
}

/// One run through 1 → 5 → 1 with crashes; (kills, mid-run kills,
/// restarts, comparisons).
fn crash_run(seed: u64) -> (usize, usize, usize, usize) {
    let (cluster, url) = Cluster::start();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let users: i64 = if full() { 20_000 } else { 3_000 };
    let kills_wanted = if full() { 20 } else { 6 };
    let mut rng = StdRng::seed_from_u64(seed);
    let recipe_path = std::env::temp_dir().join(format!("sy-crash-{}.toml", std::process::id()));
    std::fs::write(&recipe_path, RECIPE).expect("recipe file");
    let recipe_file = recipe_path.to_string_lossy().to_string();
    let recipe = Recipe::parse(RECIPE).expect("recipe");

    // A fresh database each run (the cluster's folder outlives the test).
    rt.block_on(async {
        let (server, _) = url.rsplit_once('/').expect("url with a database");
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{server}/postgres"))
            .await?;
        sqlx::query("DROP DATABASE IF EXISTS crash WITH (FORCE)")
            .execute(&admin)
            .await?;
        sqlx::query("CREATE DATABASE crash").execute(&admin).await?;
        Ok::<(), sqlx::Error>(())
    })
    .expect("fresh crash database");
    let pool = rt.block_on(reading_pool(&url, 4));
    rt.block_on(async {
        sqlx::query("CREATE SCHEMA cr").execute(&pool).await?;
        sqlx::query(
            "CREATE TABLE cr.users (id bigint PRIMARY KEY, prefs jsonb NOT NULL DEFAULT '{}'::jsonb)",
        )
        .execute(&pool)
        .await?;
        sqlx::query("CREATE INDEX users_prefs_gin ON cr.users USING gin (prefs)")
            .execute(&pool)
            .await?;
        for chunk in (0..users).collect::<Vec<_>>().chunks(1000) {
            let docs: Vec<serde_json::Value> = chunk.iter().map(|&id| doc(&mut rng, id)).collect();
            sqlx::query("INSERT INTO cr.users (id, prefs) SELECT * FROM unnest($1::bigint[], $2::jsonb[])")
                .bind(chunk)
                .bind(&docs)
                .execute(&pool)
                .await?;
        }
        Ok::<(), sqlx::Error>(())
    })
    .expect("seed");
    let original = rt.block_on(checksum(&pool)).expect("checksum");

    let ops: Vec<Op> = (1..=5)
        .map(Op::Run)
        .chain((1..=5).rev().map(Op::Rollback))
        .collect();
    // Kill points spread over all ten operations; Postgres restarts in two.
    let mut kills_at: Vec<usize> = (0..kills_wanted).map(|i| i % ops.len()).collect();
    kills_at.sort_unstable();
    let restarts_at = [1usize, 5];
    let (mut kills, mut hit, mut restarts) = (0, 0, 0);
    let mut checks = 0;
    for (i, &op) in ops.iter().enumerate() {
        for _ in kills_at.iter().filter(|&&k| k == i) {
            let since: i64 = rt.block_on(last_event(&pool));
            let mut child = cli(op, &recipe_file, &url).spawn().expect("spawn runner");
            // Strike once the runner is at work (its first event), after a
            // random delay: anywhere in the phase, not only at start-up.
            let polled = Instant::now();
            while polled.elapsed() < Duration::from_secs(10)
                && child.try_wait().ok().flatten().is_none()
                && rt.block_on(last_event(&pool)) == since
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            // About how long each operation works (DDL-only ones are short).
            let max = match op {
                Op::Run(2) => 800,
                Op::Run(4) | Op::Run(5) | Op::Rollback(5) => 250,
                _ => 12,
            };
            std::thread::sleep(Duration::from_millis(rng.random_range(0..max)));
            kills += 1;
            if child.try_wait().ok().flatten().is_none() {
                hit += 1;
            }
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        if restarts_at.contains(&i) {
            let mut child = cli(op, &recipe_file, &url).spawn().expect("spawn runner");
            std::thread::sleep(Duration::from_millis(rng.random_range(100..800)));
            cluster.crash_and_restart();
            restarts += 1;
            let _ = child.wait();
        }
        let done = || {
            let (phase, want) = match op {
                Op::Run(p) => (p, "done"),
                Op::Rollback(p) => (p, "rolled_back"),
            };
            rt.block_on(state_of(&pool, phase)).as_deref() == Some(want)
        };
        finish(op, &recipe_file, &url, done).unwrap_or_else(|e| panic!("{e}"));
        // Invariants after each operation.
        let outcome = rt.block_on(async {
            match op {
                Op::Run(2..=4) | Op::Rollback(5) => {
                    let docs = documents(&pool).await?;
                    compare(&pool, &recipe, &docs, &format!("after {op:?}")).await?;
                    Ok::<usize, String>(1)
                }
                Op::Rollback(1) | Op::Rollback(4) => {
                    let now = checksum(&pool).await?;
                    if now != original {
                        return Err(format!("after {op:?} the documents are not as they were"));
                    }
                    Ok(1)
                }
                _ => Ok(0),
            }
        });
        checks += outcome.unwrap_or_else(|e| panic!("{e}"));
    }
    let (leftovers, gin_restored): (i64, bool) = rt
        .block_on(
            sqlx::query_as(
                "SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'sy\\_%')
                      + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'sy\\_crash%')
                      + (SELECT count(*) FROM pg_tables WHERE schemaname = 'cr' AND tablename <> 'users'),
                        EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'cr' AND indexname = 'users_prefs_gin')",
            )
            .fetch_one(&pool),
        )
        .expect("leftovers");
    assert_eq!(leftovers, 0, "objects of ours left after the full rollback");
    assert!(gin_restored, "the column's GIN index was not restored");
    let _ = std::fs::remove_file(&recipe_path);
    drop(pool);
    drop(cluster);
    (kills, hit, restarts, checks)
}
