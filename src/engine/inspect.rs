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

/// Every problem with `r` that only the database can show (none: empty).
/// Once phase 1 has started (`phase1_started`), the target names are ours
/// and the column may be gone (phase 5), so those are not checked.
pub async fn check_database(
    pool: &PgPool,
    r: &Recipe,
    phase1_started: bool,
) -> Result<Vec<RecipeError>, EngineError> {
    let s = &r.source;
    let qualified = format!("{}.{}", s.schema, s.table);
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(&qualified)
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(vec![err(
            "source.table",
            format!(
                "table {}.{} does not exist in the database",
                s.schema.as_str(),
                s.table.as_str()
            ),
        )]);
    }
    let columns: Vec<ColumnInfo> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_nullable = 'YES' FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2",
    )
    .bind(s.schema.as_str())
    .bind(s.table.as_str())
    .fetch_all(pool)
    .await?;
    let mut errors = check_key(pool, r, &columns).await?;
    match type_of(&columns, s.column.as_str()) {
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
        errors.extend(names_taken(pool, r).await?);
    }
    Ok(errors)
}

/// (name, data type, nullable) of each column of the source table.
type ColumnInfo = (String, String, bool);

fn type_of<'a>(columns: &'a [ColumnInfo], name: &str) -> Option<&'a str> {
    columns
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, t, _)| t.as_str())
}

/// The key: present, of the recipe's type, NOT NULL, and unique on its own.
async fn check_key(
    pool: &PgPool,
    r: &Recipe,
    columns: &[ColumnInfo],
) -> Result<Vec<RecipeError>, EngineError> {
    let s = &r.source;
    let key = s.key.as_str();
    let want_key = match s.key_type {
        KeyType::Integer => "integer",
        KeyType::BigInt => "bigint",
        KeyType::Uuid => "uuid",
    };
    let nullable = columns.iter().any(|(n, _, null)| n == key && *null);
    let problem = match type_of(columns, key) {
        None => ("source.key", format!("column {key} does not exist in {}", s.table.as_str())),
        Some(t) if t != want_key => (
            "source.key_type",
            format!("the recipe says {want_key} but column {key} is {t}"),
        ),
        Some(_) if nullable => (
            "source.key",
            format!("column {key} is nullable; rows with a NULL key could never be migrated. Make it NOT NULL"),
        ),
        Some(_) => {
            let unique: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a
                     ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                 WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indisvalid
                   AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL
                   AND a.attname = $2)",
            )
            .bind(format!("{}.{}", s.schema, s.table))
            .bind(key)
            .fetch_one(pool)
            .await?;
            if unique {
                return Ok(Vec::new());
            }
            (
                "source.key",
                format!("column {key} has no valid, non-partial unique index of its own; keyset batches need one"),
            )
        }
    };
    Ok(vec![err(problem.0, problem.1)])
}

/// Target tables and index names that exist already (phase 1 never adopts,
/// or later drops, an object it did not create).
async fn names_taken(pool: &PgPool, r: &Recipe) -> Result<Vec<RecipeError>, EngineError> {
    let s = &r.source;
    let mut errors = Vec::new();
    for (i, t) in r.targets.iter().enumerate() {
        if exists(pool, &format!("{}.{}", s.schema, t.table)).await? {
            errors.push(err(
                &format!("targets[{i}].table"),
                format!("a table named {} already exists", t.table.as_str()),
            ));
        }
        for (k, ix) in t.indexes.iter().enumerate() {
            if exists(pool, &format!("{}.{}", s.schema, ix.name)).await? {
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
    Ok(errors)
}

async fn exists(pool: &PgPool, qualified: &str) -> Result<bool, EngineError> {
    Ok(sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(qualified)
        .fetch_one(pool)
        .await?)
}
