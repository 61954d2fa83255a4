//! What the new-migration wizard reads of the user's database (issue 14):
//! the tables a recipe could move, a column's profile, and the recipe
//! drafted from it; each compared with what was put there, worked out
//! independently of the engine's SQL.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sqlx::PgPool;
use switchyard::engine::discover::{profile, sources, ProfileRequest, ProfileScan};
use switchyard::engine::draft::{draft, DraftSource};
use switchyard::engine::ident::Ident;
use switchyard::engine::recipe::{Recipe, TargetKind};

async fn exec(pool: &PgPool, sql: &str) {
    sqlx::raw_sql(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn ident(s: &str) -> Ident {
    Ident::parse(s).expect("ident")
}

#[sqlx::test(migrations = "./migrations")]
async fn introspection_lists_jsonb_tables_with_their_keys_or_why_not(pool: PgPool) {
    crate::seeded(&pool, 20).await;
    exec(
        &pool,
        r#"
        CREATE SCHEMA shop;
        CREATE TABLE shop.carts (id bigint PRIMARY KEY, doc jsonb);
        CREATE TABLE public.orders (order_id uuid PRIMARY KEY, meta jsonb, extra jsonb,
                                    ref uuid NOT NULL UNIQUE, code text NOT NULL UNIQUE);
        CREATE TABLE public.text_keyed (id text PRIMARY KEY, payload jsonb);
        CREATE TABLE public.no_key (a integer, data jsonb);
        CREATE TABLE public.nullable_unique (code integer UNIQUE, data jsonb);
        CREATE TABLE public.two_column_key (a integer, b integer, data jsonb, PRIMARY KEY (a, b));
        CREATE TABLE public."Weird" (id integer PRIMARY KEY, data jsonb);
        CREATE TABLE public.odd_column (id integer PRIMARY KEY, "Data" jsonb);
        CREATE TABLE public.no_json (id integer PRIMARY KEY, x text, j json);
        INSERT INTO shop.carts SELECT g, '{}' FROM generate_series(1, 1000) g;
        ANALYZE shop.carts;
        "#,
    )
    .await;
    let found = sources(&pool).await.expect("sources");
    let by_name: BTreeMap<String, _> = found
        .iter()
        .map(|t| (format!("{}.{}", t.schema, t.table), t))
        .collect();
    // Exactly the tables with a jsonb column, outside our schema.
    let names: Vec<&str> = by_name.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        vec![
            "public.Weird",
            "public.no_key",
            "public.nullable_unique",
            "public.odd_column",
            "public.orders",
            "public.text_keyed",
            "public.two_column_key",
            "public.users",
            "shop.carts",
        ]
    );
    // Usable ones, with their candidates (primary key first).
    let keys = |name: &str| -> Vec<(String, String, bool)> {
        by_name[name]
            .key_candidates
            .iter()
            .map(|k| (k.column.clone(), k.key_type.clone(), k.primary))
            .collect()
    };
    assert_eq!(by_name["shop.carts"].unusable, None);
    assert_eq!(
        keys("shop.carts"),
        vec![("id".into(), "bigint".into(), true)]
    );
    assert_eq!(by_name["shop.carts"].estimated_rows, Some(1000));
    assert!(by_name["shop.carts"].total_bytes > 8192);
    assert_eq!(by_name["public.users"].unusable, None);
    assert_eq!(by_name["public.users"].jsonb_columns, vec!["preferences"]);
    assert_eq!(
        keys("public.orders"),
        vec![
            ("order_id".into(), "uuid".into(), true),
            ("ref".into(), "uuid".into(), false),
        ]
    );
    assert_eq!(
        by_name["public.orders"].jsonb_columns,
        vec!["meta", "extra"]
    );
    // Unusable ones, each with its reason.
    let why = |name: &str| by_name[name].unusable.clone().unwrap_or_default();
    assert!(
        why("public.text_keyed").contains("\"id\" is text"),
        "{}",
        why("public.text_keyed")
    );
    assert!(why("public.no_key").contains("no single column is both NOT NULL and unique"));
    assert!(why("public.nullable_unique").contains("\"code\" may be NULL"));
    assert!(why("public.two_column_key").contains("no single column"));
    assert!(
        why("public.Weird").contains("\"Weird\""),
        "{}",
        why("public.Weird")
    );
    assert!(why("public.odd_column").contains("\"Data\""));
}

/// Documents of known shape: every path's documents, types and strings
/// are computed below from these values, not from the database.
fn documents() -> Vec<Option<Value>> {
    let mut docs = Vec::new();
    for i in 0..120i64 {
        let plan = ["free", "pro", "team"][(i % 3) as usize];
        let note = if i % 10 == 0 {
            Value::Null
        } else {
            json!("x".repeat(i as usize % 7))
        };
        let doc = match i % 40 {
            0 => None,
            1 => Some(Value::Null),
            2 => Some(json!([1, 2])),
            3 => Some(json!({"plan": 7, "odd key": true})),
            _ => Some(json!({
                "plan": plan,
                "seats": i,
                "ratio": (i as f64) / 8.0,
                "since": format!("2024-01-{:02}T10:00:00Z", 1 + i % 28),
                "owner": {"id": format!("{:08x}-0000-4000-8000-{:012x}", i, i), "name": format!("person {i}")},
                "limits": {
                    "api": {"max": i * 10, "burst": i % 2 == 0},
                    "storage": {"max": i * 1000, "burst": false},
                },
                "note": note,
            })),
        };
        docs.push(doc);
    }
    docs
}

#[derive(Default, Debug, PartialEq)]
struct Expected {
    documents: i64,
    types: BTreeMap<String, i64>,
    strings: BTreeSet<String>,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn walk(prefix: &[String], v: &Value, out: &mut BTreeMap<String, Expected>) {
    if let Value::Object(map) = v {
        for (k, child) in map {
            let mut path = prefix.to_vec();
            path.push(k.clone());
            let e = out.entry(path.join(".")).or_default();
            e.documents += 1;
            *e.types.entry(json_type(child).to_string()).or_default() += 1;
            if let Value::String(s) = child {
                e.strings.insert(s.clone());
            }
            walk(&path, child, out);
        }
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn profiling_reports_every_path_as_the_documents_hold_it(pool: PgPool) {
    exec(
        &pool,
        "CREATE TABLE public.accounts (id bigint PRIMARY KEY, settings jsonb)",
    )
    .await;
    let docs = documents();
    for (i, d) in docs.iter().enumerate() {
        sqlx::query("INSERT INTO public.accounts VALUES ($1, $2)")
            .bind(i as i64)
            .bind(d.clone().map(sqlx::types::Json))
            .execute(&pool)
            .await
            .expect("insert");
    }
    let p = profile(
        &pool,
        &ProfileRequest {
            schema: ident("public"),
            table: ident("accounts"),
            column: ident("settings"),
            sample_percent: None,
        },
    )
    .await
    .expect("profile");

    // The model: counted here from the values themselves.
    let mut model: BTreeMap<String, Expected> = BTreeMap::new();
    for d in docs.iter().flatten() {
        walk(&[], d, &mut model);
    }
    assert_eq!(p.rows, docs.len() as i64);
    assert_eq!(
        p.sql_nulls,
        docs.iter().filter(|d| d.is_none()).count() as i64
    );
    assert_eq!(
        p.json_nulls,
        docs.iter()
            .filter(|d| matches!(d, Some(Value::Null)))
            .count() as i64
    );
    assert_eq!(
        p.objects,
        docs.iter()
            .filter(|d| matches!(d, Some(Value::Object(_))))
            .count() as i64
    );
    assert_eq!(p.non_objects, 3);
    let seen: Vec<String> = p.paths.iter().map(|p| p.dotted()).collect();
    let expected: Vec<String> = model.keys().cloned().collect();
    assert_eq!(seen, expected);
    for path in &p.paths {
        let e = &model[&path.dotted()];
        assert_eq!(path.documents, e.documents, "{}", path.dotted());
        let types: BTreeMap<String, i64> = path
            .types
            .iter()
            .map(|t| (t.json_type.clone(), t.documents))
            .collect();
        assert_eq!(types, e.types, "{}", path.dotted());
        assert_eq!(
            path.distinct_strings,
            e.strings.len() as i64,
            "{}",
            path.dotted()
        );
        // Low-cardinality strings list their values, with counts summing up.
        if !e.strings.is_empty() && e.strings.len() <= 20 {
            let values = path.values.as_ref().expect("values listed");
            let listed: BTreeSet<String> = values.iter().map(|v| v.value.clone()).collect();
            assert_eq!(&listed, &e.strings, "{}", path.dotted());
            let total: i64 = values.iter().map(|v| v.documents).sum();
            assert_eq!(total, e.types.get("string").copied().unwrap_or(0));
        } else {
            assert_eq!(path.values, None, "{}", path.dotted());
        }
    }
    let note = p.path("note").expect("note");
    assert_eq!(note.nulls(), model["note"].types["null"]);
    assert_eq!(note.longest.first().map(String::as_str), Some("xxxxxx"));
    let since = p.path("since").expect("since");
    assert_eq!(since.timestamp_strings, model["since"].documents);
    let owner_id = p.path("owner.id").expect("owner.id");
    assert_eq!(owner_id.uuid_strings, model["owner.id"].documents);
    let ratio = p.path("ratio").expect("ratio");
    assert!(ratio.integral_numbers < ratio.documents);
    let seats = p.path("seats").expect("seats");
    assert_eq!(seats.integral_numbers, seats.documents);
    assert_eq!(seats.max_abs_number, Some(119.0));
    // `limits.api|storage` hold objects of the same keys: entries.
    let entries: Vec<String> = p.entry_objects.iter().map(|e| e.dotted()).collect();
    assert_eq!(entries, vec!["limits".to_string()]);
    let keys: Vec<&str> = p.entry_objects[0]
        .keys
        .iter()
        .map(|k| k.value.as_str())
        .collect();
    assert_eq!(keys, vec!["api", "storage"]);

    // A sample reads fewer rows (of a bigger table), the same paths.
    exec(
        &pool,
        "INSERT INTO public.accounts SELECT 1000 + g, jsonb_build_object('plan', 'pro', 'seats', g)
         FROM generate_series(1, 20000) g",
    )
    .await;
    let sampled = profile(
        &pool,
        &ProfileRequest {
            schema: ident("public"),
            table: ident("accounts"),
            column: ident("settings"),
            sample_percent: Some(5.0),
        },
    )
    .await
    .expect("sample");
    assert_eq!(sampled.sample_percent, Some(5.0));
    assert!(
        sampled.rows > 0 && sampled.rows < 20_120,
        "{}",
        sampled.rows
    );
    assert!(sampled.path("plan").is_some());

    // The whole table read in parts of three pages (a scan with progress)
    // finds what one read finds: the model's figures for the documents
    // above, and 20,000 more of a known shape. Distinct strings above the
    // listing limit are a lower bound in parts, still above it.
    let whole = ProfileRequest {
        schema: ident("public"),
        table: ident("accounts"),
        column: ident("settings"),
        sample_percent: None,
    };
    let at_once = profile(&pool, &whole).await.expect("whole table");
    assert_eq!(at_once.rows, docs.len() as i64 + 20_000);
    assert_eq!(
        at_once.path("plan").map(|p| p.documents),
        Some(20_000 + model["plan"].documents)
    );
    let mut scan = ProfileScan::start(&pool, &whole, Some(3))
        .await
        .expect("scan");
    let total = scan.progress().pages_total;
    assert!(total > 9, "a table of {total} pages is too small for parts");
    assert_eq!(scan.progress().pages_done, 0);
    let mut seen = vec![scan.progress().pages_done];
    while scan.step().await.expect("part") {
        seen.push(scan.progress().pages_done);
    }
    assert_eq!(scan.progress().pages_done, total);
    assert!(
        seen.len() as i64 >= total / 3,
        "{} parts of {total} pages",
        seen.len()
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    let in_parts = scan.finish();
    let mut a = at_once.clone();
    let mut b = in_parts.clone();
    for (x, y) in a.paths.iter_mut().zip(b.paths.iter_mut()) {
        if x.distinct_strings > 20 {
            assert!(y.distinct_strings > 20, "{}", y.dotted());
            y.distinct_strings = x.distinct_strings;
        }
    }
    assert_eq!(a, b);

    // A column that is not jsonb, and a table that is not there: said so.
    let err = profile(
        &pool,
        &ProfileRequest {
            schema: ident("public"),
            table: ident("accounts"),
            column: ident("id"),
            sample_percent: None,
        },
    )
    .await
    .expect_err("not jsonb");
    assert!(err.to_string().contains("bigint, not jsonb"), "{err}");
    let err = profile(
        &pool,
        &ProfileRequest {
            schema: ident("public"),
            table: ident("missing"),
            column: ident("settings"),
            sample_percent: Some(150.0),
        },
    )
    .await
    .expect_err("bad percent");
    assert!(err.to_string().contains("150"), "{err}");
}

/// What a recipe says, leaving out what a team names or tunes (table and
/// column names, defaults, indexes, tuning): source, per target its kind,
/// entries and entry keys, per column its path, type and allowed values.
fn substance(r: &Recipe) -> Value {
    let targets: BTreeSet<String> = r
        .targets
        .iter()
        .map(|t| {
            let kind = match &t.kind {
                TargetKind::PerRow => json!("per_row"),
                TargetKind::PerEntry {
                    path, key_allowed, ..
                } => {
                    let mut keys = key_allowed.clone();
                    keys.sort();
                    json!({"entries": path.join("."), "keys": keys})
                }
            };
            let columns: BTreeSet<String> = t
                .columns
                .iter()
                .map(|c| {
                    let mut allowed = c.allowed.clone();
                    allowed.sort();
                    json!({"path": c.path.join("."), "type": c.ty.sql(), "allowed": allowed})
                        .to_string()
                })
                .collect();
            json!({"kind": kind, "columns": columns}).to_string()
        })
        .collect();
    json!({
        "source": [r.source.schema.as_str(), r.source.table.as_str(), r.source.key.as_str(),
                   r.source.key_type.sql(), r.source.column.as_str()],
        "targets": targets,
    })
}

#[sqlx::test(migrations = "./migrations")]
async fn the_draft_for_the_demo_table_is_the_demo_recipe_in_substance(pool: PgPool) {
    crate::seeded(&pool, 3000).await;
    let p = profile(
        &pool,
        &ProfileRequest {
            schema: ident("public"),
            table: ident("users"),
            column: ident("preferences"),
            sample_percent: None,
        },
    )
    .await
    .expect("profile");
    let d = draft(
        &DraftSource {
            schema: "public".into(),
            table: "users".into(),
            key: "id".into(),
            key_type: "bigint".into(),
            column: "preferences".into(),
        },
        &p,
    );
    let drafted = Recipe::parse(&d.text)
        .unwrap_or_else(|e| panic!("the draft does not parse: {e:?}\n{}", d.text));
    let demo = Recipe::parse(include_str!("../../recipes/user_preferences.toml")).expect("demo");
    assert_eq!(substance(&drafted), substance(&demo), "{}", d.text);
    // The names it picked are the demo's where they can be guessed.
    let tables: Vec<&str> = drafted.targets.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(tables, vec!["user_preferences", "notification_preferences"]);
    // The stray keys of the messy documents are left out, each with why.
    let left: Vec<&str> = d.left_out.iter().map(|(p, _)| p.as_str()).collect();
    assert!(left.contains(&"font_size"), "{left:?}");
    assert!(left.contains(&"beta_features"), "{left:?}");
    assert!(left.contains(&"notifications.pager"), "{left:?}");
}
