//! Phase 2: keyset batches, each one transaction that maps the batch and
//! commits the checkpoint with it, so a crash resumes exactly where it
//! stopped. The batch size follows a target batch duration; the operator can
//! pause, throttle or abort between any two batches.

use std::time::{Duration, Instant};

use super::health::Throttle;
use super::phases::{batch_bounds, Outcome, RunControl};
use super::state::RunnerLock;
use super::step::KeyBounds;
use super::vocab::{BackfillProgress, Event, Phase};
use super::{sql, Engine, EngineError};

#[derive(sqlx::FromRow)]
struct BatchResult {
    n_rows: i64,
    n_quarantined: i64,
}

/// The smoothed rate (rows/s) and the next batch size after a batch of
/// `rows` took `took`: aimed at the target duration, changing by at most 2x.
fn pace(p: &BackfillProgress, rows: i64, took: Duration) -> (f64, i32) {
    let elapsed = took.as_secs_f64().max(0.001);
    let instant_rate = rows as f64 / elapsed;
    let rate = if p.rows_per_second > 0.0 {
        0.7 * p.rows_per_second + 0.3 * instant_rate
    } else {
        instant_rate
    };
    let target = p.target_batch_ms.max(1) as f64 / 1000.0;
    let size = p.batch_size as f64;
    let next = (size * target / elapsed)
        .clamp(size / 2.0, size * 2.0)
        .clamp(MIN_BATCH, MAX_BATCH);
    (rate, next as i32)
}

/// The checkpoint, committed in the batch's transaction.
pub const CHECKPOINT: &str =
    "UPDATE switchyard.backfill_progress SET last_key = $2, rows_done = rows_done + $3, \
     quarantined = quarantined + $4, batch_size = $5, rows_per_second = $6, updated_at = now() \
     WHERE migration_name = $1";

/// A backfill step's statements (`Work::Backfill`).
struct BatchStatements<'a> {
    bounds: &'a KeyBounds,
    map: &'a str,
    checkpoint: &'a str,
}

const MIN_BATCH: f64 = 100.0;
const MAX_BATCH: f64 = 50_000.0;

impl Engine {
    pub async fn progress(&self) -> Result<Option<BackfillProgress>, EngineError> {
        Ok(sqlx::query_as(
            "SELECT last_key, rows_done, rows_total, quarantined, batch_size, rows_per_second,
                    paused, target_batch_ms, throttle_ms, throttled
             FROM switchyard.backfill_progress WHERE migration_name = $1",
        )
        .bind(&self.recipe.name)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Throttle settings, before or during the backfill (read before each
    /// batch); recorded as an `Event::Throttle`.
    pub async fn set_throttle(
        &self,
        target_batch_ms: i32,
        throttle_ms: i32,
    ) -> Result<(), EngineError> {
        sqlx::query(
            "INSERT INTO switchyard.backfill_progress (migration_name, batch_size, target_batch_ms, throttle_ms)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (migration_name) DO UPDATE SET target_batch_ms = $3, throttle_ms = $4",
        )
        .bind(&self.recipe.name)
        .bind(self.recipe.initial_batch_size as i32)
        .bind(target_batch_ms)
        .bind(throttle_ms)
        .execute(&self.pool)
        .await?;
        let id = self.migration_id().await?;
        let event = Event::Throttle {
            target_batch_ms,
            throttle_ms,
        };
        let phase = Some(Phase::Backfill);
        Ok(self
            .journal
            .record(id, phase, &self.opts.actor, &event)
            .await?)
    }

    /// Asks the running backfill to pause (`abort = false`) or abort at its
    /// next checkpoint; read before every batch, from any process.
    pub async fn request_stop(&self, abort: bool) -> Result<(), EngineError> {
        sqlx::query(
            "UPDATE switchyard.backfill_progress
             SET paused = paused OR NOT $2, abort_requested = abort_requested OR $2
             WHERE migration_name = $1",
        )
        .bind(&self.recipe.name)
        .bind(abort)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Phase 2's loop (`Work::Backfill`): each batch of `bounds` mapped by
    /// `map` and its `checkpoint` commit in one fenced transaction.
    pub(super) async fn backfill(
        &self,
        id: i64,
        bounds: &KeyBounds,
        map: &str,
        checkpoint: &str,
        ctl: &RunControl,
        lock: &RunnerLock,
    ) -> Result<Outcome, EngineError> {
        self.start_backfill().await?;
        let name = self.recipe.name.as_str();
        let mut health = Throttle::start(&self.pool, name, self.opts.health.clone()).await;
        let mut last_event = Instant::now() - Duration::from_secs(10);
        loop {
            lock.check().await?;
            let Some(p) = self.progress().await? else {
                return Err(EngineError::Refused(
                    "backfill progress vanished (rolled back meanwhile?)".into(),
                ));
            };
            if let Some(stopped) = self.stop_here(&p, ctl).await? {
                return Ok(stopped);
            }
            let batch = BatchStatements {
                bounds,
                map,
                checkpoint,
            };
            let work = self.backfill_batch(&p, &batch, lock);
            let (finished, verdict) = health.watch(name, work).await?;
            if verdict.reason != p.throttled {
                self.record_throttled(verdict.reason.as_deref()).await?;
            }
            if finished {
                return self.finish_backfill(id, ctl).await;
            }
            if last_event.elapsed() >= Duration::from_millis(250) {
                last_event = Instant::now();
                self.report_progress(id, ctl).await?;
            }
            let pause = verdict.pause + Duration::from_millis(p.throttle_ms.max(0) as u64);
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// Records why the backfill yields (or that it no longer does); a batch
    /// that made the application suffer is followed by a smaller one.
    async fn record_throttled(&self, reason: Option<&str>) -> Result<(), EngineError> {
        sqlx::query(
            "UPDATE switchyard.backfill_progress SET throttled = $2,
                 batch_size = CASE WHEN $2 IS NULL THEN batch_size ELSE greatest(batch_size / 2, $3) END
             WHERE migration_name = $1",
        )
        .bind(&self.recipe.name)
        .bind(reason)
        .bind(MIN_BATCH as i32)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A fresh start or a resume: either way we were asked to run now.
    async fn start_backfill(&self) -> Result<(), EngineError> {
        let r = &self.recipe;
        let total: i64 =
            sqlx::query_scalar(&format!("SELECT count(*) FROM {}", sql::source_table(r)))
                .fetch_one(&self.pool)
                .await?;
        sqlx::query(
            "INSERT INTO switchyard.backfill_progress (migration_name, batch_size, rows_total, target_batch_ms)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (migration_name) DO UPDATE SET paused = false, abort_requested = false, rows_total = $3",
        )
        .bind(&r.name)
        .bind(r.initial_batch_size as i32)
        .bind(total)
        .bind(r.target_batch_ms as i32)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Aborted or paused (by the operator, or Ctrl-C) before the next batch?
    async fn stop_here(
        &self,
        p: &BackfillProgress,
        ctl: &RunControl,
    ) -> Result<Option<Outcome>, EngineError> {
        let name = &self.recipe.name;
        let abort: bool = sqlx::query_scalar(
            "SELECT abort_requested FROM switchyard.backfill_progress WHERE migration_name = $1",
        )
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        if abort {
            return Ok(Some(Outcome::Aborted));
        }
        if p.paused || ctl.stop_requested() {
            sqlx::query(
                "UPDATE switchyard.backfill_progress SET paused = true WHERE migration_name = $1",
            )
            .bind(name)
            .execute(&self.pool)
            .await?;
            return Ok(Some(Outcome::Paused));
        }
        Ok(None)
    }

    /// One batch after the checkpoint `p`, mapped and checkpointed in one
    /// transaction; true when no rows were left.
    async fn backfill_batch(
        &self,
        p: &BackfillProgress,
        batch: &BatchStatements<'_>,
        lock: &RunnerLock,
    ) -> Result<bool, EngineError> {
        let label = format!(
            "backfill batch after key {}",
            p.last_key.as_deref().unwrap_or("(start)")
        );
        self.in_batch(lock, &label, |conn| {
            let (first, next) = (batch.bounds.first.clone(), batch.bounds.next.clone());
            let (map, checkpoint) = (batch.map.to_string(), batch.checkpoint.to_string());
            let (p, name) = (p.clone(), self.recipe.name.clone());
            Box::pin(async move {
                let started = Instant::now();
                let last = p.last_key.as_deref();
                let size = p.batch_size as i64;
                let (lo, hi, _) = batch_bounds(conn, &first, &next, last, size).await?;
                let (Some(lo), Some(hi)) = (lo, hi) else {
                    return Ok(true);
                };
                let batch: BatchResult = sqlx::query_as(&map)
                    .bind(&lo)
                    .bind(&hi)
                    .fetch_one(&mut *conn)
                    .await?;
                let (rate, next_size) = pace(&p, batch.n_rows, started.elapsed());
                sqlx::query(&checkpoint)
                    .bind(&name)
                    .bind(&hi)
                    .bind(batch.n_rows)
                    .bind(batch.n_quarantined)
                    .bind(next_size)
                    .bind(rate)
                    .execute(&mut *conn)
                    .await?;
                Ok(false)
            })
        })
        .await
    }

    async fn finish_backfill(&self, id: i64, ctl: &RunControl) -> Result<Outcome, EngineError> {
        self.record_throttled(None).await?;
        self.report_progress(id, ctl).await?;
        Ok(Outcome::Done)
    }

    /// A progress tick: to the caller (CLI line) and as an event (+ NOTIFY).
    async fn report_progress(&self, id: i64, ctl: &RunControl) -> Result<(), EngineError> {
        if let Some(p) = self.progress().await? {
            if let Some(cb) = &ctl.on_progress {
                cb(&p);
            }
            let tick = Event::Progress(p);
            self.journal
                .record(id, Some(Phase::Backfill), &self.opts.actor, &tick)
                .await?;
        }
        Ok(())
    }
}
