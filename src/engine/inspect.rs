//! What only the database can tell about a recipe: do its source table and
//! columns exist with the right types, and are its target names free?

use sqlx::PgPool;

use super::recipe::{KeyType, Recipe, RecipeError};
use super::EngineError;

fn err(field: &str, message: String) -> RecipeError {
    RecipeError {
        field: field.to_string(),
        message,
    }
}

pub async fn check_database(pool: &PgPool, r: &Recipe) -> Result<Vec<RecipeError>, EngineError> {
    let mut errors = Vec::new();
    let s = &r.source;
    let qualified = format!("{}.{}", s.schema, s.table);
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&qualified)
        .fetch_one(pool)
        .await?;
    if !exists {
        errors.push(err(
            "source.table",
            format!(
                "table {}.{} does not exist in the database",
                s.schema.as_str(),
                s.table.as_str()
            ),
        ));
        return Ok(errors);
    }
    let columns: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_nullable = 'YES' FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2",
    )
    .bind(s.schema.as_str())
    .bind(s.table.as_str())
    .fetch_all(pool)
    .await?;
    let type_of = |name: &str| {
        columns
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, t, _)| t.as_str())
    };
    let nullable = |name: &str| columns.iter().any(|(n, _, null)| n == name && *null);
    let want_key = match s.key_type {
        KeyType::Integer => "integer",
        KeyType::BigInt => "bigint",
        KeyType::Uuid => "uuid",
    };
    match type_of(s.key.as_str()) {
        None => errors.push(err(
            "source.key",
            format!(
                "column {} does not exist in {}",
                s.key.as_str(),
                s.table.as_str()
            ),
        )),
        Some(t) if t != want_key => errors.push(err(
            "source.key_type",
            format!(
                "the recipe says {want_key} but column {} is {t}",
                s.key.as_str()
            ),
        )),
        Some(_) if nullable(s.key.as_str()) => errors.push(err(
            "source.key",
            format!(
                "column {} is nullable; rows with a NULL key could never be migrated. Make it NOT NULL",
                s.key.as_str()
            ),
        )),
        Some(_) => {
            let unique: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a
                     ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                 WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid
                   AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL
                   AND a.attname = $2)",
            )
            .bind(&qualified)
            .bind(s.key.as_str())
            .fetch_one(pool)
            .await?;
            if !unique {
                errors.push(err(
                    "source.key",
                    format!(
                        "column {} has no valid, non-partial unique index of its own; keyset batches need one",
                        s.key.as_str()
                    ),
                ));
            }
        }
    }
    let phase1_started: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM switchyard.phase_states p JOIN switchyard.migrations m ON m.id = p.migration_id
         WHERE m.name = $1 AND p.position = 1 AND p.state NOT IN ('pending', 'rolled_back'))",
    )
    .bind(&r.name)
    .fetch_one(pool)
    .await?;
    match type_of(s.column.as_str()) {
        None if phase1_started => {}
        None => errors.push(err(
            "source.column",
            format!(
                "column {} does not exist in {}",
                s.column.as_str(),
                s.table.as_str()
            ),
        )),
        Some("jsonb") => {}
        Some(t) => errors.push(err(
            "source.column",
            format!("column {} is {t}, not jsonb", s.column.as_str()),
        )),
    }
    if !phase1_started {
        for (i, t) in r.targets.iter().enumerate() {
            let taken: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(format!("{}.{}", s.schema, t.table))
                .fetch_one(pool)
                .await?;
            if taken {
                errors.push(err(
                    &format!("targets[{i}].table"),
                    format!("a table named {} already exists", t.table.as_str()),
                ));
            }
            for (k, ix) in t.indexes.iter().enumerate() {
                let taken: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                    .bind(format!("{}.{}", s.schema, ix.name))
                    .fetch_one(pool)
                    .await?;
                if taken {
                    errors.push(err(
                        &format!("targets[{i}].indexes[{k}].name"),
                        format!(
                            "a table or index named {} already exists in schema {}",
                            ix.name.as_str(),
                            s.schema.as_str()
                        ),
                    ));
                }
            }
        }
    }
    Ok(errors)
}
