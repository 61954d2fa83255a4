//! Switchyard: run a zero-downtime Postgres migration end to end.
//!
//! Layers, with dependencies pointing one way:
//! `ui` (components) → `api` (server functions, thin) → services (`console`,
//! and the pure rules in `domain`) → `store` (our schema) → Postgres.
//! `engine` is a leaf library that everything may use and that uses nothing
//! of ours; its vocabulary (`engine::vocab`: phases, states, the read flag,
//! events) is the one set of words every layer speaks, on the server and in
//! the browser. `model` holds the view types shared by server and browser.

// Leptos views are deeply nested types; the wasm build needs more room.
#![recursion_limit = "256"]

#[cfg(feature = "ssr")]
pub mod accounts;
pub mod api;
pub mod app;
#[cfg(feature = "ssr")]
pub mod approvals;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod console;
pub mod domain;
// A leaf: depends on nothing else of ours. Its vocabulary (`engine::vocab`)
// compiles for the browser too; the rest is server-only.
pub mod engine;
pub mod model;
#[cfg(feature = "ssr")]
pub mod notion;
#[cfg(feature = "ssr")]
pub mod recipes;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod wizard;

/// Browser entry point. The pages are islands (Leptos `islands`): the
/// loader script hydrates each `#[island]` on the page after this has set
/// up the reactive runtime; the rest of the page is plain server HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
