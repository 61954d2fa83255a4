//! Share links: the token, what it opens, and that it changes nothing.

use crate::http::{call_as, get_as, operator};
use crate::DEMO;
use axum::http::StatusCode;
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use switchyard::store::shares::{self, Resolved};

#[sqlx::test(migrations = "./migrations")]
async fn a_token_is_random_stored_only_as_its_hash_and_opens_one_migration(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (link, token) = shares::create(&pool, DEMO, "for #payments", None, "ops@example.com")
        .await
        .expect("create");
    assert_eq!(token.len(), 32, "128 bits as hex");
    let (_, other) = shares::create(&pool, DEMO, "", None, "ops@example.com")
        .await
        .expect("create");
    assert_ne!(token, other);
    // Nowhere in the table, in any column, as text.
    let stored: String =
        sqlx::query_scalar("SELECT string_agg(t::text, '|') FROM switchyard.share_links t")
            .fetch_one(&pool)
            .await
            .expect("rows");
    assert!(
        !stored.contains(&token) && !stored.contains(&other),
        "{stored}"
    );
    assert_eq!(link.label, "for #payments");

    assert_eq!(
        shares::resolve(&pool, &token).await.expect("resolve"),
        Resolved::Open(DEMO.to_string())
    );
    let listed = shares::list(&pool, DEMO).await.expect("list");
    assert!(listed
        .iter()
        .any(|l| l.id == link.id && l.last_used_at.is_some()));
    for bad in ["", "nope", &"0".repeat(32), &format!("{token}0")] {
        assert_eq!(
            shares::resolve(&pool, bad).await.expect("resolve"),
            Resolved::Unknown,
            "{bad}"
        );
    }
    // Unknown migration, past expiry: refused.
    assert!(shares::create(&pool, "nope", "", None, "x").await.is_err());
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    assert!(shares::create(&pool, DEMO, "", Some(past), "x")
        .await
        .is_err());
}

#[sqlx::test(migrations = "./migrations")]
async fn the_share_page_is_read_only_and_stops_at_once_when_revoked(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (link, token) = shares::create(&pool, DEMO, "chat", None, "ops@example.com")
        .await
        .expect("create");
    let page = format!("/s/{token}");
    let r = get_as(&pool, &page, None).await;
    assert_eq!(r.status, StatusCode::OK);
    // Its address is the secret: no Referer leaves it, no index keeps it.
    assert_eq!(
        crate::http::header(&r, "referrer-policy"),
        Some("no-referrer")
    );
    assert_eq!(
        crate::http::header(&r, "x-robots-tag"),
        Some("noindex, nofollow")
    );
    let html = String::from_utf8_lossy(&r.body);
    for shown in [
        "User Preferences Schema Migration",
        "Read-only view, shared by link",
        r#"property="og:description" content="Phase 1 of 5: Create new tables with indexes (pending), 0% done""#,
        "Phase 1: Create new tables with indexes",
        "Add dual-write",
    ] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
    // No control, no way into the signed-in pages, no emails or recipe path.
    // (The spec's to-do blocks are disabled checkboxes: shown, not inputs.)
    for tag in html.split("<input").skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        assert!(
            tag.contains("disabled"),
            "an input on the share page: {tag}"
        );
    }
    for hidden in [
        "<button",
        "<form",
        "<textarea",
        "<select",
        "ops@example.com",
        "recipes/",
        "/dry-run/",
        "Sign out",
    ] {
        assert!(!html.contains(hidden), "{hidden} on the share page: {html}");
    }
    // The token is not a session: the signed-in pages and every server
    // function stay closed to it.
    let r = get_as(&pool, &format!("/m/{DEMO}"), None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (status, _) = call_as(
        &pool,
        None,
        switchyard::api::shares::GetShared::PATH,
        &format!("token={token}"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Presented as a share link's credentials (from its page, in the query,
    // as a bearer token), it is refused outright, for reads and changes.
    for (path, body) in [
        (
            switchyard::api::shares::GetShared::PATH,
            format!("token={token}"),
        ),
        (
            switchyard::api::console::ActOnPhase::PATH,
            format!("name={DEMO}&phase=expand&action=Run&accept_quarantine=false"),
        ),
    ] {
        for request in [
            axum::http::Request::post(path)
                .header("referer", format!("http://localhost/s/{token}")),
            axum::http::Request::post(format!("{path}?token={token}")),
            axum::http::Request::post(path).header("authorization", format!("Bearer {token}")),
        ] {
            let request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body.clone()))
                .expect("request");
            let r = crate::http::send(crate::http::app_of_pool(&pool), request).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        }
    }

    // Revoked: at once, a clear page, 410.
    shares::revoke(&pool, link.id, "ops@example.com")
        .await
        .expect("revoke");
    let r = get_as(&pool, &page, None).await;
    assert_eq!(r.status, StatusCode::GONE);
    let html = String::from_utf8_lossy(&r.body);
    assert!(html.contains("This share link was revoked."), "{html}");
    // Expired, unknown.
    let (expiring, token2) = shares::create(
        &pool,
        DEMO,
        "",
        Some(chrono::Utc::now() + chrono::Duration::hours(1)),
        "x",
    )
    .await
    .expect("create");
    sqlx::query(
        "UPDATE switchyard.share_links SET expires_at = now() - interval '1 minute' WHERE id = $1",
    )
    .bind(expiring.id)
    .execute(&pool)
    .await
    .expect("expire");
    let r = get_as(&pool, &format!("/s/{token2}"), None).await;
    assert_eq!(r.status, StatusCode::GONE);
    assert!(String::from_utf8_lossy(&r.body).contains("This share link expired on"));
    let r = get_as(&pool, &format!("/s/{}", "a".repeat(32)), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A signed-in operator sees the same read-only page.
    let cookie = operator(&pool).await;
    let (_, token3) = shares::create(&pool, DEMO, "", None, "x")
        .await
        .expect("create");
    let r = get_as(&pool, &format!("/s/{token3}"), Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_badge_shows_the_phase_and_stops_with_the_link(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (link, token) = shares::create(&pool, DEMO, "", None, "x")
        .await
        .expect("create");
    let r = get_as(&pool, &format!("/s/{token}/badge.svg"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        crate::http::header(&r, "content-type"),
        Some("image/svg+xml; charset=utf-8")
    );
    let svg = String::from_utf8_lossy(&r.body);
    assert!(svg.contains("phase 1/5 pending · 0%"), "{svg}");
    shares::revoke(&pool, link.id, "x").await.expect("revoke");
    let r = get_as(&pool, &format!("/s/{token}/badge.svg"), None).await;
    assert_eq!(r.status, StatusCode::GONE);
    assert!(String::from_utf8_lossy(&r.body).contains("link revoked"));
    let r = get_as(&pool, &format!("/s/{}/badge.svg", "b".repeat(32)), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Opening a share link's page many times writes its last use once (to
/// the minute), and not at all for a revoked link.
#[sqlx::test(migrations = "./migrations")]
async fn opening_a_share_link_writes_its_last_use_once_a_minute(pool: PgPool) {
    use switchyard::store::shares::{create, resolve, revoke, Resolved};
    crate::seeded(&pool, 10).await;
    let (link, token) = create(&pool, DEMO, "chat", None, "test")
        .await
        .expect("create");
    let row_version = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT xmin::text FROM switchyard.share_links WHERE id = $1",
        )
        .bind(link.id)
        .fetch_one(&pool)
        .await
        .expect("xmin")
    };
    let before = row_version().await;
    assert_eq!(
        resolve(&pool, &token).await.expect("resolve"),
        Resolved::Open(DEMO.into())
    );
    let first_use = row_version().await;
    assert_ne!(before, first_use, "the first use is recorded");
    for _ in 0..5 {
        assert_eq!(
            resolve(&pool, &token).await.expect("resolve"),
            Resolved::Open(DEMO.into())
        );
    }
    assert_eq!(
        first_use,
        row_version().await,
        "later uses within a minute write nothing"
    );
    // A use a minute later is recorded again.
    sqlx::query("UPDATE switchyard.share_links SET last_used_at = now() - interval '2 minutes' WHERE id = $1")
        .bind(link.id)
        .execute(&pool)
        .await
        .expect("age");
    let aged = row_version().await;
    resolve(&pool, &token).await.expect("resolve");
    assert_ne!(
        aged,
        row_version().await,
        "a use after a minute is recorded"
    );
    revoke(&pool, link.id, "test").await.expect("revoke");
    let revoked = row_version().await;
    assert_eq!(
        resolve(&pool, &token).await.expect("resolve"),
        Resolved::Revoked
    );
    assert_eq!(
        revoked,
        row_version().await,
        "a revoked link's use is not recorded"
    );
}

/// The `content` of the `<meta>` whose `attr` is `name` in `html`.
fn meta(html: &str, attr: &str, name: &str) -> Option<String> {
    let at = html.find(&format!(r#"{attr}="{name}""#))?;
    let start = html[..at].rfind("<meta")?;
    let tag = &html[start..start + html[start..].find('>')?];
    let content = tag.split(r#"content=""#).nth(1)?;
    Some(content.split('"').next()?.replace("&amp;", "&"))
}

#[sqlx::test(migrations = "./migrations")]
async fn the_share_page_unfurls_with_open_graph_and_twitter_tags_of_its_progress(pool: PgPool) {
    use switchyard::model::console::PhaseAction;
    use switchyard::model::{Phase, PhaseState};
    crate::seeded(&pool, 0).await;
    let (_, token) = shares::create(&pool, DEMO, "chat", None, "ops@example.com")
        .await
        .expect("create");
    // Phase 1 done: the preview says phase 2 is next, and 20% is done.
    crate::console::console_of(&pool)
        .act(DEMO, Phase::Expand, PhaseAction::Run, false, "test")
        .await
        .expect("run phase 1");
    crate::console::wait_for_state(&pool, Phase::Expand, PhaseState::Done).await;
    let r = get_as(&pool, &format!("/s/{token}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&r.body);
    let title = "User Preferences Schema Migration";
    let progress = "Phase 2 of 5: Backfill data from the JSONB column (pending), 20% done";
    for (attr, name, content) in [
        ("property", "og:title", title),
        ("property", "og:description", progress),
        ("property", "og:type", "website"),
        ("name", "twitter:card", "summary"),
        ("name", "twitter:title", title),
        ("name", "twitter:description", progress),
    ] {
        assert_eq!(
            meta(&html, attr, name).as_deref(),
            Some(content),
            "{name}: {html}"
        );
    }
    // In the document's head, where chat clients read them.
    let head = html.split("</head>").next().unwrap_or("");
    assert!(head.contains(r#"name="twitter:description""#), "{head}");
}
