//! What a share link shows: one migration, read-only.

use serde::{Deserialize, Serialize};

use super::{MigrationSummary, PhaseView, SpecView, TaskView};

/// Percent of the migration's phases done.
pub fn percent_done(s: &MigrationSummary) -> f64 {
    if s.phases_total == 0 {
        return 0.0;
    }
    s.phases_done as f64 * 100.0 / s.phases_total as f64
}

/// One line for chat previews: "Phase 2 of 5: Backfill (running), 40% done".
pub fn headline(s: &MigrationSummary) -> String {
    match &s.current_phase {
        Some(p) => format!(
            "Phase {} of {}: {} ({}), {:.0}% done",
            p.position,
            s.phases_total,
            p.title,
            p.state.as_str(),
            percent_done(s)
        ),
        None => "All phases done".to_string(),
    }
}

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
        percent_done(&self.summary)
    }

    /// One line for chat previews: "Phase 2 of 5: Backfill (running), 40% done".
    pub fn headline(&self) -> String {
        headline(&self.summary)
    }
}

/// Whether a share link still opens its migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShareLinkState {
    Active,
    Revoked,
    Expired,
}

impl ShareLinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareLinkState::Active => "active",
            ShareLinkState::Revoked => "revoked",
            ShareLinkState::Expired => "expired",
        }
    }
}

/// A share link as its migration's page lists it (never its token).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareLinkView {
    pub id: i64,
    pub label: String,
    pub state: ShareLinkState,
    pub created_by: String,
    #[serde(with = "crate::model::time")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(with = "crate::model::time::option")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(with = "crate::model::time::option")]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A link just created: the only time its token is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatedShareLink {
    pub id: i64,
    /// `/s/{token}`.
    pub path: String,
}

/// A migration's share links, newest first, and the one just created by
/// this account (shown once), if any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareLinks {
    pub links: Vec<ShareLinkView>,
    pub created: Option<CreatedShareLink>,
}

/// What a share page's live feed (`/s/{token}/live`) sends on every change:
/// the parts of `SharedView` that move while a migration runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SharedLive {
    pub headline: String,
    pub percent_done: f64,
    pub phases: Vec<super::PhaseHeadline>,
    pub backfill_percent: Option<f64>,
}

impl SharedView {
    /// The live part of the page.
    pub fn live(&self) -> SharedLive {
        SharedLive::of(&self.summary, &self.phases, self.backfill_percent)
    }
}

impl SharedLive {
    pub fn of(
        summary: &MigrationSummary,
        phases: &[PhaseView],
        backfill_percent: Option<f64>,
    ) -> SharedLive {
        SharedLive {
            headline: headline(summary),
            percent_done: percent_done(summary),
            phases: phases
                .iter()
                .map(|p| super::PhaseHeadline {
                    position: p.position,
                    title: p.title.clone(),
                    state: p.state,
                })
                .collect(),
            backfill_percent,
        }
    }
}
