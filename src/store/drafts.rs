//! The new-migration wizard's state (issue 14): one row per wizard started,
//! each step's result stored (the source picked, the profile, the recipe
//! text as last typed), so every step reads again and resumes; and the
//! migration made from a draft, with its recipe, standard plan and tasks,
//! in one transaction.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;

use super::recipes::{self, NewVersion};
use super::{events, StoreError, StoreResult};
use crate::engine::{Event, Phase};
use crate::model::{Priority, TaskStatus};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredDraft {
    pub id: i64,
    pub source_schema: String,
    pub source_table: String,
    pub key_column: String,
    pub key_type: String,
    pub json_column: String,
    pub profile: Option<Json<serde_json::Value>>,
    pub profiled_at: Option<DateTime<Utc>>,
    pub recipe_text: Option<String>,
    /// The spec typed in the wizard (Markdown); None: none typed.
    pub spec_text: Option<String>,
    /// A Notion page linked as the spec instead (`NotionId` text).
    pub spec_notion_page: Option<String>,
    /// The sample check made for the current recipe and profile (a JSON
    /// value the wizard made), if any: `keep_sample_check`.
    pub sample_check: Option<Json<serde_json::Value>>,
    pub created_migration: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// A profile scan running since (None: none runs).
    pub profiling_since: Option<DateTime<Utc>>,
    /// When the running scan last said how far it is.
    pub profiling_beat: Option<DateTime<Utc>>,
    pub profiling_whole: Option<bool>,
    pub profiling_pages_done: Option<i64>,
    pub profiling_pages_total: Option<i64>,
    /// Why the last scan failed (None: it did not).
    pub profiling_error: Option<String>,
    /// The running scan has not said how far it is for longer than
    /// `PROFILING_STALE_AFTER_S` (by the database's clock, as the claim).
    pub profiling_stalled: Option<bool>,
    /// Milliseconds since the running scan started (the database's clock).
    pub profiling_elapsed_ms: Option<i64>,
}

/// A scan that has not said how far it is for this long is not running
/// (its server stopped): longer than any one part may take.
pub const PROFILING_STALE_AFTER_S: u64 = crate::engine::discover::STATEMENT_TIMEOUT_S + 60;

/// The source a new draft moves (checked by the caller against the database).
pub struct NewDraft<'a> {
    pub schema: &'a str,
    pub table: &'a str,
    pub key: &'a str,
    pub key_type: &'a str,
    pub column: &'a str,
    pub actor: &'a str,
}

pub async fn create(pool: &PgPool, d: &NewDraft<'_>) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO switchyard.migration_drafts
             (source_schema, source_table, key_column, key_type, json_column, created_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(d.schema)
    .bind(d.table)
    .bind(d.key)
    .bind(d.key_type)
    .bind(d.column)
    .bind(d.actor)
    .fetch_one(pool)
    .await?)
}

pub async fn get(pool: &PgPool, id: i64) -> StoreResult<StoredDraft> {
    one(pool, id, Read::Whole).await
}

/// Draft `id` as `get` reads it, without its profile, recipe, spec and
/// sample check (`None`): what its page's progress line asks for every two
/// seconds, without reading a profile of up to 2 000 paths each time.
pub async fn get_light(pool: &PgPool, id: i64) -> StoreResult<StoredDraft> {
    one(pool, id, Read::Light).await
}

/// The drafts not yet made into a migration, newest first.
pub async fn open(pool: &PgPool) -> StoreResult<Vec<StoredDraft>> {
    Ok(sqlx::query_as(&format!(
        "{} WHERE created_migration IS NULL ORDER BY id DESC LIMIT 50",
        select(Read::Whole)
    ))
    .fetch_all(pool)
    .await?)
}

/// How much of a draft a read takes.
#[derive(Clone, Copy)]
enum Read {
    Whole,
    /// Without its large texts and JSON.
    Light,
}

async fn one(pool: &PgPool, id: i64, read: Read) -> StoreResult<StoredDraft> {
    sqlx::query_as(&format!("{} WHERE id = $1", select(read)))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("draft {id}")))
}

/// The SELECT of a `StoredDraft` (no WHERE).
fn select(read: Read) -> String {
    let (profile, recipe, spec, check) = match read {
        Read::Whole => ("profile", "recipe_text", "spec_text", "sample_check"),
        Read::Light => (
            "NULL::jsonb AS profile",
            "NULL::text AS recipe_text",
            "NULL::text AS spec_text",
            "NULL::jsonb AS sample_check",
        ),
    };
    format!(
        "SELECT id, source_schema, source_table, key_column, key_type, json_column, {profile},
                profiled_at, {recipe}, {spec}, spec_notion_page, {check}, created_migration,
                created_by, created_at, profiling_since, profiling_beat, profiling_whole,
                profiling_pages_done, profiling_pages_total, profiling_error,
                profiling_beat < now() - make_interval(secs => {stale}) AS profiling_stalled,
                (extract(epoch FROM now() - profiling_since) * 1000)::bigint AS profiling_elapsed_ms
         FROM switchyard.migration_drafts",
        stale = PROFILING_STALE_AFTER_S
    )
}

/// Stores the profile (and the draft recipe proposed from it, unless a
/// recipe was typed already).
pub async fn set_profile(
    pool: &PgPool,
    id: i64,
    profile: &serde_json::Value,
    proposed: &str,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE switchyard.migration_drafts
         SET profile = $2, profiled_at = now(), updated_at = now(),
             recipe_text = coalesce(recipe_text, $3), sample_check = NULL
         WHERE id = $1 AND created_migration IS NULL",
    )
    .bind(id)
    .bind(Json(profile))
    .bind(proposed)
    .execute(pool)
    .await?;
    changed(done.rows_affected(), id)
}

/// A scan's hold on a draft: when it was claimed. Every write of the scan
/// names it, so a scan taken over as stopped (it was not) writes nothing
/// over the one that took its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfilingClaim(DateTime<Utc>);

/// Claims draft `id` for a profile scan (`whole`: of the whole table).
/// Refused (`Conflict`, saying since when) while another scan holds it: one
/// whose beat is newer than `PROFILING_STALE_AFTER_S`.
pub async fn claim_profiling(pool: &PgPool, id: i64, whole: bool) -> StoreResult<ProfilingClaim> {
    let claimed: Option<DateTime<Utc>> = sqlx::query_scalar(
        "UPDATE switchyard.migration_drafts
         SET profiling_since = clock_timestamp(), profiling_beat = now(), profiling_whole = $2,
             profiling_pages_done = 0, profiling_pages_total = NULL, profiling_error = NULL
         WHERE id = $1 AND created_migration IS NULL
           AND (profiling_since IS NULL OR profiling_beat < now() - make_interval(secs => $3))
         RETURNING profiling_since",
    )
    .bind(id)
    .bind(whole)
    .bind(PROFILING_STALE_AFTER_S as f64)
    .fetch_optional(pool)
    .await?;
    if let Some(since) = claimed {
        return Ok(ProfilingClaim(since));
    }
    let d = get(pool, id).await?;
    match (d.created_migration, d.profiling_since) {
        (Some(made), _) => Err(StoreError::Conflict(format!(
            "draft {id} is migration {made:?} already"
        ))),
        (None, Some(since)) => Err(StoreError::Conflict(format!(
            "a profile of {}.{} is running since {} UTC; wait for it to end",
            d.source_schema,
            d.source_table,
            since.format("%H:%M:%S")
        ))),
        (None, None) => Err(StoreError::Conflict(format!(
            "draft {id} changed meanwhile; try again"
        ))),
    }
}

/// The scan of draft `id` holding `claim` has read `done` of `total`
/// pages. False: it holds the draft no more (taken over as stopped), and
/// should stop.
pub async fn profiling_progress(
    pool: &PgPool,
    id: i64,
    claim: ProfilingClaim,
    done: i64,
    total: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE switchyard.migration_drafts
         SET profiling_pages_done = $3, profiling_pages_total = $4, profiling_beat = now()
         WHERE id = $1 AND profiling_since = $2",
    )
    .bind(id)
    .bind(claim.0)
    .bind(done)
    .bind(total)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The scan of draft `id` holding `claim` ended (`error`: why it failed);
/// nothing if another holds the draft now.
pub async fn end_profiling(
    pool: &PgPool,
    id: i64,
    claim: ProfilingClaim,
    error: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE switchyard.migration_drafts
         SET profiling_since = NULL, profiling_beat = NULL, profiling_error = $3
         WHERE id = $1 AND profiling_since = $2",
    )
    .bind(id)
    .bind(claim.0)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// A text a draft keeps as typed.
#[derive(Clone, Copy, Debug)]
pub enum DraftText {
    /// The recipe (valid or not: the page shows its errors).
    Recipe,
    /// The spec (Markdown).
    Spec,
}

/// Stores `which` text of draft `id` as typed.
pub async fn set_text(pool: &PgPool, id: i64, which: DraftText, text: &str) -> StoreResult<()> {
    let sql = match which {
        DraftText::Recipe => {
            "UPDATE switchyard.migration_drafts
             SET recipe_text = $2, updated_at = now(), sample_check = NULL
             WHERE id = $1 AND created_migration IS NULL"
        }
        DraftText::Spec => {
            "UPDATE switchyard.migration_drafts SET spec_text = $2, updated_at = now()
             WHERE id = $1 AND created_migration IS NULL"
        }
    };
    let done = sqlx::query(sql).bind(id).bind(text).execute(pool).await?;
    changed(done.rows_affected(), id)
}

/// Keeps `check`, made from `recipe_text` and the profile taken at
/// `profiled_at`, unless either changed meanwhile (then it is not theirs).
pub async fn keep_sample_check(
    pool: &PgPool,
    id: i64,
    recipe_text: &str,
    profiled_at: DateTime<Utc>,
    check: &serde_json::Value,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE switchyard.migration_drafts SET sample_check = $4
         WHERE id = $1 AND recipe_text = $2 AND profiled_at = $3",
    )
    .bind(id)
    .bind(recipe_text)
    .bind(profiled_at)
    .bind(Json(check))
    .execute(pool)
    .await?;
    Ok(())
}

/// Links the Notion page `page` as draft `id`'s spec (None: unlinks it).
pub async fn set_spec_page(pool: &PgPool, id: i64, page: Option<&str>) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE switchyard.migration_drafts SET spec_notion_page = $2, updated_at = now()
         WHERE id = $1 AND created_migration IS NULL",
    )
    .bind(id)
    .bind(page)
    .execute(pool)
    .await?;
    changed(done.rows_affected(), id)
}

fn changed(rows: u64, id: i64) -> StoreResult<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "draft {id} does not exist or is a migration already"
        )))
    }
}

/// One phase of the standard plan, as derived for a recipe.
pub struct PlannedPhase {
    pub position: Phase,
    pub title: String,
    pub description: String,
}

/// One task of the standard plan.
pub struct PlannedTask {
    pub title: String,
    pub priority: Priority,
    pub phase: Phase,
    pub criteria: Vec<String>,
}

/// What a draft becomes.
pub struct NewMigration<'a> {
    pub draft: i64,
    pub recipe: NewVersion<'a>,
    pub description: &'a str,
    pub spec_blocks: serde_json::Value,
    /// The Notion page the spec was fetched from, if it was.
    pub spec_page: Option<&'a str>,
    pub plan_body: &'a str,
    pub phases: &'a [PlannedPhase],
    pub tasks: &'a [PlannedTask],
}

/// Makes draft `m.draft` a migration: its recipe (version 1), a spec, the
/// standard plan (each phase after the one before) and its tasks (each
/// after the one before), all in one transaction. Refused when the draft is
/// a migration already, when the name is taken, or when another migration
/// moves the same table (named).
pub async fn create_migration(pool: &PgPool, m: &NewMigration<'_>) -> StoreResult<String> {
    let name = m.recipe.name;
    let mut tx = pool.begin().await?;
    let draft: Option<Option<String>> = sqlx::query_scalar(
        "SELECT created_migration FROM switchyard.migration_drafts WHERE id = $1 FOR UPDATE",
    )
    .bind(m.draft)
    .fetch_optional(&mut *tx)
    .await?;
    match draft {
        None => return Err(StoreError::NotFound(format!("draft {}", m.draft))),
        Some(Some(made)) => {
            return Err(StoreError::Conflict(format!(
                "draft {} is migration {made:?} already",
                m.draft
            )))
        }
        Some(None) => {}
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM switchyard.migrations WHERE name = $1)")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
    if exists {
        return Err(StoreError::Conflict(format!(
            "a migration named {name:?} exists already: change the recipe's name"
        )));
    }
    if let Some(page) = m.spec_page {
        // As an import (`specs::create_from_notion`, same lock): one
        // migration per spec page.
        super::specs::lock_spec_pages(&mut tx).await?;
        if let Some(other) = super::specs::migration_of_page(&mut tx, page).await? {
            return Err(StoreError::Conflict(format!(
                "this Notion page already is the spec of migration {other:?}: link another page, or unlink it"
            )));
        }
    }
    recipes::save_in(&mut tx, &m.recipe).await?;
    let id: i64 = sqlx::query_scalar(
        "UPDATE switchyard.migrations SET description = $2 WHERE name = $1 RETURNING id",
    )
    .bind(name)
    .bind(m.description)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO switchyard.specs (migration_id, title, blocks, notion_page_id)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(m.recipe.title)
    .bind(Json(&m.spec_blocks))
    .bind(m.spec_page)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO switchyard.plans (migration_id, title, body_markdown) VALUES ($1, $2, $3)",
    )
    .bind(id)
    .bind(format!("Implementation plan: {}", m.recipe.title))
    .bind(m.plan_body)
    .execute(&mut *tx)
    .await?;
    for phase in m.phases {
        sqlx::query(
            "INSERT INTO switchyard.plan_phases (migration_id, position, title, description)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(phase.position)
        .bind(&phase.title)
        .bind(&phase.description)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO switchyard.phase_states (migration_id, position) VALUES ($1, $2)")
            .bind(id)
            .bind(phase.position)
            .execute(&mut *tx)
            .await?;
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
    super::plans::snapshot(&mut tx, id, m.recipe.actor).await?;
    let mut previous: Option<i64> = None;
    for (rank, task) in m.tasks.iter().enumerate() {
        let task_id: i64 = sqlx::query_scalar(
            "INSERT INTO switchyard.tasks (migration_id, title, status, priority, phase_position, rank)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(id)
        .bind(&task.title)
        .bind(TaskStatus::ToDo.as_str())
        .bind(task.priority.as_str())
        .bind(task.phase)
        .bind(rank as i32)
        .fetch_one(&mut *tx)
        .await?;
        for (position, text) in task.criteria.iter().enumerate() {
            sqlx::query(
                "INSERT INTO switchyard.acceptance_criteria (task_id, position, text, done)
                 VALUES ($1, $2, $3, false)",
            )
            .bind(task_id)
            .bind(position as i32)
            .bind(text)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(before) = previous {
            sqlx::query(
                "INSERT INTO switchyard.task_dependencies (task_id, depends_on) VALUES ($1, $2)",
            )
            .bind(task_id)
            .bind(before)
            .execute(&mut *tx)
            .await?;
        }
        let event = Event::TaskCreated {
            task: task_id,
            title: task.title.clone(),
        };
        events::record(&mut tx, id, m.recipe.actor, &event).await?;
        previous = Some(task_id);
    }
    sqlx::query(
        "UPDATE switchyard.migration_drafts SET created_migration = $2, updated_at = now()
         WHERE id = $1",
    )
    .bind(m.draft)
    .bind(name)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(name.to_string())
}
