//! Specs brought in from Notion: a new migration from a Notion page, a
//! refresh that replaces the stored blocks (the previous version kept in
//! `switchyard.spec_versions`), and that history.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{demo, events, StoreError, StoreResult};
use crate::engine::Event;
use crate::model::notion::Block;

/// A spec as first fetched from Notion, to become a new migration.
pub struct ImportedSpec<'a> {
    /// The Notion page id (dashed form).
    pub page_id: &'a str,
    pub title: &'a str,
    pub blocks: &'a [Block],
}

/// The migration whose spec is Notion page `page_id`, if any (a page is
/// the spec of one migration at most: its refresh replaces that spec).
pub async fn migration_of_page(
    conn: &mut sqlx::PgConnection,
    page_id: &str,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT m.name FROM switchyard.specs s JOIN switchyard.migrations m ON m.id = s.migration_id
         WHERE s.notion_page_id = $1",
    )
    .bind(page_id)
    .fetch_optional(conn)
    .await?)
}

/// Takes the lock under which a migration is made from a Notion page (an
/// import, or a draft whose spec is a page), until the transaction ends:
/// two at once must not both take a name or both take one page.
pub async fn lock_spec_pages(tx: &mut sqlx::PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('switchyard.import_spec'))")
        .execute(tx)
        .await?;
    Ok(())
}

/// Creates a migration from a Notion spec: its spec, the standard plan
/// (five phases, each after the one before, no owner yet) and no recipe yet.
/// Named after the title (`a-z0-9-`, made unique). Refused when the page
/// already is a migration's spec. Returns the new migration's name.
#[tracing::instrument(skip(pool, spec), fields(page = spec.page_id))]
pub async fn create_from_notion(
    pool: &PgPool,
    spec: ImportedSpec<'_>,
    actor: &str,
) -> StoreResult<String> {
    let title = spec.title.trim();
    let title = if title.is_empty() {
        "Untitled spec"
    } else {
        title
    };
    let title: String = title.chars().take(200).collect();
    let blocks = serde_json::to_value(spec.blocks).map_err(|e| StoreError::Corrupt {
        what: "spec blocks".into(),
        detail: e.to_string(),
    })?;
    let mut tx = pool.begin().await?;
    lock_spec_pages(&mut tx).await?;
    if let Some(name) = migration_of_page(&mut tx, spec.page_id).await? {
        return Err(StoreError::Conflict(format!(
            "this Notion page already is the spec of migration {name:?} (refresh it there)"
        )));
    }
    let base = match slug(&title) {
        // Reserved for a rehearsal's own records (`store::recipes::save_in`).
        s if crate::engine::rehearse::is_rehearsal_name(&s) => format!("{s}-spec"),
        s => s,
    };
    let taken: Vec<String> =
        sqlx::query_scalar("SELECT name FROM switchyard.migrations WHERE name LIKE $1 || '%'")
            .bind(&base)
            .fetch_all(&mut *tx)
            .await?;
    let name = (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                let suffix = format!("-{n}");
                format!("{}{suffix}", &base[..base.len().min(63 - suffix.len())])
            }
        })
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| base.clone());
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO switchyard.migrations (name, title, description) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(&name)
    .bind(&title)
    .bind("Imported from a Notion spec.")
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO switchyard.specs (migration_id, title, blocks, notion_page_id)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(&title)
    .bind(sqlx::types::Json(&blocks))
    .bind(spec.page_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO switchyard.plans (migration_id, title, body_markdown) VALUES ($1, $2, '')",
    )
    .bind(id)
    .bind(format!("Implementation plan: {title}"))
    .execute(&mut *tx)
    .await?;
    for phase in &demo::PHASES {
        sqlx::query(
            "INSERT INTO switchyard.plan_phases (migration_id, position, title, description)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(phase.position)
        .bind(phase.title)
        .bind(phase.description)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO switchyard.phase_states (migration_id, position) VALUES ($1, $2)")
            .bind(id)
            .bind(phase.position)
            .execute(&mut *tx)
            .await?;
    }
    for phase in &demo::PHASES {
        if let Some(before) = phase.position.previous() {
            sqlx::query(
                "INSERT INTO switchyard.plan_phase_dependencies (migration_id, position, depends_on)
                 VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(phase.position)
            .bind(before)
            .execute(&mut *tx)
            .await?;
        }
    }
    super::plans::snapshot(&mut tx, id, actor).await?;
    events::record(
        &mut tx,
        id,
        actor,
        &Event::SpecImported {
            page: spec.page_id.to_string(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(name)
}

/// A migration name from a title: lowercase letters, digits and dashes,
/// starting with a letter or digit, at most 63 characters.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 63 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "notion-spec".into()
    } else {
        out
    }
}

/// The stored spec's Notion page and when it was fetched.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SpecSource {
    pub migration_id: i64,
    pub notion_page_id: Option<String>,
    pub fetched_at: DateTime<Utc>,
}

pub async fn source(pool: &PgPool, name: &str) -> StoreResult<SpecSource> {
    sqlx::query_as(
        "SELECT s.migration_id, s.notion_page_id, s.fetched_at
         FROM switchyard.specs s JOIN switchyard.migrations m ON m.id = s.migration_id
         WHERE m.name = $1",
    )
    .bind(name)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("spec of migration {name:?}")))
}

/// What a refresh replaces the spec with.
pub struct Refresh<'a> {
    pub title: &'a str,
    pub blocks: &'a [Block],
    /// The fetch the person saw the changes against: refused if the spec
    /// was replaced since.
    pub base_fetched_at: DateTime<Utc>,
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
}

/// Replaces the spec with a fresh fetch; the previous version goes to the
/// history. Returns the new fetch time.
#[tracing::instrument(skip(pool, refresh))]
pub async fn replace(
    pool: &PgPool,
    name: &str,
    refresh: Refresh<'_>,
    actor: &str,
) -> StoreResult<DateTime<Utc>> {
    let blocks = serde_json::to_value(refresh.blocks).map_err(|e| StoreError::Corrupt {
        what: "spec blocks".into(),
        detail: e.to_string(),
    })?;
    let mut tx = pool.begin().await?;
    let current: Option<SpecSource> = sqlx::query_as(
        "SELECT s.migration_id, s.notion_page_id, s.fetched_at
         FROM switchyard.specs s JOIN switchyard.migrations m ON m.id = s.migration_id
         WHERE m.name = $1 FOR UPDATE OF s",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let current =
        current.ok_or_else(|| StoreError::NotFound(format!("spec of migration {name:?}")))?;
    if current.notion_page_id.is_none() {
        return Err(StoreError::Invalid {
            field: "spec".into(),
            message:
                "this spec is local (not linked to a Notion page); there is nothing to refresh"
                    .into(),
        });
    }
    // Compared to the microsecond Postgres keeps.
    if current.fetched_at.timestamp_micros() != refresh.base_fetched_at.timestamp_micros() {
        return Err(StoreError::Conflict(
            "the spec was refreshed by someone else meanwhile; look at the changes again".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO switchyard.spec_versions
             (migration_id, title, blocks, notion_page_id, fetched_at, replaced_by)
         SELECT migration_id, title, blocks, notion_page_id, fetched_at, $2
         FROM switchyard.specs WHERE migration_id = $1",
    )
    .bind(current.migration_id)
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    let fetched_at: DateTime<Utc> = sqlx::query_scalar(
        "UPDATE switchyard.specs SET title = $2, blocks = $3, fetched_at = clock_timestamp()
         WHERE migration_id = $1 RETURNING fetched_at",
    )
    .bind(current.migration_id)
    .bind(refresh.title)
    .bind(sqlx::types::Json(&blocks))
    .fetch_one(&mut *tx)
    .await?;
    events::record(
        &mut tx,
        current.migration_id,
        actor,
        &Event::SpecRefreshed {
            added: refresh.added,
            removed: refresh.removed,
            changed: refresh.changed,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(fetched_at)
}

/// An earlier version of a spec.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SpecVersionRow {
    pub id: i64,
    pub title: String,
    pub blocks: sqlx::types::Json<Vec<Block>>,
    pub fetched_at: DateTime<Utc>,
    pub replaced_at: DateTime<Utc>,
    pub replaced_by: String,
}

/// Earlier versions, newest first.
pub async fn history(pool: &PgPool, name: &str) -> StoreResult<Vec<SpecVersionRow>> {
    Ok(sqlx::query_as(
        "SELECT v.id, v.title, v.blocks, v.fetched_at, v.replaced_at, v.replaced_by
         FROM switchyard.spec_versions v JOIN switchyard.migrations m ON m.id = v.migration_id
         WHERE m.name = $1 ORDER BY v.id DESC",
    )
    .bind(name)
    .fetch_all(pool)
    .await?)
}
