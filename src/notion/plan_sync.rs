//! The published plan and its Notion page kept in step, both ways.
//!
//! The page is the one "Publish plan to Notion" made (`publish`): the
//! marker callout, "Phases" with a section per phase (its description, then
//! bullets: Owner, Depends on, State, Status, Blockers), then "Plan" and the
//! plan's text. Read back, the page gives the plan's editable content: each
//! phase's description (its paragraphs), owner, status note and blockers
//! (the bullets so named; the others are Switchyard's to write), and the
//! text after "Plan" as Markdown (`domain::markdown::from_blocks`; only the
//! page's top-level blocks).
//!
//! Change is detected by content, never by time (Notion rounds
//! `last_edited_time` down to the minute): each side's content is hashed
//! as last synced (`store::plan_sync`). Changed only in Switchyard: the
//! page is rewritten where it differs; only in Notion: its version becomes
//! a new revision by "Notion: NAME"; on both (to different content): a
//! conflict, nothing written anywhere until an operator keeps one side or
//! saves a merge.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use serde_json::{json, Value};
use sqlx::PgPool;

use super::blocks;
use super::error::MirrorError;
use super::publish::{plan_content, MARKER_PREFIX};
use super::wire::Position;
use super::{NotionClient, NotionError};
use crate::domain::notion_id::NotionId;
use crate::model::notion::Block;
use crate::model::plan::{PhaseEdit, PlanEdit};
use crate::model::Phase;
use crate::store::plan_sync::{self as stored, fingerprint, NewPlanConflict};
use crate::store::StoreError;

/// What one sync of the plan did.
#[derive(Debug, PartialEq, Eq)]
pub enum Synced {
    /// The plan is not published.
    NotPublished,
    /// An open conflict holds the plan: nothing done.
    Held,
    /// Neither side changed (or both made the same change).
    Unchanged,
    /// Switchyard's changes were written to the page (`writes` requests).
    Pushed { writes: usize },
    /// Notion's changes became revision `revision`.
    Pulled { revision: i32 },
    /// Both sides changed: held as a conflict.
    Conflict,
}

/// The page's blocks (top level, as Notion returns them) read back as the
/// plan's editable content: the body, and the phases found (a phase whose
/// section is gone from the page is left out, not emptied).
pub fn parse_page(children: &[Value]) -> PlanEdit {
    #[derive(PartialEq)]
    enum At {
        Top,
        Phases,
        Phase(Phase),
        Body,
    }
    let mut at = At::Top;
    let mut phases: BTreeMap<i16, PhaseEdit> = BTreeMap::new();
    let mut descriptions: BTreeMap<i16, Vec<String>> = BTreeMap::new();
    let mut body: Vec<Block> = Vec::new();
    for raw in children {
        let block = blocks::from_response(raw.clone());
        let kind = blocks::kind_of(raw).unwrap_or_default();
        let text = block.plain_text();
        if at == At::Body {
            body.push(block);
            continue;
        }
        match kind {
            "callout" if text.starts_with(MARKER_PREFIX) => {}
            "heading_2" if text.trim() == "Phases" => at = At::Phases,
            "heading_2" if text.trim() == "Plan" => at = At::Body,
            "heading_3" => {
                at = phase_of_heading(&text)
                    .map(|phase| {
                        phases.entry(phase.number()).or_insert_with(|| PhaseEdit {
                            position: phase,
                            title: String::new(),
                            description: String::new(),
                            owner: String::new(),
                            status_note: String::new(),
                            blockers: String::new(),
                        });
                        At::Phase(phase)
                    })
                    .unwrap_or(At::Phases);
            }
            "paragraph" => {
                if let At::Phase(phase) = at {
                    if !text.trim().is_empty() {
                        descriptions.entry(phase.number()).or_default().push(text);
                    }
                }
            }
            "bulleted_list_item" => {
                if let At::Phase(phase) = at {
                    if let Some(p) = phases.get_mut(&phase.number()) {
                        let field = |prefix: &str| text.strip_prefix(prefix).map(|v| v.trim());
                        if let Some(owner) = field("Owner:") {
                            p.owner = if owner == "unassigned" {
                                String::new()
                            } else {
                                owner.to_string()
                            };
                        } else if let Some(status) = field("Status:") {
                            p.status_note = status.to_string();
                        } else if let Some(blockers) = field("Blockers:") {
                            p.blockers = blockers.to_string();
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (n, lines) in descriptions {
        if let Some(p) = phases.get_mut(&n) {
            p.description = lines.join("\n\n");
        }
    }
    let body_markdown = if body.is_empty() {
        String::new()
    } else {
        crate::domain::markdown::from_blocks(&body)
    };
    PlanEdit {
        body_markdown,
        phases: phases.into_values().collect(),
    }
}

/// "Phase 2: Backfill…" → phase 2.
fn phase_of_heading(text: &str) -> Option<Phase> {
    let rest = text.trim().strip_prefix("Phase ")?;
    let (number, _) = rest.split_once(':')?;
    let n: i16 = number.trim().parse().ok()?;
    Phase::ALL.into_iter().find(|p| p.number() == n)
}

/// Notion's version applied onto `current`: its body, and its fields of
/// each phase it has (the others, and every title, as they are).
pub fn merge_onto(notion: &PlanEdit, current: &PlanEdit) -> PlanEdit {
    PlanEdit {
        body_markdown: notion.body_markdown.clone(),
        phases: current
            .phases
            .iter()
            .map(
                |c| match notion.phases.iter().find(|n| n.position == c.position) {
                    Some(n) => PhaseEdit {
                        title: c.title.clone(),
                        ..n.clone()
                    },
                    None => c.clone(),
                },
            )
            .collect(),
    }
}

/// "Notion: NAME" for whoever last edited the page.
async fn notion_actor(client: &NotionClient, page: &super::wire::Page) -> String {
    let id = page
        .last_edited_by
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| NotionId::parse(id).ok());
    let name = match (id, client.list_users().await) {
        (Some(id), Ok(users)) => users.into_iter().find(|u| u.id == id).and_then(|u| {
            u.name
                .or_else(|| u.person.and_then(|p| p.email))
                .filter(|n| !n.trim().is_empty())
        }),
        _ => None,
    };
    format!("Notion: {}", name.unwrap_or_else(|| "someone".into()))
}

fn corrupt_page(page: &str, e: impl std::fmt::Display) -> MirrorError {
    MirrorError::Store(StoreError::Corrupt {
        what: format!("the plan's Notion page id {page:?}"),
        detail: e.to_string(),
    })
}

/// Brings migration `name`'s plan and its Notion page in step (see the
/// module's comment).
pub async fn sync(pool: &PgPool, client: &NotionClient, name: &str) -> Result<Synced, MirrorError> {
    let started = Utc::now();
    let Some(state) = stored::state(pool, name).await? else {
        return Ok(Synced::NotPublished);
    };
    if stored::open_conflict(pool, name).await?.is_some() {
        return Ok(Synced::Held);
    }
    let page_id = NotionId::parse(&state.page_id).map_err(|e| corrupt_page(&state.page_id, e))?;
    let page = client.retrieve_page(&page_id).await?;
    let children = client.all_block_children(&page_id).await?;
    let notion = parse_page(&children);
    let notion_hash = fingerprint(&notion);
    let plan = crate::store::migrations::plan(pool, name).await?;
    let current = stored::edit_of(&plan);
    let board_hash = fingerprint(&current);
    // Never synced (a plan published before the sync existed, or whose
    // page could not be read back): who changed what is unknown, so any
    // difference is held as a conflict rather than guessed.
    let unknown = state.board_hash.is_none() || state.notion_hash.is_none();
    let board_changed = unknown || state.board_hash.as_deref() != Some(board_hash.as_str());
    let notion_changed = unknown || state.notion_hash.as_deref() != Some(notion_hash.as_str());
    let synced = match (board_changed, notion_changed) {
        (false, false) => Synced::Unchanged,
        (true, false) => {
            let marker = marker_of(&children);
            let desired = plan_content(name, &marker, &plan);
            let (writes, written) = push(client, &page_id, &children, desired).await?;
            let after = client.all_block_children(&page_id).await?;
            // A block a person changed, added or removed while the plan
            // was written (Notion has no conditional write): the page is
            // recorded as it was before, so the next sync sees Notion
            // changed and brings the page (theirs and ours) in as a
            // revision, instead of taking their edit as in step and
            // overwriting it at the next push.
            let seen = if edited_meanwhile(&children, &after, &written) {
                tracing::warn!(
                    migration = name,
                    "plan: the page was edited in Notion while it was written; the next sync reads it"
                );
                notion_hash.clone()
            } else {
                fingerprint(&parse_page(&after))
            };
            stored::record(pool, &state, &board_hash, &seen).await?;
            tracing::info!(
                migration = name,
                writes,
                "plan: Switchyard's changes written to Notion"
            );
            Synced::Pushed { writes }
        }
        (false, true) | (true, true) => {
            let merged = merge_onto(&notion, &current);
            if fingerprint(&merged) == board_hash {
                // Notion says what Switchyard says.
                stored::record(pool, &state, &board_hash, &notion_hash).await?;
                Synced::Unchanged
            } else if !board_changed {
                let actor = notion_actor(client, &page).await;
                let revision = stored::pull(
                    pool,
                    name,
                    &state,
                    plan.revision,
                    merged,
                    &notion_hash,
                    &actor,
                )
                .await?;
                tracing::info!(migration = name, revision, %actor, "plan: Notion's changes saved");
                Synced::Pulled { revision }
            } else {
                let actor = notion_actor(client, &page).await;
                stored::hold(
                    pool,
                    &state,
                    &NewPlanConflict {
                        board_plan: current,
                        board_revision: plan.revision,
                        board_hash,
                        notion_plan: merged,
                        notion_hash,
                        notion_by: actor,
                        notion_at: page.last_edited_time,
                    },
                )
                .await?;
                tracing::warn!(migration = name, "plan: changed on both sides; held");
                Synced::Conflict
            }
        }
    };
    stored::checked(pool, state.migration_id, started).await?;
    Ok(synced)
}

/// Syncs every published plan whose page may have changed since its last
/// look (last edited no earlier than a minute before it: Notion rounds
/// down to the minute), whose Switchyard side changed, or whose Notion
/// side is to be read again (a conflict resolved as Notion's). A failure is
/// logged and tried again at the next poll.
pub async fn poll(
    pool: &PgPool,
    client: &NotionClient,
) -> Result<Vec<(String, Synced)>, MirrorError> {
    let mut out = Vec::new();
    for name in stored::published(pool).await? {
        match poll_one(pool, client, &name).await {
            Ok(Some(synced)) => out.push((name, synced)),
            Ok(None) => {}
            Err(e) => tracing::warn!(migration = %name, error = %e,
                "plan poll failed; trying again at the next poll"),
        }
    }
    Ok(out)
}

async fn poll_one(
    pool: &PgPool,
    client: &NotionClient,
    name: &str,
) -> Result<Option<Synced>, MirrorError> {
    let Some(state) = stored::state(pool, name).await? else {
        return Ok(None);
    };
    if let Some(checked) = state.checked_at {
        let page_id =
            NotionId::parse(&state.page_id).map_err(|e| corrupt_page(&state.page_id, e))?;
        let page = client.retrieve_page(&page_id).await?;
        let plan = crate::store::migrations::plan(pool, name).await?;
        let board_same =
            state.board_hash.as_deref() == Some(fingerprint(&stored::edit_of(&plan)).as_str());
        // The page's time says nothing when Notion's side is to be read
        // again whatever it says (a conflict resolved as Notion's).
        let notion_known = state
            .notion_hash
            .as_deref()
            .is_some_and(|h| h != stored::UNSYNCED);
        if board_same
            && notion_known
            && page.last_edited_time < checked - chrono::Duration::minutes(1)
        {
            return Ok(None);
        }
    }
    Ok(Some(sync(pool, client, name).await?))
}

/// The marker of the page's first block ("… Ref: sy-…"), kept as it is.
fn marker_of(children: &[Value]) -> String {
    children
        .first()
        .map(|b| blocks::from_response(b.clone()).plain_text())
        .and_then(|t| t.rsplit_once("Ref: ").map(|(_, m)| m.trim().to_string()))
        .unwrap_or_default()
}

/// What a block says, for comparing a block of the page with one we would
/// write: its type, its text with formatting and links (adjacent items
/// formatted alike merged), a to-do's tick, a code block's language.
fn block_key(block: &Value) -> Value {
    let kind = blocks::kind_of(block).unwrap_or_default();
    let body = block.get(kind).cloned().unwrap_or(Value::Null);
    let mut items: Vec<(Value, String)> = Vec::new();
    for item in body
        .get("rich_text")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let text = item
            .get("plain_text")
            .and_then(Value::as_str)
            .or_else(|| item.pointer("/text/content").and_then(Value::as_str))
            .unwrap_or_default();
        let flag = |k: &str| {
            item.get("annotations")
                .and_then(|a| a.get(k))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        let href = item
            .get("href")
            .and_then(Value::as_str)
            .or_else(|| item.pointer("/text/link/url").and_then(Value::as_str));
        let format = json!([
            flag("bold"),
            flag("italic"),
            flag("strikethrough"),
            flag("code"),
            href
        ]);
        match items.last_mut() {
            Some((f, t)) if *f == format => t.push_str(text),
            _ => items.push((format, text.to_string())),
        }
    }
    json!([kind, items, body.get("checked"), body.get("language")])
}

/// The type's object of a request block, as an update takes it.
fn update_body(block: &Value) -> Value {
    let kind = blocks::kind_of(block).unwrap_or_default();
    let mut body = block.get(kind).cloned().unwrap_or_else(|| json!({}));
    if let Some(fields) = body.as_object_mut() {
        fields.remove("children");
    }
    json!({ kind: body })
}

fn block_id(block: &Value) -> Result<NotionId, NotionError> {
    block
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| NotionId::parse(id).ok())
        .ok_or_else(|| NotionError::Decode {
            what: "a block of the plan's page".into(),
            detail: "no id".into(),
        })
}

/// Makes the page's blocks (after its marker) say `desired` (after its
/// marker), touching only what differs: blocks equal at the start and the
/// end are kept; in between, blocks of the same type are updated in place,
/// the rest of the old ones moved to the trash and the rest of the new
/// ones inserted where they belong. Returns the number of writes and the
/// top-level blocks written (updated, trashed or made).
async fn push(
    client: &NotionClient,
    page: &NotionId,
    children: &[Value],
    desired: Vec<Value>,
) -> Result<(usize, HashSet<NotionId>), NotionError> {
    let mut written = HashSet::new();
    // The marker and the progress block are not the plan's content: kept
    // as they are (the progress writer keeps the latter).
    let skipped = |(i, b): &(usize, &Value)| {
        (*i == 0
            && blocks::from_response((*b).clone())
                .plain_text()
                .starts_with(MARKER_PREFIX))
            || super::progress::is_progress_block(b)
    };
    let leading = children
        .iter()
        .enumerate()
        .take_while(|ib| skipped(ib))
        .count();
    let old: Vec<Value> = children
        .iter()
        .enumerate()
        .filter(|ib| !skipped(ib))
        .map(|(_, b)| b.clone())
        .collect();
    let new_blocks = blocks::fit(desired);
    let new = new_blocks.get(1..).unwrap_or_default();
    let old_keys: Vec<Value> = old.iter().map(block_key).collect();
    let new_keys: Vec<Value> = new.iter().map(block_key).collect();
    let prefix = old_keys
        .iter()
        .zip(&new_keys)
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = old_keys[prefix..]
        .iter()
        .rev()
        .zip(new_keys[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let old_mid = &old[prefix..old.len() - suffix];
    let new_mid = &new[prefix..new.len() - suffix];
    let mut writes = 0;
    // The block the next insertion goes after.
    let mut after: Option<NotionId> = match (prefix, leading) {
        (0, 0) => None,
        (0, n) => Some(block_id(&children[n - 1])?),
        (p, _) => Some(block_id(&old[p - 1])?),
    };
    let mut paired = 0;
    for (o, n) in old_mid.iter().zip(new_mid) {
        if blocks::kind_of(o) != blocks::kind_of(n) || !blocks::children_of(n).is_empty() {
            break;
        }
        let id = block_id(o)?;
        if block_key(o) != block_key(n) {
            client.update_block(&id, update_body(n)).await?;
            written.insert(id.clone());
            writes += 1;
        }
        after = Some(id);
        paired += 1;
    }
    for o in &old_mid[paired..] {
        let id = block_id(o)?;
        client.delete_block(&id).await?;
        written.insert(id);
        writes += 1;
    }
    let rest = new_mid[paired..].to_vec();
    if !rest.is_empty() {
        let position = match after {
            Some(id) => Position::AfterBlock(id),
            None => Position::Start,
        };
        let made = client.append_blocks(page, rest, position).await?;
        written.extend(made.iter().filter_map(|b| block_id(b).ok()));
        writes += 1;
    }
    Ok((writes, written))
}

/// Whether a block of the page, other than those `written` and the
/// progress block (written by the progress writer), differs between
/// `before` and `after` the plan was written: changed, added or removed.
fn edited_meanwhile(before: &[Value], after: &[Value], written: &HashSet<NotionId>) -> bool {
    let theirs = |b: &&Value| {
        !super::progress::is_progress_block(b) && block_id(b).is_ok_and(|id| !written.contains(&id))
    };
    let keyed = |blocks: &[Value]| -> HashMap<NotionId, Value> {
        blocks
            .iter()
            .filter(theirs)
            .filter_map(|b| Some((block_id(b).ok()?, block_key(b))))
            .collect()
    };
    keyed(before) != keyed(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heading_names_its_phase() {
        assert_eq!(phase_of_heading("Phase 2: Backfill"), Some(Phase::ALL[1]));
        assert_eq!(phase_of_heading("Phase 9: Nothing"), None);
        assert_eq!(phase_of_heading("Notes"), None);
    }

    #[test]
    fn a_block_is_compared_by_what_it_says_not_how_it_is_split() {
        let request = json!({ "type": "paragraph", "paragraph": { "rich_text": [
            { "type": "text", "text": { "content": "one " } },
            { "type": "text", "text": { "content": "two" } } ] } });
        let response = json!({ "type": "paragraph", "id": "x", "paragraph": { "rich_text": [
            { "type": "text", "plain_text": "one two", "href": null,
              "annotations": { "bold": false, "italic": false } } ] } });
        assert_eq!(block_key(&request), block_key(&response));
        let bold = json!({ "type": "paragraph", "paragraph": { "rich_text": [
            { "type": "text", "text": { "content": "one two" }, "annotations": { "bold": true } } ] } });
        assert_ne!(block_key(&bold), block_key(&response));
    }
}
