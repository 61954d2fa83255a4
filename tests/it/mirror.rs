//! The Notion mirror against the fake Notion and a real Postgres: a spec
//! imported and refreshed (changes listed, history kept), and the outbox
//! publishing the plan exactly once across faults, a crash and two workers.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;
use switchyard::domain::notion_id::NotionId;
use switchyard::domain::spec::extract_requirements;
use switchyard::model::notion::BlockKind;
use switchyard::notion::blocks::{self, paragraph};
use switchyard::notion::fake::{Fault, RunningFake};
use switchyard::notion::outbox::{OutboxWorker, Turn, WorkerSettings};
use switchyard::notion::{publish, specs};
use switchyard::store::{self, StoreError};

use crate::notion::{client, start_fake};

fn bullet(text: &str) -> Value {
    json!({ "object": "block", "type": "bulleted_list_item",
        "bulleted_list_item": { "rich_text": [ { "type": "text", "text": { "content": text } } ] } })
}

/// A spec page in the fake, as a person wrote it.
fn spec_page(fake: &RunningFake, title: &str) -> NotionId {
    let mut requirements = bullet("Requirements");
    blocks::set_children(
        &mut requirements,
        vec![
            bullet("Current: users.preferences jsonb"),
            bullet("Target: user_preferences table"),
        ],
    );
    fake.fake.add_page(
        None,
        title,
        vec![
            json!({ "object": "block", "type": "heading_1",
                "heading_1": { "rich_text": [ { "type": "text", "text": { "content": "Overview" } } ] } }),
            paragraph("Move preferences out of a JSON blob."),
            requirements,
            bullet("Performance: 1M+ users"),
            json!({ "object": "block", "type": "synced_block", "synced_block": { "synced_from": null } }),
        ],
    )
}

pub(crate) fn worker(pool: &PgPool, fake: &RunningFake) -> OutboxWorker {
    OutboxWorker::new(
        pool.clone(),
        client(fake),
        WorkerSettings {
            lease: Duration::from_secs(30),
            max_attempts: 5,
            poll: Duration::from_millis(20),
            retry_delay: Duration::ZERO,
            max_retry_delay: Duration::ZERO,
        },
    )
}

#[sqlx::test(migrations = "./migrations")]
async fn a_spec_is_imported_and_refreshed_with_its_changes_listed(pool: PgPool) {
    let fake = start_fake().await;
    let notion = client(&fake);
    let page = spec_page(&fake, "Payments: Preferences Spec");

    let name = specs::import(&pool, &notion, &page, "op@example.com")
        .await
        .expect("imported");
    assert_eq!(name, "payments-preferences-spec");
    let spec = store::migrations::spec(&pool, &name).await.expect("spec");
    assert_eq!(spec.notion_page_id.as_deref(), Some(page.as_str()));
    assert_eq!(spec.blocks.len(), 5);
    assert_eq!(spec.blocks[2].children.len(), 2, "nested blocks fetched");
    let unknown = &spec.blocks[4];
    assert_eq!(unknown.kind, BlockKind::Unsupported);
    assert_eq!(unknown.unsupported_type.as_deref(), Some("synced_block"));
    let req = extract_requirements(&spec.blocks);
    assert_eq!(req.current, vec!["users.preferences jsonb"]);
    assert_eq!(req.performance, vec!["1M+ users"]);
    let plan = store::migrations::plan(&pool, &name).await.expect("plan");
    assert_eq!(plan.phases.len(), 5, "the standard plan");

    // The same page twice is refused.
    let again = specs::import(&pool, &notion, &page, "op@example.com").await;
    assert!(
        matches!(again, Err(specs::SpecError::Store(StoreError::Conflict(_)))),
        "{again:?}"
    );

    // A person edits the page in Notion: one block changed, one removed,
    // one added.
    let ids = fake.fake.children_ids(&page);
    assert!(fake.fake.edit_block(
        &ids[1],
        json!({ "rich_text": [ { "type": "text", "text": { "content": "Move preferences to tables." } } ] })
    ));
    assert!(fake.fake.delete_block(&ids[3]));
    fake.fake
        .add_children(&page, vec![paragraph("Rollback: keep the blob a week.")]);

    let preview = specs::preview_refresh(&pool, &notion, &name)
        .await
        .expect("preview");
    assert_eq!(preview.diff.changed.len(), 1, "{:?}", preview.diff);
    assert_eq!(
        preview.diff.changed[0].before,
        "Move preferences out of a JSON blob."
    );
    assert_eq!(preview.diff.changed[0].after, "Move preferences to tables.");
    assert_eq!(preview.diff.removed.len(), 1);
    assert_eq!(preview.diff.removed[0].before, "Performance: 1M+ users");
    assert_eq!(preview.diff.added.len(), 1);
    assert_eq!(
        preview.diff.added[0].after,
        "Rollback: keep the blob a week."
    );
    // Nothing replaced yet.
    let unchanged = store::migrations::spec(&pool, &name).await.expect("spec");
    assert_eq!(unchanged.blocks, spec.blocks);

    // Edited in Notion after the preview: applying is refused, nothing
    // stored, until a new preview shows that edit too.
    let ids = fake.fake.children_ids(&page);
    let heading = |text: &str| {
        fake.fake.edit_block(
            &ids[0],
            json!({ "rich_text": [ { "type": "text", "text": { "content": text } } ] }),
        )
    };
    let apply = |actor: &'static str| {
        specs::apply_refresh(
            &pool,
            &notion,
            &name,
            preview.base,
            &preview.fingerprint,
            actor,
        )
    };
    assert!(heading("Overview (edited later)"));
    let late = apply("op@example.com").await;
    assert!(
        matches!(&late, Err(specs::SpecError::Store(StoreError::Conflict(m))) if m.contains("preview again")),
        "{late:?}"
    );
    let unchanged = store::migrations::spec(&pool, &name).await.expect("spec");
    assert_eq!(unchanged.blocks, spec.blocks);
    assert!(heading("Overview"));

    let applied = apply("op@example.com").await.expect("applied");
    assert_eq!(applied, preview.diff);
    let now = store::migrations::spec(&pool, &name).await.expect("spec");
    assert_eq!(now.blocks[1].plain_text(), "Move preferences to tables.");
    assert_eq!(now.blocks.len(), 5);
    let history = store::specs::history(&pool, &name).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(
        history[0].blocks.0, spec.blocks,
        "the previous version is kept"
    );
    assert_eq!(history[0].replaced_by, "op@example.com");

    // A second apply against the old preview is refused: the spec moved on.
    let stale = apply("other@example.com").await;
    assert!(
        matches!(stale, Err(specs::SpecError::Store(StoreError::Conflict(_)))),
        "{stale:?}"
    );
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT e.kind FROM switchyard.events e JOIN switchyard.migrations m ON m.id = e.migration_id
         WHERE m.name = $1 ORDER BY e.id",
    )
    .bind(&name)
    .fetch_all(&pool)
    .await
    .expect("events");
    assert_eq!(kinds, vec!["spec_imported", "spec_refreshed"]);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_local_demo_spec_cannot_be_refreshed(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    let err = specs::preview_refresh(&pool, &client(&fake), crate::DEMO)
        .await
        .expect_err("local");
    assert!(err.to_string().contains("local"), "{err}");
    assert!(fake.fake.requests().is_empty(), "nothing asked of Notion");
}

pub(crate) async fn imported(pool: &PgPool, fake: &RunningFake, title: &str) -> (String, NotionId) {
    let page = spec_page(fake, title);
    let name = specs::import(pool, &client(fake), &page, "op@example.com")
        .await
        .expect("imported");
    (name, page)
}

async fn plan_page_of(pool: &PgPool, name: &str) -> Option<String> {
    store::migrations::plan(pool, name)
        .await
        .expect("plan")
        .notion_page_id
}

#[sqlx::test(migrations = "./migrations")]
async fn the_plan_is_published_once_whatever_fails_on_the_way(pool: PgPool) {
    let fake = start_fake().await;
    let worker = worker(&pool, &fake);
    let faults: Vec<Vec<Fault>> = vec![
        vec![],
        // Answers that say nothing was done: the client retries them.
        vec![
            Fault::Status { status: 503 },
            Fault::Status { status: 529 },
            Fault::Status { status: 409 },
        ],
        // Ambiguous: a 500, or the page created but the answer lost or late.
        vec![Fault::Status { status: 500 }],
        vec![Fault::Drop { apply: true }],
        vec![Fault::Hang {
            millis: 1500,
            apply: true,
        }],
        vec![Fault::Drop { apply: false }],
    ];
    for (n, faults) in faults.into_iter().enumerate() {
        let (name, spec) = imported(&pool, &fake, &format!("Spec number {n}")).await;
        let item = publish::queue(&pool, &name, None, "op@example.com")
            .await
            .expect("queued");
        fake.fake.inject(faults.clone());
        let turns = worker.drain().await.expect("drained");
        assert!(
            matches!(turns.last(), Some(Turn::Delivered { item: i, .. }) if *i == item),
            "{faults:?}: {turns:?}"
        );
        // Exactly one plan page under the spec, recorded on the plan.
        let title = format!("Implementation plan: Spec number {n}");
        let pages = fake.fake.pages_titled(&title);
        assert_eq!(pages.len(), 1, "{faults:?}: {pages:?}");
        assert_eq!(
            plan_page_of(&pool, &name).await.as_deref(),
            Some(pages[0].as_str())
        );
        let tree = fake.fake.tree(&pages[0]).expect("page");
        assert_eq!(tree["parent"]["page_id"], json!(spec.as_str()));
        let text = tree.to_string();
        assert!(
            text.contains("Phase 2: Backfill data from the JSONB column"),
            "{faults:?}"
        );
        assert!(text.contains("Depends on: Phase 1 (Create new tables with indexes)"));
        assert!(text.contains("Owner: unassigned"));
        assert_eq!(fake.fake.pending_faults(), 0);
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_page_created_before_a_crash_is_found_not_created_again(pool: PgPool) {
    let fake = start_fake().await;
    let (name, _) = imported(&pool, &fake, "Crash Spec").await;
    let item = publish::queue(&pool, &name, None, "op@example.com")
        .await
        .expect("queued");
    // An instance claims the item, creates the page, and is killed before
    // recording it. The lease is long, so no timing on a busy machine can
    // end it early; the test ends it below, as time would.
    let claimed = store::outbox::claim(&pool, Duration::from_secs(600))
        .await
        .expect("claim")
        .expect("an item");
    assert_eq!(claimed.id, item);
    assert_eq!(claimed.attempts, 1);
    let payload: publish::PublishPlan =
        serde_json::from_value(claimed.payload.0.clone()).expect("payload");
    let created = publish::deliver(&client(&fake), &payload, false)
        .await
        .expect("created");
    // While the lease holds, no one else takes it.
    assert_eq!(worker(&pool, &fake).turn().await.expect("turn"), Turn::Idle);
    let expired = sqlx::query(
        "UPDATE switchyard.notion_outbox SET lease_until = now() - interval '1 second' WHERE id = $1",
    )
    .bind(item)
    .execute(&pool)
    .await
    .expect("lease ended");
    assert_eq!(expired.rows_affected(), 1);

    // After the restart, a worker finds the page by its marker.
    let turn = worker(&pool, &fake).turn().await.expect("turn");
    assert_eq!(
        turn,
        Turn::Delivered {
            item,
            page: created.to_string()
        }
    );
    assert_eq!(
        fake.fake
            .pages_titled("Implementation plan: Crash Spec")
            .len(),
        1
    );
    // The crashed instance's late answer changes nothing.
    assert!(
        !store::outbox::complete_plan_publication(&pool, &claimed, "other", None)
            .await
            .expect("complete")
    );
    assert_eq!(plan_page_of(&pool, &name).await, Some(created.to_string()));
}

/// One sender at a time across instances: while another session holds the
/// sender lock, a worker with an item due sends nothing; once it is
/// released (the session closed), the item goes.
#[sqlx::test(migrations = "./migrations")]
async fn only_one_instance_sends_at_a_time(pool: PgPool) {
    let fake = start_fake().await;
    let (name, _) = imported(&pool, &fake, "Queued Spec").await;
    let item = publish::queue(&pool, &name, None, "op@example.com")
        .await
        .expect("queued");
    let other_instance = store::outbox::sender_lock(&pool)
        .await
        .expect("lock")
        .expect("free");
    assert!(
        store::outbox::sender_lock(&pool)
            .await
            .expect("lock")
            .is_none(),
        "held"
    );
    fake.fake.clear_requests();
    assert_eq!(worker(&pool, &fake).turn().await.expect("turn"), Turn::Idle);
    assert!(fake.fake.requests().is_empty(), "nothing sent");
    drop(other_instance);
    // The server notices the closed session at once or nearly.
    let mut turn = Turn::Idle;
    for _ in 0..50 {
        turn = worker(&pool, &fake).turn().await.expect("turn");
        if turn != Turn::Idle {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        matches!(&turn, Turn::Delivered { item: i, .. } if *i == item),
        "{turn:?}"
    );
}

/// A delivery longer than the lease keeps it (renewed while it runs), so no
/// other worker starts on the item meanwhile; a worker whose item is taken
/// over stops sending at its next renewal instead of finishing.
#[sqlx::test(migrations = "./migrations")]
async fn a_delivery_keeps_its_lease_while_it_runs_and_stops_once_it_is_lost(pool: PgPool) {
    let fake = start_fake().await;
    let mut patient = crate::notion::settings(&fake);
    patient.timeout = Duration::from_secs(30);
    let slow_worker = || {
        OutboxWorker::new(
            pool.clone(),
            switchyard::notion::NotionClient::new(patient.clone()).expect("client"),
            WorkerSettings {
                lease: Duration::from_millis(1500),
                max_attempts: 5,
                poll: Duration::from_millis(20),
                retry_delay: Duration::ZERO,
                max_retry_delay: Duration::ZERO,
            },
        )
    };

    let (name, _) = imported(&pool, &fake, "Slow Spec").await;
    let item = publish::queue(&pool, &name, None, "op@example.com")
        .await
        .expect("queued");
    // The first request of the delivery is answered after 4.5 s: three
    // leases' worth.
    fake.fake.inject([Fault::Hang {
        millis: 4500,
        apply: true,
    }]);
    let slow = slow_worker();
    let delivering = tokio::spawn(async move { slow.turn().await });
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let held: bool = sqlx::query_scalar(
            "SELECT lease_until > now() FROM switchyard.notion_outbox WHERE id = $1",
        )
        .bind(item)
        .fetch_one(&pool)
        .await
        .expect("the lease");
        assert!(held, "the lease is kept while the delivery runs");
    }
    let turn = delivering.await.expect("joined").expect("turn");
    assert!(
        matches!(&turn, Turn::Delivered { item: i, .. } if *i == item),
        "{turn:?}"
    );
    assert_eq!(
        fake.fake
            .pages_titled("Implementation plan: Slow Spec")
            .len(),
        1
    );

    let (name, _) = imported(&pool, &fake, "Taken Spec").await;
    let item = publish::queue(&pool, &name, None, "op@example.com")
        .await
        .expect("queued");
    fake.fake.inject([Fault::Hang {
        millis: 8000,
        apply: false,
    }]);
    let started = std::time::Instant::now();
    let slow = slow_worker();
    let delivering = tokio::spawn(async move { slow.turn().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Another worker takes the item over (as after this one went quiet).
    let taken = sqlx::query(
        "UPDATE switchyard.notion_outbox SET lease_token = lease_token + 1 WHERE id = $1 AND lease_token IS NOT NULL",
    )
    .bind(item)
    .execute(&pool)
    .await
    .expect("taken over");
    assert_eq!(taken.rows_affected(), 1);
    let turn = delivering.await.expect("joined").expect("turn");
    assert_eq!(turn, Turn::LostLease { item });
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "stopped at its next renewal, not after the 8 s answer: {:?}",
        started.elapsed()
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn two_workers_send_each_item_once(pool: PgPool) {
    let fake = start_fake().await;
    let mut names = Vec::new();
    for n in 0..4 {
        let (name, _) = imported(&pool, &fake, &format!("Shared {n}")).await;
        publish::queue(&pool, &name, None, "op@example.com")
            .await
            .expect("queued");
        names.push(name);
    }
    let (a, b) = (worker(&pool, &fake), worker(&pool, &fake));
    let (ta, tb) = tokio::join!(a.drain(), b.drain());
    let delivered = ta
        .expect("a")
        .into_iter()
        .chain(tb.expect("b"))
        .filter(|t| matches!(t, Turn::Delivered { .. }))
        .count();
    assert_eq!(delivered, 4);
    for n in 0..4 {
        assert_eq!(
            fake.fake
                .pages_titled(&format!("Implementation plan: Shared {n}"))
                .len(),
            1
        );
    }
    for name in &names {
        assert!(plan_page_of(&pool, name).await.is_some());
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn what_retrying_cannot_mend_waits_for_an_operator(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    // The demo's spec is local: the plan needs a page to go under.
    let refused = publish::queue(&pool, crate::DEMO, None, "op@example.com").await;
    assert!(
        matches!(refused, Err(StoreError::Invalid { .. })),
        "{refused:?}"
    );
    // A page the integration cannot see.
    let hidden = NotionId::from_u128(7);
    let item = publish::queue(&pool, crate::DEMO, Some(hidden), "op@example.com")
        .await
        .expect("queued");
    let again = publish::queue(&pool, crate::DEMO, None, "op@example.com").await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    let turn = worker(&pool, &fake).turn().await.expect("turn");
    let Turn::Failed { gave_up, error, .. } = turn else {
        panic!("expected a failure, got {turn:?}");
    };
    assert!(gave_up, "a 404 is not retried by itself");
    assert!(error.contains("share it with the integration"), "{error}");
    let listed = store::outbox::list(&pool, crate::DEMO).await.expect("list");
    assert_eq!(listed[0].state, "failed");
    assert_eq!(listed[0].last_error.as_deref(), Some(error.as_str()));

    let metrics = switchyard::server::metrics::render(
        &store::metrics::snapshot(&pool).await.expect("snapshot"),
    )
    .expect("render");
    assert!(
        metrics.contains("switchyard_notion_outbox_items{state=\"failed\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("switchyard_notion_outbox_items{state=\"pending\"} 0"));

    // The operator retries (nothing due while it is failed), then discards.
    assert_eq!(worker(&pool, &fake).turn().await.expect("turn"), Turn::Idle);
    store::outbox::retry(&pool, crate::DEMO, item, "ops@example.com")
        .await
        .expect("retry");
    assert_eq!(
        store::outbox::get(&pool, item).await.expect("item").state,
        "pending"
    );
    store::outbox::discard(&pool, crate::DEMO, item, "lead@example.com")
        .await
        .expect("discard");
    assert_eq!(
        store::outbox::get(&pool, item).await.expect("item").state,
        "discarded"
    );
    assert_eq!(worker(&pool, &fake).turn().await.expect("turn"), Turn::Idle);
    assert!(
        store::outbox::retry(&pool, crate::DEMO, item, "ops@example.com")
            .await
            .is_err()
    );
    // Each change is an event with its actor; the refused one is none.
    let recorded: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, actor FROM switchyard.events
         WHERE kind IN ('outbox_retried', 'outbox_discarded') ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("events");
    assert_eq!(
        recorded,
        vec![
            ("outbox_retried".to_string(), "ops@example.com".to_string()),
            (
                "outbox_discarded".to_string(),
                "lead@example.com".to_string()
            ),
        ]
    );
}

/// The app as `make run` builds it, talking to the fake at `base`.
pub(crate) fn connected_app(
    pool: &PgPool,
    base: String,
) -> impl FnOnce() -> axum::Router + Send + 'static {
    let pool = pool.clone();
    move || {
        let mut settings = switchyard::notion::Settings::new(crate::notion::TOKEN, base);
        settings.requests_per_second = 1000.0;
        let client = switchyard::notion::NotionClient::new(settings).expect("client");
        let options = leptos::prelude::LeptosOptions::builder()
            .output_name("switchyard")
            .site_root("target/site")
            .build();
        switchyard::server::app::router_with_notion(
            options,
            pool,
            switchyard::console::Settings::default(),
            switchyard::server::auth::AuthSettings::default(),
            switchyard::notion::Connection::Connected(client),
        )
    }
}

/// A form post the server took (done, or redirected to the next page).
pub(crate) fn accepted(reply: &crate::http::Reply) {
    assert!(
        reply.status.is_success() || reply.status.is_redirection(),
        "{} {}",
        reply.status,
        String::from_utf8_lossy(&reply.body)
    );
}

pub(crate) async fn post_form(
    app: impl FnOnce() -> axum::Router + Send + 'static,
    cookie: &str,
    path: &str,
    form: String,
) -> crate::http::Reply {
    use axum::body::Body;
    let request = axum::http::Request::post(path)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(Body::from(form))
        .expect("request");
    crate::http::send(app, request).await
}

#[sqlx::test(migrations = "./migrations")]
async fn importing_takes_an_operator_and_local_mode_says_how_to_connect(pool: PgPool) {
    use leptos::server_fn::ServerFn;
    use switchyard::api::notion::ImportNotionSpec;
    use switchyard::model::account::Role;
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    let page = spec_page(&fake, "Http Spec");
    let form = format!("page={}", crate::http::encode(&page.notion_url()));

    // Local mode: every page has the banner; importing says how to connect.
    let operator = crate::http::operator(&pool).await;
    let home = crate::http::get_as(&pool, "/", Some(&operator)).await;
    let html = String::from_utf8_lossy(&home.body);
    assert!(
        html.contains("Local mode: not connected to Notion"),
        "{html}"
    );
    assert!(
        html.contains("/notion/import"),
        "operators get the import link"
    );
    let (status, body) =
        crate::http::call_as(&pool, Some(&operator), ImportNotionSpec::PATH, &form).await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(body.contains("NOTION_TOKEN"), "{body}");

    // Connected: a viewer is refused, an operator imports.
    let viewer = crate::http::signed_in_as(&pool, "viewer@example.com", Role::Viewer).await;
    let refused = post_form(
        connected_app(&pool, fake.base_url()),
        &viewer,
        ImportNotionSpec::PATH,
        form.clone(),
    )
    .await;
    assert_eq!(refused.status.as_u16(), 403);
    assert!(fake.fake.requests().is_empty(), "nothing asked of Notion");

    let done = post_form(
        connected_app(&pool, fake.base_url()),
        &operator,
        ImportNotionSpec::PATH,
        form,
    )
    .await;
    accepted(&done);
    let spec = store::migrations::spec(&pool, "http-spec")
        .await
        .expect("imported");
    assert_eq!(spec.notion_page_id.as_deref(), Some(page.as_str()));

    // The imported spec renders; its unknown block is a labelled placeholder.
    let page_as = |uri: &'static str, cookie: String| {
        use axum::body::Body;
        let request = axum::http::Request::get(uri)
            .header("cookie", cookie)
            .header("accept", "text/html")
            .body(Body::empty())
            .expect("request");
        crate::http::send(connected_app(&pool, fake.base_url()), request)
    };
    let section = page_as("/m/http-spec/notion", operator.clone()).await;
    let html = String::from_utf8_lossy(&section.body);
    assert!(html.contains("Publish plan to Notion"), "{html}");
    assert!(html.contains("Refresh from Notion"), "{html}");
    let section = page_as("/m/http-spec/notion", viewer.clone()).await;
    let html = String::from_utf8_lossy(&section.body);
    assert!(!html.contains("Publish plan to Notion"), "{html}");
    assert!(html.contains("operators only"), "{html}");

    let connected_page = page_as("/m/http-spec", operator.clone()).await;
    let html = String::from_utf8_lossy(&connected_page.body);
    assert!(
        html.contains("Move preferences out of a JSON blob."),
        "{html}"
    );
    assert!(html.contains("(synced_block)"), "{html}");
    assert!(html.contains(&format!("https://www.notion.so/{}#", page.compact())));
    assert!(!html.contains("Local mode"), "no banner when connected");
}

/// `switchyard serve` (the debug binary cargo built for these tests) on the
/// test's database, connected to the fake Notion, sending the outbox with a
/// short lease; no demo seeded, on a port of its own.
fn spawn_app(url: &str, fake: &RunningFake) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("NOTION_TOKEN", crate::notion::TOKEN)
        .env("NOTION_API_BASE", fake.base_url())
        .env("NOTION_REQUESTS_PER_SECOND", "100")
        // Longer than the fake's hang: the send is still in flight when killed.
        .env("NOTION_TIMEOUT_SECONDS", "120")
        .env("NOTION_OUTBOX_LEASE_SECONDS", "2")
        .env("SWITCHYARD_SEED_DEMO", "false")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the app")
}

/// Waits (at most `secs`) until `done` says so.
async fn wait_until<F: std::future::Future<Output = bool>>(
    secs: u64,
    what: &str,
    mut done: impl FnMut() -> F,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_killed_app_sends_each_outbox_item_once_after_its_restart(pool: PgPool) {
    let fake = start_fake().await;
    let url = crate::cli::url_of(&pool).await;
    let mut items = Vec::new();
    for n in 0..2 {
        let (name, _) = imported(&pool, &fake, &format!("Killed {n}")).await;
        let item = publish::queue(&pool, &name, None, "op@example.com")
            .await
            .expect("queued");
        items.push((item, name, format!("Implementation plan: Killed {n}")));
    }
    fake.fake.clear_requests();
    // The first page is created, but its answer never comes back in time.
    fake.fake.inject([Fault::Hang {
        millis: 60_000,
        apply: true,
    }]);
    let mut app = spawn_app(&url, &fake);
    let in_flight = |title: String| {
        let fake = fake.fake.clone();
        move || {
            let created = fake.pages_titled(&title).len() == 1;
            let waiting = fake
                .requests()
                .iter()
                .any(|r| r.method == "POST" && r.path == "/v1/pages" && r.status == 0);
            async move { created && waiting }
        }
    };
    wait_until(
        60,
        "a page created, its answer pending",
        in_flight(items[0].2.clone()),
    )
    .await;
    app.kill().expect("kill -9");
    app.wait().expect("reap");
    let states: Vec<(String, i32)> =
        sqlx::query_as("SELECT state, attempts FROM switchyard.notion_outbox ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("outbox");
    assert_eq!(
        states,
        [("pending".to_string(), 1), ("pending".to_string(), 0)],
        "killed mid-send, nothing recorded"
    );

    // Restarted: both items end up delivered, each page created once.
    let mut app = spawn_app(&url, &fake);
    let pool2 = pool.clone();
    wait_until(90, "both items delivered", move || {
        let pool = pool2.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM switchyard.notion_outbox WHERE state = 'done'",
            )
            .fetch_one(&pool)
            .await
            .expect("count")
                == 2
        }
    })
    .await;
    app.kill().expect("kill");
    app.wait().expect("reap");
    let creates = fake
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/pages")
        .count();
    assert_eq!(creates, 2, "one page creation per item, across the crash");
    for (_, name, title) in &items {
        let pages = fake.fake.pages_titled(title);
        assert_eq!(pages.len(), 1, "{title}: {pages:?}");
        assert_eq!(
            plan_page_of(&pool, name).await.as_deref(),
            Some(pages[0].as_str()),
            "{title}"
        );
    }
}

/// A refused import posted without JavaScript comes back to the page with
/// the server function's error in the URL (`__err`): the page shows it in
/// words, not as the encoded text it travels in.
#[sqlx::test(migrations = "./migrations")]
async fn a_refused_import_posted_without_javascript_is_shown_in_words(pool: PgPool) {
    use axum::body::Body;
    use axum::http::Request;
    use leptos::server_fn::ServerFn;
    use switchyard::api::notion::ImportNotionSpec;
    crate::seeded(&pool, 0).await;
    let operator = crate::http::operator(&pool).await;
    let request = Request::post(ImportNotionSpec::PATH)
        .header("cookie", &operator)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("referer", "http://localhost/notion/import")
        .body(Body::from("page=not-a-page"))
        .expect("request");
    let r = crate::http::send(crate::http::app_of_pool(&pool), request).await;
    assert!(r.status.is_redirection(), "{}", r.status);
    let back = crate::http::header(&r, "location")
        .expect("a Location header")
        .trim_start_matches("http://localhost")
        .to_string();
    assert!(back.contains("__err="), "{back}");
    let page = crate::http::get_as(&pool, &back, Some(&operator)).await;
    let html = String::from_utf8_lossy(&page.body);
    let refusal = html
        .split("Refused: </strong>")
        .nth(1)
        .unwrap_or_else(|| panic!("no refusal shown: {html}"));
    let refusal = refusal.split("</p>").next().unwrap_or("");
    assert!(
        refusal.contains("neither a Notion page URL nor a Notion id"),
        "{refusal}"
    );
}

/// (depth, text) of every block, in order, from Notion's answer.
fn outline_of(
    tree: &[switchyard::model::notion::Block],
    depth: usize,
    out: &mut Vec<(usize, String)>,
) {
    for block in tree {
        out.push((depth, block.plain_text()));
        outline_of(&block.children, depth + 1, out);
    }
}

/// (depth, text) of every block, in order, as sent.
fn outline_sent(blocks: &[Value], depth: usize, out: &mut Vec<(usize, String)>) {
    for block in blocks {
        let kind = blocks::kind_of(block).unwrap_or_default();
        let text: String = block[kind]["rich_text"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["text"]["content"].as_str())
            .collect();
        out.push((depth, text));
        outline_sent(blocks::children_of(block), depth + 1, out);
    }
}

/// A publication whose page was made but whose answer was lost (so the
/// nested children and the blocks past the first 100, sent in later
/// requests, never went) is completed by the retry at every level, not
/// only at the top.
#[tokio::test]
async fn a_publication_cut_off_after_its_page_was_made_is_completed_at_every_level() {
    let fake = start_fake().await;
    let notion = client(&fake);
    let parent = fake.fake.add_page(None, "Cut Spec", vec![]);
    let marker = "switchyard-outbox-item-77";
    let mut step_a = bullet("Step a");
    blocks::set_children(&mut step_a, vec![bullet("Detail of step a")]);
    let mut phase = bullet("Phase 1");
    blocks::set_children(&mut phase, vec![step_a, bullet("Step b")]);
    let mut content = vec![
        paragraph(&format!("Published by Switchyard ({marker})")),
        phase,
    ];
    content.extend((0..130).map(|i| paragraph(&format!("Line {i}"))));
    let item = publish::PublishPlan {
        parent: parent.clone(),
        title: "Implementation plan: Cut Spec".into(),
        marker: marker.into(),
        content: content.clone(),
        board_hash: None,
    };
    fake.fake.inject([Fault::Drop { apply: true }]);
    publish::deliver(&notion, &item, false)
        .await
        .expect_err("the answer was lost");
    let page = publish::deliver(&notion, &item, true)
        .await
        .expect("found and completed");
    assert_eq!(
        fake.fake
            .pages_titled("Implementation plan: Cut Spec")
            .len(),
        1
    );
    let tree = notion.block_tree(&page).await.expect("the page");
    let (mut got, mut want) = (Vec::new(), Vec::new());
    outline_of(&tree, 0, &mut got);
    outline_sent(&content, 0, &mut want);
    assert_eq!(got, want);
}

/// What the Notion section's forms do, over HTTP as a browser sends them:
/// search, pick the spec from the results and import it; search again,
/// pick a page, and publish the plan under it (not under the spec).
#[sqlx::test(migrations = "./migrations")]
async fn a_spec_picked_from_search_is_imported_and_the_plan_published_under_a_picked_page(
    pool: PgPool,
) {
    use leptos::server_fn::ServerFn;
    use switchyard::api::notion::{ImportNotionSpec, PublishPlan, SearchNotionPages};
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    let spec = spec_page(&fake, "Picked Spec");
    let team = fake.fake.add_page(None, "Team Plans", vec![]);
    fake.fake.add_page(None, "Team Lunch", vec![]);
    let operator = crate::http::operator(&pool).await;
    let search = |query: &'static str| {
        let (pool, base, cookie) = (pool.clone(), fake.base_url(), operator.clone());
        async move {
            let reply = post_form(
                connected_app(&pool, base),
                &cookie,
                SearchNotionPages::PATH,
                format!("query={query}"),
            )
            .await;
            accepted(&reply);
            let hits: Vec<serde_json::Value> =
                serde_json::from_slice(&reply.body).expect("search results as JSON");
            hits
        }
    };
    let pick = |hits: &[serde_json::Value], title: &str| -> String {
        hits.iter()
            .find(|h| h["title"] == json!(title))
            .and_then(|h| h["id"].as_str())
            .unwrap_or_else(|| panic!("{title} not among {hits:?}"))
            .to_string()
    };
    let hits = search("Picked").await;
    let picked = pick(&hits, "Picked Spec");
    assert_eq!(NotionId::parse(&picked).expect("an id"), spec);
    accepted(
        &post_form(
            connected_app(&pool, fake.base_url()),
            &operator,
            ImportNotionSpec::PATH,
            format!("page={picked}"),
        )
        .await,
    );
    let imported = store::migrations::spec(&pool, "picked-spec")
        .await
        .expect("imported under its title's name");
    assert_eq!(imported.notion_page_id.as_deref(), Some(spec.as_str()));

    let hits = search("Team").await;
    assert!(hits.len() >= 2, "{hits:?}");
    let parent = pick(&hits, "Team Plans");
    accepted(
        &post_form(
            connected_app(&pool, fake.base_url()),
            &operator,
            PublishPlan::PATH,
            format!("name=picked-spec&parent={parent}"),
        )
        .await,
    );
    worker(&pool, &fake).drain().await.expect("drained");
    let pages = fake.fake.pages_titled("Implementation plan: Picked Spec");
    assert_eq!(pages.len(), 1, "{pages:?}");
    let tree = fake.fake.tree(&pages[0]).expect("page");
    assert_eq!(tree["parent"]["page_id"], json!(team.as_str()));
    assert_eq!(
        plan_page_of(&pool, "picked-spec").await.as_deref(),
        Some(pages[0].as_str())
    );
}

/// The wizard's spec can be a Notion page: linked to the draft, fetched
/// with all its blocks when the migration is made, and linked to it (so it
/// refreshes like an imported spec). Not connected, making it says how.
#[sqlx::test(migrations = "./migrations")]
async fn a_drafts_spec_linked_in_notion_is_fetched_when_the_migration_is_made(pool: PgPool) {
    use leptos::server_fn::ServerFn;
    use switchyard::api::wizard::CreateFromDraft;
    crate::seeded(&pool, 0).await;
    sqlx::raw_sql(
        r#"CREATE SCHEMA crm;
           CREATE TABLE crm.contacts (id bigint PRIMARY KEY, doc jsonb);
           INSERT INTO crm.contacts VALUES (1, '{"tier": "gold"}'), (2, '{"tier": "silver"}');
           ANALYZE crm.contacts;"#,
    )
    .execute(&pool)
    .await
    .expect("contacts");
    let fake = start_fake().await;
    let page = spec_page(&fake, "Contacts Spec");
    let id = switchyard::wizard::start(&pool, "crm", "contacts", "id", "doc", "ops@example.com")
        .await
        .expect("a draft");
    switchyard::wizard::profile(&pool, id, true, "ops@example.com")
        .await
        .expect("profiled");
    // A page that is not one is refused where it was typed.
    match switchyard::wizard::link_spec_page(&pool, id, "not a page", "ops@example.com").await {
        Err(switchyard::wizard::WizardError::Invalid { field, .. }) => assert_eq!(field, "page"),
        other => panic!("expected the page refused, got {other:?}"),
    }
    switchyard::wizard::link_spec_page(&pool, id, &page.notion_url(), "ops@example.com")
        .await
        .expect("linked");
    let view = switchyard::wizard::view(&pool, id).await.expect("view");
    assert_eq!(view.spec_page.as_deref(), Some(page.as_str()));
    // Without a Notion client the page cannot be fetched: refused, saying so.
    match switchyard::wizard::create(&pool, id, "ops@example.com", None).await {
        Err(switchyard::wizard::WizardError::Refused(why)) => {
            assert!(why.contains("NOTION_TOKEN"), "{why}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Connected, as the page's button posts it.
    let operator = crate::http::operator(&pool).await;
    let made = post_form(
        connected_app(&pool, fake.base_url()),
        &operator,
        CreateFromDraft::PATH,
        format!("id={id}"),
    )
    .await;
    accepted(&made);
    let name = switchyard::wizard::view(&pool, id)
        .await
        .expect("view")
        .migration
        .expect("made");
    let spec = store::migrations::spec(&pool, &name).await.expect("spec");
    assert_eq!(spec.notion_page_id.as_deref(), Some(page.as_str()));
    let text = serde_json::to_string(&spec.blocks).expect("json");
    assert!(text.contains("Current: users.preferences jsonb"), "{text}");

    // That page is this migration's spec now: another draft cannot link
    // it (as an import could not import it again), naming the migration.
    sqlx::raw_sql(
        r#"CREATE TABLE crm.leads (id bigint PRIMARY KEY, doc jsonb);
           INSERT INTO crm.leads VALUES (1, '{"stage": "new"}');
           ANALYZE crm.leads;"#,
    )
    .execute(&pool)
    .await
    .expect("leads");
    let other = switchyard::wizard::start(&pool, "crm", "leads", "id", "doc", "ops@example.com")
        .await
        .expect("another draft");
    match switchyard::wizard::link_spec_page(&pool, other, &page.notion_url(), "ops@example.com")
        .await
    {
        Err(switchyard::wizard::WizardError::Refused(why)) => {
            assert!(why.contains(&format!("{name:?}")), "{why}")
        }
        other => panic!("expected the page refused, got {other:?}"),
    }
    let view = switchyard::wizard::view(&pool, other).await.expect("view");
    assert_eq!(view.spec_page, None);
}
