//! Switchyard: run a zero-downtime Postgres migration end to end.
//!
//! Layers, with dependencies pointing one way:
//! `ui` (components) → `api` (server functions, thin) → domain services
//! (`domain`, and server-only `store`) → Postgres. `model` holds the types
//! shared by the server and the browser.

// Leptos views are deeply nested types; the wasm build needs more room.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod console;
pub mod domain;
#[cfg(feature = "ssr")]
pub mod engine;
pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod store;

/// Browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
