//! The recipes service (server only): a migration's recipe kept in our
//! database, versioned (issue 14). A recipe text is parsed by the engine
//! (every error with its field and, here, its line), then saved as the
//! migration's newest version; the console and the CLI run the newest
//! version until phase 1 pins one (the engine's journal keeps the pin).
//! Import from and export to `recipes/*.toml` go through here too. Who may
//! call what (roles) the callers check.

use sqlx::PgPool;

use crate::engine::recipe::line_of;
use crate::engine::{Recipe, RecipeError};
use crate::model::AppError;
use crate::store::recipes::{self as stored, NewVersion, Origin, Saved, StoredRecipe};
use crate::store::StoreError;

/// One problem of a recipe text, with the line it is on when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocatedError {
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for LocatedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) if !self.field.starts_with("line ") => {
                write!(f, "line {line}: {}: {}", self.field, self.message)
            }
            _ => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecipeServiceError {
    /// The text is not a valid recipe: every problem, located.
    #[error("the recipe has {} error(s): {}", .0.len(), join(.0))]
    Invalid(Vec<LocatedError>),
    /// Valid, but not here: another migration's name, a table taken.
    #[error("{0}")]
    Refused(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(StoreError),
}

fn join(errors: &[LocatedError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<StoreError> for RecipeServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => RecipeServiceError::NotFound(what),
            StoreError::Conflict(m) => RecipeServiceError::Refused(m),
            StoreError::Invalid { field, message } => {
                RecipeServiceError::Refused(format!("{field}: {message}"))
            }
            other => RecipeServiceError::Store(other),
        }
    }
}

impl From<RecipeServiceError> for AppError {
    fn from(err: RecipeServiceError) -> Self {
        match err {
            e @ RecipeServiceError::Invalid(_) => AppError::invalid("recipe", e.to_string()),
            RecipeServiceError::Refused(m) => AppError::invalid("recipe", m),
            RecipeServiceError::NotFound(what) => AppError::not_found(what),
            RecipeServiceError::Store(e) => e.into(),
        }
    }
}

/// Parses `text`; every error located on its line.
pub fn parse(text: &str) -> Result<Recipe, Vec<LocatedError>> {
    Recipe::parse(text).map_err(|errors| locate(text, errors))
}

/// Each error with the line of `text` it is on.
pub fn locate(text: &str, errors: Vec<RecipeError>) -> Vec<LocatedError> {
    errors
        .into_iter()
        .map(|e| LocatedError {
            line: line_of(text, &e.field),
            field: e.field,
            message: e.message,
        })
        .collect()
}

/// `schema.table` of a recipe's source, as recorded with its migration.
pub fn source_table(recipe: &Recipe) -> String {
    format!(
        "{}.{}",
        recipe.source.schema.as_str(),
        recipe.source.table.as_str()
    )
}

/// How a recipe reaches the database.
pub struct Registration<'a> {
    pub origin: Origin,
    /// The file it came from, if any.
    pub path: Option<&'a str>,
    pub actor: &'a str,
    /// The migration it must belong to (an edit of an existing migration's
    /// recipe); None: the recipe's own name, created when missing.
    pub migration: Option<&'a str>,
}

/// Saves `text` as the newest version of its migration's recipe (created
/// when `reg.migration` is None and it does not exist yet). A second
/// migration on the same source table is refused with the first's name.
pub async fn register(
    pool: &PgPool,
    text: &str,
    reg: &Registration<'_>,
) -> Result<(Recipe, Saved), RecipeServiceError> {
    let recipe = parse(text).map_err(RecipeServiceError::Invalid)?;
    register_parsed(pool, &recipe, reg)
        .await
        .map(|s| (recipe, s))
}

/// `register` of a recipe already parsed.
pub async fn register_parsed(
    pool: &PgPool,
    recipe: &Recipe,
    reg: &Registration<'_>,
) -> Result<Saved, RecipeServiceError> {
    if let Some(migration) = reg.migration {
        if recipe.name != migration {
            return Err(RecipeServiceError::Invalid(vec![LocatedError {
                line: line_of(&recipe.text, "name"),
                field: "name".into(),
                message: format!(
                    "is {:?}, but this is the recipe of migration {migration:?} (a recipe's name is its migration's)",
                    recipe.name
                ),
            }]));
        }
    }
    let hash = recipe.hash();
    let table = source_table(recipe);
    let saved = stored::save(
        pool,
        &NewVersion {
            name: &recipe.name,
            title: &recipe.title,
            body: &recipe.text,
            hash: &hash,
            source_table: &table,
            origin: reg.origin,
            origin_path: reg.path,
            actor: reg.actor,
            create: reg.migration.is_none(),
        },
    )
    .await?;
    Ok(saved)
}

/// The newest version of migration `name`'s recipe (None: none saved).
pub async fn latest(pool: &PgPool, name: &str) -> Result<Option<StoredRecipe>, RecipeServiceError> {
    Ok(stored::latest(pool, name).await?)
}

/// The text to write to a file: version `version` of migration `name`'s
/// recipe, or its newest.
pub async fn export(
    pool: &PgPool,
    name: &str,
    version: Option<i32>,
) -> Result<StoredRecipe, RecipeServiceError> {
    match version {
        Some(v) => Ok(stored::version(pool, name, v).await?),
        None => stored::latest(pool, name)
            .await?
            .ok_or_else(|| RecipeServiceError::NotFound(format!("a recipe of {name:?}"))),
    }
}
