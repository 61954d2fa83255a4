//! Postgres access for Switchyard's own schema, one module per resource:
//! migrations, plans, tasks, the demo seed, the event log, the engine's
//! journal (phase states and events, `journal::PgJournal`) and what the
//! console reads. Nothing above the store writes SQL of ours; the engine
//! keeps only the SQL it runs against the database being migrated (its
//! generated objects, and the bookkeeping they share: checkpoint,
//! quarantine, queues, read flag, runner lock).

pub mod accounts;
pub mod approvals;
pub mod console;
pub mod demo;
pub mod drafts;
pub mod events;
pub mod journal;
pub mod metrics;
pub mod migrations;
pub mod outbox;
pub mod plan_sync;
pub mod plans;
pub mod progress;
pub mod recipes;
pub mod rehearsals;
pub mod seed;
pub mod shares;
pub mod specs;
pub mod task_sync;
pub mod tasks;
pub mod versions;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Someone else changed it first (stale revision).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("schema migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored document no longer parses (e.g. a hand-edited spec).
    #[error("stored {what} is corrupt: {detail}")]
    Corrupt { what: String, detail: String },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A pooled connection used this recently is handed out without a ping.
const RECENTLY_USED: Duration = Duration::from_secs(1);

/// Opens a pool; fails fast with a clear error when the server is unreachable.
#[tracing::instrument(skip(database_url))]
pub async fn connect(database_url: &str, max_connections: u32) -> StoreResult<PgPool> {
    let options = PgConnectOptions::from_str(database_url)?.application_name("switchyard");
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx pings every connection it hands out by default: a round trip
        // more for each query of a page (a page makes three or four). A
        // connection used in the last second is known to work; one idle for
        // longer (say, across a restart of Postgres) is still pinged first,
        // and replaced if the ping fails.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < RECENTLY_USED {
                    return Ok(true);
                }
                Ok(sqlx::Connection::ping(conn).await.is_ok())
            })
        })
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Applies our schema (`migrations/`), idempotently.
#[tracing::instrument(skip(pool))]
pub async fn migrate(pool: &PgPool) -> StoreResult<()> {
    sqlx::migrate!("./migrations").run(pool).await?;
    Ok(())
}
