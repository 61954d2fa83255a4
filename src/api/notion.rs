//! The Notion mirror's server functions: find and import a spec, preview
//! and apply a refresh, publish the plan, and the outbox's items. Reading
//! is for any account; importing, refreshing, publishing and handling
//! outbox items for operators (and admins).
//!
//! The actions take plain form posts (URL-encoded), so they work without
//! JavaScript; on success they redirect to the page to look at next.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::account::Role;
use crate::model::mirror::{MirrorView, NotionPageHit, RefreshPreview};
use crate::model::AppError;

/// Notion pages whose title contains `query` (at most 20).
#[server]
pub async fn search_notion_pages(query: String) -> Result<Vec<NotionPageHit>, AppError> {
    crate::server::auth::require(Role::Operator)?;
    use crate::notion::wire::{SearchFilter, SearchResult};
    let notion = crate::server::context::notion();
    let client = notion.client()?;
    let hits = client
        .search_all(query.trim(), Some(SearchFilter::Pages), 20)
        .await?;
    Ok(hits
        .into_iter()
        .filter_map(|hit| match hit {
            SearchResult::Page(page) => Some(NotionPageHit {
                id: page.id.to_string(),
                title: page.title(),
                url: page.url.clone(),
                last_edited: page.last_edited_time,
            }),
            SearchResult::DataSource(_) => None,
        })
        .collect())
}

/// A new migration from the Notion page `page` (its URL or id); redirects
/// to the new migration.
#[server]
pub async fn import_notion_spec(page: String) -> Result<String, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let page = crate::domain::notion_id::NotionId::parse(&page)
        .map_err(|e| AppError::invalid("page", e.to_string()))?;
    let pool = crate::server::context::pool()?;
    let notion = crate::server::context::notion();
    let name = crate::notion::specs::import(&pool, notion.client()?, &page, &account.email).await?;
    leptos_axum::redirect(&format!("/m/{name}"));
    Ok(name)
}

/// What refreshing migration `name`'s spec from Notion would change.
#[server]
pub async fn preview_spec_refresh(name: String) -> Result<RefreshPreview, AppError> {
    crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let notion = crate::server::context::notion();
    let preview = crate::notion::specs::preview_refresh(&pool, notion.client()?, &name).await?;
    Ok(RefreshPreview {
        diff: preview.diff,
        title: preview.title,
        base: preview.base.timestamp_micros(),
    })
}

/// Replaces the spec with Notion's page as it is now, if the stored spec
/// is still the one the preview (`base`) was against; redirects to the spec.
#[server]
pub async fn apply_spec_refresh(name: String, base: i64) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let base = chrono::DateTime::from_timestamp_micros(base)
        .ok_or_else(|| AppError::invalid("base", "not a time"))?;
    let pool = crate::server::context::pool()?;
    let notion = crate::server::context::notion();
    crate::notion::specs::apply_refresh(&pool, notion.client()?, &name, base, &account.email)
        .await?;
    leptos_axum::redirect(&format!("/m/{name}"));
    Ok(())
}

/// Queues the plan's publication to Notion, as a child page of the spec's
/// page (or of `parent`, a page URL or id, when given); redirects back to
/// the Notion section.
#[server]
pub async fn publish_plan(name: String, parent: Option<String>) -> Result<i64, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    if crate::server::context::notion().is_local() {
        return Err(crate::notion::NotionError::NotConnected.into());
    }
    let parent = match parent.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Some(
            crate::domain::notion_id::NotionId::parse(p)
                .map_err(|e| AppError::invalid("parent", e.to_string()))?,
        ),
        None => None,
    };
    let item = crate::notion::publish::queue(&pool, &name, parent, &account.email).await?;
    leptos_axum::redirect(&format!("/m/{name}/notion"));
    Ok(item)
}

/// The Notion side of migration `name`: links, spec history, outbox.
#[server]
pub async fn get_mirror(name: String) -> Result<MirrorView, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    use crate::model::mirror::{OutboxItemView, SpecVersionView};
    let pool = crate::server::context::pool()?;
    let local = crate::server::context::notion().is_local();
    let url = |id: &str| {
        crate::domain::notion_id::NotionId::parse(id)
            .map(|id| id.notion_url())
            .ok()
    };
    let spec = crate::store::specs::source(&pool, &name).await?;
    let plan = crate::store::migrations::plan(&pool, &name).await?;
    let versions = crate::store::specs::history(&pool, &name).await?;
    let outbox = crate::store::outbox::list(&pool, &name).await?;
    Ok(MirrorView {
        local,
        spec_page_url: spec.notion_page_id.as_deref().and_then(url),
        plan_page_url: plan.notion_page_id.as_deref().and_then(url),
        spec_versions: versions
            .into_iter()
            .map(|v| SpecVersionView {
                id: v.id,
                title: v.title,
                blocks: v.blocks.0.len(),
                fetched_at: v.fetched_at,
                replaced_at: v.replaced_at,
                replaced_by: v.replaced_by,
            })
            .collect(),
        outbox: outbox
            .into_iter()
            .map(|o| OutboxItemView {
                id: o.id,
                what: match o.kind.as_str() {
                    "publish_plan" => "Publish the plan".into(),
                    other => other.replace('_', " "),
                },
                state: o.state,
                attempts: o.attempts,
                last_error: o.last_error,
                next_attempt_at: o.next_attempt_at,
                result_url: o.result_page_id.as_deref().and_then(url),
                created_by: o.created_by,
            })
            .collect(),
    })
}

/// Sends a failed outbox item again now.
#[server]
pub async fn retry_outbox_item(name: String, item: i64) -> Result<(), AppError> {
    crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    crate::store::outbox::retry(&pool, &name, item).await?;
    leptos_axum::redirect(&format!("/m/{name}/notion"));
    Ok(())
}

/// Gives up on an outbox item: it is never sent.
#[server]
pub async fn discard_outbox_item(name: String, item: i64) -> Result<(), AppError> {
    crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    crate::store::outbox::discard(&pool, &name, item).await?;
    leptos_axum::redirect(&format!("/m/{name}/notion"));
    Ok(())
}
