//! The new-migration wizard over HTTP (issue 14): a table of another shape
//! than the demo's (uuid key, nested paths, numeric and timestamp values,
//! entries keyed by SKU), from the list of sources to a migration with its
//! recipe, plan and tasks, driven by the console; hostile input refused.

use crate::http::{call_as, encode, get_as, operator, signed_in_as};
use crate::DEMO;
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use switchyard::api::wizard::{
    CheckRecipe, CreateFromDraft, ProfileDraft, SaveDraftRecipe, SaveDraftSpec, StartDraft,
};
use switchyard::model::account::Role;
use switchyard::model::console::PhaseAction;
use switchyard::model::{Phase, PhaseState};

/// `shop.orders`: 400 orders with a uuid key and documents like
/// `{"billing": {"total": 12.5, "currency": "EUR"}, "placed_at": "…Z",
///   "items": 3, "lines": {"sku-1": {"qty": 2, "price": 4.5}, …}}`.
async fn orders(pool: &PgPool) {
    sqlx::raw_sql(
        "CREATE SCHEMA shop;
         CREATE TABLE shop.orders (order_id uuid PRIMARY KEY, meta jsonb);
         INSERT INTO shop.orders
         SELECT md5(g::text)::uuid,
                jsonb_build_object(
                  'billing', jsonb_build_object('total', (g % 97) + 0.5,
                                                'currency', (ARRAY['EUR','USD'])[1 + g % 2]),
                  'placed_at', to_char(timestamptz '2025-01-01 00:00:00+00' + g * interval '1 hour',
                                       'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                  'items', g % 5,
                  'lines', jsonb_build_object('sku-' || (g % 30), jsonb_build_object('qty', 1 + g % 3, 'price', 4.5),
                                              'sku-' || (g % 30 + 30), jsonb_build_object('qty', 2, 'price', 1.25)))
         FROM generate_series(1, 400) g;
         ANALYZE shop.orders;",
    )
    .execute(pool)
    .await
    .expect("orders");
}

async fn page(pool: &PgPool, uri: &str, cookie: &str) -> String {
    let r = get_as(pool, uri, Some(cookie)).await;
    assert_eq!(r.status, axum::http::StatusCode::OK, "{uri}");
    String::from_utf8_lossy(&r.body).into_owned()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_migration_of_another_shape_is_made_from_the_browser_and_driven(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    orders(&pool).await;
    let cookie = operator(&pool).await;

    // Step 1: the sources, the demo's table taken by the demo.
    let html = page(&pool, "/new", &cookie).await;
    assert!(html.contains("shop.orders"), "{html}");
    assert!(html.contains("Already migrated by"), "users is the demo's");
    assert!(html.contains("order_id (uuid)"));
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        StartDraft::PATH,
        "schema=shop&table=orders&key=order_id&column=meta",
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    let id: i64 = body.trim().parse().expect("the draft's id");

    // Step 2: profile (the table is small: read whole).
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        ProfileDraft::PATH,
        &format!("id={id}&scope=sample"),
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    let html = page(&pool, &format!("/new/{id}"), &cookie).await;
    assert!(html.contains("Read 400 rows (the whole table"), "{html}");
    assert!(html.contains(r#"data-path="billing.total""#));
    assert!(
        html.contains("&quot;EUR&quot; (200), &quot;USD&quot; (200)")
            || html.contains("\"EUR\" (200), \"USD\" (200)"),
        "{html}"
    );
    assert!(html.contains("lines"), "entries found");

    // Step 3: the drafted recipe, as stored.
    let view = switchyard::wizard::view(&pool, id).await.expect("view");
    let text = view.recipe_text.clone().expect("a drafted recipe");
    assert!(view.problems.is_empty(), "{:?}\n{text}", view.problems);
    let recipe = switchyard::engine::Recipe::parse(&text).expect("parses");
    assert_eq!(recipe.source.key_type.sql(), "uuid");
    let column = |path: &str| {
        recipe
            .targets
            .iter()
            .flat_map(|t| &t.columns)
            .find(|c| c.path.join(".") == path)
            .map(|c| (c.ty.sql(), c.allowed.clone(), c.required))
    };
    assert_eq!(column("billing.total"), Some(("numeric", vec![], true)));
    assert_eq!(
        column("billing.currency"),
        Some(("text", vec!["EUR".into(), "USD".into()], true))
    );
    assert_eq!(column("placed_at").map(|c| c.0), Some("timestamptz"));
    assert_eq!(column("items").map(|c| c.0), Some("integer"));
    // `lines` is entries keyed by SKU: a per-entry target, too many keys to list.
    let lines = recipe
        .targets
        .iter()
        .find(|t| matches!(&t.kind, switchyard::engine::recipe::TargetKind::PerEntry { path, .. } if path.join(".") == "lines"))
        .expect("a per-entry target for lines");
    assert!(
        matches!(&lines.kind, switchyard::engine::recipe::TargetKind::PerEntry { key_allowed, .. } if key_allowed.is_empty())
    );

    // An edit with a mistake: refused beside its line, kept as typed.
    let bad = text.replacen("type = \"numeric\"", "type = \"money\"", 1);
    let bad_line = bad.lines().position(|l| l.contains("money")).expect("line") + 1;
    // As typed, before any save: the same problem on the same line, and
    // the drafted text has none; nothing stored.
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        CheckRecipe::PATH,
        &format!("recipe={}", encode(&bad)),
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    let live: Vec<switchyard::model::wizard::RecipeProblem> =
        serde_json::from_str(&body).expect("problems");
    assert!(
        live.iter()
            .any(|p| p.line == Some(bad_line) && p.message.contains("money")),
        "{live:?}"
    );
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        CheckRecipe::PATH,
        &format!("recipe={}", encode(&text)),
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(body.trim(), "[]");
    let huge = "#".repeat(300_000);
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        CheckRecipe::PATH,
        &format!("recipe={huge}"),
    )
    .await;
    assert!(!status.is_success(), "{status}: {body}");
    assert!(body.contains("at most 200000"), "{body}");
    assert_eq!(
        switchyard::wizard::view(&pool, id)
            .await
            .expect("view")
            .recipe_text
            .as_deref(),
        Some(text.as_str()),
        "a check stores nothing"
    );
    let (status, _) = call_as(
        &pool,
        Some(&cookie),
        SaveDraftRecipe::PATH,
        &format!("id={id}&recipe={}", encode(&bad)),
    )
    .await;
    assert!(status.is_success());
    let view = switchyard::wizard::view(&pool, id).await.expect("view");
    assert_eq!(view.problems.len(), 1, "{:?}", view.problems);
    assert_eq!(view.problems[0].line, Some(bad_line));
    let html = page(&pool, &format!("/new/{id}"), &cookie).await;
    assert!(html.contains(&format!("line {bad_line}: ")), "{html}");
    assert!(!html.contains("Create the migration"), "not with a problem");
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        CreateFromDraft::PATH,
        &format!("id={id}"),
    )
    .await;
    assert!(!status.is_success(), "{body}");
    assert!(body.contains("money"), "{body}");

    // Fixed and renamed by the operator (with CRLF, as browsers send).
    let good = text
        .replace("name = \"orders-meta\"", "name = \"order-meta\"")
        .replace('\n', "\r\n");
    let (status, _) = call_as(
        &pool,
        Some(&cookie),
        SaveDraftRecipe::PATH,
        &format!("id={id}&recipe={}", encode(&good)),
    )
    .await;
    assert!(status.is_success());
    let html = page(&pool, &format!("/new/{id}"), &cookie).await;
    assert!(html.contains("Create the migration"));
    // Each phase's dry run, one click away (a <details>, no JavaScript).
    let view = switchyard::wizard::view(&pool, id).await.expect("view");
    assert_eq!(view.dry_run.len(), 5);
    assert!(
        view.dry_run[0]
            .1
            .contains("CREATE TABLE IF NOT EXISTS \"shop\".\"order_meta\""),
        "{}",
        view.dry_run[0].1
    );
    assert!(html.contains("Dry run: the SQL each phase would execute"));
    assert!(html.contains("Implement backfill job"));

    // Step 4: the spec, written from the recipe until one is typed.
    let written = view.spec.clone().expect("a written spec");
    assert!(!view.spec_typed);
    assert!(written.contains("shop.orders.meta"), "{written}");
    assert!(html.contains("Spec (Markdown)"), "{html}");
    let typed = "# Orders out of JSONB

Why: *billing* reports need real columns.

- [ ] finance signs off";
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        SaveDraftSpec::PATH,
        &format!("id={id}&spec={}", encode(typed)),
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    let view = switchyard::wizard::view(&pool, id).await.expect("view");
    assert!(view.spec_typed);
    assert_eq!(
        view.spec.as_deref(),
        Some(typed.replace("\r\n", "\n").as_str())
    );
    let html = page(&pool, &format!("/new/{id}"), &cookie).await;
    assert!(
        html.contains("Why: *billing* reports need real columns."),
        "{html}"
    );

    // Step 4: the migration, with its recipe, plan and tasks.
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        CreateFromDraft::PATH,
        &format!("id={id}"),
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    assert!(body.contains("order-meta"), "{body}");
    let stored = switchyard::store::recipes::latest(&pool, "order-meta")
        .await
        .expect("latest")
        .expect("its recipe");
    assert_eq!((stored.version, stored.origin.as_str()), (1, "draft"));
    assert_eq!(stored.body, good.replace("\r\n", "\n"));
    let phases = switchyard::store::migrations::phases(&pool, "order-meta")
        .await
        .expect("phases");
    assert_eq!(phases.len(), 5);
    assert!(
        phases[1].description.contains("all 400 rows"),
        "{}",
        phases[1].description
    );
    assert_eq!(phases[4].depends_on, vec![Phase::SwitchReads]);
    let tasks = switchyard::store::migrations::tasks(&pool, "order-meta")
        .await
        .expect("tasks");
    let titles: Vec<&str> = tasks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(
        titles,
        vec![
            "Write migration SQL",
            "Implement backfill job",
            "Add dual-write",
            "Update read queries",
            "Rollback plan and monitoring"
        ]
    );
    assert!(
        tasks[0].criteria[0].text.contains("order_details")
            || tasks[0].criteria[0].text.contains("order_meta")
    );
    assert_eq!(tasks[1].depends_on.len(), 1);
    // The typed spec is the migration's spec, rendered.
    let spec = page(&pool, "/m/order-meta", &cookie).await;
    assert!(spec.contains("Orders out of JSONB"), "{spec}");
    let emphasised = spec
        .split("<em>")
        .nth(1)
        .and_then(|rest| rest.split("</em>").next())
        .unwrap_or_default();
    assert!(emphasised.contains("billing"), "{spec}");
    assert!(spec.contains("finance signs off"), "{spec}");
    assert!(
        !spec.contains("shop.orders.meta"),
        "the written spec was replaced"
    );
    // The draft is done: a second creation is refused.
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        CreateFromDraft::PATH,
        &format!("id={id}"),
    )
    .await;
    assert!(!status.is_success());
    assert!(body.contains("order-meta"), "{body}");

    // Driven like the demo: phase 1 then 2 from the console.
    let console = switchyard::console::Console::new(pool.clone(), Default::default());
    for phase in [Phase::Expand, Phase::Backfill] {
        console
            .act(
                "order-meta",
                phase,
                PhaseAction::Run,
                false,
                "ops@example.com",
            )
            .await
            .expect("run");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let v = console.view("order-meta").await.expect("view");
            if v.phases[phase.index()].state == PhaseState::Done && !v.busy {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}",
                v.phases[phase.index()]
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    // Independent check: one row per order, and per order two lines.
    let per_row: String = recipe.targets[0].table.as_str().to_string();
    let (rows, total): (i64, Option<f64>) = sqlx::query_as(&format!(
        "SELECT count(*), sum(billing_total)::float8 FROM shop.{per_row}"
    ))
    .fetch_one(&pool)
    .await
    .expect("per row");
    assert_eq!(rows, 400);
    let expected: f64 = (1..=400).map(|g| (g % 97) as f64 + 0.5).sum();
    assert_eq!(total, Some(expected));
    let entries: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM shop.{}",
        lines.table.as_str()
    ))
    .fetch_one(&pool)
    .await
    .expect("entries");
    assert_eq!(entries, 800);
    // The demo was not touched.
    let demo = console.view(DEMO).await.expect("demo");
    assert!(demo.phases.iter().all(|p| p.state == PhaseState::Pending));
}

#[sqlx::test(migrations = "./migrations")]
async fn hostile_or_taken_sources_are_refused_with_what_and_where(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    let cookie = operator(&pool).await;
    for (form, field, says) in [
        (
            format!(
                "schema=public&table={}&key=id&column=preferences",
                encode("users\"; DROP TABLE users; --")
            ),
            "table",
            "not a plain identifier",
        ),
        (
            "schema=public&table=users&key=id&column=preferences".to_string(),
            "draft",
            "already migrated by migration \\\"user-preferences\\\"",
        ),
        (
            "schema=public&table=users&key=email&column=preferences".to_string(),
            "key",
            "not a key candidate",
        ),
        (
            "schema=pg_catalog&table=pg_class&key=oid&column=relname".to_string(),
            "table",
            "does not exist or has no jsonb column",
        ),
    ] {
        let (status, body) = call_as(&pool, Some(&cookie), StartDraft::PATH, &form).await;
        assert!(!status.is_success(), "{form}: {body}");
        assert!(
            body.contains(field) && body.contains(says),
            "{form}: {body}"
        );
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM public.users")
        .fetch_one(&pool)
        .await
        .expect("users still there");
    assert_eq!(users, 10);
    let drafts: i64 = sqlx::query_scalar("SELECT count(*) FROM switchyard.migration_drafts")
        .fetch_one(&pool)
        .await
        .expect("drafts");
    assert_eq!(drafts, 0);
    // A viewer sees the page say so, and no table.
    let viewer = signed_in_as(&pool, "viewer@example.com", Role::Viewer).await;
    let html = page(&pool, "/new", &viewer).await;
    assert!(html.contains("operators only"), "{html}");
    assert!(!html.contains("Profile this table"));
}

/// Step 3 checks the recipe against the documents the profile read, with
/// the backfill's own checks, before anything runs: on documents whose
/// faults are known, it counts what phase 2 would quarantine and why, and
/// the keys it would leave unmapped; the page shows them.
#[sqlx::test(migrations = "./migrations")]
async fn the_recipe_is_checked_against_the_profiled_documents(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    sqlx::raw_sql(
        r#"CREATE SCHEMA crm;
           CREATE TABLE crm.contacts (id bigint PRIMARY KEY, doc jsonb);
           INSERT INTO crm.contacts VALUES
             (1, '{"tier": "gold", "score": 3}'),
             (2, '{"tier": "silver", "score": 1}'),
             (3, '{"tier": "gold", "score": 2}'),
             (4, '{"tier": "silver", "score": 5}'),
             (5, '{"tier": "bronze", "score": 1}'),
             (6, '{"tier": "gold", "score": "high"}'),
             (7, '[1, 2]'),
             (8, '{"tier": "gold", "score": 2, "legacy": true}'),
             (9, '{"tier": "silver", "score": 4, "legacy": false, "note": "x"}'),
             (10, '{"tier": "gold", "score": 4}');
           ANALYZE crm.contacts;"#,
    )
    .execute(&pool)
    .await
    .expect("contacts");
    let id = switchyard::wizard::start(&pool, "crm", "contacts", "id", "doc", "test")
        .await
        .expect("a draft");
    switchyard::wizard::profile(&pool, id, true, "ops@example.com")
        .await
        .expect("profiled");
    let recipe = r#"
name = "crm-contacts"
[source]
schema = "crm"
table = "contacts"
key = "id"
key_type = "bigint"
column = "doc"

[[targets]]
table = "contact_tiers"
kind = "per_row"
source_key_column = "contact_id"

[[targets.columns]]
name = "tier"
type = "text"
required = true
allowed = ["gold", "silver"]

[[targets.columns]]
name = "score"
type = "integer"
required = true
"#;
    switchyard::wizard::save_text(&pool, id, recipe, "ops@example.com")
        .await
        .expect("saved");
    // Each step is in the audit log with who took it.
    let steps: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, payload ->> 'change' FROM switchyard.events
         WHERE kind = 'draft_changed' AND (payload ->> 'draft')::bigint = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&pool)
    .await
    .expect("events");
    assert_eq!(
        steps,
        vec![
            (
                "test".to_string(),
                "started on crm.contacts.doc".to_string()
            ),
            (
                "ops@example.com".to_string(),
                "profiled (the whole table)".to_string()
            ),
            ("ops@example.com".to_string(), "recipe saved".to_string()),
        ]
    );
    let view = switchyard::wizard::view(&pool, id).await.expect("view");
    assert!(view.problems.is_empty(), "{:?}", view.problems);
    let check = view
        .sample_check
        .clone()
        .expect("checked")
        .expect("counted");
    assert_eq!(check.scope, "the whole table");
    // Read: all ten. Quarantined: bronze (not allowed), "high" (not an
    // integer), the array (not an object).
    assert_eq!((check.documents, check.quarantined), (10, 3), "{check:?}");
    let reasons: i64 = check.reasons.iter().map(|(_, n)| n).sum();
    assert_eq!(reasons, 3, "{check:?}");
    let said = |needle: &str| check.reasons.iter().any(|(why, _)| why.contains(needle));
    assert!(said("bronze"), "{check:?}");
    assert!(said("array"), "{check:?}");
    assert!(said("score"), "{check:?}");
    // Unmapped: `legacy` in two valid documents, `note` in one.
    assert_eq!(
        check.unmapped,
        vec![("legacy".to_string(), 2), ("note".to_string(), 1)]
    );
    assert_eq!(check.unmapped_paths, 2);
    // Nothing was written: no target table, no quarantine.
    let written: (Option<String>, i64) = sqlx::query_as(
        "SELECT to_regclass('crm.contact_tiers')::text,
                (SELECT count(*) FROM switchyard.quarantine)",
    )
    .fetch_one(&pool)
    .await
    .expect("read");
    assert_eq!(written, (None, 0));

    let cookie = operator(&pool).await;
    let html = page(&pool, &format!("/new/{id}"), &cookie).await;
    assert!(
        html.contains("Of 10 documents read, 3 would be quarantined"),
        "{html}"
    );
    assert!(html.contains(r#"data-path="legacy""#), "{html}");

    // The check is kept with the draft: loading the page again reads
    // nothing (a document fixed since does not show), and a recipe saved
    // again (or a new profile) makes it anew.
    sqlx::query("UPDATE crm.contacts SET doc = '{\"tier\": \"gold\", \"score\": 1}' WHERE id = 5")
        .execute(&pool)
        .await
        .expect("fix the bronze one");
    let quarantined = |v: &switchyard::model::wizard::DraftView| {
        v.sample_check
            .clone()
            .expect("checked")
            .expect("counted")
            .quarantined
    };
    let again = switchyard::wizard::view(&pool, id).await.expect("view");
    assert_eq!(quarantined(&again), 3, "kept, not read again");
    switchyard::wizard::save_text(&pool, id, recipe, "ops@example.com")
        .await
        .expect("saved again");
    let anew = switchyard::wizard::view(&pool, id).await.expect("view");
    assert_eq!(quarantined(&anew), check.quarantined - 1, "made anew");

    // A recipe edited to name another source is not checked against it.
    switchyard::wizard::save_text(
        &pool,
        id,
        &recipe.replace("\"contacts\"", "\"leads\""),
        "ops@example.com",
    )
    .await
    .expect("saved");
    let view = switchyard::wizard::view(&pool, id).await.expect("view");
    match view.sample_check {
        Some(Err(why)) => assert!(why.contains("not the profiled crm.contacts.doc"), "{why}"),
        other => panic!("checked another source: {other:?}"),
    }

    // A sample: the check reads the very documents the profile read (the
    // same TABLESAMPLE pages), however many that is.
    sqlx::raw_sql(
        r#"CREATE TABLE crm.many (id bigint PRIMARY KEY, doc jsonb);
           INSERT INTO crm.many SELECT g, jsonb_build_object('tier', 'gold', 'score', g % 7)
           FROM generate_series(1, 20000) g;
           ANALYZE crm.many;"#,
    )
    .execute(&pool)
    .await
    .expect("many");
    let many = switchyard::engine::Recipe::parse(&recipe.replace("\"contacts\"", "\"many\""))
        .expect("recipe for crm.many");
    for percent in [3.0, 30.0] {
        let profiled = switchyard::engine::discover::profile(
            &pool,
            &switchyard::engine::discover::ProfileRequest {
                schema: switchyard::engine::ident::Ident::parse("crm").expect("ident"),
                table: switchyard::engine::ident::Ident::parse("many").expect("ident"),
                column: switchyard::engine::ident::Ident::parse("doc").expect("ident"),
                sample_percent: Some(percent),
            },
        )
        .await
        .expect("profiled");
        let checked = switchyard::engine::discover::check_sample(&pool, &many, Some(percent))
            .await
            .expect("checked");
        assert!(
            profiled.rows > 0 && profiled.rows < 20_000,
            "a sample: {}",
            profiled.rows
        );
        assert_eq!(checked.documents, profiled.rows, "{percent}%");
        assert_eq!(checked.quarantined, 0);
    }
}

/// A whole-table profile runs in the background, one at a time per draft:
/// the click answers at once, the page says how far the scan is, a second
/// click is refused while it runs, a scan the server left behind (no word
/// for longer than any part takes) is shown as stopped and may be started
/// again, and a failure is kept and shown with its reason.
#[sqlx::test(migrations = "./migrations")]
async fn a_whole_table_profile_runs_in_the_background_with_progress(pool: PgPool) {
    orders(&pool).await;
    let cookie = operator(&pool).await;
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        StartDraft::PATH,
        "schema=shop&table=orders&key=order_id&column=meta",
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    let id: i64 = body.trim().parse().expect("the draft's id");

    // Held by another scan: refused, saying since when; the page shows its
    // progress and no profile buttons.
    let claim = switchyard::store::drafts::claim_profiling(&pool, id, true)
        .await
        .expect("claim");
    assert!(
        switchyard::store::drafts::profiling_progress(&pool, id, claim, 3, 12)
            .await
            .expect("progress")
    );
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        ProfileDraft::PATH,
        &format!("id={id}&scope=whole"),
    )
    .await;
    assert!(!status.is_success(), "{status}: {body}");
    assert!(body.contains("is running since"), "{body}");
    let html = page(&pool, &format!("/new/{id}"), &cookie).await;
    assert!(
        html.contains("Profiling the whole table: 25% (3 of 12 pages)"),
        "{html}"
    );
    assert!(!html.contains("Profile the whole table</button>"), "{html}");
    // What the progress line polls reads the same, without the profile.
    let polled = switchyard::wizard::profiling(&pool, id)
        .await
        .expect("profiling")
        .expect("running");
    assert_eq!(
        (
            polled.pages_done,
            polled.pages_total,
            polled.percent,
            polled.stalled
        ),
        (3, Some(12), 25, false)
    );

    // Its server stopped: no word for longer than a part may take.
    sqlx::query(
        "UPDATE switchyard.migration_drafts SET profiling_beat = now() - interval '10 minutes' WHERE id = $1",
    )
    .bind(id)
    .execute(&pool)
    .await
    .expect("age the scan");
    let html = page(&pool, &format!("/new/{id}"), &cookie).await;
    assert!(
        html.contains("A profile of the whole table stopped at 25% without ending"),
        "{html}"
    );
    // Taken over: the scan that was taken for stopped writes nothing more
    // (it would stop at its next part) and cannot end the new one's claim.
    let newer = switchyard::store::drafts::claim_profiling(&pool, id, true)
        .await
        .expect("a new claim");
    assert!(
        !switchyard::store::drafts::profiling_progress(&pool, id, claim, 6, 12)
            .await
            .expect("progress")
    );
    switchyard::store::drafts::end_profiling(&pool, id, claim, Some("old"))
        .await
        .expect("end");
    let d = switchyard::store::drafts::get(&pool, id)
        .await
        .expect("draft");
    assert!(d.profiling_since.is_some());
    assert_eq!((d.profiling_pages_done, d.profiling_error), (Some(0), None));
    switchyard::store::drafts::end_profiling(&pool, id, newer, None)
        .await
        .expect("end");

    // Started again: the click answers before the scan ends; the scan ends
    // by itself with the profile stored and every page counted as read.
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        ProfileDraft::PATH,
        &format!("id={id}&scope=whole"),
    )
    .await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status}: {body}"
    );
    let mut ended = None;
    for _ in 0..200 {
        let d = switchyard::store::drafts::get(&pool, id)
            .await
            .expect("draft");
        if d.profiling_since.is_none() {
            ended = Some(d);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let d = ended.expect("the scan ended within 10 s");
    assert_eq!(d.profiling_error, None);
    assert!(d.profile.is_some());
    let total = d.profiling_pages_total.expect("pages in all");
    assert!(total > 0);
    assert_eq!(d.profiling_pages_done, Some(total));
    let html = page(&pool, &format!("/new/{id}"), &cookie).await;
    assert!(html.contains("Read 400 rows (the whole table"), "{html}");
    assert!(!html.contains("Profiling the whole table"), "{html}");

    // A scan that fails ends with its reason kept and shown: here the
    // column is no longer jsonb when the scan starts (the table is still a
    // source: it has another jsonb column).
    sqlx::raw_sql(
        "ALTER TABLE shop.orders ADD COLUMN extra jsonb;
         ALTER TABLE shop.orders ALTER COLUMN meta TYPE json",
    )
    .execute(&pool)
    .await
    .expect("alter");
    let err = switchyard::wizard::profile(&pool, id, true, "ops@example.com")
        .await
        .expect_err("not jsonb");
    assert!(err.to_string().contains("is json, not jsonb"), "{err}");
    let html = page(&pool, &format!("/new/{id}"), &cookie).await;
    let failed = html
        .split("The last profile failed: ")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default();
    assert!(failed.contains("is json, not jsonb"), "{html}");
    assert!(html.contains("Profile the whole table</button>"), "{html}");
}
