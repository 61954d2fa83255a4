//! Tasks mirrored with a Notion task database, against the fake Notion and
//! a real Postgres: the mapping proposed from a schema with differently
//! named and typed properties, the demo's five tasks created once whatever
//! fails (a restart included), board changes reaching Notion, Notion's
//! changes reaching the board by polling, conflicts held then resolved,
//! and changes to different fields merged.

use std::time::Duration;

use serde_json::{json, Map, Value};
use sqlx::PgPool;
use switchyard::domain::notion_id::NotionId;
use switchyard::model::mirror::TaskField;
use switchyard::model::TaskStatus;
use switchyard::notion::fake::{Fault, RunningFake};
use switchyard::notion::outbox::Turn;
use switchyard::notion::task_sync::{self, PollSettings, Poller};
use switchyard::store::task_sync::{self as stored, Keep};
use switchyard::store::{self, tasks, StoreError};

use crate::mirror::worker;
use crate::notion::{client, start_fake};
use crate::DEMO;

const OPERATOR: &str = "op@example.com";

fn schema() -> Map<String, Value> {
    let options = |names: &[&str]| json!({ "options": names.iter().map(|n| json!({ "name": n })).collect::<Vec<_>>() });
    let mut s = Map::new();
    s.insert("Name".into(), json!({ "title": {} }));
    s.insert(
        "Stage".into(),
        json!({ "status": options(&["Not started", "In progress", "Blocked", "Done"]) }),
    );
    s.insert(
        "Importance".into(),
        json!({ "select": options(&["Urgent", "High", "Normal", "Low"]) }),
    );
    s.insert("Owner".into(), json!({ "people": {} }));
    s.insert(
        "Iteration".into(),
        json!({ "multi_select": options(&["Sprint 14"]) }),
    );
    s.insert(
        "Blocked by".into(),
        json!({ "relation": { "data_source_id": "self" } }),
    );
    s.insert("Notes".into(), json!({ "rich_text": {} }));
    s.insert("Estimate".into(), json!({ "number": {} }));
    s
}

/// The team's task database in the fake: (database, data source).
fn task_database(fake: &RunningFake) -> (NotionId, NotionId) {
    let home = fake.fake.add_page(None, "Team home", vec![]);
    fake.fake.add_user("Alice Chen", "alice@example.com");
    fake.fake.add_database(&home, "Engineering tasks", schema())
}

#[sqlx::test(migrations = "./migrations")]
async fn the_mapping_is_proposed_from_names_and_types_and_missing_ones_named(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    let (db, ds) = task_database(&fake);
    let mapping = task_sync::connect(&pool, &client(&fake), DEMO, &db.notion_url(), OPERATOR)
        .await
        .expect("connected");
    let property = |f: TaskField| {
        mapping
            .get(f)
            .map(|m| (m.property.as_str(), m.kind.as_str()))
    };
    assert_eq!(property(TaskField::Title), Some(("Name", "title")));
    assert_eq!(property(TaskField::Status), Some(("Stage", "status")));
    assert_eq!(
        property(TaskField::Priority),
        Some(("Importance", "select"))
    );
    assert_eq!(property(TaskField::Assignee), Some(("Owner", "people")));
    assert_eq!(
        property(TaskField::Sprint),
        Some(("Iteration", "multi_select"))
    );
    assert_eq!(
        property(TaskField::DependsOn),
        Some(("Blocked by", "relation"))
    );
    let status = mapping.get(TaskField::Status).expect("status");
    assert_eq!(status.option_for("To Do"), Some("Not started"));
    assert_eq!(status.option_for("In Progress"), Some("In progress"));
    let priority = mapping.get(TaskField::Priority).expect("priority");
    assert_eq!(priority.option_for("Critical"), Some("Urgent"));
    assert_eq!(priority.option_for("Medium"), Some("Normal"));
    assert!(mapping.missing().is_empty(), "{:?}", mapping.missing());
    let link = stored::link(&pool, DEMO)
        .await
        .expect("link")
        .expect("stored");
    assert_eq!(link.data_source_id, ds.to_string());
    assert!(link.confirmed_at.is_none(), "proposed, not confirmed");

    // A data source with none of the names: nothing guessed, all named.
    let home = fake.fake.add_page(None, "Other", vec![]);
    let mut sparse = Map::new();
    sparse.insert("Item".into(), json!({ "title": {} }));
    sparse.insert(
        "Kind".into(),
        json!({ "select": { "options": [ { "name": "Bug" } ] } }),
    );
    sparse.insert("Mood".into(), json!({ "select": { "options": [] } }));
    let (_, other) = fake.fake.add_database(&home, "Loose list", sparse);
    let mapping = task_sync::connect(&pool, &client(&fake), DEMO, other.as_str(), OPERATOR)
        .await
        .expect("connected by data source id");
    assert_eq!(mapping.fields.len(), 1, "{mapping:?}");
    let missing = mapping.missing().join("\n");
    for field in ["Status", "Priority", "Assignee", "Sprint", "Depends on"] {
        assert!(
            missing.contains(&format!("{field}: no property")),
            "{missing}"
        );
    }
}

/// Connected, mapping confirmed as proposed, pages queued.
async fn mirrored(pool: &PgPool, fake: &RunningFake) -> NotionId {
    let (db, ds) = task_database(fake);
    let mapping = task_sync::connect(pool, &client(fake), DEMO, db.as_str(), OPERATOR)
        .await
        .expect("connected");
    stored::confirm(pool, DEMO, &mapping, OPERATOR)
        .await
        .expect("confirmed");
    assert_eq!(
        stored::queue_pages(pool, DEMO, OPERATOR)
            .await
            .expect("queued"),
        5
    );
    ds
}

fn rows_titled(fake: &RunningFake, title: &str) -> Vec<NotionId> {
    fake.fake.pages_titled(title)
}

fn page_of(fake: &RunningFake, title: &str) -> Value {
    let pages = rows_titled(fake, title);
    assert_eq!(pages.len(), 1, "{title}: {pages:?}");
    fake.fake.tree(&pages[0]).expect("page")
}

fn status_of(page: &Value) -> Option<&str> {
    page.pointer("/properties/Stage/status/name")
        .and_then(Value::as_str)
}

/// Moves the task titled `title` on the board, as the operator.
async fn move_card(pool: &PgPool, title: &str, status: TaskStatus) {
    let t = task(pool, title).await;
    tasks::move_task(pool, DEMO, t.id, status, t.revision, OPERATOR)
        .await
        .expect("moved on the board");
}

async fn task(pool: &PgPool, title: &str) -> switchyard::model::TaskView {
    store::migrations::tasks(pool, DEMO)
        .await
        .expect("tasks")
        .into_iter()
        .find(|t| t.title == title)
        .expect("the task")
}

#[sqlx::test(migrations = "./migrations")]
async fn the_five_tasks_are_created_once_despite_faults_and_a_restart(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    let ds = mirrored(&pool, &fake).await;

    // An instance claims the first item, creates its page, and is killed
    // before recording it (its lease runs out).
    let claimed = store::outbox::claim(&pool, Duration::from_millis(300))
        .await
        .expect("claim")
        .expect("an item");
    let payload: stored::CreateTaskPage =
        serde_json::from_value(claimed.payload.0.clone()).expect("payload");
    let created = task_sync::deliver_create(&pool, &client(&fake), DEMO, &payload, false)
        .await
        .expect("created")
        .expect("a page");
    tokio::time::sleep(Duration::from_millis(400)).await;

    // After the restart: answers lost after the work was done, 5xx, a
    // hang past the timeout.
    fake.fake.inject([
        Fault::Drop { apply: true },
        Fault::Status { status: 500 },
        Fault::Hang {
            millis: 1500,
            apply: true,
        },
        Fault::Status { status: 503 },
    ]);
    let turns = worker(&pool, &fake).drain().await.expect("drained");
    assert!(
        turns
            .iter()
            .all(|t| !matches!(t, Turn::Failed { gave_up: true, .. })),
        "{turns:?}"
    );
    assert_eq!(fake.fake.pending_faults(), 0);

    let demo = store::migrations::tasks(&pool, DEMO).await.expect("tasks");
    assert_eq!(demo.len(), 5);
    for t in &demo {
        let page = page_of(&fake, &t.title);
        assert_eq!(
            t.notion_page_id.as_deref(),
            page["id"].as_str(),
            "{} linked to its one page",
            t.title
        );
        assert_eq!(page["parent"]["data_source_id"], json!(ds.as_str()));
        let todos: Vec<&Value> = page["children"]
            .as_array()
            .expect("children")
            .iter()
            .filter(|b| b["type"] == "to_do")
            .collect();
        assert_eq!(todos.len(), t.criteria.len(), "{}", t.title);
        for (todo, c) in todos.iter().zip(&t.criteria) {
            assert_eq!(todo["to_do"]["checked"], json!(c.done));
        }
    }
    // The restarted worker found the crashed instance's page.
    let first = &demo[0];
    assert_eq!(first.id, created.task);
    assert_eq!(first.notion_page_id.as_deref(), Some(created.page.as_str()));

    // Properties per the mapping; dependencies set once every page existed.
    let backfill = page_of(&fake, "Implement backfill job");
    assert_eq!(status_of(&backfill), Some("In progress"));
    assert_eq!(
        backfill.pointer("/properties/Importance/select/name"),
        Some(&json!("Urgent"))
    );
    let sql = page_of(&fake, "Write migration SQL");
    assert_eq!(
        backfill.pointer("/properties/Blocked by/relation/0/id"),
        Some(&sql["id"])
    );
    assert_eq!(
        sql.pointer("/properties/Owner/people/0/name"),
        Some(&json!("Alice Chen")),
        "Alice is a Notion user"
    );
    let rollback = page_of(&fake, "Rollback plan and monitoring");
    assert_eq!(
        rollback["properties"]["Blocked by"]["relation"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // Bob is no Notion user: his tasks' Owner is left empty, not guessed.
    assert_eq!(backfill["properties"]["Owner"], Value::Null);
    // The untouched properties stay absent.
    assert!(backfill["properties"].get("Notes").is_none());

    // Nothing more to do: a poll finds no change.
    let poller = Poller::new(pool.clone(), client(&fake), fast_poll());
    let reports = poller.poll_once().await.expect("polled");
    assert!(reports[0].created.is_empty());
    assert!(
        reports[0]
            .reconciled
            .iter()
            .all(|(_, r)| r.pushed.is_empty() && r.pulled.is_empty() && r.conflicts.is_empty()),
        "{:?}",
        reports[0].reconciled
    );
}

fn fast_poll() -> PollSettings {
    PollSettings {
        interval: Duration::from_millis(50),
        sweep_every: 1,
    }
}

/// The demo's tasks in the fake, every item delivered.
async fn in_notion(pool: &PgPool, fake: &RunningFake) -> NotionId {
    let ds = mirrored(pool, fake).await;
    worker(pool, fake).drain().await.expect("drained");
    ds
}

#[sqlx::test(migrations = "./migrations")]
async fn board_changes_reach_notion(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    let ds = in_notion(&pool, &fake).await;
    move_card(&pool, "Add dual-write", TaskStatus::InProgress).await;
    let t = task(&pool, "Add dual-write").await;
    // Its sync failed for a while and waits out a long retry: the next
    // change brings it forward rather than leaving both behind the delay.
    let waiting = sqlx::query(
        "UPDATE switchyard.notion_outbox SET attempts = 4, next_attempt_at = now() + interval '1 hour'
         WHERE task_id = $1 AND state = 'pending'",
    )
    .bind(t.id)
    .execute(&pool)
    .await
    .expect("waits");
    assert_eq!(waiting.rows_affected(), 1);
    tasks::set_criterion(&pool, DEMO, t.criteria[1].id, true, OPERATOR)
        .await
        .expect("ticked");
    let items: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM switchyard.notion_outbox WHERE kind = 'sync_task' AND task_id = $1
           AND state = 'pending'",
    )
    .bind(t.id)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(
        items, 1,
        "one waiting sync per task: it reads the task when it runs"
    );
    worker(&pool, &fake).drain().await.expect("drained");
    let page = page_of(&fake, "Add dual-write");
    assert_eq!(status_of(&page), Some("In progress"));
    let todos: Vec<bool> = page["children"]
        .as_array()
        .expect("children")
        .iter()
        .filter(|b| b["type"] == "to_do")
        .map(|b| b["to_do"]["checked"] == json!(true))
        .collect();
    assert_eq!(todos, vec![false, true]);

    // A new task gets a page; a deleted one's page goes to the trash.
    let id = tasks::create_task(
        &pool,
        DEMO,
        tasks::TaskInput {
            title: "Announce the switch".into(),
            status: TaskStatus::ToDo,
            priority: switchyard::model::Priority::Low,
            assignee: None,
            sprint: None,
            phase_position: None,
            depends_on: vec![t.id],
            criteria: vec!["Mail sent".into()],
        },
        OPERATOR,
    )
    .await
    .expect("created");
    let gone = task(&pool, "Update read queries").await;
    tasks::delete_task(&pool, DEMO, gone.id, gone.revision, OPERATOR)
        .await
        .expect("deleted");
    worker(&pool, &fake).drain().await.expect("drained");
    let new = page_of(&fake, "Announce the switch");
    assert_eq!(new["parent"]["data_source_id"], json!(ds.as_str()));
    assert_eq!(
        new.pointer("/properties/Blocked by/relation/0/id"),
        Some(&json!(page["id"]))
    );
    assert!(task(&pool, "Announce the switch")
        .await
        .notion_page_id
        .is_some());
    assert_eq!(id, task(&pool, "Announce the switch").await.id);
    assert!(
        rows_titled(&fake, "Update read queries").is_empty(),
        "in the trash"
    );
}

fn page_id(fake: &RunningFake, title: &str) -> NotionId {
    let pages = rows_titled(fake, title);
    assert_eq!(pages.len(), 1, "{title}");
    pages[0].clone()
}

/// `props` (a JSON object literal) as the fake's property edits.
fn object(props: Value) -> Map<String, Value> {
    let Value::Object(props) = props else {
        panic!("an object");
    };
    props
}

fn set(fake: &RunningFake, page: &NotionId, props: Value) {
    fake.fake
        .edit_properties(page, object(props))
        .expect("edited in Notion");
}

#[sqlx::test(migrations = "./migrations")]
async fn notion_changes_reach_the_board(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    let ds = in_notion(&pool, &fake).await;
    let poller = Poller::new(pool.clone(), client(&fake), fast_poll());
    poller.poll_once().await.expect("first poll");

    // Someone in Notion moves a task, ticks a criterion, adds a row and
    // trashes another.
    let dual = page_id(&fake, "Add dual-write");
    set(
        &fake,
        &dual,
        json!({ "Stage": { "status": { "name": "Done" } } }),
    );
    let first_todo = fake
        .fake
        .children_ids(&dual)
        .into_iter()
        .nth(1)
        .expect("a to-do");
    assert!(fake.fake.edit_block(
        &first_todo,
        json!({ "rich_text": [ { "type": "text", "text": { "content": "Every write reaches the new tables" } } ], "checked": true })
    ));
    let row = fake
        .fake
        .add_row(
            &ds,
            json!({ "Name": { "title": [ { "type": "text", "text": { "content": "Tell support" } } ] },
                    "Stage": { "status": { "name": "In progress" } } })
            .as_object()
            .cloned()
            .expect("props"),
            vec![json!({ "type": "to_do", "to_do": { "rich_text": [ { "type": "text", "text": { "content": "FAQ updated" } } ], "checked": true } })],
        )
        .expect("row added");
    let reads = page_id(&fake, "Update read queries");
    assert!(fake.fake.trash_page(&reads, true));

    let reports = poller.poll_once().await.expect("polled");
    let report = &reports[0];
    let t = task(&pool, "Add dual-write").await;
    assert_eq!(t.status, TaskStatus::Done);
    assert_eq!(t.criteria[0].text, "Every write reaches the new tables");
    assert!(t.criteria[0].done);
    let new = task(&pool, "Tell support").await;
    assert_eq!(new.status, TaskStatus::InProgress);
    assert_eq!(new.notion_page_id.as_deref(), Some(row.as_str()));
    assert_eq!(new.criteria.len(), 1);
    assert!(new.criteria[0].done);
    assert_eq!(report.created, vec![new.id]);
    assert!(store::migrations::tasks(&pool, DEMO)
        .await
        .expect("tasks")
        .iter()
        .all(|t| t.title != "Update read queries"));
    // Recorded as the person's, and nothing sent back.
    let actor: String = sqlx::query_scalar(
        "SELECT actor FROM switchyard.events WHERE kind = 'task_synced' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .expect("event");
    assert_eq!(actor, "Notion: Dana Person");
    let turns = worker(&pool, &fake).drain().await.expect("drained");
    assert!(turns.is_empty(), "{turns:?}");

    // The same content seen again (Notion rounds edit times to the minute,
    // so the next poll lists the rows again) changes nothing.
    let again = poller.poll_once().await.expect("polled");
    assert!(again[0].seen >= 1);
    assert!(again[0].created.is_empty());
    assert!(again[0]
        .reconciled
        .iter()
        .all(|(_, r)| r.pulled.is_empty() && r.pushed.is_empty()));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_same_field_changed_on_both_sides_is_held_until_resolved(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    in_notion(&pool, &fake).await;
    move_card(&pool, "Add dual-write", TaskStatus::Blocked).await;
    let dual = page_id(&fake, "Add dual-write");
    set(
        &fake,
        &dual,
        json!({ "Stage": { "status": { "name": "Done" } } }),
    );

    let poller = Poller::new(pool.clone(), client(&fake), fast_poll());
    poller.poll_once().await.expect("polled");
    worker(&pool, &fake).drain().await.expect("drained");
    // Nothing written anywhere.
    assert_eq!(
        task(&pool, "Add dual-write").await.status,
        TaskStatus::Blocked
    );
    assert_eq!(status_of(&page_of(&fake, "Add dual-write")), Some("Done"));
    let conflicts = stored::open_conflicts(&pool, DEMO)
        .await
        .expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    let c = &conflicts[0];
    assert_eq!(c.field, "status");
    assert_eq!(c.board_value.0, json!("Blocked"));
    assert_eq!(c.notion_value.0, json!("Done"));
    assert_eq!(c.board_by, OPERATOR);
    assert_eq!(c.notion_by, "Notion: Dana Person");
    // The board says so on the card, with where to resolve it.
    assert_eq!(
        task(&pool, "Add dual-write").await.conflicts,
        vec!["status".to_string()]
    );
    let cookie = crate::http::operator(&pool).await;
    let board = crate::http::get_as(&pool, &format!("/m/{DEMO}/tasks"), Some(&cookie)).await;
    let html = String::from_utf8_lossy(&board.body);
    assert!(
        html.contains("Changed here and in Notion: status.")
            && html.contains(&format!("/m/{DEMO}/notion#conflicts")),
        "{html}"
    );
    // Seen again, it is not recorded twice.
    poller.poll_once().await.expect("polled");
    assert_eq!(
        stored::open_conflicts(&pool, DEMO).await.expect("c").len(),
        1
    );

    // The operator keeps the board's: Notion gets it. A sync that read the
    // task's sync state before the resolution is refused when it writes
    // (`apply` checks the version), so it cannot hold the conflict again.
    let version = || async {
        sqlx::query_scalar::<_, i64>("SELECT version FROM switchyard.task_sync WHERE task_id = $1")
            .bind(c.task_id)
            .fetch_one(&pool)
            .await
            .expect("version")
    };
    let before = version().await;
    stored::resolve(&pool, DEMO, c.id, Keep::Board, "lead@example.com")
        .await
        .expect("resolved");
    assert!(version().await > before, "the resolution is a new version");
    worker(&pool, &fake).drain().await.expect("drained");
    assert_eq!(
        status_of(&page_of(&fake, "Add dual-write")),
        Some("Blocked")
    );
    assert_eq!(
        task(&pool, "Add dual-write").await.status,
        TaskStatus::Blocked
    );
    assert!(stored::open_conflicts(&pool, DEMO)
        .await
        .expect("c")
        .is_empty());
    assert!(task(&pool, "Add dual-write").await.conflicts.is_empty());
    let recorded: (String, Value) = sqlx::query_as(
        "SELECT actor, payload FROM switchyard.events WHERE kind = 'task_conflict_resolved'",
    )
    .fetch_one(&pool)
    .await
    .expect("event");
    assert_eq!(recorded.0, "lead@example.com");
    assert_eq!(recorded.1["kept"], json!("board"));
    // And stays in step.
    poller.poll_once().await.expect("polled");
    assert_eq!(
        task(&pool, "Add dual-write").await.status,
        TaskStatus::Blocked
    );

    // Another conflict, resolved for Notion.
    move_card(&pool, "Add dual-write", TaskStatus::ToDo).await;
    set(
        &fake,
        &dual,
        json!({ "Stage": { "status": { "name": "In progress" } } }),
    );
    poller.poll_once().await.expect("polled");
    let c = stored::open_conflicts(&pool, DEMO)
        .await
        .expect("c")
        .remove(0);
    stored::resolve(&pool, DEMO, c.id, Keep::Notion, OPERATOR)
        .await
        .expect("resolved");
    worker(&pool, &fake).drain().await.expect("drained");
    assert_eq!(
        task(&pool, "Add dual-write").await.status,
        TaskStatus::InProgress
    );
    assert_eq!(
        status_of(&page_of(&fake, "Add dual-write")),
        Some("In progress")
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn different_fields_changed_on_each_side_merge(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    in_notion(&pool, &fake).await;
    move_card(&pool, "Add dual-write", TaskStatus::InProgress).await;
    let dual = page_id(&fake, "Add dual-write");
    set(
        &fake,
        &dual,
        json!({ "Importance": { "select": { "name": "Low" } } }),
    );

    // Whichever runs first, the worker (board change) or the poller.
    worker(&pool, &fake).drain().await.expect("drained");
    Poller::new(pool.clone(), client(&fake), fast_poll())
        .poll_once()
        .await
        .expect("polled");
    let t = task(&pool, "Add dual-write").await;
    assert_eq!(t.status, TaskStatus::InProgress);
    assert_eq!(t.priority, switchyard::model::Priority::Low);
    let page = page_of(&fake, "Add dual-write");
    assert_eq!(status_of(&page), Some("In progress"));
    assert_eq!(
        page.pointer("/properties/Importance/select/name"),
        Some(&json!("Low"))
    );
    assert!(stored::open_conflicts(&pool, DEMO)
        .await
        .expect("c")
        .is_empty());
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
async fn the_mapping_form_is_for_operators_and_posts_without_javascript(pool: PgPool) {
    use crate::mirror::{accepted, connected_app, post_form};
    use leptos::server_fn::ServerFn;
    use switchyard::api::notion::{ConfirmTaskMapping, ConnectTaskDatabase};
    use switchyard::model::account::Role;
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    let (db, _) = task_database(&fake);
    let operator = crate::http::operator(&pool).await;
    let viewer = crate::http::signed_in_as(&pool, "viewer@example.com", Role::Viewer).await;
    let connect = format!(
        "name={DEMO}&target={}",
        crate::http::encode(&db.notion_url())
    );
    let refused = post_form(
        connected_app(&pool, fake.base_url()),
        &viewer,
        ConnectTaskDatabase::PATH,
        connect.clone(),
    )
    .await;
    assert_eq!(refused.status.as_u16(), 403);
    let done = post_form(
        connected_app(&pool, fake.base_url()),
        &operator,
        ConnectTaskDatabase::PATH,
        connect,
    )
    .await;
    accepted(&done);

    let html = get_page(
        connected_app(&pool, fake.base_url()),
        &operator,
        &format!("/m/{DEMO}/notion"),
    )
    .await;
    assert!(html.contains("Engineering tasks"), "{html}");
    assert!(
        html.contains(r#"name="mapping[status:In_Progress]""#),
        "{html}"
    );
    assert!(html.contains("Confirm mapping"));
    assert!(
        !html.contains("Create tasks in Notion"),
        "not before the mapping is confirmed"
    );
    let seen = get_page(
        connected_app(&pool, fake.base_url()),
        &viewer,
        &format!("/m/{DEMO}/notion"),
    )
    .await;
    assert!(
        !seen.contains("Confirm mapping"),
        "a viewer sees the mapping, not the form"
    );
    assert!(seen.contains("Stage (status)"), "{seen}");

    // As a browser posts the form: a changed option, a field left out.
    let form = [
        ("name", DEMO),
        ("mapping[title]", "Name"),
        ("mapping[status]", "Stage"),
        ("mapping[status:Blocked]", "In progress"),
        ("mapping[priority]", ""),
        ("mapping[assignee]", "Owner"),
    ]
    .iter()
    .map(|(k, v)| format!("{}={}", crate::http::encode(k), crate::http::encode(v)))
    .collect::<Vec<_>>()
    .join("&");
    let bad = form.replace("mapping%5Bassignee%5D=Owner", "mapping%5Bassignee%5D=Stage");
    let refused = post_form(
        connected_app(&pool, fake.base_url()),
        &operator,
        ConfirmTaskMapping::PATH,
        bad,
    )
    .await;
    let body = String::from_utf8_lossy(&refused.body);
    assert!(!refused.status.is_success(), "{} {body}", refused.status);
    assert!(
        body.contains("assignee") && body.contains("takes people"),
        "{body}"
    );
    let done = post_form(
        connected_app(&pool, fake.base_url()),
        &operator,
        ConfirmTaskMapping::PATH,
        form,
    )
    .await;
    accepted(&done);
    let link = stored::link(&pool, DEMO)
        .await
        .expect("link")
        .expect("stored");
    let mapping = link.mapping.0;
    assert_eq!(link.confirmed_by.as_deref(), Some(crate::http::OPERATOR));
    assert_eq!(
        mapping
            .get(TaskField::Status)
            .and_then(|m| m.option_for("Blocked")),
        Some("In progress")
    );
    assert_eq!(
        mapping
            .get(TaskField::Status)
            .and_then(|m| m.option_for("Done")),
        Some("Done")
    );
    assert!(mapping.get(TaskField::Priority).is_none());
    assert!(mapping.get(TaskField::Sprint).is_none());
    let html = get_page(
        connected_app(&pool, fake.base_url()),
        &operator,
        &format!("/m/{DEMO}/notion"),
    )
    .await;
    assert!(html.contains("Create tasks in Notion"), "{html}");
    assert!(html.contains("Priority: no property"), "{html}");
}

/// Two syncs of one task at once (the poller's and the outbox's) take
/// turns: the board's change is sent to Notion once, and the second, which
/// reads after the first recorded what it sent, has nothing to send. Each
/// used to push it, the second after whatever a person had changed in
/// Notion in between, which it then overwrote (a status set in Notion was
/// lost in `notion.spec.ts`).
#[sqlx::test(migrations = "./migrations")]
async fn syncs_of_one_task_at_once_send_its_change_once(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    in_notion(&pool, &fake).await;
    move_card(&pool, "Add dual-write", TaskStatus::InProgress).await;
    let t = task(&pool, "Add dual-write").await;
    let page = page_id(&fake, "Add dual-write");
    let link = stored::link(&pool, DEMO)
        .await
        .expect("link")
        .expect("mirrored");
    fake.fake.clear_requests();
    let client = client(&fake);
    let (a, b) = tokio::join!(
        task_sync::reconcile(&pool, &client, &link, t.id, None, None),
        task_sync::reconcile_fresh(&pool, &client, &link, t.id, None),
    );
    let (a, b) = (a.expect("first sync"), b.expect("second sync"));
    let pushes: Vec<_> = fake
        .fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "PATCH"
                && r.path.ends_with(page.as_str())
                && r.body.pointer("/properties/Stage").is_some()
        })
        .collect();
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    assert_eq!(
        a.pushed.len() + b.pushed.len(),
        1,
        "one of them sent it: {a:?} {b:?}"
    );
    assert_eq!(
        status_of(&page_of(&fake, "Add dual-write")),
        Some("In progress")
    );
    // What was sent is recorded: a person's next edit in Notion is theirs
    // alone, and reaches the board (no conflict).
    set(
        &fake,
        &page,
        json!({ "Stage": { "status": { "name": "Done" } } }),
    );
    task_sync::reconcile_fresh(&pool, &client, &link, t.id, None)
        .await
        .expect("synced");
    assert_eq!(task(&pool, "Add dual-write").await.status, TaskStatus::Done);
    assert!(stored::open_conflicts(&pool, DEMO)
        .await
        .expect("conflicts")
        .is_empty());
}

/// A title changed on both sides is resolved by a value typed from both:
/// it goes on the board and to Notion, and the choice is recorded with the
/// value; a status cannot be typed (one side's option is kept).
#[sqlx::test(migrations = "./migrations")]
async fn a_conflict_is_resolved_by_a_typed_merge(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    in_notion(&pool, &fake).await;
    let t = task(&pool, "Add dual-write").await;
    let input = tasks::TaskInput {
        title: "Add dual-write triggers".into(),
        status: t.status,
        priority: t.priority,
        assignee: t.assignee.clone(),
        sprint: t.sprint.clone(),
        phase_position: t.phase_position,
        depends_on: t.depends_on.iter().map(|d| d.id).collect(),
        criteria: t.criteria.iter().map(|c| c.text.clone()).collect(),
    };
    tasks::update_task(&pool, DEMO, t.id, t.revision, input, OPERATOR)
        .await
        .expect("renamed on the board");
    let dual = page_id(&fake, "Add dual-write");
    set(
        &fake,
        &dual,
        json!({ "Name": { "title": [ { "type": "text", "text": { "content": "Add dual-write (both tables)" } } ] } }),
    );
    let poller = Poller::new(pool.clone(), client(&fake), fast_poll());
    poller.poll_once().await.expect("polled");
    worker(&pool, &fake).drain().await.expect("drained");
    let c = stored::open_conflicts(&pool, DEMO)
        .await
        .expect("conflicts")
        .into_iter()
        .find(|c| c.field == "title")
        .expect("a title conflict");

    // Refused: a status typed, an empty title, control characters.
    for (field_value, why) in [("", "needs a title"), ("a\u{7}b", "control")] {
        match stored::resolve(
            &pool,
            DEMO,
            c.id,
            Keep::Merged(field_value.into()),
            OPERATOR,
        )
        .await
        {
            Err(StoreError::Invalid { message, .. }) => assert!(message.contains(why), "{message}"),
            other => panic!("expected a refusal for {field_value:?}, got {other:?}"),
        }
    }
    // As the conflict's form posts it.
    {
        use leptos::server_fn::ServerFn;
        use switchyard::api::notion::ResolveTaskConflict;
        let cookie = crate::http::operator(&pool).await;
        let form = format!(
            "name={DEMO}&conflict={}&keep=merged&value={}",
            c.id,
            crate::http::encode("  Add dual-write triggers (both tables) ")
        );
        let (status, body) =
            crate::http::call_as(&pool, Some(&cookie), ResolveTaskConflict::PATH, &form).await;
        assert!(
            status.is_success() || status.is_redirection(),
            "{status} {body}"
        );
    }
    worker(&pool, &fake).drain().await.expect("drained");
    let merged = "Add dual-write triggers (both tables)";
    assert_eq!(task(&pool, merged).await.id, t.id, "on the board");
    let page = fake.fake.tree(&dual).expect("page");
    assert_eq!(
        page.pointer("/properties/Name/title/0/text/content")
            .and_then(Value::as_str),
        Some(merged),
        "in Notion"
    );
    let kept: (String, Option<String>) =
        sqlx::query_as("SELECT kept, merged_value FROM switchyard.task_conflicts WHERE id = $1")
            .bind(c.id)
            .fetch_one(&pool)
            .await
            .expect("conflict");
    assert_eq!(kept, ("merged".to_string(), Some(merged.to_string())));
    // In step from then on: a poll changes nothing.
    let again = poller.poll_once().await.expect("polled");
    assert!(again[0]
        .reconciled
        .iter()
        .all(|(_, r)| r.pulled.is_empty() && r.pushed.is_empty() && r.conflicts.is_empty()));
    assert!(stored::open_conflicts(&pool, DEMO)
        .await
        .expect("c")
        .is_empty());

    // A status conflict cannot be resolved by a typed value.
    move_card(&pool, merged, TaskStatus::Blocked).await;
    set(
        &fake,
        &dual,
        json!({ "Stage": { "status": { "name": "Done" } } }),
    );
    poller.poll_once().await.expect("polled");
    let c = stored::open_conflicts(&pool, DEMO)
        .await
        .expect("c")
        .remove(0);
    assert_eq!(c.field, "status");
    match stored::resolve(&pool, DEMO, c.id, Keep::Merged("Done-ish".into()), OPERATOR).await {
        Err(StoreError::Invalid { message, .. }) => {
            assert!(message.contains("keep one side"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Each mirrored task linked to a phase shows that phase's progress on its
/// Notion page, written when it changes (not again when it does not), and
/// the task's own sync leaves the block alone.
#[sqlx::test(migrations = "./migrations")]
async fn a_tasks_page_shows_its_phases_progress(pool: PgPool) {
    use switchyard::model::console::PhaseAction;
    use switchyard::model::{Phase, PhaseState};
    use switchyard::notion::progress::{ProgressSettings, ProgressWriter, PROGRESS_PREFIX};

    use crate::console::{console_of, wait_for_state};
    crate::seeded(&pool, 500).await;
    let fake = start_fake().await;
    in_notion(&pool, &fake).await;
    let writer = ProgressWriter::new(
        pool.clone(),
        client(&fake),
        ProgressSettings {
            interval: Duration::from_secs(3600),
        },
    );
    // Before anything runs: every linked task's page says its phase is
    // pending.
    let wrote = writer.write(DEMO, false).await.expect("written");
    let linked: Vec<(i64, i16)> = sqlx::query_as(
        "SELECT id, phase_position FROM switchyard.tasks
         WHERE notion_page_id IS NOT NULL AND phase_position IS NOT NULL ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("tasks");
    assert!(!linked.is_empty());
    assert_eq!(
        wrote.task_pages,
        linked.iter().map(|t| t.0).collect::<Vec<_>>()
    );
    console_of(&pool)
        .act(
            DEMO,
            Phase::Expand,
            PhaseAction::Run,
            false,
            "runner@example.com",
        )
        .await
        .expect("run");
    wait_for_state(&pool, Phase::Expand, PhaseState::Done).await;
    // Within the interval nothing is written; forced (as at a run's end),
    // only the pages of phase 1's tasks change.
    assert!(writer
        .write(DEMO, false)
        .await
        .expect("turn")
        .task_pages
        .is_empty());
    let wrote = writer.write(DEMO, true).await.expect("written");
    let phase_1: Vec<i64> = linked.iter().filter(|t| t.1 == 1).map(|t| t.0).collect();
    assert!(!phase_1.is_empty());
    assert_eq!(wrote.task_pages, phase_1);
    for task_id in &phase_1 {
        let page: String =
            sqlx::query_scalar("SELECT notion_page_id FROM switchyard.tasks WHERE id = $1")
                .bind(task_id)
                .fetch_one(&pool)
                .await
                .expect("page");
        let tree = fake
            .fake
            .tree(&NotionId::parse(&page).expect("id"))
            .expect("page")
            .to_string();
        assert!(tree.contains(PROGRESS_PREFIX), "{tree}");
        assert!(tree.contains("Phase 1: "), "{tree}");
        assert!(tree.contains("Done, started"), "{tree}");
        assert!(tree.contains("by runner@example.com"), "{tree}");
        assert!(!tree.contains("Phase 2: "), "only its phase: {tree}");
    }
    // The task sync does not take the block for content: a poll and a
    // sync of every task change nothing.
    let poller = Poller::new(pool.clone(), client(&fake), fast_poll());
    let polled = poller.poll_once().await.expect("polled");
    assert!(polled[0]
        .reconciled
        .iter()
        .all(|(_, r)| r.pulled.is_empty() && r.pushed.is_empty() && r.conflicts.is_empty()));
}

/// The task's fields as the board's edit form would send them, with
/// another sprint.
fn with_sprint(t: &switchyard::model::TaskView, sprint: Option<&str>) -> tasks::TaskInput {
    tasks::TaskInput {
        title: t.title.clone(),
        status: t.status,
        priority: t.priority,
        assignee: t.assignee.clone(),
        sprint: sprint.map(str::to_string),
        phase_position: t.phase_position,
        depends_on: t.depends_on.iter().map(|d| d.id).collect(),
        criteria: t.criteria.iter().map(|c| c.text.clone()).collect(),
    }
}

/// Sets the sprint of the task titled `title` on the board.
async fn set_sprint(pool: &PgPool, title: &str, sprint: &str) {
    let t = task(pool, title).await;
    tasks::update_task(
        pool,
        DEMO,
        t.id,
        t.revision,
        with_sprint(&t, Some(sprint)),
        OPERATOR,
    )
    .await
    .expect("edited");
}

/// A task database (`schema`, with a title "Name" and "Sprint", a
/// relation to `sprints`) under `home`, connected with the mapping as
/// proposed (Sprint → that relation), confirmed, and its pages made.
async fn with_sprint_relation(
    pool: &PgPool,
    fake: &RunningFake,
    home: &NotionId,
    sprints: &NotionId,
    mut schema: Map<String, Value>,
) -> (switchyard::model::mirror::TaskMapping, NotionId) {
    schema.insert("Name".into(), json!({ "title": {} }));
    schema.insert(
        "Sprint".into(),
        json!({ "relation": { "data_source_id": sprints.as_str(), "type": "single_property", "single_property": {} } }),
    );
    let (db, ds) = fake.fake.add_database(home, "Engineering tasks", schema);
    let mapping = task_sync::connect(pool, &client(fake), DEMO, db.as_str(), OPERATOR)
        .await
        .expect("connected");
    assert_eq!(
        mapping
            .get(TaskField::Sprint)
            .map(|m| (m.property.as_str(), m.kind.as_str())),
        Some(("Sprint", "relation"))
    );
    stored::confirm(pool, DEMO, &mapping, OPERATOR)
        .await
        .expect("confirmed");
    stored::queue_pages(pool, DEMO, OPERATOR)
        .await
        .expect("queued");
    worker(pool, fake).drain().await.expect("drained");
    (mapping, ds)
}

/// A team whose sprints are pages of their own data source, and whose
/// tasks' Sprint is a relation to it: the mapping proposes it (a relation
/// to the tasks' own data source is for dependencies, never a sprint);
/// the board's sprint becomes the page titled so, in both directions; a
/// sprint no page is titled is left alone in Notion.
#[sqlx::test(migrations = "./migrations")]
async fn a_sprint_mapped_to_a_relation_names_pages_of_the_sprints_data_source(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    let home = fake.fake.add_page(None, "Team home", vec![]);
    let mut sprint_schema = Map::new();
    sprint_schema.insert("Sprint name".into(), json!({ "title": {} }));
    let (_, sprints) = fake.fake.add_database(&home, "Sprints", sprint_schema);
    let sprint_page = |name: &str| {
        let props = json!({ "Sprint name": { "title": [ { "type": "text", "text": { "content": name } } ] } });
        fake.fake
            .add_row(&sprints, props.as_object().cloned().expect("props"), vec![])
            .expect("a sprint")
    };
    let (s14, s15, s16) = (
        sprint_page("Sprint 14"),
        sprint_page("Sprint 15"),
        sprint_page("Sprint 16"),
    );
    let mut schema = Map::new();
    schema.insert(
        "Blocked by".into(),
        json!({ "relation": { "data_source_id": "self" } }),
    );
    let (mapping, _) = with_sprint_relation(&pool, &fake, &home, &sprints, schema).await;
    let sprint = mapping.get(TaskField::Sprint).expect("sprint mapped");
    assert_eq!(sprint.relation_to.as_deref(), Some(sprints.as_str()));
    let depends = mapping.get(TaskField::DependsOn).expect("dependencies");
    assert_eq!(depends.property, "Blocked by");

    let related = |title: &str| -> Vec<String> {
        page_of(&fake, title)["properties"]["Sprint"]["relation"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str())
            .filter_map(|id| NotionId::parse(id).ok())
            .map(|id| id.to_string())
            .collect()
    };
    assert_eq!(related("Add dual-write"), vec![s15.to_string()]);
    assert_eq!(related("Write migration SQL"), vec![s14.to_string()]);

    // The board moves a task to the next sprint.
    set_sprint(&pool, "Add dual-write", "sprint 16").await;
    worker(&pool, &fake).drain().await.expect("drained");
    assert_eq!(related("Add dual-write"), vec![s16.to_string()]);
    // A sprint no page is titled: Notion keeps what it has.
    set_sprint(&pool, "Add dual-write", "Sprint 99").await;
    worker(&pool, &fake).drain().await.expect("drained");
    assert_eq!(related("Add dual-write"), vec![s16.to_string()]);

    // Someone in Notion moves another task to Sprint 16.
    let poller = Poller::new(pool.clone(), client(&fake), fast_poll());
    poller.poll_once().await.expect("first poll");
    let sql = page_id(&fake, "Write migration SQL");
    set(
        &fake,
        &sql,
        json!({ "Sprint": { "relation": [ { "id": s16.as_str() } ] } }),
    );
    poller.poll_once().await.expect("polled");
    assert_eq!(
        task(&pool, "Write migration SQL").await.sprint.as_deref(),
        Some("Sprint 16")
    );

    // Both sides change it: the conflict shows Notion's sprint by its
    // title, not its page's id.
    set_sprint(&pool, "Write migration SQL", "Sprint 15").await;
    set(
        &fake,
        &sql,
        json!({ "Sprint": { "relation": [ { "id": s14.as_str() } ] } }),
    );
    poller.poll_once().await.expect("polled");
    let conflicts = stored::open_conflicts(&pool, DEMO)
        .await
        .expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].field, "sprint");
    assert_eq!(conflicts[0].board_value.0, json!("Sprint 15"));
    assert_eq!(conflicts[0].notion_shown.as_deref(), Some("Sprint 14"));

    // Related to 30 sprints: a page object lists 25 (`has_more`), so the
    // field is not read as that list (nor written back over the rest).
    let many: Vec<Value> = (0..30)
        .map(|i| json!({ "id": sprint_page(&format!("Week {i}")).as_str() }))
        .collect();
    let dual = page_id(&fake, "Add dual-write");
    set(&fake, &dual, json!({ "Sprint": { "relation": many } }));
    poller.poll_once().await.expect("polled");
    assert_eq!(
        task(&pool, "Add dual-write").await.sprint.as_deref(),
        Some("Sprint 99")
    );
    assert_eq!(
        page_of(&fake, "Add dual-write")["properties"]["Sprint"]["has_more"],
        json!(true)
    );
}

/// Notion has no conditional write: a person's edit landing while a sync
/// of the same task runs (after the sync read the page, before it wrote)
/// is read again before the write, becomes a conflict, and is not
/// overwritten.
#[sqlx::test(migrations = "./migrations")]
async fn an_edit_in_notion_during_a_sync_is_not_overwritten(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    in_notion(&pool, &fake).await;
    move_card(&pool, "Add dual-write", TaskStatus::InProgress).await;
    let page = page_id(&fake, "Add dual-write");
    fake.fake.edit_when_listed(
        &page,
        object(json!({ "Stage": { "status": { "name": "Done" } } })),
    );
    worker(&pool, &fake).drain().await.expect("drained");
    let now = page_of(&fake, "Add dual-write");
    assert_eq!(status_of(&now), Some("Done"), "the person's edit stands");
    let conflicts = stored::open_conflicts(&pool, DEMO)
        .await
        .expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].field, "status");
    assert_eq!(conflicts[0].board_value.0, json!("In Progress"));
    assert_eq!(
        task(&pool, "Add dual-write").await.status,
        TaskStatus::InProgress
    );
}

/// A Sprint relation to a data source the integration cannot read (not
/// shared with it, or gone): every other field still syncs, nothing waits
/// failed in the outbox, and Sprint is neither written nor recorded as in
/// step.
#[sqlx::test(migrations = "./migrations")]
async fn an_unreadable_sprints_data_source_holds_back_only_the_sprint(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    let home = fake.fake.add_page(None, "Team home", vec![]);
    let hidden = NotionId::from_u128(0x5917_0000_0000_0001);
    let mut schema = Map::new();
    schema.insert(
        "Stage".into(),
        json!({ "status": { "options": [ { "name": "Not started" }, { "name": "In progress" }, { "name": "Done" } ] } }),
    );
    let (_, ds) = with_sprint_relation(&pool, &fake, &home, &hidden, schema).await;
    assert_eq!(rows_titled(&fake, "Add dual-write").len(), 1, "created");

    let t = task(&pool, "Add dual-write").await;
    let mut input = with_sprint(&t, Some("Sprint 16"));
    input.status = TaskStatus::InProgress;
    tasks::update_task(&pool, DEMO, t.id, t.revision, input, OPERATOR)
        .await
        .expect("edited");
    worker(&pool, &fake).drain().await.expect("drained");
    assert_eq!(
        status_of(&page_of(&fake, "Add dual-write")),
        Some("In progress")
    );
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM switchyard.notion_outbox WHERE state <> 'done'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(failed, 0, "nothing waits or failed");
    let recorded: Option<Value> = sqlx::query_scalar(
        "SELECT s.board -> 'sprint' FROM switchyard.task_sync s WHERE s.task_id = $1",
    )
    .bind(t.id)
    .fetch_one(&pool)
    .await
    .expect("state");
    assert_ne!(
        recorded,
        Some(json!("Sprint 16")),
        "not recorded as in step"
    );

    // A row made in Notion meanwhile, related to a sprint: its sprint
    // cannot be read either, so the board gets none and Notion's is not
    // recorded as in step (the first sync that can read it pulls it).
    let row = fake
        .fake
        .add_row(
            &ds,
            object(json!({
                "Name": { "title": [ { "type": "text", "text": { "content": "Tell support" } } ] },
                "Sprint": { "relation": [ { "id": home.as_str() } ] }
            })),
            vec![],
        )
        .expect("row added");
    Poller::new(pool.clone(), client(&fake), fast_poll())
        .poll_once()
        .await
        .expect("polled");
    let made: (Option<String>, Option<Value>) = sqlx::query_as(
        "SELECT t.sprint, s.notion -> 'sprint' FROM switchyard.tasks t
         JOIN switchyard.task_sync s ON s.task_id = t.id WHERE t.notion_page_id = $1",
    )
    .bind(row.as_str())
    .fetch_one(&pool)
    .await
    .expect("the task made from the row");
    assert_eq!(made, (None, None));
}

/// The board holds one assignee and one sprint, Notion's first: a board
/// change replaces only that one, and the other people and options set in
/// Notion stay.
#[sqlx::test(migrations = "./migrations")]
async fn a_board_change_keeps_the_other_people_and_options_set_in_notion(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let fake = start_fake().await;
    in_notion(&pool, &fake).await;
    let bob = fake.fake.add_user("Bob Stone", "bob@example.com");
    let users = client(&fake).list_users().await.expect("users");
    let id_of = |name: &str| {
        users
            .iter()
            .find(|u| u.name.as_deref() == Some(name))
            .map(|u| u.id.to_string())
            .expect("a user")
    };
    let (alice, dana) = (id_of("Alice Chen"), id_of("Dana Person"));
    let poller = Poller::new(pool.clone(), client(&fake), fast_poll());
    poller.poll_once().await.expect("first poll");
    let page = page_id(&fake, "Add dual-write");
    set(
        &fake,
        &page,
        json!({
            "Owner": { "people": [ { "id": alice }, { "id": dana } ] },
            "Iteration": { "multi_select": [ { "name": "Sprint 14" }, { "name": "Hotfix" } ] }
        }),
    );
    poller.poll_once().await.expect("polled");
    let t = task(&pool, "Add dual-write").await;
    assert_eq!(t.assignee.as_deref(), Some("Alice Chen"));
    assert_eq!(t.sprint.as_deref(), Some("Sprint 14"));

    let mut input = with_sprint(&t, Some("Sprint 15"));
    input.assignee = Some("Bob Stone".into());
    tasks::update_task(&pool, DEMO, t.id, t.revision, input, OPERATOR)
        .await
        .expect("edited");
    worker(&pool, &fake).drain().await.expect("drained");
    let now = page_of(&fake, "Add dual-write");
    let people: Vec<&str> = now["properties"]["Owner"]["people"]
        .as_array()
        .expect("people")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(people, vec![bob.to_string().as_str(), dana.as_str()]);
    let options: Vec<&str> = now["properties"]["Iteration"]["multi_select"]
        .as_array()
        .expect("options")
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(options, vec!["Sprint 15", "Hotfix"]);
}
