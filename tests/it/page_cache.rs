//! The page cache (`server::page_cache`): a kept page is served again only
//! while nothing it shows has changed, whoever changed it (the app, the
//! application's own writes, a person with psql), only to whom it was
//! rendered for, and never past a link's revocation.

use crate::http::{header, operator, send, signed_in_as, Reply};
use crate::DEMO;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use sqlx::PgPool;
use switchyard::model::account::Role;
use switchyard::server::page_cache::CACHE_HEADER;

/// GETs `uri` from `router` (one router: one cache) with `cookie`.
async fn get(router: &axum::Router, uri: &str, cookie: Option<&str>) -> Reply {
    get_encoded(router, uri, cookie, None).await
}

async fn get_encoded(
    router: &axum::Router,
    uri: &str,
    cookie: Option<&str>,
    encoding: Option<&str>,
) -> Reply {
    let mut request = Request::get(uri).header("accept", "text/html");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(encoding) = encoding {
        request = request.header("accept-encoding", encoding);
    }
    let router = router.clone();
    send(
        move || router,
        request.body(Body::empty()).expect("request"),
    )
    .await
}

fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).into_owned()
}

/// Runs `sql` (a change made by hand, as a person with psql would).
async fn by_hand(pool: &PgPool, sql: &str) {
    sqlx::query(sql)
        .bind(DEMO)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_kept_page_is_served_until_anything_it_shows_changes_whoever_changed_it(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    let cookie = operator(&pool).await;
    let router = crate::http::app(pool.clone());
    let uri = format!("/m/{DEMO}/phases");

    let first = get(&router, &uri, Some(&cookie)).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(header(&first, CACHE_HEADER), Some("miss"));
    let again = get(&router, &uri, Some(&cookie)).await;
    assert_eq!(header(&again, CACHE_HEADER), Some("hit"));
    assert_eq!(text(&again), text(&first), "the same page");

    // Each change below is made in the database only, announced by nobody;
    // the very next request shows it.
    let changes: [(&str, &str); 4] = [
        (
            // What the application's writes do during dual-write.
            "INSERT INTO switchyard.quarantine (migration_name, source_key, reason)
             VALUES ($1, 'key-quarantined-by-hand', 'reason written by hand')",
            "key-quarantined-by-hand",
        ),
        (
            "INSERT INTO switchyard.unmapped_keys (migration_name, key_path, documents)
             VALUES ($1, 'left.by_hand', 7)",
            "left.by_hand",
        ),
        (
            "UPDATE switchyard.phase_states s SET error = 'error written by hand'
             FROM switchyard.migrations m
             WHERE m.id = s.migration_id AND m.name = $1 AND s.position = 1",
            "error written by hand",
        ),
        (
            "UPDATE switchyard.plan_phases p SET title = 'Title changed by hand'
             FROM switchyard.migrations m
             WHERE m.id = p.migration_id AND m.name = $1 AND p.position = 2",
            "Title changed by hand",
        ),
    ];
    for (sql, shown) in changes {
        assert!(!text(&get(&router, &uri, Some(&cookie)).await).contains(shown));
        by_hand(&pool, sql).await;
        let after = get(&router, &uri, Some(&cookie)).await;
        assert_eq!(header(&after, CACHE_HEADER), Some("miss"), "{sql}");
        assert!(text(&after).contains(shown), "{shown} after {sql}");
        let kept = get(&router, &uri, Some(&cookie)).await;
        assert_eq!(header(&kept, CACHE_HEADER), Some("hit"), "kept again");
    }
    // A quarantined document's reason rewritten in place: the quarantine
    // is counted, not read whole, per request (`store::versions`), so this
    // one shows once the kept page is older than MAX_AGE, not before.
    by_hand(
        &pool,
        "UPDATE switchyard.quarantine SET reason = 'reason changed by hand'
         WHERE migration_name = $1",
    )
    .await;
    tokio::time::sleep(switchyard::server::page_cache::MAX_AGE).await;
    assert!(text(&get(&router, &uri, Some(&cookie)).await).contains("reason changed by hand"));

    // A row deleted, with nothing else changed.
    by_hand(
        &pool,
        "DELETE FROM switchyard.unmapped_keys WHERE migration_name = $1",
    )
    .await;
    let after = get(&router, &uri, Some(&cookie)).await;
    assert!(
        !text(&after).contains("left.by_hand"),
        "the deleted row is gone"
    );

    // A runner of another process takes the migration: the page says so at
    // once (there is no event for it).
    let mut runner = pool.acquire().await.expect("conn");
    sqlx::query("SELECT pg_advisory_lock(hashtext($1), hashtext($2))")
        .bind(switchyard::engine::state::RUNNER_LOCK)
        .bind(DEMO)
        .execute(&mut *runner)
        .await
        .expect("lock");
    assert!(switchyard::engine::state::runner_active(&pool, DEMO)
        .await
        .expect("ask"));
    let after = get(&router, &uri, Some(&cookie)).await;
    assert_eq!(header(&after, CACHE_HEADER), Some("miss"));
    assert!(text(&after).contains("another runner"), "{}", text(&after));
    drop(runner);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_kept_page_is_never_older_than_its_max_age(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let cookie = operator(&pool).await;
    let router = crate::http::app(pool.clone());
    let uri = format!("/m/{DEMO}/phases");
    get(&router, &uri, Some(&cookie)).await;
    assert_eq!(
        header(&get(&router, &uri, Some(&cookie)).await, CACHE_HEADER),
        Some("hit")
    );
    tokio::time::sleep(
        switchyard::server::page_cache::MAX_AGE + std::time::Duration::from_millis(100),
    )
    .await;
    assert_eq!(
        header(&get(&router, &uri, Some(&cookie)).await, CACHE_HEADER),
        Some("miss")
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_page_kept_for_one_account_is_not_served_to_another(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let operator = operator(&pool).await;
    let viewer = signed_in_as(&pool, "viewer@example.com", Role::Viewer).await;
    let router = crate::http::app(pool.clone());
    let uri = format!("/m/{DEMO}/phases");
    let ops = get(&router, &uri, Some(&operator)).await;
    assert_eq!(
        header(&get(&router, &uri, Some(&operator)).await, CACHE_HEADER),
        Some("hit")
    );
    let seen = get(&router, &uri, Some(&viewer)).await;
    assert_eq!(header(&seen, CACHE_HEADER), Some("miss"));
    assert_ne!(text(&ops), text(&seen));
    assert!(
        text(&seen).contains("operators only"),
        "the viewer's own page"
    );
    // Signed out: no page at all, whatever is kept.
    let anonymous = get(&router, &uri, None).await;
    assert_ne!(anonymous.status, StatusCode::OK);
    assert_eq!(header(&anonymous, CACHE_HEADER), None);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_kept_page_is_sent_compressed_as_the_client_takes_it(pool: PgPool) {
    use std::io::Read;
    crate::seeded(&pool, 0).await;
    let cookie = operator(&pool).await;
    let router = crate::http::app(pool.clone());
    let uri = format!("/m/{DEMO}/phases");
    let plain = text(&get(&router, &uri, Some(&cookie)).await);

    let br = get_encoded(&router, &uri, Some(&cookie), Some("gzip, deflate, br")).await;
    assert_eq!(header(&br, CACHE_HEADER), Some("hit"));
    assert_eq!(header(&br, "content-encoding"), Some("br"));
    let mut decoded = String::new();
    brotli::Decompressor::new(&br.body[..], 4096)
        .read_to_string(&mut decoded)
        .expect("brotli");
    assert_eq!(decoded, plain);

    let gz = get_encoded(&router, &uri, Some(&cookie), Some("gzip")).await;
    assert_eq!(header(&gz, "content-encoding"), Some("gzip"));
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut decoded)
        .expect("gzip");
    assert_eq!(decoded, plain);

    let none = get_encoded(&router, &uri, Some(&cookie), Some("identity")).await;
    assert_eq!(header(&none, "content-encoding"), None);
    assert_eq!(text(&none), plain);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_share_page_is_kept_but_a_revoked_link_stops_at_once(pool: PgPool) {
    use switchyard::store::shares;
    crate::seeded(&pool, 0).await;
    let (link, token) = shares::create(&pool, DEMO, "chat", None, "ops@example.com")
        .await
        .expect("create");
    let router = crate::http::app(pool.clone());
    let uri = format!("/s/{token}");
    let first = get(&router, &uri, None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(header(&first, CACHE_HEADER), Some("miss"));
    let again = get(&router, &uri, None).await;
    assert_eq!(header(&again, CACHE_HEADER), Some("hit"));
    assert_eq!(text(&again), text(&first));

    // The token in capitals opens the same link: the same kept page.
    let upper = get(&router, &format!("/s/{}", token.to_ascii_uppercase()), None).await;
    assert_eq!(header(&upper, CACHE_HEADER), Some("hit"));

    // A task moved by hand shows at once on the shared board.
    by_hand(
        &pool,
        "UPDATE switchyard.tasks t SET title = 'Task renamed by hand'
         FROM switchyard.migrations m WHERE m.id = t.migration_id AND m.name = $1
           AND t.id = (SELECT min(id) FROM switchyard.tasks WHERE migration_id = m.id)",
    )
    .await;
    let after = get(&router, &uri, None).await;
    assert!(text(&after).contains("Task renamed by hand"));

    shares::revoke(&pool, link.id, "ops@example.com")
        .await
        .expect("revoke");
    let gone = get(&router, &uri, None).await;
    assert_ne!(gone.status, StatusCode::OK);
    assert!(text(&gone).contains("This link no longer works"));
    assert_eq!(header(&gone, CACHE_HEADER), None);
}

/// Every table of ours that holds rows of a migration is either watched by
/// the data version or named here as shown on no cached page: a table added
/// later must be placed in one list or the other.
#[sqlx::test(migrations = "./migrations")]
async fn every_table_of_a_migration_is_watched_or_known_not_shown(pool: PgPool) {
    // Shown elsewhere (or nowhere), with why.
    const NOT_SHOWN: &[&str] = &[
        "events",            // watched by its newest id: it is append-only
        "share_links",       // looked up on every request of a share page
        "capture_log",       // the engine's own log (pending work, CLI status)
        "sync_queue",        // the engine's queued work (CLI status)
        "contract_columns",  // phase 5's record of the dropped column
        "health_probe",      // the throttle's probe row
        "notion_outbox",     // the Notion tab
        "plan_versions",     // the plan's history (plan tab)
        "spec_versions",     // the spec's refreshes (spec tab)
        "notion_task_links", // the task database's mapping (Notion tab)
        "task_sync",         // what the task mirror last sent and saw (its bookkeeping)
        "task_conflicts",    // fields changed on both sides (Notion tab)
        "plan_sync",         // what the plan mirror last synced (its bookkeeping)
        "plan_conflicts",    // the plan changed on both sides (plan tab)
        "notion_progress",   // the tasks-done-with-their-phase setting (Notion tab)
    ];
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT table_name::text FROM information_schema.columns
         WHERE table_schema = 'switchyard'
           AND column_name IN ('migration_id', 'migration_name', 'task_id')
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    let watched: Vec<&str> = switchyard::store::versions::WATCHED
        .iter()
        .map(|(t, _, _)| *t)
        .chain([switchyard::store::versions::COUNTED])
        .collect();
    let unplaced: Vec<&String> = tables
        .iter()
        .filter(|t| !watched.contains(&t.as_str()) && !NOT_SHOWN.contains(&t.as_str()))
        .collect();
    assert!(unplaced.is_empty(), "not watched, not known: {unplaced:?}");
}

/// A page marked `no-store` (what `ErrorNote` does: an error may pass) is
/// rendered again for the next request; the same page without the mark is
/// kept. The real middleware, in front of a handler that counts its calls.
#[sqlx::test(migrations = "./migrations")]
async fn a_page_marked_no_store_is_never_kept(pool: PgPool) {
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use switchyard::server::page_cache::{self, PageCache};

    crate::seeded(&pool, 0).await;
    for no_store in [true, false] {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let router = axum::Router::new()
            .route(
                "/m/{name}/phases",
                axum::routing::get(move || {
                    let counted = counted.clone();
                    async move {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let mut response = (
                            [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                            "<p>Could not load this</p>",
                        )
                            .into_response();
                        if no_store {
                            response.headers_mut().insert(
                                axum::http::header::CACHE_CONTROL,
                                axum::http::HeaderValue::from_static("no-store"),
                            );
                        }
                        response
                    }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                (PageCache::default(), pool.clone()),
                page_cache::serve,
            ));
        let uri = format!("/m/{DEMO}/phases");
        let first = get(&router, &uri, None).await;
        let second = get(&router, &uri, None).await;
        assert_eq!(first.status, StatusCode::OK);
        assert_eq!(text(&second), "<p>Could not load this</p>");
        if no_store {
            assert_eq!(calls.load(Ordering::SeqCst), 2, "rendered again");
            assert_eq!(header(&second, CACHE_HEADER), None);
        } else {
            assert_eq!(calls.load(Ordering::SeqCst), 1, "kept");
            assert_eq!(header(&second, CACHE_HEADER), Some("hit"));
        }
    }
}
