//! The plan as a versioned document, against a real Postgres.

use crate::DEMO;
use sqlx::PgPool;
use switchyard::model::plan::PlanEdit;
use switchyard::store::{migrations, plans, StoreError};

async fn current(pool: &PgPool) -> PlanEdit {
    plans::history(pool, DEMO)
        .await
        .expect("history")
        .remove(0)
        .plan
}

#[sqlx::test(migrations = "./migrations")]
async fn saves_make_versions_and_stale_saves_conflict(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let history = plans::history(&pool, DEMO).await.expect("history");
    assert_eq!(history.len(), 1, "the seed is revision 1");
    assert_eq!(history[0].plan.phases.len(), 5);

    let mut edit = current(&pool).await;
    edit.body_markdown = "New body".into();
    edit.phases[0].owner = "  Zoe ".into();
    edit.phases[0].blockers = "waiting for DBA review".into();
    let rev = plans::save(&pool, DEMO, 1, edit.clone(), "alice")
        .await
        .expect("save");
    assert_eq!(rev, 2);

    let plan = migrations::plan(&pool, DEMO).await.expect("plan");
    assert_eq!(plan.revision, 2);
    assert_eq!(plan.body_markdown, "New body");
    assert_eq!(plan.phases[0].owner.as_deref(), Some("Zoe"));
    assert_eq!(plan.phases[0].blockers, "waiting for DBA review");

    // Someone still on revision 1 cannot overwrite revision 2.
    let mut stale = edit.clone();
    stale.body_markdown = "Stale body".into();
    let err = plans::save(&pool, DEMO, 1, stale, "bob")
        .await
        .expect_err("conflict");
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("revision 2")),
        "{err:?}"
    );
    assert_eq!(
        migrations::plan(&pool, DEMO)
            .await
            .expect("plan")
            .body_markdown,
        "New body"
    );

    // Restore revision 1 as revision 3.
    let rev = plans::restore(&pool, DEMO, 1, 2, "carol")
        .await
        .expect("restore");
    assert_eq!(rev, 3);
    let restored = migrations::plan(&pool, DEMO).await.expect("plan");
    assert_eq!(
        restored.body_markdown,
        plans::version(&pool, DEMO, 1)
            .await
            .expect("v1")
            .plan
            .body_markdown
    );
    let history = plans::history(&pool, DEMO).await.expect("history");
    let by: Vec<(i32, &str)> = history
        .iter()
        .map(|v| (v.revision, v.saved_by.as_str()))
        .collect();
    assert_eq!(by, vec![(3, "carol"), (2, "alice"), (1, "system")]);
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_plan_input_is_refused_and_nothing_saved(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let mut edit = current(&pool).await;
    edit.phases[2].owner = "x".repeat(101);
    let err = plans::save(&pool, DEMO, 1, edit, "a")
        .await
        .expect_err("too long");
    assert!(
        matches!(err, StoreError::Invalid { ref field, .. } if field == "phases[2].owner"),
        "{err:?}"
    );
    assert_eq!(
        migrations::plan(&pool, DEMO).await.expect("plan").revision,
        1
    );
    assert!(matches!(
        plans::version(&pool, DEMO, 42).await,
        Err(StoreError::NotFound(_))
    ));
}

// What a phase waits for is decided by the server and carried in the plan
// view; the page shows it as it is.
#[sqlx::test(migrations = "./migrations")]
async fn the_plan_view_says_what_each_phase_waits_for(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let plan = migrations::plan(&pool, DEMO).await.expect("plan");
    assert_eq!(plan.phases[0].waiting, None, "phase 1 depends on nothing");
    let waiting = plan.phases[1].waiting.clone().expect("phase 2 waits");
    assert!(
        waiting.starts_with("Waiting: phase 1 (") && waiting.ends_with("is Pending"),
        "{waiting}"
    );
    sqlx::query("UPDATE switchyard.phase_states SET state = 'done' WHERE position = 1")
        .execute(&pool)
        .await
        .expect("phase 1 done");
    let plan = migrations::plan(&pool, DEMO).await.expect("plan");
    assert_eq!(plan.phases[1].waiting, None, "its dependency is done");
    let waiting = plan.phases[2].waiting.clone().expect("phase 3 waits");
    assert!(waiting.contains("phase 2 ("), "{waiting}");
}
