//! Audit events of accounts (sign-ins, sign-outs, failed sign-ins, account
//! changes), the admin page, and live feeds that end with their session.

use crate::http::{call_as, get_as, send, sign_in, signed_in_as, OPERATOR, PASSWORD};
use crate::DEMO;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::StreamExt;
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use std::time::Duration;
use switchyard::api::accounts::ChangeAccount;
use switchyard::model::account::Role;
use tower::ServiceExt;

const ADMIN: &str = "admin@example.com";

async fn events_of(pool: &PgPool, actor: &str) -> Vec<(String, Option<i64>)> {
    sqlx::query_as("SELECT kind, migration_id FROM switchyard.events WHERE actor = $1 ORDER BY id")
        .bind(actor)
        .fetch_all(pool)
        .await
        .expect("events")
}

fn kinds(events: &[(String, Option<i64>)]) -> Vec<&str> {
    events.iter().map(|(k, _)| k.as_str()).collect()
}

async fn logout(pool: &PgPool, cookie: &str) -> StatusCode {
    let request = Request::post("/logout")
        .header("cookie", cookie)
        .body(Body::empty())
        .expect("request");
    send(crate::http::app_of_pool(pool), request).await.status
}

#[sqlx::test(migrations = "./migrations")]
async fn sign_ins_sign_outs_and_failures_are_events_of_their_actor(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let cookie = signed_in_as(&pool, OPERATOR, Role::Operator).await;
    let r = sign_in(&pool, "  OPS@example.com ", "wrong password!", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = sign_in(&pool, "nobody@example.com", "wrong password!", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(logout(&pool, &cookie).await, StatusCode::SEE_OTHER);
    let events = events_of(&pool, OPERATOR).await;
    assert_eq!(
        kinds(&events),
        ["signed_in", "sign_in_failed", "signed_out"],
        "the failure is filed under the email as typed (trimmed, lower-cased)"
    );
    assert!(events.iter().all(|(_, m)| m.is_none()), "of no migration");
    assert_eq!(
        kinds(&events_of(&pool, "nobody@example.com").await),
        ["sign_in_failed"]
    );
    // The console's log of the migration does not carry them.
    let v = switchyard::console::Console::new(pool.clone(), Default::default())
        .view(DEMO)
        .await
        .expect("view");
    assert!(v.events.iter().all(|e| e.kind != "signed_in"));
}

#[sqlx::test(migrations = "./migrations")]
async fn admins_change_accounts_from_the_page_and_read_the_audit_log_by_actor(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let admin = signed_in_as(&pool, ADMIN, Role::Admin).await;
    let ops = signed_in_as(&pool, OPERATOR, Role::Operator).await;
    switchyard::accounts::add(&pool, "viewer@example.com", PASSWORD, Role::Viewer)
        .await
        .expect("viewer");

    // Only admins: the page says so, the server refuses.
    let r = get_as(&pool, "/admin", Some(&ops)).await;
    let html = String::from_utf8_lossy(&r.body);
    assert!(html.contains("admins only"), "{html}");
    assert!(!html.contains("viewer@example.com"), "{html}");
    let promote = "email=viewer%40example.com&action=SetRole&role=Operator";
    let (status, _) = call_as(&pool, Some(&ops), ChangeAccount::PATH, promote).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call_as(&pool, None, ChangeAccount::PATH, promote).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let r = get_as(&pool, "/admin", Some(&admin)).await;
    let html = String::from_utf8_lossy(&r.body);
    for shown in ["viewer@example.com", OPERATOR, "Audit log", "signed in"] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
    let (status, body) = call_as(&pool, Some(&admin), ChangeAccount::PATH, promote).await;
    assert!(status.is_success(), "{status}: {body}");
    let role: String = sqlx::query_scalar(
        "SELECT role FROM switchyard.accounts WHERE email = 'viewer@example.com'",
    )
    .fetch_one(&pool)
    .await
    .expect("role");
    assert_eq!(role, "operator");
    // Not their own role, not without a role, not an unknown action.
    let (status, body) = call_as(
        &pool,
        Some(&admin),
        ChangeAccount::PATH,
        "email=ADMIN%40example.com&action=SetRole&role=Viewer",
    )
    .await;
    assert!(!status.is_success());
    assert!(body.contains("another admin"), "{body}");
    let (status, _) = call_as(
        &pool,
        Some(&admin),
        ChangeAccount::PATH,
        "email=viewer%40example.com&action=SetRole",
    )
    .await;
    assert!(!status.is_success());
    let (status, _) = call_as(
        &pool,
        Some(&admin),
        ChangeAccount::PATH,
        "email=viewer%40example.com&action=Explode",
    )
    .await;
    assert!(!status.is_success());

    // Disabling ends the operator's session at its next request.
    let (status, body) = call_as(
        &pool,
        Some(&admin),
        ChangeAccount::PATH,
        "email=ops%40example.com&action=Disable",
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    let r = get_as(&pool, "/", Some(&ops)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    let admin_events = kinds(&events_of(&pool, ADMIN).await)
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(
        admin_events,
        ["signed_in", "account_changed", "account_changed"]
    );
    // Filtered by actor: only that actor's entries.
    let r = get_as(&pool, "/admin?actor=OPS%40", Some(&admin)).await;
    let html = String::from_utf8_lossy(&r.body);
    let log = html
        .split(r#"<ol class="audit-log">"#)
        .nth(1)
        .expect("the audit log");
    assert!(log.contains(OPERATOR), "{log}");
    assert!(!log.contains(ADMIN), "{log}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_console_feed_ends_when_its_session_signs_out(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let cookie = signed_in_as(&pool, OPERATOR, Role::Operator).await;
    let other = signed_in_as(&pool, "other@example.com", Role::Viewer).await;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let app_pool = pool.clone();
    let feed_cookie = cookie.clone();
    let feed = crate::http::server_runtime().spawn(async move {
        let app = crate::http::app(app_pool);
        let response = app
            .oneshot(
                Request::get(format!("/live/{DEMO}"))
                    .header("cookie", feed_cookie)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let mut stream = response.into_body().into_data_stream();
        let mut text = String::new();
        while !text.contains("event: console") {
            match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
                Ok(Some(Ok(bytes))) => text.push_str(&String::from_utf8_lossy(&bytes)),
                other => panic!("no first message: {other:?}"),
            }
        }
        let _ = ready_tx.send(());
        // Nothing more is expected but the end of the stream.
        until_end(&mut stream, Duration::from_secs(10)).await
    });
    ready_rx.await.expect("the first message");
    // The first message comes once the feed's hub is LISTENing.
    // Another account signing out does not end it.
    assert_eq!(logout(&pool, &other).await, StatusCode::SEE_OTHER);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !feed.is_finished(),
        "another session's sign-out ended the feed"
    );
    assert_eq!(logout(&pool, &cookie).await, StatusCode::SEE_OTHER);
    let took = feed
        .await
        .expect("the feed's task")
        .expect("the feed ended after the sign-out");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

/// Reads a feed until it ends: how long that took, or None when nothing
/// came for `quiet` (the feed is still open).
async fn until_end(stream: &mut axum::body::BodyDataStream, quiet: Duration) -> Option<Duration> {
    let started = std::time::Instant::now();
    loop {
        match tokio::time::timeout(quiet, stream.next()).await {
            Ok(Some(Ok(_))) => continue,
            Ok(None) => return Some(started.elapsed()),
            Ok(Some(Err(e))) => panic!("stream error: {e}"),
            Err(_) => return None,
        }
    }
}

/// A feed opened near the end of its session's absolute limit ends at
/// that limit by itself, though the session is used and nothing happens.
#[sqlx::test(migrations = "./migrations")]
async fn a_console_feed_ends_at_its_sessions_absolute_limit(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let cookie = signed_in_as(&pool, OPERATOR, Role::Operator).await;
    let app_pool = pool.clone();
    let feed = crate::http::server_runtime().spawn(async move {
        // Sessions of this router last 3 s from sign-in.
        let auth = switchyard::server::auth::AuthSettings {
            absolute: Duration::from_secs(3),
            ..Default::default()
        };
        let app = crate::http::app_with(app_pool, auth);
        let response = app
            .oneshot(
                Request::get(format!("/live/{DEMO}"))
                    .header("cookie", cookie)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let mut stream = response.into_body().into_data_stream();
        until_end(&mut stream, Duration::from_secs(20)).await
    });
    let took = feed
        .await
        .expect("the feed's task")
        .expect("the feed ended at the session's limit");
    // Well before the 30 s recheck of an idle session.
    assert!(took < Duration::from_secs(6), "{took:?}");
}

/// Posts the "Add an account" form as a browser without JavaScript does
/// (from `/admin`, asking for a page); returns the page it is sent back to.
async fn add_from_the_page(
    pool: &PgPool,
    cookie: &str,
    email: &str,
    role: &str,
    password: &str,
    confirm: &str,
) -> String {
    use crate::http::encode;
    let form = format!(
        "email={}&role={role}&password={}&confirm={}",
        encode(email),
        encode(password),
        encode(confirm)
    );
    post_from_the_page(
        pool,
        cookie,
        switchyard::api::accounts::AddAccount::PATH,
        form,
    )
    .await
}

/// Posts `form` to `path` from `/admin` without JavaScript; returns the
/// page it is sent back to.
async fn post_from_the_page(pool: &PgPool, cookie: &str, path: &str, form: String) -> String {
    use crate::http::header;
    let request = Request::post(path)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("referer", "http://localhost/admin")
        .body(Body::from(form))
        .expect("request");
    let r = send(crate::http::app_of_pool(pool), request).await;
    assert!(r.status.is_redirection(), "{}", r.status);
    let location = header(&r, "location").expect("a Location header");
    location.trim_start_matches("http://localhost").to_string()
}

#[sqlx::test(migrations = "./migrations")]
async fn an_admin_adds_an_account_from_the_page_and_refusals_are_shown_beside_their_field(
    pool: PgPool,
) {
    crate::seeded(&pool, 0).await;
    let admin = signed_in_as(&pool, ADMIN, Role::Admin).await;
    let r = get_as(&pool, "/admin", Some(&admin)).await;
    let html = String::from_utf8_lossy(&r.body);
    assert!(
        html.contains(r#"aria-label="Add an account""#) && html.contains(r#"name="confirm""#),
        "{html}"
    );

    // Refusals: back to the page, the refusal beside its field, nothing added.
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM switchyard.accounts")
            .fetch_one(&pool)
            .await
            .expect("count")
    };
    let before = count().await;
    for (email, password, confirm, field, says) in [
        (
            "not an email",
            PASSWORD,
            PASSWORD,
            "email",
            "expected an email address",
        ),
        (
            " ADMIN@example.com",
            PASSWORD,
            PASSWORD,
            "email",
            "exists already",
        ),
        (
            "new@example.com",
            "short",
            "short",
            "password",
            "10 to 1024 characters",
        ),
        (
            "new@example.com",
            PASSWORD,
            "another password",
            "confirm",
            "the two passwords differ",
        ),
    ] {
        let back = add_from_the_page(&pool, &admin, email, "Operator", password, confirm).await;
        assert!(
            back.starts_with("/admin?") && back.contains("__err="),
            "{back}"
        );
        assert!(!back.contains("horse"), "a password in the URL: {back}");
        let html =
            String::from_utf8_lossy(&get_as(&pool, &back, Some(&admin)).await.body).into_owned();
        let beside = html
            .split(&format!(r#"data-field="{field}""#))
            .nth(1)
            .unwrap_or_else(|| panic!("no refusal beside {field}: {html}"));
        assert!(
            beside.split("</span>").next().unwrap_or("").contains(says),
            "{field}: {says}: {beside}"
        );
    }
    assert_eq!(count().await, before, "nothing added");
    // A refused change (the admin's own role) is shown decoded, above the list.
    let back = post_from_the_page(
        &pool,
        &admin,
        ChangeAccount::PATH,
        "email=admin%40example.com&action=SetRole&role=Viewer".into(),
    )
    .await;
    let html = String::from_utf8_lossy(&get_as(&pool, &back, Some(&admin)).await.body).into_owned();
    assert!(
        html.contains("Refused: email: you cannot change your own role"),
        "{html}"
    );

    // Added: listed, hashed with argon2id, recorded with the admin as actor.
    let back = add_from_the_page(
        &pool,
        &admin,
        "New@Example.com",
        "Operator",
        PASSWORD,
        PASSWORD,
    )
    .await;
    assert_eq!(back.trim_end_matches('?'), "/admin", "back to the page");
    let r = get_as(&pool, "/admin", Some(&admin)).await;
    let html = String::from_utf8_lossy(&r.body);
    assert!(html.contains(r#"data-email="New@Example.com""#), "{html}");
    let (role, hash): (String, String) = sqlx::query_as(
        "SELECT role, password_hash FROM switchyard.accounts WHERE email = 'New@Example.com'",
    )
    .fetch_one(&pool)
    .await
    .expect("the account");
    assert_eq!(role, "operator");
    assert!(
        hash.starts_with("$argon2id$") && !hash.contains("horse"),
        "{hash}"
    );
    let (kind, data): (String, serde_json::Value) = sqlx::query_as(
        "SELECT kind, payload FROM switchyard.events WHERE actor = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(ADMIN)
    .fetch_one(&pool)
    .await
    .expect("the event");
    assert_eq!(kind, "account_added");
    assert!(data.to_string().contains("New@Example.com"), "{data}");
    // The new operator signs in with the initial password.
    let r = sign_in(&pool, "new@example.com", PASSWORD, None).await;
    assert!(
        crate::http::session_cookie(&r).is_some(),
        "{:?}",
        r.headers.get("location")
    );

    // With JavaScript (the server function's own encoding): the same rules.
    let (status, body) = call_as(
        &pool,
        Some(&admin),
        switchyard::api::accounts::AddAccount::PATH,
        "email=new%40example.com&role=Viewer&password=correct+horse+battery&confirm=correct+horse+battery",
    )
    .await;
    assert!(!status.is_success());
    assert!(body.contains("exists already"), "{body}");
}
