//! The migration engine against a real Postgres (a fresh database per test).

use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchyard::engine::phases::{Outcome, RunControl};
use switchyard::engine::state::RunnerLock;
use switchyard::engine::{Engine, EngineError, Phase, Recipe};

const DEMO_RECIPE: &str = include_str!("../../recipes/user_preferences.toml");
const ORDERS: &str = include_str!("../../recipes/order_metadata.toml");

fn demo_recipe() -> Recipe {
    Recipe::parse(&DEMO_RECIPE.replace("soak_hours = 24.0", "soak_hours = 0.0"))
        .expect("demo recipe")
}

fn engine(pool: &PgPool, recipe: Recipe) -> Engine {
    crate::engine_with(pool, recipe, "test", 200, 100, None)
}

fn accept_all() -> RunControl {
    RunControl {
        accept_quarantine: true,
        ..RunControl::default()
    }
}

async fn checksum(pool: &PgPool, table: &str, key: &str) -> String {
    sqlx::query_scalar(&format!(
        "SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY {key}), '')) FROM {table} t"
    ))
    .fetch_one(pool)
    .await
    .expect("checksum")
}

async fn leftovers(pool: &PgPool) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_proc WHERE proname LIKE 'sy\\_%'),
                (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'sy\\_%'),
                (SELECT count(*) FROM pg_tables WHERE tablename IN
                    ('user_preferences', 'notification_preferences', 'order_details', 'order_lines')
                    OR tablename LIKE 'sy\\_%')",
    )
    .fetch_one(pool)
    .await
    .expect("leftovers")
}

async fn run(e: &Engine, phase: Phase) {
    let outcome = e.apply(phase, &accept_all()).await;
    assert!(
        matches!(outcome, Ok(Outcome::Done)),
        "phase {phase}: {outcome:?}"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn full_run_then_full_rollback_restores_the_source_exactly(pool: PgPool) {
    crate::seeded(&pool, 3_000).await;
    let before = checksum(&pool, "public.users", "id").await;
    let e = engine(&pool, demo_recipe());

    run(&e, Phase::Expand).await;
    run(&e, Phase::Backfill).await;
    let report = e.verify().await.expect("verify");
    assert_eq!(report.rows_compared, 3_000);
    assert_eq!(report.differences, 0, "{:?}", report.first_differences);
    assert_eq!(
        report.quarantined, 18,
        "wrong types, bad values, nulls: 3 of 5 kinds of 1%"
    );
    run(&e, Phase::DualWrite).await;
    run(&e, Phase::SwitchReads).await;

    // Phase 4: a write to the new tables flows back into the document.
    let original_theme: String =
        sqlx::query_scalar("SELECT theme FROM public.user_preferences WHERE user_id = 2")
            .fetch_one(&pool)
            .await
            .expect("theme");
    let original_doc: serde_json::Value =
        sqlx::query_scalar("SELECT preferences FROM public.users WHERE id = 3")
            .fetch_one(&pool)
            .await
            .expect("doc");
    sqlx::query("UPDATE public.user_preferences SET theme = 'light' WHERE user_id = 2")
        .execute(&pool)
        .await
        .expect("write target");
    let theme: String =
        sqlx::query_scalar("SELECT preferences->>'theme' FROM public.users WHERE id = 2")
            .fetch_one(&pool)
            .await
            .expect("read back");
    assert_eq!(theme, "light");
    sqlx::query("UPDATE public.user_preferences SET theme = $1 WHERE user_id = 2")
        .bind(&original_theme)
        .execute(&pool)
        .await
        .expect("write target back");
    // ...and a document write still reaches the targets.
    sqlx::query(
        "UPDATE public.users SET preferences = jsonb_set(preferences, '{notifications,email,frequency}', '\"weekly\"') WHERE id = 3",
    )
    .execute(&pool)
    .await
    .expect("write source");
    let freq: String = sqlx::query_scalar(
        "SELECT frequency FROM public.notification_preferences WHERE user_id = 3 AND channel = 'email'",
    )
    .fetch_one(&pool)
    .await
    .expect("read target");
    assert_eq!(freq, "weekly");
    sqlx::query("UPDATE public.users SET preferences = $1 WHERE id = 3")
        .bind(&original_doc)
        .execute(&pool)
        .await
        .expect("restore source");

    let flag: String = sqlx::query_scalar(
        "SELECT reads_from FROM switchyard.read_flags WHERE migration_name = 'user-preferences'",
    )
    .fetch_one(&pool)
    .await
    .expect("flag");
    assert_eq!(flag, "targets");
    run(&e, Phase::Contract).await;
    let column_left: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'preferences')",
    )
    .fetch_one(&pool)
    .await
    .expect("column");
    assert!(!column_left, "phase 5 drops the column");

    // A write made after the contract is not lost by rolling it back.
    sqlx::query("UPDATE public.user_preferences SET language = 'nl' WHERE user_id = 4")
        .execute(&pool)
        .await
        .expect("post-contract write");
    e.rollback(Phase::Contract).await.expect("rollback 5");
    let language: String =
        sqlx::query_scalar("SELECT preferences->>'language' FROM public.users WHERE id = 4")
            .fetch_one(&pool)
            .await
            .expect("restored doc");
    assert_eq!(
        language, "nl",
        "the post-contract write reached the restored document"
    );
    let original_language: String =
        sqlx::query_scalar("SELECT (ARRAY['en','de','fr','es','ja','pt-BR'])[1 + 4 % 6]")
            .fetch_one(&pool)
            .await
            .expect("seeded language");
    sqlx::query("UPDATE public.user_preferences SET language = $1 WHERE user_id = 4")
        .bind(&original_language)
        .execute(&pool)
        .await
        .expect("undo");
    for phase in Phase::ALL[..4].iter().copied().rev() {
        e.rollback(phase)
            .await
            .unwrap_or_else(|err| panic!("rollback {phase}: {err}"));
    }
    let after = checksum(&pool, "public.users", "id").await;
    assert_eq!(before, after, "the source table is exactly as it was");
    assert_eq!(
        leftovers(&pool).await,
        (0, 0, 0),
        "no leftover functions, triggers or tables"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn phases_run_in_order_and_roll_back_in_reverse(pool: PgPool) {
    crate::seeded(&pool, 100).await;
    let e = engine(&pool, demo_recipe());
    let err = e
        .apply(Phase::Backfill, &accept_all())
        .await
        .expect_err("phase 2 before 1");
    assert!(
        matches!(err, EngineError::Refused(ref m) if m.contains("phase 1")),
        "{err}"
    );
    run(&e, Phase::Expand).await;
    let err = e
        .apply(Phase::Expand, &accept_all())
        .await
        .expect_err("phase 1 twice");
    assert!(matches!(err, EngineError::Refused(_)), "{err}");
    run(&e, Phase::Backfill).await;
    let err = e
        .rollback(Phase::Expand)
        .await
        .expect_err("rollback 1 before 2");
    assert!(
        matches!(err, EngineError::Refused(ref m) if m.contains("phase 2 first")),
        "{err}"
    );
    let err = e
        .rollback(Phase::DualWrite)
        .await
        .expect_err("rollback of a phase that never ran");
    assert!(matches!(err, EngineError::Refused(_)), "{err}");
    // There is no phase 9: the type says so before any engine is asked.
    assert!(Phase::from_number(9).is_err());
    assert!("9".parse::<Phase>().is_err());
}

#[sqlx::test(migrations = "./migrations")]
async fn phase_4_refuses_quarantine_unless_accepted_and_records_it(pool: PgPool) {
    crate::seeded(&pool, 1_000).await;
    let e = engine(&pool, demo_recipe());
    for p in Phase::ALL[..3].iter().copied() {
        run(&e, p).await;
    }
    let err = e
        .apply(Phase::SwitchReads, &RunControl::default())
        .await
        .expect_err("gate");
    assert!(
        matches!(err, EngineError::Refused(ref m) if m.contains("quarantine")),
        "{err}"
    );
    run(&e, Phase::SwitchReads).await;
    let accepted: i64 = sqlx::query_scalar("SELECT count(*) FROM switchyard.acceptances")
        .fetch_one(&pool)
        .await
        .expect("acceptances");
    assert_eq!(accepted, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn soak_time_blocks_phase_5(pool: PgPool) {
    crate::seeded(&pool, 100).await;
    let e = engine(&pool, Recipe::parse(DEMO_RECIPE).expect("24h soak"));
    for p in Phase::ALL[..4].iter().copied() {
        run(&e, p).await;
    }
    let err = e
        .apply(Phase::Contract, &accept_all())
        .await
        .expect_err("soak");
    assert!(
        matches!(err, EngineError::Refused(ref m) if m.contains("soak")),
        "{err}"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn quarantine_holds_each_bad_document_with_its_reason(pool: PgPool) {
    crate::seeded(&pool, 1_000).await;
    let e = engine(&pool, demo_recipe());
    run(&e, Phase::Expand).await;
    run(&e, Phase::Backfill).await;
    let reasons: Vec<(String, String)> = sqlx::query_as(
        "SELECT source_key, reason FROM switchyard.quarantine ORDER BY source_key::bigint",
    )
    .fetch_all(&pool)
    .await
    .expect("quarantine");
    let reason_of = |key: &str| {
        reasons
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r.clone())
            .unwrap_or_default()
    };
    // Seed: g % 100 == 0 is messy; kind (g / 100) % 5. 100 → wrong types,
    // 300 → values outside the set, 400 → JSON null, 900 → SQL NULL.
    assert_eq!(reason_of("100"), "theme: expected string, got number");
    assert_eq!(reason_of("300"), "theme: value purple is not allowed");
    assert_eq!(reason_of("400"), "document is null, expected an object");
    assert_eq!(reason_of("900"), "document is SQL NULL");
    // 200 (unknown keys) and 500 (missing keys) are mapped, not quarantined.
    assert_eq!(reason_of("200"), "");
    assert_eq!(reason_of("500"), "");
    let status = e.status().await.expect("status");
    let font = status
        .unmapped_keys
        .iter()
        .find(|k| k.key_path == "font_size")
        .expect("font_size is reported as mapped nowhere");
    assert_eq!(font.documents, 2);
    // A missing key took the recipe's default.
    let tz: String =
        sqlx::query_scalar("SELECT timezone FROM public.user_preferences WHERE user_id = 500")
            .fetch_one(&pool)
            .await
            .expect("defaulted row");
    assert_eq!(tz, "UTC");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_second_runner_gets_busy(pool: PgPool) {
    crate::seeded(&pool, 100).await;
    let e = engine(&pool, demo_recipe());
    let held = RunnerLock::acquire(&pool, &demo_recipe(), &*crate::journal(&pool))
        .await
        .expect("first runner");
    let err = e
        .apply(Phase::Expand, &accept_all())
        .await
        .expect_err("second runner");
    assert!(matches!(err, EngineError::Busy(_)), "{err}");
    // (Dropping it would release the lock only once Postgres ends its
    // session, a moment later.)
    held.release().await;
    run(&e, Phase::Expand).await;
}

#[sqlx::test(migrations = "./migrations")]
async fn ddl_waits_out_a_lock_without_blocking_other_queries(pool: PgPool) {
    crate::seeded(&pool, 200).await;
    // A transaction holding a row lock on the source (RowExclusiveLock), as
    // a long application transaction would: CREATE TRIGGER must wait for it.
    let mut blocker = pool.begin().await.expect("blocker");
    sqlx::query("UPDATE public.users SET email = email WHERE id = 1")
        .execute(&mut *blocker)
        .await
        .expect("lock");
    let e = engine(&pool, demo_recipe());
    let started = Instant::now();
    let phase = tokio::spawn(async move { e.apply(Phase::Expand, &accept_all()).await });

    // Meanwhile the application keeps working: reads and writes on the table
    // complete, each well under the statement timeout.
    let mut done = 0;
    while started.elapsed() < Duration::from_millis(1_500) {
        let mut conn = pool.acquire().await.expect("conn");
        sqlx::query("SET statement_timeout = '1s'")
            .execute(&mut *conn)
            .await
            .expect("timeout");
        sqlx::query("SELECT count(*) FROM public.users")
            .execute(&mut *conn)
            .await
            .expect("read completes");
        sqlx::query("UPDATE public.users SET email = email WHERE id = 2")
            .execute(&mut *conn)
            .await
            .expect("write completes");
        sqlx::query("RESET statement_timeout")
            .execute(&mut *conn)
            .await
            .expect("reset");
        done += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !phase.is_finished(),
        "the DDL cannot have finished while the lock is held"
    );
    blocker.commit().await.expect("release");
    let result = phase.await.expect("join");
    assert!(matches!(result, Ok(Outcome::Done)), "{result:?}");
    assert!(
        done >= 5,
        "only {done} rounds of application queries completed"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn concurrent_writes_through_phases_1_to_4_end_with_zero_differences(pool: PgPool) {
    crate::seeded(&pool, 5_000).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let pool = pool.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut i: i64 = 0;
            let mut writes = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let id = 1 + (i * 7919) % 5_000;
                let result = match i % 4 {
                    0 => sqlx::query(
                        "INSERT INTO public.users (email, preferences) VALUES ($1,
                           jsonb_build_object('theme', 'dark', 'language', 'fr',
                             'notifications', jsonb_build_object('push', jsonb_build_object('enabled', true, 'frequency', 'weekly'))))",
                    )
                    .bind(format!("new{i}@example.com"))
                    .execute(&pool)
                    .await,
                    1 => sqlx::query(
                        "UPDATE public.users SET preferences = jsonb_set(CASE WHEN jsonb_typeof(preferences) = 'object' THEN preferences ELSE '{}' END, '{theme}', to_jsonb((ARRAY['light','dark','system'])[1 + $2 % 3])) WHERE id = $1",
                    )
                    .bind(id)
                    .bind(i)
                    .execute(&pool)
                    .await,
                    2 => sqlx::query(
                        "UPDATE public.users SET preferences = preferences - 'notifications' WHERE id = $1",
                    )
                    .bind(id)
                    .execute(&pool)
                    .await,
                    _ => sqlx::query("DELETE FROM public.users WHERE id = $1")
                        .bind(id + 1)
                        .execute(&pool)
                        .await,
                };
                result.expect("application write");
                writes += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            writes
        })
    };
    let mut recipe = demo_recipe();
    recipe.initial_batch_size = 300; // many batches, many interleavings
    let e = engine(&pool, recipe);
    for p in Phase::ALL[..3].iter().copied() {
        run(&e, p).await;
    }
    // Writes continue after dual-write is on, then stop before the gate.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let writes = writer.await.expect("writer");
    assert!(writes > 50, "only {writes} concurrent writes");
    run(&e, Phase::SwitchReads).await;
    let report = e.verify().await.expect("verify");
    assert_eq!(report.differences, 0, "{:?}", report.first_differences);
}

#[sqlx::test(migrations = "./migrations")]
async fn uuid_keys_nested_paths_numeric_and_timestamps(pool: PgPool) {
    sqlx::query("CREATE TABLE public.orders (order_id uuid PRIMARY KEY, meta jsonb)")
        .execute(&pool)
        .await
        .expect("orders");
    sqlx::query(
        r#"INSERT INTO public.orders VALUES
        ('00000000-0000-4000-8000-000000000001', '{"billing": {"total": 12.50, "currency": "USD"}, "timeline": {"placed_at": "2026-01-02T03:04:05Z"}, "stats": {"items": 3},
           "lines": {"SKU-1": {"qty": 2, "price": {"amount": 5.25}}, "SKU-2": {"qty": 1}}}'),
        ('00000000-0000-4000-8000-000000000002', '{"billing": {"total": 7}, "timeline": {"placed_at": "2026-02-30T00:00:00Z"}}'),
        ('00000000-0000-4000-8000-000000000003', '{"timeline": {"placed_at": "2026-03-01"}}'),
        ('00000000-0000-4000-8000-000000000004', '{"billing": {"total": 1}, "timeline": {"placed_at": "2026-03-01"}, "lines": {"X": {"qty": 1.5}}}')"#,
    )
    .execute(&pool)
    .await
    .expect("rows");
    let before = checksum(&pool, "public.orders", "order_id").await;
    let e = engine(&pool, Recipe::parse(ORDERS).expect("orders recipe"));
    run(&e, Phase::Expand).await;
    run(&e, Phase::Backfill).await;
    run(&e, Phase::DualWrite).await;

    let (total, currency, placed, items): (String, String, chrono::DateTime<chrono::Utc>, i32) =
        sqlx::query_as(
            "SELECT total::text, currency, placed_at, item_count FROM public.order_details",
        )
        .fetch_one(&pool)
        .await
        .expect("one valid order");
    assert_eq!(total, "12.50");
    assert_eq!(currency, "USD");
    assert_eq!(placed.to_rfc3339(), "2026-01-02T03:04:05+00:00");
    assert_eq!(items, 3);
    let lines: Vec<(String, i32, String)> = sqlx::query_as(
        "SELECT sku, quantity, unit_price::text FROM public.order_lines ORDER BY sku",
    )
    .fetch_all(&pool)
    .await
    .expect("lines");
    assert_eq!(
        lines,
        vec![
            ("SKU-1".into(), 2, "5.25".into()),
            ("SKU-2".into(), 1, "0".into())
        ]
    );
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT reason FROM switchyard.quarantine ORDER BY source_key")
            .fetch_all(&pool)
            .await
            .expect("quarantine");
    assert_eq!(
        reasons,
        vec![
            "timeline.placed_at: not a valid timestamptz: 2026-02-30T00:00:00Z".to_string(),
            "billing.total: required key is missing".to_string(),
            "lines.X.qty: not a valid integer: 1.5".to_string(),
        ]
    );
    assert_eq!(e.verify().await.expect("verify").differences, 0);
    for phase in Phase::ALL[..3].iter().copied().rev() {
        e.rollback(phase).await.expect("rollback");
    }
    assert_eq!(before, checksum(&pool, "public.orders", "order_id").await);
    assert_eq!(leftovers(&pool).await, (0, 0, 0));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_killed_backfill_resumes_from_its_checkpoint(pool: PgPool) {
    crate::seeded(&pool, 30_000).await;
    // The CLI process gets the URL of this test's own database.
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&pool)
        .await
        .expect("db");
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{db}"),
        None => panic!("DATABASE_URL without a database: {base}"),
    };
    let dir = std::env::temp_dir().join(format!("sy-kill-{db}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let recipe_path = dir.join("recipe.toml");
    std::fs::write(
        &recipe_path,
        DEMO_RECIPE
            .replace("target_batch_ms = 200", "target_batch_ms = 10")
            .replace("initial_batch_size = 2000", "initial_batch_size = 200"),
    )
    .expect("recipe");
    let bin = env!("CARGO_BIN_EXE_switchyard");
    let status = std::process::Command::new(bin)
        .args(["phase", "run", "1"])
        .arg(&recipe_path)
        .env("DATABASE_URL", &url)
        .status()
        .expect("phase 1");
    assert!(status.success());
    let mut child = std::process::Command::new(bin)
        .args(["phase", "run", "2"])
        .arg(&recipe_path)
        .env("DATABASE_URL", &url)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("phase 2");
    // Kill -9 once a few checkpoints are committed.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done: Option<i64> = sqlx::query_scalar(
            "SELECT rows_done FROM switchyard.backfill_progress WHERE migration_name = 'user-preferences'",
        )
        .fetch_optional(&pool)
        .await
        .expect("progress");
        if done.unwrap_or(0) >= 2_000 {
            break;
        }
        assert!(Instant::now() < deadline, "backfill made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    let (done_at_kill, total): (i64, i64) = sqlx::query_as(
        "SELECT rows_done, rows_total FROM switchyard.backfill_progress WHERE migration_name = 'user-preferences'",
    )
    .fetch_one(&pool)
    .await
    .expect("progress");
    assert!(
        done_at_kill < total,
        "killed before the end ({done_at_kill}/{total})"
    );

    // The runner lock dies with the process's session (as soon as the server
    // notices the closed connection): a new runner then resumes.
    let e = engine(
        &pool,
        Recipe::parse(&std::fs::read_to_string(&recipe_path).expect("read")).expect("parse"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let outcome = loop {
        match e.apply(Phase::Backfill, &accept_all()).await {
            Err(EngineError::Busy(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => break other.expect("resume"),
        }
    };
    assert_eq!(outcome, Outcome::Done);
    let p = e.progress().await.expect("progress").expect("row");
    assert_eq!(
        p.rows_done, 30_000,
        "each row counted exactly once across the crash"
    );
    let report = e.verify().await.expect("verify");
    assert_eq!(report.differences, 0, "{:?}", report.first_differences);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM public.user_preferences")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(rows + report.quarantined, 30_000, "no row missing");
    let _ = std::fs::remove_dir_all(&dir);
}

#[path = "engine/guarantees.rs"]
mod guarantees;

/// An engine whose health check finds the application suffering (`limit`
/// zero: every probe is over it) or is off.
fn engine_with_health(pool: &PgPool, suffering: bool) -> Engine {
    use switchyard::engine::health::HealthPolicy;
    let health = if suffering {
        HealthPolicy {
            factor: 0.0,
            floor: Duration::ZERO,
            max_pause: Duration::from_millis(20),
            ..HealthPolicy::default()
        }
    } else {
        HealthPolicy {
            enabled: false,
            ..HealthPolicy::default()
        }
    };
    let opts = switchyard::engine::EngineOptions {
        actor: "test".into(),
        soak_hours: Some(0.0),
        health,
        ..Default::default()
    };
    Engine::new(pool.clone(), demo_recipe(), opts, crate::journal(pool))
}

#[sqlx::test(migrations = "./migrations")]
async fn a_backfill_yields_while_the_application_suffers_and_says_why(pool: PgPool) {
    crate::seeded(&pool, 3_000).await;
    // The application at work meanwhile (a throttle yields to others only).
    let stop = Arc::new(AtomicBool::new(false));
    let app = {
        let (pool, stop) = (pool.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                sqlx::query("SELECT pg_sleep(0.02)")
                    .execute(&pool)
                    .await
                    .expect("app");
            }
        })
    };
    for suffering in [true, false] {
        let e = engine_with_health(&pool, suffering);
        if suffering {
            assert_eq!(
                e.apply(Phase::Expand, &accept_all()).await.expect("1"),
                Outcome::Done
            );
        }
        let seen: Arc<std::sync::Mutex<Vec<Option<String>>>> = Arc::default();
        let sink = seen.clone();
        let ctl = RunControl {
            on_progress: Some(Arc::new(move |p| {
                if let Ok(mut v) = sink.lock() {
                    v.push(p.throttled.clone());
                }
            })),
            ..accept_all()
        };
        assert_eq!(
            e.apply(Phase::Backfill, &ctl).await.expect("2"),
            Outcome::Done
        );
        let p = e.progress().await.expect("progress").expect("row");
        assert_eq!(p.rows_done, 3_000, "every row once, throttled or not");
        assert_eq!(p.throttled, None, "a finished backfill is not throttled");
        let seen = seen.lock().map(|v| v.clone()).unwrap_or_default();
        let reasons: Vec<&String> = seen.iter().flatten().collect();
        if suffering {
            assert!(
                reasons
                    .iter()
                    .any(|r| r.starts_with("write latency ") && r.ends_with(" > 0.0 ms")),
                "progress ticks said why it yielded: {seen:?}"
            );
        } else {
            assert!(reasons.is_empty(), "{seen:?}");
        }
        let differences = e.verify().await.expect("verify");
        assert_eq!(differences.differences, 0, "{differences:?}");
        if suffering {
            e.rollback(Phase::Backfill).await.expect("roll back 2");
        }
    }
    stop.store(true, Ordering::Relaxed);
    app.await.expect("app");
}

/// Rows of the demo targets that differ from what the documents say, read
/// with plain `->>` extraction here (documents the engine quarantined have
/// no rows), counted both ways.
async fn demo_differences(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "WITH ok AS (SELECT u.id, u.preferences AS d FROM public.users u
                     WHERE NOT EXISTS (SELECT 1 FROM switchyard.quarantine q WHERE q.source_key = u.id::text)),
              want_row AS (SELECT id, coalesce(d->>'theme', 'system') AS theme, coalesce(d->>'language', 'en') AS language,
                                  coalesce(d->>'timezone', 'UTC') AS timezone FROM ok),
              want_entry AS (SELECT ok.id, e.key AS channel, coalesce((e.value->>'enabled')::boolean, true) AS enabled,
                                    coalesce(e.value->>'frequency', 'daily') AS frequency
                             FROM ok CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(ok.d->'notifications') = 'object'
                                                                        THEN ok.d->'notifications' ELSE '{}' END) e),
              got_row AS (SELECT user_id, theme, language, timezone FROM public.user_preferences),
              got_entry AS (SELECT user_id, channel, enabled, frequency FROM public.notification_preferences)
         SELECT (SELECT count(*) FROM (SELECT * FROM want_row EXCEPT SELECT * FROM got_row) a)
              + (SELECT count(*) FROM (SELECT * FROM got_row EXCEPT SELECT * FROM want_row) b)
              + (SELECT count(*) FROM (SELECT * FROM want_entry EXCEPT SELECT * FROM got_entry) c)
              + (SELECT count(*) FROM (SELECT * FROM got_entry EXCEPT SELECT * FROM want_entry) d)",
    )
    .fetch_one(pool)
    .await
    .expect("differences")
}

#[sqlx::test(migrations = "./migrations")]
async fn dual_write_rewrites_changed_parts_and_still_follows_every_document(pool: PgPool) {
    crate::seeded(&pool, 300).await;
    let e = engine(&pool, demo_recipe());
    for phase in [Phase::Expand, Phase::Backfill, Phase::DualWrite] {
        run(&e, phase).await;
    }
    assert_eq!(demo_differences(&pool).await, 0, "after phase 3");
    let write = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query(sql).execute(&pool).await.expect(sql) }
    };
    let channels = |k: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM public.notification_preferences WHERE user_id = $1",
            )
            .bind(k)
            .fetch_one(&pool)
            .await
            .expect("channels")
        }
    };
    assert_eq!(channels(7).await, 2);
    // Only the theme changes, to a value the recipe refuses: the document
    // is quarantined and its rows leave every target, the untouched
    // notifications' included.
    write("UPDATE public.users SET preferences = jsonb_set(preferences, '{theme}', '\"neon\"') WHERE id = 7").await;
    assert_eq!(channels(7).await, 0);
    // Only the theme changes back: the key was quarantined, so every
    // target is written again.
    write("UPDATE public.users SET preferences = jsonb_set(preferences, '{theme}', '\"dark\"') WHERE id = 7").await;
    assert_eq!(channels(7).await, 2);
    // Quarantined for an entry the recipe refuses, then only the language
    // changes: the document's other part is checked again (it was
    // quarantined), so it stays quarantined and in no target.
    let rows_of_7 = || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT (SELECT count(*) FROM public.user_preferences WHERE user_id = 7)
                      + (SELECT count(*) FROM switchyard.quarantine WHERE source_key = '7') * 100",
            )
            .fetch_one(&pool)
            .await
            .expect("rows of 7")
        }
    };
    write("UPDATE public.users SET preferences = jsonb_set(preferences, '{notifications,fax}', '{}') WHERE id = 7").await;
    assert_eq!((channels(7).await, rows_of_7().await), (0, 100));
    write("UPDATE public.users SET preferences = jsonb_set(preferences, '{language}', '\"it\"') WHERE id = 7").await;
    assert_eq!((channels(7).await, rows_of_7().await), (0, 100));
    write(
        "UPDATE public.users SET preferences = preferences #- '{notifications,fax}' WHERE id = 7",
    )
    .await;
    assert_eq!((channels(7).await, rows_of_7().await), (2, 1));
    // One statement, four kinds of change: only the language (most rows),
    // the language and a notification (8, 9), a document that becomes an
    // array (10: quarantined, every target's rows gone), and a quarantined
    // document made valid (100: its theme and its notification fixed).
    write(
        "UPDATE public.users SET preferences = CASE
            WHEN id IN (8, 9) THEN jsonb_set(jsonb_set(preferences, '{language}', '\"de\"'), '{notifications,email,frequency}', '\"weekly\"')
            WHEN id = 10 THEN '[1, 2]'::jsonb
            WHEN id = 100 THEN jsonb_set(jsonb_set(preferences, '{theme}', '\"dark\"'), '{notifications,email,enabled}', 'false')
            ELSE jsonb_set(preferences, '{language}', '\"fr\"') END
         WHERE id BETWEEN 1 AND 120 AND jsonb_typeof(preferences) = 'object'",
    )
    .await;
    assert_eq!(demo_differences(&pool).await, 0, "after mixed updates");
    let quarantined: Vec<String> = sqlx::query_scalar(
        "SELECT source_key FROM switchyard.quarantine WHERE source_key IN ('7', '10', '100') ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("quarantine");
    assert_eq!(quarantined, vec!["10".to_string()]);
    // A statement that changes nothing the recipe maps (an unknown key)
    // leaves the targets as they are, and right.
    write("UPDATE public.users SET preferences = preferences || '{\"font_size\": 12}' WHERE id BETWEEN 1 AND 50 AND jsonb_typeof(preferences) = 'object'").await;
    assert_eq!(
        demo_differences(&pool).await,
        0,
        "after unmapped-only updates"
    );
    // A write the capture log holds but no re-map has reached yet (as
    // between phase 3's switch to dual-write and the end of its catch-up;
    // made here with the triggers off): its document gained an entry the
    // recipe refuses. A later statement changes only its language: the
    // key is still in the capture log, so every part is checked, and the
    // document is quarantined in that statement, its rows gone.
    let mut quiet = pool.acquire().await.expect("connection");
    for sql in [
        "SET session_replication_role = replica",
        "UPDATE public.users SET preferences = jsonb_set(preferences, '{notifications,fax}', '{}') WHERE id = 11",
        "INSERT INTO switchyard.capture_log (migration_name, source_key) VALUES ('user-preferences', '11')",
        "SET session_replication_role = origin",
    ] {
        sqlx::query(sql).execute(&mut *quiet).await.expect(sql);
    }
    drop(quiet);
    assert!(channels(11).await > 0, "stale rows before the write");
    write("UPDATE public.users SET preferences = jsonb_set(preferences, '{language}', '\"pt\"') WHERE id = 11").await;
    assert_eq!(channels(11).await, 0);
    let held: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM public.user_preferences WHERE user_id = 11),
                (SELECT count(*) FROM switchyard.quarantine WHERE source_key = '11' AND reason LIKE '%fax%')",
    )
    .fetch_one(&pool)
    .await
    .expect("rows of 11");
    assert_eq!(held, (0, 1));
}
