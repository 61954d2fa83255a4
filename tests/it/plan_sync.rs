//! The published plan kept in step with its Notion page, against the fake
//! Notion and a real Postgres: Switchyard's edits reaching the page (only
//! what changed rewritten), Notion's edits becoming a new revision by
//! "Notion: NAME", both sides changed held as a conflict (nothing written
//! anywhere) and resolved each way (Switchyard's, Notion's, a merge).

use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use switchyard::domain::notion_id::NotionId;
use switchyard::model::plan::PlanEdit;
use switchyard::notion::fake::Fault;
use switchyard::notion::fake::RunningFake;
use switchyard::notion::outbox::{OutboxWorker, Turn, WorkerSettings};
use switchyard::notion::plan_sync::{self, Synced};
use switchyard::notion::{blocks, publish};
use switchyard::store::plan_sync::{self as stored, Resolution};
use switchyard::store::{self, plans};

use crate::mirror::{imported, worker};
use crate::notion::{client, start_fake};

const OPERATOR: &str = "op@example.com";

/// A migration from a Notion spec with its plan published: (name, page).
async fn published(pool: &PgPool, fake: &RunningFake) -> (String, NotionId) {
    let (name, _) = imported(pool, fake, "Plan Sync Spec").await;
    publish::queue(pool, &name, None, OPERATOR)
        .await
        .expect("queued");
    let turns = worker(pool, fake).drain().await.expect("drained");
    assert!(
        matches!(turns.last(), Some(Turn::Delivered { .. })),
        "{turns:?}"
    );
    let page = store::migrations::plan(pool, &name)
        .await
        .expect("plan")
        .notion_page_id
        .expect("published");
    (name, NotionId::parse(&page).expect("an id"))
}

async fn current(pool: &PgPool, name: &str) -> (i32, PlanEdit) {
    let plan = store::migrations::plan(pool, name).await.expect("plan");
    (plan.revision, stored::edit_of(&plan))
}

/// Saves the plan in Switchyard with `change` applied.
async fn edit_in_switchyard(pool: &PgPool, name: &str, change: impl FnOnce(&mut PlanEdit)) -> i32 {
    let (revision, mut edit) = current(pool, name).await;
    change(&mut edit);
    plans::save(pool, name, revision, edit, OPERATOR)
        .await
        .expect("saved")
}

/// The page's top-level blocks' text, in order.
fn page_text(fake: &RunningFake, page: &NotionId) -> Vec<String> {
    let tree = fake.fake.tree(page).expect("the page");
    tree["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|b| blocks::from_response(b.clone()).plain_text())
        .collect()
}

/// The page's top-level block whose text starts with `start`.
fn block_starting(fake: &RunningFake, page: &NotionId, start: &str) -> NotionId {
    let tree = fake.fake.tree(page).expect("the page");
    let found = tree["children"]
        .as_array()
        .expect("children")
        .iter()
        .find(|b| {
            blocks::from_response((*b).clone())
                .plain_text()
                .starts_with(start)
        })
        .unwrap_or_else(|| panic!("no block starting {start:?}: {:?}", page_text(fake, page)));
    NotionId::parse(found["id"].as_str().expect("an id")).expect("an id")
}

/// Edits a block's text as Dana Person would in Notion.
fn edit_in_notion(fake: &RunningFake, page: &NotionId, start: &str, text: &str) {
    let block = block_starting(fake, page, start);
    let body = json!({ "rich_text": [ { "type": "text", "text": { "content": text } } ] });
    assert!(fake.fake.edit_block(&block, body), "edited");
    let now = page_text(fake, page);
    assert!(now.contains(&text.to_string()), "{now:?}");
}

fn writes(fake: &RunningFake) -> usize {
    fake.fake
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && r.status < 400)
        .count()
}

#[sqlx::test(migrations = "./migrations")]
async fn the_plan_edited_in_switchyard_reaches_its_notion_page(pool: PgPool) {
    let fake = start_fake().await;
    let (name, page) = published(&pool, &fake).await;
    let blocks_before = fake.fake.children_ids(&page);
    fake.fake.clear_requests();
    edit_in_switchyard(&pool, &name, |e| {
        e.body_markdown = "Roll out on Tuesday.\n\n- [ ] tell support\n".into();
        e.phases[1].owner = "Alice".into();
    })
    .await;
    // The save queued the sync: the worker delivers it.
    let turns = worker(&pool, &fake).drain().await.expect("drained");
    assert_eq!(turns.len(), 1, "{turns:?}");
    let text = page_text(&fake, &page);
    assert!(
        text.contains(&"Roll out on Tuesday.".to_string()),
        "{text:?}"
    );
    assert!(text.contains(&"tell support".to_string()), "{text:?}");
    assert!(text.contains(&"Owner: Alice".to_string()), "{text:?}");
    // Only what changed was written: the owner's line in place, the text
    // appended after "Plan"; the other blocks are the same blocks.
    assert!(writes(&fake) <= 3, "{:?}", fake.fake.requests());
    let after = fake.fake.children_ids(&page);
    assert_eq!(&after[..blocks_before.len()], &blocks_before[..]);
    // Synced: nothing more to do, and Notion's side is not seen as changed.
    fake.fake.clear_requests();
    assert_eq!(
        plan_sync::sync(&pool, &client(&fake), &name)
            .await
            .expect("sync"),
        Synced::Unchanged
    );
    assert_eq!(writes(&fake), 0);

    // A second edit replaces a block in place.
    edit_in_switchyard(&pool, &name, |e| {
        e.body_markdown = "Roll out on Wednesday.\n\n- [ ] tell support\n".into();
    })
    .await;
    worker(&pool, &fake).drain().await.expect("drained");
    let text = page_text(&fake, &page);
    assert!(
        text.contains(&"Roll out on Wednesday.".to_string()),
        "{text:?}"
    );
    assert!(!text.iter().any(|t| t.contains("Tuesday")), "{text:?}");
    assert_eq!(fake.fake.children_ids(&page), after);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_plan_edited_in_notion_becomes_a_new_revision(pool: PgPool) {
    let fake = start_fake().await;
    let (name, page) = published(&pool, &fake).await;
    let (revision, _) = current(&pool, &name).await;
    // Nothing changed yet: a poll writes no revision.
    plan_sync::poll(&pool, &client(&fake)).await.expect("poll");
    assert_eq!(current(&pool, &name).await.0, revision);

    fake.fake.add_children(
        &page,
        vec![json!({ "object": "block", "type": "paragraph",
            "paragraph": { "rich_text": [ { "type": "text", "text": { "content": "Freeze deploys during phase 3." },
                "annotations": { "bold": true } } ] } })],
    );
    edit_in_notion(&fake, &page, "Owner:", "Owner: Dana");
    let synced = plan_sync::poll(&pool, &client(&fake)).await.expect("poll");
    assert_eq!(
        synced,
        vec![(
            name.clone(),
            Synced::Pulled {
                revision: revision + 1
            }
        )]
    );
    let (now, edit) = current(&pool, &name).await;
    assert_eq!(now, revision + 1);
    assert_eq!(
        edit.body_markdown.trim(),
        "**Freeze deploys during phase 3.**"
    );
    assert_eq!(edit.phases[0].owner, "Dana");
    let history = plans::history(&pool, &name).await.expect("history");
    assert_eq!(history[0].saved_by, "Notion: Dana Person");
    // Seen once: the next sync changes nothing, and writes nothing back.
    fake.fake.clear_requests();
    assert_eq!(
        plan_sync::sync(&pool, &client(&fake), &name)
            .await
            .expect("sync"),
        Synced::Unchanged
    );
    assert_eq!(current(&pool, &name).await.0, revision + 1);
    assert_eq!(writes(&fake), 0);
}

/// Both sides edit the plan's text: Switchyard says `ours`, Notion `theirs`.
async fn both_edit(
    pool: &PgPool,
    fake: &RunningFake,
    name: &str,
    page: &NotionId,
    ours: &str,
    theirs: &str,
) {
    let ours = ours.to_string();
    edit_in_switchyard(pool, name, move |e| e.body_markdown = format!("{ours}\n")).await;
    let text = page_text(fake, page);
    let plan_at = text
        .iter()
        .position(|t| t == "Plan")
        .expect("a Plan heading");
    match text.get(plan_at + 1) {
        Some(first) => edit_in_notion(fake, page, first, theirs),
        None => {
            fake.fake
                .add_children(page, vec![blocks::paragraph(theirs)]);
        }
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn the_plan_changed_on_both_sides_is_held_then_resolved_each_way(pool: PgPool) {
    let fake = start_fake().await;
    let (name, page) = published(&pool, &fake).await;
    let notion = client(&fake);

    // 1. Both sides: a conflict, nothing written anywhere.
    both_edit(
        &pool,
        &fake,
        &name,
        &page,
        "Ours: go on Monday.",
        "Theirs: go on Friday.",
    )
    .await;
    let (revision, _) = current(&pool, &name).await;
    fake.fake.clear_requests();
    let turns = worker(&pool, &fake).drain().await.expect("drained");
    assert_eq!(turns.len(), 1, "the save's sync ran: {turns:?}");
    assert_eq!(writes(&fake), 0, "nothing written to Notion");
    assert_eq!(current(&pool, &name).await.0, revision, "no revision");
    assert!(page_text(&fake, &page).contains(&"Theirs: go on Friday.".to_string()));
    let conflict = stored::open_conflict(&pool, &name)
        .await
        .expect("read")
        .expect("a conflict");
    assert_eq!(
        conflict.board_plan.0.body_markdown.trim(),
        "Ours: go on Monday."
    );
    assert_eq!(
        conflict.notion_plan.0.body_markdown.trim(),
        "Theirs: go on Friday."
    );
    assert_eq!(conflict.board_by, OPERATOR);
    assert_eq!(conflict.notion_by, "Notion: Dana Person");
    // Held: polls and syncs leave it alone.
    assert_eq!(
        plan_sync::sync(&pool, &notion, &name).await.expect("sync"),
        Synced::Held
    );
    assert_eq!(writes(&fake), 0);

    // Keep Switchyard's: the page gets it.
    stored::resolve(&pool, &name, conflict.id, Resolution::Switchyard, OPERATOR)
        .await
        .expect("resolved");
    worker(&pool, &fake).drain().await.expect("drained");
    let text = page_text(&fake, &page);
    assert!(
        text.contains(&"Ours: go on Monday.".to_string()),
        "{text:?}"
    );
    assert!(!text.iter().any(|t| t.contains("Theirs")), "{text:?}");
    assert_eq!(current(&pool, &name).await.0, revision);
    assert!(stored::open_conflict(&pool, &name)
        .await
        .expect("read")
        .is_none());
    assert_eq!(
        plan_sync::sync(&pool, &notion, &name).await.expect("sync"),
        Synced::Unchanged
    );

    // 2. Again, and keep Notion's: a new revision by Notion's editor.
    both_edit(
        &pool,
        &fake,
        &name,
        &page,
        "Ours: in March.",
        "Theirs: in April.",
    )
    .await;
    worker(&pool, &fake).drain().await.expect("drained");
    let conflict = stored::open_conflict(&pool, &name)
        .await
        .expect("read")
        .expect("a conflict");
    let (revision, _) = current(&pool, &name).await;
    stored::resolve(&pool, &name, conflict.id, Resolution::Notion, OPERATOR)
        .await
        .expect("resolved");
    worker(&pool, &fake).drain().await.expect("drained");
    let (now, edit) = current(&pool, &name).await;
    assert_eq!(now, revision + 1);
    assert_eq!(edit.body_markdown.trim(), "Theirs: in April.");
    let history = plans::history(&pool, &name).await.expect("history");
    assert_eq!(history[0].saved_by, "Notion: Dana Person");
    assert!(page_text(&fake, &page).contains(&"Theirs: in April.".to_string()));
    assert_eq!(
        plan_sync::sync(&pool, &notion, &name).await.expect("sync"),
        Synced::Unchanged
    );

    // 3. Again, and merge: the operator's text is saved and written across.
    both_edit(
        &pool,
        &fake,
        &name,
        &page,
        "Ours: with a canary.",
        "Theirs: at night.",
    )
    .await;
    worker(&pool, &fake).drain().await.expect("drained");
    let conflict = stored::open_conflict(&pool, &name)
        .await
        .expect("read")
        .expect("a conflict");
    let (revision, mut merged) = current(&pool, &name).await;
    merged.body_markdown = "Merged: at night, with a canary.\n".into();
    stored::resolve(
        &pool,
        &name,
        conflict.id,
        Resolution::Merged {
            base_revision: revision,
            edit: merged,
        },
        OPERATOR,
    )
    .await
    .expect("resolved");
    worker(&pool, &fake).drain().await.expect("drained");
    assert_eq!(current(&pool, &name).await.0, revision + 1);
    let text = page_text(&fake, &page);
    assert!(
        text.contains(&"Merged: at night, with a canary.".to_string()),
        "{text:?}"
    );
    assert!(!text.iter().any(|t| t.starts_with("Theirs")), "{text:?}");

    // Each choice is an event, by the operator.
    let kept: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, payload->>'kept' FROM switchyard.events
         WHERE kind = 'plan_conflict_resolved' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("events");
    let expected: Vec<(String, String)> = ["switchyard", "notion", "merged"]
        .iter()
        .map(|k| (OPERATOR.to_string(), k.to_string()))
        .collect();
    assert_eq!(kept, expected);
    let held: i64 =
        sqlx::query_scalar("SELECT count(*) FROM switchyard.events WHERE kind = 'plan_conflict'")
            .fetch_one(&pool)
            .await
            .expect("events");
    assert_eq!(held, 3);
}

/// The browser test's case: Notion failed long enough that the save's
/// sync waits out a long retry, and the poll found the conflict more than a
/// minute after the page's last edit. Notion's side, kept, is synced at
/// once all the same: by the outbox (the waiting sync brought forward, no
/// second one queued) and by a poll that comes first.
#[sqlx::test(migrations = "./migrations")]
async fn a_conflict_resolved_while_its_sync_waits_out_a_retry_is_synced_at_once(pool: PgPool) {
    let fake = start_fake().await;
    let (name, page) = published(&pool, &fake).await;
    let notion = client(&fake);
    let waiting_an_hour = "UPDATE switchyard.notion_outbox
         SET attempts = 4, last_error = 'Notion answered 503', next_attempt_at = now() + interval '1 hour'
         WHERE kind = 'sync_plan' AND state = 'pending'";
    let found_late =
        "UPDATE switchyard.plan_sync SET checked_at = checked_at + interval '2 minutes'";
    let sync_items = "SELECT count(*) FROM switchyard.notion_outbox WHERE kind = 'sync_plan'";

    for (round, by_poll) in [(1, false), (2, true)] {
        both_edit(
            &pool,
            &fake,
            &name,
            &page,
            &format!("Ours: round {round}."),
            &format!("Theirs: round {round}."),
        )
        .await;
        let hurt = sqlx::query(waiting_an_hour)
            .execute(&pool)
            .await
            .expect("the save's sync waits");
        assert_eq!(hurt.rows_affected(), 1, "round {round}");
        assert_eq!(
            plan_sync::poll(&pool, &notion).await.expect("poll"),
            vec![(name.clone(), Synced::Conflict)],
            "round {round}"
        );
        sqlx::query(found_late).execute(&pool).await.expect("late");
        let conflict = stored::open_conflict(&pool, &name)
            .await
            .expect("read")
            .expect("a conflict");
        let (revision, _) = current(&pool, &name).await;
        let items: i64 = sqlx::query_scalar(sync_items)
            .fetch_one(&pool)
            .await
            .expect("count");

        stored::resolve(&pool, &name, conflict.id, Resolution::Notion, OPERATOR)
            .await
            .expect("resolved");
        let now: i64 = sqlx::query_scalar(sync_items)
            .fetch_one(&pool)
            .await
            .expect("count");
        assert_eq!(now, items, "round {round}: the waiting sync is the one");
        if by_poll {
            let synced = plan_sync::poll(&pool, &notion).await.expect("poll");
            assert!(
                matches!(synced[..], [(_, Synced::Pulled { .. })]),
                "round {round}: {synced:?}"
            );
        }
        let turns = worker(&pool, &fake).drain().await.expect("drained");
        assert!(
            matches!(turns[..], [Turn::Delivered { .. }]),
            "round {round}: {turns:?}"
        );
        let (after, edit) = current(&pool, &name).await;
        assert_eq!(after, revision + 1, "round {round}");
        assert_eq!(edit.body_markdown.trim(), format!("Theirs: round {round}."));
        assert_eq!(
            plan_sync::sync(&pool, &notion, &name).await.expect("sync"),
            Synced::Unchanged
        );
    }
}

/// Two syncs of one plan at once (the poller's and the outbox's, as in the
/// browser test): one holds the conflict, an operator resolves it, and the
/// other, which read the sync state before, then tries to hold the same
/// conflict again. Refused (it is tried again and reads the resolution):
/// held again, the kept side was never written and the plan stayed held.
#[sqlx::test(migrations = "./migrations")]
async fn a_sync_that_read_before_a_resolution_does_not_hold_the_conflict_again(pool: PgPool) {
    let fake = start_fake().await;
    let (name, page) = published(&pool, &fake).await;
    both_edit(
        &pool,
        &fake,
        &name,
        &page,
        "Ours: on Monday.",
        "Theirs: on Friday.",
    )
    .await;
    let stale = stored::state(&pool, &name)
        .await
        .expect("read")
        .expect("published");
    worker(&pool, &fake).drain().await.expect("drained");
    let conflict = stored::open_conflict(&pool, &name)
        .await
        .expect("read")
        .expect("a conflict");
    // While it is open, the stale sync cannot settle either side.
    let recorded = stored::record(&pool, &stale, &conflict.board_hash, "as read before").await;
    assert!(
        matches!(recorded, Err(store::StoreError::Conflict(_))),
        "{recorded:?}"
    );
    stored::resolve(&pool, &name, conflict.id, Resolution::Notion, OPERATOR)
        .await
        .expect("resolved");

    let again = stored::NewPlanConflict {
        board_plan: conflict.board_plan.0.clone(),
        board_revision: conflict.board_revision,
        board_hash: conflict.board_hash.clone(),
        notion_plan: conflict.notion_plan.0.clone(),
        notion_hash: conflict.notion_hash.clone(),
        notion_by: conflict.notion_by.clone(),
        notion_at: conflict.notion_at,
    };
    let held = stored::hold(&pool, &stale, &again).await;
    assert!(
        matches!(held, Err(store::StoreError::Conflict(_))),
        "{held:?}"
    );
    assert!(stored::open_conflict(&pool, &name)
        .await
        .expect("read")
        .is_none());
    worker(&pool, &fake).drain().await.expect("drained");
    let (_, edit) = current(&pool, &name).await;
    assert_eq!(edit.body_markdown.trim(), "Theirs: on Friday.");
}

/// The plan's sync item: (state, attempts, hurried).
async fn sync_item(pool: &PgPool) -> (String, i32, i32) {
    sqlx::query_as(
        "SELECT state, attempts, hurried FROM switchyard.notion_outbox WHERE kind = 'sync_plan'",
    )
    .fetch_one(pool)
    .await
    .expect("one sync item")
}

/// Changes made while Notion keeps failing bring the waiting sync forward
/// each time, and those extra attempts do not use up the item's own: with
/// two attempts allowed, four changes are each tried at once, and the item
/// still waits for Notion (not left for an operator).
#[sqlx::test(migrations = "./migrations")]
async fn attempts_brought_forward_by_changes_do_not_use_up_the_items_own(pool: PgPool) {
    let fake = start_fake().await;
    let (name, page) = published(&pool, &fake).await;
    let patient = OutboxWorker::new(
        pool.clone(),
        client(&fake),
        WorkerSettings {
            lease: Duration::from_secs(30),
            max_attempts: 2,
            poll: Duration::from_millis(20),
            retry_delay: Duration::from_secs(3600),
            max_retry_delay: Duration::from_secs(3600),
        },
    );
    for n in 1..=4 {
        edit_in_switchyard(&pool, &name, |e| e.body_markdown = format!("Edit {n}.\n")).await;
        // One attempt's requests (the test client retries three times).
        fake.fake
            .inject((0..4).map(|_| Fault::Status { status: 503 }));
        let turns = patient.drain().await.expect("drained");
        assert!(
            matches!(turns[..], [Turn::Failed { gave_up: false, .. }]),
            "edit {n}: {turns:?}"
        );
        assert_eq!(fake.fake.pending_faults(), 0, "edit {n}");
        assert_eq!(
            sync_item(&pool).await,
            ("pending".into(), n, n - 1),
            "edit {n}"
        );
    }
    // Notion is back: the next change is sent at once.
    edit_in_switchyard(&pool, &name, |e| e.body_markdown = "Edit 5.\n".into()).await;
    let turns = patient.drain().await.expect("drained");
    assert!(matches!(turns[..], [Turn::Delivered { .. }]), "{turns:?}");
    assert_eq!(sync_item(&pool).await, ("done".into(), 5, 4));
    assert!(page_text(&fake, &page).contains(&"Edit 5.".to_string()));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_same_change_on_both_sides_is_no_conflict(pool: PgPool) {
    let fake = start_fake().await;
    let (name, page) = published(&pool, &fake).await;
    both_edit(&pool, &fake, &name, &page, "Same words.", "Same words.").await;
    worker(&pool, &fake).drain().await.expect("drained");
    assert!(stored::open_conflict(&pool, &name)
        .await
        .expect("read")
        .is_none());
    assert_eq!(
        plan_sync::sync(&pool, &client(&fake), &name)
            .await
            .expect("sync"),
        Synced::Unchanged
    );
}

async fn get_page(
    app: impl FnOnce() -> axum::Router + Send + 'static,
    cookie: &str,
    path: &str,
) -> String {
    let request = axum::http::Request::get(path)
        .header("cookie", cookie)
        .body(axum::body::Body::empty())
        .expect("request");
    let reply = crate::http::send(app, request).await;
    assert!(reply.status.is_success(), "{path}: {}", reply.status);
    String::from_utf8_lossy(&reply.body).into_owned()
}

#[sqlx::test(migrations = "./migrations")]
async fn the_plan_page_shows_a_conflict_and_an_operator_merges_it_without_javascript(pool: PgPool) {
    use crate::mirror::{accepted, connected_app, post_form};
    use leptos::server_fn::ServerFn;
    use switchyard::api::plans::ResolvePlanConflict;
    use switchyard::model::account::Role;
    let fake = start_fake().await;
    let (name, page) = published(&pool, &fake).await;
    both_edit(&pool, &fake, &name, &page, "Ours: blue.", "Theirs: green.").await;
    worker(&pool, &fake).drain().await.expect("drained");
    let conflict = stored::open_conflict(&pool, &name)
        .await
        .expect("read")
        .expect("a conflict");
    let operator = crate::http::operator(&pool).await;
    let viewer = crate::http::signed_in_as(&pool, "viewer@example.com", Role::Viewer).await;
    let path = format!("/m/{name}/plan");

    // Both versions, who changed each; the forms for operators only.
    let seen = get_page(connected_app(&pool, fake.base_url()), &viewer, &path).await;
    assert!(
        seen.contains("Changed in Switchyard and in Notion"),
        "{seen}"
    );
    assert!(
        seen.contains("Ours: blue.") && seen.contains("Theirs: green."),
        "{seen}"
    );
    assert!(seen.contains("By Notion: Dana Person"), "{seen}");
    assert!(seen.contains(&format!("by {OPERATOR}")), "{seen}");
    assert!(!seen.contains("Keep Notion&#x27;s") && !seen.contains("Keep Notion's"));
    let html = get_page(connected_app(&pool, fake.base_url()), &operator, &path).await;
    assert!(html.contains("Keep Notion"), "{html}");
    assert!(html.contains("Save the merge"), "{html}");

    let (revision, _) = current(&pool, &name).await;
    let form = |keep: &str, body: &str| {
        format!(
            "name={}&conflict={}&keep={keep}&base_revision={revision}&body={}",
            crate::http::encode(&name),
            conflict.id,
            crate::http::encode(body)
        )
    };
    // A viewer cannot; an unknown side is refused by name.
    let refused = post_form(
        connected_app(&pool, fake.base_url()),
        &viewer,
        ResolvePlanConflict::PATH,
        form("switchyard", ""),
    )
    .await;
    assert_eq!(refused.status.as_u16(), 403);
    let refused = post_form(
        connected_app(&pool, fake.base_url()),
        &operator,
        ResolvePlanConflict::PATH,
        form("both", ""),
    )
    .await;
    let body = String::from_utf8_lossy(&refused.body);
    assert!(!refused.status.is_success(), "{body}");
    assert!(body.contains("keep"), "{body}");
    assert!(stored::open_conflict(&pool, &name)
        .await
        .expect("read")
        .is_some());

    let done = post_form(
        connected_app(&pool, fake.base_url()),
        &operator,
        ResolvePlanConflict::PATH,
        form("merged", "Blue-green."),
    )
    .await;
    accepted(&done);
    let (now, edit) = current(&pool, &name).await;
    assert_eq!(now, revision + 1);
    assert_eq!(edit.body_markdown, "Blue-green.");
    worker(&pool, &fake).drain().await.expect("drained");
    assert!(page_text(&fake, &page).contains(&"Blue-green.".to_string()));
    let html = get_page(connected_app(&pool, fake.base_url()), &operator, &path).await;
    assert!(
        !html.contains("Changed in Switchyard and in Notion"),
        "resolved"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_run_of_phases_1_to_4_is_written_to_the_plan_page_coalesced(pool: PgPool) {
    use std::time::{Duration, Instant};
    use switchyard::model::console::PhaseAction;
    use switchyard::model::{Phase, PhaseState, TaskStatus};
    use switchyard::notion::progress::{ProgressSettings, ProgressWriter, PROGRESS_PREFIX};
    use switchyard::store::progress;

    use crate::console::{console_of, wait_for_state};
    use crate::DEMO;
    crate::seeded(&pool, 3_000).await;
    let fake = start_fake().await;
    let home = fake.fake.add_page(None, "Team plans", vec![]);
    publish::queue(&pool, DEMO, Some(home), OPERATOR)
        .await
        .expect("queued");
    worker(&pool, &fake).drain().await.expect("published");
    let page = NotionId::parse(
        &store::migrations::plan(&pool, DEMO)
            .await
            .expect("plan")
            .notion_page_id
            .expect("published"),
    )
    .expect("an id");
    progress::set_tasks_done_with_phase(&pool, DEMO, true, OPERATOR)
        .await
        .expect("turned on");
    let interval = Duration::from_millis(400);
    let writer = ProgressWriter::new(pool.clone(), client(&fake), ProgressSettings { interval });
    fake.fake.clear_requests();
    let started = Instant::now();
    let running = writer.clone().spawn();
    for phase in [
        Phase::Expand,
        Phase::Backfill,
        Phase::DualWrite,
        Phase::SwitchReads,
    ] {
        console_of(&pool)
            .act(
                DEMO,
                phase,
                PhaseAction::Run,
                phase == Phase::SwitchReads,
                "test",
            )
            .await
            .expect("run");
        wait_for_state(&pool, phase, PhaseState::Done).await;
    }
    running.abort();
    let elapsed = started.elapsed();
    // The last change, written now.
    writer.write(DEMO, true).await.expect("written");

    // The page says it: each phase done, who ran it, the backfill's rows
    // and quarantine, a completion note.
    let text = page_text(&fake, &page);
    let block = text
        .iter()
        .find(|t| t.starts_with(PROGRESS_PREFIX))
        .unwrap_or_else(|| panic!("no progress block: {text:?}"));
    for n in 1..=4 {
        let line = block
            .lines()
            .find(|l| l.starts_with(&format!("Phase {n}:")))
            .unwrap_or_else(|| panic!("no line for phase {n}: {block}"));
        assert!(line.contains("— Done"), "{line}");
        assert!(line.contains("by test"), "{line}");
        assert!(line.contains("finished"), "{line}");
        assert!(line.ends_with("Completed."), "{line}");
    }
    let quarantined: i64 = sqlx::query_scalar("SELECT count(*) FROM switchyard.quarantine")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert!(quarantined > 0);
    assert!(
        block.contains(&format!("3000 of 3000 rows, {quarantined} quarantined")),
        "{block}"
    );
    assert!(
        block.contains("Phase 5:") && block.contains("— Pending"),
        "{block}"
    );
    // The progress block is right after the marker, and the plan sync
    // leaves it alone (it is not the plan's content).
    assert!(text[0].starts_with("Published from Switchyard"), "{text:?}");
    assert!(text[1].starts_with(PROGRESS_PREFIX), "{text:?}");
    assert_eq!(
        plan_sync::sync(&pool, &client(&fake), DEMO)
            .await
            .expect("sync"),
        Synced::Unchanged
    );

    // Coalesced: at most one write per interval (plus the last), far fewer
    // than the batches the backfill reported.
    let progress_writes = fake
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.starts_with("/v1/blocks/"))
        .count();
    let bound = (elapsed.as_millis() / interval.as_millis()) as usize + 2;
    assert!(progress_writes >= 2, "{progress_writes}");
    assert!(
        progress_writes <= bound,
        "{progress_writes} writes in {elapsed:?} (at most {bound})"
    );
    let ticks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM switchyard.events WHERE kind IN ('progress', 'phase_state')",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert!(
        (progress_writes as i64) < ticks,
        "{progress_writes} writes for {ticks} progress events"
    );

    // The setting was on: each finished phase's tasks are Done, moved by
    // Switchyard, once.
    let tasks = store::migrations::tasks(&pool, DEMO).await.expect("tasks");
    let linked: Vec<_> = tasks
        .iter()
        .filter(|t| t.phase_position.is_some_and(|p| p.number() <= 4))
        .collect();
    assert!(!linked.is_empty());
    for t in &linked {
        assert_eq!(t.status, TaskStatus::Done, "{}", t.title);
    }
    let movers: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT actor FROM switchyard.events WHERE kind = 'task_moved' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("events");
    assert!(
        movers.iter().all(|a| a.starts_with("Switchyard (phase ")),
        "{movers:?}"
    );
    // A task moved back by hand stays where it was put.
    let t = linked[0];
    let fresh = store::migrations::tasks(&pool, DEMO)
        .await
        .expect("tasks")
        .into_iter()
        .find(|x| x.id == t.id)
        .expect("task");
    store::tasks::move_task(
        &pool,
        DEMO,
        t.id,
        TaskStatus::InProgress,
        fresh.revision,
        OPERATOR,
    )
    .await
    .expect("moved back");
    let again = writer.write(DEMO, true).await.expect("written");
    assert!(again.tasks_done.is_empty(), "{again:?}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_signed_webhook_triggers_a_fetch_and_a_bad_signature_is_refused(pool: PgPool) {
    use std::time::{Duration, Instant};
    use switchyard::notion::webhook::signature;
    const TOKEN: &str = "secret_webhook_token";
    let fake = start_fake().await;
    let (name, page) = published(&pool, &fake).await;
    let base = fake.base_url();
    let app = move |pool: PgPool| {
        let base = base.clone();
        move || {
            let mut settings = switchyard::notion::Settings::new(crate::notion::TOKEN, base);
            settings.requests_per_second = 1000.0;
            let client = switchyard::notion::NotionClient::new(settings).expect("client");
            let options = leptos::prelude::LeptosOptions::builder()
                .output_name("switchyard")
                .site_root("target/site")
                .build();
            switchyard::server::app::router_with_webhook(
                options,
                pool,
                switchyard::console::Settings::default(),
                switchyard::server::auth::AuthSettings::default(),
                switchyard::notion::Connection::Connected(client),
                Some(TOKEN.to_string()),
            )
        }
    };
    let post = |body: String, signed: Option<String>| {
        let mut request =
            axum::http::Request::post("/notion/webhook").header("content-type", "application/json");
        if let Some(s) = signed {
            request = request.header("X-Notion-Signature", s);
        }
        request.body(axum::body::Body::from(body)).expect("request")
    };
    // The handshake is taken (no signature: it carries the token).
    let handshake = crate::http::send(
        app(pool.clone()),
        post(
            json!({ "verification_token": "secret_xyz" }).to_string(),
            None,
        ),
    )
    .await;
    assert_eq!(handshake.status.as_u16(), 200);

    fake.fake
        .add_children(&page, vec![blocks::paragraph("Edited before the webhook.")]);
    let (revision, _) = current(&pool, &name).await;
    let event = json!({
        "id": "0b7a8e2c-0000-4000-8000-000000000001",
        "timestamp": "2026-12-07T07:00:00.000Z",
        "type": "page.content_updated",
        "entity": { "id": page.as_str(), "type": "page" },
        "data": { "parent": { "id": page.as_str(), "type": "page" } }
    })
    .to_string();
    // A bad signature, none, or one made with another token: refused, and
    // nothing fetched.
    fake.fake.clear_requests();
    for signed in [
        Some("sha256=00".to_string()),
        None,
        Some(signature("another_token", event.as_bytes())),
        Some(signature(TOKEN, b"another body")),
    ] {
        let refused =
            crate::http::send(app(pool.clone()), post(event.clone(), signed.clone())).await;
        assert_eq!(refused.status.as_u16(), 401, "{signed:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        fake.fake.requests().is_empty(),
        "{:?}",
        fake.fake.requests()
    );
    assert_eq!(current(&pool, &name).await.0, revision);

    // A good one: the page is fetched and its change becomes a revision;
    // the same event again (Notion repeats) changes nothing more.
    for _ in 0..2 {
        let done = crate::http::send(
            app(pool.clone()),
            post(event.clone(), Some(signature(TOKEN, event.as_bytes()))),
        )
        .await;
        assert_eq!(done.status.as_u16(), 200);
        let deadline = Instant::now() + Duration::from_secs(10);
        while current(&pool, &name).await.0 == revision {
            assert!(Instant::now() < deadline, "no fetch after a good webhook");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (now, edit) = current(&pool, &name).await;
    assert_eq!(now, revision + 1);
    assert!(
        edit.body_markdown.contains("Edited before the webhook."),
        "{edit:?}"
    );
}

/// Notion has no conditional write: a person's edit of another block
/// landing while Switchyard writes the plan to the page is not taken as
/// in step (and overwritten at the next push): the next sync brings the
/// page in, theirs and ours, as a revision.
#[sqlx::test(migrations = "./migrations")]
async fn an_edit_in_notion_while_the_plan_is_written_becomes_a_revision(pool: PgPool) {
    let fake = start_fake().await;
    let (name, page) = published(&pool, &fake).await;
    let first_owner = block_starting(&fake, &page, "Owner:");
    fake.fake.edit_block_on_next_write(
        &first_owner,
        json!({ "rich_text": [ { "type": "text", "text": { "content": "Owner: Dana" } } ] }),
    );
    let saved = edit_in_switchyard(&pool, &name, |e| {
        e.phases[1].owner = "Alice".into();
    })
    .await;
    worker(&pool, &fake).drain().await.expect("drained");
    let text = page_text(&fake, &page);
    assert!(text.contains(&"Owner: Dana".to_string()), "{text:?}");
    assert!(text.contains(&"Owner: Alice".to_string()), "{text:?}");
    let synced = plan_sync::sync(&pool, &client(&fake), &name)
        .await
        .expect("sync");
    assert_eq!(
        synced,
        Synced::Pulled {
            revision: saved + 1
        }
    );
    let (_, edit) = current(&pool, &name).await;
    assert_eq!(edit.phases[0].owner, "Dana");
    assert_eq!(edit.phases[1].owner, "Alice");
    // Seen once.
    assert_eq!(
        plan_sync::sync(&pool, &client(&fake), &name)
            .await
            .expect("sync"),
        Synced::Unchanged
    );
}
