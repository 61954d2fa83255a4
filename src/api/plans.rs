//! The plan editor: save with a revision (conflicts refused), history, any
//! version, a readable diff between two, restore.
//!
//! `save_plan` and `restore_plan` take the default URL-encoded input, so the
//! editor and the history post to them as plain HTML forms
//! (`form[phases][0][owner]=…`) and work without JavaScript: the server then
//! redirects back to the page the form was on, with a refusal encoded in the
//! URL for the page to show.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::account::Role;

use crate::model::plan::{DiffLine, PlanConflictView, PlanForm, PlanVersion};
use crate::model::AppError;

/// Saves the posted plan on top of `base_revision`; returns the new
/// revision, or a conflict when someone else saved first (nothing is
/// overwritten). Refusals name the field (`body`, `phases[i].owner`…).
#[server]
pub async fn save_plan(name: String, base_revision: i32, form: PlanForm) -> Result<i32, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let edit = form.parse()?;
    Ok(crate::store::plans::save(&pool, &name, base_revision, edit, &account.email).await?)
}

/// `markdown` rendered as the plan shows it (the spec's renderer): the
/// editor's live preview, and the plan after a save. The browser bundle
/// carries no Markdown parser; the length is the one a save accepts.
#[server]
pub async fn render_plan(markdown: String) -> Result<String, AppError> {
    crate::server::auth::require(Role::Operator)?;
    use crate::model::plan::MAX_BODY_CHARS;
    if markdown.chars().count() > MAX_BODY_CHARS {
        return Err(AppError::invalid(
            "body",
            format!("at most {MAX_BODY_CHARS} characters"),
        ));
    }
    Ok(crate::ui::plan::body_html(&markdown))
}

/// Every version, newest first.
#[server]
pub async fn get_plan_history(name: String) -> Result<Vec<PlanVersion>, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::plans::history(&pool, &name).await?)
}

#[server]
pub async fn get_plan_version(name: String, revision: i32) -> Result<PlanVersion, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::plans::version(&pool, &name, revision).await?)
}

/// Line diff of version `from` to version `to`.
#[server]
pub async fn get_plan_diff(name: String, from: i32, to: i32) -> Result<Vec<DiffLine>, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    use crate::model::plan::DiffKind;
    let pool = crate::server::context::pool()?;
    let a = crate::store::plans::version(&pool, &name, from)
        .await?
        .plan
        .as_text();
    let b = crate::store::plans::version(&pool, &name, to)
        .await?
        .plan
        .as_text();
    Ok(similar::TextDiff::from_lines(&a, &b)
        .iter_all_changes()
        .map(|c| DiffLine {
            kind: match c.tag() {
                similar::ChangeTag::Equal => DiffKind::Same,
                similar::ChangeTag::Insert => DiffKind::Added,
                similar::ChangeTag::Delete => DiffKind::Removed,
            },
            text: c.value().trim_end_matches('\n').to_string(),
        })
        .collect())
}

/// Restores version `revision` as a new revision on top of `base_revision`.
#[server]
pub async fn restore_plan(
    name: String,
    revision: i32,
    base_revision: i32,
) -> Result<i32, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::plans::restore(&pool, &name, revision, base_revision, &account.email).await?)
}

/// The plan's open conflict with its Notion page (changed on both sides
/// since the last sync), if any.
#[server]
pub async fn get_plan_conflict(name: String) -> Result<Option<PlanConflictView>, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::plan_sync::open_conflict(&pool, &name)
        .await?
        .map(|c| PlanConflictView {
            id: c.id,
            switchyard: c.board_plan.0,
            switchyard_revision: c.board_revision,
            switchyard_by: c.board_by,
            switchyard_at: c.board_at,
            notion: c.notion_plan.0,
            notion_by: c.notion_by,
            notion_at: c.notion_at,
        }))
}

/// Resolves the plan's conflict: `keep` is `switchyard` (written to Notion
/// next), `notion` (saved as a new revision next) or `merged` (`body`, the
/// merged text, saved on top of `base_revision` with the phases as they are
/// in Switchyard, then written to Notion). A plain form; redirects back to
/// the plan.
#[server]
pub async fn resolve_plan_conflict(
    name: String,
    conflict: i64,
    keep: String,
    #[server(default)] base_revision: Option<i32>,
    #[server(default)] body: Option<String>,
) -> Result<(), AppError> {
    use crate::store::plan_sync::Resolution;
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let resolution = match keep.as_str() {
        "switchyard" => Resolution::Switchyard,
        "notion" => Resolution::Notion,
        "merged" => {
            let (Some(base_revision), Some(body)) = (base_revision, body) else {
                return Err(AppError::invalid(
                    "body",
                    "a merge needs the merged text and the revision it was typed on",
                ));
            };
            let plan = crate::store::migrations::plan(&pool, &name).await?;
            let mut edit = crate::store::plan_sync::edit_of(&plan);
            edit.body_markdown = body.replace("\r\n", "\n");
            Resolution::Merged {
                base_revision,
                edit,
            }
        }
        other => {
            return Err(AppError::invalid(
                "keep",
                format!("{other:?}: keep \"switchyard\", \"notion\" or \"merged\""),
            ))
        }
    };
    crate::store::plan_sync::resolve(&pool, &name, conflict, resolution, &account.email).await?;
    leptos_axum::redirect(&format!("/m/{name}/plan"));
    Ok(())
}
