//! The "Not found" page: shown for an unknown route and for a migration that
//! does not exist; on the server it answers with status 404.

use leptos::prelude::*;
use leptos_meta::Title;

/// The 404 page; on the server it also sets the response status.
#[component]
pub fn NotFound(#[prop(into)] what: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server::context::set_not_found();
    view! {
        <Title text="Not found — Switchyard"/>
        <section class="not-found">
            <h1>"Not found"</h1>
            <p>"There is no " {what} " here."</p>
            <p><a href="/">"See all migrations"</a></p>
        </section>
    }
}
