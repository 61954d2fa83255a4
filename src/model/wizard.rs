//! The new-migration wizard's views (issue 14), shared by the server and
//! the browser: what each step shows, worded by the server.

use serde::{Deserialize, Serialize};

/// A table of the connected database with a `jsonb` column (step 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceView {
    pub schema: String,
    pub table: String,
    /// "about 100 000 rows", or "row count unknown (never analyzed)".
    pub rows: String,
    /// "12.3 MB".
    pub size: String,
    /// The jsonb columns a recipe can name.
    pub columns: Vec<String>,
    /// Key candidates: (column, type), the primary key first.
    pub keys: Vec<(String, String)>,
    /// Why the table cannot be used (None: usable).
    pub unusable: Option<String>,
    /// The migration already moving this table, if any.
    pub migrated_by: Option<String>,
}

/// An open draft, for "continue where you left off".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DraftRef {
    pub id: i64,
    pub source: String,
    pub step: String,
}

/// Step 1's page: the tables, and the drafts under way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourcesView {
    pub tables: Vec<SourceView>,
    pub drafts: Vec<DraftRef>,
}

/// One path of the profile (step 2), worded for reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathRow {
    pub path: String,
    pub documents: i64,
    /// Share of the object documents having the path, "99.8%".
    pub share: String,
    /// "string 99.8%, number 0.2%".
    pub types: String,
    pub nulls: i64,
    /// "light (990), dark (985), …" for low-cardinality strings.
    pub values: Option<String>,
    /// The longest values, quoted, longest first.
    pub longest: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryRow {
    pub path: String,
    /// "email (998), push (997), sms (850)".
    pub keys: String,
    /// "enabled, frequency".
    pub fields: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileView {
    /// "a 5% sample (TABLESAMPLE SYSTEM)" or "the whole table".
    pub scope: String,
    pub profiled_at: String,
    pub rows: i64,
    pub objects: i64,
    pub sql_nulls: i64,
    pub json_nulls: i64,
    pub non_objects: i64,
    pub paths: Vec<PathRow>,
    pub entries: Vec<EntryRow>,
    pub truncated: bool,
}

/// A recipe problem beside its line (step 3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecipeProblem {
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

/// One mapped column of the recipe, for the summary table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MappedColumn {
    pub target: String,
    pub kind: String,
    pub column: String,
    pub path: String,
    pub sql_type: String,
    pub required: bool,
    pub allowed: String,
}

/// What the recipe's backfill would make of the documents the profile read
/// (step 3), counted with the backfill's own checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleCheckView {
    /// "a 5% sample" or "the whole table".
    pub scope: String,
    pub documents: i64,
    pub quarantined: i64,
    pub reasons: Vec<(String, i64)>,
    /// How many distinct key paths are unmapped (`unmapped` lists the
    /// most frequent).
    pub unmapped_paths: i64,
    pub unmapped: Vec<(String, i64)>,
}

/// A phase or a task of the standard plan derived from the recipe (step 4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedItem {
    pub title: String,
    pub detail: String,
    pub criteria: Vec<String>,
}

/// The wizard's page for one draft: every step as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DraftView {
    pub id: i64,
    pub schema: String,
    pub table: String,
    pub key: String,
    pub key_type: String,
    pub column: String,
    pub created_by: String,
    pub profile: Option<ProfileView>,
    pub recipe_text: Option<String>,
    pub problems: Vec<RecipeProblem>,
    pub summary: Vec<MappedColumn>,
    /// Paths the profile found that the recipe maps nowhere.
    pub unmapped: Vec<String>,
    /// The recipe checked against the profiled documents (a valid recipe
    /// and a profile); Err: why it could not be counted.
    pub sample_check: Option<Result<SampleCheckView, String>>,
    pub phases: Vec<PlannedItem>,
    pub tasks: Vec<PlannedItem>,
    /// Each phase's dry run (the exact SQL it would execute), from a valid
    /// recipe: (phase title, SQL).
    pub dry_run: Vec<(String, String)>,
    /// The migration's spec (Markdown): as typed, or else written from the
    /// recipe and the profile (None: no valid recipe yet).
    pub spec: Option<String>,
    /// Whether `spec` was typed.
    pub spec_typed: bool,
    /// A Notion page linked as the spec instead (its id): fetched, with
    /// all its blocks, when the migration is made.
    pub spec_page: Option<String>,
    /// The migration made from this draft.
    pub migration: Option<String>,
    /// A profile scan running (or stopped without ending), and how far.
    pub profiling: Option<ProfilingView>,
    /// Why the last profile scan failed.
    pub profiling_error: Option<String>,
}

/// A profile scan of a draft's column, as far as it has read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfilingView {
    /// Of the whole table (else a sample).
    pub whole: bool,
    pub pages_done: i64,
    /// None until the first part is read.
    pub pages_total: Option<i64>,
    /// Whole percent read.
    pub percent: i64,
    /// "1 min 12 s" since it started (worded by the server: no browser clock).
    pub elapsed: String,
    /// At the rate so far; None before anything is read.
    pub left: Option<String>,
    /// It has not said how far it is for longer than any part takes: the
    /// server stopped, and another scan may start.
    pub stalled: bool,
}
