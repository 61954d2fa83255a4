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
}
