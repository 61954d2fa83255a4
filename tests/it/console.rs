//! The phase console's service and server-side rules, against a real Postgres.

use crate::DEMO;
use sqlx::PgPool;
use std::time::{Duration, Instant};
use switchyard::console::live::{LiveHub, Wake};
use switchyard::console::{Console, ConsoleError, Settings};
use switchyard::engine::state::RunnerLock;
use switchyard::model::console::PhaseAction;
use switchyard::model::{Phase, PhaseState};

/// The console as the server builds it (no setting overridden).
pub(crate) fn console_of(pool: &PgPool) -> Console {
    Console::new(pool.clone(), Settings::default())
}

/// Waits (at most a minute) until `phase` is in `state` with no runner busy.
pub(crate) async fn wait_for_state(pool: &PgPool, phase: Phase, state: PhaseState) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = console_of(pool).view(DEMO).await.expect("view");
        if v.phases[phase.index()].state == state && !v.busy {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "phase {phase} never became {state:?}: {:?}",
            v.phases[phase.index()]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn refused(result: Result<(), ConsoleError>, needle: &str) {
    match result {
        Err(ConsoleError::Refused(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected a refusal containing {needle:?}, got {other:?}"),
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn refusals_are_checked_on_the_server(pool: PgPool) {
    crate::seeded(&pool, 500).await;
    let console = console_of(&pool);
    let act = |phase, action| console.act(DEMO, phase, action, false, "test");
    refused(
        act(Phase::DualWrite, PhaseAction::Run).await,
        "phases run in order",
    );
    refused(
        act(Phase::Expand, PhaseAction::RollBack).await,
        "nothing to roll back",
    );
    refused(
        act(Phase::Backfill, PhaseAction::Pause).await,
        "only a running backfill",
    );
    refused(
        act(Phase::Expand, PhaseAction::Resume).await,
        "nothing to resume",
    );

    // Another runner holds the migration: everything that runs is refused.
    let recipe =
        switchyard::engine::Recipe::parse(include_str!("../../recipes/user_preferences.toml"))
            .expect("demo recipe");
    let lock = RunnerLock::acquire(&pool, &recipe, &*crate::journal(&pool))
        .await
        .expect("lock");
    refused(act(Phase::Expand, PhaseAction::Run).await, "another runner");
    let v = console_of(&pool).view(DEMO).await.expect("view");
    assert!(v.busy);
    // Nothing is quarantined yet: no run asks for acceptance; the backfill
    // has not started: no progress, and its throttle can be set.
    assert!(v
        .phases
        .iter()
        .flat_map(|p| &p.choices)
        .all(|c| c.accept_quarantined.is_none()));
    assert_eq!(v.progress, None);
    assert!(v.throttle_applies);
    // Every choice that acts is refused while another runner holds it.
    for phase in &v.phases {
        for choice in &phase.choices {
            if matches!(choice.action, PhaseAction::Pause | PhaseAction::Abort) {
                continue;
            }
            let refused = choice.refused.as_deref().unwrap_or_default();
            assert!(refused.contains("another runner"), "{choice:?}");
        }
    }
    lock.release().await;

    act(Phase::Expand, PhaseAction::Run)
        .await
        .expect("phase 1 starts");
    wait_for_state(&pool, Phase::Expand, PhaseState::Done).await;
    refused(act(Phase::Expand, PhaseAction::Run).await, "already done");
    // The soak time (24 h in the demo recipe) is enforced for phase 5 once
    // phase 4 is done; before that, phase order refuses it.
    refused(
        act(Phase::Contract, PhaseAction::Run).await,
        "phases run in order",
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn phase_4_refuses_quarantine_before_running(pool: PgPool) {
    crate::seeded(&pool, 1_000).await;
    for phase in [Phase::Expand, Phase::Backfill, Phase::DualWrite] {
        console_of(&pool)
            .act(DEMO, phase, PhaseAction::Run, false, "test")
            .await
            .expect("run");
        wait_for_state(&pool, phase, PhaseState::Done).await;
    }
    // The server says phase 4's run needs the quarantine accepted, with the
    // count; no other action and no other phase asks for it.
    let v = console_of(&pool).view(DEMO).await.expect("view");
    assert!(
        v.quarantined > 0,
        "the demo's messy documents are quarantined"
    );
    let switch_reads = &v.phases[Phase::SwitchReads.index()];
    let run = switch_reads.choice(PhaseAction::Run).expect("Run");
    assert_eq!(run.refused, None);
    assert_eq!(run.accept_quarantined, Some(v.quarantined));
    let roll_back = switch_reads
        .choice(PhaseAction::RollBack)
        .expect("Roll back");
    assert_eq!(roll_back.accept_quarantined, None);
    for phase in &v.phases {
        if phase.phase != Phase::SwitchReads {
            assert!(
                phase.choices.iter().all(|c| c.accept_quarantined.is_none()),
                "{phase:?}"
            );
        }
    }
    // What the view reads in one statement is what the engine reports.
    let status = console_of(&pool)
        .engine_for(DEMO, "test")
        .await
        .expect("engine")
        .status()
        .await
        .expect("status");
    assert_eq!(v.quarantined, status.quarantined);
    assert_eq!(
        v.unmapped_keys,
        status
            .unmapped_keys
            .iter()
            .map(|k| (k.key_path.clone(), k.documents))
            .collect::<Vec<_>>()
    );
    assert_eq!(v.reads_from, status.reads_from);
    assert_eq!(v.pinned_recipe_hash, status.pinned_recipe_hash);
    assert_eq!(v.recipe_hash.as_deref(), Some(status.recipe_hash.as_str()));
    for (shown, recorded) in v.phases.iter().zip(&status.phases) {
        assert_eq!(
            (
                shown.phase,
                shown.state,
                &shown.started_by,
                shown.started_at
            ),
            (
                recorded.phase,
                recorded.state,
                &recorded.started_by,
                recorded.started_at
            )
        );
    }
    let progress = v.progress.as_ref().expect("progress");
    let backfill = status.backfill.as_ref().expect("backfill progress");
    assert_eq!(
        (progress.rows_done, progress.rows_total, progress.batch_size),
        (backfill.rows_done, backfill.rows_total, backfill.batch_size)
    );
    assert!(!v.throughput.is_empty(), "the backfill's ticks are shown");
    assert!(!v.quarantine_sample.is_empty());
    // The backfill is done: its progress is shown, its throttle no longer
    // applies.
    assert!(v.progress.is_some());
    assert!(!v.throttle_applies);
    refused(
        console_of(&pool)
            .act(DEMO, Phase::SwitchReads, PhaseAction::Run, false, "test")
            .await,
        "quarantine",
    );
    console_of(&pool)
        .act(DEMO, Phase::SwitchReads, PhaseAction::Run, true, "test")
        .await
        .expect("accepted");
    wait_for_state(&pool, Phase::SwitchReads, PhaseState::Done).await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_phase_left_running_by_a_dead_server_can_be_resumed(pool: PgPool) {
    crate::seeded(&pool, 2_000).await;
    console_of(&pool)
        .act(DEMO, Phase::Expand, PhaseAction::Run, false, "test")
        .await
        .expect("run 1");
    wait_for_state(&pool, Phase::Expand, PhaseState::Done).await;
    // What a crash mid-backfill leaves: state running, a checkpoint, no runner.
    sqlx::raw_sql(
        "UPDATE switchyard.phase_states SET state = 'running' WHERE position = 2;
         INSERT INTO switchyard.backfill_progress (migration_name, batch_size, last_key, rows_done, rows_total)
         VALUES ('user-preferences', 500, '1000', 0, 2000)",
    )
    .execute(&pool)
    .await
    .expect("simulate crash");
    let v = console_of(&pool).view(DEMO).await.expect("view");
    assert!(!v.busy);
    assert_eq!(v.phases[1].state, PhaseState::Running);
    // The server offers Resume (and only that) for the orphaned phase.
    let backfill = &v.phases[1];
    let offered = |action| backfill.choice(action).and_then(|c| c.refused.clone());
    assert_eq!(offered(PhaseAction::Resume), None);
    assert!(offered(PhaseAction::Run).is_some());
    assert!(offered(PhaseAction::Pause).is_some());
    console_of(&pool)
        .act(DEMO, Phase::Backfill, PhaseAction::Resume, false, "test")
        .await
        .expect("resume");
    wait_for_state(&pool, Phase::Backfill, PhaseState::Done).await;
    let progress = console_of(&pool)
        .view(DEMO)
        .await
        .expect("view")
        .progress
        .expect("progress");
    assert_eq!(
        progress.rows_done, 1_000,
        "resumed after the checkpoint, not from the start"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_throttle_values_are_refused(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    // Refused naming the field that is out of range.
    for (target, pause, field) in [(5, 0, "target_batch_ms"), (200, -1, "throttle_ms")] {
        match console_of(&pool)
            .throttle(DEMO, target, pause, "ops@example.com")
            .await
        {
            Err(ConsoleError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected {field} refused, got {other:?}"),
        }
    }
    console_of(&pool)
        .throttle(DEMO, 300, 50, "ops@example.com")
        .await
        .expect("valid");
    let v = console_of(&pool).view(DEMO).await.expect("view");
    assert_eq!((v.target_batch_ms, v.throttle_ms), (300, 50));
}

#[sqlx::test(migrations = "./migrations")]
async fn every_instance_hears_the_engine(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    // Two app instances on the same database: each has its own hub.
    let first = LiveHub::new(pool.clone());
    let second = LiveHub::new(pool.clone());
    // Each returns once its instance is LISTENing.
    let (mut a, mut b) = (first.subscribe().await, second.subscribe().await);
    console_of(&pool)
        .throttle(DEMO, 250, 0, "ops@example.com")
        .await
        .expect("an event");
    let id: i64 =
        sqlx::query_scalar("SELECT id FROM switchyard.migrations WHERE name = 'user-preferences'")
            .fetch_one(&pool)
            .await
            .expect("id");
    let got_a = tokio::time::timeout(Duration::from_millis(500), a.recv()).await;
    let got_b = tokio::time::timeout(Duration::from_millis(500), b.recv()).await;
    assert_eq!(
        got_a.expect("first instance within 500 ms").expect("recv"),
        Wake::Migration(id)
    );
    assert_eq!(
        got_b.expect("second instance within 500 ms").expect("recv"),
        Wake::Migration(id)
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn unknown_migration_is_not_found(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    assert!(matches!(
        console_of(&pool).view("nope").await,
        Err(ConsoleError::NotFound(_))
    ));
}

// A failed phase (any phase, not only the backfill) offers Resume; the page
// renders the choices the server makes, so it can no longer drift.
#[sqlx::test(migrations = "./migrations")]
async fn a_failed_phase_offers_resume(pool: PgPool) {
    crate::seeded(&pool, 100).await;
    sqlx::query("UPDATE switchyard.phase_states SET state = 'failed' WHERE position = 1")
        .execute(&pool)
        .await
        .expect("a failed phase 1");
    let v = console_of(&pool).view(DEMO).await.expect("view");
    let resume = v.phases[0]
        .choice(PhaseAction::Resume)
        .expect("Resume is offered for a failed phase");
    assert_eq!(resume.refused, None);
    // Phase 3 has not failed: no Resume button at all.
    assert!(v.phases[2].choice(PhaseAction::Resume).is_none());
    console_of(&pool)
        .act(DEMO, Phase::Expand, PhaseAction::Resume, false, "test")
        .await
        .expect("resume");
    wait_for_state(&pool, Phase::Expand, PhaseState::Done).await;
}

// Errors keep their meaning on the way to the page: an outage is
// "unavailable" (never "corrupt data"), a busy runner a conflict.
#[test]
fn console_errors_map_to_what_they_mean() {
    use switchyard::engine::EngineError;
    use switchyard::model::AppError;
    use switchyard::store::StoreError;
    let outage = AppError::from(ConsoleError::Store(StoreError::Database(
        sqlx::Error::PoolTimedOut,
    )));
    assert!(matches!(outage, AppError::Unavailable { .. }), "{outage:?}");
    let busy = AppError::from(ConsoleError::Engine(EngineError::Busy("m".into())));
    assert!(matches!(busy, AppError::Conflict { .. }), "{busy:?}");
    let refused = AppError::from(ConsoleError::Refused("no".into()));
    assert_eq!(refused, AppError::invalid("action", "no"));
    let other = AppError::from(ConsoleError::Store(StoreError::Database(
        sqlx::Error::RowNotFound,
    )));
    assert!(matches!(other, AppError::Internal { .. }), "{other:?}");
    // A step that failed because the database went away is an outage too.
    let step = AppError::from(ConsoleError::Engine(EngineError::Step {
        step: "backfill batch".into(),
        source: sqlx::Error::PoolTimedOut,
    }));
    assert!(matches!(step, AppError::Unavailable { .. }), "{step:?}");
    // Waiting on the application's locks: try again later, not a bug.
    let waited = AppError::from(ConsoleError::Engine(EngineError::LockTimeout {
        statement: "ALTER TABLE".into(),
        attempts: 3,
    }));
    assert!(matches!(waited, AppError::Conflict { .. }), "{waited:?}");
    let range = AppError::from(ConsoleError::Invalid {
        field: "throttle_ms",
        message: "pause between batches must be 0 to 60000 ms",
    });
    assert!(matches!(range, AppError::Invalid { ref field, .. } if field == "throttle_ms"));
}

#[sqlx::test(migrations = "./migrations")]
async fn each_phase_dry_run_is_loaded_on_its_own(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let console = console_of(&pool);
    let v = console.view(DEMO).await.expect("view");
    let (hash, expand) = console
        .dry_run_sql(DEMO, Phase::Expand)
        .await
        .expect("dry run");
    // Keyed by the recipe the view shows, and exactly what the planner says.
    assert_eq!(Some(hash), v.recipe_hash);
    let engine = console.engine_for(DEMO, "test").await.expect("engine");
    let planned: Vec<String> = switchyard::engine::Planner::new(engine.recipe())
        .apply(Phase::Expand)
        .iter()
        .flat_map(|s| {
            std::iter::once(format!("-- {}", s.label))
                .chain(s.statements().into_iter().map(|q| format!("{q};")))
        })
        .collect();
    assert_eq!(expand, planned);
    assert!(expand
        .iter()
        .any(|q| q.contains(r#"CREATE TABLE IF NOT EXISTS "public"."user_preferences""#)));
    let (_, contract) = console
        .dry_run_sql(DEMO, Phase::Contract)
        .await
        .expect("dry run");
    assert_ne!(expand, contract);
    assert!(matches!(
        console.dry_run_sql("nope", Phase::Expand).await,
        Err(ConsoleError::NotFound(_))
    ));
}

/// A share link's page reads the backfill's percent on its own (not the
/// console's whole snapshot): it must say what the console says, before the
/// backfill, after it, and after its rollback.
#[sqlx::test(migrations = "./migrations")]
async fn the_share_pages_backfill_percent_is_the_consoles(pool: PgPool) {
    use switchyard::store::console::backfill_percent;
    crate::seeded(&pool, 500).await;
    let console = console_of(&pool);
    let consoles = |v: switchyard::model::console::ConsoleView| v.progress.map(|p| p.percent);
    assert_eq!(backfill_percent(&pool, DEMO).await.expect("read"), None);
    assert_eq!(consoles(console.view(DEMO).await.expect("view")), None);
    for phase in [Phase::Expand, Phase::Backfill] {
        console
            .act(DEMO, phase, PhaseAction::Run, false, "test")
            .await
            .expect("run");
        wait_for_state(&pool, phase, PhaseState::Done).await;
    }
    let done = backfill_percent(&pool, DEMO).await.expect("read");
    assert_eq!(done, consoles(console.view(DEMO).await.expect("view")));
    assert_eq!(done, Some(100.0), "a finished backfill has done every row");
    // Half-way, as a running backfill records it.
    sqlx::query(
        "UPDATE switchyard.backfill_progress SET rows_done = rows_total / 2 WHERE migration_name = $1",
    )
    .bind(DEMO)
    .execute(&pool)
    .await
    .expect("update");
    let half = backfill_percent(&pool, DEMO).await.expect("read");
    assert_eq!(half, consoles(console.view(DEMO).await.expect("view")));
    assert!(half.is_some_and(|p| p > 0.0 && p < 100.0), "{half:?}");
    console
        .act(DEMO, Phase::Backfill, PhaseAction::RollBack, false, "test")
        .await
        .expect("roll back");
    wait_for_state(&pool, Phase::Backfill, PhaseState::RolledBack).await;
    assert_eq!(backfill_percent(&pool, DEMO).await.expect("read"), None);
    assert_eq!(consoles(console.view(DEMO).await.expect("view")), None);
}

/// A runner's last event is announced while it still holds the migration's
/// lock: a page rebuilt on it says "another runner is active". Once the
/// lock is let go, live pages are woken once more (with no event written),
/// so the last view they build shows the migration free.
#[sqlx::test(migrations = "./migrations")]
async fn live_pages_are_woken_when_the_runner_lets_go(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    let hub = LiveHub::new(pool.clone());
    let mut heard = hub.subscribe().await;
    let events = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM switchyard.events")
            .fetch_one(&pool)
            .await
            .expect("count")
    };
    let before = events().await;
    console_of(&pool)
        .act(DEMO, Phase::Expand, PhaseAction::Run, false, "test")
        .await
        .expect("run");
    wait_for_state(&pool, Phase::Expand, PhaseState::Done).await;
    // Everything announced has arrived well within this.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let written = events().await - before;
    let mut notes = 0;
    while heard.try_recv().is_ok() {
        notes += 1;
    }
    assert!(written > 0, "the run wrote events");
    assert_eq!(
        notes,
        written + 1,
        "each event is announced, and the lock's release once more"
    );
}

/// A run refused when its runner started (after the click was answered)
/// is in the console's event log: who clicked, which phase, and why.
#[sqlx::test(migrations = "./migrations")]
async fn a_run_refused_after_the_click_is_shown_in_the_log(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    switchyard::store::console::record(
        &pool,
        DEMO,
        Phase::SwitchReads,
        "ops@example.com",
        &switchyard::engine::Event::RunRefused {
            reason: "phase 4 needs an approval: the approval expired (the recipe changed)".into(),
        },
    )
    .await
    .expect("recorded");
    let v = console_of(&pool).view(DEMO).await.expect("view");
    let refusal = v
        .events
        .iter()
        .find(|e| e.kind == "run_refused")
        .expect("the refusal is in the log");
    assert_eq!(refusal.actor, "ops@example.com");
    assert_eq!(refusal.phase, Some(Phase::SwitchReads));
    assert!(
        refusal.description.contains("refused when it started")
            && refusal.description.contains("the approval expired"),
        "{}",
        refusal.description
    );
    // Of a migration that does not exist: an error, nothing written.
    assert!(switchyard::store::console::record(
        &pool,
        "no-such-migration",
        Phase::Expand,
        "ops@example.com",
        &switchyard::engine::Event::RunRefused { reason: "x".into() },
    )
    .await
    .is_err());
}

/// Who paused a backfill is recorded as the one who asked, not only as the
/// run's starter (the runner records the state it stops in as its own).
#[sqlx::test(migrations = "./migrations")]
async fn who_paused_a_backfill_is_in_the_log(pool: PgPool) {
    crate::seeded(&pool, 5_000).await;
    let console = console_of(&pool);
    console
        .act(
            DEMO,
            Phase::Expand,
            PhaseAction::Run,
            false,
            "starter@example.com",
        )
        .await
        .expect("run 1");
    wait_for_state(&pool, Phase::Expand, PhaseState::Done).await;
    // Small batches with a pause between: the backfill runs long enough.
    console
        .throttle(DEMO, 10, 200, "starter@example.com")
        .await
        .expect("throttle");
    console
        .act(
            DEMO,
            Phase::Backfill,
            PhaseAction::Run,
            false,
            "starter@example.com",
        )
        .await
        .expect("run 2");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = console.view(DEMO).await.expect("view");
        if v.phases[Phase::Backfill.index()].state == PhaseState::Running && v.busy {
            break;
        }
        assert!(Instant::now() < deadline, "the backfill never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    console
        .act(
            DEMO,
            Phase::Backfill,
            PhaseAction::Pause,
            false,
            "stopper@example.com",
        )
        .await
        .expect("pause");
    wait_for_state(&pool, Phase::Backfill, PhaseState::Paused).await;
    let asked: Vec<(String, Option<i16>, serde_json::Value)> = sqlx::query_as(
        "SELECT actor, phase, payload FROM switchyard.events WHERE kind = 'stop_requested'",
    )
    .fetch_all(&pool)
    .await
    .expect("events");
    assert_eq!(
        asked,
        vec![(
            "stopper@example.com".to_string(),
            Some(2),
            serde_json::json!({ "abort": false })
        )]
    );
    let v = console.view(DEMO).await.expect("view");
    assert!(
        v.events
            .iter()
            .any(|e| e.actor == "stopper@example.com"
                && e.description == "asked the backfill to pause"),
        "the console shows it"
    );
}
