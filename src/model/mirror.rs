//! Views of the Notion mirror, shared by the server and the browser: search
//! hits to import a spec from, a refresh's preview, a spec's earlier
//! versions, and the outbox's items.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::spec::SpecDiff;

/// A Notion page found by search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotionPageHit {
    pub id: String,
    pub title: String,
    pub url: String,
    #[serde(with = "crate::model::time")]
    pub last_edited: DateTime<Utc>,
}

/// What "Refresh from Notion" would change, against the fetch `base`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefreshPreview {
    pub diff: SpecDiff,
    pub title: String,
    /// The stored fetch the diff is against (microseconds since the epoch);
    /// applying is refused if the spec was replaced since.
    pub base: i64,
    /// The fingerprint of Notion's page as previewed; applying is refused
    /// if the page changed since (`notion::specs::fingerprint`).
    pub fingerprint: String,
}

/// An earlier version of a spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpecVersionView {
    pub id: i64,
    pub title: String,
    pub blocks: usize,
    #[serde(with = "crate::model::time")]
    pub fetched_at: DateTime<Utc>,
    #[serde(with = "crate::model::time")]
    pub replaced_at: DateTime<Utc>,
    pub replaced_by: String,
}

/// An outbox item as the migration page lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxItemView {
    pub id: i64,
    /// What it does ("Publish the plan").
    pub what: String,
    /// pending, failed, done or discarded.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    #[serde(with = "crate::model::time")]
    pub next_attempt_at: DateTime<Utc>,
    pub result_url: Option<String>,
    pub created_by: String,
}

/// The Notion side of one migration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MirrorView {
    /// No token: local mode.
    pub local: bool,
    pub spec_page_url: Option<String>,
    pub plan_page_url: Option<String>,
    pub spec_versions: Vec<SpecVersionView>,
    pub outbox: Vec<OutboxItemView>,
    /// The task database, when one is connected.
    pub tasks: Option<TaskLinkView>,
    /// Move a phase's tasks to Done when the phase finishes.
    pub tasks_done_with_phase: bool,
}

/// A task field mirrored to a property of the team's task data source
/// (acceptance criteria are not a property: they are to-do blocks in the
/// page's body).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskField {
    Title,
    Status,
    Priority,
    Assignee,
    Sprint,
    DependsOn,
}

impl TaskField {
    pub const ALL: [TaskField; 6] = [
        TaskField::Title,
        TaskField::Status,
        TaskField::Priority,
        TaskField::Assignee,
        TaskField::Sprint,
        TaskField::DependsOn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskField::Title => "title",
            TaskField::Status => "status",
            TaskField::Priority => "priority",
            TaskField::Assignee => "assignee",
            TaskField::Sprint => "sprint",
            TaskField::DependsOn => "depends_on",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// As the board says it.
    pub fn label(self) -> &'static str {
        match self {
            TaskField::Title => "Task",
            TaskField::Status => "Status",
            TaskField::Priority => "Priority",
            TaskField::Assignee => "Assignee",
            TaskField::Sprint => "Sprint",
            TaskField::DependsOn => "Depends on",
        }
    }

    /// The Notion property types this field can be mirrored to.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            TaskField::Title => &["title"],
            TaskField::Status => &["status", "select"],
            TaskField::Priority => &["select"],
            TaskField::Assignee => &["people"],
            TaskField::Sprint => &["select", "multi_select", "relation"],
            TaskField::DependsOn => &["relation"],
        }
    }

    /// Whether `prop` of the task data source `data_source` can hold this
    /// field: a type it takes; for dependencies, only a relation to that
    /// same data source; for a sprint, a relation only to another one (its
    /// sprints' pages).
    pub fn fits(self, prop: &PropertyChoice, data_source: &str) -> bool {
        let to_self = prop.relation_to.as_deref() == Some(data_source);
        self.kinds().contains(&prop.kind.as_str())
            && match self {
                TaskField::DependsOn => to_self,
                TaskField::Sprint if prop.kind == "relation" => {
                    prop.relation_to.is_some() && !to_self
                }
                _ => true,
            }
    }

    /// The board's values that map to one option each (status, priority).
    pub fn our_values(self) -> Vec<&'static str> {
        match self {
            TaskField::Status => crate::model::TaskStatus::ALL
                .iter()
                .map(|s| s.as_str())
                .collect(),
            TaskField::Priority => crate::model::Priority::ALL
                .iter()
                .map(|p| p.as_str())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A property of the task data source, as its schema says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropertyChoice {
    pub name: String,
    /// Notion's type: title, status, select, multi_select, people, relation…
    pub kind: String,
    /// Options (status, select, multi_select).
    pub options: Vec<String>,
    /// A relation's target data source.
    pub relation_to: Option<String>,
}

/// One field's property, and for status and priority which option each of
/// our values becomes (`None`: the property has no option for it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldMapping {
    pub field: TaskField,
    pub property: String,
    pub kind: String,
    #[serde(default)]
    pub values: Vec<(String, Option<String>)>,
    /// For a relation: the data source its pages are in (a Sprint mapped
    /// to a relation names pages of the team's sprints there).
    #[serde(default)]
    pub relation_to: Option<String>,
}

impl FieldMapping {
    /// The option our `value` becomes.
    pub fn option_for(&self, value: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(ours, _)| ours == value)
            .and_then(|(_, theirs)| theirs.as_deref())
    }

    /// Our value for Notion's `option`.
    pub fn value_for(&self, option: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(_, theirs)| theirs.as_deref() == Some(option))
            .map(|(ours, _)| ours.as_str())
    }
}

/// Which property each task field is mirrored to. A field that is not
/// listed is not mirrored (and named in `missing`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskMapping {
    pub fields: Vec<FieldMapping>,
}

impl TaskMapping {
    pub fn get(&self, field: TaskField) -> Option<&FieldMapping> {
        self.fields.iter().find(|f| f.field == field)
    }

    /// What is not mirrored, said so a person knows what to add in Notion.
    pub fn missing(&self) -> Vec<String> {
        let mut out = Vec::new();
        for field in TaskField::ALL {
            match self.get(field) {
                None => out.push(format!(
                    "{}: no property ({}) is mapped; it is not mirrored",
                    field.label(),
                    field.kinds().join(" or ")
                )),
                Some(m) => {
                    for (ours, theirs) in &m.values {
                        if theirs.is_none() {
                            out.push(format!(
                                "{}: “{}” has no option “{ours}” (tasks with it leave the property as it is)",
                                field.label(),
                                m.property
                            ));
                        }
                    }
                }
            }
        }
        out
    }
}

/// A field changed on both sides since the last sync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConflictView {
    pub id: i64,
    pub task_id: i64,
    pub task_title: String,
    pub field: String,
    pub board_value: String,
    pub notion_value: String,
    pub board_by: String,
    #[serde(with = "crate::model::time")]
    pub board_at: DateTime<Utc>,
    pub notion_by: String,
    #[serde(with = "crate::model::time")]
    pub notion_at: DateTime<Utc>,
    /// For a text field (title, assignee, sprint), which can also be
    /// resolved by a typed value: the board's text, to start from.
    pub merge_from: Option<String>,
}

/// The migration's task database in Notion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskLinkView {
    pub data_source_id: String,
    pub data_source_name: String,
    pub properties: Vec<PropertyChoice>,
    pub mapping: TaskMapping,
    pub missing: Vec<String>,
    /// Who confirmed the mapping (None: only proposed so far).
    pub confirmed_by: Option<String>,
    pub pages_queued: bool,
    pub tasks: i64,
    pub tasks_with_pages: i64,
    pub polled_at: Option<String>,
    pub conflicts: Vec<ConflictView>,
}

/// A data source found by search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSourceHit {
    pub id: String,
    pub name: String,
}
