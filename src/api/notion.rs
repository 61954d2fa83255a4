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
use crate::model::mirror::{DataSourceHit, MirrorView, NotionPageHit, RefreshPreview};
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
        fingerprint: preview.fingerprint,
    })
}

/// Replaces the spec with Notion's page, if the stored spec is still the
/// one the preview (`base`) was against and the page is still the one it
/// showed (`previewed`); redirects to the spec.
#[server]
pub async fn apply_spec_refresh(
    name: String,
    base: i64,
    previewed: String,
) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let base = chrono::DateTime::from_timestamp_micros(base)
        .ok_or_else(|| AppError::invalid("base", "not a time"))?;
    let pool = crate::server::context::pool()?;
    let notion = crate::server::context::notion();
    crate::notion::specs::apply_refresh(
        &pool,
        notion.client()?,
        &name,
        base,
        &previewed,
        &account.email,
    )
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
    let tasks = task_link_view(&pool, &name).await?;
    let tasks_done_with_phase = crate::store::progress::tasks_done_with_phase(&pool, &name).await?;
    Ok(MirrorView {
        tasks,
        tasks_done_with_phase,
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
                what: match (o.kind.as_str(), o.task_id) {
                    ("publish_plan", _) => "Publish the plan".into(),
                    ("create_task_page", Some(t)) => format!("Create task {t}'s page"),
                    ("sync_task", Some(t)) => format!("Sync task {t}"),
                    ("trash_task_page", Some(t)) => format!("Trash task {t}'s page"),
                    (other, _) => other.replace('_', " "),
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
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    crate::store::outbox::retry(&pool, &name, item, &account.email).await?;
    leptos_axum::redirect(&format!("/m/{name}/notion"));
    Ok(())
}

/// Gives up on an outbox item: it is never sent.
#[server]
pub async fn discard_outbox_item(name: String, item: i64) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    crate::store::outbox::discard(&pool, &name, item, &account.email).await?;
    leptos_axum::redirect(&format!("/m/{name}/notion"));
    Ok(())
}

/// The task database's side of the Notion section.
#[cfg(feature = "ssr")]
async fn task_link_view(
    pool: &sqlx::PgPool,
    name: &str,
) -> Result<Option<crate::model::mirror::TaskLinkView>, AppError> {
    use crate::model::mirror::{ConflictView, TaskLinkView};
    use crate::notion::tasks::describe;
    let Some(link) = crate::store::task_sync::link(pool, name).await? else {
        return Ok(None);
    };
    let tasks = crate::store::migrations::tasks(pool, name).await?;
    let conflicts = crate::store::task_sync::open_conflicts(pool, name).await?;
    let mapping = link.mapping.0;
    Ok(Some(TaskLinkView {
        data_source_id: link.data_source_id,
        data_source_name: link.data_source_name,
        properties: link.properties.0,
        missing: mapping.missing(),
        mapping,
        confirmed_by: link.confirmed_by,
        pages_queued: link.pages_queued_at.is_some(),
        tasks: tasks.len() as i64,
        tasks_with_pages: tasks.iter().filter(|t| t.notion_page_id.is_some()).count() as i64,
        polled_at: link
            .polled_at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
        conflicts: conflicts
            .into_iter()
            .map(|c| ConflictView {
                merge_from: crate::store::task_sync::MERGEABLE
                    .iter()
                    .any(|(f, _)| f.as_str() == c.field)
                    .then(|| c.board_value.0.as_str().unwrap_or_default().to_string()),
                id: c.id,
                task_id: c.task_id,
                task_title: c.task_title,
                board_value: describe(&c.field, &c.board_value.0),
                notion_value: c
                    .notion_shown
                    .unwrap_or_else(|| describe(&c.field, &c.notion_value.0)),
                field: c.field,
                board_by: c.board_by,
                board_at: c.board_at,
                notion_by: c.notion_by,
                notion_at: c.notion_at,
            })
            .collect(),
    }))
}

/// Notion data sources (task databases) whose name contains `query`.
#[server]
pub async fn search_task_databases(query: String) -> Result<Vec<DataSourceHit>, AppError> {
    crate::server::auth::require(Role::Operator)?;
    let notion = crate::server::context::notion();
    Ok(crate::notion::task_sync::search_data_sources(notion.client()?, &query).await?)
}

/// Connects migration `name`'s tasks to a Notion database or data source
/// (`target`: its URL or id) and proposes a mapping; redirects back to the
/// Notion section, where the operator confirms or changes it.
#[server]
pub async fn connect_task_database(name: String, target: String) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let notion = crate::server::context::notion();
    crate::notion::task_sync::connect(&pool, notion.client()?, &name, &target, &account.email)
        .await?;
    leptos_axum::redirect(&format!("/m/{name}/notion"));
    Ok(())
}

/// The operator's mapping: `mapping[FIELD]` is the property for a field
/// (empty: not mirrored), `mapping[FIELD:VALUE]` the option our value
/// becomes (status, priority; `_` for a space in VALUE). Redirects back to
/// the Notion section.
#[server]
pub async fn confirm_task_mapping(
    name: String,
    mapping: std::collections::HashMap<String, String>,
) -> Result<(), AppError> {
    use crate::model::mirror::{TaskField, TaskMapping};
    use std::collections::BTreeMap;
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let link = crate::store::task_sync::link(&pool, &name)
        .await?
        .ok_or_else(|| AppError::invalid("mapping", "connect a task database first"))?;
    let source = crate::domain::notion_id::NotionId::parse(&link.data_source_id)
        .map_err(|e| AppError::invalid("mapping", e.to_string()))?;
    let mut chosen = TaskMapping::default();
    for field in TaskField::ALL {
        let property = mapping.get(field.as_str()).cloned().unwrap_or_default();
        let prefix = format!("{}:", field.as_str());
        // Our values come with `_` for spaces (`status:In_Progress`).
        let options: BTreeMap<String, String> = mapping
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(&prefix)
                    .map(|ours| (ours.replace('_', " "), v.clone()))
            })
            .collect();
        let one =
            crate::notion::tasks::choose(&source, &link.properties.0, field, &property, &options)
                .map_err(|message| AppError::invalid(field.as_str(), message))?;
        chosen.fields.extend(one);
    }
    crate::store::task_sync::confirm(&pool, &name, &chosen, &account.email).await?;
    leptos_axum::redirect(&format!("/m/{name}/notion"));
    Ok(())
}

/// "Create tasks in Notion": a page per task, through the outbox; from
/// then on board changes are mirrored. Returns how many pages were queued.
#[server]
pub async fn create_tasks_in_notion(name: String) -> Result<i64, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    if crate::server::context::notion().is_local() {
        return Err(crate::notion::NotionError::NotConnected.into());
    }
    let queued = crate::store::task_sync::queue_pages(&pool, &name, &account.email).await?;
    leptos_axum::redirect(&format!("/m/{name}/notion"));
    Ok(queued)
}

/// Resolves a conflict by keeping one side (`keep`: board or notion), or
/// a value typed from both (`keep` merged, with `value`: a title, an
/// assignee or a sprint); the next sync writes it to the other side.
#[server]
pub async fn resolve_task_conflict(
    name: String,
    conflict: i64,
    keep: String,
    #[server(default)] value: Option<String>,
) -> Result<(), AppError> {
    use crate::store::task_sync::Keep;
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let keep = match (keep.as_str(), value) {
        ("board", _) => Keep::Board,
        ("notion", _) => Keep::Notion,
        ("merged", Some(value)) => Keep::Merged(value),
        ("merged", None) => return Err(AppError::invalid("value", "type the value to keep")),
        (other, _) => {
            return Err(AppError::invalid(
                "keep",
                format!("{other:?}: keep \"board\", \"notion\" or \"merged\""),
            ))
        }
    };
    crate::store::task_sync::resolve(&pool, &name, conflict, keep, &account.email).await?;
    leptos_axum::redirect(&format!("/m/{name}/notion"));
    Ok(())
}

/// Turns moving a phase's tasks to Done when the phase finishes on (`on` =
/// "true") or off; recorded as an event. A plain form; redirects back to
/// the Notion section.
#[server]
pub async fn set_tasks_done_with_phase(name: String, on: String) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let on = match on.as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(AppError::invalid(
                "on",
                format!("{other:?}: expected \"true\" or \"false\""),
            ))
        }
    };
    crate::store::progress::set_tasks_done_with_phase(&pool, &name, on, &account.email).await?;
    leptos_axum::redirect(&format!("/m/{name}/notion"));
    Ok(())
}
