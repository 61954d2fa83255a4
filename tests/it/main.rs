//! The integration tests: one binary (one link on a 2-core machine), one
//! module per part of the product, each against a real Postgres
//! (`DATABASE_URL`; every `#[sqlx::test]` gets a fresh database of its own).
//! Run one part with a filter: `cargo test --features ssr --test it store::`.
#![cfg(feature = "ssr")]

/// The built-in demo migration's name (what `seed_demo` creates).
pub const DEMO: &str = "user-preferences";

mod cli;
mod console;
mod engine;
mod golden;
mod http;
mod plans;
mod proof;
mod store;
mod tasks;

/// The journal the app gives every engine: our schema, through the store.
pub fn journal(pool: &sqlx::PgPool) -> std::sync::Arc<dyn switchyard::engine::Journal> {
    std::sync::Arc::new(switchyard::store::journal::PgJournal::new(pool.clone()))
}
