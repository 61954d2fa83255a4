//! The Notion client against the fake Notion (no network beyond 127.0.0.1):
//! every endpoint, pagination and recursion, Notion's request limits,
//! retries on each fault, 429's Retry-After, and error messages.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchyard::domain::notion_id::NotionId;
use switchyard::notion::blocks::{self, paragraph};
use switchyard::notion::error::ApiCode;
use switchyard::notion::fake::{FakeNotion, Fault, RateLimit, RunningFake};
use switchyard::notion::wire::{Parent, Position, SearchFilter, SearchResult};
use switchyard::notion::{NotionClient, NotionError, Settings, NOTION_VERSION};

pub const TOKEN: &str = "secret_test_token";

pub async fn start_fake() -> RunningFake {
    FakeNotion::new(TOKEN)
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("the fake starts")
}

/// Fast settings for tests: no real pacing, short backoff and timeout.
pub fn settings(fake: &RunningFake) -> Settings {
    let mut s = Settings::new(TOKEN, fake.base_url());
    s.requests_per_second = 1000.0;
    s.burst = 100;
    s.timeout = Duration::from_millis(700);
    s.max_retries = 3;
    s.min_backoff = Duration::from_millis(5);
    s.max_backoff = Duration::from_millis(20);
    s
}

pub fn client(fake: &RunningFake) -> NotionClient {
    NotionClient::new(settings(fake)).expect("client")
}

fn with_children(mut block: Value, children: Vec<Value>) -> Value {
    blocks::set_children(&mut block, children);
    block
}

fn texts(tree: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        for child in v["children"].as_array().into_iter().flatten() {
            let kind = child["type"].as_str().unwrap_or_default();
            let text: String = child[kind]["rich_text"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["plain_text"].as_str())
                .collect();
            out.push(text);
            walk(child, out);
        }
    }
    walk(tree, &mut out);
    out
}

#[tokio::test]
async fn every_endpoint_answers_as_notion_does() {
    let fake = start_fake().await;
    let notion = client(&fake);
    let spec = fake
        .fake
        .add_page(None, "Payments Spec", vec![paragraph("Current: a blob")]);
    let (db, ds) = fake.fake.add_database(
        &spec,
        "Team Tasks",
        serde_json::from_value(json!({ "Task": { "title": {} }, "Status": { "select": {} } }))
            .expect("schema"),
    );

    // search: pages, and data sources, filtered.
    let hits = notion
        .search_all("payments", Some(SearchFilter::Pages), 10)
        .await
        .expect("search");
    assert!(
        matches!(&hits[..], [SearchResult::Page(p)] if p.id == spec && p.title() == "Payments Spec"),
        "{hits:?}"
    );
    let hits = notion
        .search_all("tasks", Some(SearchFilter::DataSources), 10)
        .await
        .expect("search");
    assert!(
        matches!(&hits[..], [SearchResult::DataSource(d)] if d.id == ds),
        "{hits:?}"
    );

    // retrieve a page; its times are rounded down to the minute.
    let page = notion.retrieve_page(&spec).await.expect("page");
    assert_eq!(page.title(), "Payments Spec");
    assert_eq!(page.last_edited_time.timestamp() % 60, 0);
    assert!(!page.in_trash);

    // create a page under it, with content, then update its properties.
    let child = notion
        .create_page(
            &Parent::Page(spec.clone()),
            switchyard::notion::wire::title_property_map("Plan"),
            vec![paragraph("phase one"), paragraph("phase two")],
        )
        .await
        .expect("create page");
    assert_eq!(child.title(), "Plan");
    let updated = notion
        .update_page(
            &child.id,
            switchyard::notion::wire::title_property_map("Plan v2"),
            Some(true),
        )
        .await
        .expect("update");
    assert_eq!(updated.title(), "Plan v2");
    assert!(updated.in_trash, "in_trash, not archived");

    // append at the start; read back in order.
    let created = notion
        .append_blocks(&spec, vec![paragraph("first")], Position::Start)
        .await
        .expect("append");
    assert_eq!(created.len(), 1);
    let children = notion.all_block_children(&spec).await.expect("children");
    let kinds: Vec<&str> = children.iter().filter_map(blocks::kind_of).collect();
    // The trashed plan page is gone from the list; the database is not a
    // block in the fake (it is listed through its data source).
    assert_eq!(kinds, vec!["paragraph", "paragraph"], "{children:?}");
    assert_eq!(
        blocks::from_response(children[0].clone()).plain_text(),
        "first"
    );

    // database → data sources → schema → rows.
    let database = notion.retrieve_database(&db).await.expect("database");
    assert_eq!(database.data_sources.len(), 1);
    assert_eq!(database.data_sources[0].id, ds);
    let source = notion.retrieve_data_source(&ds).await.expect("data source");
    assert!(source.properties.contains_key("Status"));
    for n in 0..3 {
        notion
            .create_page(
                &Parent::DataSource(ds.clone()),
                json!({ "Task": switchyard::notion::wire::title_property(&format!("task {n}")) }),
                vec![],
            )
            .await
            .expect("row");
    }
    let rows = notion
        .query_data_source_all(&ds, None)
        .await
        .expect("query");
    assert_eq!(rows.len(), 3);

    // users.
    let users = notion.list_users().await.expect("users");
    assert!(users
        .iter()
        .any(|u| u.person.as_ref().and_then(|p| p.email.as_deref()) == Some("dana@example.com")));

    // Every request carried the pinned version (the fake refuses others).
    assert!(fake.fake.requests().iter().all(|r| r.status == 200));
}

#[tokio::test]
async fn the_fake_insists_on_version_and_token() {
    let fake = start_fake().await;
    let page = fake.fake.add_page(None, "Spec", vec![]);
    switchyard::notion::client::ensure_crypto_provider();
    let http = reqwest::Client::new();
    let url = format!("{}/v1/pages/{page}", fake.base_url());
    let no_version: Value = http
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(no_version["code"], "missing_version");
    assert_eq!(no_version["status"], 400);
    let bad_token = http
        .get(&url)
        .bearer_auth("nope")
        .header("Notion-Version", NOTION_VERSION)
        .send()
        .await
        .expect("send");
    assert_eq!(bad_token.status().as_u16(), 401);

    let mut s = settings(&fake);
    s.token = "wrong".into();
    let err = NotionClient::new(s)
        .expect("client")
        .retrieve_page(&page)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Some(&ApiCode::Unauthorized));
    assert!(err.to_string().contains("NOTION_TOKEN"), "{err}");
}

#[tokio::test]
async fn reads_every_child_across_pages_and_levels() {
    let fake = start_fake().await;
    let notion = client(&fake);
    let deep = with_children(
        paragraph("level 1"),
        vec![with_children(
            paragraph("level 2"),
            vec![with_children(
                paragraph("level 3"),
                vec![paragraph("level 4")],
            )],
        )],
    );
    let wide = with_children(
        paragraph("wide"),
        (0..130).map(|i| paragraph(&format!("w{i}"))).collect(),
    );
    let mut content: Vec<Value> = (0..240).map(|i| paragraph(&format!("p{i}"))).collect();
    content.insert(10, deep);
    content.push(wide);
    let page = fake.fake.add_page(None, "Big", content);

    let tree = notion.block_tree(&page).await.expect("tree");
    assert_eq!(tree.len(), 242);
    assert_eq!(tree[0].plain_text(), "p0");
    assert_eq!(tree[10].plain_text(), "level 1");
    assert_eq!(
        tree[10].children[0].children[0].children[0].plain_text(),
        "level 4"
    );
    assert_eq!(tree[241].children.len(), 130);
    assert_eq!(tree[241].children[129].plain_text(), "w129");
    // 242 top-level blocks took three pages of 100.
    let top_pages = fake
        .fake
        .requests()
        .iter()
        .filter(|r| r.path == format!("/v1/blocks/{page}/children"))
        .count();
    assert_eq!(top_pages, 3);
}

#[tokio::test]
async fn long_wide_and_deep_content_is_split_to_fit_notions_limits() {
    let fake = start_fake().await;
    let notion = client(&fake);
    let page = fake.fake.add_page(None, "Target", vec![]);
    let long = "a".repeat(5000);
    let deep = with_children(
        paragraph("d1"),
        vec![with_children(
            paragraph("d2"),
            vec![with_children(paragraph("d3"), vec![paragraph("d4")])],
        )],
    );
    let mut content = vec![paragraph(&long), deep];
    content.extend((0..250).map(|i| paragraph(&format!("b{i}"))));

    // Sent as is, Notion (the fake) refuses each of these.
    switchyard::notion::client::ensure_crypto_provider();
    let http = reqwest::Client::new();
    for (body, needle) in [
        (
            json!({ "children": [paragraph(&long)] }),
            "text.content.length should be ≤ `2000`, instead was `5000`",
        ),
        (
            json!({ "children": (0..101).map(|_| paragraph("x")).collect::<Vec<_>>() }),
            "body.children.length should be ≤ `100`, instead was `101`",
        ),
        (
            json!({ "children": [content[1].clone()] }),
            "children should be not present",
        ),
    ] {
        let answer: Value = http
            .patch(format!("{}/v1/blocks/{page}/children", fake.base_url()))
            .bearer_auth(TOKEN)
            .header("Notion-Version", NOTION_VERSION)
            .json(&body)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(answer["code"], "validation_error", "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{answer}"
        );
    }
    fake.fake.clear_requests();

    let created = notion
        .append_blocks(&page, content, Position::End)
        .await
        .expect("append");
    assert_eq!(created.len(), 252);
    let tree = fake.fake.tree(&page).expect("tree");
    let all = texts(&tree);
    assert_eq!(all[0], long, "the long text arrives whole, in 3 items");
    assert_eq!(
        tree["children"][0]["paragraph"]["rich_text"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(&all[1..5], ["d1", "d2", "d3", "d4"]);
    let numbered: Vec<String> = (0..250).map(|i| format!("b{i}")).collect();
    assert_eq!(&all[5..], &numbered[..], "in order");
    // Every request the client sent was accepted.
    let sent = fake.fake.requests();
    assert!(sent.iter().all(|r| r.status == 200), "{sent:?}");
    assert!(sent
        .iter()
        .filter(|r| r.method == "PATCH")
        .all(|r| r.body["children"].as_array().map_or(0, Vec::len) <= 100));
}

fn cell(text: &str) -> Value {
    json!([{ "type": "text", "text": { "content": text } }])
}

fn table(width: usize, rows: Vec<Value>) -> Value {
    with_children(
        json!({ "object": "block", "type": "table",
            "table": { "table_width": width, "has_column_header": true, "has_row_header": false } }),
        rows,
    )
}

fn row(cells: Vec<Value>) -> Value {
    json!({ "object": "block", "type": "table_row", "table_row": { "cells": cells } })
}

fn column_list(columns: Vec<Vec<Value>>) -> Value {
    let columns = columns
        .into_iter()
        .map(|c| {
            with_children(
                json!({ "object": "block", "type": "column", "column": {} }),
                c,
            )
        })
        .collect();
    with_children(
        json!({ "object": "block", "type": "column_list", "column_list": {} }),
        columns,
    )
}

/// (depth, type, text) of every block in order: a request's blocks
/// (`text.content`) or a tree the fake holds (`plain_text`), rich text and
/// table cells alike.
fn outline(blocks: &[Value], depth: usize, out: &mut Vec<(usize, String, String)>) {
    for block in blocks {
        let kind = block["type"].as_str().unwrap_or_default().to_string();
        let body = &block[&kind];
        let mut text = String::new();
        let mut items: Vec<&Value> = body["rich_text"].as_array().into_iter().flatten().collect();
        for cell in body["cells"].as_array().into_iter().flatten() {
            items.extend(cell.as_array().into_iter().flatten());
            items.push(&Value::Null);
        }
        for item in items {
            match item["plain_text"]
                .as_str()
                .or(item["text"]["content"].as_str())
            {
                Some(t) => text.push_str(t),
                None => text.push('|'),
            }
        }
        out.push((depth, kind.clone(), text));
        let children = match block["children"].as_array() {
            Some(children) => children.as_slice(),
            None => blocks::children_of(block),
        };
        outline(children, depth + 1, out);
    }
}

/// Blocks Notion only creates with their children: a table with its rows
/// (here 250 of 15 KB: past one request's 100 blocks and its 500 KB), a
/// column list with its columns, each column with its blocks (150 in
/// each), a table two levels down (no room for its rows there). The fake
/// refuses each as Notion does when sent bare; the client sends them
/// whole, in order, every request accepted.
#[tokio::test]
async fn tables_and_columns_go_with_the_children_notion_needs_then_the_rest() {
    let fake = start_fake().await;
    let notion = client(&fake);
    let page = fake.fake.add_page(None, "Tables", vec![]);

    let raw = |target: NotionId, body: Value| {
        let fake = &fake;
        async move {
            let path = format!("/v1/blocks/{target}/children");
            raw(fake, reqwest::Method::PATCH, &path, &body).await
        }
    };
    let bare_table = json!({ "object": "block", "type": "table", "table": { "table_width": 2 } });
    let one_column = column_list(vec![vec![paragraph("only")]]);
    let empty_column = column_list(vec![vec![paragraph("a")], vec![]]);
    for (body, needle) in [
        (
            json!({ "children": [bare_table] }),
            "table.children should have at least `1` item",
        ),
        (
            json!({ "children": [table(2, vec![row(vec![cell("a")])])] }),
            "cells.length should be `2` (the table's width), instead was `1`",
        ),
        (
            json!({ "children": [one_column] }),
            "column_list.children should have at least `2` items",
        ),
        (
            json!({ "children": [empty_column] }),
            "column.children should have at least `1` item",
        ),
        (
            json!({ "children": [row(vec![cell("a"), cell("b")])] }),
            "table rows can only be children of a table",
        ),
        (
            json!({ "children": [table(1, vec![row(vec![cell("a")]), paragraph("p")])] }),
            "a table can only hold table_row blocks",
        ),
        (
            json!({ "children": [with_children(
                json!({ "object": "block", "type": "heading_2", "heading_2": { "rich_text": [] } }),
                vec![paragraph("under")],
            )] }),
            "heading_2 that is not a toggle cannot have children",
        ),
    ] {
        let answer = raw(page.clone(), body).await;
        assert_eq!(answer["code"], "validation_error", "{answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{needle} not in {answer}");
    }
    // A row appended to a table of its width is taken.
    let made = raw(
        page.clone(),
        json!({ "children": [table(2, vec![row(vec![cell("a"), cell("b")])])] }),
    )
    .await;
    let table_id =
        NotionId::parse(made["results"][0]["id"].as_str().unwrap_or_default()).expect("id");
    let answer = raw(
        table_id.clone(),
        json!({ "children": [row(vec![cell("c"), cell("d")])] }),
    )
    .await;
    assert_eq!(answer["object"], "list", "{answer}");
    let answer = raw(table_id, json!({ "children": [row(vec![cell("c")])] })).await;
    assert_eq!(answer["code"], "validation_error", "{answer}");
    // Nor may children be appended later under a block that cannot have
    // any.
    let made = raw(
        page.clone(),
        json!({ "children": [ { "object": "block", "type": "divider", "divider": {} } ] }),
    )
    .await;
    let divider =
        NotionId::parse(made["results"][0]["id"].as_str().unwrap_or_default()).expect("id");
    let answer = raw(divider, json!({ "children": [paragraph("under")] })).await;
    assert_eq!(answer["code"], "validation_error", "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("a divider cannot have children"),
        "{answer}"
    );

    let target = fake.fake.add_page(None, "Target", vec![]);
    // 15 KB a row: a request holds about 30 of them, not 100.
    let wide = "w".repeat(5000);
    let rows = (0..250)
        .map(|i| {
            row(vec![
                cell(&format!("k{i}")),
                cell(&wide),
                cell(&wide),
                cell(&wide),
            ])
        })
        .collect();
    let columns = column_list(vec![
        (0..150).map(|i| paragraph(&format!("left {i}"))).collect(),
        (0..150).map(|i| paragraph(&format!("right {i}"))).collect(),
    ]);
    let deep_table = with_children(
        paragraph("outer"),
        vec![
            paragraph("before"),
            with_children(
                paragraph("inner"),
                vec![table(
                    1,
                    vec![row(vec![cell("deep")]), row(vec![cell("er")])],
                )],
            ),
            paragraph("after"),
        ],
    );
    let content = vec![
        paragraph("start"),
        table(4, rows),
        columns,
        deep_table,
        paragraph("end"),
    ];
    fake.fake.clear_requests();
    let created = notion
        .append_blocks(&target, content.clone(), Position::End)
        .await
        .expect("append");
    assert_eq!(created.len(), content.len());
    let sent = fake.fake.requests();
    assert!(sent.iter().all(|r| r.status == 200), "{sent:?}");
    assert!(sent.len() > 10, "{} requests", sent.len());
    // The table's rows went in several requests, none over the limits.
    let with_rows = sent
        .iter()
        .filter(|r| r.body.to_string().contains("\"table_row\""))
        .count();
    assert!(with_rows > 1, "{with_rows} requests carried table rows");
    assert!(sent.iter().all(|r| blocks::json_len(&r.body) <= 500_000));
    let tree = fake.fake.tree(&target).expect("tree");
    let (mut got, mut want) = (Vec::new(), Vec::new());
    outline(
        tree["children"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]),
        0,
        &mut got,
    );
    outline(&content, 0, &mut want);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the page differs from what was sent");
}

#[tokio::test]
async fn retries_each_kind_of_fault_then_succeeds() {
    let fake = start_fake().await;
    let notion = client(&fake);
    let page = fake.fake.add_page(None, "Spec", vec![]);
    for fault in [
        Fault::Status { status: 500 },
        Fault::Status { status: 502 },
        Fault::Status { status: 503 },
        Fault::Status { status: 504 },
        Fault::Status { status: 529 },
        Fault::Status { status: 409 },
        Fault::Hang {
            millis: 1500,
            apply: false,
        },
        Fault::Drop { apply: false },
    ] {
        fake.fake.clear_requests();
        fake.fake.inject([fault.clone(), fault.clone()]);
        let got = notion.retrieve_page(&page).await;
        assert!(got.is_ok(), "{fault:?}: {got:?}");
        assert_eq!(
            fake.fake.requests().len(),
            3,
            "{fault:?}: two faults, then the answer"
        );
        assert_eq!(fake.fake.pending_faults(), 0);
    }
}

#[tokio::test]
async fn creating_is_retried_only_when_nothing_was_done() {
    let fake = start_fake().await;
    let notion = client(&fake);
    let spec = fake.fake.add_page(None, "Spec", vec![]);
    let title = switchyard::notion::wire::title_property_map;

    // 529, 409 and 429 say nothing was done: retried, one page.
    fake.fake
        .inject([Fault::Status { status: 529 }, Fault::Status { status: 409 }]);
    notion
        .create_page(&Parent::Page(spec.clone()), title("Once"), vec![])
        .await
        .expect("created after retries");
    assert_eq!(fake.fake.pages_titled("Once").len(), 1);

    // A 500, or an answer lost after Notion did the work: not repeated.
    fake.fake.inject([Fault::Status { status: 500 }]);
    let err = notion
        .create_page(&Parent::Page(spec.clone()), title("Maybe"), vec![])
        .await
        .expect_err("ambiguous");
    assert!(matches!(err, NotionError::Ambiguous { .. }), "{err:?}");
    assert_eq!(fake.fake.pages_titled("Maybe").len(), 0);

    // A 503 can come after Notion's 60-second limit with the page made
    // (as a 500, 502 or 504 can): not sent again, so never two pages.
    for status in [503, 500, 502, 504] {
        let name = format!("Made, then {status}");
        fake.fake.inject([Fault::StatusAfterWork { status }]);
        let err = notion
            .create_page(&Parent::Page(spec.clone()), title(&name), vec![])
            .await
            .expect_err("ambiguous");
        assert!(
            matches!(err, NotionError::Ambiguous { .. }),
            "{status}: {err:?}"
        );
        assert!(
            err.is_transient(),
            "{status}: the outbox tries again, looking first"
        );
        assert_eq!(fake.fake.pages_titled(&name).len(), 1, "{status}: once");
    }

    fake.fake.inject([Fault::Drop { apply: true }]);
    let err = notion
        .create_page(&Parent::Page(spec.clone()), title("Lost answer"), vec![])
        .await
        .expect_err("ambiguous");
    assert!(matches!(err, NotionError::Ambiguous { .. }), "{err:?}");
    assert_eq!(
        fake.fake.pages_titled("Lost answer").len(),
        1,
        "created once, not twice"
    );

    fake.fake.inject([Fault::Hang {
        millis: 1500,
        apply: true,
    }]);
    let err = notion
        .create_page(&Parent::Page(spec.clone()), title("Slow"), vec![])
        .await
        .expect_err("ambiguous");
    assert!(matches!(err, NotionError::Ambiguous { .. }), "{err:?}");
    assert_eq!(fake.fake.pages_titled("Slow").len(), 1);
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says() {
    let fake = start_fake().await;
    let notion = client(&fake);
    let page = fake.fake.add_page(None, "Spec", vec![]);
    fake.fake.set_rate_limit(Some(RateLimit {
        requests: 2,
        window_ms: 1000,
        retry_after_secs: 1,
    }));
    let start = Instant::now();
    for _ in 0..3 {
        notion
            .retrieve_page(&page)
            .await
            .expect("eventually served");
    }
    let took = start.elapsed();
    let statuses: Vec<u16> = fake.fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 200, 429, 200]);
    // The client's own backoff is 5-20 ms: only Retry-After explains this.
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn errors_say_what_to_do_and_persistent_faults_give_up() {
    let fake = start_fake().await;
    let notion = client(&fake);
    let missing = NotionId::from_u128(42);
    let err = notion.retrieve_page(&missing).await.expect_err("not found");
    assert_eq!(err.code(), Some(&ApiCode::ObjectNotFound));
    assert!(
        err.to_string()
            .contains("share it with the integration in Notion"),
        "{err}"
    );
    assert!(err.to_string().contains("request id"), "{err}");
    assert_eq!(fake.fake.requests().len(), 1, "a 404 is not retried");

    let page = fake.fake.add_page(None, "Spec", vec![]);
    fake.fake.clear_requests();
    fake.fake.inject(vec![Fault::Status { status: 503 }; 4]);
    let err = notion.retrieve_page(&page).await.expect_err("gives up");
    assert_eq!(err.code(), Some(&ApiCode::ServiceUnavailable));
    assert!(err.to_string().contains("try again later"), "{err}");
    assert_eq!(fake.fake.requests().len(), 4, "first try and 3 retries");
    assert_eq!(fake.fake.pending_faults(), 0);

    fake.fake.inject(vec![
        Fault::Hang {
            millis: 1500,
            apply: false
        };
        4
    ]);
    let err = notion.retrieve_page(&page).await.expect_err("times out");
    assert!(matches!(err, NotionError::Timeout(_)), "{err:?}");

    // Content Notion refuses is reported with Notion's message.
    let (_, ds) = fake.fake.add_database(
        &page,
        "Tasks",
        serde_json::from_value(json!({ "Task": { "title": {} } })).expect("schema"),
    );
    let refused = notion
        .create_page(
            &Parent::DataSource(ds),
            json!({ "Task": switchyard::notion::wire::title_property("t"),
                    "Colour": { "select": { "name": "red" } } }),
            vec![],
        )
        .await
        .expect_err("no such property");
    assert_eq!(refused.code(), Some(&ApiCode::ValidationError));
    assert!(
        refused
            .to_string()
            .contains("Colour is not a property that exists"),
        "{refused}"
    );

    // Text longer than one item takes is split, not refused.
    let long_title = "t".repeat(2500);
    let renamed = notion
        .update_page(
            &page,
            switchyard::notion::wire::title_property_map(&long_title),
            None,
        )
        .await
        .expect("a long title fits in two items");
    assert_eq!(renamed.title(), long_title);
}

/// Sends `body` to the fake as is (no client in between); its answer.
async fn raw(fake: &RunningFake, method: reqwest::Method, path: &str, body: &Value) -> Value {
    switchyard::notion::client::ensure_crypto_provider();
    reqwest::Client::new()
        .request(method, format!("{}{path}", fake.base_url()))
        .bearer_auth(TOKEN)
        .header("Notion-Version", NOTION_VERSION)
        .json(body)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

/// `PATCH /v1/pages/{page}` with `body`, as is.
async fn patch_page(fake: &RunningFake, page: &NotionId, body: &Value) -> Value {
    raw(
        fake,
        reqwest::Method::PATCH,
        &format!("/v1/pages/{page}"),
        body,
    )
    .await
}

/// A property value of `kind` holding `n` items.
/// `n` items of a property of `kind`; people are the fake's users
/// `people` (Notion refuses a person it does not know).
fn property_of(kind: &str, n: usize, people: &[String]) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| match kind {
            "multi_select" => json!({ "name": format!("tag {i}") }),
            "people" => json!({ "object": "user", "id": people[i % people.len()] }),
            "relation" => json!({ "id": format!("{i:032x}") }),
            _ => json!({ "type": "text", "text": { "content": format!("part {i} ") } }),
        })
        .collect();
    json!({ kind: items })
}

#[tokio::test]
async fn property_values_never_carry_more_than_100_items() {
    let fake = start_fake().await;
    let notion = client(&fake);
    let page = fake.fake.add_page(None, "Row", vec![]);
    let people: Vec<String> = (0..101)
        .map(|i| {
            fake.fake
                .add_user(&format!("Person {i}"), &format!("person{i}@example.com"))
                .to_string()
        })
        .collect();
    let kinds = [
        ("Tags", "multi_select"),
        ("Owners", "people"),
        ("Blocked by", "relation"),
        ("Notes", "rich_text"),
    ];
    // Notion (the fake) refuses 101 of any of them, with Notion's message,
    // when creating a page as when updating one.
    for (name, kind) in kinds {
        let body = json!({ "properties": { name: property_of(kind, 101, &people) } });
        let answer = patch_page(&fake, &page, &body).await;
        assert_eq!(answer["object"], "error", "{answer}");
        assert_eq!(answer["status"], 400, "{answer}");
        assert_eq!(answer["code"], "validation_error", "{answer}");
        assert_eq!(
            answer["message"],
            format!(
                "body failed validation: body.properties.{name}.{kind}.length should be ≤ `100`, instead was `101`."
            ),
            "{answer}"
        );
        let mut properties = json!({ "title": { "title": [{ "text": { "content": "New" } }] } });
        properties[name] = property_of(kind, 101, &people);
        let body = json!({ "parent": { "page_id": page.as_str() }, "properties": properties });
        let answer = raw(&fake, reqwest::Method::POST, "/v1/pages", &body).await;
        assert_eq!(answer["code"], "validation_error", "{answer}");
        // A refused update changes nothing: not even the trash flag sent
        // along with the refused value.
        let body =
            json!({ "in_trash": true, "properties": { name: property_of(kind, 101, &people) } });
        let answer = patch_page(&fake, &page, &body).await;
        assert_eq!(answer["code"], "validation_error", "{answer}");
        let now = notion.retrieve_page(&page).await.expect("the page");
        assert!(!now.in_trash, "{kind}: the refused update trashed the page");
        // 100 are taken.
        let body = json!({ "properties": { name: property_of(kind, 100, &people) } });
        let answer = patch_page(&fake, &page, &body).await;
        assert_eq!(answer["object"], "page", "{answer}");
    }
    fake.fake.clear_requests();

    // The client never sends more than 100: it refuses, naming the property
    // and the count, and sends nothing.
    for (name, kind) in kinds {
        let err = notion
            .update_page(
                &page,
                json!({ name: property_of(kind, 101, &people) }),
                None,
            )
            .await
            .expect_err("refused before sending");
        assert!(matches!(err, NotionError::TooLarge(_)), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&format!("{name:?}")) && message.contains("101"),
            "{message}"
        );
        let mut properties = json!({ "title": { "title": [{ "text": { "content": "New" } }] } });
        properties[name] = property_of(kind, 101, &people);
        let err = notion
            .create_page(&Parent::Page(page.clone()), properties, vec![])
            .await
            .expect_err("refused before sending");
        assert!(err.to_string().contains(name), "{err}");
    }
    // Long text is split into items of 2000 characters first: 150 000
    // characters (75 items) fit, 250 000 (125 items) do not.
    let text = |chars: usize| json!({ "Notes": { "rich_text": [{ "type": "text", "text": { "content": "n".repeat(chars) } }] } });
    let err = notion
        .update_page(&page, text(250_000), None)
        .await
        .expect_err("too long");
    assert!(err.to_string().contains("125 rich text items"), "{err}");
    assert!(fake.fake.requests().is_empty(), "nothing was sent");
    notion
        .update_page(&page, text(150_000), None)
        .await
        .expect("75 items fit");
    let sent = fake.fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body["properties"]["Notes"]["rich_text"]
            .as_array()
            .map(Vec::len),
        Some(75)
    );
}
