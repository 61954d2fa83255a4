//! The migration's tasks mirrored with the team's Notion task data source:
//! connecting it (its schema read, a mapping proposed), creating a page per
//! task exactly once, and keeping each task and its page in step both ways
//! (`reconcile`), from the outbox (board changes) and from the poller
//! (Notion's changes).
//!
//! Change is detected by content, never by time: each linked task keeps
//! its mapped fields' values as last synced, per side (`store::task_sync`).
//! A field that differs from its side's entry changed on that side: only
//! on the board, it is written to Notion; only in Notion, to the board;
//! on both (to different values), it is a conflict, and nothing is written
//! for it anywhere until an operator keeps one side. Fields changed on
//! different sides merge.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Map, Value};
use sqlx::PgPool;

use super::error::{ApiCode, MirrorError};
use super::tasks::{self as map, Lookup, Side, CRITERIA};
use super::wire::{Page, Parent, Position, SearchFilter, SearchResult, User};
use super::{blocks, NotionClient, NotionError};
use crate::domain::notion_id::NotionId;
use crate::model::mirror::{DataSourceHit, FieldMapping, TaskField, TaskMapping};
use crate::model::{Priority, TaskStatus, TaskView};
use crate::store::task_sync::{self as stored, CreateTaskPage, NewConflict, SyncWrite, TaskLink};
use crate::store::StoreError;

/// The first words of the line every task page created by Switchyard
/// starts with (a page being recorded is recognised by it, not taken for
/// a new row).
pub const MARKER_PREFIX: &str = "Mirrored by Switchyard";

fn invalid(field: &str, message: impl Into<String>) -> MirrorError {
    MirrorError::Store(StoreError::Invalid {
        field: field.into(),
        message: message.into(),
    })
}

fn is_not_found(e: &NotionError) -> bool {
    e.code() == Some(&ApiCode::ObjectNotFound)
}

// ---- connecting ---------------------------------------------------------------

/// Data sources whose name contains `query` (at most 20).
pub async fn search_data_sources(
    client: &NotionClient,
    query: &str,
) -> Result<Vec<DataSourceHit>, NotionError> {
    let hits = client
        .search_all(query.trim(), Some(SearchFilter::DataSources), 20)
        .await?;
    Ok(hits
        .into_iter()
        .filter_map(|hit| match hit {
            SearchResult::DataSource(ds) => Some(DataSourceHit {
                id: ds.id.to_string(),
                name: super::wire::plain_text_of(&ds.title),
            }),
            SearchResult::Page(_) => None,
        })
        .collect())
}

/// Connects migration `name`'s tasks to the database or data source
/// `target` (a URL or id): reads the database's data sources and the
/// data source's schema, and stores a proposed mapping for an operator to
/// confirm.
pub async fn connect(
    pool: &PgPool,
    client: &NotionClient,
    name: &str,
    target: &str,
    actor: &str,
) -> Result<TaskMapping, MirrorError> {
    let id = NotionId::parse(target).map_err(|e| invalid("database", e.to_string()))?;
    let (database, source) = match client.retrieve_database(&id).await {
        Ok(db) => match db.data_sources.as_slice() {
            [one] => (Some(db.id.to_string()), one.id.clone()),
            [] => return Err(invalid("database", "this database has no data source")),
            many => {
                let names: Vec<&str> = many.iter().map(|d| d.name.as_str()).collect();
                return Err(invalid(
                    "database",
                    format!(
                        "this database has {} data sources ({}): pick one from the search results",
                        many.len(),
                        names.join(", ")
                    ),
                ));
            }
        },
        // Not a database: a data source's id, then.
        Err(e) if is_not_found(&e) => (None, id),
        Err(e) => return Err(e.into()),
    };
    let ds = client.retrieve_data_source(&source).await?;
    let properties = map::properties_of(&ds);
    let mapping = map::propose(&ds.id, &properties);
    let name_of_ds = super::wire::plain_text_of(&ds.title);
    stored::connect(
        pool,
        name,
        stored::NewLink {
            database_id: database,
            data_source_id: ds.id.to_string(),
            data_source_name: if name_of_ds.is_empty() {
                "Untitled".into()
            } else {
                name_of_ds
            },
            properties: &properties,
            mapping: &mapping,
        },
        actor,
    )
    .await?;
    Ok(mapping)
}

// ---- creating a task's page -----------------------------------------------------

/// The marker line's text.
pub fn marker_text(migration: &str, task: i64, marker: &str) -> String {
    format!("{MARKER_PREFIX} (migration {migration}, task {task}). Ref: {marker}")
}

/// A page made for a task, with both sides' values as created.
#[derive(Debug)]
pub struct Created {
    pub task: i64,
    pub page: NotionId,
    pub board: Side,
    pub notion: Side,
}

/// What translates values between the sides and is the same for every
/// task of a link: the workspace's people and, when Sprint is mapped to a
/// relation, the sprints' pages (id, title). A poll reads it once.
#[derive(Clone, Debug)]
pub struct Directory {
    users: Vec<User>,
    sprints: Vec<(String, String)>,
    /// The sprints' data source could be read (or Sprint is no relation).
    sprints_read: bool,
}

/// The data source a Sprint mapped to a relation points to.
fn sprint_source(link: &TaskLink) -> Option<NotionId> {
    link.mapping
        .0
        .get(TaskField::Sprint)
        .filter(|m| m.kind == "relation")
        .and_then(|m| m.relation_to.as_deref())
        .and_then(|id| NotionId::parse(id).ok())
}

async fn directory(client: &NotionClient, link: &TaskLink) -> Result<Directory, MirrorError> {
    let users = client.list_users().await?;
    // A Sprint mapped to a relation names pages of the sprints' data
    // source: their titles are what the board shows.
    let mut sprints = Vec::new();
    let mut sprints_read = true;
    if let Some(source) = sprint_source(link) {
        match client.query_data_source_all(&source, None).await {
            Ok(pages) => sprints.extend(
                pages
                    .iter()
                    .filter(|p| !p.in_trash)
                    .map(|p| (p.id.to_string(), p.title())),
            ),
            // Not shared with the integration, or gone: every other field
            // goes on syncing; Sprint waits, on both sides, until it can
            // be read (`Lookup::sprints_read`).
            Err(e) => {
                tracing::warn!(migration = link.migration_id, error = %e, "the sprints' data source cannot be read; Sprint is not synced meanwhile");
                sprints_read = false;
            }
        }
    }
    Ok(Directory {
        users,
        sprints,
        sprints_read,
    })
}

/// Adds to `lookup` the sprint pages Notion's side names that the
/// directory did not list (made since it was read). Nothing to do unless
/// Sprint is a relation whose data source could be read.
async fn complete_sprints(
    client: &NotionClient,
    link: &TaskLink,
    lookup: &mut Lookup,
    notion: &Side,
) {
    if !lookup.sprints_read || sprint_source(link).is_none() {
        return;
    }
    let named: Vec<String> = notion
        .get(TaskField::Sprint.as_str())
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for id in named {
        if lookup.sprints.iter().any(|(p, _)| *p == id) {
            continue;
        }
        let Ok(page_id) = NotionId::parse(&id) else {
            continue;
        };
        match client.retrieve_page(&page_id).await {
            Ok(page) => lookup.sprints.push((id, page.title())),
            Err(e) => {
                tracing::warn!(page = %id, error = %e, "a related sprint page cannot be read")
            }
        }
    }
}

/// The fields of `page` that cannot be read whole now, so that neither
/// side's value is taken or recorded as in step (left for a later sync):
/// Sprint, when it is a relation to a data source the integration cannot
/// read; a relation listing more than 25 pages (a page object lists 25
/// and says `has_more`: read as the whole list, the rest would be dropped
/// on the board and then in Notion).
fn unreadable(page: &Page, mapping: &TaskMapping, lookup: &Lookup) -> Vec<String> {
    let mut fields = Vec::new();
    if !lookup.sprints_read {
        fields.push(TaskField::Sprint.as_str().to_string());
    }
    for m in &mapping.fields {
        let more = page
            .properties
            .get(&m.property)
            .and_then(|p| p.get("has_more"))
            == Some(&Value::Bool(true));
        if m.kind == "relation" && more {
            tracing::warn!(page = %page.id, property = %m.property, "more than 25 related pages: not synced");
            fields.push(m.field.as_str().to_string());
        }
    }
    fields
}

/// The lookup for `link`'s tasks: `dir` if already read, else read now.
async fn lookup(
    pool: &PgPool,
    client: &NotionClient,
    link: &TaskLink,
    dir: Option<&Directory>,
) -> Result<Lookup, MirrorError> {
    let dir = match dir {
        Some(d) => d.clone(),
        None => directory(client, link).await?,
    };
    Ok(Lookup {
        users: dir.users,
        pages: stored::pages(pool, link.migration_id).await?,
        sprints: dir.sprints,
        sprints_read: dir.sprints_read,
    })
}

fn linked_link(link: Option<TaskLink>, name: &str) -> Result<TaskLink, MirrorError> {
    link.ok_or_else(|| invalid("tasks", format!("migration {name:?} has no task database")))
}

fn data_source_of(link: &TaskLink) -> Result<NotionId, MirrorError> {
    NotionId::parse(&link.data_source_id).map_err(|e| {
        MirrorError::Store(StoreError::Corrupt {
            what: "the task data source's id".into(),
            detail: e.to_string(),
        })
    })
}

/// Delivers a `create_task_page` item: creates the task's page (its mapped
/// properties, the marker line, a to-do block per criterion), or, when an
/// earlier attempt may have (`look_first`), finds that page by its marker
/// first. Dependencies are set later, by a sync, once their pages exist.
/// None: the task is gone (nothing to create).
pub async fn deliver_create(
    pool: &PgPool,
    client: &NotionClient,
    migration: &str,
    item: &CreateTaskPage,
    look_first: bool,
) -> Result<Option<Created>, MirrorError> {
    let task = {
        let mut conn = pool.acquire().await.map_err(StoreError::from)?;
        match crate::store::migrations::task_in(&mut conn, item.task).await {
            Ok(t) => t,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    };
    let link = linked_link(stored::link(pool, migration).await?, migration)?;
    let mapping = &link.mapping.0;
    let source = data_source_of(&link)?;
    let mut board = map::board_side(&task, mapping);
    if board.contains_key(TaskField::DependsOn.as_str()) {
        // Not set yet: the sync after creation sees it changed and sets it.
        board.insert(TaskField::DependsOn.as_str().into(), json!([]));
    }
    if look_first {
        if let Some(page) = find_created(client, &source, mapping, &task, &item.marker).await? {
            let children = client.all_block_children(&page.id).await?;
            let notion = map::notion_side(&page, &children, mapping);
            return Ok(Some(Created {
                task: task.id,
                page: page.id,
                board,
                notion,
            }));
        }
    }
    let lookup = lookup(pool, client, &link, None).await?;
    let mut properties = Map::new();
    for m in &mapping.fields {
        if m.field == TaskField::DependsOn {
            continue;
        }
        let Some(value) = board.get(m.field.as_str()) else {
            continue;
        };
        if let Some(v) = map::to_notion(m, value, &lookup) {
            properties.insert(m.property.clone(), map::property_value(m, &v));
        }
    }
    let mut content = vec![json!({
        "object": "block", "type": "paragraph",
        "paragraph": { "rich_text": [ { "type": "text",
            "text": { "content": marker_text(migration, task.id, &item.marker) },
            "annotations": { "italic": true, "color": "gray" } } ] }
    })];
    for c in &task.criteria {
        content.push(map::todo_block(&c.text, c.done));
    }
    let page = client
        .create_page(
            &Parent::DataSource(source),
            Value::Object(properties),
            content,
        )
        .await?;
    let mut notion = map::notion_side(&page, &[], mapping);
    if let Some(criteria) = board.get(CRITERIA) {
        notion.insert(CRITERIA.into(), criteria.clone());
    }
    if notion.contains_key(TaskField::DependsOn.as_str()) {
        notion.insert(TaskField::DependsOn.as_str().into(), json!([]));
    }
    Ok(Some(Created {
        task: task.id,
        page: page.id,
        board,
        notion,
    }))
}

/// A row of the data source titled as the task whose first block holds
/// the marker.
async fn find_created(
    client: &NotionClient,
    source: &NotionId,
    mapping: &TaskMapping,
    task: &TaskView,
    marker: &str,
) -> Result<Option<Page>, NotionError> {
    let Some(title) = mapping.get(TaskField::Title) else {
        return Ok(None);
    };
    let filter = json!({ "property": title.property, "title": { "equals": task.title } });
    for page in client.query_data_source_all(source, Some(filter)).await? {
        let first = client.block_children(&page.id, None).await?;
        let marked = first.results.first().is_some_and(|b| {
            blocks::from_response(b.clone())
                .plain_text()
                .contains(marker)
        });
        if marked {
            return Ok(Some(page));
        }
    }
    Ok(None)
}

/// Delivers a `trash_task_page` item: the page goes to Notion's trash (a
/// page already gone is fine).
pub async fn deliver_trash(client: &NotionClient, page: &str) -> Result<(), MirrorError> {
    let page = NotionId::parse(page).map_err(|e| invalid("page", e.to_string()))?;
    match client.update_page(&page, json!({}), Some(true)).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

// ---- keeping a task and its page in step ------------------------------------------

/// What one reconcile did, by field.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Written to Notion.
    pub pushed: Vec<String>,
    /// Written to the board.
    pub pulled: Vec<String>,
    /// Held as conflicts.
    pub conflicts: Vec<String>,
    /// The page is in Notion's trash: the task was removed.
    pub trashed: bool,
}

/// "Notion: NAME" for the person who last edited `page`.
fn notion_actor(page: &Page, lookup: &Lookup) -> String {
    let name = page
        .last_edited_by
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| NotionId::parse(id).ok())
        .and_then(|id| lookup.name_of(id.as_str()))
        .unwrap_or_else(|| "someone".into());
    format!("Notion: {name}")
}

/// How many times a crossed sync (`crossed`) is done again at once.
const CROSSED_RETRIES: usize = 3;

/// Did the task change under this sync, which then recorded nothing (syncs
/// themselves take turns, see `reconcile`)? Either on the board, after the
/// sync read it (its writes to Notion, if any, were made), or in Notion
/// before its write (a property edited, the page trashed: nothing was
/// written). Its reads are stale: done again at once.
fn crossed(e: &MirrorError) -> bool {
    matches!(e, MirrorError::Store(StoreError::Conflict(_)))
}

/// `reconcile` with the page read afresh, done again at once (up to
/// `CROSSED_RETRIES` times) when a change on either side crossed it
/// (`crossed`). A push already
/// made to Notion is then read back as Notion's value (both sides the
/// same) and recorded; left for a later attempt, it was not recorded, and a
/// person's next edit of that field in Notion looked like a change on both
/// sides: a false conflict.
///
/// `dir`: the workspace's people and sprints, if already read; else they
/// are read once, for every attempt.
pub async fn reconcile_fresh(
    pool: &PgPool,
    client: &NotionClient,
    link: &TaskLink,
    task: i64,
    dir: Option<&Directory>,
) -> Result<Reconciled, MirrorError> {
    let read;
    let dir = match dir {
        Some(d) => d,
        None => {
            read = directory(client, link).await?;
            &read
        }
    };
    let mut tries = 0;
    loop {
        match reconcile(pool, client, link, task, None, Some(dir)).await {
            Err(e) if crossed(&e) && tries < CROSSED_RETRIES => tries += 1,
            other => return other,
        }
    }
}

/// Brings task `task` and its page in step (see the module's comment).
/// `page`: the page as just read (by a poll), else it is retrieved;
/// `dir`: the workspace's people and sprints, if already read.
///
/// One sync of a task runs at a time, across workers and app instances (a
/// transaction-scoped advisory lock per task, held while Notion is read and
/// written): two at once each pushed the board's value, the second after a
/// person's edit in Notion made in between, which it overwrote unseen.
pub async fn reconcile(
    pool: &PgPool,
    client: &NotionClient,
    link: &TaskLink,
    task: i64,
    page: Option<Page>,
    dir: Option<&Directory>,
) -> Result<Reconciled, MirrorError> {
    let mut lock = pool.begin().await.map_err(StoreError::from)?;
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('switchyard.task_sync:' || $1::text, 0))",
    )
    .bind(task)
    .execute(&mut *lock)
    .await
    .map_err(StoreError::from)?;
    let done = reconcile_locked(pool, client, link, task, page, dir).await;
    // The lock goes with the transaction, whatever the sync's outcome.
    if let Err(e) = lock.rollback().await {
        tracing::warn!(task, error = %e, "task sync: releasing the task's lock");
    }
    done
}

async fn reconcile_locked(
    pool: &PgPool,
    client: &NotionClient,
    link: &TaskLink,
    task: i64,
    page: Option<Page>,
    dir: Option<&Directory>,
) -> Result<Reconciled, MirrorError> {
    let Some(state) = stored::state(pool, task).await? else {
        return Ok(Reconciled::default());
    };
    let page_id = NotionId::parse(&state.page_id).map_err(|e| invalid("page", e.to_string()))?;
    let mut lookup = lookup(pool, client, link, dir).await?;
    let page = match page {
        // A page as listed by a poll is used only when edited after the
        // last sync: one listed before a sync that wrote to it (Notion
        // rounds edit times down to the minute) is read again.
        Some(p) if p.last_edited_time > state.synced_at => p,
        _ => match client.retrieve_page(&page_id).await {
            Ok(p) => p,
            Err(e) if is_not_found(&e) => {
                stored::remove_trashed(pool, task, "Notion").await?;
                return Ok(Reconciled {
                    trashed: true,
                    ..Default::default()
                });
            }
            Err(e) => return Err(e.into()),
        },
    };
    let actor = notion_actor(&page, &lookup);
    if page.in_trash {
        stored::remove_trashed(pool, task, &actor).await?;
        return Ok(Reconciled {
            trashed: true,
            ..Default::default()
        });
    }
    let children = client.all_block_children(&page_id).await?;
    let view = {
        let mut conn = pool.acquire().await.map_err(StoreError::from)?;
        match crate::store::migrations::task_in(&mut conn, task).await {
            Ok(t) => t,
            Err(StoreError::NotFound(_)) => return Ok(Reconciled::default()),
            Err(e) => return Err(e.into()),
        }
    };
    let mapping = &link.mapping.0;
    let board = map::board_side(&view, mapping);
    let notion = map::notion_side(&page, &children, mapping);
    complete_sprints(client, link, &mut lookup, &notion).await;
    let mut held: HashSet<String> = stored::held_fields(pool, task).await?.into_iter().collect();
    held.extend(unreadable(&page, mapping, &lookup));
    let (mut base_b, mut base_n) = (state.board.clone(), state.notion.clone());
    let mut out = Reconciled::default();
    // What each property is set to (Notion's normalised value), written
    // once the page is read again (`property_value_over` keeps what the
    // page holds beside it).
    let mut properties: Vec<(&FieldMapping, Value)> = Vec::new();
    let mut criteria_target: Option<Vec<(String, bool)>> = None;
    let mut changes = Vec::new();
    let mut conflicts = Vec::new();
    let mut board_change: Option<(String, chrono::DateTime<Utc>)> = None;
    for (field, b) in &board {
        if held.contains(field) {
            continue;
        }
        let n = notion.get(field).cloned().unwrap_or(Value::Null);
        let b_changed = base_b.get(field) != Some(b);
        let n_changed = base_n.get(field) != Some(&n);
        let m = TaskField::parse(field).and_then(|f| mapping.get(f));
        let b_as_n = match m {
            Some(m) => map::to_notion(m, b, &lookup),
            None => Some(b.clone()),
        };
        match (b_changed, n_changed) {
            (false, false) => {}
            (true, false) => match b_as_n {
                Some(v) => {
                    if v != n {
                        match m {
                            Some(m) => {
                                properties.push((m, v.clone()));
                            }
                            None => criteria_target = Some(map::criteria_of(&v)),
                        }
                        out.pushed.push(field.clone());
                    }
                    base_b.insert(field.clone(), b.clone());
                    base_n.insert(field.clone(), v);
                }
                // Notion cannot hold it (yet): dependencies wait for their
                // pages; anything else is left as it is in Notion.
                None => {
                    if field != TaskField::DependsOn.as_str() {
                        base_b.insert(field.clone(), b.clone());
                    }
                }
            },
            (false, true) => {
                let as_board = match m {
                    Some(m) => map::to_board(m, &n, &lookup),
                    None => Some(n.clone()),
                };
                if let Some(v) = as_board {
                    if &v != b {
                        changes.push((field.clone(), v.clone()));
                        out.pulled.push(field.clone());
                    }
                    base_b.insert(field.clone(), v);
                }
                base_n.insert(field.clone(), n);
            }
            (true, true) => {
                if b_as_n.as_ref() == Some(&n) {
                    // Both sides made the same change.
                    base_b.insert(field.clone(), b.clone());
                    base_n.insert(field.clone(), n);
                } else {
                    if board_change.is_none() {
                        board_change = Some(stored::board_change_of(pool, task).await?);
                    }
                    let (board_by, board_at) = board_change.clone().unwrap_or_default();
                    // Notion's side as the board would say it, when the
                    // board can (a name, a sprint's title), for the page
                    // that shows the conflict.
                    let notion_shown = m
                        .and_then(|m| map::to_board(m, &n, &lookup))
                        .map(|v| map::describe(field, &v));
                    conflicts.push(NewConflict {
                        field: field.clone(),
                        board_value: b.clone(),
                        notion_value: n,
                        notion_shown,
                        board_by,
                        board_at,
                        notion_by: actor.clone(),
                        notion_at: page.last_edited_time,
                    });
                    out.conflicts.push(field.clone());
                }
            }
        }
    }
    if !properties.is_empty() {
        // Notion has no conditional write. The page is read again just
        // before writing: if a property about to be written changed since
        // it was read (a person's edit meanwhile), nothing is written and
        // the sync starts over, so that edit is seen (a change or a
        // conflict), not overwritten. What is left is the time between
        // this read and the write, one request's.
        let now = client.retrieve_page(&page_id).await?;
        if now.in_trash {
            // Moved to the trash meanwhile: the sync starts over and
            // finds it there.
            return Err(MirrorError::Store(StoreError::Conflict(format!(
                "task {task}: its page was moved to the trash while it was synced"
            ))));
        }
        let again = map::notion_side(&now, &children, mapping);
        let edited: Vec<&String> = out
            .pushed
            .iter()
            .filter(|f| f.as_str() != CRITERIA && again.get(*f) != notion.get(*f))
            .collect();
        if !edited.is_empty() {
            return Err(MirrorError::Store(StoreError::Conflict(format!(
                "task {task}: {edited:?} edited in Notion while it was synced"
            ))));
        }
        let values: Map<String, Value> = properties
            .iter()
            .map(|(m, v)| {
                let value = map::property_value_over(m, v, now.properties.get(&m.property));
                (m.property.clone(), value)
            })
            .collect();
        client
            .update_page(&page_id, Value::Object(values), None)
            .await?;
    }
    if let Some(target) = criteria_target {
        push_criteria(client, &page_id, &children, &target).await?;
    }
    // Nothing learnt, sent or held: the record stands as it is (a poll
    // lists every row edited in the last minute or so, again and again).
    if changes.is_empty() && conflicts.is_empty() && base_b == state.board && base_n == state.notion
    {
        return Ok(out);
    }
    stored::apply(
        pool,
        &SyncWrite {
            task,
            revision: view.revision,
            version: state.version,
            changes,
            conflicts,
            board: base_b,
            notion: base_n,
            actor,
        },
    )
    .await?;
    Ok(out)
}

/// Makes the page's to-do blocks say `target`: changed ones updated in
/// place, extra ones moved to the trash, missing ones appended.
async fn push_criteria(
    client: &NotionClient,
    page: &NotionId,
    children: &[Value],
    target: &[(String, bool)],
) -> Result<(), NotionError> {
    let present = map::todo_blocks(children);
    for ((id, text, done), (want_text, want_done)) in present.iter().zip(target) {
        if text != want_text || done != want_done {
            let block = map::todo_block(want_text, *want_done);
            client
                .update_block(id, json!({ "to_do": block["to_do"] }))
                .await?;
        }
    }
    for (id, _, _) in present.iter().skip(target.len()) {
        client.delete_block(id).await?;
    }
    if target.len() > present.len() {
        let more = target[present.len()..]
            .iter()
            .map(|(t, d)| map::todo_block(t, *d))
            .collect();
        client.append_blocks(page, more, Position::End).await?;
    }
    Ok(())
}

// ---- Notion's changes, by polling ---------------------------------------------------

#[derive(Clone, Debug)]
pub struct PollSettings {
    /// Between polls (`SWITCHYARD_NOTION_POLL_SECS`).
    pub interval: Duration,
    /// Every this many polls, the whole data source is listed to find
    /// pages moved to the trash (a query lists only pages not in it).
    pub sweep_every: i64,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            sweep_every: 10,
        }
    }
}

/// What one poll of a link found.
#[derive(Debug, Default)]
pub struct PollReport {
    /// Rows Notion listed as edited since the last poll (a minute before).
    pub seen: usize,
    pub reconciled: Vec<(i64, Reconciled)>,
    /// New rows that became tasks.
    pub created: Vec<i64>,
    /// Tasks removed: their page is in the trash.
    pub trashed: Vec<i64>,
}

#[derive(Clone)]
pub struct Poller {
    pool: PgPool,
    client: NotionClient,
    settings: PollSettings,
}

impl Poller {
    pub fn new(pool: PgPool, client: NotionClient, settings: PollSettings) -> Self {
        Self {
            pool,
            client,
            settings,
        }
    }

    /// Polls every mirrored task database once, then every published
    /// plan's page (`plan_sync::poll`).
    pub async fn poll_once(&self) -> Result<Vec<PollReport>, MirrorError> {
        let reports = self.poll_tasks().await?;
        super::plan_sync::poll(&self.pool, &self.client).await?;
        Ok(reports)
    }

    /// Polls every mirrored task database once.
    pub async fn poll_tasks(&self) -> Result<Vec<PollReport>, MirrorError> {
        let mut out = Vec::new();
        for link in stored::mirrored_links(&self.pool).await? {
            match self.poll_link(&link).await {
                Ok(report) => out.push(report),
                Err(e) => tracing::warn!(migration = %link.migration_name, error = %e,
                    "Notion poll failed; trying again at the next poll"),
            }
        }
        Ok(out)
    }

    /// One poll of one task database: the rows edited since the last poll
    /// (a minute before it: Notion rounds `last_edited_time` down to the
    /// minute), each brought in step with its task, or made a task when
    /// new; now and then the whole list, for pages moved to the trash.
    pub async fn poll_link(&self, link: &TaskLink) -> Result<PollReport, MirrorError> {
        let started = Utc::now();
        let source = data_source_of(link)?;
        let since = link.polled_at.unwrap_or(link.connected_at) - chrono::Duration::minutes(1);
        let filter = json!({ "timestamp": "last_edited_time",
            "last_edited_time": { "on_or_after": since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true) } });
        let rows = self
            .client
            .query_data_source_all(&source, Some(filter))
            .await?;
        let dir = directory(&self.client, link).await?;
        let pages = stored::pages(&self.pool, link.migration_id).await?;
        let mut report = PollReport {
            seen: rows.len(),
            ..Default::default()
        };
        for page in rows {
            let task = pages
                .iter()
                .find(|(_, p)| p == page.id.as_str())
                .map(|(t, _)| *t);
            match task {
                Some(task) => {
                    let done = match reconcile(
                        &self.pool,
                        &self.client,
                        link,
                        task,
                        Some(page),
                        Some(&dir),
                    )
                    .await
                    {
                        // The page as listed may predate the other sync.
                        Err(e) if crossed(&e) => {
                            reconcile_fresh(&self.pool, &self.client, link, task, Some(&dir)).await
                        }
                        other => other,
                    };
                    match done {
                        Ok(r) if r.trashed => report.trashed.push(task),
                        Ok(r) => report.reconciled.push((task, r)),
                        Err(e) => {
                            tracing::warn!(task, error = %e, "Notion poll: task not synced; next poll tries again")
                        }
                    }
                }
                None => {
                    if let Some(task) = self.new_row(link, &page, &dir).await? {
                        report.created.push(task);
                    }
                }
            }
        }
        if link.polls % self.settings.sweep_every.max(1) == 0 {
            let live: HashSet<String> = self
                .client
                .query_data_source_all(&source, None)
                .await?
                .into_iter()
                .map(|p| p.id.to_string())
                .collect();
            for (task, page) in &pages {
                if live.contains(page) || report.trashed.contains(task) {
                    continue;
                }
                let Ok(id) = NotionId::parse(page) else {
                    continue;
                };
                let gone = match self.client.retrieve_page(&id).await {
                    Ok(p) => p.in_trash,
                    Err(e) if is_not_found(&e) => true,
                    Err(e) => return Err(e.into()),
                };
                if gone {
                    stored::remove_trashed(&self.pool, *task, "Notion").await?;
                    report.trashed.push(*task);
                }
            }
        }
        stored::polled(&self.pool, link.migration_id, started).await?;
        Ok(report)
    }

    /// A row with no task: a new task, unless it is a page Switchyard
    /// created whose creation is still being recorded (its marker line).
    async fn new_row(
        &self,
        link: &TaskLink,
        page: &Page,
        dir: &Directory,
    ) -> Result<Option<i64>, MirrorError> {
        let children = self.client.all_block_children(&page.id).await?;
        let ours = children.first().is_some_and(|b| {
            blocks::from_response(b.clone())
                .plain_text()
                .starts_with(MARKER_PREFIX)
        });
        if ours {
            return Ok(None);
        }
        let mapping = &link.mapping.0;
        let mut lookup = lookup(&self.pool, &self.client, link, Some(dir)).await?;
        let mut notion = map::notion_side(page, &children, mapping);
        complete_sprints(&self.client, link, &mut lookup, &notion).await;
        // A field that cannot be read whole is left out of both sides: the
        // board gets no value for it, and the first sync that can read it
        // sees Notion's as a change.
        for field in unreadable(page, mapping, &lookup) {
            notion.remove(&field);
        }
        let board_value = |field: TaskField| -> Option<Value> {
            let m = mapping.get(field)?;
            map::to_board(m, notion.get(field.as_str())?, &lookup)
        };
        let text = |field| board_value(field).and_then(|v| v.as_str().map(str::to_string));
        let Some(title) = text(TaskField::Title) else {
            return Ok(None);
        };
        let criteria = notion.get(CRITERIA).cloned().unwrap_or_else(|| json!([]));
        let input = crate::store::tasks::TaskInput {
            title,
            status: text(TaskField::Status)
                .and_then(|s| TaskStatus::parse(&s))
                .unwrap_or(TaskStatus::ToDo),
            priority: text(TaskField::Priority)
                .and_then(|s| Priority::parse(&s))
                .unwrap_or(Priority::Medium),
            assignee: text(TaskField::Assignee),
            sprint: text(TaskField::Sprint),
            phase_position: None,
            depends_on: board_value(TaskField::DependsOn)
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
            criteria: map::criteria_of(&criteria)
                .into_iter()
                .map(|(t, _)| t)
                .collect(),
        };
        let actor = notion_actor(page, &lookup);
        Ok(stored::create_from_notion(
            &self.pool,
            link.migration_id,
            input,
            page.id.as_str(),
            &notion,
            &criteria,
            mapping,
            &actor,
        )
        .await?)
    }

    /// Polls in the background for the life of the app.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.poll_once().await {
                    tracing::error!(error = %e, "Notion poll: cannot read the task links");
                }
                tokio::time::sleep(self.settings.interval).await;
            }
        })
    }
}
