//! The Notion REST client: one per integration token. Every request carries
//! the pinned `Notion-Version`, is paced (an average of
//! `Settings::requests_per_second`, with a small burst), and is retried on
//! 429 (after its `Retry-After`), 409, 5xx, 529 and timeouts with
//! exponential backoff and jitter, as far as retrying is safe for it (see
//! `Safety`). Lists are read to the end (`next_cursor`); a page's blocks
//! with all their nested children (`block_tree`); long content is appended
//! in as many requests as Notion's limits need, in order (`append_blocks`).

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::blocks::{self, MAX_ARRAY, MAX_BLOCKS_PER_REQUEST, MAX_NESTING, MAX_PAYLOAD_BYTES};
use super::error::{ApiCode, ApiError, NotionError};
use super::wire::{
    DataSource, Database, List, Page, Parent, Position, SearchFilter, SearchResult, User,
};
use crate::domain::notion_id::NotionId;
use crate::model::notion::Block;

/// The Notion API version every request asks for (the data-sources model;
/// `in_trash`; `position` on append). Changing it is a reviewed change.
pub const NOTION_VERSION: &str = "2026-03-11";
/// Notion's own API, used when `NOTION_API_BASE` is not set.
pub const DEFAULT_API_BASE: &str = "https://api.notion.com";

/// How the client talks to Notion.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The integration's secret (`NOTION_TOKEN`).
    pub token: String,
    /// `https://api.notion.com` or a fake (`NOTION_API_BASE`), no trailing `/`.
    pub api_base: String,
    /// Average requests per second (Notion allows 3 per integration).
    pub requests_per_second: f64,
    /// Requests that may go at once before pacing starts.
    pub burst: u32,
    /// One attempt's time limit.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// Backoff: first delay and longest delay (jitter added).
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl Settings {
    pub fn new(token: impl Into<String>, api_base: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            api_base: api_base.into().trim_end_matches('/').to_string(),
            requests_per_second: 3.0,
            burst: 3,
            timeout: Duration::from_secs(30),
            max_retries: 5,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// reqwest is built without a TLS crypto provider of its own (see
/// Cargo.toml); rustls's `ring` one is installed for the process, once (a
/// second install is refused, harmlessly). Call before building any
/// reqwest client.
pub fn ensure_crypto_provider() {
    // rustls 0.23.4x marks ring's provider deprecated (it has no
    // post-quantum key exchange); the alternative, aws-lc-rs, is the large
    // C build Cargo.toml explains we avoid. ring's provider does the
    // classic (X25519, P-256) key exchanges TLS servers offer.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let _ = provider.install_default();
}

/// Whether a request may be sent again when it is unknown whether Notion
/// applied it. Reads and property updates (setting values) may; creating a
/// page or appending blocks may not (it would make a second copy): those
/// are retried only on answers that say nothing was done (429, 409, 503,
/// 529, or a connection that was never made), and otherwise fail with
/// `NotionError::Ambiguous`, for the caller to check first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    Idempotent,
    CreatesSomething,
}

/// The client; cheap to clone (one connection pool and one pace).
#[derive(Clone)]
pub struct NotionClient {
    http: reqwest::Client,
    settings: Arc<Settings>,
    pacer: Arc<Pacer>,
}

impl std::fmt::Debug for NotionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotionClient")
            .field("api_base", &self.settings.api_base)
            .finish_non_exhaustive()
    }
}

impl NotionClient {
    pub fn new(settings: Settings) -> Result<Self, NotionError> {
        ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("switchyard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| NotionError::Network {
                base: settings.api_base.clone(),
                detail: e.to_string(),
            })?;
        let pacer = Pacer::new(settings.requests_per_second, settings.burst);
        Ok(Self {
            http,
            pacer: Arc::new(pacer),
            settings: Arc::new(settings),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    // ---- endpoints -------------------------------------------------------

    /// `POST /v1/search`: one page of results.
    pub async fn search(
        &self,
        query: &str,
        filter: Option<SearchFilter>,
        cursor: Option<&str>,
    ) -> Result<List<SearchResult>, NotionError> {
        let mut body = json!({ "query": query, "page_size": MAX_ARRAY });
        if let Some(filter) = filter {
            body["filter"] = filter.to_json();
        }
        if let Some(cursor) = cursor {
            body["start_cursor"] = json!(cursor);
        }
        self.call(
            Method::POST,
            "/v1/search",
            &[],
            Some(body),
            Safety::Idempotent,
        )
        .await
    }

    /// Every search result, up to `limit`.
    pub async fn search_all(
        &self,
        query: &str,
        filter: Option<SearchFilter>,
        limit: usize,
    ) -> Result<Vec<SearchResult>, NotionError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.search(query, filter, cursor.as_deref()).await?;
            out.extend(page.results);
            match page.next_cursor {
                Some(next) if page.has_more && out.len() < limit => cursor = Some(next),
                _ => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    /// `GET /v1/pages/{id}`.
    pub async fn retrieve_page(&self, id: &NotionId) -> Result<Page, NotionError> {
        self.call(
            Method::GET,
            &format!("/v1/pages/{id}"),
            &[],
            None,
            Safety::Idempotent,
        )
        .await
    }

    /// `GET /v1/blocks/{id}/children`: one page of (at most 100) children.
    pub async fn block_children(
        &self,
        id: &NotionId,
        cursor: Option<&str>,
    ) -> Result<List<Value>, NotionError> {
        let mut query = vec![("page_size", MAX_ARRAY.to_string())];
        if let Some(cursor) = cursor {
            query.push(("start_cursor", cursor.to_string()));
        }
        self.call(
            Method::GET,
            &format!("/v1/blocks/{id}/children"),
            &query,
            None,
            Safety::Idempotent,
        )
        .await
    }

    /// Every child of a block or page, in order, as Notion returns them.
    pub async fn all_block_children(&self, id: &NotionId) -> Result<Vec<Value>, NotionError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.block_children(id, cursor.as_deref()).await?;
            out.extend(page.results);
            match page.next_cursor {
                Some(next) if page.has_more => cursor = Some(next),
                _ => return Ok(out),
            }
        }
    }

    /// A page's (or block's) content with every nested child, as our
    /// blocks (children inline). Child pages and databases are listed, not
    /// entered: they are documents of their own.
    pub async fn block_tree(&self, id: &NotionId) -> Result<Vec<Block>, NotionError> {
        let raw = self.all_block_children(id).await?;
        let mut out = Vec::with_capacity(raw.len());
        for raw in raw {
            let kind = blocks::kind_of(&raw).unwrap_or_default().to_string();
            let mut block = blocks::from_response(raw);
            if block.has_children && !blocks::is_page_like(&kind) {
                if let Ok(child_id) = NotionId::parse(&block.id) {
                    block.children = Box::pin(self.block_tree(&child_id)).await?;
                }
            }
            out.push(block);
        }
        Ok(out)
    }

    /// `PATCH /v1/blocks/{id}/children`, as many times as the content
    /// needs: blocks are first made to fit the per-item limits, then sent
    /// in order, at most 100 per array, two levels of nesting, 1000 blocks
    /// and `MAX_PAYLOAD_BYTES` per request; children that did not fit are
    /// appended to their (just created) parent afterwards, except those
    /// Notion creates a block only with (a table's first row, a column
    /// list's first two columns, a column's first block), which always go
    /// with it (`prepare`).
    /// Returns the created top-level blocks, in order.
    pub async fn append_blocks(
        &self,
        parent: &NotionId,
        content: Vec<Value>,
        position: Position,
    ) -> Result<Vec<Value>, NotionError> {
        let content = blocks::fit(content);
        let mut created_all = Vec::with_capacity(content.len());
        let mut position = position;
        let mut rest = content.as_slice();
        while !rest.is_empty() {
            let (batch, deferred) = next_batch(rest, 0);
            let taken = batch.len();
            let mut body = json!({ "children": batch });
            if position != Position::End {
                body["position"] = position.to_json();
            }
            let created: List<Value> = self
                .call(
                    Method::PATCH,
                    &format!("/v1/blocks/{parent}/children"),
                    &[],
                    Some(body),
                    Safety::CreatesSomething,
                )
                .await?;
            if created.results.len() != taken {
                return Err(NotionError::Decode {
                    what: "append block children".into(),
                    detail: format!(
                        "sent {taken} blocks, Notion reported {} created",
                        created.results.len()
                    ),
                });
            }
            self.append_deferred(&created.results, deferred).await?;
            if let Some(last) = created.results.last().and_then(block_id) {
                // The next batch goes right after this one.
                if position != Position::End {
                    position = Position::AfterBlock(last);
                }
            }
            created_all.extend(created.results);
            rest = &rest[taken..];
        }
        Ok(created_all)
    }

    /// Sends what the requests that created `created` could not carry:
    /// `deferred[i]` belongs to `created[i]`. Children that went along get
    /// theirs first (found by listing the block, in order), then the rest
    /// of the block's children are appended after them.
    async fn append_deferred(
        &self,
        created: &[Value],
        deferred: Vec<Deferred>,
    ) -> Result<(), NotionError> {
        // What is left belongs to the blocks by position. If Notion lists
        // another number of blocks than were sent (a person added or
        // removed some meanwhile), nothing more is sent: the blocks are
        // made, their children in part, so the error is an ambiguous one,
        // which the outbox retries by looking first and completing what
        // is there (`publish::complete`). (A person who both added and
        // removed a block leaves the count as it was: that is not seen.)
        let mismatch = |detail: String| NotionError::Ambiguous {
            what: "the children of blocks just created".into(),
            detail,
        };
        if created.len() != deferred.len() {
            return Err(mismatch(format!(
                "{} blocks sent, {} found",
                deferred.len(),
                created.len()
            )));
        }
        for (block, deferred) in created.iter().zip(deferred) {
            if deferred.is_nothing() {
                continue;
            }
            let id = block_id(block)
                .ok_or_else(|| mismatch(format!("a created block without an id: {block}")))?;
            if deferred.sent.iter().any(|d| !d.is_nothing()) {
                let children = self.all_block_children(&id).await?;
                Box::pin(self.append_deferred(&children, deferred.sent)).await?;
            }
            if !deferred.rest.is_empty() {
                Box::pin(self.append_blocks(&id, deferred.rest, Position::End)).await?;
            }
        }
        Ok(())
    }

    /// `POST /v1/pages`: a page under `parent` with `properties` and its
    /// content; content beyond one request's limits is appended after.
    pub async fn create_page(
        &self,
        parent: &Parent,
        properties: Value,
        content: Vec<Value>,
    ) -> Result<Page, NotionError> {
        let content = blocks::fit(content);
        let properties = fit_properties(properties)?;
        let parent = parent.to_json();
        let used = blocks::json_len(&properties) + blocks::json_len(&parent);
        let (batch, deferred) = next_batch(&content, used);
        let taken = batch.len();
        let body = json!({
            "parent": parent,
            "properties": properties,
            "children": batch,
        });
        let page: Page = self
            .call(
                Method::POST,
                "/v1/pages",
                &[],
                Some(body),
                Safety::CreatesSomething,
            )
            .await?;
        if deferred.iter().any(|d| !d.is_nothing()) {
            let created = self.all_block_children(&page.id).await?;
            self.append_deferred(&created, deferred).await?;
        }
        if taken < content.len() {
            self.append_blocks(&page.id, content[taken..].to_vec(), Position::End)
                .await?;
        }
        Ok(page)
    }

    /// `PATCH /v1/pages/{id}`: sets `properties` (and moves the page to or
    /// from the trash when `in_trash` is given).
    pub async fn update_page(
        &self,
        id: &NotionId,
        properties: Value,
        in_trash: Option<bool>,
    ) -> Result<Page, NotionError> {
        let mut body = json!({ "properties": fit_properties(properties)? });
        if let Some(in_trash) = in_trash {
            body["in_trash"] = json!(in_trash);
        }
        self.call(
            Method::PATCH,
            &format!("/v1/pages/{id}"),
            &[],
            Some(body),
            Safety::Idempotent,
        )
        .await
    }

    /// `PATCH /v1/blocks/{id}`: sets a block's content (`body`: the type's
    /// object, e.g. `{"to_do": {"rich_text": […], "checked": true}}`).
    pub async fn update_block(&self, id: &NotionId, body: Value) -> Result<Value, NotionError> {
        self.call(
            Method::PATCH,
            &format!("/v1/blocks/{id}"),
            &[],
            Some(body),
            Safety::Idempotent,
        )
        .await
    }

    /// `DELETE /v1/blocks/{id}`: moves a block to the trash.
    pub async fn delete_block(&self, id: &NotionId) -> Result<Value, NotionError> {
        self.call(
            Method::DELETE,
            &format!("/v1/blocks/{id}"),
            &[],
            None,
            Safety::Idempotent,
        )
        .await
    }

    /// `GET /v1/databases/{id}`: the database and its data sources.
    pub async fn retrieve_database(&self, id: &NotionId) -> Result<Database, NotionError> {
        self.call(
            Method::GET,
            &format!("/v1/databases/{id}"),
            &[],
            None,
            Safety::Idempotent,
        )
        .await
    }

    /// `GET /v1/data_sources/{id}`: a data source and its schema.
    pub async fn retrieve_data_source(&self, id: &NotionId) -> Result<DataSource, NotionError> {
        self.call(
            Method::GET,
            &format!("/v1/data_sources/{id}"),
            &[],
            None,
            Safety::Idempotent,
        )
        .await
    }

    /// `POST /v1/data_sources/{id}/query`: one page of rows.
    pub async fn query_data_source(
        &self,
        id: &NotionId,
        filter: Option<Value>,
        sorts: Option<Value>,
        cursor: Option<&str>,
    ) -> Result<List<Page>, NotionError> {
        let mut body = json!({ "page_size": MAX_ARRAY });
        if let Some(filter) = filter {
            body["filter"] = filter;
        }
        if let Some(sorts) = sorts {
            body["sorts"] = sorts;
        }
        if let Some(cursor) = cursor {
            body["start_cursor"] = json!(cursor);
        }
        self.call(
            Method::POST,
            &format!("/v1/data_sources/{id}/query"),
            &[],
            Some(body),
            Safety::Idempotent,
        )
        .await
    }

    /// Every row of a data source that `filter` keeps.
    pub async fn query_data_source_all(
        &self,
        id: &NotionId,
        filter: Option<Value>,
    ) -> Result<Vec<Page>, NotionError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .query_data_source(id, filter.clone(), None, cursor.as_deref())
                .await?;
            out.extend(page.results);
            match page.next_cursor {
                Some(next) if page.has_more => cursor = Some(next),
                _ => return Ok(out),
            }
        }
    }

    /// `GET /v1/users`: every user of the workspace.
    pub async fn list_users(&self) -> Result<Vec<User>, NotionError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("page_size", MAX_ARRAY.to_string())];
            if let Some(cursor) = &cursor {
                query.push(("start_cursor", cursor.clone()));
            }
            let page: List<User> = self
                .call(Method::GET, "/v1/users", &query, None, Safety::Idempotent)
                .await?;
            out.extend(page.results);
            match page.next_cursor {
                Some(next) if page.has_more => cursor = Some(next),
                _ => return Ok(out),
            }
        }
    }

    // ---- one request, paced and retried ----------------------------------

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
        safety: Safety,
    ) -> Result<T, NotionError> {
        let what = format!("{method} {path}");
        let url = format!("{}{}", self.settings.api_base, path);
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.settings.min_backoff)
            .with_max_delay(self.settings.max_backoff)
            .with_max_times(self.settings.max_retries)
            .with_jitter()
            .build();
        loop {
            self.pacer.wait().await;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.settings.token)
                .header("Notion-Version", NOTION_VERSION)
                .query(query);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let failure = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    match response.bytes().await {
                        Ok(bytes) => {
                            return serde_json::from_slice(&bytes).map_err(|e| {
                                NotionError::Decode {
                                    what,
                                    detail: e.to_string(),
                                }
                            })
                        }
                        // The answer was cut off: Notion did the work.
                        Err(e) => Failure::Transport {
                            sent: true,
                            timeout: e.is_timeout(),
                            detail: e.to_string(),
                        },
                    }
                }
                Ok(response) => Failure::Api(read_error(response).await),
                Err(e) => Failure::Transport {
                    sent: !e.is_connect(),
                    timeout: e.is_timeout(),
                    detail: e.to_string(),
                },
            };
            // 429, 409 and 529 say nothing was done. A 503 may come after
            // Notion's 60-second limit with the work done, as a 500, 502
            // or 504 may: a request that creates something is not sent
            // again blindly (the caller looks for what it made first).
            let retry = match &failure {
                Failure::Api(e) => match e.status {
                    429 | 409 | 529 => true,
                    500 | 502 | 503 | 504 => safety == Safety::Idempotent,
                    _ => false,
                },
                Failure::Transport { sent, .. } => !sent || safety == Safety::Idempotent,
            };
            let delay = if retry { backoff.next() } else { None };
            let Some(mut delay) = delay else {
                return Err(self.give_up(failure, safety, what));
            };
            if let Failure::Api(ApiError {
                retry_after: Some(after),
                ..
            }) = &failure
            {
                // Notion says when: wait exactly that (plus a little, so
                // the retry is not early), and hold every other request on
                // this token too.
                delay = *after + Duration::from_millis(50);
                self.pacer.hold_until(Instant::now() + delay).await;
            }
            tracing::warn!(request = %what, ?delay, failure = %failure.describe(), "Notion request failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    fn give_up(&self, failure: Failure, safety: Safety, what: String) -> NotionError {
        match failure {
            Failure::Api(e)
                if safety == Safety::CreatesSomething
                    && matches!(e.status, 500 | 502 | 503 | 504) =>
            {
                NotionError::Ambiguous {
                    what,
                    detail: format!("{} {}", e.status, e.code.as_str()),
                }
            }
            Failure::Api(e) => NotionError::Api(e),
            Failure::Transport {
                sent: true, detail, ..
            } if safety == Safety::CreatesSomething => NotionError::Ambiguous { what, detail },
            Failure::Transport { timeout: true, .. } => NotionError::Timeout(self.settings.timeout),
            Failure::Transport { detail, .. } => NotionError::Network {
                base: self.settings.api_base.clone(),
                detail,
            },
        }
    }
}

enum Failure {
    Api(ApiError),
    /// No answer: `sent` when the request may have reached Notion.
    Transport {
        sent: bool,
        timeout: bool,
        detail: String,
    },
}

impl Failure {
    fn describe(&self) -> String {
        match self {
            Failure::Api(e) => format!("{} {}: {}", e.status, e.code.as_str(), e.message),
            Failure::Transport { detail, .. } => detail.clone(),
        }
    }
}

/// Notion's error body, or what the status alone says when there is none.
async fn read_error(response: reqwest::Response) -> ApiError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)));
    let body: Option<Value> = response
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let field = |name: &str| {
        body.as_ref()
            .and_then(|b| b.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let code = field("code")
        .map(|c| ApiCode::parse(&c))
        .unwrap_or_else(|| ApiCode::for_status(status.as_u16()));
    ApiError {
        status: status.as_u16(),
        message: field("message").unwrap_or_else(|| match status.as_u16() {
            529 => "Site overloaded".to_string(),
            _ => status.canonical_reason().unwrap_or("error").to_string(),
        }),
        request_id: field("request_id"),
        code,
        retry_after,
    }
}

/// Property values with their text (title, rich text) split into items of
/// at most 2000 characters; refused (`TooLarge`, naming the property, its
/// type and the count) when any array of a value would carry more than 100
/// items: rich text items (after that split), multi-select options, people,
/// relations, files. Notion takes at most 100 per array, and no property
/// value can be sent in parts: creating or updating a page sets each
/// property it names whole (a second request would replace the first's
/// items, not add to them), so refusing is the only honest answer.
fn fit_properties(mut properties: Value) -> Result<Value, NotionError> {
    if let Value::Object(props) = &mut properties {
        for (name, value) in props.iter_mut() {
            for key in ["title", "rich_text"] {
                if let Some(Value::Array(items)) = value.get_mut(key) {
                    *items = blocks::split_rich_text(items);
                }
            }
            let Value::Object(fields) = value else {
                continue;
            };
            for (key, field) in fields.iter() {
                if let Value::Array(items) = field {
                    if items.len() > MAX_ARRAY {
                        return Err(NotionError::TooLarge(format!(
                            "the property {name:?} has {} {} items; Notion takes at most \
                             {MAX_ARRAY} in one property value, and a property is always \
                             sent whole (a second request would replace it, not add to it)",
                            items.len(),
                            key.replace('_', " "),
                        )));
                    }
                }
            }
        }
    }
    // A property is sent whole, in one request: it cannot be split.
    let size = blocks::json_len(&properties);
    if size > MAX_PAYLOAD_BYTES / 2 {
        return Err(NotionError::TooLarge(format!(
            "the page's properties take {size} bytes; Notion takes at most 500 KB in one \
             request, and a property is always sent whole"
        )));
    }
    Ok(properties)
}

fn block_id(block: &Value) -> Option<NotionId> {
    block
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| NotionId::parse(id).ok())
}

/// What is left to send of a block a request created: what each child
/// that went along still needs, then the children that did not go.
#[derive(Debug, PartialEq, Default)]
struct Deferred {
    sent: Vec<Deferred>,
    rest: Vec<Value>,
}

impl Deferred {
    fn is_nothing(&self) -> bool {
        self.rest.is_empty() && self.sent.iter().all(Deferred::is_nothing)
    }
}

/// The longest prefix of `blocks` one request may carry beside `used`
/// bytes of the request's other fields, each prepared for it (`prepare`),
/// with what each leaves for later. At least one block, unless even one
/// would not fit beside `used` (a page create then sends its blocks after
/// the page).
fn next_batch(blocks: &[Value], used: usize) -> (Vec<Value>, Vec<Deferred>) {
    let mut batch = Vec::new();
    let mut deferred = Vec::new();
    let mut count = 0;
    let mut bytes = 64 + used;
    for block in blocks.iter().take(MAX_ARRAY) {
        // Prepared as if alone in a request: a block that does not fit
        // beside the others goes first in the next one.
        let (prepared, later) = prepare(
            block.clone(),
            MAX_NESTING,
            MAX_PAYLOAD_BYTES - 64,
            MAX_BLOCKS_PER_REQUEST,
        );
        let n = blocks::count_blocks(&prepared);
        let size = blocks::json_len(&prepared) + 1;
        let full = count + n > MAX_BLOCKS_PER_REQUEST || bytes + size > MAX_PAYLOAD_BYTES;
        if full && (!batch.is_empty() || used > 0) {
            break;
        }
        count += n;
        bytes += size;
        batch.push(prepared);
        deferred.push(later);
    }
    (batch, deferred)
}

/// How many children Notion takes a block of type `kind` only with, in
/// the request that creates it: a table's first row, a column list's
/// first two columns, a column's first block. (Later rows, columns and
/// blocks may be appended to them.)
fn least_children(kind: &str) -> usize {
    match kind {
        "table" | "column" => 1,
        "column_list" => 2,
        _ => 0,
    }
}

/// Levels of children that must go with `block` in the request that
/// creates it (0 for most blocks, 1 for a table, 2 for a column list).
fn levels_needed(block: &Value) -> usize {
    let least = least_children(blocks::kind_of(block).unwrap_or_default());
    if least == 0 {
        return 0;
    }
    1 + blocks::children_of(block)
        .iter()
        .take(least)
        .map(levels_needed)
        .max()
        .unwrap_or(0)
}

/// `block` as one request carries it, within `levels` levels of children,
/// `bytes` bytes and `count` blocks: as many of its children as fit, in
/// order and at most 100, each prepared alike; the rest follow it later
/// (`Deferred`). The children a block cannot be created without
/// (`least_children`) always go, in their smallest form, and a child that
/// needs more levels than are left stops the run, so it is created as a
/// block of a later request with its own children. (A block that needs
/// more than `MAX_NESTING` levels, a column whose first block is a table,
/// is sent in its smallest form and refused by Notion with its reason;
/// our blocks have no columns, so nothing we send is such a block.)
fn prepare(mut block: Value, levels: usize, bytes: usize, count: usize) -> (Value, Deferred) {
    let children = blocks::take_children(&mut block);
    if children.is_empty() {
        return (block, Deferred::default());
    }
    let least = least_children(blocks::kind_of(&block).unwrap_or_default());
    // `,"children":[]` inside the type's object.
    let mut used_bytes = blocks::json_len(&block) + 16;
    let mut used_count = 1;
    let mut sent = Vec::new();
    let mut deferred = Deferred::default();
    let mut children = children.into_iter();
    if levels > 0 {
        for child in children.by_ref() {
            let forced = sent.len() < least;
            let fits_levels = levels_needed(&child) < levels;
            let (prepared, later) = prepare(
                child.clone(),
                levels - 1,
                bytes.saturating_sub(used_bytes),
                count.saturating_sub(used_count),
            );
            let size = blocks::json_len(&prepared) + 1;
            let n = blocks::count_blocks(&prepared);
            let fits = used_bytes + size <= bytes && used_count + n <= count;
            let goes = forced || (fits_levels && fits && sent.len() < MAX_ARRAY);
            if !goes {
                deferred.rest.push(child);
                break;
            }
            used_bytes += size;
            used_count += n;
            sent.push(prepared);
            deferred.sent.push(later);
        }
    }
    deferred.rest.extend(children);
    blocks::set_children(&mut block, sent);
    (block, deferred)
}

/// Paces requests to an average rate with a small burst (a GCRA: each
/// request books the next slot; one that would run more than the burst
/// ahead waits for its slot).
struct Pacer {
    interval: Duration,
    tolerance: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    fn new(per_second: f64, burst: u32) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            3.0
        };
        let interval = Duration::from_secs_f64(1.0 / per_second);
        Self {
            interval,
            tolerance: interval * burst.saturating_sub(1),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot.checked_sub(self.tolerance).unwrap_or(now)
        };
        tokio::time::sleep_until(at).await;
    }

    /// No request starts before `until` (a 429's Retry-After).
    async fn hold_until(&self, until: Instant) {
        let mut next = self.next.lock().await;
        *next = (*next).max(until + self.tolerance);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn para(text: &str) -> Value {
        blocks::paragraph(text)
    }

    fn with_children(mut block: Value, children: Vec<Value>) -> Value {
        blocks::set_children(&mut block, children);
        block
    }

    #[test]
    fn batches_hold_100_blocks_and_two_levels() {
        let content: Vec<Value> = (0..250).map(|i| para(&i.to_string())).collect();
        let (batch, deferred) = next_batch(&content, 0);
        assert_eq!(batch.len(), 100);
        assert!(deferred.iter().all(Deferred::is_nothing));

        let deep = with_children(
            para("1"),
            vec![with_children(
                para("2"),
                vec![with_children(para("3"), vec![para("4")])],
            )],
        );
        let (batch, deferred) = next_batch(&[deep], 0);
        assert_eq!(blocks::nesting(&batch[0]), 2, "{:?}", batch[0]);
        // "3" went without its child "4", which follows it.
        let expected = Deferred {
            sent: vec![Deferred {
                sent: vec![Deferred {
                    sent: vec![],
                    rest: vec![para("4")],
                }],
                rest: vec![],
            }],
            rest: vec![],
        };
        assert_eq!(deferred, [expected]);

        let wide = with_children(para("p"), (0..150).map(|i| para(&i.to_string())).collect());
        let (batch, deferred) = next_batch(&[wide], 0);
        assert_eq!(blocks::children_of(&batch[0]).len(), 100);
        assert_eq!(deferred[0].rest.len(), 50);
        assert_eq!(deferred[0].rest[0], para("100"));
    }

    #[test]
    fn batches_stay_under_the_payload_size() {
        let big = "x".repeat(1900);
        let content: Vec<Value> = (0..100)
            .map(|_| {
                let items: Vec<Value> = (0..5)
                    .map(|_| json!({ "type": "text", "text": { "content": big } }))
                    .collect();
                json!({ "object": "block", "type": "paragraph", "paragraph": { "rich_text": items } })
            })
            .collect();
        let (batch, _) = next_batch(&content, 0);
        let size = serde_json::to_vec(&json!({ "children": batch }))
            .expect("json")
            .len();
        assert!(batch.len() < 100, "{} blocks", batch.len());
        assert!(size <= 500_000, "{size} bytes");
    }

    /// Every request `append_blocks` would send for `content` (top-level
    /// batches, then each deferred set of children as its own append).
    fn requests(content: Vec<Value>) -> Vec<Value> {
        let content = blocks::fit(content);
        let mut out = Vec::new();
        let mut rest = content.as_slice();
        while !rest.is_empty() {
            let (batch, deferred) = next_batch(rest, 0);
            rest = &rest[batch.len()..];
            out.push(json!({ "children": batch }));
            for d in deferred {
                out.extend(deferred_requests(d));
            }
        }
        out
    }

    /// The requests `append_deferred` sends for one created block.
    fn deferred_requests(d: Deferred) -> Vec<Value> {
        let mut out: Vec<Value> = d.sent.into_iter().flat_map(deferred_requests).collect();
        if !d.rest.is_empty() {
            out.extend(requests(d.rest));
        }
        out
    }

    /// The text of every block, in document order.
    fn texts(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(t)) = map.get("content") {
                    out.push_str(t);
                }
                // A block's own text comes before its children's (the
                // map's keys are in alphabetical order).
                for (key, value) in map {
                    if key != "content" && key != "children" {
                        texts(value, out);
                    }
                }
                if let Some(children) = map.get("children") {
                    texts(children, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| texts(i, out)),
            _ => {}
        }
    }

    #[test]
    fn long_wide_text_is_split_into_requests_under_500_kb() {
        // 200,000 three-byte characters in one paragraph (600 KB as UTF-8,
        // within 100 items of 2000), and a toggle whose 100 children hold
        // 30 KB each (3 MB in all, within every count limit).
        let long = "中".repeat(200_000);
        let child = "語".repeat(10_000);
        let toggle = with_children(
            json!({ "object": "block", "type": "toggle", "toggle": { "rich_text": [
                { "type": "text", "text": { "content": "details" } } ] } }),
            (0..100).map(|_| para(&child)).collect(),
        );
        let sent = requests(vec![para(&long), toggle]);
        for request in &sent {
            let size = blocks::json_len(request);
            assert!(size <= 500_000, "{size} bytes");
        }
        assert!(sent.len() > 2, "{} requests", sent.len());
        // Nothing lost or reordered.
        let mut all = String::new();
        for request in &sent {
            texts(request, &mut all);
        }
        let expected = format!("{long}details{}", child.repeat(100));
        assert_eq!(all.chars().count(), expected.chars().count());
        assert!(all == expected, "the text changed on the way");
    }

    #[test]
    fn properties_too_large_for_one_request_are_refused_with_a_reason() {
        let item = json!({ "type": "text", "text": { "content": "中".repeat(2000) } });
        let properties = json!({ "Name": { "title": vec![item; 100] } });
        match fit_properties(properties) {
            Err(NotionError::TooLarge(message)) => {
                assert!(message.contains("500 KB"), "{message}")
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        let small =
            json!({ "Name": { "title": [{ "type": "text", "text": { "content": "Plan" } }] } });
        assert!(fit_properties(small).is_ok());
    }

    #[tokio::test]
    async fn the_pacer_keeps_the_average_rate() {
        let pacer = Pacer::new(20.0, 2);
        let start = Instant::now();
        for _ in 0..6 {
            pacer.wait().await;
        }
        // 2 at once, then one every 50 ms: at least 4 intervals.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(195), "{took:?}");
        assert!(took < Duration::from_millis(1000), "{took:?}");
    }
}
