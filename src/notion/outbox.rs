//! The outbox worker: drains `switchyard.notion_outbox` one item at a time
//! (any number of app instances may run one: an item is leased to one
//! worker, see `store::outbox::claim`), retries with backoff what may
//! succeed later, and records what each item created in the transaction
//! that marks it done.
//!
//! Exactly once: the attempt is counted (committed) before anything is
//! sent, so an attempt after a crash, a lost answer or a timeout knows an
//! earlier one may have created the page, and looks for it (by the marker
//! in its first block) before creating anything.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;

use super::publish::{self, PublishPlan};
use super::{NotionClient, NotionError};
use crate::store::outbox::{self as stored, OutboxItem, OutboxKind};
use crate::store::StoreError;

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// How long a claimed item is held: longer than any one delivery can
    /// take (the client's retries included), or another worker may start
    /// on it while this one still sends.
    pub lease: Duration,
    /// Attempts before an item is left for an operator (`failed`).
    pub max_attempts: i32,
    /// Wait between looks at an empty outbox.
    pub poll: Duration,
    /// First wait after a failed attempt (doubled each time, at most
    /// `max_retry_delay`).
    pub retry_delay: Duration,
    pub max_retry_delay: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(600),
            max_attempts: 8,
            poll: Duration::from_secs(2),
            retry_delay: Duration::from_secs(5),
            max_retry_delay: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one turn of the worker did.
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    /// Nothing was due.
    Idle,
    /// The item was delivered (and recorded).
    Delivered { item: i64, page: String },
    /// The attempt failed; it will be tried again (or waits for an operator).
    Failed {
        item: i64,
        error: String,
        gave_up: bool,
    },
    /// Another worker took the item over meanwhile; nothing recorded.
    LostLease { item: i64 },
}

#[derive(Clone)]
pub struct OutboxWorker {
    pool: PgPool,
    client: NotionClient,
    settings: WorkerSettings,
}

impl OutboxWorker {
    pub fn new(pool: PgPool, client: NotionClient, settings: WorkerSettings) -> Self {
        Self {
            pool,
            client,
            settings,
        }
    }

    /// Claims the next due item and delivers it.
    pub async fn turn(&self) -> Result<Turn, WorkerError> {
        let Some(item) = stored::claim(&self.pool, self.settings.lease).await? else {
            return Ok(Turn::Idle);
        };
        let outcome = self.deliver(&item).await;
        match outcome {
            Ok(page) => {
                if stored::complete_plan_publication(&self.pool, &item, page.as_str()).await? {
                    tracing::info!(item = item.id, %page, "outbox: delivered");
                    Ok(Turn::Delivered {
                        item: item.id,
                        page: page.to_string(),
                    })
                } else {
                    Ok(Turn::LostLease { item: item.id })
                }
            }
            Err(error) => {
                let message = error.to_string();
                let gave_up = !error.is_transient() || item.attempts >= self.settings.max_attempts;
                let retry_at = (!gave_up).then(|| Utc::now() + self.delay(item.attempts));
                tracing::warn!(item = item.id, attempts = item.attempts, gave_up, error = %message, "outbox: attempt failed");
                if stored::record_failure(&self.pool, &item, &message, retry_at).await? {
                    Ok(Turn::Failed {
                        item: item.id,
                        error: message,
                        gave_up,
                    })
                } else {
                    Ok(Turn::LostLease { item: item.id })
                }
            }
        }
    }

    fn delay(&self, attempts: i32) -> chrono::Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).clamp(0, 16) as u32);
        let delay = self
            .settings
            .retry_delay
            .saturating_mul(factor)
            .min(self.settings.max_retry_delay);
        chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(60))
    }

    async fn deliver(
        &self,
        item: &OutboxItem,
    ) -> Result<crate::domain::notion_id::NotionId, NotionError> {
        match OutboxKind::parse(&item.kind) {
            Some(OutboxKind::PublishPlan) => {
                let payload: PublishPlan =
                    serde_json::from_value(item.payload.0.clone()).map_err(|e| {
                        NotionError::Decode {
                            what: format!("outbox item {}", item.id),
                            detail: e.to_string(),
                        }
                    })?;
                // attempts counts this one: more than one means an earlier
                // attempt may have created the page.
                publish::deliver(&self.client, &payload, item.attempts > 1).await
            }
            None => Err(NotionError::Decode {
                what: format!("outbox item {}", item.id),
                detail: format!("unknown kind {:?}", item.kind),
            }),
        }
    }

    /// Drains until nothing is due (for tests and the CLI).
    pub async fn drain(&self) -> Result<Vec<Turn>, WorkerError> {
        let mut turns = Vec::new();
        loop {
            match self.turn().await? {
                Turn::Idle => return Ok(turns),
                turn => turns.push(turn),
            }
        }
    }

    /// Runs in the background for the life of the app.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.turn().await {
                    Ok(Turn::Idle) => tokio::time::sleep(self.settings.poll).await,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "outbox: cannot read the outbox");
                        tokio::time::sleep(self.settings.poll).await;
                    }
                }
            }
        })
    }
}
