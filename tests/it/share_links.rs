//! Share links managed from the migration's page (operators and admins),
//! and the share page's live feed, which a revocation ends at once.

use crate::http::{call_as, get_as, header, send, signed_in_as, OPERATOR};
use crate::DEMO;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::StreamExt;
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use std::time::Duration;
use switchyard::api::shares::{CreateShareLink, RevokeShareLink};
use switchyard::model::account::Role;
use switchyard::model::share::{ShareLinkState, ShareLinks};
use switchyard::store::shares;
use tower::ServiceExt;

fn token_in(text: &str) -> Option<String> {
    let at = text.find("/s/")? + 3;
    let token: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect();
    (token.len() == 32).then_some(token)
}

#[sqlx::test(migrations = "./migrations")]
async fn operators_create_list_and_revoke_links_and_each_is_an_event(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let viewer = signed_in_as(&pool, "viewer@example.com", Role::Viewer).await;
    let ops = signed_in_as(&pool, OPERATOR, Role::Operator).await;
    let create = format!("name={DEMO}&label=for+%23payments&expires_hours=");

    let (status, _) = call_as(&pool, None, CreateShareLink::PATH, &create).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = call_as(&pool, Some(&viewer), CreateShareLink::PATH, &create).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let r = get_as(&pool, &format!("/m/{DEMO}/share"), Some(&viewer)).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&r.body);
    assert!(html.contains("operators only"), "{html}");
    assert!(!html.contains("Create link"), "{html}");

    let (status, body) = call_as(&pool, Some(&ops), CreateShareLink::PATH, &create).await;
    assert!(status.is_success(), "{status}: {body}");
    let answer: ShareLinks = serde_json::from_str(&body).expect("links");
    let created = answer.created.expect("the new link, with its token");
    let token = token_in(&created.path).expect("a 32-digit token");
    assert_eq!(answer.links.len(), 1);
    assert_eq!(answer.links[0].label, "for #payments");
    assert_eq!(answer.links[0].state, ShareLinkState::Active);
    assert_eq!(answer.links[0].last_used_at, None);
    assert!(!body.contains("token_sha256"));
    // Stored only as its hash.
    let in_clear: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM switchyard.share_links WHERE position($1 in encode(token_sha256, 'escape')) > 0 OR label LIKE '%' || $1 || '%'",
    )
    .bind(&token)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(in_clear, 0);

    // Used once: the list shows when; the token is not shown again.
    assert_eq!(
        get_as(&pool, &created.path, None).await.status,
        StatusCode::OK
    );
    let r = get_as(&pool, &format!("/m/{DEMO}/share"), Some(&ops)).await;
    let html = String::from_utf8_lossy(&r.body);
    assert!(html.contains("for #payments"), "{html}");
    assert!(
        !html.contains(&token),
        "the token is shown only at creation"
    );
    let listed = shares::list(&pool, DEMO).await.expect("list");
    assert!(listed[0].last_used_at.is_some());

    // Bad expiry.
    let (status, body) = call_as(
        &pool,
        Some(&ops),
        CreateShareLink::PATH,
        &format!("name={DEMO}&label=x&expires_hours=-3"),
    )
    .await;
    assert!(!status.is_success());
    assert!(body.contains("expires_hours"), "{body}");

    let id = created.id;
    let (status, _) = call_as(
        &pool,
        Some(&viewer),
        RevokeShareLink::PATH,
        &format!("name={DEMO}&id={id}"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call_as(
        &pool,
        Some(&ops),
        RevokeShareLink::PATH,
        &format!("name={DEMO}&id={id}"),
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    let answer: ShareLinks = serde_json::from_str(&body).expect("links");
    assert_eq!(answer.links[0].state, ShareLinkState::Revoked);
    assert_eq!(
        get_as(&pool, &created.path, None).await.status,
        StatusCode::GONE
    );
    // A link of no such migration (or of another one) is not found.
    let (status, body) = call_as(
        &pool,
        Some(&ops),
        RevokeShareLink::PATH,
        &format!("name=other&id={id}"),
    )
    .await;
    assert!(!status.is_success());
    assert!(body.contains("NotFound"), "{body}");

    let kinds: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, actor FROM switchyard.events WHERE kind LIKE 'share_%' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("events");
    assert_eq!(
        kinds,
        [
            ("share_created".to_string(), OPERATOR.to_string()),
            ("share_revoked".to_string(), OPERATOR.to_string())
        ]
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_link_created_without_javascript_is_shown_once_on_the_page(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let ops = signed_in_as(&pool, OPERATOR, Role::Operator).await;
    let page = format!("http://localhost/m/{DEMO}/share");
    let request = Request::post(CreateShareLink::PATH)
        .header("cookie", &ops)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("referer", &page)
        .body(Body::from(format!(
            "name={DEMO}&label=wiki&expires_hours=24"
        )))
        .expect("request");
    let r = send(crate::http::app_of_pool(&pool), request).await;
    assert!(r.status.is_redirection(), "{}", r.status);
    let back = header(&r, "location").unwrap_or_default();
    assert!(back.starts_with(&page), "{back}");
    assert!(!back.contains("__err"), "{back}");
    // Every stored session record while the token waits for its page.
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT data FROM switchyard.sessions")
        .fetch_all(&pool)
        .await
        .expect("sessions");
    let r = get_as(&pool, &format!("/m/{DEMO}/share"), Some(&ops)).await;
    let html = String::from_utf8_lossy(&r.body);
    let token = token_in(&html).expect("the new link on the page");
    assert!(!stored.is_empty(), "the operator's session is stored");
    assert!(
        stored
            .iter()
            .all(|data| !data.windows(token.len()).any(|w| w == token.as_bytes())),
        "the token is never written to a session record"
    );
    assert!(html.contains("not shown again"), "{html}");
    let link = &shares::list(&pool, DEMO).await.expect("list")[0];
    assert!(link.expires_at.is_some());
    let r = get_as(&pool, &format!("/m/{DEMO}/share"), Some(&ops)).await;
    assert!(
        !String::from_utf8_lossy(&r.body).contains(&token),
        "shown once"
    );
}

/// Reads SSE text from `stream` until `needle` appears or `within` passes;
/// returns what was read and whether the stream ended.
async fn read_until(
    stream: &mut axum::body::BodyDataStream,
    needle: &str,
    within: Duration,
) -> (String, bool) {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(bytes))) => {
                text.push_str(&String::from_utf8_lossy(&bytes));
                if text.contains(needle) {
                    return (text, false);
                }
            }
            Ok(Some(Err(e))) => panic!("stream error: {e}"),
            Ok(None) => return (text, true),
            Err(_) => return (text, false),
        }
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn the_share_feed_is_live_and_a_revocation_ends_it_at_once(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (link, token) = shares::create(&pool, DEMO, "chat", None, OPERATOR)
        .await
        .expect("create");
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (next_tx, next_rx) = tokio::sync::oneshot::channel::<()>();
    let app_pool = pool.clone();
    let path = format!("/s/{token}/live");
    let feed = crate::http::server_runtime().spawn(async move {
        let app = crate::http::app(app_pool);
        let response = app
            .oneshot(Request::get(&path).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let mut stream = response.into_body().into_data_stream();
        let (first, _) = read_until(&mut stream, "event: shared", Duration::from_secs(10)).await;
        let _ = ready_tx.send(first);
        // A change reaches the feed.
        let (changed, _) = read_until(&mut stream, "event: shared", Duration::from_secs(10)).await;
        let _ = next_rx.await;
        let started = std::time::Instant::now();
        let (rest, ended) = read_until(&mut stream, "event: gone", Duration::from_secs(10)).await;
        let (_, ended_after) = if ended {
            (String::new(), true)
        } else {
            read_until(&mut stream, "never", Duration::from_secs(5)).await
        };
        (changed, rest, ended_after, started.elapsed())
    });
    let first = ready_rx.await.expect("the first message");
    assert!(first.contains("Phase 1 of 5"), "{first}");
    assert!(!first.contains(OPERATOR), "no emails on the share feed");
    // The feed's hub listens once the router is built: give LISTEN a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    switchyard::approvals::set_policy(
        &pool,
        DEMO,
        switchyard::model::Phase::SwitchReads,
        true,
        "admin@example.com",
    )
    .await
    .expect("an event of the migration");
    tokio::time::sleep(Duration::from_millis(300)).await;
    shares::revoke(&pool, link.id, OPERATOR)
        .await
        .expect("revoke");
    let _ = next_tx.send(());
    let (changed, rest, ended, took) = feed.await.expect("the feed's task");
    assert!(changed.contains("event: shared"), "an update: {changed}");
    assert!(!changed.contains("admin@example.com"));
    assert!(rest.contains("event: gone"), "{rest}");
    assert!(ended, "the stream ends after saying so");
    assert!(
        took < Duration::from_secs(5),
        "at once, not at a recheck: {took:?}"
    );
    // Asked again: 410, like the page.
    let r = get_as(&pool, &format!("/s/{token}/live"), None).await;
    assert_eq!(r.status, StatusCode::GONE);
}
