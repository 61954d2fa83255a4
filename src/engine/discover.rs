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
/// No statement of ours reads for longer (a whole-table profile is read in
/// parts, each one statement).
pub const STATEMENT_TIMEOUT_S: u64 = 120;

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
    /// Distinct string values (all strings of the path); above
    /// `LOW_CARDINALITY`, in a whole-table profile, a lower bound.
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
/// path, its types, values and entry-like objects: `ProfileScan` run to
/// its end.
pub async fn profile(pool: &PgPool, req: &ProfileRequest) -> Result<Profile, DiscoverError> {
    let mut scan = ProfileScan::start(pool, req, None).await?;
    while scan.step().await? {}
    Ok(scan.finish())
}

/// How far a scan has read: pages of the table (of its largest partition,
/// for a partitioned one) read so far and in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanProgress {
    pub pages_done: i64,
    pub pages_total: i64,
}

/// A profile read in parts, so a whole-table scan can say how far it is
/// and no statement reads more than one part (each stays under the
/// statement timeout). A sample is one part; the whole table is read in
/// ranges of pages (`ctid` ranges, read by TID range scans on Postgres 14
/// and later; before 14 such a range would read the whole table each time,
/// so the table is one part there). Each part is a READ ONLY transaction
/// of its own: between parts the scan holds no snapshot (vacuum goes on)
/// and no lock (the application's DDL waits for one part at most). So a
/// row the application moves to a later page meanwhile may be read twice,
/// and one moved to an earlier page missed: a whole-table profile of a
/// table in use is a statistic, as a sample is. Each part's figures are
/// merged here; every figure merges exactly (sums, maxima,
/// the union of value sets), except a path's number of distinct strings
/// above `LOW_CARDINALITY`, which is then a lower bound (nothing uses more
/// than whether it is above).
pub struct ProfileScan {
    pool: PgPool,
    req: ProfileRequest,
    /// The next part's first page; None once every part was read.
    next: Option<i64>,
    /// Pages per part; None: the scan is one part.
    part_pages: Option<i64>,
    pages_total: i64,
    acc: Merged,
}

/// Parts a whole-table scan is cut into, about (fewer for small tables).
const PARTS: i64 = 100;
/// The smallest part, in pages (8 MB with 8 kB pages).
const MIN_PART_PAGES: i64 = 1024;

impl ProfileScan {
    /// Checks the column and opens the scan's snapshot. `part_pages`
    /// overrides the size of a whole-table scan's parts (tests).
    pub async fn start(
        pool: &PgPool,
        req: &ProfileRequest,
        part_pages: Option<i64>,
    ) -> Result<Self, DiscoverError> {
        if let Some(p) = req.sample_percent {
            if !(p.is_finite() && p > 0.0 && p <= 100.0) {
                return Err(DiscoverError::Invalid {
                    field: "sample_percent",
                    message: format!("{p} is not a percentage above 0 and at most 100"),
                });
            }
        }
        let mut tx = read_only(pool).await?;
        let found: Option<(String, i64, i32)> = sqlx::query_as(&format!(
            "SELECT format_type(a.atttypid, NULL),
                    (SELECT coalesce(max(pg_relation_size(c.oid)), 0) FROM pg_class c WHERE {})
                      / current_setting('block_size')::bigint,
                    current_setting('server_version_num')::int
             FROM pg_attribute a
             WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
            super::sql::HEAP_RELATIONS_OF.replace("$1::regclass", "a.attrelid")
        ))
        .bind(format!("{}.{}", req.schema, req.table))
        .bind(req.column.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(classify)?;
        let (pages, version) = match found {
            Some((ty, pages, version)) if ty == "jsonb" => (pages, version),
            Some((other, _, _)) => {
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
        };
        tx.commit().await?;
        let sampled = matches!(req.sample_percent, Some(p) if p < 100.0);
        let part_pages = (!sampled && version >= 140_000).then(|| {
            part_pages
                .unwrap_or_else(|| (pages / PARTS).max(MIN_PART_PAGES))
                .max(1)
        });
        Ok(ProfileScan {
            pool: pool.clone(),
            req: req.clone(),
            next: Some(0),
            part_pages,
            pages_total: pages,
            acc: Merged::default(),
        })
    }

    /// Is the scan one part (a sample, a table of one part)?
    pub fn is_one_part(&self) -> bool {
        self.part_pages.is_none_or(|n| n >= self.pages_total)
    }

    pub fn progress(&self) -> ScanProgress {
        let done = match (self.next, self.part_pages) {
            (None, _) => self.pages_total,
            (Some(first), Some(_)) => first.min(self.pages_total),
            (Some(_), None) => 0,
        };
        ScanProgress {
            pages_done: done,
            pages_total: self.pages_total,
        }
    }

    /// Reads the next part; false once there is none left.
    pub async fn step(&mut self) -> Result<bool, DiscoverError> {
        let Some(first) = self.next else {
            return Ok(false);
        };
        // Identifiers are `Ident`s (always quoted); the percent a checked
        // float; the page numbers ours.
        let (filter, next) = match self.part_pages {
            None => (String::new(), None),
            Some(n) => {
                let end = first + n;
                if end >= self.pages_total {
                    // The last part has no end: pages added since the
                    // size was read are in it.
                    (format!("WHERE ctid >= '({first},0)'::tid"), None)
                } else {
                    (
                        format!("WHERE ctid >= '({first},0)'::tid AND ctid < '({end},0)'::tid"),
                        Some(end),
                    )
                }
            }
        };
        let sample = match self.req.sample_percent {
            Some(p) if p < 100.0 => format!("TABLESAMPLE SYSTEM ({p}) REPEATABLE (14)"),
            _ => String::new(),
        };
        let docs = format!(
            "SELECT {col} AS v FROM {schema}.{table} {sample} {filter}",
            col = self.req.column,
            schema = self.req.schema,
            table = self.req.table,
        );
        let mut tx = read_only(&self.pool).await?;
        let part: sqlx::types::Json<Part> = sqlx::query_scalar(&part_sql(&docs))
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await?;
        self.acc.add(part.0);
        self.next = next;
        Ok(next.is_some())
    }

    /// The profile of every part read.
    pub fn finish(self) -> Profile {
        self.acc.into_profile(&self.req)
    }
}

/// One statement reading the documents of `docs` (one part of a scan) and
/// returning what they hold as one JSON object (`Part`).
fn part_sql(docs: &str) -> String {
    format!(
        r#"WITH RECURSIVE walk(path, value) AS (
             SELECT ARRAY[e.key], e.value
             FROM ({docs}) d, jsonb_each(d.v) e WHERE jsonb_typeof(d.v) = 'object'
             UNION ALL
             SELECT w.path || e.key, e.value
             FROM walk w, jsonb_each(w.value) e
             WHERE jsonb_typeof(w.value) = 'object' AND cardinality(w.path) < {MAX_DEPTH}
         ),
         typed AS MATERIALIZED (
             SELECT path, jsonb_typeof(value) AS json_type, value,
                    CASE WHEN jsonb_typeof(value) IN ('string', 'number', 'boolean')
                         THEN value #>> '{{}}' END AS txt
             FROM walk
         ),
         paths AS (SELECT path FROM typed GROUP BY path ORDER BY path COLLATE "C" LIMIT {limit}),
         kept AS MATERIALIZED (SELECT t.* FROM typed t JOIN paths p ON p.path = t.path),
         strs AS (
             SELECT path, txt, count(*) AS n FROM kept WHERE json_type = 'string' GROUP BY path, txt
         ),
         ranked AS (
             SELECT path, length(txt) AS len, left(txt, 200) AS txt,
                    row_number() OVER (PARTITION BY path ORDER BY length(txt) DESC, txt COLLATE "C") AS n
             FROM kept WHERE json_type IN ('string', 'number')
         )
         SELECT jsonb_build_object(
           'counts', (SELECT jsonb_build_array(count(*), count(*) FILTER (WHERE d.v IS NULL),
                                               count(*) FILTER (WHERE jsonb_typeof(d.v) = 'null'),
                                               count(*) FILTER (WHERE jsonb_typeof(d.v) = 'object'))
                      FROM ({docs}) d),
           'paths', (SELECT coalesce(jsonb_agg(x), '[]') FROM (
               SELECT t.path, t.json_type, count(*) AS documents,
                      count(*) FILTER (WHERE t.json_type = 'number'
                                       AND (t.value::text)::numeric = trunc((t.value::text)::numeric)) AS integral,
                      max(least(abs((t.value::text)::numeric), 1e300)::float8) FILTER (WHERE t.json_type = 'number') AS max_abs,
                      count(*) FILTER (WHERE t.json_type = 'string' AND t.txt ~ '^\d{{4}}-\d{{2}}-\d{{2}}[T ]\d{{2}}:\d{{2}}(:\d{{2}}(\.\d+)?)?(Z|[+-]\d{{2}}(:?\d{{2}})?)$') AS timestamps,
                      count(*) FILTER (WHERE t.json_type = 'string' AND t.txt ~ '^\d{{4}}-\d{{2}}-\d{{2}}$') AS dates,
                      count(*) FILTER (WHERE t.json_type = 'string' AND t.txt ~* '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$') AS uuids,
                      coalesce(max(length(t.txt)), 0) AS max_length
               FROM kept t GROUP BY t.path, t.json_type) x),
           'strings', (SELECT coalesce(jsonb_agg(x), '[]') FROM (
               SELECT path, count(*) AS distinct_values,
                      CASE WHEN count(*) <= {low} THEN jsonb_agg(jsonb_build_array(txt, n)) END AS values
               FROM strs GROUP BY path) x),
           'longest', (SELECT coalesce(jsonb_agg(x), '[]') FROM (
               SELECT path, jsonb_agg(jsonb_build_array(len, txt) ORDER BY n) AS top
               FROM ranked WHERE n <= 3 GROUP BY path) x)
         )"#,
        limit = MAX_PATHS + 1,
        low = LOW_CARDINALITY,
    )
}

/// What one part of a scan found (`part_sql`'s JSON).
#[derive(Deserialize)]
struct Part {
    /// Rows, SQL NULLs, JSON nulls, objects.
    counts: (i64, i64, i64, i64),
    paths: Vec<PartPath>,
    strings: Vec<PartStrings>,
    longest: Vec<PartLongest>,
}

#[derive(Deserialize)]
struct PartPath {
    path: Vec<String>,
    json_type: String,
    documents: i64,
    integral: i64,
    max_abs: Option<f64>,
    timestamps: i64,
    dates: i64,
    uuids: i64,
    max_length: i64,
}

#[derive(Deserialize)]
struct PartStrings {
    path: Vec<String>,
    distinct_values: i64,
    /// Each value and its count, when the part has at most
    /// `LOW_CARDINALITY` distinct strings at the path.
    values: Option<Vec<(String, i64)>>,
}

#[derive(Deserialize)]
struct PartLongest {
    path: Vec<String>,
    /// (length in characters, the first 200 characters), longest first.
    top: Vec<(i64, String)>,
}

/// What a path's strings are known to be across the parts read.
enum Strings {
    /// Every distinct value and its count.
    Few(BTreeMap<String, i64>),
    /// More than `LOW_CARDINALITY` distinct values; at least this many.
    Many(i64),
}

#[derive(Default)]
struct Merged {
    counts: (i64, i64, i64, i64),
    /// By path, then by JSON type.
    paths: BTreeMap<Vec<String>, BTreeMap<String, PartPath>>,
    strings: BTreeMap<Vec<String>, Strings>,
    longest: BTreeMap<Vec<String>, Vec<(i64, String)>>,
}

impl Merged {
    fn add(&mut self, part: Part) {
        let c = part.counts;
        self.counts = (
            self.counts.0 + c.0,
            self.counts.1 + c.1,
            self.counts.2 + c.2,
            self.counts.3 + c.3,
        );
        for p in part.paths {
            let by_type = self.paths.entry(p.path.clone()).or_default();
            match by_type.get_mut(&p.json_type) {
                None => {
                    by_type.insert(p.json_type.clone(), p);
                }
                Some(m) => {
                    m.documents += p.documents;
                    m.integral += p.integral;
                    m.max_abs = match (m.max_abs, p.max_abs) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                    m.timestamps += p.timestamps;
                    m.dates += p.dates;
                    m.uuids += p.uuids;
                    m.max_length = m.max_length.max(p.max_length);
                }
            }
        }
        for s in part.strings {
            let merged = match (self.strings.remove(&s.path), s.values) {
                (Some(Strings::Many(n)), _) => Strings::Many(n.max(s.distinct_values)),
                (_, None) => Strings::Many(s.distinct_values),
                (None, Some(values)) => Strings::Few(values.into_iter().collect()),
                (Some(Strings::Few(mut known)), Some(values)) => {
                    for (v, n) in values {
                        *known.entry(v).or_insert(0) += n;
                    }
                    if known.len() as i64 > LOW_CARDINALITY {
                        Strings::Many(known.len() as i64)
                    } else {
                        Strings::Few(known)
                    }
                }
            };
            self.strings.insert(s.path, merged);
        }
        for l in part.longest {
            let top = self.longest.entry(l.path).or_default();
            top.extend(l.top);
            // Longest first, then by the text's bytes (as the part's
            // `COLLATE "C"`); three kept.
            top.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            top.truncate(3);
        }
    }

    fn into_profile(self, req: &ProfileRequest) -> Profile {
        let (rows, sql_nulls, json_nulls, objects) = self.counts;
        let truncated = self.paths.len() as i64 > MAX_PATHS;
        let mut strings = self.strings;
        let mut longest = self.longest;
        let paths: Vec<PathProfile> = self
            .paths
            .into_iter()
            .take(MAX_PATHS as usize)
            .map(|(path, by_type)| {
                let mut types: Vec<TypeShare> = by_type
                    .values()
                    .map(|t| TypeShare {
                        json_type: t.json_type.clone(),
                        documents: t.documents,
                    })
                    .collect();
                types.sort_by(|a, b| {
                    b.documents
                        .cmp(&a.documents)
                        .then(a.json_type.cmp(&b.json_type))
                });
                let all = by_type.values();
                let (distinct_strings, values) = match strings.remove(&path) {
                    None => (0, None),
                    Some(Strings::Many(n)) => (n, None),
                    Some(Strings::Few(known)) => {
                        let mut v: Vec<ValueCount> = known
                            .into_iter()
                            .map(|(value, documents)| ValueCount { value, documents })
                            .collect();
                        v.sort_by(|a, b| b.documents.cmp(&a.documents).then(a.value.cmp(&b.value)));
                        (v.len() as i64, Some(v))
                    }
                };
                PathProfile {
                    documents: all.clone().map(|t| t.documents).sum(),
                    integral_numbers: all.clone().map(|t| t.integral).sum(),
                    max_abs_number: all.clone().filter_map(|t| t.max_abs).reduce(f64::max),
                    timestamp_strings: all.clone().map(|t| t.timestamps).sum(),
                    date_strings: all.clone().map(|t| t.dates).sum(),
                    uuid_strings: all.clone().map(|t| t.uuids).sum(),
                    max_length: all.map(|t| t.max_length).max().unwrap_or(0),
                    distinct_strings,
                    values,
                    longest: longest
                        .remove(&path)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(_, txt)| txt)
                        .collect(),
                    types,
                    path,
                }
            })
            .collect();
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
