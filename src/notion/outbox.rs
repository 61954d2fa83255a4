//! The outbox worker: drains `switchyard.notion_outbox` one item at a time
//! (every app instance runs one; one sends at a time, holding
//! `store::outbox::sender_lock`, and an item is leased to the worker that
//! claimed it, renewed while it sends), retries with backoff what may
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

use super::error::MirrorError;
use super::publish::{self, PublishPlan};
use super::task_sync;
use super::{NotionClient, NotionError};
use crate::store::outbox::{self as stored, OutboxItem, OutboxKind};
use crate::store::task_sync::{CreateTaskPage, TrashTaskPage};
use crate::store::StoreError;

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// How long a claimed item is held without word from its worker. The
    /// worker renews it every third of this while it delivers (a delivery
    /// has no time limit: `Retry-After` alone may ask for an hour), and
    /// stops sending the moment a renewal finds the item taken over.
    pub lease: Duration,
    /// Attempts before an item is left for an operator (`failed`), not
    /// counting those a new change brought forward (`hurried`).
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
    /// The item was delivered (and recorded); `page`: the page it created
    /// (empty for an item that creates none).
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

/// What a delivery did, for the transaction that marks it done.
enum Done {
    /// The plan's page, and both sides' hashes as published (None when
    /// the page could not be read back: the first sync then compares).
    Plan(crate::domain::notion_id::NotionId, Option<(String, String)>),
    TaskPage(task_sync::Created),
    /// Sent; nothing more to record.
    Sent,
}

fn undecodable(item: &OutboxItem, detail: &str) -> NotionError {
    NotionError::Decode {
        what: format!("outbox item {}", item.id),
        detail: detail.to_string(),
    }
}

fn payload_of<T: serde::de::DeserializeOwned>(item: &OutboxItem) -> Result<T, NotionError> {
    serde_json::from_value(item.payload.0.clone()).map_err(|e| undecodable(item, &e.to_string()))
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

    /// Claims the next due item and delivers it, as the one sender of all
    /// instances (`Idle` when nothing is due, or another instance sends).
    pub async fn turn(&self) -> Result<Turn, WorkerError> {
        if !stored::any_due(&self.pool).await? {
            return Ok(Turn::Idle);
        }
        let Some(sender) = stored::sender_lock(&self.pool).await? else {
            return Ok(Turn::Idle);
        };
        let turn = self.send_one().await;
        stored::release_sender(sender).await;
        turn
    }

    async fn send_one(&self) -> Result<Turn, WorkerError> {
        let Some(item) = stored::claim(&self.pool, self.settings.lease).await? else {
            return Ok(Turn::Idle);
        };
        // The delivery runs while the lease is kept; if the lease is lost
        // (another worker took the item after this one went quiet), the
        // delivery is dropped where it stands: the item's next attempt
        // looks for what this one may have made before making anything.
        let outcome = tokio::select! {
            outcome = self.deliver(&item) => outcome,
            () = self.keep_lease(&item) => {
                tracing::warn!(item = item.id, "outbox: lease lost while delivering; stopped");
                return Ok(Turn::LostLease { item: item.id });
            }
        };
        match outcome {
            Ok(done) => {
                let (recorded, page) = match done {
                    Done::Plan(page, hashes) => (
                        stored::complete_plan_publication(
                            &self.pool,
                            &item,
                            page.as_str(),
                            hashes.as_ref().map(|(b, n)| (b.as_str(), n.as_str())),
                        )
                        .await?,
                        page.to_string(),
                    ),
                    Done::TaskPage(c) => (
                        crate::store::task_sync::complete_task_page(
                            &self.pool,
                            &item,
                            c.task,
                            c.page.as_str(),
                            &c.board,
                            &c.notion,
                        )
                        .await?,
                        c.page.to_string(),
                    ),
                    Done::Sent => (
                        stored::complete(&self.pool, &item, None).await?,
                        String::new(),
                    ),
                };
                if recorded {
                    tracing::info!(item = item.id, kind = %item.kind, %page, "outbox: delivered");
                    Ok(Turn::Delivered {
                        item: item.id,
                        page,
                    })
                } else {
                    Ok(Turn::LostLease { item: item.id })
                }
            }
            Err(error) => {
                let message = error.to_string();
                // Attempts a new change brought forward do not count
                // (`hurry_waiting`): the schedule is the item's own.
                let scheduled = item.attempts - item.hurried;
                let gave_up = !error.is_transient() || scheduled >= self.settings.max_attempts;
                let retry_at = (!gave_up).then(|| Utc::now() + self.delay(scheduled));
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

    /// Renews `item`'s lease every third of its length; returns only when
    /// the lease is lost: taken over, or not renewed for two thirds of its
    /// length (the database out of reach: another worker may have it).
    async fn keep_lease(&self, item: &OutboxItem) {
        let every = (self.settings.lease / 3).max(Duration::from_millis(10));
        let mut renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(every).await;
            match stored::renew_lease(&self.pool, item, self.settings.lease).await {
                Ok(true) => renewed = tokio::time::Instant::now(),
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(item = item.id, error = %e, "outbox: renewing the lease failed");
                    if renewed.elapsed() >= every * 2 {
                        return;
                    }
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

    async fn deliver(&self, item: &OutboxItem) -> Result<Done, MirrorError> {
        // attempts counts this one: more than one means an earlier attempt
        // may have created the page.
        let look_first = item.attempts > 1;
        match OutboxKind::parse(&item.kind) {
            Some(OutboxKind::PublishPlan) => {
                let payload: PublishPlan = payload_of(item)?;
                let page = publish::deliver(&self.client, &payload, look_first).await?;
                // The page as created is Notion's side as first synced.
                let hashes = match (
                    &payload.board_hash,
                    self.client.all_block_children(&page).await,
                ) {
                    (Some(board), Ok(children)) => Some((
                        board.clone(),
                        crate::store::plan_sync::fingerprint(&super::plan_sync::parse_page(
                            &children,
                        )),
                    )),
                    (_, Err(e)) => {
                        tracing::warn!(error = %e, "plan published; its page could not be read back");
                        None
                    }
                    (None, _) => None,
                };
                Ok(Done::Plan(page, hashes))
            }
            Some(OutboxKind::CreateTaskPage) => {
                let payload: CreateTaskPage = payload_of(item)?;
                let created = task_sync::deliver_create(
                    &self.pool,
                    &self.client,
                    &item.migration_name,
                    &payload,
                    look_first,
                )
                .await?;
                Ok(created.map_or(Done::Sent, Done::TaskPage))
            }
            Some(OutboxKind::SyncTask) => {
                let Some(task) = item.task_id else {
                    return Err(undecodable(item, "a sync item without a task").into());
                };
                let link = crate::store::task_sync::link(&self.pool, &item.migration_name)
                    .await?
                    .ok_or_else(|| undecodable(item, "the migration has no task database"))?;
                task_sync::reconcile_fresh(&self.pool, &self.client, &link, task, None).await?;
                Ok(Done::Sent)
            }
            Some(OutboxKind::TrashTaskPage) => {
                let payload: TrashTaskPage = payload_of(item)?;
                task_sync::deliver_trash(&self.client, &payload.page).await?;
                Ok(Done::Sent)
            }
            Some(OutboxKind::SyncPlan) => {
                super::plan_sync::sync(&self.pool, &self.client, &item.migration_name).await?;
                Ok(Done::Sent)
            }
            None => Err(undecodable(item, &format!("unknown kind {:?}", item.kind)).into()),
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
