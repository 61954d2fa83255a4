//! "Publish plan to Notion": the page the team would have written by hand
//! (the phases in order, each with its description, owner, what it depends
//! on, status note and blockers, then the plan's text under "Plan"; the
//! phases' state goes in the progress block, `notion::progress`), queued in
//! the outbox, and delivered
//! exactly once: the first block of the page carries the outbox item's
//! marker, so a page created by an attempt whose answer was lost (or whose
//! app was killed before recording it) is found again rather than created
//! a second time.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::blocks;
use super::client::NotionClient;
use super::wire::{title_property_map, Parent, Position};
use super::NotionError;
use crate::domain::notion_id::NotionId;
use crate::model::PlanView;
use crate::store::StoreError;

/// An outbox item's payload for `publish_plan`: everything the page needs,
/// fixed when the operator clicked.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PublishPlan {
    /// The page the plan goes under (the spec's page, or one picked).
    pub parent: NotionId,
    pub title: String,
    /// Written into the page's first block; unique per outbox item.
    pub marker: String,
    /// The page's content, as Notion takes blocks.
    pub content: Vec<Value>,
    /// The plan's content as published (`store::plan_sync::fingerprint`):
    /// the Switchyard side as first synced.
    #[serde(default)]
    pub board_hash: Option<String>,
}

/// Queues the publication of migration `name`'s plan as it is now, under
/// `parent` (or the spec's Notion page): an outbox item, written with its
/// event in one transaction. Refused when the plan is published or queued
/// already, or when there is no page to put it under.
pub async fn queue(
    pool: &sqlx::PgPool,
    name: &str,
    parent: Option<NotionId>,
    actor: &str,
) -> Result<i64, StoreError> {
    let plan = crate::store::migrations::plan(pool, name).await?;
    let marker = format!("sy-{:032x}", rand::random::<u128>());
    crate::store::outbox::queue_plan_publication(pool, name, actor, |facts| {
        let parent = match (&parent, &facts.spec_page_id) {
            (Some(p), _) => p.clone(),
            (None, Some(spec)) => NotionId::parse(spec).map_err(|e| StoreError::Corrupt {
                what: "the spec's Notion page id".into(),
                detail: e.to_string(),
            })?,
            (None, None) => {
                return Err(StoreError::Invalid {
                    field: "parent".into(),
                    message:
                        "this spec is not from Notion: give the page to publish the plan under"
                            .into(),
                })
            }
        };
        let payload = PublishPlan {
            parent,
            title: plan.title.clone(),
            content: plan_content(name, &marker, &plan),
            marker: marker.clone(),
            board_hash: Some(crate::store::plan_sync::fingerprint(
                &crate::store::plan_sync::edit_of(&plan),
            )),
        };
        serde_json::to_value(payload).map_err(|e| StoreError::Corrupt {
            what: "the plan's Notion page".into(),
            detail: e.to_string(),
        })
    })
    .await
}

/// The first words of the marker line (the page's first block).
pub const MARKER_PREFIX: &str = "Published from Switchyard";

/// The marker line's text.
pub fn marker_text(migration: &str, marker: &str) -> String {
    format!("{MARKER_PREFIX} (migration {migration}). Ref: {marker}")
}

/// The plan as a Notion page's content.
pub fn plan_content(migration: &str, marker: &str, plan: &PlanView) -> Vec<Value> {
    let mut out = vec![json!({
        "object": "block", "type": "callout",
        "callout": {
            "rich_text": [ { "type": "text", "text": { "content": marker_text(migration, marker) },
                             "annotations": { "italic": true, "color": "gray" } } ],
            "icon": { "type": "emoji", "emoji": "🚦" },
            "color": "gray_background"
        }
    })];
    out.push(heading(2, "Phases"));
    for phase in &plan.phases {
        out.push(heading(
            3,
            &format!("Phase {}: {}", phase.position.number(), phase.title),
        ));
        if !phase.description.is_empty() {
            out.push(blocks::paragraph(&phase.description));
        }
        let depends = if phase.depends_on.is_empty() {
            "nothing".to_string()
        } else {
            phase
                .depends_on
                .iter()
                .map(|d| {
                    let title = plan
                        .phases
                        .iter()
                        .find(|p| p.position == *d)
                        .map(|p| p.title.as_str())
                        .unwrap_or("");
                    format!("Phase {} ({title})", d.number())
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push(bullet(&format!(
            "Owner: {}",
            phase.owner.as_deref().unwrap_or("unassigned")
        )));
        out.push(bullet(&format!("Depends on: {depends}")));
        if !phase.status_note.is_empty() {
            out.push(bullet(&format!("Status: {}", phase.status_note)));
        }
        if !phase.blockers.is_empty() {
            out.push(bullet(&format!("Blockers: {}", phase.blockers)));
        }
    }
    // Always there, so text written under it in Notion is the plan's.
    out.push(heading(2, "Plan"));
    let body = crate::domain::markdown::to_blocks(&plan.body_markdown);
    out.extend(body.iter().filter_map(blocks::to_request));
    out
}

fn heading(level: u8, text: &str) -> Value {
    let kind = format!("heading_{level}");
    let mut block = json!({ "object": "block", "type": kind });
    block[kind.as_str()] =
        json!({ "rich_text": [ { "type": "text", "text": { "content": text } } ] });
    block
}

fn bullet(text: &str) -> Value {
    json!({ "object": "block", "type": "bulleted_list_item",
        "bulleted_list_item": { "rich_text": [ { "type": "text", "text": { "content": text } } ] } })
}

/// Delivers a publication: creates the page, or, when an earlier attempt
/// may have (`look_first`), finds it by its marker first and completes its
/// content if the earlier attempt stopped midway. Returns the page's id.
pub async fn deliver(
    client: &NotionClient,
    item: &PublishPlan,
    look_first: bool,
) -> Result<NotionId, NotionError> {
    if look_first {
        if let Some(page) = find_published(client, item).await? {
            let expected = blocks::fit(item.content.clone());
            let present = client.block_tree(&page).await?;
            complete(client, &page, &expected, &present).await?;
            return Ok(page);
        }
    }
    let page = client
        .create_page(
            &Parent::Page(item.parent.clone()),
            title_property_map(&item.title),
            item.content.clone(),
        )
        .await?;
    Ok(page.id)
}

/// Appends what an interrupted publication left out under `parent`: the
/// blocks after the last one present, and, level by level, the children a
/// present block is missing (the client sends nested children and long
/// lists in later requests, so a crash can fall between them). Blocks are
/// only ever appended in order, so what is present is a prefix of what is
/// expected at every level.
async fn complete(
    client: &NotionClient,
    parent: &NotionId,
    expected: &[Value],
    present: &[crate::model::notion::Block],
) -> Result<(), NotionError> {
    let mut pending = vec![(parent.clone(), expected.to_vec(), present.to_vec())];
    while let Some((parent, expected, present)) = pending.pop() {
        for (want, have) in expected.iter().zip(&present) {
            let children = blocks::children_of(want);
            if children.is_empty() {
                continue;
            }
            if let Ok(id) = NotionId::parse(&have.id) {
                pending.push((id, children.to_vec(), have.children.clone()));
            }
        }
        if present.len() < expected.len() {
            client
                .append_blocks(&parent, expected[present.len()..].to_vec(), Position::End)
                .await?;
        }
    }
    Ok(())
}

/// A child page of the parent titled as the plan whose first block holds
/// the marker.
async fn find_published(
    client: &NotionClient,
    item: &PublishPlan,
) -> Result<Option<NotionId>, NotionError> {
    let children = client.all_block_children(&item.parent).await?;
    for child in children {
        if blocks::kind_of(&child) != Some("child_page") {
            continue;
        }
        let title = child
            .pointer("/child_page/title")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if title != item.title {
            continue;
        }
        let Some(id) = child
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| NotionId::parse(id).ok())
        else {
            continue;
        };
        let first = client.block_children(&id, None).await?;
        let marked = first.results.first().is_some_and(|b| {
            blocks::from_response(b.clone())
                .plain_text()
                .contains(&item.marker)
        });
        if marked {
            return Ok(Some(id));
        }
    }
    Ok(None)
}
