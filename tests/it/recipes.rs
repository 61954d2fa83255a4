//! Recipes kept in our database (issue 14): versions, the pin at phase 1,
//! import and export, a CLI-run migration driven from the console, and one
//! migration per source table.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use switchyard::console::{Console, Settings};
use switchyard::model::console::PhaseAction;
use switchyard::model::{Phase, PhaseState};
use switchyard::recipes::{register, RecipeServiceError, Registration};
use switchyard::store::recipes::Origin;

use crate::cli::{cli, url_of, write};
use crate::DEMO;

/// A table of another shape than the demo's, in a schema of its own.
pub(crate) const CARTS: &str = r#"name = "cart-docs"
title = "Cart documents"
soak_hours = 0.0
target_batch_ms = 50
initial_batch_size = 64

[source]
schema = "shop"
table = "carts"
key = "id"
key_type = "bigint"
column = "doc"

[[targets]]
table = "cart_details"
kind = "per_row"
source_key_column = "cart_id"

[[targets.columns]]
name = "owner"
type = "text"
required = true

[[targets.columns]]
name = "items"
type = "integer"
default = 0
"#;

/// `shop.carts` with `rows` documents `{"owner": "u<id>", "items": id % 7}`.
pub(crate) async fn carts(pool: &PgPool, rows: i64) {
    for sql in [
        "CREATE SCHEMA shop",
        "CREATE TABLE shop.carts (id bigint PRIMARY KEY, doc jsonb)",
    ] {
        sqlx::query(sql).execute(pool).await.expect(sql);
    }
    sqlx::query(
        "INSERT INTO shop.carts
         SELECT g, jsonb_build_object('owner', 'u' || g, 'items', g % 7)
         FROM generate_series(1, $1) g",
    )
    .bind(rows)
    .execute(pool)
    .await
    .expect("carts");
}

fn console(pool: &PgPool) -> Console {
    Console::new(pool.clone(), Settings::default())
}

async fn wait_for(pool: &PgPool, name: &str, phase: Phase, state: PhaseState) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = console(pool).view(name).await.expect("view");
        if v.phases[phase.index()].state == state && !v.busy {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "phase {phase} of {name} never became {state:?}: {:?}",
            v.phases[phase.index()]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn web(migration: Option<&str>) -> Registration<'_> {
    Registration {
        origin: Origin::Web,
        path: None,
        actor: "op@example.com",
        migration,
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_migration_run_from_the_cli_is_listed_and_driven_from_the_console(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    carts(&pool, 300).await;
    let url = url_of(&pool).await;
    let file = write("carts.toml", CARTS);
    let out = cli(
        &["phase", "run", "1", file.to_str().expect("utf8")],
        Some(&url),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Listed on `/`, beside the demo.
    let names: Vec<String> = switchyard::store::migrations::list_summaries(&pool)
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, vec!["cart-docs".to_string(), DEMO.to_string()]);
    // Its recipe is in our database, as run, and pinned by phase 1.
    let stored = switchyard::store::recipes::latest(&pool, "cart-docs")
        .await
        .expect("latest")
        .expect("a stored recipe");
    assert_eq!(stored.body, CARTS);
    assert_eq!((stored.version, stored.origin.as_str()), (1, "cli"));

    // The console drives it like the demo: no "no recipe attached", phase 2 may run.
    let view = console(&pool).view("cart-docs").await.expect("view");
    assert_eq!(view.recipe_error, None);
    assert_eq!(view.phases[0].state, PhaseState::Done);
    assert_eq!(
        view.pinned_recipe_hash.as_deref(),
        Some(stored.hash.as_str())
    );
    let run = view.phases[1]
        .choices
        .iter()
        .find(|c| c.action == PhaseAction::Run)
        .expect("a Run button on phase 2");
    assert_eq!(run.refused, None);
    console(&pool)
        .act(
            "cart-docs",
            Phase::Backfill,
            PhaseAction::Run,
            false,
            "op@example.com",
        )
        .await
        .expect("run phase 2 from the console");
    wait_for(&pool, "cart-docs", Phase::Backfill, PhaseState::Done).await;

    // Every document reached its row: compared with what was generated.
    let (rows, items): (i64, Option<i64>) =
        sqlx::query_as("SELECT count(*), sum(items)::bigint FROM shop.cart_details")
            .fetch_one(&pool)
            .await
            .expect("targets");
    assert_eq!(rows, 300);
    assert_eq!(items, Some((1..=300i64).map(|g| g % 7).sum::<i64>()));
    let owner: String =
        sqlx::query_scalar("SELECT owner FROM shop.cart_details WHERE cart_id = 123")
            .fetch_one(&pool)
            .await
            .expect("row 123");
    assert_eq!(owner, "u123");

    // The demo, beside it, has its own runner and states: untouched.
    let demo = console(&pool).view(DEMO).await.expect("demo view");
    assert!(demo.phases.iter().all(|p| p.state == PhaseState::Pending));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_second_migration_on_one_table_is_refused_with_the_first_ones_name(pool: PgPool) {
    crate::seeded(&pool, 10).await;
    let other = include_str!("../../recipes/user_preferences.toml")
        .replace("name = \"user-preferences\"", "name = \"users-again\"");
    // From the browser's service.
    match register(&pool, &other, &web(None)).await {
        Err(RecipeServiceError::Refused(m)) => {
            assert!(m.contains("public.users"), "{m}");
            assert!(m.contains("\"user-preferences\""), "{m}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // From the CLI: exit 4, naming the first; nothing created.
    let url = url_of(&pool).await;
    let file = write("users-again.toml", &other);
    let out = cli(
        &["phase", "run", "1", file.to_str().expect("utf8")],
        Some(&url),
    )
    .await;
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"user-preferences\""));
    let out = cli(
        &["recipe", "import", file.to_str().expect("utf8")],
        Some(&url),
    )
    .await;
    assert_eq!(out.status.code(), Some(4));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM switchyard.migrations")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(count, 1, "the refused recipe left no migration behind");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE tablename IN ('user_preferences', 'notification_preferences')",
    )
    .fetch_one(&pool)
    .await
    .expect("tables");
    assert_eq!(tables, 0, "phase 1 never ran");

    // Another table is fine, side by side; but not under a name a
    // rehearsal's records use (they are deleted with the rehearsal).
    carts(&pool, 5).await;
    let reserved = CARTS.replacen("name = \"cart-docs\"", "name = \"rehearsal-7\"", 1);
    assert!(reserved.contains("name = \"rehearsal-7\""), "{reserved}");
    match register(&pool, &reserved, &web(None)).await {
        Err(e) => assert!(e.to_string().contains("reserved for a rehearsal"), "{e}"),
        Ok(_) => panic!("a rehearsal's name was taken by a recipe"),
    }
    let (_, saved) = register(&pool, CARTS, &web(None))
        .await
        .expect("another table");
    assert_eq!((saved.version, saved.created), (1, true));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_recipe_edited_in_the_database_is_pinned_by_phase_1(pool: PgPool) {
    crate::seeded(&pool, 50).await;
    let demo = include_str!("../../recipes/user_preferences.toml");
    let seeded = switchyard::store::recipes::latest(&pool, DEMO)
        .await
        .expect("latest")
        .expect("the seed stores the demo's recipe");
    assert_eq!((seeded.version, seeded.body.as_str()), (1, demo));

    // An edit is a new version; the same text again is no new version.
    let edited = demo.replace("default = \"system\"", "default = \"light\"");
    let (_, v2) = register(&pool, &edited, &web(Some(DEMO)))
        .await
        .expect("save");
    assert_eq!((v2.version, v2.created), (2, true));
    let (_, again) = register(&pool, &edited, &web(Some(DEMO)))
        .await
        .expect("save again");
    assert_eq!((again.version, again.created), (2, false));
    let saved_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM switchyard.events WHERE kind = 'recipe_saved' AND actor = 'op@example.com'",
    )
    .fetch_one(&pool)
    .await
    .expect("events");
    assert_eq!(saved_events, 1);

    // The console runs the newest version: its dry run shows the new default.
    let (hash, sql) = console(&pool)
        .dry_run_sql(DEMO, Phase::Expand)
        .await
        .expect("dry run");
    let v2_hash = switchyard::engine::Recipe::parse(&edited)
        .expect("parse")
        .hash();
    assert_eq!(hash, v2_hash);
    assert!(sql.iter().any(|s| s.contains("'light'")), "{sql:?}");

    // Phase 1 pins version 2.
    console(&pool)
        .act(
            DEMO,
            Phase::Expand,
            PhaseAction::Run,
            false,
            "op@example.com",
        )
        .await
        .expect("run phase 1");
    wait_for(&pool, DEMO, Phase::Expand, PhaseState::Done).await;
    let pinned: Option<String> =
        sqlx::query_scalar("SELECT pinned_hash FROM switchyard.migrations WHERE name = $1")
            .bind(DEMO)
            .fetch_one(&pool)
            .await
            .expect("pinned");
    assert_eq!(pinned.as_deref(), Some(v2_hash.as_str()));

    // A later edit is saved but not used: the console says so and runs the pinned one.
    let later = edited.replace("default = \"UTC\"", "default = \"Europe/Paris\"");
    let (_, v3) = register(&pool, &later, &web(Some(DEMO)))
        .await
        .expect("save v3");
    assert_eq!(v3.version, 3);
    let view = console(&pool).view(DEMO).await.expect("view");
    assert!(view.recipe_changed);
    assert_eq!(view.recipe_hash.as_deref(), Some(v2_hash.as_str()));

    // Export gives back exactly a stored version's text.
    let url = url_of(&pool).await;
    let out = cli(&["recipe", "export", DEMO, "--version", "2"], Some(&url)).await;
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), edited);
    let out = cli(&["recipe", "export", DEMO], Some(&url)).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), later);
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_recipes_are_refused_with_their_lines(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let demo = include_str!("../../recipes/user_preferences.toml");
    // Another migration's name, typed into this one's editor.
    let renamed = demo.replace("name = \"user-preferences\"", "name = \"someone-else\"");
    match register(&pool, &renamed, &web(Some(DEMO))).await {
        Err(RecipeServiceError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].line, Some(3), "{errors:?}");
            assert!(errors[0].message.contains("someone-else"));
        }
        other => panic!("expected an invalid recipe, got {other:?}"),
    }
    // A hostile identifier and a bad type: each error on its own line.
    let hostile = demo
        .replace(
            "table = \"user_preferences\"",
            "table = \"x\\\"; DROP TABLE users; --\"",
        )
        .replace("type = \"boolean\"", "type = \"blob\"");
    match register(&pool, &hostile, &web(Some(DEMO))).await {
        Err(RecipeServiceError::Invalid(errors)) => {
            let lines: Vec<Option<usize>> = errors.iter().map(|e| e.line).collect();
            let table_line = hostile
                .lines()
                .position(|l| l.contains("DROP TABLE"))
                .map(|i| i + 1);
            let type_line = hostile
                .lines()
                .position(|l| l.contains("blob"))
                .map(|i| i + 1);
            assert!(lines.contains(&table_line), "{errors:?}");
            assert!(lines.contains(&type_line), "{errors:?}");
        }
        other => panic!("expected an invalid recipe, got {other:?}"),
    }
    // TOML that does not parse: its line.
    match register(&pool, "name = \"a\"\n[source\n", &web(Some(DEMO))).await {
        Err(RecipeServiceError::Invalid(errors)) => assert_eq!(errors[0].line, Some(2)),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    // Nothing of it was saved.
    let versions = switchyard::store::recipes::versions(&pool, DEMO)
        .await
        .expect("versions");
    assert_eq!(versions.len(), 1);
    // The users table is still there (nothing ran).
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'users'")
        .fetch_one(&pool)
        .await
        .expect("users");
    assert_eq!(users, 1);
}
