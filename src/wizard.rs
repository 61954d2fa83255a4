//! The new-migration wizard's service (server only, issue 14): step 1 lists
//! the tables a recipe could move, step 2 profiles the chosen column, step
//! 3 drafts a recipe from the profile and keeps what the operator types,
//! step 4 derives the standard plan and tasks and makes the migration.
//! Every step's result is stored (`store::drafts`), so each page reads
//! again and resumes. Reading the user's database is the engine's
//! (`engine::discover`, `engine::draft`); the recipe's checks are the
//! engine's parser, located by line (`crate::recipes`). Roles: the callers.

use sqlx::PgPool;

use crate::engine::discover::{self, DiscoverError, Profile, ProfileRequest, SourceTable};
use crate::engine::draft::{self, DraftSource};
use crate::engine::ident::Ident;
use crate::engine::recipe::{Recipe, TargetKind};
use crate::engine::Phase;
use crate::model::wizard::{
    DraftRef, DraftView, EntryRow, MappedColumn, PathRow, PlannedItem, ProfileView, ProfilingView,
    RecipeProblem, SampleCheckView, SourceView, SourcesView,
};
use crate::model::{AppError, Priority};
use crate::store::drafts::{self, NewDraft, NewMigration, PlannedPhase, PlannedTask, StoredDraft};
use crate::store::recipes::{NewVersion, Origin};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WizardError {
    /// Bad input: what and where.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Not possible now (a table taken, a draft made a migration already).
    #[error("{0}")]
    Refused(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for WizardError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => WizardError::NotFound(what),
            StoreError::Conflict(m) => WizardError::Refused(m),
            StoreError::Invalid { field, message } => {
                WizardError::Refused(format!("{field}: {message}"))
            }
            other => WizardError::Store(other),
        }
    }
}

impl From<sqlx::Error> for WizardError {
    fn from(e: sqlx::Error) -> Self {
        WizardError::Store(e.into())
    }
}

impl From<WizardError> for AppError {
    fn from(err: WizardError) -> Self {
        match err {
            WizardError::Invalid { field, message } => AppError::invalid(field, message),
            WizardError::Refused(m) => AppError::invalid("draft", m),
            WizardError::NotFound(what) => AppError::not_found(what),
            WizardError::Discover(DiscoverError::Invalid { field, message }) => {
                AppError::invalid(field, message)
            }
            WizardError::Discover(e @ (DiscoverError::Locked(_) | DiscoverError::TooSlow(_))) => {
                AppError::Conflict {
                    message: e.to_string(),
                }
            }
            WizardError::Discover(DiscoverError::Database(e)) => {
                AppError::from(StoreError::from(e))
            }
            WizardError::Store(e) => e.into(),
        }
    }
}

/// The longest recipe text kept (a recipe is a few kilobytes).
pub const MAX_RECIPE_BYTES: usize = 200_000;
/// Rows a sample aims at.
const SAMPLE_ROWS: f64 = 20_000.0;

fn size(bytes: i64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

fn rows(estimate: Option<i64>) -> String {
    match estimate {
        Some(n) => format!("about {n} rows"),
        None => "row count unknown (never analyzed)".into(),
    }
}

/// Step 1: the tables with a jsonb column, and the drafts under way.
pub async fn sources(pool: &PgPool) -> Result<SourcesView, WizardError> {
    let found = discover::sources(pool).await?;
    let mut tables = Vec::with_capacity(found.len());
    for t in found {
        let migrated_by =
            crate::store::recipes::migration_of_table(pool, &format!("{}.{}", t.schema, t.table))
                .await?;
        tables.push(SourceView {
            columns: t.usable_columns().into_iter().map(str::to_string).collect(),
            keys: t
                .key_candidates
                .iter()
                .map(|k| (k.column.clone(), k.key_type.clone()))
                .collect(),
            rows: rows(t.estimated_rows),
            size: size(t.total_bytes),
            unusable: t.unusable,
            migrated_by,
            schema: t.schema,
            table: t.table,
        });
    }
    let drafts = drafts::open(pool)
        .await?
        .into_iter()
        .map(|d| DraftRef {
            id: d.id,
            source: format!("{}.{}.{}", d.source_schema, d.source_table, d.json_column),
            step: if d.recipe_text.is_some() {
                "recipe".into()
            } else {
                "profile".into()
            },
        })
        .collect();
    Ok(SourcesView { tables, drafts })
}

fn ident(field: &'static str, value: &str) -> Result<Ident, WizardError> {
    Ident::parse(value.trim()).map_err(|m| WizardError::Invalid { field, message: m })
}

/// The table `schema.table` as the catalog has it now, usable.
async fn usable_table(
    pool: &PgPool,
    schema: &Ident,
    table: &Ident,
) -> Result<SourceTable, WizardError> {
    let found = discover::sources(pool).await?;
    let t = found
        .into_iter()
        .find(|t| t.schema == schema.as_str() && t.table == table.as_str())
        .ok_or_else(|| WizardError::Invalid {
            field: "table",
            message: format!("{schema}.{table} does not exist or has no jsonb column"),
        })?;
    if let Some(why) = &t.unusable {
        return Err(WizardError::Invalid {
            field: "table",
            message: format!("{schema}.{table} cannot be used: {why}"),
        });
    }
    Ok(t)
}

/// Step 1 done: a draft for `schema.table`, key `key`, column `column`.
pub async fn start(
    pool: &PgPool,
    schema: &str,
    table: &str,
    key: &str,
    column: &str,
    actor: &str,
) -> Result<i64, WizardError> {
    let schema = ident("schema", schema)?;
    let table = ident("table", table)?;
    let key = ident("key", key)?;
    let column = ident("column", column)?;
    let t = usable_table(pool, &schema, &table).await?;
    let candidate = t
        .key_candidates
        .iter()
        .find(|k| k.column == key.as_str())
        .ok_or_else(|| WizardError::Invalid {
            field: "key",
            message: format!(
                "{key} is not a key candidate of {schema}.{table} (candidates: {})",
                t.key_candidates
                    .iter()
                    .map(|k| k.column.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    if !t.usable_columns().contains(&column.as_str()) {
        return Err(WizardError::Invalid {
            field: "column",
            message: format!("{column} is not a jsonb column of {schema}.{table}"),
        });
    }
    let qualified = format!("{}.{}", schema.as_str(), table.as_str());
    if let Some(other) = crate::store::recipes::migration_of_table(pool, &qualified).await? {
        return Err(WizardError::Refused(format!(
            "{qualified} is already migrated by migration {other:?}; one migration per source table"
        )));
    }
    let id = drafts::create(
        pool,
        &NewDraft {
            schema: schema.as_str(),
            table: table.as_str(),
            key: key.as_str(),
            key_type: &candidate.key_type,
            column: column.as_str(),
            actor,
        },
    )
    .await?;
    changed(
        pool,
        id,
        actor,
        format!("started on {qualified}.{}", column.as_str()),
    )
    .await;
    Ok(id)
}

/// Records that `actor` changed draft `id` (an event of no migration: the
/// draft is none yet; it shows in the audit log). The change itself is
/// already kept: a failure here is logged, not the change undone.
async fn changed(pool: &PgPool, id: i64, actor: &str, change: String) {
    let event = crate::engine::Event::DraftChanged { draft: id, change };
    if let Err(e) = crate::store::events::record_account_event(pool, actor, &event).await {
        tracing::warn!(draft = id, error = %e, "recording a draft's change failed");
    }
}

fn draft_source(d: &StoredDraft) -> DraftSource {
    DraftSource {
        schema: d.source_schema.clone(),
        table: d.source_table.clone(),
        key: d.key_column.clone(),
        key_type: d.key_type.clone(),
        column: d.json_column.clone(),
    }
}

/// The draft's sample check: the one kept for its recipe and profile, or
/// made now (read-only, on the profiled sample or the whole table) and
/// kept, so loading the page again reads nothing.
async fn sample_check_of(
    pool: &PgPool,
    d: &StoredDraft,
    r: &crate::engine::Recipe,
    p: &Profile,
) -> Result<SampleCheckView, String> {
    if let Some(kept) = &d.sample_check {
        if let Ok(view) = serde_json::from_value::<SampleCheckView>(kept.0.clone()) {
            return Ok(view);
        }
    }
    let view = discover::check_sample(pool, r, p.sample_percent)
        .await
        .map(|c| SampleCheckView {
            scope: match p.sample_percent {
                Some(pct) => format!("a {pct:.2}% sample"),
                None => "the whole table".to_string(),
            },
            documents: c.documents,
            quarantined: c.quarantined,
            reasons: c.reasons,
            unmapped_paths: c.unmapped_paths,
            unmapped: c.unmapped,
        })
        .map_err(|e| e.to_string())?;
    if let (Some(text), Some(at), Ok(json)) = (
        d.recipe_text.as_deref(),
        d.profiled_at,
        serde_json::to_value(&view),
    ) {
        if let Err(e) = drafts::keep_sample_check(pool, d.id, text, at, &json).await {
            tracing::warn!(draft = d.id, error = %e, "keeping the sample check failed");
        }
    }
    Ok(view)
}

/// Step 2: profiles draft `id`'s column (a sample unless `whole`), stores
/// the profile, and proposes a recipe from it (kept only if none was typed).
/// The scan holds the draft while it runs (one at a time) and records how
/// far it is after every part it reads. It runs in a task of its own, so a
/// caller that stops waiting (a closed browser tab) does not stop it
/// half-way.
pub async fn profile(
    pool: &PgPool,
    id: i64,
    whole: bool,
    actor: &str,
) -> Result<Profile, WizardError> {
    launch(pool, id, whole, actor, false)
        .await?
        .ok_or_else(|| WizardError::Refused("the profile went on in the background".into()))
}

/// `profile` for the wizard's page: a scan of one part (a sample, a small
/// table) is waited for; a longer one (a whole table of several parts,
/// minutes perhaps) goes on in the background, and the page shows how far
/// it is, and its error if it fails. At most `BACKGROUND_SCANS` at once.
pub async fn start_profile(
    pool: &PgPool,
    id: i64,
    whole: bool,
    actor: &str,
) -> Result<(), WizardError> {
    launch(pool, id, whole, actor, true).await.map(|_| ())
}

/// Background profile scans at once in this process: each holds one of
/// the pool's connections for the time of a part.
const BACKGROUND_SCANS: usize = 2;

fn background_permits() -> &'static std::sync::Arc<tokio::sync::Semaphore> {
    static PERMITS: std::sync::OnceLock<std::sync::Arc<tokio::sync::Semaphore>> =
        std::sync::OnceLock::new();
    PERMITS.get_or_init(|| std::sync::Arc::new(tokio::sync::Semaphore::new(BACKGROUND_SCANS)))
}

/// Claims draft `id` and runs its scan in a task of its own: waited for
/// (the profile), or left to run when `background_if_long` and the scan
/// has several parts (None).
async fn launch(
    pool: &PgPool,
    id: i64,
    whole: bool,
    actor: &str,
    background_if_long: bool,
) -> Result<Option<Profile>, WizardError> {
    let req = profile_request(pool, id, whole).await?;
    let claim = drafts::claim_profiling(pool, id, whole).await?;
    let started = discover::ProfileScan::start(pool, &req, None)
        .await
        .map_err(WizardError::from)
        .and_then(|scan| {
            if !background_if_long || scan.is_one_part() {
                return Ok((scan, None));
            }
            match background_permits().clone().try_acquire_owned() {
                Ok(permit) => Ok((scan, Some(permit))),
                Err(_) => Err(WizardError::Refused(format!(
                    "{BACKGROUND_SCANS} whole-table profiles are running; start this one when one has ended"
                ))),
            }
        });
    let (scan, permit) = match started {
        Ok(started) => started,
        Err(e) => {
            let error = e.to_string();
            if let Err(end) = drafts::end_profiling(pool, id, claim, Some(&error)).await {
                tracing::warn!(draft = id, error = %end, "ending a profile scan failed");
            }
            return Err(e);
        }
    };
    let background = permit.is_some();
    let (pool, actor) = (pool.clone(), actor.to_string());
    let task = tokio::spawn(async move {
        let _permit = permit;
        run_claimed(&pool, id, claim, scan, &req, &actor).await
    });
    if background {
        return Ok(None);
    }
    match task.await {
        Ok(result) => result.map(Some),
        Err(e) => Err(WizardError::Refused(format!(
            "the profile scan stopped: {e}"
        ))),
    }
}

/// What step 2 scans for draft `id` (its checks: the draft is not a
/// migration yet, its source is still usable).
async fn profile_request(
    pool: &PgPool,
    id: i64,
    whole: bool,
) -> Result<ProfileRequest, WizardError> {
    let d = drafts::get(pool, id).await?;
    if let Some(made) = &d.created_migration {
        return Err(WizardError::Refused(format!(
            "draft {id} is migration {made:?} already"
        )));
    }
    let schema = ident("schema", &d.source_schema)?;
    let table = ident("table", &d.source_table)?;
    let t = usable_table(pool, &schema, &table).await?;
    let sample_percent = match (whole, t.estimated_rows) {
        (true, _) => None,
        (false, Some(n)) if n as f64 > SAMPLE_ROWS => {
            Some((SAMPLE_ROWS * 100.0 / n as f64).clamp(0.01, 100.0))
        }
        // Small (or never analyzed) tables are read whole.
        _ => None,
    };
    Ok(ProfileRequest {
        schema,
        table,
        column: ident("column", &d.json_column)?,
        sample_percent,
    })
}

/// Runs `scan` for draft `id` under `claim`, stores its profile and ends
/// the claim, with the error when it fails.
async fn run_claimed(
    pool: &PgPool,
    id: i64,
    claim: drafts::ProfilingClaim,
    scan: discover::ProfileScan,
    req: &ProfileRequest,
    actor: &str,
) -> Result<Profile, WizardError> {
    let result = scan_and_store(pool, id, claim, scan).await;
    if let Err(e) = &result {
        tracing::warn!(draft = id, error = %e, "profiling failed");
    }
    let error = result.as_ref().err().map(ToString::to_string);
    if let Err(e) = drafts::end_profiling(pool, id, claim, error.as_deref()).await {
        tracing::warn!(draft = id, error = %e, "ending a profile scan failed");
    }
    if result.is_ok() {
        let scope = if req.sample_percent.is_none() {
            "the whole table"
        } else {
            "a sample"
        };
        changed(pool, id, actor, format!("profiled ({scope})")).await;
    }
    result
}

async fn scan_and_store(
    pool: &PgPool,
    id: i64,
    claim: drafts::ProfilingClaim,
    mut scan: discover::ProfileScan,
) -> Result<Profile, WizardError> {
    loop {
        let more = scan.step().await?;
        let at = scan.progress();
        if !drafts::profiling_progress(pool, id, claim, at.pages_done, at.pages_total).await? {
            return Err(WizardError::Refused(
                "another profile scan took this draft over (this one was taken for stopped)".into(),
            ));
        }
        if !more {
            break;
        }
    }
    let p = scan.finish();
    let d = drafts::get(pool, id).await?;
    let proposed = draft::draft(&draft_source(&d), &p);
    let json = serde_json::to_value(&p).map_err(|e| {
        WizardError::Store(StoreError::Corrupt {
            what: "profile".into(),
            detail: e.to_string(),
        })
    })?;
    drafts::set_profile(pool, id, &json, &proposed.text).await?;
    Ok(p)
}

/// Step 3: keeps the recipe as typed (its problems are shown beside their
/// lines when the page is read).
pub async fn save_text(pool: &PgPool, id: i64, text: &str, actor: &str) -> Result<(), WizardError> {
    let text = typed_text("recipe", text)?;
    drafts::set_text(pool, id, drafts::DraftText::Recipe, &text).await?;
    changed(pool, id, actor, "recipe saved".into()).await;
    Ok(())
}

/// Step 4: keeps the spec as typed (Markdown, shown as the migration's
/// spec once it is made); an empty one goes back to the spec written from
/// the recipe and the profile.
pub async fn save_spec(pool: &PgPool, id: i64, text: &str, actor: &str) -> Result<(), WizardError> {
    let text = typed_text("spec", text)?;
    drafts::set_text(pool, id, drafts::DraftText::Spec, text.trim_end()).await?;
    changed(pool, id, actor, "spec saved".into()).await;
    Ok(())
}

/// Step 3 as you type: the problems the recipe parser finds in `text`,
/// each with its line (none: it parses). Nothing is stored.
pub fn check_recipe(text: &str) -> Result<Vec<RecipeProblem>, WizardError> {
    let text = typed_text("recipe", text)?;
    Ok(match crate::recipes::parse(&text) {
        Ok(_) => Vec::new(),
        Err(errors) => problems_of(&errors),
    })
}

fn problems_of(errors: &[crate::recipes::LocatedError]) -> Vec<RecipeProblem> {
    errors
        .iter()
        .map(|e| RecipeProblem {
            line: e.line,
            field: e.field.clone(),
            message: e.message.clone(),
        })
        .collect()
}

/// A text area's text as kept: at most `MAX_RECIPE_BYTES`, no NUL, LF line
/// ends (browsers send CRLF).
fn typed_text(field: &'static str, text: &str) -> Result<String, WizardError> {
    if text.len() > MAX_RECIPE_BYTES {
        return Err(WizardError::Invalid {
            field,
            message: format!("is {} bytes; at most {MAX_RECIPE_BYTES}", text.len()),
        });
    }
    if text.contains('\0') {
        return Err(WizardError::Invalid {
            field,
            message: "contains a NUL character".into(),
        });
    }
    Ok(text.replace("\r\n", "\n"))
}

/// A Notion page linked as the spec, as fetched when the migration is
/// made (the caller fetches it: this module knows no Notion client).
pub struct LinkedSpec {
    pub page_id: String,
    /// The page's blocks, nested children inline.
    pub blocks: Vec<crate::model::notion::Block>,
}

/// Step 4: links the Notion page `page` (a URL or an id) as draft `id`'s
/// spec; an empty `page` unlinks it (the Markdown spec is used again).
pub async fn link_spec_page(
    pool: &PgPool,
    id: i64,
    page: &str,
    actor: &str,
) -> Result<(), WizardError> {
    let page = page.trim();
    if page.is_empty() {
        drafts::set_spec_page(pool, id, None).await?;
        changed(pool, id, actor, "spec page unlinked".into()).await;
        return Ok(());
    }
    let page =
        crate::domain::notion_id::NotionId::parse(page).map_err(|e| WizardError::Invalid {
            field: "page",
            message: e.to_string(),
        })?;
    let mut conn = pool.acquire().await.map_err(StoreError::from)?;
    if let Some(other) = crate::store::specs::migration_of_page(&mut conn, page.as_str()).await? {
        return Err(WizardError::Refused(format!(
            "this Notion page already is the spec of migration {other:?}: link another page"
        )));
    }
    drop(conn);
    drafts::set_spec_page(pool, id, Some(page.as_str())).await?;
    changed(
        pool,
        id,
        actor,
        format!("spec linked to Notion page {}", page.as_str()),
    )
    .await;
    Ok(())
}

/// The Notion page draft `id` links as its spec, if any.
pub async fn linked_spec_page(
    pool: &PgPool,
    id: i64,
) -> Result<Option<crate::domain::notion_id::NotionId>, WizardError> {
    let d = drafts::get(pool, id).await?;
    Ok(d.spec_notion_page
        .as_deref()
        .and_then(|p| crate::domain::notion_id::NotionId::parse(p).ok()))
}

/// Step 4: makes draft `id` a migration (recipe version 1, spec, standard
/// plan and tasks); its name. `linked`: the draft's Notion spec page as
/// just fetched (required when it links one: `linked_spec_page`).
pub async fn create(
    pool: &PgPool,
    id: i64,
    actor: &str,
    linked: Option<LinkedSpec>,
) -> Result<String, WizardError> {
    let d = drafts::get(pool, id).await?;
    if d.profiling_since.is_some() && d.profiling_stalled != Some(true) {
        return Err(WizardError::Refused(
            "a profile of the table is running: make the migration once it has ended".into(),
        ));
    }
    if d.spec_notion_page.is_some() && linked.is_none() {
        return Err(WizardError::Refused(
            "the spec is a Notion page: connect Notion (NOTION_TOKEN) to fetch it, or unlink it"
                .into(),
        ));
    }
    let text = d.recipe_text.clone().ok_or_else(|| WizardError::Invalid {
        field: "recipe",
        message: "profile the column first (the recipe is drafted from the profile), or type one"
            .into(),
    })?;
    let recipe = crate::recipes::parse(&text).map_err(|errors| WizardError::Invalid {
        field: "recipe",
        message: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    let s = &recipe.source;
    if !same_source(&recipe, &d) {
        return Err(WizardError::Invalid {
            field: "recipe",
            message: format!(
                "its source is {}.{}.{}, but this draft moves {}.{}.{}",
                s.schema.as_str(),
                s.table.as_str(),
                s.column.as_str(),
                d.source_schema,
                d.source_table,
                d.json_column
            ),
        });
    }
    let problems = crate::engine::inspect::check_database(pool, &recipe, false)
        .await
        .map_err(|e| WizardError::Refused(e.to_string()))?;
    if !problems.is_empty() {
        return Err(WizardError::Invalid {
            field: "recipe",
            message: crate::recipes::locate(&text, problems)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    let profile: Option<Profile> = d
        .profile
        .as_ref()
        .and_then(|p| serde_json::from_value(p.0.clone()).ok());
    let (phases, tasks, body) = standard_plan(&recipe, profile.as_ref());
    let (spec_blocks, spec_page) = match linked {
        Some(l) => (l.blocks, Some(l.page_id)),
        None => {
            let spec = typed_spec(&d).unwrap_or_else(|| spec_markdown(&recipe, profile.as_ref()));
            (crate::domain::markdown::to_blocks(&spec), None)
        }
    };
    let blocks = serde_json::to_value(spec_blocks).map_err(|e| {
        WizardError::Store(StoreError::Corrupt {
            what: "spec".into(),
            detail: e.to_string(),
        })
    })?;
    let hash = recipe.hash();
    let table = crate::recipes::source_table(&recipe);
    let description = format!(
        "Move {}.{} into {}.",
        s.table.as_str(),
        s.column.as_str(),
        target_names(&recipe)
    );
    Ok(drafts::create_migration(
        pool,
        &NewMigration {
            draft: id,
            recipe: NewVersion {
                name: &recipe.name,
                title: &recipe.title,
                body: &recipe.text,
                hash: &hash,
                source_table: &table,
                origin: Origin::Draft,
                origin_path: None,
                actor,
                create: true,
            },
            description: &description,
            spec_blocks: blocks,
            spec_page: spec_page.as_deref(),
            plan_body: &body,
            phases: &phases,
            tasks: &tasks,
        },
    )
    .await?)
}

fn target_names(r: &Recipe) -> String {
    r.targets
        .iter()
        .map(|t| t.table.as_str().to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The spec typed for draft `d`, unless none was (or only blanks).
fn typed_spec(d: &StoredDraft) -> Option<String> {
    d.spec_text.clone().filter(|t| !t.trim().is_empty())
}

/// The spec written for a drafted migration (Markdown, rendered like a
/// Notion page's).
fn spec_markdown(r: &Recipe, p: Option<&Profile>) -> String {
    let s = &r.source;
    let mut out = format!(
        "# {}\n\nMove `{}.{}.{}` (jsonb) into structured tables.\n\n## Current\n\n",
        r.title,
        s.schema.as_str(),
        s.table.as_str(),
        s.column.as_str()
    );
    if let Some(p) = p {
        out.push_str(&format!(
            "- {} rows read ({}), {} documents are objects\n- {} paths found\n",
            p.rows,
            match p.sample_percent {
                Some(pct) => format!("a {pct:.2}% sample"),
                None => "the whole table".into(),
            },
            p.objects,
            p.paths.len()
        ));
    }
    out.push_str("\n## Target\n\n");
    for t in &r.targets {
        let kind = match &t.kind {
            TargetKind::PerRow => format!("one row per {} row", s.table.as_str()),
            TargetKind::PerEntry { path, .. } => {
                format!("one row per entry of `{}`", path.join("."))
            }
        };
        out.push_str(&format!(
            "- `{}`: {kind}, columns {}\n",
            t.table.as_str(),
            t.columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.push_str(
        "\n## Must maintain\n\n- Backward compatibility while the migration runs: the jsonb column keeps every write until phase 5\n- Zero downtime: every DDL under a short lock_timeout with retries\n",
    );
    out
}

/// The standard five-phase plan and five tasks for `r`, the way the team
/// would write them (names, counts and what the profile found).
pub fn standard_plan(
    r: &Recipe,
    p: Option<&Profile>,
) -> (Vec<PlannedPhase>, Vec<PlannedTask>, String) {
    let s = &r.source;
    let src = format!("{}.{}", s.table.as_str(), s.column.as_str());
    let targets = target_names(r);
    let rows = p
        .map(|p| match p.sample_percent {
            None => format!("all {} rows", p.rows),
            Some(_) => "every row".to_string(),
        })
        .unwrap_or_else(|| "every row".into());
    let describe = |phase: Phase| -> String {
        match phase {
            Phase::Expand => format!(
                "Create {targets}, their indexes (CONCURRENTLY) and the capture that keeps every later write to {src}."
            ),
            Phase::Backfill => format!(
                "Copy {rows} of {} into {targets} in keyset batches; documents that cannot be mapped go to quarantine.",
                s.table.as_str()
            ),
            Phase::DualWrite => format!(
                "Every write to {src} is reflected in {targets} in the same transaction."
            ),
            Phase::SwitchReads => format!(
                "After a zero-difference verification, flip the read flag; writes to {targets} flow back into {src}."
            ),
            Phase::Contract => format!(
                "After {} h of soak: back up {src}, drop the triggers and the column.",
                r.soak_hours
            ),
        }
    };
    let phases = Phase::ALL
        .iter()
        .map(|phase| PlannedPhase {
            position: *phase,
            title: phase.title().to_string(),
            description: describe(*phase),
        })
        .collect();
    let unmapped = p.map(|p| unmapped_paths(r, p)).unwrap_or_default();
    let mut review =
        vec!["Quarantined documents reviewed: fixed at the source or accepted".to_string()];
    if !unmapped.is_empty() {
        review.push(format!(
            "Keys mapped nowhere reviewed (lost at phase 5): {}",
            unmapped.join(", ")
        ));
    }
    let tasks = vec![
        PlannedTask {
            title: "Write migration SQL".into(),
            priority: Priority::High,
            phase: Phase::Expand,
            criteria: vec![
                format!("Recipe and phase 1 dry run for {targets} reviewed"),
                "Indexes are built CONCURRENTLY".into(),
                "Every statement runs under lock_timeout with retries".into(),
            ],
        },
        PlannedTask {
            title: "Implement backfill job".into(),
            priority: Priority::Critical,
            phase: Phase::Backfill,
            criteria: [
                vec![format!(
                    "{} copied in keyset batches with a checkpoint per batch",
                    capitalize(&rows)
                )],
                review,
            ]
            .concat(),
        },
        PlannedTask {
            title: "Add dual-write".into(),
            priority: Priority::High,
            phase: Phase::DualWrite,
            criteria: vec![
                format!("Writes to {src} reach {targets} in the same transaction"),
                "Every write since phase 1 replayed (capture log drained)".into(),
            ],
        },
        PlannedTask {
            title: "Update read queries".into(),
            priority: Priority::High,
            phase: Phase::SwitchReads,
            criteria: vec![
                "Verification reports zero differences".into(),
                format!(
                    "The application reads {targets} when the read flag /flags/{} says so",
                    r.name
                ),
            ],
        },
        PlannedTask {
            title: "Rollback plan and monitoring".into(),
            priority: Priority::Medium,
            phase: Phase::Contract,
            criteria: vec![
                "Each phase's rollback rehearsed".into(),
                format!("{src} backed up before the drop"),
                format!("Soak time of {} h observed after phase 4", r.soak_hours),
            ],
        },
    ];
    let body = format!(
        "Five phases, each depending on the previous one, moving {src} into {targets}. \
         Every DDL runs under a short lock_timeout with retries so the application never \
         queues behind us.\n\nRollback is possible at every step until phase 5 drops the \
         column; the column is backed up first."
    );
    (phases, tasks, body)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Scalar paths of the profile the recipe maps nowhere.
fn unmapped_paths(r: &Recipe, p: &Profile) -> Vec<String> {
    let mut mapped: Vec<Vec<String>> = Vec::new();
    let mut entry_roots: Vec<Vec<String>> = Vec::new();
    for t in &r.targets {
        match &t.kind {
            TargetKind::PerRow => mapped.extend(t.columns.iter().map(|c| c.path.clone())),
            TargetKind::PerEntry { path, .. } => {
                entry_roots.push(path.clone());
                for c in &t.columns {
                    mapped.push([path.clone(), vec!["*".into()], c.path.clone()].concat());
                }
            }
        }
    }
    let matches = |pattern: &[String], path: &[String]| {
        pattern.len() == path.len() && pattern.iter().zip(path).all(|(a, b)| a == "*" || a == b)
    };
    p.paths
        .iter()
        .filter(|pp| !matches!(pp.dominant_type(), Some("object") | None))
        .filter(|pp| !mapped.iter().any(|m| matches(m, &pp.path)))
        // Entry keys themselves are mapped (to the entry key column).
        .filter(|pp| {
            !entry_roots
                .iter()
                .any(|e| pp.path.len() == e.len() + 1 && pp.path.starts_with(e))
        })
        .map(|pp| pp.dotted())
        .collect()
}

fn pct(n: i64, of: i64) -> String {
    format!("{:.1}%", n as f64 * 100.0 / of.max(1) as f64)
}

fn profile_view(p: &Profile, at: Option<chrono::DateTime<chrono::Utc>>) -> ProfileView {
    ProfileView {
        scope: match p.sample_percent {
            Some(pct) => format!("a {pct:.2}% sample (TABLESAMPLE SYSTEM)"),
            None => "the whole table".into(),
        },
        profiled_at: at
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default(),
        rows: p.rows,
        objects: p.objects,
        sql_nulls: p.sql_nulls,
        json_nulls: p.json_nulls,
        non_objects: p.non_objects,
        paths: p
            .paths
            .iter()
            .map(|pp| PathRow {
                path: pp.dotted(),
                documents: pp.documents,
                share: pct(pp.documents, p.objects),
                types: pp
                    .types
                    .iter()
                    .map(|t| format!("{} {}", t.json_type, pct(t.documents, pp.documents)))
                    .collect::<Vec<_>>()
                    .join(", "),
                nulls: pp.nulls(),
                values: pp.values.as_ref().map(|vs| {
                    vs.iter()
                        .map(|v| format!("{:?} ({})", v.value, v.documents))
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
                longest: pp
                    .longest
                    .iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        entries: p
            .entry_objects
            .iter()
            .map(|e| EntryRow {
                path: e.dotted(),
                keys: e
                    .keys
                    .iter()
                    .map(|k| format!("{} ({})", k.value, k.documents))
                    .collect::<Vec<_>>()
                    .join(", "),
                fields: e
                    .fields
                    .iter()
                    .map(|f| f.value.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect(),
        truncated: p.truncated,
    }
}

/// Does `recipe` move draft `d`'s column (schema, table and column)?
fn same_source(recipe: &Recipe, d: &StoredDraft) -> bool {
    let s = &recipe.source;
    (s.schema.as_str(), s.table.as_str(), s.column.as_str())
        == (&*d.source_schema, &*d.source_table, &*d.json_column)
}

/// The wizard's page for draft `id`: every step as stored.
pub async fn view(pool: &PgPool, id: i64) -> Result<DraftView, WizardError> {
    let d = drafts::get(pool, id).await?;
    let profile: Option<Profile> = d
        .profile
        .as_ref()
        .and_then(|p| serde_json::from_value(p.0.clone()).ok());
    let parsed = d.recipe_text.as_deref().map(crate::recipes::parse);
    let problems = match &parsed {
        Some(Err(errors)) => problems_of(errors),
        _ => Vec::new(),
    };
    let recipe = parsed.and_then(Result::ok);
    let summary = recipe
        .as_ref()
        .map(|r| {
            r.targets
                .iter()
                .flat_map(|t| {
                    let kind = match &t.kind {
                        TargetKind::PerRow => "per row".to_string(),
                        TargetKind::PerEntry { path, .. } => {
                            format!("per entry of {}", path.join("."))
                        }
                    };
                    t.columns.iter().map(move |c| MappedColumn {
                        target: t.table.as_str().to_string(),
                        kind: kind.clone(),
                        column: c.name.as_str().to_string(),
                        path: c.path.join("."),
                        sql_type: c.ty.sql().to_string(),
                        required: c.required,
                        allowed: c.allowed.join(", "),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let unmapped = match (&recipe, &profile) {
        (Some(r), Some(p)) => unmapped_paths(r, p),
        _ => Vec::new(),
    };
    let sample_check = match (&recipe, &profile) {
        // Only the profiled table is read: a recipe edited to name another
        // source is checked when it names the draft's again.
        (Some(r), Some(_)) if !same_source(r, &d) => Some(Err(format!(
            "the recipe's source is {}.{}.{}, not the profiled {}.{}.{}",
            r.source.schema.as_str(),
            r.source.table.as_str(),
            r.source.column.as_str(),
            d.source_schema,
            d.source_table,
            d.json_column
        ))),
        (Some(r), Some(p)) => Some(sample_check_of(pool, &d, r, p).await),
        _ => None,
    };
    let (phases, tasks) = match &recipe {
        Some(r) => {
            let (phases, tasks, _) = standard_plan(r, profile.as_ref());
            (
                phases
                    .into_iter()
                    .map(|p| PlannedItem {
                        title: format!("Phase {}: {}", p.position, p.title),
                        detail: p.description,
                        criteria: Vec::new(),
                    })
                    .collect(),
                tasks
                    .into_iter()
                    .map(|t| PlannedItem {
                        title: t.title,
                        detail: format!("phase {}, priority {}", t.phase, t.priority.as_str()),
                        criteria: t.criteria,
                    })
                    .collect(),
            )
        }
        None => (Vec::new(), Vec::new()),
    };
    let dry_run = recipe
        .as_ref()
        .map(|r| {
            let planner = crate::engine::Planner::new(r);
            Phase::ALL
                .iter()
                .map(|p| {
                    (
                        format!("Phase {p}: {}", p.title()),
                        crate::engine::render_steps(&planner.apply(*p)),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let (spec, spec_typed) = match (typed_spec(&d), &recipe) {
        (Some(typed), _) => (Some(typed), true),
        (None, Some(r)) => (Some(spec_markdown(r, profile.as_ref())), false),
        (None, None) => (None, false),
    };
    Ok(DraftView {
        profiling: profiling_view(&d),
        profiling_error: d.profiling_error.clone(),
        spec,
        spec_typed,
        spec_page: d.spec_notion_page.clone(),
        dry_run,
        id: d.id,
        schema: d.source_schema.clone(),
        table: d.source_table.clone(),
        key: d.key_column.clone(),
        key_type: d.key_type.clone(),
        column: d.json_column.clone(),
        created_by: d.created_by.clone(),
        profile: profile.as_ref().map(|p| profile_view(p, d.profiled_at)),
        recipe_text: d.recipe_text,
        problems,
        summary,
        unmapped,
        sample_check,
        phases,
        tasks,
        migration: d.created_migration,
    })
}

/// How far draft `id`'s profile scan is (None: none runs).
pub async fn profiling(pool: &PgPool, id: i64) -> Result<Option<ProfilingView>, WizardError> {
    let d = drafts::get_light(pool, id).await?;
    Ok(profiling_view(&d))
}

/// How far draft `d`'s running profile scan is (times by the database's
/// clock, as its claim).
fn profiling_view(d: &StoredDraft) -> Option<ProfilingView> {
    d.profiling_since?;
    let done = d.profiling_pages_done.unwrap_or(0);
    let total = d.profiling_pages_total;
    let elapsed = d.profiling_elapsed_ms.unwrap_or(0).max(0);
    let percent = match total {
        Some(t) if t > 0 => (done * 100 / t).clamp(0, 100),
        _ => 0,
    };
    // At the rate so far (pages per millisecond since the start).
    let left = match total {
        Some(t) if done > 0 && t > done => Some(crate::model::time::duration_words(
            ((t - done) as f64 * elapsed as f64 / done as f64) as i64,
        )),
        _ => None,
    };
    Some(ProfilingView {
        whole: d.profiling_whole.unwrap_or(false),
        pages_done: done,
        pages_total: total,
        percent,
        elapsed: crate::model::time::duration_words(elapsed),
        left,
        stalled: d.profiling_stalled.unwrap_or(false),
    })
}
