//! The published plan kept in step with its Notion page: what was last
//! synced, per side, as a hash of the plan's editable content
//! (`switchyard.plan_sync`); a change on both sides held as a conflict
//! (`switchyard.plan_conflicts`) until an operator keeps one side or saves
//! a merge; the sync queued (outbox) in the transaction of a plan's save.
//! The sync itself, talking to Notion, is `notion::plan_sync`.

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::outbox::{self, About, OutboxKind};
use super::{events, StoreError, StoreResult};
use crate::engine::Event;
use crate::model::plan::{PhaseEdit, PlanEdit};
use crate::model::PlanView;

/// A hash of a plan's editable content: its text and each phase's
/// description, owner, status note and blockers (titles are not edited).
/// Both sides are hashed alike, each compared only with its own last
/// synced hash.
pub fn fingerprint(edit: &PlanEdit) -> String {
    let phases: Vec<_> = edit
        .phases
        .iter()
        .map(|p| {
            json!([
                p.position.number(),
                p.description,
                p.owner,
                p.status_note,
                p.blockers
            ])
        })
        .collect();
    let canonical = json!([edit.body_markdown, phases]).to_string();
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The editable content of a plan as shown.
pub fn edit_of(plan: &PlanView) -> PlanEdit {
    PlanEdit {
        body_markdown: plan.body_markdown.clone(),
        phases: plan
            .phases
            .iter()
            .map(|p| PhaseEdit {
                position: p.position,
                title: p.title.clone(),
                description: p.description.clone(),
                owner: p.owner.clone().unwrap_or_default(),
                status_note: p.status_note.clone(),
                blockers: p.blockers.clone(),
            })
            .collect(),
    }
}

/// What was last synced of a published plan.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PlanSyncState {
    pub migration_id: i64,
    pub page_id: String,
    /// None: not synced yet (the page is as Switchyard published it).
    pub board_hash: Option<String>,
    pub notion_hash: Option<String>,
    pub version: i64,
    pub checked_at: Option<DateTime<Utc>>,
}

/// Migration `name`'s plan sync state; None while the plan is not
/// published. A plan published before the sync existed gets its state
/// (not synced yet) here.
pub async fn state(pool: &PgPool, name: &str) -> StoreResult<Option<PlanSyncState>> {
    let page: Option<(i64, Option<String>)> = sqlx::query_as(
        "SELECT m.id, p.notion_page_id FROM switchyard.migrations m
         JOIN switchyard.plans p ON p.migration_id = m.id WHERE m.name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?;
    let Some((mid, Some(page))) = page else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO switchyard.plan_sync (migration_id, page_id) VALUES ($1, $2)
         ON CONFLICT (migration_id) DO NOTHING",
    )
    .bind(mid)
    .bind(&page)
    .execute(pool)
    .await?;
    Ok(Some(
        sqlx::query_as(
            "SELECT migration_id, page_id, board_hash, notion_hash, version, checked_at
             FROM switchyard.plan_sync WHERE migration_id = $1",
        )
        .bind(mid)
        .fetch_one(pool)
        .await?,
    ))
}

/// The migrations whose plan is published (for the poller).
pub async fn published(pool: &PgPool) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT m.name FROM switchyard.plans p JOIN switchyard.migrations m ON m.id = p.migration_id
         WHERE p.notion_page_id IS NOT NULL ORDER BY m.name",
    )
    .fetch_all(pool)
    .await?)
}

/// A sync of the plan started at `at` (the next poll skips a page last
/// edited more than a minute before).
pub async fn checked(pool: &PgPool, mid: i64, at: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query("UPDATE switchyard.plan_sync SET checked_at = $2 WHERE migration_id = $1")
        .bind(mid)
        .bind(at)
        .execute(pool)
        .await?;
    Ok(())
}

/// The last-synced hash of a side a resolved conflict keeps: no page or
/// plan has it, so that side looks changed to the next sync.
pub const UNSYNCED: &str = "unsynced";

/// Queues a sync of the plan in the caller's transaction when the plan is
/// published, unless one waits already (it reads the plan when it runs; one
/// waiting out a retry is brought forward: `outbox::hurry_waiting`).
pub async fn queue_sync(conn: &mut PgConnection, mid: i64, actor: &str) -> StoreResult<()> {
    let published: Option<bool> = sqlx::query_scalar(
        "SELECT notion_page_id IS NOT NULL FROM switchyard.plans WHERE migration_id = $1",
    )
    .bind(mid)
    .fetch_optional(&mut *conn)
    .await?;
    if published != Some(true) {
        return Ok(());
    }
    let waiting =
        outbox::hurry_waiting(conn, OutboxKind::SyncPlan, About::Plan { migration: mid }).await?;
    if !waiting {
        outbox::enqueue(conn, mid, OutboxKind::SyncPlan, &json!({}), actor).await?;
    }
    Ok(())
}

/// Records both sides as synced, unless someone else synced meanwhile
/// (`Conflict`: the next attempt reads again).
pub async fn record(
    pool: &PgPool,
    state: &PlanSyncState,
    board_hash: &str,
    notion_hash: &str,
) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    record_in(&mut conn, state, board_hash, notion_hash).await
}

async fn record_in(
    conn: &mut PgConnection,
    state: &PlanSyncState,
    board_hash: &str,
    notion_hash: &str,
) -> StoreResult<()> {
    let updated = sqlx::query(
        "UPDATE switchyard.plan_sync SET board_hash = $3, notion_hash = $4,
             version = version + 1, synced_at = now()
         WHERE migration_id = $1 AND version = $2",
    )
    .bind(state.migration_id)
    .bind(state.version)
    .bind(board_hash)
    .bind(notion_hash)
    .execute(conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(StoreError::Conflict(
            "the plan was synced by another worker meanwhile".into(),
        ));
    }
    Ok(())
}

/// Saves Notion's version of the plan (`edit`, already merged onto the
/// plan as read at `base_revision`) as a new revision by `actor` ("Notion:
/// NAME"), and records both sides as synced, in one transaction. Refused
/// (`Conflict`) when the plan was saved meanwhile: the next sync reads it
/// again. Returns the new revision.
pub async fn pull(
    pool: &PgPool,
    name: &str,
    state: &PlanSyncState,
    base_revision: i32,
    edit: PlanEdit,
    notion_hash: &str,
    actor: &str,
) -> StoreResult<i32> {
    let edit = super::plans::checked(edit)?;
    let mut tx = pool.begin().await?;
    let revision = super::plans::save_in(
        &mut tx,
        state.migration_id,
        name,
        base_revision,
        &edit,
        actor,
    )
    .await?;
    record_in(&mut tx, state, &fingerprint(&edit), notion_hash).await?;
    tx.commit().await?;
    Ok(revision)
}

/// Both versions of a plan changed on both sides, as found.
#[derive(Clone, Debug)]
pub struct NewPlanConflict {
    pub board_plan: PlanEdit,
    pub board_revision: i32,
    pub board_hash: String,
    pub notion_plan: PlanEdit,
    pub notion_hash: String,
    pub notion_by: String,
    pub notion_at: DateTime<Utc>,
}

/// Holds a conflict (nothing else is written but a new sync version);
/// false when one is open already. Refused (`Conflict`: the next attempt
/// reads again) when the sync's version changed since `state` was read: a
/// conflict resolved meanwhile must not be held again from what a sync read
/// before the resolution (the kept side was then never written). The new
/// version refuses, in turn, a sync that read before this one (and so saw
/// no conflict) when it records or pulls: it must not settle a side while
/// the conflict about it is open. The Switchyard side's author and time are
/// the latest saved revision's.
pub async fn hold(pool: &PgPool, state: &PlanSyncState, c: &NewPlanConflict) -> StoreResult<bool> {
    let mid = state.migration_id;
    let mut tx = pool.begin().await?;
    // Resolving updates this row too, so the row lock orders the two.
    let bumped = sqlx::query(
        "UPDATE switchyard.plan_sync SET version = version + 1
         WHERE migration_id = $1 AND version = $2",
    )
    .bind(mid)
    .bind(state.version)
    .execute(&mut *tx)
    .await?;
    if bumped.rows_affected() != 1 {
        return Err(StoreError::Conflict(
            "the plan was synced, or its conflict resolved, meanwhile".into(),
        ));
    }
    let (board_by, board_at) = last_save(&mut tx, mid).await?;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO switchyard.plan_conflicts
             (migration_id, board_plan, board_revision, board_hash, board_by, board_at,
              notion_plan, notion_hash, notion_by, notion_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (migration_id) WHERE resolved_at IS NULL DO NOTHING RETURNING id",
    )
    .bind(mid)
    .bind(Json(&c.board_plan))
    .bind(c.board_revision)
    .bind(&c.board_hash)
    .bind(&board_by)
    .bind(board_at)
    .bind(Json(&c.notion_plan))
    .bind(&c.notion_hash)
    .bind(&c.notion_by)
    .bind(c.notion_at)
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_some() {
        events::record(
            &mut tx,
            mid,
            &c.notion_by,
            &Event::PlanConflict {
                revision: c.board_revision,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(inserted.is_some())
}

/// Who saved the plan's latest revision, and when.
async fn last_save(
    tx: &mut Transaction<'_, Postgres>,
    mid: i64,
) -> StoreResult<(String, DateTime<Utc>)> {
    let row: Option<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT v.saved_by, v.saved_at FROM switchyard.plan_versions v
         WHERE v.migration_id = $1 ORDER BY v.revision DESC LIMIT 1",
    )
    .bind(mid)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some(row) => Ok(row),
        None => {
            let at: Option<DateTime<Utc>> = sqlx::query_scalar(
                "SELECT updated_at FROM switchyard.plans WHERE migration_id = $1",
            )
            .bind(mid)
            .fetch_optional(&mut **tx)
            .await?;
            Ok(("someone".into(), at.unwrap_or_else(Utc::now)))
        }
    }
}

/// An open conflict of the plan, as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PlanConflict {
    pub id: i64,
    pub board_plan: Json<PlanEdit>,
    pub board_revision: i32,
    pub board_hash: String,
    pub board_by: String,
    pub board_at: DateTime<Utc>,
    pub notion_plan: Json<PlanEdit>,
    pub notion_hash: String,
    pub notion_by: String,
    pub notion_at: DateTime<Utc>,
}

/// Migration `name`'s open plan conflict.
pub async fn open_conflict(pool: &PgPool, name: &str) -> StoreResult<Option<PlanConflict>> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.board_plan, c.board_revision, c.board_hash, c.board_by, c.board_at,
                c.notion_plan, c.notion_hash, c.notion_by, c.notion_at
         FROM switchyard.plan_conflicts c JOIN switchyard.migrations m ON m.id = c.migration_id
         WHERE m.name = $1 AND c.resolved_at IS NULL",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}

/// What an operator keeps of a plan conflict.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    /// Switchyard's plan: written to Notion by the next sync.
    Switchyard,
    /// Notion's: saved as a new revision by the next sync.
    Notion,
    /// A merge typed by the operator, saved as a new revision on top of
    /// `base_revision`, then written to Notion.
    Merged { base_revision: i32, edit: PlanEdit },
}

impl Resolution {
    pub fn as_str(&self) -> &'static str {
        match self {
            Resolution::Switchyard => "switchyard",
            Resolution::Notion => "notion",
            Resolution::Merged { .. } => "merged",
        }
    }
}

/// Resolves the open conflict `conflict`: the last-synced hash of the side
/// not kept becomes its version as found (so only the kept side looks
/// changed), the kept side's is forgotten (so it is written across), a sync
/// is queued and the choice is an event; a merge is saved first as a new
/// revision. All in one transaction. A side changed again since the
/// conflict was found is seen by the next sync (a new conflict if both).
pub async fn resolve(
    pool: &PgPool,
    name: &str,
    conflict: i64,
    resolution: Resolution,
    actor: &str,
) -> StoreResult<()> {
    let merged = match &resolution {
        Resolution::Merged {
            base_revision,
            edit,
        } => Some((*base_revision, super::plans::checked(edit.clone())?)),
        _ => None,
    };
    let mut tx = pool.begin().await?;
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT c.migration_id, c.board_hash, c.notion_hash
         FROM switchyard.plan_conflicts c JOIN switchyard.migrations m ON m.id = c.migration_id
         WHERE c.id = $1 AND m.name = $2 AND c.resolved_at IS NULL FOR UPDATE OF c",
    )
    .bind(conflict)
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let (mid, board_hash, notion_hash) = row.ok_or_else(|| {
        StoreError::NotFound(format!(
            "open plan conflict {conflict} of migration {name:?}"
        ))
    })?;
    if let Some((base, edit)) = &merged {
        super::plans::save_in(&mut tx, mid, name, *base, edit, actor).await?;
    }
    let (board, notion) = match resolution {
        Resolution::Notion => (Some(board_hash), None),
        Resolution::Switchyard | Resolution::Merged { .. } => (None, Some(notion_hash)),
    };
    sqlx::query(
        "UPDATE switchyard.plan_sync SET board_hash = $2, notion_hash = $3, version = version + 1
         WHERE migration_id = $1",
    )
    .bind(mid)
    .bind(board.unwrap_or_else(|| UNSYNCED.into()))
    .bind(notion.unwrap_or_else(|| UNSYNCED.into()))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE switchyard.plan_conflicts SET resolved_at = now(), resolved_by = $2, kept = $3
         WHERE id = $1",
    )
    .bind(conflict)
    .bind(actor)
    .bind(resolution.as_str())
    .execute(&mut *tx)
    .await?;
    events::record(
        &mut tx,
        mid,
        actor,
        &Event::PlanConflictResolved {
            kept: resolution.as_str().into(),
        },
    )
    .await?;
    queue_sync(&mut tx, mid, actor).await?;
    tx.commit().await?;
    Ok(())
}
