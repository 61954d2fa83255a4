//! The new-migration wizard (issue 14): operators and admins only, each
//! step a plain form (works without JavaScript); a refusal comes back to
//! the page it was posted from (`__err`), said in words.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::account::Role;
use crate::model::wizard::{DraftView, ProfilingView, RecipeProblem, SourcesView};
use crate::model::AppError;

/// Step 1: the tables of the connected database with a jsonb column.
#[server]
pub async fn list_sources() -> Result<SourcesView, AppError> {
    crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::wizard::sources(&pool).await?)
}

/// Step 1 done: a draft for this table, key and column; to its page.
#[server]
pub async fn start_draft(
    schema: String,
    table: String,
    key: String,
    column: String,
) -> Result<i64, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let id = crate::wizard::start(&pool, &schema, &table, &key, &column, &account.email).await?;
    leptos_axum::redirect(&format!("/new/{id}"));
    Ok(id)
}

/// One draft, every step as stored.
#[server]
pub async fn get_draft(id: i64) -> Result<DraftView, AppError> {
    crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::wizard::view(&pool, id).await?)
}

/// The problems of a recipe as typed, each with its line (nothing is
/// stored): the wizard's recipe field asks after every change.
#[server]
pub async fn check_recipe(recipe: String) -> Result<Vec<RecipeProblem>, AppError> {
    crate::server::auth::require(Role::Operator)?;
    Ok(crate::wizard::check_recipe(&recipe)?)
}

/// How far draft `id`'s profile scan is (None: none runs); asked every
/// two seconds by the wizard's progress line while one runs.
#[server]
pub async fn get_profiling(id: i64) -> Result<Option<ProfilingView>, AppError> {
    crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::wizard::profiling(&pool, id).await?)
}

/// Step 2: profile a sample (`scope` = "sample") or the whole table
/// ("whole"); back to the draft's page.
#[server]
pub async fn profile_draft(id: i64, scope: String) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let whole = match scope.as_str() {
        "sample" => false,
        "whole" => true,
        other => {
            return Err(AppError::invalid(
                "scope",
                format!("{other:?}: expected sample or whole"),
            ))
        }
    };
    let pool = crate::server::context::pool()?;
    // Minutes on a large table: then in the background, and the page
    // shows how far it is.
    crate::wizard::start_profile(&pool, id, whole, &account.email).await?;
    leptos_axum::redirect(&format!("/new/{id}#profile"));
    Ok(())
}

/// Step 3: keep the recipe as typed; its problems are shown by line.
#[server]
pub async fn save_draft_recipe(id: i64, recipe: String) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    crate::wizard::save_text(&pool, id, &recipe, &account.email).await?;
    leptos_axum::redirect(&format!("/new/{id}#recipe"));
    Ok(())
}

/// Step 4: keep the spec as typed (Markdown); back to the plan step.
#[server]
pub async fn save_draft_spec(id: i64, spec: String) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    crate::wizard::save_spec(&pool, id, &spec, &account.email).await?;
    leptos_axum::redirect(&format!("/new/{id}#spec"));
    Ok(())
}

/// Step 4: link a Notion page (URL or id) as the spec; empty unlinks it.
#[server]
pub async fn link_draft_spec_page(id: i64, page: String) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    crate::wizard::link_spec_page(&pool, id, &page, &account.email).await?;
    leptos_axum::redirect(&format!("/new/{id}#spec"));
    Ok(())
}

/// Step 4: make the draft a migration (recipe, spec, plan, tasks); to it.
#[server]
pub async fn create_from_draft(id: i64) -> Result<String, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    // A spec linked in Notion is fetched now, with all its blocks.
    let linked = match crate::wizard::linked_spec_page(&pool, id).await? {
        Some(page) => {
            let notion = crate::server::context::notion();
            let spec = crate::notion::specs::fetch(notion.client()?, &page).await?;
            Some(crate::wizard::LinkedSpec {
                page_id: spec.page_id.as_str().to_string(),
                blocks: spec.blocks,
            })
        }
        None => None,
    };
    let name = crate::wizard::create(&pool, id, &account.email, linked).await?;
    leptos_axum::redirect(&format!("/m/{name}/phases"));
    Ok(name)
}
