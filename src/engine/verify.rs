//! Verification: every source document compared, in key batches, with what
//! the targets hold. Quarantined documents are counted apart: they are known
//! and explained, not differences.

use serde::Serialize;

use super::phases::min_key;
use super::{sql, Engine, EngineError};

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Difference {
    pub table: String,
    pub key: String,
    pub entry: Option<String>,
    pub expected: Option<serde_json::Value>,
    pub actual: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct VerifyReport {
    pub rows_compared: i64,
    /// Source rows when the verification started.
    pub rows_total: i64,
    pub differences: i64,
    pub first_differences: Vec<Difference>,
    pub quarantined: i64,
}

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
    pub async fn verify(&self) -> Result<VerifyReport, EngineError> {
        let r = &self.recipe;
        let key = &r.source.key;
        let kt = r.source.key_type.sql();
        let src = sql::source_table(r);
        let next_hi = format!(
            "SELECT (array_agg(k ORDER BY k DESC))[1]::text, count(*) FROM (SELECT {key} AS k FROM {src} WHERE {key} > $1::{kt} ORDER BY {key} LIMIT $2) AS batch"
        );
        let statements: Vec<(String, String)> = r
            .targets
            .iter()
            .map(|t| {
                (
                    t.table.as_str().to_string(),
                    sql::verify_statement(
                        r,
                        t,
                        &format!("s.{key} > $1::{kt} AND s.{key} <= $2::{kt}"),
                        &format!(
                            "a.{kc} > $1::{kt} AND a.{kc} <= $2::{kt}",
                            kc = t.source_key_column
                        ),
                    ),
                )
            })
            .collect();
        let mut report = VerifyReport {
            rows_compared: 0,
            rows_total: 0,
            differences: 0,
            first_differences: Vec::new(),
            quarantined: 0,
        };
        report.rows_total = sqlx::query_scalar(&format!("SELECT count(*) FROM {src}"))
            .fetch_one(&self.pool)
            .await?;
        let id = super::state::ensure_migration(&self.pool, r).await?;
        let mut last_event = std::time::Instant::now();
        let mut lo = min_key(r.source.key_type);
        loop {
            // One snapshot per batch: source and targets compared consistently.
            let mut tx = self.pool.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
            let (hi, n): (Option<String>, i64) = sqlx::query_as(&next_hi)
                .bind(&lo)
                .bind(BATCH)
                .fetch_one(&mut *tx)
                .await?;
            let Some(hi) = hi else { break };
            report.rows_compared += n;
            for (table, stmt) in &statements {
                let rows: Vec<DiffRow> = sqlx::query_as(stmt)
                    .bind(&lo)
                    .bind(&hi)
                    .fetch_all(&mut *tx)
                    .await?;
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
            lo = hi;
            if last_event.elapsed() >= std::time::Duration::from_millis(250) {
                last_event = std::time::Instant::now();
                self.verify_event(id, "verify_progress", &report).await?;
            }
        }
        report.quarantined = sqlx::query_scalar(
            "SELECT count(*) FROM switchyard.quarantine WHERE migration_name = $1",
        )
        .bind(&r.name)
        .fetch_one(&self.pool)
        .await?;
        self.verify_event(id, "verified", &report).await?;
        Ok(report)
    }

    async fn verify_event(
        &self,
        id: i64,
        kind: &str,
        report: &VerifyReport,
    ) -> Result<(), EngineError> {
        super::state::event(
            &self.pool,
            id,
            Some(4),
            &self.opts.actor,
            kind,
            serde_json::to_value(report).unwrap_or_default(),
        )
        .await
    }
}
