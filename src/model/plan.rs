//! The plan as an editable, versioned document.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The editable fields of one phase of the plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhaseEdit {
    pub position: i16,
    pub title: String,
    pub description: String,
    pub owner: String,
    pub status_note: String,
    pub blockers: String,
}

/// A whole plan as saved in one revision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanEdit {
    pub body_markdown: String,
    pub phases: Vec<PhaseEdit>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanVersion {
    pub revision: i32,
    pub saved_by: String,
    pub saved_at: DateTime<Utc>,
    pub plan: PlanEdit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiffKind {
    Same,
    Added,
    Removed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffLine {
    pub kind: DiffKind,
    pub text: String,
}

impl PlanEdit {
    /// The plan as plain text, one field a line: what diffs compare.
    pub fn as_text(&self) -> String {
        let mut out = self.body_markdown.trim_end().to_string();
        out.push('\n');
        for p in &self.phases {
            out.push_str(&format!("\n## Phase {}: {}\n", p.position, p.title));
            for (label, value) in [
                ("Description", &p.description),
                ("Owner", &p.owner),
                ("Status note", &p.status_note),
                ("Blockers", &p.blockers),
            ] {
                out.push_str(&format!("{label}: {}\n", value.replace('\n', " ")));
            }
        }
        out
    }
}
