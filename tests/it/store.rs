//! The store against a real Postgres: every test gets a fresh database
//! (`#[sqlx::test]`, from DATABASE_URL) with our migrations applied.

use crate::DEMO;
use sqlx::PgPool;
use switchyard::model::{Phase, PhaseState, Priority, TaskStatus};
use switchyard::store::{self, migrations, seed, StoreError};

#[sqlx::test(migrations = "./migrations")]
async fn seeding_is_idempotent(pool: PgPool) {
    let first = seed::seed_demo(&pool, 1_000).await.expect("first seed");
    assert!(first.migration_created);
    assert_eq!(first.users_created, 1_000);

    let second = seed::seed_demo(&pool, 1_000).await.expect("second seed");
    assert!(!second.migration_created);
    assert_eq!(second.users_created, 0);

    let (migrations, tasks, users): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM switchyard.migrations),
                (SELECT count(*) FROM switchyard.tasks),
                (SELECT count(*) FROM public.users)",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!((migrations, tasks, users), (1, 5, 1_000));
}

#[sqlx::test(migrations = "./migrations")]
async fn concurrent_seeders_do_not_duplicate(pool: PgPool) {
    let (a, b) = tokio::join!(seed::seed_demo(&pool, 500), seed::seed_demo(&pool, 500));
    let (a, b) = (a.expect("seeder a"), b.expect("seeder b"));
    assert!(a.migration_created ^ b.migration_created);
    assert_eq!(a.users_created + b.users_created, 500);
}

#[sqlx::test(migrations = "./migrations")]
async fn about_one_percent_of_generated_documents_are_messy(pool: PgPool) {
    crate::seeded(&pool, 10_000).await;
    // A clean document has exactly these keys with these types and values.
    let messy: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.users WHERE NOT (
             preferences IS NOT NULL AND jsonb_typeof(preferences) = 'object'
             AND preferences ?& ARRAY['theme','language','timezone','notifications']
             AND (SELECT count(*) FROM jsonb_object_keys(preferences)) = 4
             AND preferences->>'theme' IN ('light','dark','system')
             AND jsonb_typeof(preferences->'notifications') = 'object'
             AND NOT EXISTS (
                 SELECT 1 FROM jsonb_each(preferences->'notifications') AS n(channel, v)
                 WHERE channel NOT IN ('email','push','sms')
                    OR jsonb_typeof(v->'enabled') IS DISTINCT FROM 'boolean'
                    OR v->>'frequency' IS NULL
                    OR v->>'frequency' NOT IN ('instant','daily','weekly','never')))",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(messy, 100, "1% of 10000 rows");

    // Every kind of mess is represented.
    let kinds: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE preferences IS NOT NULL AND jsonb_typeof(preferences) = 'object'
                                   AND NOT preferences ? 'timezone'),
                count(*) FILTER (WHERE jsonb_typeof(preferences->'theme') = 'number'),
                count(*) FILTER (WHERE preferences ? 'font_size'),
                count(*) FILTER (WHERE preferences->>'theme' = 'purple'),
                count(*) FILTER (WHERE preferences IS NULL OR jsonb_typeof(preferences) = 'null')
         FROM public.users",
    )
    .fetch_one(&pool)
    .await
    .expect("kinds");
    assert!(
        kinds.0 > 0 && kinds.1 > 0 && kinds.2 > 0 && kinds.3 > 0 && kinds.4 > 0,
        "{kinds:?}"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_foreign_users_table_is_left_alone(pool: PgPool) {
    sqlx::query("CREATE TABLE public.users (id uuid PRIMARY KEY, name text)")
        .execute(&pool)
        .await
        .expect("create");
    let report = seed::seed_demo(&pool, 100).await.expect("seed");
    assert_eq!(report.users_created, 0);
    assert!(report.users_skipped.is_some());
    let columns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users'",
    )
    .fetch_one(&pool)
    .await
    .expect("columns");
    assert_eq!(columns, 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn reads_the_demo_back(pool: PgPool) {
    crate::seeded(&pool, 10).await;

    let list = migrations::list_summaries(&pool).await.expect("list");
    assert_eq!(list.len(), 1);
    let demo = &list[0];
    assert_eq!(demo.name, DEMO);
    assert_eq!((demo.phases_done, demo.phases_total), (0, 5));
    assert_eq!((demo.tasks_done, demo.tasks_total), (1, 5));
    let current = demo.current_phase.as_ref().expect("current phase");
    assert_eq!(current.position, Phase::Expand);
    assert_eq!(current.state, PhaseState::Pending);

    let spec = migrations::spec(&pool, DEMO).await.expect("spec");
    assert!(spec.blocks.len() > 20);

    let plan = migrations::plan(&pool, DEMO).await.expect("plan");
    let positions: Vec<Phase> = plan.phases.iter().map(|p| p.position).collect();
    assert_eq!(positions, Phase::ALL);
    assert!(plan.phases[0].depends_on.is_empty());
    // Phase 1's one task is done, with all three criteria ticked.
    let p1 = &plan.phases[0].tasks;
    assert_eq!(
        (p1.tasks, p1.tasks_done, p1.criteria, p1.criteria_done),
        (1, 1, 3, 3)
    );
    let p2 = &plan.phases[1].tasks;
    assert_eq!(
        (p2.tasks, p2.tasks_done, p2.criteria, p2.criteria_done),
        (1, 0, 3, 1)
    );
    for phase in &plan.phases[1..] {
        assert_eq!(
            phase.depends_on,
            phase.position.previous().into_iter().collect::<Vec<_>>()
        );
    }

    let tasks = migrations::tasks(&pool, DEMO).await.expect("tasks");
    assert_eq!(tasks.len(), 5);
    let backfill = tasks
        .iter()
        .find(|t| t.title == "Implement backfill job")
        .expect("backfill task");
    assert_eq!(backfill.status, TaskStatus::InProgress);
    assert_eq!(backfill.priority, Priority::Critical);
    assert_eq!(backfill.depends_on.len(), 1);
    assert_eq!(backfill.depends_on[0].title, "Write migration SQL");
    assert_eq!(backfill.criteria.len(), 3);
    assert_eq!(backfill.criteria.iter().filter(|c| c.done).count(), 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn current_phase_follows_phase_states(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    sqlx::query(
        "UPDATE switchyard.phase_states SET state = 'done'
         WHERE position <= 2",
    )
    .execute(&pool)
    .await
    .expect("update");
    sqlx::query("UPDATE switchyard.phase_states SET state = 'running' WHERE position = 3")
        .execute(&pool)
        .await
        .expect("update");
    let summary = migrations::find_summary(&pool, DEMO)
        .await
        .expect("summary");
    assert_eq!(summary.phases_done, 2);
    let current = summary.current_phase.expect("current");
    assert_eq!(
        (current.position, current.state),
        (Phase::DualWrite, PhaseState::Running)
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn unknown_migration_is_not_found(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    for result in [
        migrations::find_summary(&pool, "nope").await.map(|_| ()),
        migrations::spec(&pool, "nope").await.map(|_| ()),
        migrations::plan(&pool, "nope").await.map(|_| ()),
        migrations::tasks(&pool, "nope").await.map(|_| ()),
        migrations::phases(&pool, "nope").await.map(|_| ()),
    ] {
        assert!(matches!(result, Err(StoreError::NotFound(_))), "{result:?}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_corrupt_stored_spec_is_reported_not_panicked(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    sqlx::query(
        r#"UPDATE switchyard.specs SET blocks = '[{"type": "paragraph", "paragraph": 7}]'"#,
    )
    .execute(&pool)
    .await
    .expect("corrupt");
    let err = migrations::spec(&pool, DEMO)
        .await
        .expect_err("corrupt spec");
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
}

#[sqlx::test(migrations = false)]
async fn migrate_applies_our_schema_twice_without_error(pool: PgPool) {
    store::migrate(&pool).await.expect("first");
    store::migrate(&pool).await.expect("second");
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('switchyard.tasks') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .expect("query");
    assert!(exists);
}

// The database admits exactly the vocabulary's values: every event kind,
// phase, phase state and read flag the enums define, and nothing else.
#[sqlx::test(migrations = "./migrations")]
async fn the_schema_admits_exactly_the_vocabulary(pool: PgPool) {
    use switchyard::engine::{Event, ReadsFrom};
    crate::seeded(&pool, 0).await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM switchyard.migrations")
        .fetch_one(&pool)
        .await
        .expect("migration");
    async fn admits(pool: &PgPool, sql: &str, id: i64, value: &str) -> bool {
        let mut tx = pool.begin().await.expect("tx");
        let result = sqlx::query(sql)
            .bind(id)
            .bind(value)
            .execute(&mut *tx)
            .await;
        match result {
            Ok(_) => true,
            Err(e) => {
                let code = e.as_database_error().and_then(|d| d.code());
                assert_eq!(code.as_deref(), Some("23514"), "{e}");
                false
            }
        }
    }
    let event = "INSERT INTO switchyard.events (migration_id, actor, kind) VALUES ($1, 'test', $2)";
    for kind in Event::KINDS {
        assert!(admits(&pool, event, id, kind).await, "{kind}");
    }
    assert!(!admits(&pool, event, id, "not_an_event").await);
    let phase = "INSERT INTO switchyard.events (migration_id, actor, kind, phase) VALUES ($1, 'test', 'seeded', $2::smallint)";
    for p in Phase::ALL {
        assert!(admits(&pool, phase, id, &p.to_string()).await, "{p}");
    }
    for n in ["0", "6"] {
        assert!(!admits(&pool, phase, id, n).await, "{n}");
    }
    let state = "UPDATE switchyard.phase_states SET state = $2 WHERE migration_id = $1";
    for s in PhaseState::ALL {
        assert!(admits(&pool, state, id, s.as_str()).await, "{s}");
    }
    assert!(!admits(&pool, state, id, "exploded").await);
    let flag = "INSERT INTO switchyard.read_flags (migration_name, reads_from)
                SELECT name, $2 FROM switchyard.migrations WHERE id = $1";
    for r in ReadsFrom::ALL {
        assert!(admits(&pool, flag, id, r.as_str()).await, "{r}");
    }
    assert!(!admits(&pool, flag, id, "both").await);
}
