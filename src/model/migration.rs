//! What the pages show about a migration: its summary, spec, plan, tasks and
//! phases. Plans and tasks carry a revision, an updated-at and an optional
//! Notion page id so the Notion mirror can sync them both ways.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::notion::Block;

pub use crate::engine::vocab::{Event, Phase, PhaseState, ReadsFrom};

/// Column of the task board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TaskStatus {
    ToDo,
    InProgress,
    Blocked,
    Done,
}

impl TaskStatus {
    /// Board order.
    pub const ALL: [TaskStatus; 4] = [
        TaskStatus::ToDo,
        TaskStatus::InProgress,
        TaskStatus::Blocked,
        TaskStatus::Done,
    ];

    /// The label Notion's Status property uses, and our stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::ToDo => "To Do",
            TaskStatus::InProgress => "In Progress",
            TaskStatus::Blocked => "Blocked",
            TaskStatus::Done => "Done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl TaskStatus {
    /// Parses form input; the error names the field.
    pub fn parse_field(s: &str) -> Result<Self, super::AppError> {
        Self::parse(s).ok_or_else(|| {
            super::AppError::invalid(
                "status",
                format!("{s:?} is not a status (To Do, In Progress, Blocked, Done)"),
            )
        })
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "Low",
            Priority::Medium => "Medium",
            Priority::High => "High",
            Priority::Critical => "Critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl Priority {
    /// Parses form input; the error names the field.
    pub fn parse_field(s: &str) -> Result<Self, super::AppError> {
        Self::parse(s).ok_or_else(|| {
            super::AppError::invalid(
                "priority",
                format!("{s:?} is not a priority (Low, Medium, High, Critical)"),
            )
        })
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the home page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MigrationSummary {
    pub name: String,
    pub title: String,
    pub description: String,
    pub phases_done: usize,
    pub phases_total: usize,
    /// The phase that is next to act on (first not done), if any.
    pub current_phase: Option<PhaseHeadline>,
    pub tasks_done: usize,
    pub tasks_total: usize,
    #[serde(with = "crate::model::time")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseHeadline {
    pub position: Phase,
    pub title: String,
    pub state: PhaseState,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecView {
    pub title: String,
    pub blocks: Vec<Block>,
    /// Where the spec came from: a Notion page id, or `None` for local specs.
    pub notion_page_id: Option<String>,
    #[serde(with = "crate::model::time")]
    pub fetched_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseView {
    pub position: Phase,
    pub title: String,
    pub description: String,
    pub owner: Option<String>,
    /// Free text from the plan's editors.
    pub status_note: String,
    pub blockers: String,
    /// The phases this one depends on.
    pub depends_on: Vec<Phase>,
    /// Why the phase waits ("Waiting: phase 1 (…) is Pending"): the
    /// dependencies not done yet, as the server found them; `None` when
    /// every dependency is done.
    pub waiting: Option<String>,
    pub state: PhaseState,
    #[serde(with = "crate::model::time")]
    pub state_changed_at: DateTime<Utc>,
    /// Progress of the tasks linked to this phase.
    pub tasks: TaskProgress,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskProgress {
    pub tasks: usize,
    pub tasks_done: usize,
    pub criteria: usize,
    pub criteria_done: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanView {
    pub title: String,
    pub body_markdown: String,
    pub revision: i32,
    #[serde(with = "crate::model::time")]
    pub updated_at: DateTime<Utc>,
    pub notion_page_id: Option<String>,
    pub phases: Vec<PhaseView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRef {
    pub id: i64,
    pub title: String,
    pub status: TaskStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    pub id: i64,
    pub text: String,
    pub done: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub id: i64,
    pub title: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub assignee: Option<String>,
    pub sprint: Option<String>,
    pub phase_position: Option<Phase>,
    pub depends_on: Vec<TaskRef>,
    pub criteria: Vec<Criterion>,
    pub revision: i32,
    #[serde(with = "crate::model::time")]
    pub updated_at: DateTime<Utc>,
    pub notion_page_id: Option<String>,
    /// Fields changed both here and in Notion since the last sync, waiting
    /// for an operator on the Notion tab (nothing is written for them).
    #[serde(default)]
    pub conflicts: Vec<String>,
}

/// A task as a form submits it: every field a string (or a list of
/// strings), parsed on the server, so a plain HTML form can post it
/// URL-encoded as `form[title]=…&form[depends_on][]=3`. Every field has a
/// default: a form omits unticked boxes and empty lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskForm {
    pub title: String,
    pub status: String,
    pub priority: String,
    pub assignee: String,
    pub sprint: String,
    /// The plan phase's number (1-5), or empty for none.
    pub phase: String,
    /// Ids of the tasks this one depends on, one input each.
    pub depends_on: Vec<String>,
    /// One acceptance criterion per line.
    pub criteria: String,
}
