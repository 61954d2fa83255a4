//! "Rehearse on a sample" (issue 14): every phase and rollback on a copy
//! in a scratch schema, reported step by step, and nothing left behind.

use crate::console::console_of;
use crate::DEMO;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use switchyard::console::ConsoleError;
use switchyard::model::rehearsal::{estimate_millis, RehearsalState, RehearsalView};
use switchyard::model::Phase;

/// Everything a rehearsal could leave behind, as text: the schemas, every
/// relation, function and trigger outside the system catalogs, every row
/// count of our own tables but the two a rehearsal is meant to write (its
/// report and the events saying it ran), and the production rows.
async fn footprint(pool: &PgPool) -> String {
    let catalog: String = sqlx::query_scalar(
        "SELECT concat_ws(E'\\n',
            (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace
             WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'),
            (SELECT string_agg(c.relnamespace::regnamespace::text || '.' || c.relname || ':' || c.relkind::text, ',' ORDER BY 1)
             FROM pg_class c WHERE c.relnamespace::regnamespace::text NOT LIKE 'pg\\_%'
               AND c.relnamespace::regnamespace::text <> 'information_schema'),
            (SELECT string_agg(p.oid::regprocedure::text, ',' ORDER BY 1) FROM pg_proc p
             WHERE p.pronamespace::regnamespace::text NOT LIKE 'pg\\_%'
               AND p.pronamespace::regnamespace::text <> 'information_schema'),
            (SELECT string_agg(t.tgrelid::regclass::text || '.' || t.tgname, ',' ORDER BY 1) FROM pg_trigger t
             WHERE NOT t.tgisinternal),
            (SELECT md5(string_agg(u::text, ',' ORDER BY u.id)) FROM public.users u))",
    )
    .fetch_one(pool)
    .await
    .expect("catalog");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables
         WHERE schemaname = 'switchyard' AND relname NOT IN ('rehearsals', 'events', '_sqlx_migrations')
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut counts = String::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .expect("count");
        counts.push_str(&format!("{table}={n}\n"));
    }
    format!("{catalog}\n{counts}")
}

/// Waits (at most two minutes) for the latest rehearsal to end.
async fn finished(pool: &PgPool) -> RehearsalView {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let latest = switchyard::store::rehearsals::latest(pool, DEMO)
            .await
            .expect("latest");
        if let Some(r) = latest.filter(|r| r.state != RehearsalState::Running) {
            return r;
        }
        assert!(Instant::now() < deadline, "the rehearsal never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rehearsal_runs_every_phase_and_rollback_and_leaves_nothing_behind(pool: PgPool) {
    crate::seeded(&pool, 2_000).await;
    sqlx::query("ANALYZE public.users")
        .execute(&pool)
        .await
        .expect("analyze");
    let console = console_of(&pool);
    // The real migration's view first: it creates its phase records.
    let before_view = console.view(DEMO).await.expect("view");
    let before = footprint(&pool).await;

    let id = console
        .rehearse(DEMO, 50.0, "ops@example.com")
        .await
        .expect("rehearse");
    let r = finished(&pool).await;
    assert_eq!(r.id, id);
    assert_eq!(r.state, RehearsalState::Passed, "{r:#?}");
    let order: Vec<(Phase, bool)> = r.steps.iter().map(|s| (s.phase, s.rollback)).collect();
    let mut expected: Vec<(Phase, bool)> = Phase::ALL.iter().map(|p| (*p, false)).collect();
    expected.extend(Phase::ALL.iter().rev().map(|p| (*p, true)));
    assert_eq!(order, expected, "every phase, then every rollback");
    assert!(r.steps.iter().all(|s| s.error.is_none()), "{r:#?}");

    // About half the table was copied, and the backfill mapped all of it.
    let sample = r.sample_rows.expect("sample rows");
    assert!((600..=1_400).contains(&sample), "{sample} of 2000 rows");
    assert_eq!(r.source_rows, Some(2_000));
    let backfill = r.run_of(Phase::Backfill).expect("phase 2");
    assert_eq!(backfill.rows, Some(sample));
    assert!(backfill.quarantined <= sample);
    // Rolled back to nothing: no quarantine left.
    let last = r.steps.last().expect("steps");
    assert_eq!(
        (last.phase, last.rollback, last.quarantined),
        (Phase::Expand, true, 0)
    );

    // The estimate scales the backfill by the table over the sample.
    let estimate = estimate_millis(&r, Phase::Backfill).expect("estimate");
    let scaled = (backfill.millis as f64 * 2_000.0 / sample as f64).round() as i64;
    assert_eq!(estimate, scaled);

    // Nothing left behind, and the real migration untouched.
    assert_eq!(footprint(&pool).await, before);
    let after_view = console.view(DEMO).await.expect("view");
    let states = |v: &switchyard::model::console::ConsoleView| {
        v.phases.iter().map(|p| p.state).collect::<Vec<_>>()
    };
    assert_eq!(states(&after_view), states(&before_view));
    // Phases 4 and 5 confirm with the rehearsal's result.
    let confirm = after_view.phases[Phase::SwitchReads.index()]
        .choice(switchyard::model::console::PhaseAction::Run)
        .and_then(|c| c.confirm.clone())
        .expect("confirm");
    assert!(confirm.contains("Rehearsed on a 50 % sample"), "{confirm}");
    assert_eq!(after_view.rehearsal.as_ref().map(|r| r.id), Some(id));
    assert!(before_view.phases[Phase::Contract.index()]
        .choice(switchyard::model::console::PhaseAction::Run)
        .and_then(|c| c.confirm.clone())
        .is_some_and(|c| c.contains("No rehearsal was made")),);
    // Each phase lists the table locks its run takes (from its statements).
    let locks = &after_view.phases[Phase::DualWrite.index()].locks;
    assert!(
        locks.iter().any(|l| l.table == "public.users"
            && l.mode == switchyard::engine::vocab::LockMode::AccessExclusive),
        "{locks:?}"
    );
    assert!(after_view.phases[Phase::Backfill.index()].locks.is_empty());
    // The rehearsal's own migration never shows in a list.
    let listed = switchyard::store::migrations::list_summaries(&pool)
        .await
        .expect("list");
    assert!(listed.iter().all(|m| !m.name.starts_with("rehearsal-")));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rehearsal_refuses_a_bad_sample_and_a_second_one_at_once(pool: PgPool) {
    crate::seeded(&pool, 300).await;
    let console = console_of(&pool);
    for percent in [0.0, -1.0, 60.0, f64::NAN] {
        match console.rehearse(DEMO, percent, "ops@example.com").await {
            Err(ConsoleError::Invalid { field, .. }) => assert_eq!(field, "percent"),
            other => panic!("{percent}: expected a refusal, got {other:?}"),
        }
    }
    console
        .rehearse(DEMO, 10.0, "ops@example.com")
        .await
        .expect("first");
    match console.rehearse(DEMO, 10.0, "ops@example.com").await {
        Err(e) => assert!(e.to_string().contains("still running"), "{e}"),
        Ok(id) => panic!("a second rehearsal {id} started beside the first"),
    }
    let r = finished(&pool).await;
    assert_eq!(r.state, RehearsalState::Passed, "{r:#?}");
}

/// What a crash leaves after the copy: rehearsal `percent` % recorded as
/// running with its run's migration row and a scratch schema with its
/// copy, and no process holding its lock. The demo's recipe, and the id.
async fn crashed_after_the_copy(pool: &PgPool, percent: f64) -> (switchyard::engine::Recipe, i64) {
    let recipe =
        switchyard::engine::Recipe::parse(include_str!("../../recipes/user_preferences.toml"))
            .expect("recipe");
    let started = switchyard::store::rehearsals::start(pool, DEMO, percent, "h", "t", "ops")
        .await
        .expect("start");
    switchyard::engine::rehearse::copy_sample(
        pool,
        &recipe,
        started.id,
        percent,
        &Default::default(),
    )
    .await
    .expect("copy");
    (recipe, started.id)
}

/// Ages every rehearsal past the minute recovery leaves a young one,
/// recovers, and returns the latest rehearsal as recorded then.
async fn aged_and_recovered(pool: &PgPool) -> RehearsalView {
    sqlx::query("UPDATE switchyard.rehearsals SET started_at = now() - interval '2 minutes'")
        .execute(pool)
        .await
        .expect("age it");
    switchyard::console::rehearsal::recover(pool).await;
    latest(pool).await
}

async fn latest(pool: &PgPool) -> RehearsalView {
    switchyard::store::rehearsals::latest(pool, DEMO)
        .await
        .expect("latest")
        .expect("one")
}

#[sqlx::test(migrations = "./migrations")]
async fn an_interrupted_rehearsal_is_dropped_and_recorded_as_failed(pool: PgPool) {
    crate::seeded(&pool, 300).await;
    let console = console_of(&pool);
    console.view(DEMO).await.expect("view");
    let before = footprint(&pool).await;
    crashed_after_the_copy(&pool, 5.0).await;
    // Young rehearsals are left alone (their task may not hold its lock yet).
    switchyard::console::rehearsal::recover(&pool).await;
    assert_eq!(latest(&pool).await.state, RehearsalState::Running);
    let r = aged_and_recovered(&pool).await;
    assert_eq!(r.state, RehearsalState::Failed);
    assert!(
        r.error
            .as_deref()
            .is_some_and(|e| e.contains("interrupted")),
        "{r:?}"
    );
    assert_eq!(footprint(&pool).await, before);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rehearsal_interrupted_after_its_contract_leaves_no_backup_behind(pool: PgPool) {
    use switchyard::engine::phases::{Outcome, RunControl};
    use switchyard::engine::rehearse::scratch_recipe;
    use switchyard::engine::{Engine, EngineOptions};
    crate::seeded(&pool, 400).await;
    let console = console_of(&pool);
    console.view(DEMO).await.expect("view");
    let before = footprint(&pool).await;
    // A rehearsal whose process died after phase 5: the copy, its targets,
    // the phase 5 backup (in our own schema), functions and records.
    let (recipe, id) = crashed_after_the_copy(&pool, 50.0).await;
    let scratch = scratch_recipe(&recipe, id).expect("scratch recipe");
    let engine = Engine::new(
        pool.clone(),
        scratch,
        EngineOptions {
            soak_hours: Some(0.0),
            ..Default::default()
        },
        crate::journal(&pool),
    );
    let ctl = RunControl {
        accept_quarantine: true,
        ..Default::default()
    };
    for phase in Phase::ALL {
        assert_eq!(engine.apply(phase, &ctl).await.expect("run"), Outcome::Done);
    }
    let backups: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'switchyard'::regnamespace
         AND relname LIKE 'sy\\_rehearsal\\_%' AND relkind = 'r'",
    )
    .fetch_one(&pool)
    .await
    .expect("backups");
    assert!(backups > 0, "phase 5 keeps a backup in our schema");
    let r = aged_and_recovered(&pool).await;
    assert_eq!(r.state, RehearsalState::Failed, "{r:?}");
    assert_eq!(footprint(&pool).await, before);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rehearsal_whose_lock_session_ends_stops_and_is_recovered(pool: PgPool) {
    // Large enough that the rehearsal is still running when its lock's
    // session ends.
    crate::seeded(&pool, 20_000).await;
    let console = console_of(&pool);
    console.view(DEMO).await.expect("view");
    let before = footprint(&pool).await;
    let id = console
        .rehearse(DEMO, 50.0, "ops@example.com")
        .await
        .expect("rehearse");
    // The session holding the rehearsal's lock is ended by the server (as
    // idle_session_timeout or an operator would).
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND classid = hashtext('switchyard.rehearsal')::oid AND objid = hashtext($1)::oid",
        )
        .bind(format!("rehearsal-{id}"))
        .fetch_optional(&pool)
        .await
        .expect("locks");
        if let Some(pid) = pid {
            break pid;
        }
        assert!(
            Instant::now() < deadline,
            "the rehearsal never took its lock"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&pool)
        .await
        .expect("terminate");
    // It stops after the step under way, leaves the rest to recovery.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let r = latest(&pool).await;
    assert_eq!(r.state, RehearsalState::Running, "{r:?}");
    assert!(r.steps.len() < 10, "it went on without its lock: {r:#?}");
    let r = aged_and_recovered(&pool).await;
    assert_eq!(r.state, RehearsalState::Failed, "{r:?}");
    assert_eq!(footprint(&pool).await, before);
    let listed = switchyard::store::migrations::list_summaries(&pool)
        .await
        .expect("list");
    assert!(listed.iter().all(|m| !m.name.starts_with("rehearsal-")));
}

#[sqlx::test(migrations = "./migrations")]
async fn an_empty_sample_fails_the_rehearsal(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let console = console_of(&pool);
    console.view(DEMO).await.expect("view");
    let before = footprint(&pool).await;
    console
        .rehearse(DEMO, 10.0, "ops@example.com")
        .await
        .expect("rehearse");
    let r = finished(&pool).await;
    assert_eq!(r.state, RehearsalState::Failed, "{r:?}");
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("is empty")),
        "{r:?}"
    );
    assert!(r.steps.is_empty(), "{r:?}");
    assert_eq!(footprint(&pool).await, before);
}
