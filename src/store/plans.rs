//! The plan as a versioned document: save (refused when someone else saved
//! first), history, any version, restore. Each save is one transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

use super::{StoreError, StoreResult};
use crate::engine::Event;
use crate::model::plan::{PhaseEdit, PlanEdit, PlanVersion, MAX_BODY_CHARS};

fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid {
        field: field.to_string(),
        message: message.into(),
    }
}

fn validate(mut edit: PlanEdit) -> StoreResult<PlanEdit> {
    if edit.body_markdown.chars().count() > MAX_BODY_CHARS {
        return Err(invalid(
            "body",
            format!("at most {MAX_BODY_CHARS} characters"),
        ));
    }
    // Fields are named as the editor's form names them: by their place in
    // the list (`phases[0].owner`).
    for (i, p) in edit.phases.iter_mut().enumerate() {
        let at = format!("phases[{i}]");
        p.owner = p.owner.trim().to_string();
        for (field, value, max) in [
            ("description", &p.description, 2000),
            ("owner", &p.owner, 100),
            ("status_note", &p.status_note, 2000),
            ("blockers", &p.blockers, 2000),
        ] {
            if value.chars().count() > max {
                return Err(invalid(
                    &format!("{at}.{field}"),
                    format!("at most {max} characters"),
                ));
            }
        }
    }
    Ok(edit)
}

async fn migration_id(tx: &mut Transaction<'_, Postgres>, name: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT id FROM switchyard.migrations WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))
}

/// Records the plan as it is now as version `revision`.
pub async fn snapshot(
    tx: &mut Transaction<'_, Postgres>,
    migration_id: i64,
    saved_by: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO switchyard.plan_versions (migration_id, revision, body_markdown, phases, saved_by)
         SELECT p.migration_id, p.revision, p.body_markdown,
                coalesce((SELECT jsonb_agg(jsonb_build_object(
                             'position', ph.position, 'title', ph.title, 'description', ph.description,
                             'owner', coalesce(ph.owner, ''), 'status_note', ph.status_note,
                             'blockers', ph.blockers) ORDER BY ph.position)
                          FROM switchyard.plan_phases ph WHERE ph.migration_id = p.migration_id), '[]'),
                $2
         FROM switchyard.plans p WHERE p.migration_id = $1",
    )
    .bind(migration_id)
    .bind(saved_by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Saves `edit` on top of `base_revision`; a conflict when the plan has moved
/// on since. Returns the new revision. A published plan gets a sync to its
/// Notion page queued in the same transaction.
pub async fn save(
    pool: &PgPool,
    name: &str,
    base_revision: i32,
    edit: PlanEdit,
    actor: &str,
) -> StoreResult<i32> {
    let edit = validate(edit)?;
    let mut tx = pool.begin().await?;
    let mid = migration_id(&mut tx, name).await?;
    let revision = save_in(&mut tx, mid, name, base_revision, &edit, actor).await?;
    super::plan_sync::queue_sync(&mut tx, mid, actor).await?;
    tx.commit().await?;
    Ok(revision)
}

/// Checks `edit` as a save does (lengths; owners trimmed).
pub fn checked(edit: PlanEdit) -> StoreResult<PlanEdit> {
    validate(edit)
}

/// Saves a checked `edit` on top of `base_revision` in the caller's
/// transaction (the plan row locked; refused when it moved on): the new
/// revision, its snapshot and its event.
pub async fn save_in(
    tx: &mut Transaction<'_, Postgres>,
    mid: i64,
    name: &str,
    base_revision: i32,
    edit: &PlanEdit,
    actor: &str,
) -> StoreResult<i32> {
    let current: i32 = sqlx::query_scalar(
        "SELECT revision FROM switchyard.plans WHERE migration_id = $1 FOR UPDATE",
    )
    .bind(mid)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("plan of migration {name:?}")))?;
    if current != base_revision {
        return Err(StoreError::Conflict(format!(
            "the plan was saved by someone else as revision {current} while you edited revision {base_revision}"
        )));
    }
    let revision: i32 = sqlx::query_scalar(
        "UPDATE switchyard.plans SET body_markdown = $2, revision = revision + 1, updated_at = now()
         WHERE migration_id = $1 RETURNING revision",
    )
    .bind(mid)
    .bind(&edit.body_markdown)
    .fetch_one(&mut **tx)
    .await?;
    for p in &edit.phases {
        sqlx::query(
            "UPDATE switchyard.plan_phases SET description = $3, owner = nullif($4, ''), status_note = $5, blockers = $6
             WHERE migration_id = $1 AND position = $2",
        )
        .bind(mid)
        .bind(p.position)
        .bind(&p.description)
        .bind(&p.owner)
        .bind(&p.status_note)
        .bind(&p.blockers)
        .execute(&mut **tx)
        .await?;
    }
    snapshot(tx, mid, actor).await?;
    super::events::record(tx, mid, actor, &Event::PlanSaved { revision }).await?;
    Ok(revision)
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    revision: i32,
    saved_by: String,
    saved_at: DateTime<Utc>,
    body_markdown: String,
    phases: sqlx::types::Json<Vec<PhaseEdit>>,
}

impl From<VersionRow> for PlanVersion {
    fn from(r: VersionRow) -> Self {
        PlanVersion {
            revision: r.revision,
            saved_by: r.saved_by,
            saved_at: r.saved_at,
            plan: PlanEdit {
                body_markdown: r.body_markdown,
                phases: r.phases.0,
            },
        }
    }
}

/// The plan's current revision (None: the migration has no plan).
pub async fn revision(pool: &PgPool, name: &str) -> StoreResult<Option<i32>> {
    Ok(sqlx::query_scalar(
        "SELECT p.revision FROM switchyard.plans p
         JOIN switchyard.migrations m ON m.id = p.migration_id WHERE m.name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?)
}

/// Every version, newest first.
pub async fn history(pool: &PgPool, name: &str) -> StoreResult<Vec<PlanVersion>> {
    let rows: Vec<VersionRow> = sqlx::query_as(
        "SELECT v.revision, v.saved_by, v.saved_at, v.body_markdown, v.phases
         FROM switchyard.plan_versions v JOIN switchyard.migrations m ON m.id = v.migration_id
         WHERE m.name = $1 ORDER BY v.revision DESC",
    )
    .bind(name)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Err(StoreError::NotFound(format!("plan of migration {name:?}")));
    }
    Ok(rows.into_iter().map(PlanVersion::from).collect())
}

pub async fn version(pool: &PgPool, name: &str, revision: i32) -> StoreResult<PlanVersion> {
    let row: Option<VersionRow> = sqlx::query_as(
        "SELECT v.revision, v.saved_by, v.saved_at, v.body_markdown, v.phases
         FROM switchyard.plan_versions v JOIN switchyard.migrations m ON m.id = v.migration_id
         WHERE m.name = $1 AND v.revision = $2",
    )
    .bind(name)
    .bind(revision)
    .fetch_optional(pool)
    .await?;
    row.map(PlanVersion::from)
        .ok_or_else(|| StoreError::NotFound(format!("revision {revision} of the plan")))
}

/// Saves an old version's content as a new revision.
pub async fn restore(
    pool: &PgPool,
    name: &str,
    revision: i32,
    base_revision: i32,
    actor: &str,
) -> StoreResult<i32> {
    let old = version(pool, name, revision).await?;
    save(pool, name, base_revision, old.plan, actor).await
}
