//! Running DDL without ever making the application wait: every statement runs
//! under a short `lock_timeout`; when it cannot get its lock in time it gives
//! up (so queries queued behind it proceed), waits with exponential backoff
//! and jitter, and tries again.

use rand::Rng;
use sqlx::PgPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::state::Fence;
use super::EngineError;

#[derive(Clone, Debug)]
pub struct LockPolicy {
    pub lock_timeout: Duration,
    pub max_attempts: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// How many times a statement or batch of engines sharing this policy
    /// gave way to the application (and was tried again): what a
    /// rehearsal reports as lock waits.
    pub gave_way: Arc<AtomicU64>,
}

impl Default for LockPolicy {
    fn default() -> Self {
        LockPolicy {
            lock_timeout: Duration::from_millis(500),
            max_attempts: 30,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            gave_way: Arc::default(),
        }
    }
}

impl LockPolicy {
    /// Counts one time a statement gave way to the application.
    pub(super) fn note_gave_way(&self) {
        self.gave_way.fetch_add(1, Ordering::Relaxed);
    }

    /// Times a statement gave way to the application so far.
    pub fn gave_way_count(&self) -> u64 {
        self.gave_way.load(Ordering::Relaxed)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_backoff);
        // Full jitter: several runners (or retries) never move in lockstep.
        let ms = rand::rng().random_range(0..=exp.as_millis().max(1) as u64);
        Duration::from_millis(ms)
    }
}

/// The statement gave way to the application, and trying again is right:
/// SQLSTATE 55P03 (lock_not_available, what lock_timeout raises), 40P01 (a
/// deadlock the server resolved by cancelling ours) or 40001 (a
/// serialization failure). DDL and batches alike.
pub(super) fn gave_way(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "55P03" || c == "40P01" || c == "40001")
}

/// Runs `attempt` until it succeeds, retrying with backoff whenever it gave
/// way to the application (after `cleanup`, if any). Returns the attempts
/// it took.
async fn with_retries<F, Fut>(
    pool: &PgPool,
    label: &str,
    cleanup: Option<&str>,
    policy: &LockPolicy,
    mut attempt_once: F,
) -> Result<u32, EngineError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match attempt_once().await {
            Ok(()) => return Ok(attempt),
            Err(e) if gave_way(&e) => {
                policy.note_gave_way();
                if let Some(c) = cleanup {
                    let _ = sqlx::query(c).execute(pool).await;
                }
                if attempt >= policy.max_attempts {
                    return Err(EngineError::LockTimeout {
                        statement: label.to_string(),
                        attempts: attempt,
                    });
                }
                let wait = policy.backoff(attempt);
                tracing::warn!(attempt, ?wait, error = %e, "gave way to the application; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(EngineError::from_step(label, e)),
        }
    }
}

/// Runs one generated statement. The extended protocol refuses several
/// statements in one text, so nothing generated can smuggle a second one.
pub async fn exec<'c, E>(conn: E, sql: &str) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query(sql)
        .persistent(false)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Runs `statements` in one transaction under `lock_timeout`, retrying the
/// whole transaction on lock timeouts; the transaction first proves this
/// runner is still current (`fence`). Returns the attempts it took.
#[tracing::instrument(skip(pool, statements, policy, fence), fields(label = %label))]
pub async fn run_in_transaction(
    pool: &PgPool,
    label: &str,
    statements: &[String],
    policy: &LockPolicy,
    fence: Option<&Fence>,
) -> Result<u32, EngineError> {
    let set_timeout = format!(
        "SET LOCAL lock_timeout = '{}ms'",
        policy.lock_timeout.as_millis()
    );
    with_retries(pool, label, None, policy, || async {
        let mut tx = pool.begin().await?;
        if let Some(f) = fence {
            f.assert(&mut tx).await?;
        }
        exec(&mut *tx, &set_timeout).await?;
        for sql in statements {
            exec(&mut *tx, sql).await?;
        }
        tx.commit().await
    })
    .await
}

/// Runs one statement that cannot run in a transaction (`CREATE INDEX
/// CONCURRENTLY`) under `lock_timeout`; `cleanup` (e.g. dropping the invalid
/// index a failed attempt leaves behind) runs before each retry.
#[tracing::instrument(skip(pool, sql, cleanup, policy), fields(label = %label))]
pub async fn run_outside_transaction(
    pool: &PgPool,
    label: &str,
    sql: &str,
    cleanup: Option<&str>,
    policy: &LockPolicy,
) -> Result<u32, EngineError> {
    let set_timeout = format!("SET lock_timeout = '{}ms'", policy.lock_timeout.as_millis());
    with_retries(pool, label, cleanup, policy, || async {
        let mut conn = pool.acquire().await?;
        exec(&mut *conn, &set_timeout).await?;
        let result = exec(&mut *conn, sql).await;
        // Pooled connections must not keep our setting.
        let _ = exec(&mut *conn, "RESET lock_timeout").await;
        result
    })
    .await
}
