//! Verification: every source document compared, in key batches, with what
//! the targets hold. Quarantined documents are counted apart: they are known
//! and explained, not differences.

use super::planner::Planner;
use super::state::RunnerLock;
use super::step::Verification;
use super::{sql, Engine, EngineError};

pub use super::vocab::{Difference, VerifyReport};
use super::vocab::{Event, Phase};

#[derive(sqlx::FromRow)]
struct DiffRow {
    key: String,
    entry: Option<String>,
    expected: Option<serde_json::Value>,
    actual: Option<serde_json::Value>,
}

const BATCH: i64 = 20_000;
const LISTED: usize = 20;

impl Engine {
    /// A full verification (what phase 4's gate runs), outside any phase.
    pub async fn verify(&self) -> Result<VerifyReport, EngineError> {
        let verification = Planner::new(&self.recipe).verification();
        self.verify_with("verify", &verification, None).await
    }

    /// Runs a verification (`Work::Verify`), each key batch in one snapshot.
    pub(super) async fn verify_with(
        &self,
        label: &str,
        v: &Verification,
        lock: Option<&RunnerLock>,
    ) -> Result<VerifyReport, EngineError> {
        let r = &self.recipe;
        let mut report = VerifyReport {
            rows_compared: 0,
            rows_total: 0,
            differences: 0,
            first_differences: Vec::new(),
            quarantined: 0,
        };
        report.rows_total =
            sqlx::query_scalar(&format!("SELECT count(*) FROM {}", sql::source_table(r)))
                .fetch_one(&self.pool)
                .await?;
        let id = self.migration_id().await?;
        let mut last_event = std::time::Instant::now();
        let mut last: Option<String> = None;
        loop {
            if let Some(l) = lock {
                l.check().await?;
            }
            let Some(hi) = self
                .compare_batch(label, v, last.as_deref(), &mut report)
                .await?
            else {
                break;
            };
            last = Some(hi);
            if last_event.elapsed() >= std::time::Duration::from_millis(250) {
                last_event = std::time::Instant::now();
                self.verify_event(id, Event::VerifyProgress(report.clone()))
                    .await?;
            }
        }
        report.quarantined = sqlx::query_scalar(
            "SELECT count(*) FROM switchyard.quarantine WHERE migration_name = $1",
        )
        .bind(&r.name)
        .fetch_one(&self.pool)
        .await?;
        self.verify_event(id, Event::Verified(report.clone()))
            .await?;
        Ok(report)
    }

    /// Compares the key batch after `last` in one snapshot (source and
    /// targets consistent), adding to `report`; the batch's last key, or
    /// None when no rows were left.
    async fn compare_batch(
        &self,
        label: &str,
        v: &Verification,
        last: Option<&str>,
        report: &mut VerifyReport,
    ) -> Result<Option<String>, EngineError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        for setting in sql::LOCAL_SETTINGS {
            sqlx::query(setting).execute(&mut *tx).await?;
        }
        let (first, next) = (&v.bounds.first, &v.bounds.next);
        let (lo, hi, n) = super::phases::batch_bounds(&mut tx, first, next, last, BATCH).await?;
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(None);
        };
        report.rows_compared += n;
        for (t, stmt) in self.recipe.targets.iter().zip(&v.compare) {
            let rows: Vec<DiffRow> = sqlx::query_as(stmt)
                .bind(&lo)
                .bind(&hi)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| EngineError::from_step(label, e))?;
            report.differences += rows.len() as i64;
            let room = LISTED.saturating_sub(report.first_differences.len());
            report
                .first_differences
                .extend(rows.into_iter().take(room).map(|row| Difference {
                    table: t.table.as_str().to_string(),
                    key: row.key,
                    entry: row.entry,
                    expected: row.expected,
                    actual: row.actual,
                }));
        }
        tx.commit().await?;
        Ok(Some(hi))
    }

    async fn verify_event(&self, id: i64, event: Event) -> Result<(), EngineError> {
        let phase = Some(Phase::SwitchReads);
        Ok(self
            .journal
            .record(id, phase, &self.opts.actor, &event)
            .await?)
    }
}
