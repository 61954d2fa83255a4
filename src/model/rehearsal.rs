//! A rehearsal as the console shows it, and what the phases' estimates are
//! made of.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::engine::vocab::RehearsedStep;
use crate::engine::Phase;

/// Where a rehearsal is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RehearsalState {
    Running,
    /// Every phase and every rollback ran without an error.
    Passed,
    Failed,
}

impl RehearsalState {
    pub fn as_str(self) -> &'static str {
        match self {
            RehearsalState::Running => "running",
            RehearsalState::Passed => "passed",
            RehearsalState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => RehearsalState::Running,
            "passed" => RehearsalState::Passed,
            "failed" => RehearsalState::Failed,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RehearsalView {
    pub id: i64,
    pub percent: f64,
    pub state: RehearsalState,
    pub started_by: String,
    #[serde(with = "crate::model::time")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "crate::model::time::option")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Rows copied into the scratch schema.
    pub sample_rows: Option<i64>,
    /// The planner's estimate of the production table's rows when it ran.
    pub source_rows: Option<i64>,
    pub steps: Vec<RehearsedStep>,
    /// What phase 5 would refuse on the production table (a scratch copy
    /// lacks the views, policies… that depend on the column).
    pub contract_blockers: Vec<String>,
    /// What stopped it, beside a step's own error (the copy, the cleanup).
    pub error: Option<String>,
    /// SHA-256 of the recipe it rehearsed.
    pub recipe_hash: String,
    /// It rehearsed another recipe than the one that runs now (set by the
    /// console, which knows which runs).
    #[serde(default)]
    pub stale: bool,
}

impl RehearsalView {
    /// The run of `phase`, if the rehearsal got to it.
    pub fn run_of(&self, phase: Phase) -> Option<&RehearsedStep> {
        self.steps.iter().find(|s| s.phase == phase && !s.rollback)
    }

    /// One sentence for a confirmation: what the rehearsal found.
    pub fn summary(&self) -> String {
        let when = self.started_at.format("%Y-%m-%d %H:%M UTC");
        let quarantined = self
            .run_of(Phase::Backfill)
            .map(|s| s.quarantined)
            .unwrap_or(0);
        match self.state {
            RehearsalState::Running => {
                format!("A rehearsal on a {} % sample is running.", self.percent)
            }
            RehearsalState::Passed => format!(
                "Rehearsed on a {} % sample ({} rows) at {when} by {}: every phase and rollback passed; {quarantined} document(s) quarantined in the sample.{}",
                self.percent,
                self.sample_rows.unwrap_or(0),
                self.started_by,
                self.blockers_note()
            ),
            RehearsalState::Failed => {
                let failed = self
                    .steps
                    .iter()
                    .find(|s| s.error.is_some())
                    .map(|s| format!("{} failed: {}", s.action(), s.error.clone().unwrap_or_default()))
                    .or_else(|| self.error.clone())
                    .unwrap_or_else(|| "it failed".into());
                format!(
                    "The rehearsal on a {} % sample at {when} by {} FAILED: {failed}.{}",
                    self.percent,
                    self.started_by,
                    self.blockers_note()
                )
            }
        }
    }

    fn blockers_note(&self) -> String {
        let stale = if self.stale {
            " It rehearsed an earlier version of the recipe: rehearse again."
        } else {
            ""
        };
        if self.contract_blockers.is_empty() {
            stale.to_string()
        } else {
            format!(
                " On the production table, phase 5 would be refused: {}.{stale}",
                self.contract_blockers.join(", ")
            )
        }
    }
}

/// Whether a phase's run takes longer the larger the table (the backfill,
/// the verification, the contract's backup) or not (DDL on tables that are
/// new or empty, trigger swaps, draining what was written meanwhile).
pub fn scales_with_rows(phase: Phase) -> bool {
    matches!(
        phase,
        Phase::Backfill | Phase::SwitchReads | Phase::Contract
    )
}

/// The expected duration of a phase's run on the production table, in
/// milliseconds, from a rehearsal's measurement: scaled by the rows of the
/// table over the rows of the sample where the work grows with the table.
pub fn estimate_millis(rehearsal: &RehearsalView, phase: Phase) -> Option<i64> {
    let step = rehearsal.run_of(phase).filter(|s| s.error.is_none())?;
    if !scales_with_rows(phase) {
        return Some(step.millis);
    }
    let sample = rehearsal.sample_rows.filter(|n| *n > 0)?;
    let rows = rehearsal.source_rows.filter(|n| *n > 0)?;
    Some((step.millis as f64 * rows as f64 / sample as f64).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(phase: Phase, millis: i64) -> RehearsedStep {
        RehearsedStep {
            phase,
            rollback: false,
            millis,
            rows: None,
            quarantined: 0,
            unmapped_keys: 0,
            lock_waits: 0,
            error: None,
        }
    }

    #[test]
    fn the_backfill_scales_with_the_table_and_phase_1_does_not() {
        let r = RehearsalView {
            id: 1,
            percent: 5.0,
            state: RehearsalState::Passed,
            started_by: "a@example.com".into(),
            started_at: Utc::now(),
            finished_at: None,
            sample_rows: Some(500),
            source_rows: Some(10_000),
            steps: vec![step(Phase::Expand, 120), step(Phase::Backfill, 300)],
            contract_blockers: vec![],
            error: None,
            recipe_hash: String::new(),
            stale: false,
        };
        assert_eq!(estimate_millis(&r, Phase::Expand), Some(120));
        assert_eq!(estimate_millis(&r, Phase::Backfill), Some(6_000));
        assert_eq!(estimate_millis(&r, Phase::DualWrite), None);
    }
}
