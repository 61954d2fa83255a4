//! The real router (pages and server functions) over a real database.

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use leptos::prelude::LeptosOptions;
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use tower::ServiceExt;

fn app(pool: PgPool) -> axum::Router {
    let options = LeptosOptions::builder()
        .output_name("switchyard")
        .site_root("target/site")
        .build();
    switchyard::server::app::router(options, pool, switchyard::console::Settings::default())
}

async fn get(pool: &PgPool, uri: &str) -> (StatusCode, String) {
    let response = app(pool.clone())
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let body = to_bytes(response.into_body(), 10 * 1024 * 1024)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[sqlx::test(migrations = "./migrations")]
async fn home_page_lists_the_seeded_migration(pool: PgPool) {
    switchyard::store::seed::seed_demo(&pool, 0)
        .await
        .expect("seed");
    let (status, html) = get(&pool, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("User Preferences Schema Migration"), "{html}");
    assert!(html.contains("Phase 1 of 5: Create new tables with indexes"));
    assert!(html.contains("href=\"/m/user-preferences\""));
}

#[sqlx::test(migrations = "./migrations")]
async fn migration_page_renders_spec_from_the_database(pool: PgPool) {
    switchyard::store::seed::seed_demo(&pool, 0)
        .await
        .expect("seed");
    // Change the stored spec: the page must show what the database holds.
    sqlx::query(
        r#"UPDATE switchyard.specs SET blocks = '[{"type":"code","code":{"language":"sql",
           "rich_text":[{"type":"text","plain_text":"SELECT 42 AS answer","href":null}]}}]'"#,
    )
    .execute(&pool)
    .await
    .expect("update");
    let (status, html) = get(&pool, "/m/user-preferences").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("SELECT 42 AS answer"), "{html}");
    assert!(html.contains("data-language=\"sql\""));
}

#[sqlx::test(migrations = "./migrations")]
async fn unknown_migration_is_a_404(pool: PgPool) {
    switchyard::store::seed::seed_demo(&pool, 0)
        .await
        .expect("seed");
    let (status, html) = get(&pool, "/m/does-not-exist").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Not found"));
}

#[sqlx::test(migrations = "./migrations")]
async fn hostile_links_in_a_spec_are_not_rendered_as_links(pool: PgPool) {
    switchyard::store::seed::seed_demo(&pool, 0)
        .await
        .expect("seed");
    sqlx::query(
        r#"UPDATE switchyard.specs SET blocks = '[{"type":"paragraph","paragraph":{
           "rich_text":[{"type":"text","plain_text":"<script>alert(1)</script> click",
                          "href":"javascript:alert(1)"}]}}]'"#,
    )
    .execute(&pool)
    .await
    .expect("update");
    let (status, html) = get(&pool, "/m/user-preferences").await;
    assert_eq!(status, StatusCode::OK);
    // The text may appear in the serialised hydration data, never as a link.
    assert!(!html.contains("href=\"javascript:"));
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; click"));
}

#[sqlx::test(migrations = "./migrations")]
async fn read_flag_endpoint_reports_where_to_read(pool: PgPool) {
    switchyard::store::seed::seed_demo(&pool, 0)
        .await
        .expect("seed");
    let (status, body) = get(&pool, "/flags/user-preferences").await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["reads_from"], "source");
    sqlx::query("INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ('user-preferences', 'targets')")
        .execute(&pool)
        .await
        .expect("flip");
    let (_, body) = get(&pool, "/flags/user-preferences").await;
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["reads_from"], "targets");
    let (status, _) = get(&pool, "/flags/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Calls a server function the way the browser does (URL-encoded POST).
async fn call(pool: &PgPool, path: &str, form: &str) -> (StatusCode, String) {
    let response = app(pool.clone())
        .oneshot(
            Request::post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(Body::from(form.to_string()))
                .expect("request"),
        )
        .await
        .expect("response");
    let status = response.status();
    let body = to_bytes(response.into_body(), 1024 * 1024)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[sqlx::test(migrations = "./migrations")]
async fn move_task_server_fn_refuses_unknown_statuses_and_stale_revisions(pool: PgPool) {
    use switchyard::api::tasks::MoveTask;
    switchyard::store::seed::seed_demo(&pool, 0)
        .await
        .expect("seed");
    let (id, rev): (i64, i32) =
        sqlx::query_as("SELECT id, revision FROM switchyard.tasks WHERE title = 'Add dual-write'")
            .fetch_one(&pool)
            .await
            .expect("task");
    let (status, body) = call(
        &pool,
        MoveTask::PATH,
        &format!("name=user-preferences&task_id={id}&status=Shipped&revision={rev}"),
    )
    .await;
    assert!(!status.is_success(), "{status}");
    assert!(
        body.contains("status") && body.contains("Shipped"),
        "{body}"
    );

    let (status, body) = call(
        &pool,
        MoveTask::PATH,
        &format!("name=user-preferences&task_id={id}&status=Done&revision={rev}"),
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(body.trim(), (rev + 1).to_string());

    let (status, body) = call(
        &pool,
        MoveTask::PATH,
        &format!("name=user-preferences&task_id={id}&status=Blocked&revision={rev}"),
    )
    .await;
    assert!(!status.is_success());
    assert!(body.contains("Conflict"), "{body}");
    let stored: String = sqlx::query_scalar("SELECT status FROM switchyard.tasks WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("status");
    assert_eq!(stored, "Done", "the stale move changed nothing");
}

#[sqlx::test(migrations = "./migrations")]
async fn act_on_phase_server_fn_refuses_out_of_order(pool: PgPool) {
    use switchyard::api::console::ActOnPhase;
    switchyard::store::seed::seed_demo(&pool, 0)
        .await
        .expect("seed");
    let (status, body) = call(
        &pool,
        ActOnPhase::PATH,
        "name=user-preferences&phase=3&action=Run&accept_quarantine=false",
    )
    .await;
    assert!(!status.is_success(), "{status}");
    assert!(body.contains("phases run in order"), "{body}");
}
