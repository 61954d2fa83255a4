//! Recipes kept in our database (issue 14): every saved version of a
//! migration's recipe, the newest of which is what the console and the CLI
//! use until phase 1 pins one (the pin itself stays where the engine's
//! journal keeps it: `migrations.pinned_recipe`). A migration's source table
//! is recorded with it, so a second migration on one table is refused with
//! the name of the first (also by a unique index, for racing saves).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{events, StoreError, StoreResult};
use crate::engine::Event;

/// Where a recipe version came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Edited in the browser.
    Web,
    /// Run or registered from the CLI (`phase run`, `recipe import`).
    Cli,
    /// Imported from a file (`recipes/*.toml`).
    Import,
    /// The built-in demo's seed.
    Seed,
    /// Drafted by the new-migration wizard.
    Draft,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Web => "web",
            Origin::Cli => "cli",
            Origin::Import => "import",
            Origin::Seed => "seed",
            Origin::Draft => "draft",
        }
    }
}

/// One saved version.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredRecipe {
    pub version: i32,
    pub body: String,
    pub hash: String,
    pub origin: String,
    pub origin_path: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A recipe to save as a migration's newest version. The caller has parsed
/// it (`engine::Recipe::parse`): `name` is the recipe's name, which is the
/// migration's.
pub struct NewVersion<'a> {
    pub name: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub hash: &'a str,
    /// `schema.table` of the recipe's source.
    pub source_table: &'a str,
    pub origin: Origin,
    pub origin_path: Option<&'a str>,
    pub actor: &'a str,
    /// Create the migration when it does not exist (CLI, import, wizard);
    /// otherwise a missing migration is `NotFound`.
    pub create: bool,
}

/// What `save` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Saved {
    pub version: i32,
    /// False: the newest version already had this text (nothing written).
    pub created: bool,
}

/// Saves `new` as the newest version of its migration (nothing is written
/// when the newest version has the same text), with a `RecipeSaved` event.
#[tracing::instrument(skip(pool, new), fields(name = new.name))]
pub async fn save(pool: &PgPool, new: &NewVersion<'_>) -> StoreResult<Saved> {
    let mut tx = pool.begin().await?;
    match save_in(&mut tx, new).await {
        Ok(saved) => {
            tx.commit().await.map_err(|e| unique_violation(e, new))?;
            Ok(saved)
        }
        Err(e) => {
            // Rolled back now: a dropped transaction is rolled back only
            // when its connection is next tested or used, and until then the
            // refused migration row it inserted blocks anyone inserting the
            // same name (a CLI run of the same recipe waited on it).
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, "rolling back a refused recipe save");
            }
            Err(e)
        }
    }
}

/// `save` in the caller's transaction.
pub async fn save_in(conn: &mut PgConnection, new: &NewVersion<'_>) -> StoreResult<Saved> {
    if crate::engine::rehearse::is_rehearsal_name(new.name) {
        // A rehearsal's records live under this name, and are deleted with
        // it when the rehearsal ends.
        return Err(StoreError::Invalid {
            field: "name".into(),
            message: format!(
                "{:?} is reserved for a rehearsal's own records; name the migration otherwise",
                new.name
            ),
        });
    }
    if new.create {
        sqlx::query(
            "INSERT INTO switchyard.migrations (name, title) VALUES ($1, $2)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(new.name)
        .bind(new.title)
        .execute(&mut *conn)
        .await
        .map_err(|e| check_violation(e, new))?;
    }
    let row: Option<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, source_table, pinned_recipe FROM switchyard.migrations WHERE name = $1 FOR UPDATE",
    )
    .bind(new.name)
    .fetch_optional(&mut *conn)
    .await?;
    let (id, source_table, pinned) =
        row.ok_or_else(|| StoreError::NotFound(format!("migration {:?}", new.name)))?;
    if let Some(other) = taken_by(&mut *conn, new.source_table, new.name).await? {
        return Err(refused_table(new.source_table, &other));
    }
    if pinned.is_some()
        && source_table
            .as_deref()
            .is_some_and(|t| t != new.source_table)
    {
        return Err(StoreError::Invalid {
            field: "source".into(),
            message: format!(
                "phase 1 of {:?} pinned a recipe for {}; a recipe for {} needs a migration of its own",
                new.name,
                source_table.unwrap_or_default(),
                new.source_table
            ),
        });
    }
    let latest: Option<(i32, String)> = sqlx::query_as(
        "SELECT version, hash FROM switchyard.recipes WHERE migration_id = $1
         ORDER BY version DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((version, hash)) = &latest {
        if hash == new.hash && source_table.as_deref() == Some(new.source_table) {
            return Ok(Saved {
                version: *version,
                created: false,
            });
        }
    }
    let version = latest.map(|(v, _)| v + 1).unwrap_or(1);
    sqlx::query(
        "UPDATE switchyard.migrations SET source_table = $2, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(new.source_table)
    .execute(&mut *conn)
    .await
    .map_err(|e| unique_violation(e, new))?;
    sqlx::query(
        "INSERT INTO switchyard.recipes
             (migration_id, version, body, hash, origin, origin_path, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(version)
    .bind(new.body)
    .bind(new.hash)
    .bind(new.origin.as_str())
    .bind(new.origin_path)
    .bind(new.actor)
    .execute(&mut *conn)
    .await?;
    let event = Event::RecipeSaved {
        version,
        hash: new.hash.to_string(),
        origin: new.origin.as_str().to_string(),
    };
    events::record(&mut *conn, id, new.actor, &event).await?;
    Ok(Saved {
        version,
        created: true,
    })
}

/// The migration (other than `except`) whose recipe moves `source_table`.
async fn taken_by(
    conn: &mut PgConnection,
    source_table: &str,
    except: &str,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM switchyard.migrations WHERE source_table = $1 AND name <> $2",
    )
    .bind(source_table)
    .bind(except)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Which migration moves `source_table` (None: no migration does).
pub async fn migration_of_table(pool: &PgPool, source_table: &str) -> StoreResult<Option<String>> {
    let mut conn = pool.acquire().await?;
    taken_by(&mut conn, source_table, "").await
}

fn refused_table(source_table: &str, other: &str) -> StoreError {
    StoreError::Conflict(format!(
        "{source_table} is already migrated by migration {other:?}; one migration per source table"
    ))
}

/// A save that lost a race for the source table (the unique index).
fn unique_violation(e: sqlx::Error, new: &NewVersion<'_>) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("migrations_one_per_source_table") => {
            StoreError::Conflict(format!(
                "{} is already migrated by another migration; one migration per source table",
                new.source_table
            ))
        }
        _ => StoreError::Database(e),
    }
}

/// A migration name the schema refuses (the recipe's name is its slug).
fn check_violation(e: sqlx::Error, new: &NewVersion<'_>) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.constraint().is_some_and(|c| c.starts_with("migrations_")) => {
            StoreError::Invalid {
                field: "name".into(),
                message: format!(
                    "{:?} cannot name a migration: lower-case letters, digits and -, at most 63, starting with a letter or digit; a title of 1 to 200 characters",
                    new.name
                ),
            }
        }
        _ => StoreError::Database(e),
    }
}

/// The newest saved version of migration `name`'s recipe (None: none saved;
/// `NotFound`: no such migration).
pub async fn latest(pool: &PgPool, name: &str) -> StoreResult<Option<StoredRecipe>> {
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT id FROM switchyard.migrations WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    let id = exists.ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))?;
    Ok(sqlx::query_as(
        "SELECT version, body, hash, origin, origin_path, created_by, created_at
         FROM switchyard.recipes WHERE migration_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Every saved version of migration `name`'s recipe, newest first.
pub async fn versions(pool: &PgPool, name: &str) -> StoreResult<Vec<StoredRecipe>> {
    Ok(sqlx::query_as(
        "SELECT r.version, r.body, r.hash, r.origin, r.origin_path, r.created_by, r.created_at
         FROM switchyard.recipes r JOIN switchyard.migrations m ON m.id = r.migration_id
         WHERE m.name = $1 ORDER BY r.version DESC",
    )
    .bind(name)
    .fetch_all(pool)
    .await?)
}

/// One saved version (`NotFound` when there is no such version).
pub async fn version(pool: &PgPool, name: &str, version: i32) -> StoreResult<StoredRecipe> {
    sqlx::query_as(
        "SELECT r.version, r.body, r.hash, r.origin, r.origin_path, r.created_by, r.created_at
         FROM switchyard.recipes r JOIN switchyard.migrations m ON m.id = r.migration_id
         WHERE m.name = $1 AND r.version = $2",
    )
    .bind(name)
    .bind(version)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("version {version} of {name:?}'s recipe")))
}
