//! What a database holds that a recipe could move (issue 14): the tables
//! with a `jsonb` column, their size and key candidates (`sources`), and
//! what the documents of one column contain, path by path (`profile`), and
//! what a recipe's backfill would make of them (`check_sample`).
//! Read-only: every statement runs in a READ ONLY transaction under a short
//! `lock_timeout` (a scan never queues behind the application's DDL, and so
//! never makes the application queue behind it) and a `statement_timeout`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::ident::{quote_ident, Ident};
use super::recipe::KeyType;

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The request names something that is not there or cannot be used.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("the table is locked by another session (lock_timeout {0} ms); try again")]
    Locked(u64),
    #[error("the scan took longer than {0} s and was stopped; profile a sample instead")]
    TooSlow(u64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A column that can be a recipe's source key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCandidate {
    pub column: String,
    /// `integer`, `bigint` or `uuid`.
    pub key_type: String,
    pub primary: bool,
}

/// A table with at least one `jsonb` column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceTable {
    pub schema: String,
    pub table: String,
    /// The planner's estimate (`reltuples`); None before the table was
    /// ever analyzed or vacuumed.
    pub estimated_rows: Option<i64>,
    /// Table, indexes and TOAST, in bytes.
    pub total_bytes: i64,
    pub jsonb_columns: Vec<String>,
    pub key_candidates: Vec<KeyCandidate>,
    /// Why no recipe can use this table (None: usable).
    pub unusable: Option<String>,
}

impl SourceTable {
    /// The jsonb columns a recipe can name (plain identifiers).
    pub fn usable_columns(&self) -> Vec<&str> {
        self.jsonb_columns
            .iter()
            .filter(|c| Ident::parse(c).is_ok())
            .map(String::as_str)
            .collect()
    }
}

/// Upper bounds for reading the user's database.
const LOCK_TIMEOUT_MS: u64 = 500;
const STATEMENT_TIMEOUT_S: u64 = 120;

async fn read_only(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION READ ONLY")
        .execute(&mut *tx)
        .await?;
    for setting in [
        format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"),
        format!("SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT_S}s'"),
    ] {
        sqlx::query(&setting).execute(&mut *tx).await?;
    }
    Ok(tx)
}

fn classify(e: sqlx::Error) -> DiscoverError {
    match e.as_database_error().and_then(|d| d.code()).as_deref() {
        Some("55P03") => DiscoverError::Locked(LOCK_TIMEOUT_MS),
        Some("57014") => DiscoverError::TooSlow(STATEMENT_TIMEOUT_S),
        _ => DiscoverError::Database(e),
    }
}

#[derive(sqlx::FromRow)]
struct TableRow {
    schema: String,
    table: String,
    kind: String,
    reltuples: f32,
    total_bytes: i64,
    jsonb_columns: Vec<String>,
    /// (column, type, primary) of NOT NULL columns with a unique,
    /// single-column, non-partial, valid index.
    keys: sqlx::types::Json<Vec<(String, String, bool)>>,
    /// Every single-column unique key, NOT NULL or not, with its type.
    unique_any: sqlx::types::Json<Vec<(String, String, bool)>>,
}

/// Every table of the database (outside the system schemas and ours) with
/// a `jsonb` column, by schema and name, each with its key candidates or
/// the reason it cannot be used.
pub async fn sources(pool: &PgPool) -> Result<Vec<SourceTable>, DiscoverError> {
    let mut tx = read_only(pool).await?;
    let rows: Vec<TableRow> = sqlx::query_as(
        "SELECT n.nspname::text AS schema, c.relname::text AS table, c.relkind::text AS kind,
                c.reltuples, pg_total_relation_size(c.oid) AS total_bytes,
                array(SELECT a.attname::text FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                        AND a.atttypid = 'jsonb'::regtype ORDER BY a.attnum) AS jsonb_columns,
                coalesce((SELECT json_agg(DISTINCT jsonb_build_array(a.attname, format_type(a.atttypid, NULL), i.indisprimary))
                          FROM pg_index i JOIN pg_attribute a
                               ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                          WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
                            AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL
                            AND a.attnotnull), '[]') AS keys,
                coalesce((SELECT json_agg(DISTINCT jsonb_build_array(a.attname, format_type(a.atttypid, NULL), a.attnotnull))
                          FROM pg_index i JOIN pg_attribute a
                               ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                          WHERE i.indrelid = c.oid AND i.indisunique
                            AND i.indnkeyatts = 1 AND i.indexprs IS NULL), '[]') AS unique_any
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'switchyard')
           AND n.nspname NOT LIKE 'pg\\_%'
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                       AND NOT a.attisdropped AND a.atttypid = 'jsonb'::regtype)
         ORDER BY 1, 2",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(classify)?;
    tx.commit().await?;
    Ok(rows.into_iter().map(source_table).collect())
}

fn key_type(sql_type: &str) -> Option<KeyType> {
    match sql_type {
        "integer" => Some(KeyType::Integer),
        "bigint" => Some(KeyType::BigInt),
        "uuid" => Some(KeyType::Uuid),
        _ => None,
    }
}

fn source_table(row: TableRow) -> SourceTable {
    let mut candidates: Vec<KeyCandidate> = row
        .keys
        .0
        .iter()
        .filter(|(column, ty, _)| key_type(ty).is_some() && Ident::parse(column).is_ok())
        .map(|(column, ty, primary)| KeyCandidate {
            column: column.clone(),
            key_type: ty.clone(),
            primary: *primary,
        })
        .collect();
    // The primary key first, then by name.
    candidates.sort_by(|a, b| b.primary.cmp(&a.primary).then(a.column.cmp(&b.column)));
    let names_ok = Ident::parse(&row.schema).and(Ident::parse(&row.table));
    let usable_columns = row
        .jsonb_columns
        .iter()
        .filter(|c| Ident::parse(c).is_ok())
        .count();
    let unusable = if row.kind == "p" {
        Some("a partitioned table: not supported yet".to_string())
    } else if let Err(why) = names_ok {
        Some(format!(
            "its name {}.{} cannot be used in a recipe: {why}",
            quote_ident(&row.schema),
            quote_ident(&row.table)
        ))
    } else if usable_columns == 0 {
        Some(format!(
            "no jsonb column has a plain name (lower-case letters, digits and _): {}",
            row.jsonb_columns
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else if candidates.is_empty() {
        Some(no_key_reason(&row))
    } else {
        None
    };
    SourceTable {
        schema: row.schema,
        table: row.table,
        estimated_rows: (row.reltuples >= 0.0).then_some(row.reltuples as i64),
        total_bytes: row.total_bytes,
        jsonb_columns: row.jsonb_columns,
        key_candidates: candidates,
        unusable,
    }
}

/// Why a table has no key candidate, as precisely as the catalog tells.
fn no_key_reason(row: &TableRow) -> String {
    let near: Vec<String> = row
        .unique_any
        .0
        .iter()
        .map(|(column, ty, not_null)| {
            let mut why = Vec::new();
            if !not_null {
                why.push("may be NULL".to_string());
            }
            if key_type(ty).is_none() {
                why.push(format!("is {ty} (integer, bigint or uuid are supported)"));
            }
            if Ident::parse(column).is_err() {
                why.push("is not a plain lower-case name".to_string());
            }
            if why.is_empty() {
                why.push("has an index that is not valid yet".to_string());
            }
            format!("{} {}", quote_ident(column), why.join(" and "))
        })
        .collect();
    if near.is_empty() {
        "no key: no single column is both NOT NULL and unique (a primary key or a unique index)"
            .to_string()
    } else {
        format!(
            "no usable key: a key must be one NOT NULL unique column of type integer, bigint or uuid; {}",
            near.join("; ")
        )
    }
}

// ---- profiling -------------------------------------------------------------

/// What to scan.
#[derive(Clone, Debug)]
pub struct ProfileRequest {
    pub schema: Ident,
    pub table: Ident,
    pub column: Ident,
    /// `TABLESAMPLE SYSTEM` percent; None: the whole table.
    pub sample_percent: Option<f64>,
}

/// One JSON type seen at a path, and in how many documents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TypeShare {
    /// `string`, `number`, `boolean`, `object`, `array` or `null`.
    pub json_type: String,
    pub documents: i64,
}

/// A string value and how many documents have it at a path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueCount {
    pub value: String,
    pub documents: i64,
}

/// Everything seen at one path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathProfile {
    /// Keys from the document's root, joined by dots in `dotted()`.
    pub path: Vec<String>,
    /// Documents that have the path (any type, JSON null included).
    pub documents: i64,
    pub types: Vec<TypeShare>,
    /// Of the numbers: how many are whole, and the largest magnitude.
    pub integral_numbers: i64,
    pub max_abs_number: Option<f64>,
    /// Of the strings: how many look like a timestamp with a time zone, a
    /// date, a uuid.
    pub timestamp_strings: i64,
    pub date_strings: i64,
    pub uuid_strings: i64,
    /// Distinct string values (all strings of the path).
    pub distinct_strings: i64,
    /// Each string value and its count, when there are at most
    /// `LOW_CARDINALITY` distinct ones.
    pub values: Option<Vec<ValueCount>>,
    /// The longest values (as text), longest first, at most three.
    pub longest: Vec<String>,
    pub max_length: i64,
}

impl PathProfile {
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }

    pub fn count_of(&self, json_type: &str) -> i64 {
        self.types
            .iter()
            .find(|t| t.json_type == json_type)
            .map(|t| t.documents)
            .unwrap_or(0)
    }

    /// Documents where the value is JSON null.
    pub fn nulls(&self) -> i64 {
        self.count_of("null")
    }

    /// The most common type other than null (ties: by name).
    pub fn dominant_type(&self) -> Option<&str> {
        self.types
            .iter()
            .filter(|t| t.json_type != "null")
            .max_by(|a, b| {
                a.documents
                    .cmp(&b.documents)
                    .then(b.json_type.cmp(&a.json_type))
            })
            .map(|t| t.json_type.as_str())
    }
}

/// An object whose keys look like entries (`notifications.email|push|sms`):
/// its values are objects sharing their keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryObject {
    pub path: Vec<String>,
    /// Each entry key and the documents having it.
    pub keys: Vec<ValueCount>,
    /// The keys found inside the entries, with the entries having each.
    pub fields: Vec<ValueCount>,
}

impl EntryObject {
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

/// What one column's documents contain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub schema: String,
    pub table: String,
    pub column: String,
    /// None: the whole table was read.
    pub sample_percent: Option<f64>,
    /// Rows read.
    pub rows: i64,
    pub sql_nulls: i64,
    pub json_nulls: i64,
    /// Documents that are not objects (arrays, strings, numbers, booleans).
    pub non_objects: i64,
    /// Documents that are objects.
    pub objects: i64,
    /// Every path found, in path order (at most `MAX_PATHS`).
    pub paths: Vec<PathProfile>,
    /// True when more paths than `MAX_PATHS` were found (the rest are not listed).
    pub truncated: bool,
    pub entry_objects: Vec<EntryObject>,
}

impl Profile {
    pub fn path(&self, dotted: &str) -> Option<&PathProfile> {
        self.paths.iter().find(|p| p.dotted() == dotted)
    }
}

/// Distinct string values listed per path at most.
pub const LOW_CARDINALITY: i64 = 20;
/// Paths listed at most.
pub const MAX_PATHS: i64 = 2000;
/// How deep the scan walks into objects.
const MAX_DEPTH: i32 = 8;

#[derive(sqlx::FromRow)]
struct PathRow {
    path: Vec<String>,
    json_type: String,
    documents: i64,
    integral: i64,
    max_abs: Option<f64>,
    timestamps: i64,
    dates: i64,
    uuids: i64,
    distinct_values: i64,
    max_length: Option<i32>,
}

/// What a recipe's backfill would find in the documents a profile read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SampleCheck {
    /// Documents read.
    pub documents: i64,
    /// Of those, the ones the backfill would quarantine.
    pub quarantined: i64,
    /// The most frequent reasons, each with its number of documents.
    pub reasons: Vec<(String, i64)>,
    /// How many distinct key paths no target maps.
    pub unmapped_paths: i64,
    /// The most frequent of them (`notifications.*.extra` inside entries),
    /// each with how often it was found.
    pub unmapped: Vec<(String, i64)>,
}

/// Runs `recipe`'s own checks over the documents `sample_percent` picks
/// (`TABLESAMPLE SYSTEM` with the profile's seed, so the documents the
/// profile read; None: every row), writing nothing.
pub async fn check_sample(
    pool: &PgPool,
    recipe: &super::Recipe,
    sample_percent: Option<f64>,
) -> Result<SampleCheck, DiscoverError> {
    if let Some(p) = sample_percent {
        if !(p.is_finite() && p > 0.0 && p <= 100.0) {
            return Err(DiscoverError::Invalid {
                field: "sample_percent",
                message: format!("{p} is not a percentage above 0 and at most 100"),
            });
        }
    }
    let mut tx = read_only(pool).await?;
    let rows: Vec<(String, Option<String>, i64)> =
        sqlx::query_as(&super::sql::sample_check(recipe, sample_percent))
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
    let mut check = SampleCheck {
        documents: 0,
        quarantined: 0,
        reasons: Vec::new(),
        unmapped_paths: 0,
        unmapped: Vec::new(),
    };
    for (kind, what, n) in rows {
        match (kind.as_str(), what) {
            ("documents", _) => check.documents = n,
            ("quarantined", _) => check.quarantined = n,
            ("unmapped_paths", _) => check.unmapped_paths = n,
            ("reason", Some(why)) => check.reasons.push((why, n)),
            ("unmapped", Some(path)) => check.unmapped.push((path, n)),
            _ => {}
        }
    }
    // Most frequent first (a UNION ALL keeps no order of its own).
    let by_count = |a: &(String, i64), b: &(String, i64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0));
    check.reasons.sort_by(by_count);
    check.unmapped.sort_by(by_count);
    Ok(check)
}

/// Scans `req`'s column (a sample, or the whole table) and reports every
/// path, its types, values and entry-like objects.
pub async fn profile(pool: &PgPool, req: &ProfileRequest) -> Result<Profile, DiscoverError> {
    if let Some(p) = req.sample_percent {
        if !(p.is_finite() && p > 0.0 && p <= 100.0) {
            return Err(DiscoverError::Invalid {
                field: "sample_percent",
                message: format!("{p} is not a percentage above 0 and at most 100"),
            });
        }
    }
    let mut tx = read_only(pool).await?;
    let exists: Option<String> = sqlx::query_scalar(
        "SELECT format_type(a.atttypid, NULL) FROM pg_attribute a
         WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
    )
    .bind(format!("{}.{}", req.schema, req.table))
    .bind(req.column.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(classify)?;
    match exists.as_deref() {
        Some("jsonb") => {}
        Some(other) => {
            return Err(DiscoverError::Invalid {
                field: "column",
                message: format!("{} is {other}, not jsonb", req.column),
            })
        }
        None => {
            return Err(DiscoverError::Invalid {
                field: "table",
                message: format!(
                    "{}.{} has no column {} (or does not exist)",
                    req.schema, req.table, req.column
                ),
            })
        }
    }
    // Identifiers are `Ident`s (always quoted); the percent a checked float.
    let sample = match req.sample_percent {
        Some(p) if p < 100.0 => format!("TABLESAMPLE SYSTEM ({p}) REPEATABLE (14)"),
        _ => String::new(),
    };
    let docs = format!(
        "SELECT row_number() OVER () AS doc, {col} AS v FROM {schema}.{table} {sample}",
        col = req.column,
        schema = req.schema,
        table = req.table,
    );
    let (rows, sql_nulls, json_nulls, objects): (i64, i64, i64, i64) = sqlx::query_as(&format!(
        "WITH docs AS ({docs})
         SELECT count(*), count(*) FILTER (WHERE v IS NULL),
                count(*) FILTER (WHERE jsonb_typeof(v) = 'null'),
                count(*) FILTER (WHERE jsonb_typeof(v) = 'object')
         FROM docs"
    ))
    .fetch_one(&mut *tx)
    .await
    .map_err(classify)?;
    let walk = format!(
        "WITH RECURSIVE docs AS ({docs}),
         walk(doc, path, value) AS (
             SELECT d.doc, ARRAY[e.key], e.value
             FROM docs d, jsonb_each(d.v) e WHERE jsonb_typeof(d.v) = 'object'
             UNION ALL
             SELECT w.doc, w.path || e.key, e.value
             FROM walk w, jsonb_each(w.value) e
             WHERE jsonb_typeof(w.value) = 'object' AND cardinality(w.path) < {MAX_DEPTH}
         )"
    );
    let path_rows: Vec<PathRow> = sqlx::query_as(&format!(
        r#"{walk},
         typed AS (
             SELECT path, jsonb_typeof(value) AS json_type, value,
                    CASE WHEN jsonb_typeof(value) IN ('string', 'number', 'boolean')
                         THEN value #>> '{{}}' END AS txt
             FROM walk
         ),
         paths AS (
             SELECT path FROM typed GROUP BY path ORDER BY path LIMIT {limit}
         )
         SELECT t.path, t.json_type, count(*) AS documents,
                count(*) FILTER (WHERE t.json_type = 'number'
                                 AND (t.value::text)::numeric = trunc((t.value::text)::numeric)) AS integral,
                max(least(abs((t.value::text)::numeric), 1e300)::float8) FILTER (WHERE t.json_type = 'number') AS max_abs,
                count(*) FILTER (WHERE t.json_type = 'string' AND t.txt ~ '^\d{{4}}-\d{{2}}-\d{{2}}[T ]\d{{2}}:\d{{2}}(:\d{{2}}(\.\d+)?)?(Z|[+-]\d{{2}}(:?\d{{2}})?)$') AS timestamps,
                count(*) FILTER (WHERE t.json_type = 'string' AND t.txt ~ '^\d{{4}}-\d{{2}}-\d{{2}}$') AS dates,
                count(*) FILTER (WHERE t.json_type = 'string' AND t.txt ~* '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$') AS uuids,
                count(DISTINCT t.txt) FILTER (WHERE t.json_type = 'string') AS distinct_values,
                max(length(t.txt)) AS max_length
         FROM typed t JOIN paths p ON p.path = t.path
         GROUP BY t.path, t.json_type
         ORDER BY t.path, t.json_type"#,
        limit = MAX_PATHS + 1,
    ))
    .fetch_all(&mut *tx)
    .await
    .map_err(classify)?;
    // The longest values, and the values of low-cardinality strings.
    let low: Vec<Vec<String>> = path_rows
        .iter()
        .filter(|r| r.json_type == "string" && r.distinct_values <= LOW_CARDINALITY)
        .map(|r| r.path.clone())
        .collect();
    let low_json = serde_json::to_value(&low).unwrap_or_default();
    let values: Vec<(Vec<String>, String, i64)> = sqlx::query_as(&format!(
        "{walk}
         SELECT path, value #>> '{{}}', count(*) FROM walk
         WHERE jsonb_typeof(value) = 'string'
           AND to_jsonb(path) IN (SELECT jsonb_array_elements($1::jsonb))
         GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2"
    ))
    .bind(&low_json)
    .fetch_all(&mut *tx)
    .await
    .map_err(classify)?;
    let longest: Vec<(Vec<String>, Vec<String>)> = sqlx::query_as(&format!(
        "{walk},
         ranked AS (
             SELECT path, left(value #>> '{{}}', 200) AS txt,
                    row_number() OVER (PARTITION BY path ORDER BY length(value #>> '{{}}') DESC, value #>> '{{}}') AS n
             FROM walk WHERE jsonb_typeof(value) IN ('string', 'number')
         )
         SELECT path, array_agg(txt ORDER BY n) FROM ranked WHERE n <= 3 GROUP BY path"
    ))
    .fetch_all(&mut *tx)
    .await
    .map_err(classify)?;
    tx.commit().await?;
    Ok(assemble(
        req,
        (rows, sql_nulls, json_nulls, objects),
        path_rows,
        values,
        longest,
    ))
}

fn assemble(
    req: &ProfileRequest,
    (rows, sql_nulls, json_nulls, objects): (i64, i64, i64, i64),
    path_rows: Vec<PathRow>,
    values: Vec<(Vec<String>, String, i64)>,
    longest: Vec<(Vec<String>, Vec<String>)>,
) -> Profile {
    let mut by_path: BTreeMap<Vec<String>, PathProfile> = BTreeMap::new();
    for r in path_rows {
        let p = by_path
            .entry(r.path.clone())
            .or_insert_with(|| PathProfile {
                path: r.path.clone(),
                documents: 0,
                types: Vec::new(),
                integral_numbers: 0,
                max_abs_number: None,
                timestamp_strings: 0,
                date_strings: 0,
                uuid_strings: 0,
                distinct_strings: 0,
                values: None,
                longest: Vec::new(),
                max_length: 0,
            });
        p.documents += r.documents;
        p.types.push(TypeShare {
            json_type: r.json_type.clone(),
            documents: r.documents,
        });
        p.integral_numbers += r.integral;
        if r.max_abs.is_some() {
            p.max_abs_number = r.max_abs;
        }
        p.timestamp_strings += r.timestamps;
        p.date_strings += r.dates;
        p.uuid_strings += r.uuids;
        p.distinct_strings += r.distinct_values;
        p.max_length = p.max_length.max(r.max_length.unwrap_or(0) as i64);
    }
    let truncated = by_path.len() as i64 > MAX_PATHS;
    for (path, value, documents) in values {
        if let Some(p) = by_path.get_mut(&path) {
            p.values
                .get_or_insert_with(Vec::new)
                .push(ValueCount { value, documents });
        }
    }
    for (path, top) in longest {
        if let Some(p) = by_path.get_mut(&path) {
            p.longest = top;
        }
    }
    let mut paths: Vec<PathProfile> = by_path.into_values().collect();
    paths.truncate(MAX_PATHS as usize);
    for p in &mut paths {
        p.types.sort_by(|a, b| {
            b.documents
                .cmp(&a.documents)
                .then(a.json_type.cmp(&b.json_type))
        });
    }
    let entry_objects = entry_objects(&paths);
    Profile {
        schema: req.schema.as_str().to_string(),
        table: req.table.as_str().to_string(),
        column: req.column.as_str().to_string(),
        sample_percent: req.sample_percent.filter(|p| *p < 100.0),
        rows,
        sql_nulls,
        json_nulls,
        non_objects: rows - sql_nulls - json_nulls - objects,
        objects,
        paths,
        truncated,
        entry_objects,
    }
}

/// Objects whose values are mostly objects sharing their keys: at least
/// two such children, and every child's keys overlap the union of all
/// children's keys by half or more (Jaccard), so `{email: {enabled,
/// frequency}, push: {enabled, frequency}}` is one and `{billing: {total},
/// shipping: {city}}` is not.
pub fn entry_objects(paths: &[PathProfile]) -> Vec<EntryObject> {
    let mut found = Vec::new();
    for parent in paths {
        if parent.dominant_type() != Some("object") {
            continue;
        }
        let depth = parent.path.len();
        // Children present in at least 1% of the parent's documents.
        let floor = (parent.documents as f64 * 0.01).ceil() as i64;
        let all: Vec<&PathProfile> = paths
            .iter()
            .filter(|c| c.path.len() == depth + 1 && c.path.starts_with(&parent.path))
            .collect();
        // Keyed by data (SKUs, ids): every key counts, however rare.
        let keyed_by_data = all.len() as i64 > LOW_CARDINALITY;
        let children: Vec<&PathProfile> = all
            .into_iter()
            .filter(|c| keyed_by_data || c.documents >= floor.max(1))
            .collect();
        if children.len() < 2
            || !children
                .iter()
                .all(|c| c.count_of("object") * 10 >= c.documents * 9)
        {
            continue;
        }
        let keys_of = |c: &PathProfile| -> Vec<String> {
            let cfloor = (c.documents as f64 * 0.01).ceil() as i64;
            paths
                .iter()
                .filter(|g| g.path.len() == depth + 2 && g.path.starts_with(&c.path))
                .filter(|g| g.documents >= cfloor.max(1))
                .map(|g| g.path[depth + 1].clone())
                .collect()
        };
        let sets: Vec<Vec<String>> = children.iter().map(|c| keys_of(c)).collect();
        let mut union: Vec<String> = sets.iter().flatten().cloned().collect();
        union.sort();
        union.dedup();
        if union.is_empty() {
            continue;
        }
        let overlapping = sets
            .iter()
            .all(|s| !s.is_empty() && s.len() * 2 >= union.len());
        if !overlapping {
            continue;
        }
        let mut fields: BTreeMap<String, i64> = BTreeMap::new();
        for c in &children {
            for g in paths
                .iter()
                .filter(|g| g.path.len() == depth + 2 && g.path.starts_with(&c.path))
            {
                *fields.entry(g.path[depth + 1].clone()).or_default() += g.documents;
            }
        }
        found.push(EntryObject {
            path: parent.path.clone(),
            keys: paths
                .iter()
                .filter(|c| c.path.len() == depth + 1 && c.path.starts_with(&parent.path))
                .map(|c| ValueCount {
                    value: c.path[depth].clone(),
                    documents: c.documents,
                })
                .collect(),
            fields: fields
                .into_iter()
                .map(|(value, documents)| ValueCount { value, documents })
                .collect(),
        });
    }
    // An entry object inside another's entries is the outer one's business.
    let outer: Vec<Vec<String>> = found.iter().map(|e| e.path.clone()).collect();
    found.retain(|e| {
        !outer
            .iter()
            .any(|o| o.len() < e.path.len() && e.path.starts_with(o))
    });
    found
}
