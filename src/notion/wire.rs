//! Notion's JSON, as far as Switchyard reads and writes it (API version
//! `client::NOTION_VERSION`: data sources; `in_trash`, not `archived`;
//! `position` on append). Blocks travel as `serde_json::Value` on the way
//! out (`blocks::to_request` builds them) and become `model::notion::Block`
//! on the way in (`blocks::from_response`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::domain::notion_id::NotionId;

/// One page of a paginated list (`object: "list"`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct List<T> {
    pub results: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub has_more: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Page {
    pub id: NotionId,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub in_trash: bool,
    pub created_time: DateTime<Utc>,
    pub last_edited_time: DateTime<Utc>,
    /// `{object: "user", id}` (a partial user).
    #[serde(default)]
    pub last_edited_by: Value,
    #[serde(default)]
    pub parent: Value,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

impl Page {
    /// The page's title: the plain text of its `title` property.
    pub fn title(&self) -> String {
        self.properties
            .values()
            .find(|p| p.get("type").and_then(Value::as_str) == Some("title"))
            .and_then(|p| p.get("title"))
            .map(plain_text_of)
            .unwrap_or_default()
    }
}

/// Concatenated `plain_text` of a rich-text array.
pub fn plain_text_of(items: &Value) -> String {
    items
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|t| t.get("plain_text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// A database: a container of data sources (`GET /v1/databases/{id}`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Database {
    pub id: NotionId,
    #[serde(default)]
    pub title: Value,
    #[serde(default)]
    pub in_trash: bool,
    #[serde(default)]
    pub data_sources: Vec<DataSourceRef>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct DataSourceRef {
    pub id: NotionId,
    #[serde(default)]
    pub name: String,
}

/// A data source: one table of a database, with its schema.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DataSource {
    pub id: NotionId,
    #[serde(default)]
    pub title: Value,
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub parent: Value,
    #[serde(default)]
    pub in_trash: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct User {
    pub id: NotionId,
    #[serde(default)]
    pub name: Option<String>,
    /// `person` or `bot`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub person: Option<Person>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Person {
    #[serde(default)]
    pub email: Option<String>,
}

/// A search hit: a page or a data source (`object` says which).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "object", rename_all = "snake_case")]
pub enum SearchResult {
    Page(Page),
    DataSource(DataSource),
}

/// What a search is limited to (`filter.value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchFilter {
    Pages,
    DataSources,
}

impl SearchFilter {
    pub fn to_json(self) -> Value {
        let value = match self {
            SearchFilter::Pages => "page",
            SearchFilter::DataSources => "data_source",
        };
        json!({ "property": "object", "value": value })
    }
}

/// Where appended blocks go among the parent's children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    End,
    Start,
    AfterBlock(NotionId),
}

impl Position {
    pub fn to_json(&self) -> Value {
        match self {
            Position::End => json!({ "type": "end" }),
            Position::Start => json!({ "type": "start" }),
            Position::AfterBlock(id) => {
                json!({ "type": "after_block", "after_block": { "id": id.as_str() } })
            }
        }
    }
}

/// A new page's parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parent {
    Page(NotionId),
    DataSource(NotionId),
}

impl Parent {
    pub fn to_json(&self) -> Value {
        match self {
            Parent::Page(id) => json!({ "type": "page_id", "page_id": id.as_str() }),
            Parent::DataSource(id) => {
                json!({ "type": "data_source_id", "data_source_id": id.as_str() })
            }
        }
    }
}

/// A `title` property value with `text` as its content.
pub fn title_property(text: &str) -> Value {
    json!({ "title": [ { "type": "text", "text": { "content": text } } ] })
}

/// `properties` of a page under a page: only its title.
pub fn title_property_map(text: &str) -> Value {
    json!({ "title": title_property(text) })
}
