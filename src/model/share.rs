//! What a share link shows: one migration, read-only.

use serde::{Deserialize, Serialize};

use super::{MigrationSummary, PhaseView, SpecView, TaskView};

/// Everything `/s/{token}` shows. Deliberately without the event log, the
/// people who acted (emails), the recipe file and the dry-run SQL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedView {
    pub summary: MigrationSummary,
    pub spec: SpecView,
    pub plan_title: String,
    /// The plan's Markdown, rendered on the server as the plan page renders it.
    pub plan_html: String,
    pub phases: Vec<PhaseView>,
    pub tasks: Vec<TaskView>,
    /// The backfill's progress, while it has one.
    pub backfill_percent: Option<f64>,
}

impl SharedView {
    /// Percent of the phases done.
    pub fn percent_done(&self) -> f64 {
        if self.summary.phases_total == 0 {
            return 0.0;
        }
        self.summary.phases_done as f64 * 100.0 / self.summary.phases_total as f64
    }

    /// One line for chat previews: "Phase 2 of 5: Backfill (running), 40% done".
    pub fn headline(&self) -> String {
        let s = &self.summary;
        match &s.current_phase {
            Some(p) => format!(
                "Phase {} of {}: {} ({}), {:.0}% done",
                p.position,
                s.phases_total,
                p.title,
                p.state.as_str(),
                self.percent_done()
            ),
            None => "All phases done".to_string(),
        }
    }
}
