//! Verification: every source document compared, in key batches, with what
//! the targets hold. Quarantined documents are counted apart: they are known
//! and explained, not differences.

use super::state::RunnerLock;
use super::{sql, Batch, Engine, EngineError, Step};

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
        let step = self
            .plan(Phase::SwitchReads)?
            .into_iter()
            .find(|s| s.batch == Some(Batch::Verify))
            .ok_or_else(|| EngineError::Refused("phase 4 has no verification step".into()))?;
        self.verify_with(&step, None).await
    }

    /// Runs a verification step: `[first bounds, next bounds, one
    /// comparison per target]`, each batch in one snapshot.
    pub(super) async fn verify_with(
        &self,
        step: &Step,
        lock: Option<&RunnerLock>,
    ) -> Result<VerifyReport, EngineError> {
        let r = &self.recipe;
        let [first, next] = [&step.sql[0], &step.sql[1]];
        let statements: Vec<(String, &String)> = r
            .targets
            .iter()
            .zip(&step.sql[2..])
            .map(|(t, stmt)| (t.table.as_str().to_string(), stmt))
            .collect();
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
        let id = super::state::ensure_migration(&self.pool, r).await?;
        let mut last_event = std::time::Instant::now();
        let mut last: Option<String> = None;
        loop {
            if let Some(l) = lock {
                l.check().await?;
            }
            // One snapshot per batch: source and targets compared consistently.
            let mut tx = self.pool.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
            for setting in sql::LOCAL_SETTINGS {
                sqlx::query(setting).execute(&mut *tx).await?;
            }
            let (lo, hi, n) =
                super::phases::batch_bounds(&mut tx, first, next, last.as_deref(), BATCH).await?;
            let (Some(lo), Some(hi)) = (lo, hi) else {
                break;
            };
            report.rows_compared += n;
            for (table, stmt) in &statements {
                let rows: Vec<DiffRow> = sqlx::query_as(stmt)
                    .bind(&lo)
                    .bind(&hi)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| EngineError::from_step(&step.label, e))?;
                report.differences += rows.len() as i64;
                for row in rows {
                    if report.first_differences.len() < LISTED {
                        report.first_differences.push(Difference {
                            table: table.clone(),
                            key: row.key,
                            entry: row.entry,
                            expected: row.expected,
                            actual: row.actual,
                        });
                    }
                }
            }
            tx.commit().await?;
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

    async fn verify_event(&self, id: i64, event: Event) -> Result<(), EngineError> {
        let phase = Some(Phase::SwitchReads);
        super::state::event(&self.pool, id, phase, &self.opts.actor, &event).await
    }
}
