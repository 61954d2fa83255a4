//! The integration tests: one binary (one link on a 2-core machine), one
//! module per part of the product, each against a real Postgres
//! (`DATABASE_URL`; every `#[sqlx::test]` gets a fresh database of its own).
//! Run one part with a filter: `cargo test --features ssr --test it store::`.
#![cfg(feature = "ssr")]

/// The built-in demo migration's name (what `seed_demo` creates).
pub const DEMO: &str = "user-preferences";

mod accounts;
mod approvals;
mod audit;
mod cli;
mod console;
mod discover;
mod engine;
mod golden;
mod http;
mod mirror;
mod notion;
mod page_cache;
mod plan_sync;
mod plans;
mod proof;
mod recipes;
mod rehearsal;
mod share_links;
mod shares;
mod store;
mod task_sync;
mod tasks;
mod wizard;

/// The journal the app gives every engine: our schema, through the store.
pub fn journal(pool: &sqlx::PgPool) -> std::sync::Arc<dyn switchyard::engine::Journal> {
    std::sync::Arc::new(switchyard::store::journal::PgJournal::new(pool.clone()))
}

/// An engine on `pool` as the app builds one (journal included), acting as
/// `actor`, waiting for locks as `lock_timeout_ms` × `attempts` say
/// (backoff from a tenth of the timeout up to the timeout).
pub fn engine_with(
    pool: &sqlx::PgPool,
    recipe: switchyard::engine::Recipe,
    actor: &str,
    lock_timeout_ms: u64,
    attempts: u32,
    soak_hours: Option<f64>,
) -> switchyard::engine::Engine {
    use std::time::Duration;
    let lock = switchyard::engine::LockPolicy {
        lock_timeout: Duration::from_millis(lock_timeout_ms),
        max_attempts: attempts,
        base_backoff: Duration::from_millis((lock_timeout_ms / 10).max(1)),
        max_backoff: Duration::from_millis(lock_timeout_ms),
        ..Default::default()
    };
    let opts = switchyard::engine::EngineOptions {
        actor: actor.to_string(),
        lock,
        soak_hours,
        ..Default::default()
    };
    switchyard::engine::Engine::new(pool.clone(), recipe, opts, journal(pool))
}

/// The demo seeded as the app seeds it on start-up, with `users` users.
pub async fn seeded(pool: &sqlx::PgPool, users: u64) {
    switchyard::store::seed::seed_demo(pool, users)
        .await
        .expect("seed the demo");
}
