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
