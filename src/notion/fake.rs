//! A fake Notion: an in-memory HTTP server speaking Notion's JSON for the
//! endpoints Switchyard uses, and enforcing Notion's rules: the
//! `Notion-Version` header, the bearer token, cursor pagination (at most 100
//! per page), the request limits (100 per array, 2000 characters per text
//! item, two levels of nesting, 1000 blocks and 500 KB per request; a
//! table made with its rows, as wide as it, a column list with two columns
//! or more, each with a block: 400 `validation_error` with Notion's kind
//! of message), rate limiting (429 +
//! `Retry-After`), and `last_edited_time` rounded down to the minute.
//!
//! For tests it injects faults (the next calls answer 500/503/529/409,
//! hang, or drop the connection, each either before or after doing the
//! work) and has an admin API (`/_admin/...`, no token) to change pages and
//! blocks "as a person in Notion would". Tests in this process use
//! `FakeNotion`'s methods directly; `switchyard notion-fake` serves it for
//! trying the mirror without an account (`make notion-fake`).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, DurationRound, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::blocks::{utf16_len, MAX_ARRAY, MAX_BLOCKS_PER_REQUEST, MAX_TEXT_CHARS};
use crate::domain::notion_id::NotionId;

/// Notion's limit on a request body; the client keeps a margin below it.
const MAX_BODY_BYTES: usize = 500 * 1024;

/// What the next call answers instead of (or after) doing its work.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer this status (500, 502, 503, 504, 529, 409…) with Notion's
    /// error body; nothing is done.
    Status { status: u16 },
    /// Do the work, then answer this status with Notion's error body: what
    /// a 503 after Notion's 60-second limit, or a 500/502/504 on the way
    /// back, can be.
    StatusAfterWork { status: u16 },
    /// Wait this long before answering (past the client's timeout);
    /// with `apply`, the work is done first.
    Hang {
        millis: u64,
        #[serde(default)]
        apply: bool,
    },
    /// Close the connection without a complete answer; with `apply`, the
    /// work is done first (the answer is lost on the way back).
    Drop {
        #[serde(default)]
        apply: bool,
    },
}

/// 429 once more than `requests` arrive within `window`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RateLimit {
    pub requests: u32,
    pub window_ms: u64,
    /// The `Retry-After` sent (seconds).
    pub retry_after_secs: u32,
}

/// One request the fake received (for tests to count and inspect).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub body: Value,
}

#[derive(Clone, Debug)]
struct Node {
    /// `page` or a block type.
    kind: String,
    /// For a block: its type's object, without `children`. For a page:
    /// `{}`.
    body: Value,
    parent: Value,
    properties: Map<String, Value>,
    in_trash: bool,
    created: DateTime<Utc>,
    edited: DateTime<Utc>,
    /// Who last edited it: the integration's bot (API calls) or a person
    /// (the admin API).
    edited_by: NotionId,
    children: Vec<NotionId>,
}

#[derive(Clone, Debug)]
struct DataSourceRecord {
    name: String,
    database: NotionId,
    properties: Map<String, Value>,
}

#[derive(Default)]
struct World {
    nodes: HashMap<NotionId, Node>,
    databases: HashMap<NotionId, (String, Value, Vec<NotionId>)>,
    data_sources: HashMap<NotionId, DataSourceRecord>,
    users: Vec<Value>,
    faults: VecDeque<Fault>,
    rate_limit: Option<RateLimit>,
    recent: VecDeque<tokio::time::Instant>,
    log: Vec<Logged>,
    counter: u64,
    /// The person the admin API edits as.
    person: Option<NotionId>,
    /// Property edits a person makes the moment a page's blocks are next
    /// listed (`edit_when_listed`).
    edits_when_listed: Vec<(NotionId, Map<String, Value>)>,
    /// Block edits a person makes the moment the next block is written
    /// (`edit_block_on_next_write`).
    edits_on_write: Vec<(NotionId, Value)>,
}

/// A block's content replaced as a person would; false: no such block.
fn person_edits_block(w: &mut World, block: &NotionId, body: Value) -> bool {
    let by = w.person.clone().unwrap_or_else(bot_id);
    let Some(node) = w.nodes.get_mut(block) else {
        return false;
    };
    node.body = normalise_body(body);
    touch(w, block, &by);
    true
}

/// A page's properties set as a person would. Err: why Notion would
/// refuse them.
fn person_sets_properties(
    w: &mut World,
    page: &NotionId,
    properties: &Map<String, Value>,
) -> Result<(), String> {
    let by = w.person.clone().unwrap_or_else(bot_id);
    set_properties(w, page, properties)?;
    touch(w, page, &by);
    Ok(())
}

/// Applies the block edits a test scheduled for the next block write.
fn person_edits_blocks(w: &mut World) {
    for (block, body) in std::mem::take(&mut w.edits_on_write) {
        person_edits_block(w, &block, body);
    }
}

fn bot_id() -> NotionId {
    NotionId::from_u128(0xb07)
}

/// The fake's state, shared by its server and the tests holding it.
#[derive(Clone)]
pub struct FakeNotion {
    token: Arc<String>,
    world: Arc<Mutex<World>>,
    bot_id: NotionId,
}

/// A running fake: its address, and the fake to drive it with.
pub struct RunningFake {
    pub fake: FakeNotion,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RunningFake {
    /// `http://127.0.0.1:PORT`, for `NOTION_API_BASE`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningFake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An error answer, as Notion words it (`object: "error"`).
#[derive(Debug)]
pub struct Refusal {
    status: u16,
    code: &'static str,
    message: String,
    /// `Retry-After` (seconds), on a 429.
    retry_after: Option<u32>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = error(self.status, self.code, self.message);
        if let Some(secs) = self.retry_after {
            if let Ok(v) = secs.to_string().parse() {
                response.headers_mut().insert("retry-after", v);
            }
        }
        response
    }
}

fn refuse(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
        retry_after: None,
    }
}

type Reply = Result<Response, Refusal>;

impl FakeNotion {
    /// An empty workspace accepting `token`, with one person and the
    /// integration's bot user.
    pub fn new(token: &str) -> Self {
        let fake = Self {
            token: Arc::new(token.to_string()),
            world: Arc::new(Mutex::new(World::default())),
            bot_id: NotionId::from_u128(0xb07),
        };
        {
            let mut w = fake.lock();
            let bot = fake.bot_id.clone();
            w.users
                .push(json!({ "object": "user", "id": bot, "type": "bot",
                "name": "Switchyard", "avatar_url": null, "bot": {} }));
        }
        let dana = fake.add_user("Dana Person", "dana@example.com");
        fake.lock().person = Some(dana);
        fake
    }

    /// Serves the fake on `addr` (port 0: any free port) until dropped.
    pub async fn start(self, addr: SocketAddr) -> std::io::Result<RunningFake> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = self.router();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the fake Notion stopped");
            }
        });
        Ok(RunningFake {
            fake: self,
            addr,
            task,
        })
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves the world usable.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The router: Notion's endpoints under `/v1`, the admin API under
    /// `/_admin`.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/v1/search", post(search))
            .route("/v1/pages", post(create_page))
            .route("/v1/pages/{id}", get(retrieve_page).patch(update_page))
            .route(
                "/v1/blocks/{id}/children",
                get(block_children).patch(append_children),
            )
            .route("/v1/blocks/{id}", patch(update_block).delete(delete_block))
            .route("/v1/databases/{id}", get(retrieve_database))
            .route("/v1/data_sources/{id}", get(retrieve_data_source))
            .route("/v1/data_sources/{id}/query", post(query_data_source))
            .route("/v1/users", get(list_users))
            .fallback(unknown_endpoint)
            .layer(axum::middleware::from_fn_with_state(self.clone(), gate));
        let admin = Router::new()
            .route("/_admin/pages", post(admin_add_page))
            .route("/_admin/pages/{id}", get(admin_page_tree))
            .route(
                "/_admin/pages/{id}/properties",
                patch(admin_edit_properties),
            )
            .route("/_admin/pages/{id}/trash", post(admin_trash_page))
            .route("/_admin/data_sources/{id}/rows", post(admin_add_row))
            .route(
                "/_admin/blocks/{id}",
                patch(admin_edit_block).delete(admin_delete_block),
            )
            .route("/_admin/blocks/{id}/children", post(admin_add_children))
            .route("/_admin/databases", post(admin_add_database))
            .route("/_admin/faults", post(admin_faults))
            .route("/_admin/rate_limit", post(admin_rate_limit))
            .route(
                "/_admin/requests",
                get(admin_requests).delete(admin_clear_requests),
            );
        api.merge(admin).with_state(self.clone())
    }

    // ---- what tests (and the admin API) do -------------------------------

    /// Queues faults for the next calls, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.extend(faults);
    }

    /// Faults not yet used.
    pub fn pending_faults(&self) -> usize {
        self.lock().faults.len()
    }

    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        let mut w = self.lock();
        w.rate_limit = limit;
        w.recent.clear();
    }

    /// Every request so far (admin calls excepted).
    pub fn requests(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    pub fn add_user(&self, name: &str, email: &str) -> NotionId {
        let mut w = self.lock();
        let id = mint(&mut w);
        w.users.push(
            json!({ "object": "user", "id": id, "type": "person", "name": name,
            "avatar_url": null, "person": { "email": email } }),
        );
        id
    }

    /// A page made by a person: at the workspace's top level or under
    /// `parent`, with `content` (request-format blocks, any depth).
    pub fn add_page(
        &self,
        parent: Option<&NotionId>,
        title: &str,
        content: Vec<Value>,
    ) -> NotionId {
        let mut w = self.lock();
        let parent_json = match parent {
            Some(p) => json!({ "type": "page_id", "page_id": p }),
            None => json!({ "type": "workspace", "workspace": true }),
        };
        let mut properties = Map::new();
        properties.insert("title".into(), title_value(title));
        let id = insert_page(&mut w, parent_json, properties);
        insert_blocks(&mut w, &id, content, None);
        id
    }

    /// A database with one data source of `schema` (property name →
    /// property object, e.g. `{"Name": {"title": {}}}`) under `parent`.
    pub fn add_database(
        &self,
        parent: &NotionId,
        title: &str,
        schema: Map<String, Value>,
    ) -> (NotionId, NotionId) {
        let mut w = self.lock();
        let db = mint(&mut w);
        let ds = mint(&mut w);
        let mut properties = Map::new();
        for (name, mut prop) in schema {
            if let Value::Object(obj) = &mut prop {
                let kind = obj.keys().find(|k| *k != "id" && *k != "name").cloned();
                obj.insert("id".into(), json!(name.clone()));
                obj.insert("name".into(), json!(name.clone()));
                if let Some(kind) = kind {
                    if let Some(Value::Array(options)) =
                        obj.get_mut(&kind).and_then(|k| k.get_mut("options"))
                    {
                        for o in options.iter_mut() {
                            let n = o.get("name").and_then(Value::as_str).unwrap_or_default();
                            let id = format!("opt-{}", norm_option(n));
                            o["id"] = json!(id);
                            if o.get("color").is_none() {
                                o["color"] = json!("default");
                            }
                        }
                    }
                    // `"data_source_id": "self"`: a relation to this same
                    // data source (its id is not known before).
                    if kind == "relation" {
                        if let Some(rel) = obj.get_mut("relation") {
                            if rel.get("data_source_id").and_then(Value::as_str) == Some("self") {
                                rel["data_source_id"] = json!(ds);
                                rel["database_id"] = json!(db);
                                if rel.get("type").is_none() {
                                    rel["type"] = json!("single_property");
                                    rel["single_property"] = json!({});
                                }
                            }
                        }
                    }
                    obj.insert("type".into(), json!(kind));
                }
            }
            properties.insert(name, prop);
        }
        w.databases.insert(
            db.clone(),
            (
                title.to_string(),
                json!({ "type": "page_id", "page_id": parent }),
                vec![ds.clone()],
            ),
        );
        w.data_sources.insert(
            ds.clone(),
            DataSourceRecord {
                name: title.to_string(),
                database: db.clone(),
                properties,
            },
        );
        (db, ds)
    }

    /// Sets a page's properties as a person would (values in the API's
    /// request form, checked against the data source's schema as the API
    /// checks them). Err: why Notion would refuse it.
    pub fn edit_properties(
        &self,
        page: &NotionId,
        properties: Map<String, Value>,
    ) -> Result<(), String> {
        person_sets_properties(&mut self.lock(), page, &properties)
    }

    /// Sets a page's properties as a person would (as `edit_properties`)
    /// the moment its blocks are next listed: an edit landing in the middle
    /// of a sync that reads the page, then its blocks, then writes.
    pub fn edit_when_listed(&self, page: &NotionId, properties: Map<String, Value>) {
        self.lock()
            .edits_when_listed
            .push((page.clone(), properties));
    }

    /// Moves a page (a row) to the trash, or back, as a person would.
    pub fn trash_page(&self, page: &NotionId, in_trash: bool) -> bool {
        let mut w = self.lock();
        let by = w.person.clone().unwrap_or_else(bot_id);
        match w.nodes.get_mut(page).filter(|n| n.kind == "page") {
            Some(node) => node.in_trash = in_trash,
            None => return false,
        }
        touch(&mut w, page, &by);
        true
    }

    /// A new row in data source `ds`, made by a person: `properties` in
    /// the API's request form, `content` request-format blocks.
    pub fn add_row(
        &self,
        ds: &NotionId,
        properties: Map<String, Value>,
        content: Vec<Value>,
    ) -> Result<NotionId, String> {
        let mut w = self.lock();
        let database = w
            .data_sources
            .get(ds)
            .map(|d| d.database.clone())
            .ok_or_else(|| format!("no data source {ds}"))?;
        let parent =
            json!({ "type": "data_source_id", "data_source_id": ds, "database_id": database });
        let properties = checked_properties(&mut w, Some(ds), &properties)?;
        let id = insert_page(&mut w, parent, properties);
        insert_blocks(&mut w, &id, content, None);
        let by = w.person.clone().unwrap_or_else(bot_id);
        touch(&mut w, &id, &by);
        Ok(id)
    }

    /// Replaces a block's content (its type's object, e.g.
    /// `{"rich_text": [...]}`) as a person would.
    pub fn edit_block(&self, block: &NotionId, body: Value) -> bool {
        person_edits_block(&mut self.lock(), block, body)
    }

    /// Replaces a block's content as a person would (as `edit_block`) the
    /// moment the next block is written, appended or deleted through the
    /// API: an edit landing in the middle of a sync's writes.
    pub fn edit_block_on_next_write(&self, block: &NotionId, body: Value) {
        self.lock().edits_on_write.push((block.clone(), body));
    }

    /// Moves a block to the trash as a person would.
    pub fn delete_block(&self, block: &NotionId) -> bool {
        let mut w = self.lock();
        let by = w.person.clone().unwrap_or_else(bot_id);
        match w.nodes.get_mut(block) {
            Some(node) => node.in_trash = true,
            None => return false,
        }
        touch(&mut w, block, &by);
        true
    }

    /// Appends blocks as a person would (no limits apply in the editor).
    pub fn add_children(&self, parent: &NotionId, content: Vec<Value>) -> Vec<NotionId> {
        let mut w = self.lock();
        if !w.nodes.contains_key(parent) {
            return Vec::new();
        }
        let ids = insert_blocks(&mut w, parent, content, None);
        let by = w.person.clone().unwrap_or_else(bot_id);
        touch(&mut w, parent, &by);
        ids
    }

    /// A page's (or block's) live children ids, in order.
    pub fn children_ids(&self, parent: &NotionId) -> Vec<NotionId> {
        let w = self.lock();
        live_children(&w, parent)
    }

    /// A page or block with its content, nested (`children` inline), as the
    /// API shows each block.
    pub fn tree(&self, id: &NotionId) -> Option<Value> {
        let w = self.lock();
        let node = w.nodes.get(id)?;
        let mut out = if node.kind == "page" {
            page_json(&w, id, node)
        } else {
            block_json(&w, id, node)
        };
        out["children"] = Value::Array(tree_children(&w, id));
        Some(out)
    }

    /// Every page (not in the trash) whose title is `title`.
    pub fn pages_titled(&self, title: &str) -> Vec<NotionId> {
        let w = self.lock();
        let mut ids: Vec<NotionId> = w
            .nodes
            .iter()
            .filter(|(_, n)| n.kind == "page" && !n.in_trash && page_title(n) == title)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }
}

fn mint(w: &mut World) -> NotionId {
    w.counter += 1;
    let random: u64 = rand::random();
    NotionId::from_u128((u128::from(random) << 64) | u128::from(w.counter))
}

/// Marks `id` edited by `by` now, and the page it is in (editing a block
/// edits its page, as in Notion).
fn touch(w: &mut World, id: &NotionId, by: &NotionId) {
    let now = Utc::now();
    let mut at = Some(id.clone());
    while let Some(current) = at.take() {
        let Some(node) = w.nodes.get_mut(&current) else {
            break;
        };
        node.edited = now;
        node.edited_by = by.clone();
        if node.kind == "page" {
            break;
        }
        at = ["block_id", "page_id"]
            .iter()
            .find_map(|k| node.parent.get(*k).and_then(Value::as_str))
            .and_then(|p| NotionId::parse(p).ok());
    }
}

/// The schema of the data source page `page` is a row of.
fn schema_of(w: &World, page: &NotionId) -> Option<NotionId> {
    w.nodes
        .get(page)?
        .parent
        .get("data_source_id")
        .and_then(Value::as_str)
        .and_then(|d| NotionId::parse(d).ok())
}

/// Sets a page's properties from request-form values, checked and
/// normalised against its data source's schema as Notion does (a status
/// must be one of its options; a new select option is added; people must
/// exist). Err: Notion's validation message.
fn set_properties(
    w: &mut World,
    page: &NotionId,
    properties: &Map<String, Value>,
) -> Result<(), String> {
    let ds = schema_of(w, page);
    let values = checked_properties(w, ds.as_ref(), properties)?;
    let node = w
        .nodes
        .get_mut(page)
        .filter(|n| n.kind == "page")
        .ok_or_else(|| format!("Could not find page with ID: {page}."))?;
    for (name, value) in values {
        node.properties.insert(name, value);
    }
    Ok(())
}

/// Property values as stored, for a page of data source `ds` (None: a
/// page under a page).
fn checked_properties(
    w: &mut World,
    ds: Option<&NotionId>,
    properties: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let mut values = Map::new();
    for (name, value) in properties {
        values.insert(name.clone(), property_value(w, ds, name, value)?);
    }
    Ok(values)
}

const VALUE_KINDS: [&str; 7] = [
    "title",
    "rich_text",
    "select",
    "status",
    "multi_select",
    "people",
    "relation",
];

/// One property value as Notion stores and returns it.
fn property_value(
    w: &mut World,
    ds: Option<&NotionId>,
    name: &str,
    value: &Value,
) -> Result<Value, String> {
    let schema = ds
        .and_then(|d| w.data_sources.get(d))
        .map(|d| d.properties.get(name).cloned());
    let kind = match &schema {
        Some(None) => return Err(format!("{name} is not a property that exists.")),
        Some(Some(prop)) => prop
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        None => VALUE_KINDS
            .iter()
            .find(|k| value.get(**k).is_some())
            .map(|k| k.to_string())
            .unwrap_or_default(),
    };
    let Some(raw) = value.get(&kind) else {
        return Err(format!("{name} is expected to be {kind}."));
    };
    let options = |w: &World| -> Vec<Value> {
        ds.and_then(|d| w.data_sources.get(d))
            .and_then(|d| d.properties.get(name))
            .and_then(|p| p.get(&kind))
            .and_then(|k| k.get("options"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let option = |w: &mut World, v: &Value| -> Result<Value, String> {
        let Some(wanted) = v.get("name").and_then(Value::as_str) else {
            return Err(format!("{name}.{kind}.name should be defined."));
        };
        if let Some(found) = options(w)
            .into_iter()
            .find(|o| o.get("name").and_then(Value::as_str) == Some(wanted))
        {
            return Ok(found);
        }
        if kind == "status" && ds.is_some() {
            return Err(format!(
                "Invalid status option. Status option \"{wanted}\" does not exist."
            ));
        }
        // A select takes a new option (added to the schema).
        let option = json!({ "id": format!("opt-{}", norm_option(wanted)), "name": wanted, "color": "default" });
        if let Some(prop) = ds
            .and_then(|d| w.data_sources.get_mut(d))
            .and_then(|d| d.properties.get_mut(name))
        {
            if let Some(Value::Array(list)) = prop.pointer_mut(&format!("/{kind}/options")) {
                list.push(option.clone());
            }
        }
        Ok(option)
    };
    let normalised = match kind.as_str() {
        "title" | "rich_text" => Value::Array(
            raw.as_array()
                .map(|items| items.iter().map(normalise_rich_text).collect())
                .unwrap_or_default(),
        ),
        "select" | "status" => match raw {
            Value::Null => Value::Null,
            v => option(w, v)?,
        },
        "multi_select" => Value::Array(
            raw.as_array()
                .into_iter()
                .flatten()
                .map(|v| option(w, v))
                .collect::<Result<_, _>>()?,
        ),
        "people" => {
            let mut out = Vec::new();
            for person in raw.as_array().into_iter().flatten() {
                let id = person.get("id").and_then(Value::as_str).unwrap_or_default();
                let user = w
                    .users
                    .iter()
                    .find(|u| u.get("id").and_then(Value::as_str) == Some(id))
                    .cloned()
                    .ok_or_else(|| format!("Could not find user with ID: {id}."))?;
                out.push(user);
            }
            Value::Array(out)
        }
        "relation" => Value::Array(
            raw.as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("id").and_then(Value::as_str))
                .filter_map(|id| NotionId::parse(id).ok())
                .map(|id| json!({ "id": id }))
                .collect(),
        ),
        _ => raw.clone(),
    };
    let mut out = json!({ "id": name, "type": kind });
    out[kind.as_str()] = normalised;
    if kind == "relation" {
        out["has_more"] = json!(false);
    }
    Ok(out)
}

fn norm_option(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn title_value(title: &str) -> Value {
    json!({ "id": "title", "type": "title", "title": [ text_item(title) ] })
}

fn text_item(content: &str) -> Value {
    json!({ "type": "text", "text": { "content": content, "link": null },
        "annotations": { "bold": false, "italic": false, "strikethrough": false,
                         "underline": false, "code": false, "color": "default" },
        "plain_text": content, "href": null })
}

/// A rich-text item as Notion returns it (defaults filled in).
fn normalise_rich_text(item: &Value) -> Value {
    let content = item
        .get("text")
        .and_then(|t| t.get("content"))
        .and_then(Value::as_str)
        .or_else(|| item.get("plain_text").and_then(Value::as_str))
        .unwrap_or_default();
    let link = item
        .get("text")
        .and_then(|t| t.get("link"))
        .cloned()
        .filter(|l| !l.is_null());
    let mut out = text_item(content);
    if let Some(annotations) = item.get("annotations").and_then(Value::as_object) {
        for (k, v) in annotations {
            out["annotations"][k] = v.clone();
        }
    }
    if let Some(link) = link {
        out["href"] = link.get("url").cloned().unwrap_or(Value::Null);
        out["text"]["link"] = link;
    }
    out
}

fn normalise_body(mut body: Value) -> Value {
    if let Value::Object(fields) = &mut body {
        fields.remove("children");
        for key in ["rich_text", "caption"] {
            if let Some(Value::Array(items)) = fields.get_mut(key) {
                *items = items.iter().map(normalise_rich_text).collect();
            }
        }
        if let Some(Value::Array(cells)) = fields.get_mut("cells") {
            for cell in cells {
                if let Value::Array(items) = cell {
                    *items = items.iter().map(normalise_rich_text).collect();
                }
            }
        }
        if !fields.contains_key("color") && (fields.contains_key("rich_text")) {
            fields.insert("color".into(), json!("default"));
        }
    }
    body
}

fn insert_page(w: &mut World, parent: Value, properties: Map<String, Value>) -> NotionId {
    let id = mint(w);
    let now = Utc::now();
    let title = properties
        .values()
        .find(|p| p.get("title").is_some())
        .and_then(|p| p.get("title"))
        .map(super::wire::plain_text_of)
        .unwrap_or_default();
    let parent_page = parent
        .get("page_id")
        .and_then(Value::as_str)
        .and_then(|p| NotionId::parse(p).ok());
    w.nodes.insert(
        id.clone(),
        Node {
            kind: "page".into(),
            body: json!({}),
            parent,
            properties,
            in_trash: false,
            created: now,
            edited: now,
            edited_by: bot_id(),
            children: Vec::new(),
        },
    );
    // A page under a page is also a `child_page` block of its parent.
    if let Some(parent_page) = parent_page {
        let block = Node {
            kind: "child_page".into(),
            body: json!({ "title": title }),
            parent: json!({ "type": "page_id", "page_id": parent_page }),
            properties: Map::new(),
            in_trash: false,
            created: now,
            edited: now,
            edited_by: bot_id(),
            children: Vec::new(),
        };
        // The block shares the page's id; its children are the page's.
        if let Some(parent) = w.nodes.get_mut(&parent_page) {
            parent.children.push(id.clone());
        }
        w.nodes.insert(child_page_key(&id), block);
    }
    id
}

/// Where the `child_page` block of page `id` is kept (the page itself is
/// under `id`).
fn child_page_key(id: &NotionId) -> NotionId {
    // Not a real id: a shifted copy, never handed out by `mint` (whose low
    // half counts from 1, and whose high half is random).
    let compact = id.compact();
    let flipped: String = compact
        .chars()
        .map(|c| match c.to_digit(16) {
            Some(d) => std::char::from_digit(15 - d, 16).unwrap_or('0'),
            None => c,
        })
        .collect();
    NotionId::parse(&flipped).unwrap_or_else(|_| id.clone())
}

/// Inserts request-format blocks under `parent` (at `after`'s position, or
/// the end), recursively; returns the top-level ids in order.
fn insert_blocks(
    w: &mut World,
    parent: &NotionId,
    content: Vec<Value>,
    after: Option<Insert>,
) -> Vec<NotionId> {
    let now = Utc::now();
    let parent_json = match w.nodes.get(parent) {
        Some(n) if n.kind == "page" => json!({ "type": "page_id", "page_id": parent }),
        _ => json!({ "type": "block_id", "block_id": parent }),
    };
    let mut ids = Vec::new();
    for mut block in content {
        let kind = block
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("paragraph")
            .to_string();
        let children = super::blocks::take_children(&mut block);
        let body = normalise_body(block.get(&kind).cloned().unwrap_or_else(|| json!({})));
        let id = mint(w);
        w.nodes.insert(
            id.clone(),
            Node {
                kind,
                body,
                parent: parent_json.clone(),
                properties: Map::new(),
                in_trash: false,
                created: now,
                edited: now,
                edited_by: bot_id(),
                children: Vec::new(),
            },
        );
        insert_blocks(w, &id, children, None);
        ids.push(id);
    }
    if let Some(node) = w.nodes.get_mut(parent) {
        let at = match &after {
            None | Some(Insert::End) => node.children.len(),
            Some(Insert::Start) => 0,
            Some(Insert::After(prev)) => node
                .children
                .iter()
                .position(|c| c == prev)
                .map_or(node.children.len(), |i| i + 1),
        };
        for (i, id) in ids.iter().enumerate() {
            node.children.insert(at + i, id.clone());
        }
        node.edited = now;
    }
    ids
}

enum Insert {
    End,
    Start,
    After(NotionId),
}

fn live_children(w: &World, parent: &NotionId) -> Vec<NotionId> {
    w.nodes
        .get(parent)
        .map(|n| {
            n.children
                .iter()
                .filter(|c| {
                    let key = if w.nodes.get(*c).is_some_and(|n| n.kind == "page") {
                        child_page_key(c)
                    } else {
                        (*c).clone()
                    };
                    w.nodes.get(&key).is_some_and(|n| !n.in_trash)
                        && w.nodes.get(*c).is_some_and(|n| !n.in_trash)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Notion shows times to the minute, rounded down.
fn minute(t: DateTime<Utc>) -> String {
    t.duration_trunc(chrono::TimeDelta::minutes(1))
        .unwrap_or(t)
        .format("%Y-%m-%dT%H:%M:00.000Z")
        .to_string()
}

fn page_title(node: &Node) -> String {
    node.properties
        .values()
        .find(|p| p.get("type").and_then(Value::as_str) == Some("title"))
        .and_then(|p| p.get("title"))
        .map(super::wire::plain_text_of)
        .unwrap_or_default()
}

fn user_ref(id: &NotionId) -> Value {
    json!({ "object": "user", "id": id })
}

/// Most related pages a relation property lists in a page object; past
/// it, `has_more` says there are more. (Notion lists them all from its
/// page property endpoint, which the fake does not serve.)
const RELATION_ITEMS_IN_PAGE: usize = 25;

fn page_json(w: &World, id: &NotionId, node: &Node) -> Value {
    let _ = w;
    let bot = bot_id();
    let mut properties = node.properties.clone();
    for value in properties.values_mut() {
        if let Some(Value::Array(related)) = value.get_mut("relation") {
            let more = related.len() > RELATION_ITEMS_IN_PAGE;
            related.truncate(RELATION_ITEMS_IN_PAGE);
            value["has_more"] = json!(more);
        }
    }
    json!({
        "object": "page", "id": id,
        "created_time": minute(node.created), "last_edited_time": minute(node.edited),
        "created_by": user_ref(&bot), "last_edited_by": user_ref(&node.edited_by),
        "cover": null, "icon": null, "parent": node.parent, "in_trash": node.in_trash,
        "is_locked": false, "properties": properties,
        "url": format!("https://www.notion.so/{}-{}", slug(&page_title(node)), id.compact()),
        "public_url": null,
    })
}

fn slug(title: &str) -> String {
    let s: String = title
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let s = s
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if s.is_empty() {
        "Untitled".into()
    } else {
        s
    }
}

fn block_json(w: &World, id: &NotionId, node: &Node) -> Value {
    let bot = bot_id();
    let has_children = !live_children(w, id).is_empty();
    let mut out = json!({
        "object": "block", "id": id, "parent": node.parent,
        "created_time": minute(node.created), "last_edited_time": minute(node.edited),
        "created_by": user_ref(&bot), "last_edited_by": user_ref(&node.edited_by),
        "has_children": has_children, "in_trash": node.in_trash, "type": node.kind,
    });
    out[node.kind.as_str()] = node.body.clone();
    out
}

/// A child as its parent's list shows it: a block, or a page's `child_page`
/// block (same id).
fn child_json(w: &World, id: &NotionId) -> Option<Value> {
    let node = w.nodes.get(id)?;
    if node.kind == "page" {
        let block = w.nodes.get(&child_page_key(id))?;
        let mut out = block_json(w, id, block);
        out["has_children"] = json!(!live_children(w, id).is_empty());
        Some(out)
    } else {
        Some(block_json(w, id, node))
    }
}

fn tree_children(w: &World, parent: &NotionId) -> Vec<Value> {
    live_children(w, parent)
        .iter()
        .filter_map(|c| {
            let mut out = child_json(w, c)?;
            if w.nodes.get(c).is_some_and(|n| n.kind != "page") {
                out["children"] = Value::Array(tree_children(w, c));
            }
            Some(out)
        })
        .collect()
}

// ---- errors as Notion words them -----------------------------------------

fn error(status: u16, code: &str, message: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = format!("{:08x}", rand::random::<u32>());
    (
        status,
        Json(
            json!({ "object": "error", "status": status.as_u16(), "code": code,
        "message": message.into(), "request_id": request_id }),
        ),
    )
        .into_response()
}

fn validation(message: impl Into<String>) -> Refusal {
    refuse(400, "validation_error", message)
}

fn not_found(kind: &str, id: &str) -> Refusal {
    refuse(404, "object_not_found", format!(
        "Could not find {kind} with ID: {id}. Make sure the relevant pages and databases are shared with your integration."))
}

fn status_code_name(status: u16) -> (&'static str, &'static str) {
    match status {
        409 => (
            "conflict_error",
            "Conflict occurred while saving. Please try again.",
        ),
        502 => ("bad_gateway", "Bad gateway."),
        503 => (
            "service_unavailable",
            "Notion is unavailable. Please try again later.",
        ),
        504 => (
            "gateway_timeout",
            "Notion timed out while completing this request. Please try again later.",
        ),
        529 => (
            "service_unavailable",
            "Notion is overloaded. Please try again later.",
        ),
        _ => ("internal_server_error", "Unexpected error occurred."),
    }
}

fn parse_id(kind: &str, raw: &str) -> Result<NotionId, Refusal> {
    NotionId::parse(raw).map_err(|_| {
        validation(
            format!(
        "path failed validation: path.{kind}_id should be a valid uuid, instead was `\"{raw}\"`."),
        )
    })
}

// ---- the gate every API call passes ---------------------------------------

async fn gate(
    State(fake): State<FakeNotion>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return validation("Request body too large.").into_response(),
    };
    // Logged on arrival (a hung call shows at once), its status when done.
    let entry = {
        let mut w = fake.lock();
        w.log.push(Logged {
            method,
            path,
            status: 0,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        });
        w.log.len() - 1
    };
    let response = match gate_checks(&fake, &parts.headers, &parts.method, &bytes) {
        Err(refusal) => refusal.into_response(),
        Ok(fault) => {
            let request = Request::from_parts(parts, Body::from(bytes));
            match fault {
                None => next.run(request).await,
                Some(Fault::Status { status }) => {
                    let (code, message) = status_code_name(status);
                    error(status, code, message)
                }
                Some(Fault::StatusAfterWork { status }) => {
                    let _ = next.run(request).await;
                    let (code, message) = status_code_name(status);
                    error(status, code, message)
                }
                Some(Fault::Hang { millis, apply }) => {
                    let answer = if apply {
                        Some(next.run(request).await)
                    } else {
                        None
                    };
                    tokio::time::sleep(Duration::from_millis(millis)).await;
                    answer.unwrap_or_else(|| error(504, "gateway_timeout", "Notion timed out."))
                }
                Some(Fault::Drop { apply }) => {
                    if apply {
                        let _ = next.run(request).await;
                    }
                    dropped_connection()
                }
            }
        }
    };
    if let Some(logged) = fake.lock().log.get_mut(entry) {
        logged.status = response.status().as_u16();
    }
    response
}

/// Headers, then a body that fails: the server aborts the connection
/// mid-answer, as a dropped connection looks to the client.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault: dropped",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("content-length", "1000")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn gate_checks(
    fake: &FakeNotion,
    headers: &HeaderMap,
    method: &Method,
    body: &Bytes,
) -> Result<Option<Fault>, Refusal> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth.strip_prefix("Bearer ") != Some(fake.token.as_str()) {
        return Err(refuse(401, "unauthorized", "API token is invalid."));
    }
    match headers.get("notion-version").and_then(|v| v.to_str().ok()) {
        None => return Err(refuse(400, "missing_version",
            "Notion-Version header failed validation: Notion-Version header should be defined, instead was `undefined`.")),
        Some(v) if !is_date(v) => return Err(validation(format!(
            "Notion-Version header failed validation: Notion-Version header should be a valid version, instead was `\"{v}\"`."))),
        Some(_) => {}
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(validation(format!(
            "Request body too large: {} bytes; the limit is 500KB overall.",
            body.len()
        )));
    }
    if *method != Method::GET && !body.is_empty() && serde_json::from_slice::<Value>(body).is_err()
    {
        return Err(refuse(400, "invalid_json", "Error parsing JSON body."));
    }
    let mut w = fake.lock();
    if let Some(limit) = w.rate_limit.clone() {
        let now = tokio::time::Instant::now();
        let window = Duration::from_millis(limit.window_ms);
        while w
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            w.recent.pop_front();
        }
        if w.recent.len() >= limit.requests as usize {
            let mut refusal = refuse(
                429,
                "rate_limited",
                "You have been rate limited. Please try again in a few minutes.",
            );
            refusal.retry_after = Some(limit.retry_after_secs);
            return Err(refusal);
        }
        w.recent.push_back(now);
    }
    Ok(w.faults.pop_front())
}

fn is_date(v: &str) -> bool {
    v.len() == 10
        && v.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

async fn unknown_endpoint(method: Method, uri: axum::http::Uri) -> Response {
    error(
        400,
        "invalid_request_url",
        format!("Invalid request URL: {method} {}", uri.path()),
    )
}

// ---- request validation ---------------------------------------------------

/// Block types that cannot have children.
const CHILDLESS: &[&str] = &[
    "table_row",
    "divider",
    "code",
    "equation",
    "image",
    "video",
    "audio",
    "file",
    "pdf",
    "bookmark",
    "embed",
    "breadcrumb",
    "table_of_contents",
    "link_preview",
];

/// What a request's blocks are children of: the parent's type (`page`
/// or a block type) and, for a table, its width.
#[derive(Clone, Copy)]
struct Under<'a> {
    kind: &'a str,
    width: Option<u64>,
}

impl<'a> Under<'a> {
    const PAGE: Under<'static> = Under {
        kind: "page",
        width: None,
    };

    /// A block of type `kind` whose type object is `body`.
    fn block(kind: &'a str, body: &'a Map<String, Value>) -> Self {
        Under {
            kind,
            width: body.get("table_width").and_then(Value::as_u64),
        }
    }
}

/// Why a block of type `kind` (its type object `body`) cannot have
/// children, if it cannot: a type that never has any, or a heading that
/// is not a toggle.
fn childless(kind: &str, body: &Map<String, Value>) -> Option<String> {
    let toggle = body.get("is_toggleable").and_then(Value::as_bool) == Some(true);
    if CHILDLESS.contains(&kind) || (kind.starts_with("heading_") && !toggle) {
        Some(format!(
            "a {kind}{} cannot have children",
            if kind.starts_with("heading_") {
                " that is not a toggle"
            } else {
                ""
            }
        ))
    } else {
        None
    }
}

/// Levels of children one request may carry under its own blocks
/// (Notion's reference: "up to two levels of nesting in a single
/// request").
const LEVELS_PER_REQUEST: usize = 2;

/// Checks a request's `children` as Notion does; counts its blocks.
/// `depth` is 1 for the request's own array: blocks there may carry two
/// levels of children, no more. Block types Notion only creates with
/// children (a table with its rows, a column list with two columns or
/// more, a column with a block) must have them; table rows go only in a
/// table, as wide as it, and columns only in a column list.
fn check_children(
    children: &Value,
    path: &str,
    depth: usize,
    count: &mut usize,
    under: Under<'_>,
) -> Result<(), String> {
    let Some(items) = children.as_array() else {
        return Err(format!(
            "body failed validation: {path} should be an array, instead was `{}`.",
            short(children)
        ));
    };
    if items.len() > MAX_ARRAY {
        return Err(format!(
            "body failed validation: {path}.length should be ≤ `{MAX_ARRAY}`, instead was `{}`.",
            items.len()
        ));
    }
    for (i, block) in items.iter().enumerate() {
        *count += 1;
        let here = format!("{path}[{i}]");
        let Some(kind) = block.get("type").and_then(Value::as_str).or_else(|| {
            block
                .as_object()
                .and_then(|o| o.keys().find(|k| *k != "object" && *k != "type"))
                .map(String::as_str)
        }) else {
            return Err(format!(
                "body failed validation: {here} should be a block object, instead was `{}`.",
                short(block)
            ));
        };
        let Some(body) = block.get(kind).and_then(Value::as_object) else {
            return Err(format!(
                "body failed validation: {here}.{kind} should be defined, instead was `undefined`."
            ));
        };
        for key in ["rich_text", "caption"] {
            if let Some(items) = body.get(key) {
                check_rich_text(items, &format!("{here}.{kind}.{key}"))?;
            }
        }
        if let Some(Value::Array(cells)) = body.get("cells") {
            for (c, cell) in cells.iter().enumerate() {
                check_rich_text(cell, &format!("{here}.{kind}.cells[{c}]"))?;
            }
        }
        let only = match under.kind {
            "table" => Some("table_row"),
            "column_list" => Some("column"),
            _ => None,
        };
        if let Some(only) = only.filter(|o| *o != kind) {
            return Err(format!(
                "body failed validation: {here} is a {kind}; a {} can only hold {only} blocks.",
                under.kind
            ));
        }
        match kind {
            "table_row" => {
                if under.kind != "table" {
                    return Err(format!(
                        "body failed validation: {here} is a table_row; table rows can only be children of a table, not of a {}.",
                        under.kind
                    ));
                }
                let cells = body
                    .get("cells")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                if let Some(width) = under.width.filter(|w| *w != cells as u64) {
                    return Err(format!(
                        "body failed validation: {here}.table_row.cells.length should be `{width}` (the table's width), instead was `{cells}`."
                    ));
                }
            }
            "column" if under.kind != "column_list" => {
                return Err(format!(
                    "body failed validation: {here} is a column; columns can only be children of a column_list, not of a {}.",
                    under.kind
                ));
            }
            "table"
                if body
                    .get("table_width")
                    .and_then(Value::as_u64)
                    .is_none_or(|w| w < 1) =>
            {
                return Err(format!(
                    "body failed validation: {here}.table.table_width should be a number ≥ `1`, instead was `{}`.",
                    body.get("table_width").map_or("undefined".to_string(), short)
                ));
            }
            _ => {}
        }
        let least = match kind {
            "table" | "column" => 1,
            "column_list" => 2,
            _ => 0,
        };
        let nested_len = body
            .get("children")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if nested_len < least {
            return Err(format!(
                "body failed validation: {here}.{kind}.children should have at least `{least}` item{} when the {kind} is created, instead had `{nested_len}`.",
                if least == 1 { "" } else { "s" }
            ));
        }
        if let Some(nested) = body.get("children") {
            if let Some(why) = childless(kind, body) {
                return Err(format!(
                    "body failed validation: {here}.{kind}.children should be not present: {why}."
                ));
            }
            if depth > LEVELS_PER_REQUEST {
                return Err(format!(
                    "body failed validation: {here}.{kind}.children should be not present, instead was `{}`.", short(nested)));
            }
            let under = Under::block(kind, body);
            check_children(
                nested,
                &format!("{here}.{kind}.children"),
                depth + 1,
                count,
                under,
            )?;
        }
    }
    Ok(())
}

fn check_rich_text(items: &Value, path: &str) -> Result<(), String> {
    let Some(items) = items.as_array() else {
        return Err(format!(
            "body failed validation: {path} should be an array, instead was `{}`.",
            short(items)
        ));
    };
    if items.len() > MAX_ARRAY {
        return Err(format!(
            "body failed validation: {path}.length should be ≤ `{MAX_ARRAY}`, instead was `{}`.",
            items.len()
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if let Some(content) = item
            .get("text")
            .and_then(|t| t.get("content"))
            .and_then(Value::as_str)
        {
            let len = utf16_len(content);
            if len > MAX_TEXT_CHARS {
                return Err(format!(
                    "body failed validation: {path}[{i}].text.content.length should be ≤ `{MAX_TEXT_CHARS}`, instead was `{len}`."));
            }
        }
    }
    Ok(())
}

/// Checks property values as Notion does: their text (title, rich text) as
/// any rich text, and every other array of a value (multi-select options,
/// people, relations, files) at most 100 items.
fn check_properties(props: &Map<String, Value>) -> Result<(), Refusal> {
    for (name, value) in props {
        let Some(fields) = value.as_object() else {
            continue;
        };
        for (key, field) in fields {
            let path = format!("body.properties.{name}.{key}");
            if key == "title" || key == "rich_text" {
                check_rich_text(field, &path).map_err(validation)?;
            } else if let Some(items) = field.as_array().filter(|i| i.len() > MAX_ARRAY) {
                return Err(validation(format!(
                    "body failed validation: {path}.length should be ≤ `{MAX_ARRAY}`, instead was `{}`.",
                    items.len()
                )));
            }
        }
    }
    Ok(())
}

fn check_request_blocks(children: &Value, under: Under<'_>) -> Result<(), Refusal> {
    let mut count = 0;
    check_children(children, "body.children", 1, &mut count, under).map_err(validation)?;
    if count > MAX_BLOCKS_PER_REQUEST {
        return Err(validation(format!(
            "body failed validation: the request has {count} block elements; the limit is {MAX_BLOCKS_PER_REQUEST}.")));
    }
    Ok(())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(57).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

// ---- pagination -------------------------------------------------------------

#[derive(Deserialize, Default)]
struct PageQuery {
    start_cursor: Option<String>,
    page_size: Option<String>,
}

fn page_size(raw: Option<&Value>) -> Result<usize, Refusal> {
    match raw {
        None | Some(Value::Null) => Ok(MAX_ARRAY),
        Some(v) => match v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())) {
            Some(n) if (1..=MAX_ARRAY as u64).contains(&n) => Ok(n as usize),
            _ => Err(validation(format!(
                "body failed validation: body.page_size should be ≤ `{MAX_ARRAY}` and ≥ `1`, instead was `{v}`."))),
        },
    }
}

/// One page of `items` (ids paired with their JSON), cursor = next id.
fn paginate(
    items: Vec<(String, Value)>,
    cursor: Option<&str>,
    size: usize,
    list_type: &str,
) -> Result<Value, Refusal> {
    let start = match cursor {
        None => 0,
        Some(c) => items.iter().position(|(id, _)| id == c).ok_or_else(|| validation(format!(
            "body failed validation: start_cursor should be a valid cursor, instead was `\"{c}\"`.")))?,
    };
    let end = start.saturating_add(size).min(items.len());
    let next = items.get(end).map(|(id, _)| id.clone());
    let results: Vec<Value> = items[start..end].iter().map(|(_, v)| v.clone()).collect();
    let mut out = json!({ "object": "list", "results": results, "next_cursor": next,
        "has_more": next.is_some(), "type": list_type });
    out[list_type] = json!({});
    Ok(out)
}

// ---- the endpoints ------------------------------------------------------------

fn json_body(bytes: &Bytes) -> Result<Value, Refusal> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes)
        .map_err(|_| refuse(400, "invalid_json", "Error parsing JSON body."))
}

async fn search(State(fake): State<FakeNotion>, body: Bytes) -> Reply {
    (|| -> Reply {
        let body = json_body(&body)?;
        let query = body
            .get("query")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_lowercase();
        let only = body.get("filter").map(|f| {
            f.get("value")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        });
        if let Some(only) = &only {
            if only != "page" && only != "data_source" {
                return Err(validation(format!(
                    "body failed validation: body.filter.value should be `\"page\"` or `\"data_source\"`, instead was `\"{only}\"`.")));
            }
        }
        let size = page_size(body.get("page_size"))?;
        let w = fake.lock();
        let mut hits: Vec<(DateTime<Utc>, String, Value)> = Vec::new();
        if only.as_deref() != Some("data_source") {
            for (id, node) in &w.nodes {
                if node.kind == "page"
                    && !node.in_trash
                    && page_title(node).to_lowercase().contains(&query)
                {
                    hits.push((node.edited, id.to_string(), page_json(&w, id, node)));
                }
            }
        }
        if only.as_deref() != Some("page") {
            for (id, ds) in &w.data_sources {
                if ds.name.to_lowercase().contains(&query) {
                    hits.push((Utc::now(), id.to_string(), data_source_json(id, ds)));
                }
            }
        }
        hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let items = hits.into_iter().map(|(_, id, v)| (id, v)).collect();
        paginate(
            items,
            body.get("start_cursor").and_then(Value::as_str),
            size,
            "page_or_data_source",
        )
        .map(|v| Json(v).into_response())
    })()
}

async fn retrieve_page(State(fake): State<FakeNotion>, Path(id): Path<String>) -> Reply {
    (|| -> Reply {
        let id = parse_id("page", &id)?;
        let w = fake.lock();
        match w.nodes.get(&id) {
            Some(node) if node.kind == "page" => Ok(Json(page_json(&w, &id, node)).into_response()),
            _ => Err(not_found("page", id.as_str())),
        }
    })()
}

async fn update_page(State(fake): State<FakeNotion>, Path(id): Path<String>, body: Bytes) -> Reply {
    (|| -> Reply {
        let id = parse_id("page", &id)?;
        let body = json_body(&body)?;
        let mut w = fake.lock();
        let Some(node) = w.nodes.get_mut(&id).filter(|n| n.kind == "page") else {
            return Err(not_found("page", id.as_str()));
        };
        if body.get("archived").is_some() {
            return Err(validation("body failed validation: body.archived should be not present, instead was `true`. Use in_trash."));
        }
        // As Notion: a refused update changes nothing (the page is put
        // back as it was if a property is refused halfway).
        let before = node.clone();
        let trash = body.get("in_trash").and_then(Value::as_bool);
        if let Some(props) = body.get("properties").and_then(Value::as_object) {
            check_properties(props)?;
            for (name, value) in props {
                if let Some(items) = value.get("title").or_else(|| value.get("rich_text")) {
                    check_rich_text(items, &format!("body.properties.{name}"))
                        .map_err(validation)?;
                }
            }
            if let Err(refused) = set_properties(&mut w, &id, props) {
                w.nodes.insert(id.clone(), before);
                return Err(validation(refused));
            }
        }
        if let (Some(trash), Some(node)) = (trash, w.nodes.get_mut(&id)) {
            node.in_trash = trash;
        }
        touch(&mut w, &id, &bot_id());
        let node = w
            .nodes
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("page", id.as_str()))?;
        Ok(Json(page_json(&w, &id, &node)).into_response())
    })()
}

async fn create_page(State(fake): State<FakeNotion>, body: Bytes) -> Reply {
    (|| -> Reply {
        let body = json_body(&body)?;
        let parent = body.get("parent").cloned().unwrap_or(Value::Null);
        let properties = body
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let children = body.get("children").cloned().unwrap_or_else(|| json!([]));
        check_request_blocks(&children, Under::PAGE)?;
        check_properties(&properties)?;
        let mut w = fake.lock();
        let parent_json = if let Some(p) = parent.get("page_id").and_then(Value::as_str) {
            let p = parse_id("page", p)?;
            if !w
                .nodes
                .get(&p)
                .is_some_and(|n| n.kind == "page" && !n.in_trash)
            {
                return Err(not_found("page", p.as_str()));
            }
            json!({ "type": "page_id", "page_id": p })
        } else if let Some(ds) = parent.get("data_source_id").and_then(Value::as_str) {
            let ds = parse_id("data_source", ds)?;
            let Some(record) = w.data_sources.get(&ds) else {
                return Err(not_found("data source", ds.as_str()));
            };
            for name in properties.keys() {
                if !record.properties.contains_key(name) {
                    return Err(validation(format!("{name} is not a property that exists.")));
                }
            }
            json!({ "type": "data_source_id", "data_source_id": ds, "database_id": record.database })
        } else {
            return Err(validation(
                "body failed validation: body.parent.page_id should be defined, instead was `undefined`."));
        };
        if !properties.values().any(|p| p.get("title").is_some()) {
            return Err(validation("body failed validation: body.properties.title should be defined, instead was `undefined`."));
        }
        let ds = parent_json
            .get("data_source_id")
            .and_then(Value::as_str)
            .and_then(|d| NotionId::parse(d).ok());
        let properties =
            checked_properties(&mut w, ds.as_ref(), &properties).map_err(validation)?;
        let id = insert_page(&mut w, parent_json, properties);
        let children: Vec<Value> = children.as_array().cloned().unwrap_or_default();
        insert_blocks(&mut w, &id, children, None);
        let node = w
            .nodes
            .get(&id)
            .cloned()
            .ok_or_else(|| refuse(500, "internal_server_error", "lost the page"))?;
        Ok(Json(page_json(&w, &id, &node)).into_response())
    })()
}

async fn block_children(
    State(fake): State<FakeNotion>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Reply {
    (|| -> Reply {
        let id = parse_id("block", &id)?;
        let size = page_size(q.page_size.map(Value::String).as_ref())?;
        let mut w = fake.lock();
        if w.nodes.get(&id).is_none_or(|n| n.in_trash) {
            return Err(not_found("block", id.as_str()));
        }
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut w.edits_when_listed)
            .into_iter()
            .partition(|(p, _)| *p == id);
        w.edits_when_listed = later;
        for (page, properties) in now {
            person_sets_properties(&mut w, &page, &properties).map_err(validation)?;
        }
        let items = live_children(&w, &id)
            .iter()
            .filter_map(|c| child_json(&w, c).map(|v| (c.to_string(), v)))
            .collect();
        paginate(items, q.start_cursor.as_deref(), size, "block").map(|v| Json(v).into_response())
    })()
}

async fn append_children(
    State(fake): State<FakeNotion>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    (|| -> Reply {
        let id = parse_id("block", &id)?;
        let body = json_body(&body)?;
        if body.get("after").is_some() {
            return Err(validation(
                "body failed validation: body.after should be not present, instead was defined. Use position."));
        }
        let children = body.get("children").cloned().unwrap_or(Value::Null);
        let position = match body.get("position") {
            None => Insert::End,
            Some(p) => match p.get("type").and_then(Value::as_str) {
                Some("end") => Insert::End,
                Some("start") => Insert::Start,
                Some("after_block") => {
                    let raw = p.get("after_block").and_then(|a| a.get("id")).and_then(Value::as_str).unwrap_or("");
                    Insert::After(parse_id("block", raw)?)
                }
                _ => return Err(validation(
                    "body failed validation: body.position.type should be `\"after_block\"`, `\"start\"` or `\"end\"`.")),
            },
        };
        let mut w = fake.lock();
        person_edits_blocks(&mut w);
        let Some(target) = w.nodes.get(&id).filter(|n| !n.in_trash) else {
            return Err(not_found("block", id.as_str()));
        };
        let empty = Map::new();
        let target_body = target.body.as_object().unwrap_or(&empty);
        if let Some(why) = childless(&target.kind, target_body) {
            return Err(validation(format!(
                "body failed validation: block {id} is a {}: {why}.",
                target.kind
            )));
        }
        check_request_blocks(&children, Under::block(&target.kind, target_body))?;
        if let Insert::After(prev) = &position {
            if !w.nodes.get(&id).is_some_and(|n| n.children.contains(prev)) {
                return Err(validation(format!(
                    "body failed validation: body.position.after_block.id {prev} is not a child of {id}.")));
            }
        }
        let ids = insert_blocks(
            &mut w,
            &id,
            children.as_array().cloned().unwrap_or_default(),
            Some(position),
        );
        let items = ids
            .iter()
            .filter_map(|c| child_json(&w, c).map(|v| (c.to_string(), v)))
            .collect();
        paginate(items, None, usize::MAX, "block").map(|v| Json(v).into_response())
    })()
}

async fn update_block(
    State(fake): State<FakeNotion>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    (|| -> Reply {
        let id = parse_id("block", &id)?;
        let body = json_body(&body)?;
        let mut w = fake.lock();
        person_edits_blocks(&mut w);
        let Some(node) = w
            .nodes
            .get_mut(&id)
            .filter(|n| n.kind != "page" && !n.in_trash)
        else {
            return Err(not_found("block", id.as_str()));
        };
        let kind = node.kind.clone();
        let Some(content) = body.get(&kind) else {
            return Err(validation(format!(
                "body failed validation: body.{kind} should be defined, instead was `undefined`."
            )));
        };
        if let Some(items) = content.get("rich_text") {
            check_rich_text(items, &format!("body.{kind}.rich_text")).map_err(validation)?;
        }
        let mut merged = node.body.clone();
        if let (Value::Object(old), Value::Object(new)) = (&mut merged, content) {
            for (k, v) in new {
                old.insert(k.clone(), v.clone());
            }
        }
        node.body = normalise_body(merged);
        touch(&mut w, &id, &bot_id());
        let node = w
            .nodes
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("block", id.as_str()))?;
        Ok(Json(block_json(&w, &id, &node)).into_response())
    })()
}

async fn delete_block(State(fake): State<FakeNotion>, Path(id): Path<String>) -> Reply {
    (|| -> Reply {
        let id = parse_id("block", &id)?;
        let mut w = fake.lock();
        person_edits_blocks(&mut w);
        let Some(node) = w.nodes.get_mut(&id).filter(|n| !n.in_trash) else {
            return Err(not_found("block", id.as_str()));
        };
        node.in_trash = true;
        touch(&mut w, &id, &bot_id());
        let node = w
            .nodes
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found("block", id.as_str()))?;
        Ok(Json(block_json(&w, &id, &node)).into_response())
    })()
}

fn data_source_json(id: &NotionId, ds: &DataSourceRecord) -> Value {
    json!({ "object": "data_source", "id": id, "title": [ text_item(&ds.name) ],
        "properties": ds.properties, "parent": { "type": "database_id", "database_id": ds.database },
        "in_trash": false })
}

async fn retrieve_database(State(fake): State<FakeNotion>, Path(id): Path<String>) -> Reply {
    (|| -> Reply {
        let id = parse_id("database", &id)?;
        let w = fake.lock();
        let Some((title, parent, sources)) = w.databases.get(&id) else {
            return Err(not_found("database", id.as_str()));
        };
        let sources: Vec<Value> = sources
            .iter()
            .filter_map(|s| {
                w.data_sources
                    .get(s)
                    .map(|d| json!({ "id": s, "name": d.name }))
            })
            .collect();
        Ok(Json(
            json!({ "object": "database", "id": id, "title": [ text_item(title) ],
            "parent": parent, "in_trash": false, "data_sources": sources }),
        )
        .into_response())
    })()
}

async fn retrieve_data_source(State(fake): State<FakeNotion>, Path(id): Path<String>) -> Reply {
    (|| -> Reply {
        let id = parse_id("data_source", &id)?;
        let w = fake.lock();
        match w.data_sources.get(&id) {
            Some(ds) => Ok(Json(data_source_json(&id, ds)).into_response()),
            None => Err(not_found("data source", id.as_str())),
        }
    })()
}

async fn query_data_source(
    State(fake): State<FakeNotion>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    (|| -> Reply {
        let id = parse_id("data_source", &id)?;
        let body = json_body(&body)?;
        let size = page_size(body.get("page_size"))?;
        // Filters the fake understands: none, on last_edited_time, or a
        // title / rich_text property `equals`.
        let mut equals: Option<(String, String)> = None;
        let since = match body.get("filter") {
            None | Some(Value::Null) => None,
            Some(f) if f.get("property").is_some() => {
                let property = f
                    .get("property")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let wanted = ["title", "rich_text"]
                    .iter()
                    .find_map(|k| f.pointer(&format!("/{k}/equals")).and_then(Value::as_str))
                    .ok_or_else(|| validation(
                        "The fake Notion supports property filters on title or rich_text with `equals` only."))?;
                equals = Some((property, wanted.to_string()));
                None
            }
            Some(f) if f.get("timestamp").and_then(Value::as_str) == Some("last_edited_time") => {
                let raw = f
                    .pointer("/last_edited_time/on_or_after")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                Some(DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)).map_err(|_| validation(format!(
                    "body failed validation: body.filter.last_edited_time.on_or_after should be a valid ISO 8601 date string, instead was `\"{raw}\"`.")))?)
            }
            Some(_) => {
                return Err(validation(
                    "The fake Notion supports no filter but one on last_edited_time.",
                ))
            }
        };
        let w = fake.lock();
        if !w.data_sources.contains_key(&id) {
            return Err(not_found("data source", id.as_str()));
        }
        let mut rows: Vec<(&NotionId, &Node)> = w
            .nodes
            .iter()
            .filter(|(_, n)| {
                n.kind == "page"
                    && !n.in_trash
                    && n.parent.get("data_source_id").and_then(Value::as_str) == Some(id.as_str())
            })
            .filter(|(_, n)| {
                equals.as_ref().is_none_or(|(property, wanted)| {
                    n.properties
                        .get(property)
                        .and_then(|p| p.get("title").or_else(|| p.get("rich_text")))
                        .map(super::wire::plain_text_of)
                        .as_deref()
                        == Some(wanted.as_str())
                })
            })
            .filter(|(_, n)| {
                since.is_none_or(|s| {
                    n.edited
                        .duration_trunc(chrono::TimeDelta::minutes(1))
                        .unwrap_or(n.edited)
                        >= s
                })
            })
            .collect();
        rows.sort_by(|a, b| b.1.created.cmp(&a.1.created).then(a.0.cmp(b.0)));
        let items = rows
            .into_iter()
            .map(|(id, n)| (id.to_string(), page_json(&w, id, n)))
            .collect();
        paginate(
            items,
            body.get("start_cursor").and_then(Value::as_str),
            size,
            "page_or_data_source",
        )
        .map(|v| Json(v).into_response())
    })()
}

async fn list_users(State(fake): State<FakeNotion>, Query(q): Query<PageQuery>) -> Reply {
    (|| -> Reply {
        let size = page_size(q.page_size.map(Value::String).as_ref())?;
        let w = fake.lock();
        let items = w
            .users
            .iter()
            .map(|u| (u["id"].as_str().unwrap_or_default().to_string(), u.clone()))
            .collect();
        paginate(items, q.start_cursor.as_deref(), size, "user").map(|v| Json(v).into_response())
    })()
}

// ---- the admin API (no token: it stands for a person in Notion) ------------

fn admin_error(status: StatusCode, message: impl Into<String>) -> Refusal {
    refuse(status.as_u16(), "admin_error", message)
}

fn admin_id(raw: &str) -> Result<NotionId, Refusal> {
    NotionId::parse(raw).map_err(|e| admin_error(StatusCode::BAD_REQUEST, e.to_string()))
}

#[derive(Deserialize)]
struct NewPage {
    #[serde(default)]
    parent: Option<String>,
    title: String,
    #[serde(default)]
    children: Vec<Value>,
}

async fn admin_add_page(State(fake): State<FakeNotion>, Json(page): Json<NewPage>) -> Reply {
    (|| -> Reply {
        let parent = page.parent.as_deref().map(admin_id).transpose()?;
        let id = fake.add_page(parent.as_ref(), &page.title, page.children);
        Ok(Json(json!({ "id": id, "url": id.notion_url() })).into_response())
    })()
}

async fn admin_page_tree(State(fake): State<FakeNotion>, Path(id): Path<String>) -> Reply {
    (|| -> Reply {
        let id = admin_id(&id)?;
        fake.tree(&id)
            .map(|t| Json(t).into_response())
            .ok_or_else(|| admin_error(StatusCode::NOT_FOUND, "no such page or block"))
    })()
}

async fn admin_edit_properties(
    State(fake): State<FakeNotion>,
    Path(id): Path<String>,
    Json(props): Json<Map<String, Value>>,
) -> Reply {
    (|| -> Reply {
        let id = admin_id(&id)?;
        fake.edit_properties(&id, props)
            .map(|()| StatusCode::NO_CONTENT.into_response())
            .map_err(|e| admin_error(StatusCode::BAD_REQUEST, e))
    })()
}

#[derive(Deserialize)]
struct Trash {
    #[serde(default = "yes")]
    in_trash: bool,
}

fn yes() -> bool {
    true
}

async fn admin_trash_page(
    State(fake): State<FakeNotion>,
    Path(id): Path<String>,
    body: Option<Json<Trash>>,
) -> Reply {
    (|| -> Reply {
        let id = admin_id(&id)?;
        let in_trash = body.is_none_or(|b| b.0.in_trash);
        if fake.trash_page(&id, in_trash) {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(admin_error(StatusCode::NOT_FOUND, "no such page"))
        }
    })()
}

#[derive(Deserialize)]
struct NewRow {
    properties: Map<String, Value>,
    #[serde(default)]
    children: Vec<Value>,
}

async fn admin_add_row(
    State(fake): State<FakeNotion>,
    Path(id): Path<String>,
    Json(row): Json<NewRow>,
) -> Reply {
    (|| -> Reply {
        let ds = admin_id(&id)?;
        let id = fake
            .add_row(&ds, row.properties, row.children)
            .map_err(|e| admin_error(StatusCode::BAD_REQUEST, e))?;
        Ok(Json(json!({ "id": id })).into_response())
    })()
}

async fn admin_edit_block(
    State(fake): State<FakeNotion>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Reply {
    (|| -> Reply {
        let id = admin_id(&id)?;
        if fake.edit_block(&id, body) {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(admin_error(StatusCode::NOT_FOUND, "no such block"))
        }
    })()
}

async fn admin_delete_block(State(fake): State<FakeNotion>, Path(id): Path<String>) -> Reply {
    (|| -> Reply {
        let id = admin_id(&id)?;
        if fake.delete_block(&id) {
            Ok(StatusCode::NO_CONTENT.into_response())
        } else {
            Err(admin_error(StatusCode::NOT_FOUND, "no such block"))
        }
    })()
}

async fn admin_add_children(
    State(fake): State<FakeNotion>,
    Path(id): Path<String>,
    Json(children): Json<Vec<Value>>,
) -> Reply {
    (|| -> Reply {
        let id = admin_id(&id)?;
        let ids = fake.add_children(&id, children);
        Ok(Json(json!({ "ids": ids })).into_response())
    })()
}

#[derive(Deserialize)]
struct NewDatabase {
    parent: String,
    title: String,
    properties: Map<String, Value>,
}

async fn admin_add_database(State(fake): State<FakeNotion>, Json(db): Json<NewDatabase>) -> Reply {
    (|| -> Reply {
        let parent = admin_id(&db.parent)?;
        let (database, data_source) = fake.add_database(&parent, &db.title, db.properties);
        Ok(Json(json!({ "database_id": database, "data_source_id": data_source })).into_response())
    })()
}

async fn admin_faults(State(fake): State<FakeNotion>, Json(faults): Json<Vec<Fault>>) -> Response {
    fake.inject(faults);
    Json(json!({ "pending": fake.pending_faults() })).into_response()
}

async fn admin_rate_limit(
    State(fake): State<FakeNotion>,
    Json(limit): Json<Option<RateLimit>>,
) -> Response {
    fake.set_rate_limit(limit);
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_requests(State(fake): State<FakeNotion>) -> Response {
    Json(fake.requests()).into_response()
}

async fn admin_clear_requests(State(fake): State<FakeNotion>) -> Response {
    fake.clear_requests();
    StatusCode::NO_CONTENT.into_response()
}
