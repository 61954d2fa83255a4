//! Task board changes against a real Postgres: revisions, validation,
//! dependencies, and nothing half-saved.

use crate::DEMO;
use sqlx::PgPool;
use switchyard::model::{Phase, Priority, TaskStatus};
use switchyard::store::tasks::{self, TaskInput};
use switchyard::store::{migrations, StoreError};

fn input(title: &str) -> TaskInput {
    TaskInput {
        title: title.into(),
        status: TaskStatus::ToDo,
        priority: Priority::Low,
        assignee: Some(" Eve ".into()),
        sprint: Some(String::new()),
        phase_position: Some(Phase::Backfill),
        depends_on: vec![],
        criteria: vec!["first".into(), "  ".into(), "second".into()],
    }
}

async fn task_id(pool: &PgPool, title: &str) -> (i64, i32) {
    sqlx::query_as("SELECT id, revision FROM switchyard.tasks WHERE title = $1")
        .bind(title)
        .fetch_one(pool)
        .await
        .expect("task")
}

#[sqlx::test(migrations = "./migrations")]
async fn moves_bump_the_revision_and_stale_ones_conflict(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (id, rev) = task_id(&pool, "Add dual-write").await;
    let new_rev = tasks::move_task(&pool, DEMO, id, TaskStatus::InProgress, rev, "t")
        .await
        .expect("move");
    assert_eq!(new_rev, rev + 1);
    let err = tasks::move_task(&pool, DEMO, id, TaskStatus::Done, rev, "t")
        .await
        .expect_err("stale revision");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let all = migrations::tasks(&pool, DEMO).await.expect("tasks");
    let t = all.iter().find(|t| t.id == id).expect("task");
    assert_eq!(
        t.status,
        TaskStatus::InProgress,
        "the stale move changed nothing"
    );
    let moved: i64 =
        sqlx::query_scalar("SELECT count(*) FROM switchyard.events WHERE kind = 'task_moved'")
            .fetch_one(&pool)
            .await
            .expect("events");
    assert_eq!(moved, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn criteria_tick_and_persist(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let all = migrations::tasks(&pool, DEMO).await.expect("tasks");
    let task = all
        .iter()
        .find(|t| t.title == "Add dual-write")
        .expect("task");
    let c = &task.criteria[0];
    assert!(!c.done);
    tasks::set_criterion(&pool, DEMO, c.id, true, "t")
        .await
        .expect("tick");
    let again = migrations::tasks(&pool, DEMO).await.expect("tasks");
    let t = again.iter().find(|t| t.id == task.id).expect("task");
    assert!(t.criteria[0].done);
    assert_eq!(t.revision, task.revision + 1);
    let err = tasks::set_criterion(&pool, DEMO, 999_999, true, "t")
        .await
        .expect_err("unknown criterion");
    assert!(matches!(err, StoreError::NotFound(_)));
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_input_is_refused_with_its_field_and_nothing_saved(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let cases: Vec<(TaskInput, &str)> = vec![
        (input("   "), "title"),
        (input(&"x".repeat(201)), "title"),
        (
            TaskInput {
                assignee: Some("a".repeat(101)),
                ..input("ok")
            },
            "assignee",
        ),
        (
            TaskInput {
                criteria: vec!["c".repeat(501)],
                ..input("ok")
            },
            "criteria",
        ),
        (
            TaskInput {
                depends_on: vec![987_654],
                ..input("ok")
            },
            "depends_on",
        ),
    ];
    for (case, field) in cases {
        match tasks::create_task(&pool, DEMO, case, "t").await {
            Err(StoreError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected {field} refused, got {other:?}"),
        }
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM switchyard.tasks")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 5, "nothing half-saved");
}

#[sqlx::test(migrations = "./migrations")]
async fn create_trims_and_keeps_criteria(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let id = tasks::create_task(&pool, DEMO, input("  New one "), "t")
        .await
        .expect("create");
    let all = migrations::tasks(&pool, DEMO).await.expect("tasks");
    let t = all.iter().find(|t| t.id == id).expect("created");
    assert_eq!(t.title, "New one");
    assert_eq!(t.assignee.as_deref(), Some("Eve"));
    assert_eq!(t.sprint, None);
    let texts: Vec<&str> = t.criteria.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, vec!["first", "second"]);
    tasks::delete_task(&pool, DEMO, id, t.revision, "t")
        .await
        .expect("delete");
    assert!(migrations::tasks(&pool, DEMO)
        .await
        .expect("tasks")
        .iter()
        .all(|x| x.id != id));
}

#[sqlx::test(migrations = "./migrations")]
async fn dependency_cycles_and_other_migrations_are_refused(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (write_sql, rev) = task_id(&pool, "Write migration SQL").await;
    let (backfill, _) = task_id(&pool, "Implement backfill job").await;
    // backfill depends on write_sql; making write_sql depend on backfill is a cycle.
    let mut edit = input("Write migration SQL");
    edit.depends_on = vec![backfill];
    let err = tasks::update_task(&pool, DEMO, write_sql, rev, edit, "t")
        .await
        .expect_err("cycle");
    assert!(
        matches!(err, StoreError::Invalid { ref field, ref message } if field == "depends_on" && message.contains("cycle")),
        "{err:?}"
    );

    // A task of another migration.
    sqlx::query("INSERT INTO switchyard.migrations (name, title) VALUES ('other', 'Other')")
        .execute(&pool)
        .await
        .expect("other");
    let other = tasks::create_task(&pool, "other", input("Elsewhere"), "t")
        .await
        .expect("other task");
    let mut edit = input("Write migration SQL");
    edit.depends_on = vec![other];
    let err = tasks::update_task(&pool, DEMO, write_sql, rev, edit, "t")
        .await
        .expect_err("foreign dependency");
    assert!(
        matches!(err, StoreError::Invalid { ref field, .. } if field == "depends_on"),
        "{err:?}"
    );
    // A task of another migration cannot be moved through this one either.
    let err = tasks::move_task(&pool, DEMO, other, TaskStatus::Done, 1, "t")
        .await
        .expect_err("not ours");
    assert!(matches!(err, StoreError::NotFound(_)));
}

/// `switchyard demo reset` (what every browser test starts with): from a
/// migration driven through all five phases, with tasks moved and the plan
/// edited, back to exactly what seeding made.
#[sqlx::test(migrations = "./migrations")]
async fn demo_reset_rolls_back_every_phase_and_reseeds(pool: PgPool) {
    use std::process::ExitCode;
    use switchyard::engine::phases::RunControl;
    use switchyard::engine::{Engine, EngineOptions, Phase, PhaseState, Recipe};

    crate::seeded(&pool, 500).await;
    let before: Vec<String> = migrations::tasks(&pool, DEMO)
        .await
        .expect("tasks")
        .iter()
        .map(|t| format!("{} {} {}", t.title, t.status, t.revision))
        .collect();

    let recipe =
        Recipe::parse(include_str!("../../recipes/user_preferences.toml")).expect("recipe");
    let engine = Engine::new(
        pool.clone(),
        recipe,
        EngineOptions {
            soak_hours: Some(0.0),
            ..EngineOptions::default()
        },
        crate::journal(&pool),
    );
    let ctl = RunControl {
        accept_quarantine: true,
        accept_differences: true,
        ..RunControl::default()
    };
    for phase in Phase::ALL {
        engine.apply(phase, &ctl).await.expect("phase runs");
    }
    engine.set_throttle(200, 300).await.expect("throttle");
    let (id, rev) = task_id(&pool, "Add dual-write").await;
    tasks::move_task(&pool, DEMO, id, TaskStatus::Done, rev, "t")
        .await
        .expect("move");
    tasks::create_task(&pool, DEMO, input("Extra"), "t")
        .await
        .expect("create");
    let plan = migrations::plan(&pool, DEMO).await.expect("plan");
    let edit = switchyard::model::plan::PlanEdit {
        body_markdown: "changed".into(),
        phases: vec![],
    };
    switchyard::store::plans::save(&pool, DEMO, plan.revision, edit, "t")
        .await
        .expect("plan saved");

    let target = switchyard::cli::Connection {
        pool: pool.clone(),
        actor: "cli:test".into(),
        soak_hours: None,
    };
    let code = switchyard::cli::demo_reset(&target, 500).await;
    assert_eq!(code, ExitCode::SUCCESS);

    let phases = engine.phase_records().await.expect("phases");
    assert!(
        phases.iter().all(|p| p.state == PhaseState::Pending),
        "{phases:?}"
    );
    let after: Vec<String> = migrations::tasks(&pool, DEMO)
        .await
        .expect("tasks")
        .iter()
        .map(|t| format!("{} {} {}", t.title, t.status, t.revision))
        .collect();
    assert_eq!(after, before, "the tasks as seeded");
    let plan = migrations::plan(&pool, DEMO).await.expect("plan");
    assert_eq!(plan.revision, 1);
    assert_ne!(plan.body_markdown, "changed");
    let (targets, column, users, progress, events): (i64, i64, i64, i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_tables WHERE tablename IN ('user_preferences', 'notification_preferences')),
                (SELECT count(*) FROM information_schema.columns
                  WHERE table_name = 'users' AND column_name = 'preferences'),
                (SELECT count(*) FROM public.users),
                (SELECT count(*) FROM switchyard.backfill_progress),
                (SELECT string_agg(kind, ',' ORDER BY id) FROM switchyard.events)",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!(
        (targets, column, users, progress, events),
        (0, 1, 500, 0, "seeded,recipe_saved".to_string()),
        "no target tables, the column back, the users kept, no progress, only the seed's events (the demo and its recipe's first version)"
    );
}
