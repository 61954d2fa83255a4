//! Golden files of the generated SQL: every phase's plan and every
//! rollback's (rollback 5 as it runs after a dropped column with a default,
//! NOT NULL, a CHECK, an index, storage and a comment), for the shipped
//! recipes and for edge cases, compared with reviewed text in
//! `tests/golden/*.sql` (phases as `switchyard plan` prints them). A change
//! to the generator shows up as a diff to review; `make golden` rewrites the
//! files (`UPDATE_GOLDEN=1`) once the new text is right. No database is
//! needed: the planner is pure.

use std::path::PathBuf;
use switchyard::engine::phases::{ColumnDefinition, ContractRecord, NamedDefinition};
use switchyard::engine::{render_steps, Phase, Planner, Recipe};

/// Recipes that exercise what the shipped ones do not: hostile values
/// (quotes, backslashes, the dollar-quote tag, unicode), a uuid key, deep
/// paths, every type, required / default / allowed, entry keys limited.
const EDGE_CASES: &str = r#"
name = "edge-cases"
title = "Edge cases"
[source]
schema = "app"
table = "things"
key = "id"
key_type = "uuid"
column = "data"
[[targets]]
table = "thing_facts"
source_key_column = "thing_id"
[[targets.columns]]
name = "label"
path = "meta.label"
type = "text"
default = "it's $sy$ \\ \"quoted\" ünïcode"
allowed = ["it's $sy$ \\ \"quoted\" ünïcode", "plain"]
[[targets.columns]]
name = "weight"
path = "meta.measures.weight"
type = "double precision"
[[targets.columns]]
name = "count"
path = "count"
type = "smallint"
default = -32768
[[targets.columns]]
name = "price"
path = "price"
type = "numeric"
required = true
[[targets.columns]]
name = "seen_at"
path = "seen.at"
type = "timestamptz"
[[targets.columns]]
name = "born_on"
path = "born_on"
type = "date"
default = "2000-01-31"
[[targets.columns]]
name = "ref"
path = "ref"
type = "uuid"
[[targets.columns]]
name = "active"
path = "active"
type = "boolean"
default = false
[[targets.columns]]
name = "big"
path = "big"
type = "bigint"
[[targets.indexes]]
name = "thing_facts_label"
columns = ["label", "price"]
unique = true
[[targets]]
table = "thing_parts"
kind = "per_entry"
entries = "parts.by_slot"
source_key_column = "thing_id"
entry_key_column = "slot"
entry_key_allowed = ["left", "right"]
[[targets.columns]]
name = "size"
path = "size"
type = "integer"
required = true
[[targets.columns]]
name = "note"
path = "note.text"
type = "text"
"#;

fn cases() -> Vec<(&'static str, String)> {
    vec![
        (
            "user_preferences",
            include_str!("../../recipes/user_preferences.toml").to_string(),
        ),
        (
            "order_metadata",
            include_str!("../../recipes/order_metadata.toml").to_string(),
        ),
        ("edge_cases", EDGE_CASES.to_string()),
    ]
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.sql"))
}

/// What phase 5 records for a column with every restorable attribute.
fn dropped_column() -> ContractRecord {
    let named = |name: &str, definition: &str| NamedDefinition {
        name: name.to_string(),
        definition: definition.to_string(),
    };
    ContractRecord {
        definition: Some(ColumnDefinition {
            default: Some("'{}'::jsonb".into()),
            not_null: true,
            checks: vec![named(
                "doc_is_object",
                "CHECK (jsonb_typeof(doc) = 'object'::text)",
            )],
            indexes: vec![named(
                "docs_gin",
                "CREATE INDEX docs_gin ON app.docs USING gin (doc)",
            )],
            storage: Some("m".into()),
            statistics: Some(500),
            compression: Some("l".into()),
            comment: Some("it's the document".into()),
        }),
        dropped: true,
    }
}

#[test]
fn generated_sql_matches_the_reviewed_golden_files() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, text) in cases() {
        let recipe = Recipe::parse(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let planner = Planner::new(&recipe);
        let mut sql = String::new();
        for phase in Phase::ALL {
            sql.push_str(&format!("-- ===== phase {phase} =====\n"));
            sql.push_str(&render_steps(&planner.apply(phase)));
        }
        for phase in Phase::ALL.into_iter().rev() {
            sql.push_str(&format!("-- ===== rollback {phase} =====\n"));
            sql.push_str(&render_steps(&planner.rollback(phase, &dropped_column())));
        }
        let path = golden_path(name);
        if update {
            std::fs::write(&path, &sql).expect("write golden file");
            continue;
        }
        let reviewed = std::fs::read_to_string(&path).unwrap_or_default();
        if reviewed != sql {
            let at = reviewed
                .lines()
                .zip(sql.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| reviewed.lines().count().min(sql.lines().count()));
            stale.push(format!(
                "{}: differs from line {}:\n  reviewed: {:?}\n  now:      {:?}",
                path.display(),
                at + 1,
                reviewed.lines().nth(at).unwrap_or("(end)"),
                sql.lines().nth(at).unwrap_or("(end)")
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "the generated SQL changed; review it and run `make golden`:\n{}",
        stale.join("\n")
    );
}
