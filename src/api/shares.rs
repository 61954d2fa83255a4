//! What a share link opens. The token is the only credential: no session
//! is involved, and nothing here changes anything.

use leptos::prelude::*;

use crate::model::share::SharedView;
use crate::model::AppError;

/// The migration `token` opens, read-only. A revoked or expired link is
/// refused (410) with a message saying which; an unknown one is a 404.
/// Pages call it while rendering `/s/{token}`; over HTTP it is not public
/// (the guard lets only `/s/…` pages through without an account).
#[server]
pub async fn get_shared(token: String) -> Result<SharedView, AppError> {
    use crate::store::shares::{resolve, Resolved};
    let pool = crate::server::context::pool()?;
    let gone = |message: String| {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::GONE);
        }
        Err(AppError::Forbidden { message })
    };
    let name = match resolve(&pool, &token).await? {
        Resolved::Open(name) => name,
        Resolved::Revoked => return gone("This share link was revoked.".into()),
        Resolved::Expired(at) => {
            return gone(format!(
                "This share link expired on {}.",
                at.format("%Y-%m-%d %H:%M UTC")
            ))
        }
        Resolved::Unknown => {
            crate::server::context::set_not_found();
            return Err(AppError::not_found("share link"));
        }
    };
    let store = crate::store::migrations::find_summary(&pool, &name);
    let summary = store.await?;
    let spec = crate::store::migrations::spec(&pool, &name).await?;
    let plan = crate::store::migrations::plan(&pool, &name).await?;
    let tasks = crate::store::migrations::tasks(&pool, &name).await?;
    let backfill_percent = crate::store::console::backfill_percent(&pool, &name).await?;
    Ok(SharedView {
        summary,
        spec,
        plan_title: plan.title,
        plan_html: crate::ui::plan::body_html(&plan.body_markdown),
        phases: plan.phases,
        tasks,
        backfill_percent,
    })
}

#[cfg(feature = "ssr")]
fn link_view(l: crate::store::shares::ShareLink) -> crate::model::share::ShareLinkView {
    use crate::model::share::{ShareLinkState, ShareLinkView};
    let state = if l.revoked_at.is_some() {
        ShareLinkState::Revoked
    } else if l.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
        ShareLinkState::Expired
    } else {
        ShareLinkState::Active
    };
    ShareLinkView {
        id: l.id,
        label: l.label,
        state,
        created_by: l.created_by,
        created_at: l.created_at,
        expires_at: l.expires_at,
        last_used_at: l.last_used_at,
    }
}

/// Where a created link's token waits (in the session) for the page a form
/// posted without JavaScript comes back to.
#[cfg(feature = "ssr")]
fn created_key(name: &str) -> String {
    format!("share-created:{name}")
}

/// Migration `name`'s links (`created`: none).
#[cfg(feature = "ssr")]
async fn links_of(
    pool: &sqlx::PgPool,
    name: &str,
    created: Option<crate::model::share::CreatedShareLink>,
) -> Result<crate::model::share::ShareLinks, AppError> {
    let links = crate::store::shares::list(pool, name).await?;
    Ok(crate::model::share::ShareLinks {
        links: links.into_iter().map(link_view).collect(),
        created,
    })
}

/// Migration `name`'s share links with their last use, newest first; and
/// the link this account just created with a form posted without
/// JavaScript, shown this once. Operators and admins.
#[server]
pub async fn get_share_links(name: String) -> Result<crate::model::share::ShareLinks, AppError> {
    use crate::model::account::Role;
    crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let created = crate::server::auth::take_once(&created_key(&name)).await;
    links_of(&pool, &name, created).await
}

/// Creates a link to migration `name` with a label and an optional expiry
/// (`expires_hours`: empty for none); the answer carries its token, the
/// only time it is shown. Operators and admins; recorded in the event log.
#[server]
pub async fn create_share_link(
    name: String,
    label: String,
    expires_hours: String,
) -> Result<crate::model::share::ShareLinks, AppError> {
    use crate::model::account::Role;
    use crate::model::share::CreatedShareLink;
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let expires_at = match expires_hours.trim() {
        "" => None,
        hours => match hours.parse::<f64>() {
            Ok(h) if h.is_finite() && h > 0.0 && h <= 24.0 * 366.0 => {
                Some(chrono::Utc::now() + chrono::Duration::seconds((h * 3600.0) as i64))
            }
            _ => {
                return Err(AppError::invalid(
                    "expires_hours",
                    "hours from now: more than 0, at most 8784 (or empty: never)",
                ))
            }
        },
    };
    let (link, token) =
        crate::store::shares::create(&pool, &name, &label, expires_at, &account.email).await?;
    let created = CreatedShareLink {
        id: link.id,
        path: format!("/s/{token}"),
    };
    if crate::server::auth::posted_without_javascript() {
        // The browser is sent back to the page, which shows it once.
        crate::server::auth::keep_once(&created_key(&name), &created).await?;
        return links_of(&pool, &name, None).await;
    }
    links_of(&pool, &name, Some(created)).await
}

/// Revokes link `id` of migration `name`: it stops working at once, open
/// live pages included. Operators and admins; recorded in the event log.
#[server]
pub async fn revoke_share_link(
    name: String,
    id: i64,
) -> Result<crate::model::share::ShareLinks, AppError> {
    use crate::model::account::Role;
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    crate::store::shares::revoke_in(&pool, &name, id, &account.email).await?;
    links_of(&pool, &name, None).await
}
