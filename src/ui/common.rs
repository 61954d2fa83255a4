//! Small pieces used by several pages.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::model::{AppError, PhaseState};

/// The `:name` of the migration in the current URL.
pub fn use_migration_name() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("name").unwrap_or_default())
}

/// An error as a user should see it.
#[component]
pub fn ErrorNote(error: AppError) -> impl IntoView {
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
