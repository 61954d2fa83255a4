//! `make bench`: phase 2 (the engine's batched, checkpointed backfill) against
//! a plain extraction (one hand-written `INSERT ... SELECT` per target with
//! `->>` and `jsonb_each`, no checks: what Postgres needs to move the data),
//! on the same server, in one run, printed as a ratio; and the p99 latency of a
//! concurrent single-row write load with and without the backfill running
//! (target <= 2x). Needs DATABASE_URL (scripts/bench.sh provides one).

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

    // Write latency: the same single-row update load alone, then during phase 2.
    let alone = write_load(&pool, users, Duration::from_secs(8), None).await?;
    let (_, during) = time_phase_2(&engine, &pool, Some(users)).await?;
    let during = during.ok_or("no latency sample")?;
    println!(
        "write p99 alone {:.2} ms, during backfill {:.2} ms: ratio {:.2}  (target <= 2.0)",
        alone * 1e3,
        during * 1e3,
        during / alone
    );
    drop(pool);
    sqlx::query("DROP DATABASE IF EXISTS switchyard_bench WITH (FORCE)")
        .execute(&admin)
        .await?;
    Ok(())
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
