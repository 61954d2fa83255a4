//! `make bench`: every engine figure of issue 10, measured side by side in
//! one run on one server and printed with its target:
//! - phase 2 (the engine's batched, checkpointed backfill) against a plain
//!   extraction (one hand-written `INSERT ... SELECT` per target with `->>`
//!   and `jsonb_each`, no checks, into the same tables: what Postgres needs
//!   to move the data), target <= 1.5x;
//! - verification of every document against the backfill's time, <= 1x;
//! - the p99 of a concurrent single-row write load alone and during the
//!   backfill (throttle on, as by default), <= 2x, and the backfill's time
//!   with and without that load;
//! - during dual-write (phase 3): 100k-row UPDATEs of three shapes
//!   (another column, an unmapped key, a mapped field; each beside a
//!   hand-written trigger's, the floor) and a single-row update load, each
//!   against the same with triggers off (`session_replication_role =
//!   replica`), <= 2x;
//! - the scale curve (`SWITCHYARD_BENCH_SCALE`, default 100k,1M,5M users):
//!   phase 2's time and the peak memory of the process running it (the
//!   `switchyard` CLI, as a user would), time linear and memory flat.
//!
//! Needs DATABASE_URL (scripts/bench.sh provides one).
//! `SWITCHYARD_BENCH_PARTS` picks parts (comma-separated: `backfill` —
//! phase 2, verification and the write load —, `dual-write`, `scale`) for
//! trying a change; unset, everything runs.

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::engine::phases::{Outcome, RunControl};
use switchyard::engine::{Engine, EngineOptions, Phase, Recipe};

const RECIPE: &str = include_str!("../recipes/user_preferences.toml");

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set")?;
    let users: u64 = std::env::var("SWITCHYARD_BENCH_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await?;
    sqlx::query("DROP DATABASE IF EXISTS switchyard_bench WITH (FORCE)")
        .execute(&admin)
        .await?;
    sqlx::query("CREATE DATABASE switchyard_bench")
        .execute(&admin)
        .await?;
    let (server, _) = base
        .rsplit_once('/')
        .ok_or("DATABASE_URL without a database")?;
    let server = server.to_string();
    let server = server.as_str();
    let parts = std::env::var("SWITCHYARD_BENCH_PARTS").unwrap_or_default();
    let wanted = |part: &str| parts.is_empty() || parts.split(',').any(|p| p.trim() == part);
    if !wanted("backfill") && !wanted("dual-write") {
        if wanted("scale") {
            scale_curve(&admin, server).await?;
        }
        return Ok(());
    }
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(&format!("{server}/switchyard_bench"))
        .await?;
    switchyard::store::migrate(&pool).await?;
    let t = Instant::now();
    switchyard::store::seed::seed_demo(&pool, users).await?;
    sqlx::query("VACUUM ANALYZE public.users")
        .execute(&pool)
        .await?;
    println!("seeded {users} users in {:.1}s", t.elapsed().as_secs_f64());

    let recipe = Recipe::parse(&RECIPE.replace("soak_hours = 24.0", "soak_hours = 0.0"))
        .map_err(|errors| format!("recipe: {errors:?}"))?;
    let journal = std::sync::Arc::new(switchyard::store::journal::PgJournal::new(pool.clone()));
    let engine = Engine::new(
        pool.clone(),
        recipe.clone(),
        EngineOptions::default(),
        journal,
    );
    if !matches!(
        engine.apply(Phase::Expand, &RunControl::default()).await?,
        Outcome::Done
    ) {
        return Err("phase 1 did not finish".into());
    }

    if !wanted("backfill") {
        // Phase 3 needs phase 2 done: once, untimed.
        time_phase_2(&engine, &pool, None).await?;
        if wanted("dual-write") {
            dual_write(&engine, &pool, users).await?;
        }
        if wanted("scale") {
            drop(engine);
            drop(pool);
            scale_curve(&admin, server).await?;
        }
        return Ok(());
    }

    // Alternate the two so drift (caches, autovacuum) hits both alike.
    let mut baseline = Vec::new();
    let mut backfill = Vec::new();
    for round in 0..2 {
        if round % 2 == 0 {
            baseline.push(time_insert_select(&pool, &recipe).await?);
            backfill.push(time_phase_2(&engine, &pool, None).await?.0);
        } else {
            backfill.push(time_phase_2(&engine, &pool, None).await?.0);
            baseline.push(time_insert_select(&pool, &recipe).await?);
        }
    }
    let b = mean(&baseline);
    let p = mean(&backfill);
    println!(
        "plain extraction (INSERT ... SELECT per target, no checks): {b:.2}s ({:?})",
        baseline
    );
    println!(
        "phase 2 backfill (batched, checkpointed): {p:.2}s ({:?})",
        backfill
    );
    println!(
        "backfill / plain extraction = {:.3}  (target <= 1.5, issue 10)",
        p / b
    );
    println!("backfill throughput: {:.0} rows/s", users as f64 / p);

    // Verification of every document, against the backfill's time.
    let t = Instant::now();
    let report = engine.verify().await?;
    let verify = t.elapsed().as_secs_f64();
    println!(
        "verification of {} documents: {verify:.2}s ({} differences); verification / backfill = {:.3}  (target <= 1.0)",
        report.rows_compared,
        report.differences,
        verify / p
    );

    // Write latency: the same single-row update load alone, then during
    // phase 2 (the throttle on, as by default).
    let alone = write_load(&pool, users, Duration::from_secs(8), None).await?;
    let (loaded, during) = time_phase_2(&engine, &pool, Some(users)).await?;
    let during = during.ok_or("no latency sample")?;
    println!(
        "write p99 alone {:.2} ms, during backfill {:.2} ms: ratio {:.2}  (target <= 2.0)",
        alone * 1e3,
        during * 1e3,
        during / alone
    );
    println!(
        "backfill alone {p:.2}s, under that write load {loaded:.2}s (it yields to the application)"
    );

    dual_write(&engine, &pool, users).await?;
    drop(engine);
    drop(pool);
    sqlx::query("DROP DATABASE IF EXISTS switchyard_bench WITH (FORCE)")
        .execute(&admin)
        .await?;
    scale_curve(&admin, server).await?;
    Ok(())
}

/// Phase 3 on: application writes with the dual-write triggers against the
/// same writes with triggers off, in one run.
async fn dual_write(
    engine: &Engine,
    pool: &PgPool,
    users: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    if !matches!(
        engine
            .apply(Phase::DualWrite, &RunControl::default())
            .await?,
        Outcome::Done
    ) {
        return Err("phase 3 did not finish".into());
    }
    let rows = 100_000.min(users as i64);
    for write in TableWrite::ALL {
        let (w, wo) =
            alternate(|round, triggers| table_update(pool, write, rows, round, triggers)).await?;
        println!(
            "{rows}-row UPDATE, {}: triggers off {wo:.2}s, dual-write {w:.2}s: ratio {:.2}  (target <= 2.0)",
            write.describe(),
            w / wo
        );
        // The floor: the same UPDATE with a hand-written trigger for the
        // demo shape in place of the engine's (set-based upserts that skip
        // unchanged rows; no checks, quarantine or queues), measured beside
        // the same UPDATE with triggers off.
        let (hw, hwo) = alternate(|round, hand| async move {
            if hand {
                hand_written_update(pool, write, rows, round).await
            } else {
                table_update(pool, write, rows, round, false).await
            }
        })
        .await?;
        println!(
            "  the same with a hand-written trigger for the demo shape instead: {hw:.2}s against {hwo:.2}s: ratio {:.2}  (the floor)",
            hw / hwo
        );
    }
    let (w, wo) = alternate(|_, triggers| single_row_load(pool, users, 3_000, triggers)).await?;
    println!(
        "single-row updates (pgbench-style, one client): triggers off {:.3} ms, dual-write {:.3} ms each: ratio {:.2}  (target <= 2.0)",
        wo * 1e3,
        w * 1e3,
        w / wo
    );
    Ok(())
}

/// Two rounds of `measure(round, triggers)` with the triggers on and off,
/// in alternating order so drift hits both alike; the means (on, off).
async fn alternate<F, Fut>(mut measure: F) -> Result<(f64, f64), sqlx::Error>
where
    F: FnMut(usize, bool) -> Fut,
    Fut: std::future::Future<Output = Result<f64, sqlx::Error>>,
{
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for round in 0..2 {
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for triggers in order {
            let took = measure(round, triggers).await?;
            if triggers {
                on.push(took)
            } else {
                off.push(took)
            }
        }
    }
    Ok((mean(&on), mean(&off)))
}

/// A connection with the triggers on or off (`session_replication_role`).
async fn session(
    pool: &PgPool,
    triggers: bool,
) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let role = if triggers { "origin" } else { "replica" };
    sqlx::query(&format!("SET session_replication_role = {role}"))
        .execute(&mut *conn)
        .await?;
    Ok(conn)
}

/// The measured table-wide UPDATEs: `$1` rows of `public.users`, each
/// round a different `$2`. The shapes a dual-write meets: a column beside
/// the document (the document is unchanged), a key the recipe does not map
/// (the document changes, its targets do not), and a mapped field (every
/// target row must be rewritten too, so no trigger can come near 1x).
#[derive(Clone, Copy)]
enum TableWrite {
    OtherColumn,
    UnmappedKey,
    MappedField,
}

impl TableWrite {
    const ALL: [TableWrite; 3] = [
        TableWrite::OtherColumn,
        TableWrite::UnmappedKey,
        TableWrite::MappedField,
    ];

    fn describe(self) -> &'static str {
        match self {
            TableWrite::OtherColumn => "another column (documents unchanged)",
            TableWrite::UnmappedKey => "a key the recipe does not map added to each document",
            TableWrite::MappedField => "a mapped field (language) changed in each document",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            TableWrite::OtherColumn => {
                "UPDATE public.users SET email = $2 || '.' || email
                 WHERE id > 200000 AND id <= 200000 + $1"
            }
            TableWrite::UnmappedKey => {
                "UPDATE public.users SET preferences = preferences || jsonb_build_object('beta_cohort', $2::text)
                 WHERE id > 200000 AND id <= 200000 + $1 AND jsonb_typeof(preferences) = 'object'"
            }
            TableWrite::MappedField => {
                "UPDATE public.users SET preferences = jsonb_set(preferences, '{language}', to_jsonb($2::text))
                 WHERE id > 200000 AND id <= 200000 + $1 AND jsonb_typeof(preferences) = 'object'"
            }
        }
    }
}

/// One UPDATE of `rows` documents (a different language each round),
/// rolled back; its duration.
async fn table_update(
    pool: &PgPool,
    write: TableWrite,
    rows: i64,
    round: usize,
    triggers: bool,
) -> Result<f64, sqlx::Error> {
    let mut conn = session(pool, triggers).await?;
    let took = timed_update(&mut conn, write, rows, round, &[]).await?;
    sqlx::query("SET session_replication_role = origin")
        .execute(&mut *conn)
        .await?;
    Ok(took)
}

/// A hand-written dual-write for the demo recipe's shape, as a careful
/// engineer would write it for this one table: old and new documents
/// paired, and only the table whose part changed is written, by set-based
/// upserts that skip unchanged rows (no checks, quarantine or queues; rows
/// the target tables' CHECKs refuse are left out, which the engine
/// quarantines instead).
const HAND_WRITTEN_TRIGGER: [&str; 3] = [
    "CREATE FUNCTION pg_temp.hand_dual_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH ch AS MATERIALIZED (
    SELECT n.id, n.preferences AS d,
           (o.preferences -> 'theme', o.preferences -> 'language', o.preferences -> 'timezone')
             IS DISTINCT FROM (n.preferences -> 'theme', n.preferences -> 'language', n.preferences -> 'timezone') AS w0,
           (o.preferences -> 'notifications') IS DISTINCT FROM (n.preferences -> 'notifications') AS w1
    FROM sy_new n JOIN sy_old o ON o.id = n.id
    WHERE jsonb_typeof(n.preferences) = 'object' AND o.preferences IS DISTINCT FROM n.preferences
  ), t0 AS (
    INSERT INTO public.user_preferences AS t (user_id, theme, language, timezone)
    SELECT ch.id, coalesce(ch.d ->> 'theme', 'system'), coalesce(ch.d ->> 'language', 'en'), coalesce(ch.d ->> 'timezone', 'UTC')
    FROM ch WHERE ch.w0 AND coalesce(ch.d ->> 'theme', 'system') IN ('light', 'dark', 'system')
    ON CONFLICT (user_id) DO UPDATE SET theme = EXCLUDED.theme, language = EXCLUDED.language, timezone = EXCLUDED.timezone
    WHERE (t.theme, t.language, t.timezone) IS DISTINCT FROM (EXCLUDED.theme, EXCLUDED.language, EXCLUDED.timezone)
  ), t1 AS (
    INSERT INTO public.notification_preferences AS t (user_id, channel, enabled, frequency)
    SELECT ch.id, e.key, coalesce((e.value ->> 'enabled')::boolean, true), coalesce(e.value ->> 'frequency', 'daily')
    FROM ch CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(ch.d -> 'notifications') = 'object'
                                               THEN ch.d -> 'notifications' ELSE '{}' END) AS e
    WHERE ch.w1 AND e.key IN ('email', 'push', 'sms') AND jsonb_typeof(e.value) = 'object'
      AND coalesce(jsonb_typeof(e.value -> 'enabled'), 'boolean') = 'boolean'
      AND coalesce(e.value ->> 'frequency', 'daily') IN ('instant', 'daily', 'weekly', 'never')
    ON CONFLICT (user_id, channel) DO UPDATE SET enabled = EXCLUDED.enabled, frequency = EXCLUDED.frequency
    WHERE (t.enabled, t.frequency) IS DISTINCT FROM (EXCLUDED.enabled, EXCLUDED.frequency)
  )
  DELETE FROM public.notification_preferences t USING ch
  WHERE ch.w1 AND t.user_id = ch.id AND NOT coalesce(ch.d -> 'notifications' ? t.channel, false);
  RETURN NULL;
END $$",
    "ALTER TABLE public.users DISABLE TRIGGER USER",
    "CREATE TRIGGER hand_dual_write AFTER UPDATE ON public.users REFERENCING OLD TABLE AS sy_old NEW TABLE AS sy_new
     FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.hand_dual_write()",
];

/// `table_update` with `HAND_WRITTEN_TRIGGER` in place of the engine's
/// triggers (installed in the transaction, so rolled back with it).
async fn hand_written_update(
    pool: &PgPool,
    write: TableWrite,
    rows: i64,
    round: usize,
) -> Result<f64, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    timed_update(&mut conn, write, rows, round, &HAND_WRITTEN_TRIGGER).await
}

/// In one transaction, rolled back: `setup`, then `write` of `rows` rows
/// (a different value each round), timed alone.
async fn timed_update(
    conn: &mut sqlx::PgConnection,
    write: TableWrite,
    rows: i64,
    round: usize,
    setup: &[&str],
) -> Result<f64, sqlx::Error> {
    let language = ["fr", "de", "es", "ja"][round % 4];
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    for sql in setup {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    let t = Instant::now();
    sqlx::query(write.sql())
        .bind(rows)
        .bind(language)
        .execute(&mut *tx)
        .await?;
    let took = t.elapsed().as_secs_f64();
    tx.rollback().await?;
    Ok(took)
}

/// `n` single-row document updates, each its own transaction; the mean
/// latency in seconds.
async fn single_row_load(
    pool: &PgPool,
    users: u64,
    n: u64,
    triggers: bool,
) -> Result<f64, sqlx::Error> {
    let mut conn = session(pool, triggers).await?;
    let t = Instant::now();
    for i in 0..n {
        let id = 1 + (i * 7919 + if triggers { 0 } else { 13 }) % users;
        sqlx::query(
            "UPDATE public.users SET preferences = jsonb_set(preferences, '{timezone}', to_jsonb(($2)::text))
             WHERE id = $1 AND jsonb_typeof(preferences) = 'object'",
        )
        .bind(id as i64)
        .bind(["UTC", "Asia/Tokyo", "Europe/Berlin"][(i % 3) as usize])
        .execute(&mut *conn)
        .await?;
    }
    let took = t.elapsed().as_secs_f64() / n as f64;
    sqlx::query("SET session_replication_role = origin")
        .execute(&mut *conn)
        .await?;
    Ok(took)
}

/// Phase 2 at each size of `SWITCHYARD_BENCH_SCALE` (default 100k, 1M and
/// 5M users), run by the `switchyard` CLI in a process of its own: its
/// time, rows/s and peak resident memory (VmHWM).
async fn scale_curve(admin: &PgPool, server: &str) -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<u64> = std::env::var("SWITCHYARD_BENCH_SCALE")
        .unwrap_or_else(|_| "100000,1000000,5000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let bin =
        std::env::var("SWITCHYARD_BIN").unwrap_or_else(|_| "target/release/switchyard".into());
    let recipe = concat!(env!("CARGO_MANIFEST_DIR"), "/recipes/user_preferences.toml");
    println!("scale curve (phase 2 by the CLI, {bin}):");
    for users in sizes {
        sqlx::query("DROP DATABASE IF EXISTS switchyard_bench_scale WITH (FORCE)")
            .execute(admin)
            .await?;
        sqlx::query("CREATE DATABASE switchyard_bench_scale")
            .execute(admin)
            .await?;
        let url = format!("{server}/switchyard_bench_scale");
        {
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .connect(&url)
                .await?;
            switchyard::store::migrate(&pool).await?;
            switchyard::store::seed::seed_demo(&pool, users).await?;
            sqlx::query("VACUUM ANALYZE public.users")
                .execute(&pool)
                .await?;
        }
        let status = std::process::Command::new(&bin)
            .args(["phase", "run", "1", recipe])
            .env("DATABASE_URL", &url)
            .stderr(std::process::Stdio::null())
            .status()?;
        if !status.success() {
            return Err(format!("phase 1 at {users} users failed").into());
        }
        let t = Instant::now();
        let mut child = std::process::Command::new(&bin)
            .args(["phase", "run", "2", recipe])
            .env("DATABASE_URL", &url)
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut peak_kb = 0u64;
        let status = loop {
            if let Some(kb) = peak_rss_kb(child.id()) {
                peak_kb = peak_kb.max(kb);
            }
            if let Some(status) = child.try_wait()? {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let took = t.elapsed().as_secs_f64();
        if !status.success() {
            return Err(format!("phase 2 at {users} users failed").into());
        }
        println!(
            "  {users:>9} users: {took:>7.1}s  {:>8.0} rows/s  peak memory {:.1} MB",
            users as f64 / took,
            peak_kb as f64 / 1024.0
        );
    }
    sqlx::query("DROP DATABASE IF EXISTS switchyard_bench_scale WITH (FORCE)")
        .execute(admin)
        .await?;
    Ok(())
}

/// The process's peak resident set so far (Linux `/proc`), in KiB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

async fn reset_targets(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query("TRUNCATE public.user_preferences, public.notification_preferences")
        .execute(pool)
        .await?;
    for table in ["quarantine", "unmapped_keys", "backfill_progress"] {
        sqlx::query(&format!("DELETE FROM switchyard.{table}"))
            .execute(pool)
            .await?;
    }
    sqlx::query("CHECKPOINT").execute(pool).await?;
    Ok(())
}

/// The floor: the demo's data moved by hand-written extraction, guarded only
/// as far as the target tables' constraints require.
const PLAIN_EXTRACTION: [&str; 2] = [
    "INSERT INTO public.user_preferences (user_id, theme, language, timezone)
     SELECT id, coalesce(preferences->>'theme', 'system'), coalesce(preferences->>'language', 'en'),
            coalesce(preferences->>'timezone', 'UTC')
     FROM public.users
     WHERE jsonb_typeof(preferences) = 'object'
       AND coalesce(preferences->>'theme', 'system') IN ('light', 'dark', 'system')",
    "INSERT INTO public.notification_preferences (user_id, channel, enabled, frequency)
     SELECT u.id, e.key, coalesce((e.value->>'enabled')::boolean, true), coalesce(e.value->>'frequency', 'daily')
     FROM public.users u
     CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(u.preferences->'notifications') = 'object'
                                        THEN u.preferences->'notifications' ELSE '{}' END) AS e
     WHERE jsonb_typeof(e.value) = 'object' AND e.key IN ('email', 'push', 'sms')
       AND coalesce(e.value->>'enabled', 'true') IN ('true', 'false')
       AND coalesce(e.value->>'frequency', 'daily') IN ('instant', 'daily', 'weekly', 'never')",
];

async fn time_insert_select(pool: &PgPool, _recipe: &Recipe) -> Result<f64, sqlx::Error> {
    reset_targets(pool).await?;
    let t = Instant::now();
    let mut tx = pool.begin().await?;
    for statement in PLAIN_EXTRACTION {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(t.elapsed().as_secs_f64())
}

/// Runs phase 2 (rolled back first); with `load`, a write load runs alongside
/// and its p99 is returned.
async fn time_phase_2(
    engine: &Engine,
    pool: &PgPool,
    load: Option<u64>,
) -> Result<(f64, Option<f64>), Box<dyn std::error::Error>> {
    let backfill = engine.status().await?.phases[Phase::Backfill.index()].state;
    if backfill != switchyard::model::PhaseState::Pending {
        engine.rollback(Phase::Backfill).await?;
    }
    reset_targets(pool).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = load.map(|users| {
        let pool = pool.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            write_load(&pool, users, Duration::from_secs(3600), Some(stop)).await
        })
    });
    let t = Instant::now();
    let outcome = engine
        .apply(Phase::Backfill, &RunControl::default())
        .await?;
    let elapsed = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    if outcome != Outcome::Done {
        return Err("phase 2 did not finish".into());
    }
    let p99 = match writer {
        Some(w) => Some(w.await??),
        None => None,
    };
    Ok((elapsed, p99))
}

/// Single-row updates of the JSONB column as fast as one client can go;
/// returns the p99 latency in seconds.
async fn write_load(
    pool: &PgPool,
    users: u64,
    duration: Duration,
    stop: Option<Arc<AtomicBool>>,
) -> Result<f64, sqlx::Error> {
    let mut samples = Vec::new();
    let start = Instant::now();
    let mut i: u64 = 0;
    while start.elapsed() < duration && !stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
        i += 1;
        let id = 1 + (i * 7919) % users;
        let t = Instant::now();
        sqlx::query(
            "UPDATE public.users SET preferences = jsonb_set(preferences, '{language}', to_jsonb('en'::text))
             WHERE id = $1 AND jsonb_typeof(preferences) = 'object'",
        )
        .bind(id as i64)
        .execute(pool)
        .await?;
        samples.push(t.elapsed().as_secs_f64());
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    let idx = ((samples.len() as f64) * 0.99) as usize;
    Ok(samples
        .get(idx.min(samples.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0))
}
