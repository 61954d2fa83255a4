//! Small pieces used by several pages.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_params_map;

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::model::{AppError, PhaseState};

/// The `:name` of the migration in the current URL.
pub fn use_migration_name() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("name").unwrap_or_default())
}

/// Tells the island's `ServerAction`s about a refusal the server redirected
/// back with (a form posted without JavaScript: `__err` and `__path` in the
/// URL). On the server the router does this for the whole page; an island
/// hydrates without the router, so it reads the URL itself and hydrates as
/// it was rendered. Call it before creating the island's actions.
pub fn provide_action_error() {
    #[cfg(feature = "hydrate")]
    {
        let search = window().location().search().unwrap_or_default();
        if let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) {
            if let (Some(err), Some(path)) = (params.get("__err"), params.get("__path")) {
                provide_context(leptos::server::ServerActionError::new(&path, &err));
            }
        }
    }
}

/// An island's starting data as one JSON string (`tasks::Board`,
/// `plan::PlanIsland`). Rendered on the server, so a failure is logged
/// there and shown by reference.
pub fn island_data<T: serde::Serialize>(data: &T) -> Result<String, AppError> {
    serde_json::to_string(data).map_err(|e| {
        #[cfg(feature = "ssr")]
        {
            crate::server::error::internal(&e)
        }
        #[cfg(not(feature = "ssr"))]
        {
            AppError::Transport(e.to_string())
        }
    })
}

/// The action's version as of its last successful call.
pub fn saved_version<S>(action: ServerAction<S>) -> Memo<usize>
where
    S: ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    Memo::new(move |before: Option<&usize>| {
        let version = action.version().get();
        let saved = action.value().with(|v| matches!(v, Some(Ok(_))));
        match before {
            Some(before) if !saved => *before,
            _ => version,
        }
    })
}

/// The action's refusal, if its last call (made since `since`, its version
/// when the form appeared) failed. Version 0 with a value is a refusal the
/// server redirected back with (a form posted without JavaScript).
pub fn refusal<S>(action: ServerAction<S>, since: usize) -> Option<S::Error>
where
    S: ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Clone + Send + Sync + 'static,
{
    let version = action.version().get();
    if version == since && version != 0 {
        return None;
    }
    action.value().with(|v| match v {
        Some(Err(e)) => Some(e.clone()),
        _ => None,
    })
}

/// `2026-11-24 13:05` (or `2026-11-24 13:05:09` with `seconds`) `UTC`.
/// Islands format times with this rather than chrono's format strings,
/// whose parser and formatter would otherwise ship in the browser bundle.
pub fn date_time(at: &DateTime<Utc>, seconds: bool) -> String {
    let time = if seconds {
        time_of_day(at)
    } else {
        format!("{:02}:{:02}", at.hour(), at.minute())
    };
    format!(
        "{:04}-{:02}-{:02} {time} UTC",
        at.year(),
        at.month(),
        at.day()
    )
}

/// `13:05:09` (UTC).
pub fn time_of_day(at: &DateTime<Utc>) -> String {
    format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
}

/// An error as a user should see it.
#[component]
pub fn ErrorNote(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server::context::set_no_store();
    view! {
        <div class="error-note" role="alert">
            <strong>"Could not load this: "</strong>
            {error.to_string()}
        </div>
    }
}

#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! { <p class="loading" aria-busy="true">"Loading " {what} "…"</p> }
}

#[component]
pub fn PhaseBadge(state: PhaseState) -> impl IntoView {
    view! {
        <span class=format!("badge phase-{}", state.as_str()) data-state=state.as_str()>
            {state.label()}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_chrono_would_format_them() {
        let at = DateTime::parse_from_rfc3339("2026-01-04T09:05:07.5Z")
            .expect("a time")
            .with_timezone(&Utc);
        assert_eq!(
            date_time(&at, true),
            at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        );
        assert_eq!(
            date_time(&at, false),
            at.format("%Y-%m-%d %H:%M UTC").to_string()
        );
        assert_eq!(time_of_day(&at), at.format("%H:%M:%S").to_string());
    }

    /// A page that shows an error must not be kept by any cache: the error
    /// may pass (an outage), and `server::page_cache` would serve it again.
    #[cfg(feature = "ssr")]
    #[test]
    fn an_error_note_marks_its_response_no_store() {
        let owner = Owner::new();
        let response = leptos_axum::ResponseOptions::default();
        let html = owner.with(|| {
            provide_context(response.clone());
            view! { <ErrorNote error=AppError::not_found("the plan")/> }.to_html()
        });
        assert!(html.contains("the plan"), "{html}");
        let parts = response.0.read().expect("not poisoned");
        assert_eq!(
            parts
                .headers
                .get(http::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
    }
}
