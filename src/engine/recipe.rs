//! Recipes: the declarative description of a JSONB-to-tables migration.
//! `Recipe::parse` checks everything that can be checked without a database
//! and reports every problem with the field it is in; `check_database`
//! (in `engine::inspect`) adds what only the database can tell.

use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;

use super::ident::Ident;

/// One problem in a recipe: where (`targets[1].columns[0].type`) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipeError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// SQL types a column can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlType {
    Text,
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    Numeric,
    Double,
    Timestamptz,
    Date,
    Uuid,
}

impl SqlType {
    /// Every supported type.
    pub const ALL: [SqlType; 10] = [
        SqlType::Text,
        SqlType::Boolean,
        SqlType::SmallInt,
        SqlType::Integer,
        SqlType::BigInt,
        SqlType::Numeric,
        SqlType::Double,
        SqlType::Timestamptz,
        SqlType::Date,
        SqlType::Uuid,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "text" => SqlType::Text,
            "boolean" | "bool" => SqlType::Boolean,
            "smallint" | "int2" => SqlType::SmallInt,
            "integer" | "int" | "int4" => SqlType::Integer,
            "bigint" | "int8" => SqlType::BigInt,
            "numeric" => SqlType::Numeric,
            "double precision" | "float8" => SqlType::Double,
            "timestamptz" | "timestamp with time zone" => SqlType::Timestamptz,
            "date" => SqlType::Date,
            "uuid" => SqlType::Uuid,
            _ => return None,
        })
    }

    pub fn sql(self) -> &'static str {
        match self {
            SqlType::Text => "text",
            SqlType::Boolean => "boolean",
            SqlType::SmallInt => "smallint",
            SqlType::Integer => "integer",
            SqlType::BigInt => "bigint",
            SqlType::Numeric => "numeric",
            SqlType::Double => "double precision",
            SqlType::Timestamptz => "timestamptz",
            SqlType::Date => "date",
            SqlType::Uuid => "uuid",
        }
    }

    /// The JSON type a document must hold for this column.
    pub fn json_type(self) -> &'static str {
        match self {
            SqlType::Boolean => "boolean",
            SqlType::SmallInt
            | SqlType::Integer
            | SqlType::BigInt
            | SqlType::Numeric
            | SqlType::Double => "number",
            SqlType::Text | SqlType::Timestamptz | SqlType::Date | SqlType::Uuid => "string",
        }
    }

    /// Integer bounds, for the integral types.
    pub fn int_range(self) -> Option<(i64, i64)> {
        match self {
            SqlType::SmallInt => Some((i16::MIN as i64, i16::MAX as i64)),
            SqlType::Integer => Some((i32::MIN as i64, i32::MAX as i64)),
            SqlType::BigInt => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }
}

/// Type of the source key (and of the key column in every target).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Integer,
    BigInt,
    Uuid,
}

impl KeyType {
    pub fn sql(self) -> &'static str {
        match self {
            KeyType::Integer => "integer",
            KeyType::BigInt => "bigint",
            KeyType::Uuid => "uuid",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// The migration's name (slug), e.g. `user-preferences`.
    pub name: String,
    pub title: String,
    pub source: Source,
    pub targets: Vec<Target>,
    /// Hours to wait after phase 4 before phase 5 may run.
    pub soak_hours: f64,
    /// Backfill tuning.
    pub target_batch_ms: u64,
    pub initial_batch_size: i64,
    /// The TOML it was parsed from (pinned with the migration at phase 1).
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub schema: Ident,
    pub table: Ident,
    pub key: Ident,
    pub key_type: KeyType,
    pub column: Ident,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TargetKind {
    /// One row per source row.
    PerRow,
    /// One row per entry of the JSON object at `path`; the entry's key goes
    /// into `key_column`.
    PerEntry {
        path: Vec<String>,
        key_column: Ident,
        key_allowed: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub table: Ident,
    pub kind: TargetKind,
    /// The column holding the source key (also the FK to the source).
    pub source_key_column: Ident,
    pub columns: Vec<Column>,
    pub indexes: Vec<Index>,
}

impl Target {
    /// Does this target read a JSON number? Only then can a change that
    /// jsonb equality does not see (`1.0` to `1.00`: numbers compare by
    /// value) change what the target holds or which check fails: every
    /// other column takes a string or a boolean, and refuses a number
    /// whatever its digits.
    pub fn reads_numbers(&self) -> bool {
        self.columns.iter().any(|c| c.ty.json_type() == "number")
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: Ident,
    /// Path inside the document (per row) or inside the entry (per entry).
    pub path: Vec<String>,
    pub ty: SqlType,
    /// SQL literal (already typed) used when the key is absent or null.
    pub default: Option<DefaultValue>,
    pub required: bool,
    pub allowed: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DefaultValue {
    Text(String),
    Bool(bool),
    Int(i64),
    Float(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Index {
    pub name: Ident,
    pub columns: Vec<Ident>,
    pub unique: bool,
}

// ---- the TOML as written -------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    name: Option<String>,
    title: Option<String>,
    source: Option<RawSource>,
    #[serde(default)]
    targets: Vec<RawTarget>,
    soak_hours: Option<f64>,
    target_batch_ms: Option<u64>,
    initial_batch_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    schema: Option<String>,
    table: Option<String>,
    key: Option<String>,
    key_type: Option<String>,
    column: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    table: Option<String>,
    kind: Option<String>,
    source_key_column: Option<String>,
    entries: Option<String>,
    entry_key_column: Option<String>,
    #[serde(default)]
    entry_key_allowed: Vec<String>,
    #[serde(default)]
    columns: Vec<RawColumn>,
    #[serde(default)]
    indexes: Vec<RawIndex>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: Option<String>,
    path: Option<String>,
    #[serde(rename = "type")]
    ty: Option<String>,
    default: Option<toml::Value>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    allowed: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndex {
    name: Option<String>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    unique: bool,
}

/// Collects errors while parsing, so the user sees all of them at once.
struct Errors(Vec<RecipeError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(RecipeError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn required<'a>(&mut self, field: &str, value: &'a Option<String>) -> Option<&'a str> {
        match value.as_deref() {
            Some(v) => Some(v),
            None => {
                self.push(field, "is required");
                None
            }
        }
    }

    fn ident(&mut self, field: &str, value: &Option<String>) -> Option<Ident> {
        let v = self.required(field, value)?;
        Ident::parse(v).map_err(|m| self.push(field, m)).ok()
    }
}

/// Bounds on what a recipe may ask for. The generated SQL grows linearly in
/// targets × columns × path depth; these keep every function well under
/// Postgres's limits (and the dry run readable).
pub const MAX_TARGETS: usize = 16;
pub const MAX_COLUMNS: usize = 100;
pub const MAX_PATH_DEPTH: usize = 8;
pub const MAX_PATH_SEGMENT: usize = 63;
pub const MAX_ALLOWED_VALUES: usize = 1000;
pub const MAX_VALUE_BYTES: usize = 1000;

/// `a.b.c` → `["a","b","c"]`; segments are JSON object keys.
fn parse_path(s: &str) -> Result<Vec<String>, String> {
    if s.trim().is_empty() {
        return Err("is empty".into());
    }
    let segments: Vec<String> = s.split('.').map(str::to_string).collect();
    if segments.len() > MAX_PATH_DEPTH {
        return Err(format!(
            "{s:?} is {} levels deep; at most {MAX_PATH_DEPTH} are supported",
            segments.len()
        ));
    }
    if segments.iter().any(|seg| seg.len() > MAX_PATH_SEGMENT) {
        return Err(format!(
            "{s:?} has a key longer than {MAX_PATH_SEGMENT} characters"
        ));
    }
    for seg in &segments {
        if seg.is_empty()
            || !seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "{s:?} is not a JSON path of plain keys separated by dots (letters, digits, _ and -)"
            ));
        }
    }
    Ok(segments)
}

/// A list of literal values (allowed values, entry keys): bounded, no NUL
/// (no Postgres text can hold one), no duplicates.
fn check_values(errs: &mut Errors, field: &str, values: &[String]) {
    if values.len() > MAX_ALLOWED_VALUES {
        errs.push(
            field,
            format!("has {} values; at most {MAX_ALLOWED_VALUES}", values.len()),
        );
    }
    let mut seen = HashSet::new();
    for (i, v) in values.iter().enumerate() {
        if v.contains('\0') {
            errs.push(format!("{field}[{i}]"), "contains a NUL character");
        } else if v.len() > MAX_VALUE_BYTES {
            errs.push(
                format!("{field}[{i}]"),
                format!("is longer than {MAX_VALUE_BYTES} bytes"),
            );
        } else if !seen.insert(v) {
            errs.push(format!("{field}[{i}]"), format!("duplicate value {v:?}"));
        }
    }
}

/// Each document path may be mapped once, and never inside another mapped
/// path (`a` and `a.b` cannot both be values): otherwise a write through one
/// column would silently change another.
fn check_overlaps(errs: &mut Errors, paths: &[(Vec<String>, String)]) {
    for (i, (a, fa)) in paths.iter().enumerate() {
        for (b, fb) in &paths[..i] {
            let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
            if long.starts_with(short) {
                let what = if a == b {
                    format!("maps the same path {:?} as {fb}", a.join("."))
                } else {
                    format!(
                        "path {:?} overlaps {:?} mapped by {fb}",
                        a.join("."),
                        b.join(".")
                    )
                };
                errs.push(fa.clone(), what);
            }
        }
    }
}

impl Recipe {
    /// Does any target read a JSON number (`Target::reads_numbers`)?
    pub fn reads_numbers(&self) -> bool {
        self.targets.iter().any(Target::reads_numbers)
    }

    /// Parses and checks a recipe; `Err` lists every problem found.
    pub fn parse(text: &str) -> Result<Recipe, Vec<RecipeError>> {
        let raw = parse_toml(text)?;
        let mut errs = Errors(Vec::new());
        let name = parse_name(&mut errs, &raw);
        let title = raw
            .title
            .clone()
            .or_else(|| name.clone())
            .unwrap_or_default();
        let source = match &raw.source {
            None => {
                errs.push("source", "is required");
                None
            }
            Some(s) => parse_source(&mut errs, s),
        };
        let targets = parse_targets(&mut errs, &raw, source.as_ref());
        check_document_paths(&mut errs, &targets);
        let (soak_hours, target_batch_ms, initial_batch_size) = parse_tuning(&mut errs, &raw);
        match (errs.0.is_empty(), name, source) {
            (true, Some(name), Some(source)) => Ok(Recipe {
                name,
                title,
                source,
                targets,
                soak_hours,
                target_batch_ms,
                initial_batch_size,
                text: text.to_string(),
            }),
            _ => Err(errs.0),
        }
    }

    /// SHA-256 of the recipe's text, hex: what a pinned recipe is known by.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Machine-safe form of the name for generated object names.
    pub fn slug_ident(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// The TOML itself; a syntax error is reported with its line.
fn parse_toml(text: &str) -> Result<RawRecipe, Vec<RecipeError>> {
    toml::from_str(text).map_err(|e| {
        let field = e
            .span()
            .map(|span| {
                let line = text[..span.start.min(text.len())].lines().count().max(1);
                format!("line {line}")
            })
            .unwrap_or_else(|| "recipe".into());
        vec![RecipeError {
            field,
            message: e.message().to_string(),
        }]
    })
}

fn parse_name(errs: &mut Errors, raw: &RawRecipe) -> Option<String> {
    let name = errs.required("name", &raw.name).map(str::to_string);
    if let Some(n) = &name {
        let ok = !n.is_empty()
            && n.len() <= 40
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !n.starts_with('-');
        if !ok {
            errs.push(
                "name",
                format!("{n:?} must be a slug: a-z, 0-9 and -, at most 40 characters"),
            );
        }
    }
    name
}

fn parse_source(errs: &mut Errors, s: &RawSource) -> Option<Source> {
    let schema = match &s.schema {
        None => Ident::parse("public").ok(),
        some => errs.ident("source.schema", some),
    };
    let table = errs.ident("source.table", &s.table);
    let key = errs.ident("source.key", &s.key);
    let column = errs.ident("source.column", &s.column);
    let key_type = match s
        .key_type
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("bigint") => Some(KeyType::BigInt),
        Some("integer") | Some("int") => Some(KeyType::Integer),
        Some("uuid") => Some(KeyType::Uuid),
        Some(other) => {
            errs.push(
                "source.key_type",
                format!("{other:?} is not a key type (integer, bigint or uuid)"),
            );
            None
        }
    };
    match (schema, table, key, key_type, column) {
        (Some(schema), Some(table), Some(key), Some(key_type), Some(column)) => Some(Source {
            schema,
            table,
            key,
            key_type,
            column,
        }),
        _ => None,
    }
}

/// The targets, each parsed and checked (names unique, not the source).
fn parse_targets(errs: &mut Errors, raw: &RawRecipe, source: Option<&Source>) -> Vec<Target> {
    if raw.targets.is_empty() {
        errs.push("targets", "at least one target table is required");
    }
    if raw.targets.len() > MAX_TARGETS {
        errs.push(
            "targets",
            format!("{} targets; at most {MAX_TARGETS}", raw.targets.len()),
        );
    }
    let mut targets = Vec::new();
    let mut table_names = HashSet::new();
    let mut index_names = HashSet::new();
    for (ti, t) in raw.targets.iter().enumerate() {
        let at = format!("targets[{ti}]");
        if let Some(target) = parse_target(errs, &at, t, &mut index_names) {
            if !table_names.insert(target.table.clone()) {
                errs.push(
                    format!("{at}.table"),
                    format!("duplicate target table {}", target.table.as_str()),
                );
            }
            if let Some(src) = source {
                // Targets are created in the source's schema.
                if target.table == src.table {
                    errs.push(format!("{at}.table"), "cannot be the source table");
                }
            }
            targets.push(target);
        }
    }
    targets
}

/// Document-level paths (per-row columns and per-entry objects) may not
/// overlap, nor may the paths inside one entry.
fn check_document_paths(errs: &mut Errors, targets: &[Target]) {
    let mut doc_paths = Vec::new();
    for (ti, t) in targets.iter().enumerate() {
        match &t.kind {
            TargetKind::PerRow => {
                for (ci, c) in t.columns.iter().enumerate() {
                    doc_paths.push((c.path.clone(), format!("targets[{ti}].columns[{ci}].path")));
                }
            }
            TargetKind::PerEntry { path, .. } => {
                doc_paths.push((path.clone(), format!("targets[{ti}].entries")));
                let inner: Vec<_> = t
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(ci, c)| (c.path.clone(), format!("targets[{ti}].columns[{ci}].path")))
                    .collect();
                check_overlaps(errs, &inner);
            }
        }
    }
    check_overlaps(errs, &doc_paths);
}

/// Soak time, target batch duration and first batch size.
fn parse_tuning(errs: &mut Errors, raw: &RawRecipe) -> (f64, u64, i64) {
    let soak_hours = raw.soak_hours.unwrap_or(24.0);
    if !(0.0..=24.0 * 365.0).contains(&soak_hours) {
        errs.push("soak_hours", "must be between 0 and 8760");
    }
    let target_batch_ms = raw.target_batch_ms.unwrap_or(200);
    if !(10..=60_000).contains(&target_batch_ms) {
        errs.push("target_batch_ms", "must be between 10 and 60000");
    }
    let initial_batch_size = raw.initial_batch_size.unwrap_or(1_000);
    if !(1..=1_000_000).contains(&initial_batch_size) {
        errs.push("initial_batch_size", "must be between 1 and 1000000");
    }
    (soak_hours, target_batch_ms, initial_batch_size)
}

fn parse_target(
    errs: &mut Errors,
    at: &str,
    t: &RawTarget,
    index_names: &mut HashSet<Ident>,
) -> Option<Target> {
    let table = errs.ident(&format!("{at}.table"), &t.table);
    let source_key_column = errs.ident(&format!("{at}.source_key_column"), &t.source_key_column);
    let kind = parse_target_kind(errs, at, t);

    let mut names: HashSet<Ident> = HashSet::new();
    for extra in [&source_key_column, &entry_key_of(&kind)]
        .into_iter()
        .flatten()
    {
        names.insert(extra.clone());
    }
    if t.columns.is_empty() {
        errs.push(format!("{at}.columns"), "at least one column is required");
    }
    if t.columns.len() > MAX_COLUMNS {
        errs.push(
            format!("{at}.columns"),
            format!("{} columns; at most {MAX_COLUMNS}", t.columns.len()),
        );
    }
    let mut columns = Vec::new();
    for (ci, c) in t.columns.iter().enumerate() {
        let cat = format!("{at}.columns[{ci}]");
        // Duplicates are reported even when the column has other errors.
        if let Some(Ok(name)) = c.name.as_deref().map(Ident::parse) {
            if !names.insert(name.clone()) {
                errs.push(
                    format!("{cat}.name"),
                    format!("duplicate column {}", name.as_str()),
                );
            }
        }
        if let Some(col) = parse_column(errs, &cat, c) {
            columns.push(col);
        }
    }
    let mut indexes = Vec::new();
    for (ii, ix) in t.indexes.iter().enumerate() {
        let iat = format!("{at}.indexes[{ii}]");
        let known = Known {
            table: table.as_ref(),
            columns: &names,
        };
        if let Some(index) = parse_index(errs, &iat, ix, &known, index_names) {
            indexes.push(index);
        }
    }
    Some(Target {
        table: table?,
        kind: kind?,
        source_key_column: source_key_column?,
        columns,
        indexes,
    })
}

fn entry_key_of(kind: &Option<TargetKind>) -> Option<Ident> {
    match kind {
        Some(TargetKind::PerEntry { key_column, .. }) => Some(key_column.clone()),
        _ => None,
    }
}

fn parse_column(errs: &mut Errors, at: &str, c: &RawColumn) -> Option<Column> {
    let name = errs.ident(&format!("{at}.name"), &c.name);
    // The path defaults to the column's name.
    let path_text = c.path.clone().or_else(|| c.name.clone());
    let path = path_text.as_deref().and_then(|p| {
        parse_path(p)
            .map_err(|m| errs.push(format!("{at}.path"), m))
            .ok()
    });
    let ty = match errs.required(&format!("{at}.type"), &c.ty) {
        Some(s) => SqlType::parse(s).or_else(|| {
            errs.push(
                format!("{at}.type"),
                format!(
                    "{s:?} is not a supported type (text, boolean, smallint, integer, bigint, numeric, double precision, timestamptz, date, uuid)"
                ),
            );
            None
        }),
        None => None,
    };
    let ty = ty?;
    check_values(errs, &format!("{at}.allowed"), &c.allowed);
    if !c.allowed.is_empty() && ty != SqlType::Text {
        errs.push(
            format!("{at}.allowed"),
            "allowed values are only supported on text columns",
        );
    }
    let default = parse_default(errs, at, ty, c).ok()?;
    if c.required && default.is_some() {
        errs.push(
            format!("{at}.required"),
            "a required column cannot have a default",
        );
    }
    Some(Column {
        name: name?,
        path: path?,
        ty,
        default,
        required: c.required,
        allowed: c.allowed.clone(),
    })
}

fn parse_target_kind(errs: &mut Errors, at: &str, t: &RawTarget) -> Option<TargetKind> {
    match t.kind.as_deref() {
        None | Some("per_row") => {
            if t.entries.is_some() || t.entry_key_column.is_some() {
                errs.push(
                    format!("{at}.entries"),
                    "only a per_entry target takes entries / entry_key_column",
                );
            }
            Some(TargetKind::PerRow)
        }
        Some("per_entry") => {
            let path = match errs.required(&format!("{at}.entries"), &t.entries) {
                Some(p) => parse_path(p)
                    .map_err(|m| errs.push(format!("{at}.entries"), m))
                    .ok(),
                None => None,
            };
            let key_column = errs.ident(&format!("{at}.entry_key_column"), &t.entry_key_column);
            check_values(
                errs,
                &format!("{at}.entry_key_allowed"),
                &t.entry_key_allowed,
            );
            match (path, key_column) {
                (Some(path), Some(key_column)) => Some(TargetKind::PerEntry {
                    path,
                    key_column,
                    key_allowed: t.entry_key_allowed.clone(),
                }),
                _ => None,
            }
        }
        Some(other) => {
            errs.push(
                format!("{at}.kind"),
                format!("{other:?} is not a target kind (per_row or per_entry)"),
            );
            None
        }
    }
}

/// What an index of a target may refer to.
struct Known<'a> {
    table: Option<&'a Ident>,
    columns: &'a HashSet<Ident>,
}

fn parse_index(
    errs: &mut Errors,
    iat: &str,
    ix: &RawIndex,
    known: &Known<'_>,
    index_names: &mut HashSet<Ident>,
) -> Option<Index> {
    if ix.columns.is_empty() {
        errs.push(format!("{iat}.columns"), "at least one column is required");
        return None;
    }
    let mut cols = Vec::new();
    for (k, c) in ix.columns.iter().enumerate() {
        match Ident::parse(c) {
            Ok(id) if known.columns.contains(&id) => cols.push(id),
            Ok(id) => errs.push(
                format!("{iat}.columns[{k}]"),
                format!("{} is not a column of this target", id.as_str()),
            ),
            Err(m) => errs.push(format!("{iat}.columns[{k}]"), m),
        }
    }
    let name = match &ix.name {
        Some(n) => Ident::parse(n)
            .map_err(|m| errs.push(format!("{iat}.name"), m))
            .ok(),
        None => known.table.and_then(|tb| {
            let generated = format!("{}_{}_idx", tb.as_str(), ix.columns.join("_"));
            Ident::parse(&generated)
                .map_err(|m| {
                    errs.push(
                        format!("{iat}.name"),
                        format!("generated name {m}; set a name"),
                    )
                })
                .ok()
        }),
    };
    let name = name?;
    if !index_names.insert(name.clone()) {
        errs.push(
            format!("{iat}.name"),
            format!("duplicate index name {}", name.as_str()),
        );
    }
    (cols.len() == ix.columns.len()).then_some(Index {
        name,
        columns: cols,
        unique: ix.unique,
    })
}

/// A column's default, checked against its type and allowed values;
/// `Err` when the column cannot be used at all.
fn parse_default(
    errs: &mut Errors,
    at: &str,
    ty: SqlType,
    c: &RawColumn,
) -> Result<Option<DefaultValue>, ()> {
    let Some(v) = &c.default else {
        return Ok(None);
    };
    let parsed = match (ty, v) {
        (SqlType::Boolean, toml::Value::Boolean(b)) => Some(DefaultValue::Bool(*b)),
        (t, toml::Value::Integer(i)) if t.int_range().is_some() => {
            let (lo, hi) = t.int_range().unwrap_or((i64::MIN, i64::MAX));
            if (lo..=hi).contains(i) {
                Some(DefaultValue::Int(*i))
            } else {
                errs.push(
                    format!("{at}.default"),
                    format!("{i} is out of range for {}", t.sql()),
                );
                return Err(());
            }
        }
        (SqlType::Numeric | SqlType::Double, toml::Value::Integer(i)) => {
            Some(DefaultValue::Int(*i))
        }
        (SqlType::Numeric | SqlType::Double, toml::Value::Float(f)) if f.is_finite() => {
            Some(DefaultValue::Float(*f))
        }
        (_, toml::Value::String(s)) if s.contains('\0') || s.len() > MAX_VALUE_BYTES => {
            errs.push(
                format!("{at}.default"),
                format!("must be at most {MAX_VALUE_BYTES} bytes, without NUL"),
            );
            return Err(());
        }
        (SqlType::Timestamptz | SqlType::Date, toml::Value::String(s))
            if ["now", "today", "tomorrow", "yesterday"]
                .iter()
                .any(|w| s.to_ascii_lowercase().contains(w)) =>
        {
            errs.push(
                format!("{at}.default"),
                format!("{s:?} is a relative time; a default must be a fixed value"),
            );
            return Err(());
        }
        (
            SqlType::Text | SqlType::Timestamptz | SqlType::Date | SqlType::Uuid,
            toml::Value::String(s),
        ) => Some(DefaultValue::Text(s.clone())),
        (t, other) => {
            errs.push(
                format!("{at}.default"),
                format!("{} does not fit type {}", other, t.sql()),
            );
            None
        }
    };
    check_default_allowed(errs, at, parsed.as_ref(), &c.allowed);
    Ok(parsed)
}

/// A text default must be one of the column's allowed values, if it has any.
fn check_default_allowed(
    errs: &mut Errors,
    at: &str,
    default: Option<&DefaultValue>,
    allowed: &[String],
) {
    if let Some(DefaultValue::Text(s)) = default {
        if !allowed.is_empty() && !allowed.contains(s) {
            errs.push(
                format!("{at}.default"),
                format!("{s:?} is not one of the allowed values"),
            );
        }
    }
}

/// The line (1-based) of `text` where the field an error names is written
/// (`targets[1].columns[0].type`, `source.table`, `line 7` for a syntax
/// error): the key's own line, else its table's header, else None (a
/// required field that is missing from the whole file).
pub fn line_of(text: &str, field: &str) -> Option<usize> {
    if let Some(n) = field.strip_prefix("line ") {
        return n.trim().parse().ok();
    }
    // `allowed[2]` is written on the line of `allowed`.
    let wanted = strip_last_index(field);
    let mut context = String::new();
    // Per array-of-tables path (`targets`, `targets[1].columns`): entries seen.
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut best: Option<(usize, usize)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let here = if let Some(h) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            // `[[targets.columns]]` belongs to the latest `targets` entry.
            let h = h.trim();
            let (parent, leaf) = match h.rsplit_once('.') {
                Some((p, l)) => (indexed_path(p, &counts), l),
                None => (String::new(), h),
            };
            let array = if parent.is_empty() {
                leaf.to_string()
            } else {
                format!("{parent}.{leaf}")
            };
            let n = counts.entry(array.clone()).or_insert(0);
            context = format!("{array}[{n}]");
            *n += 1;
            context.clone()
        } else if let Some(h) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            context = indexed_path(h.trim(), &counts);
            context.clone()
        } else if let Some((key, _)) = line.split_once('=') {
            let key = key.trim().trim_matches('"');
            if context.is_empty() {
                key.to_string()
            } else {
                format!("{context}.{key}")
            }
        } else {
            continue;
        };
        if here == wanted {
            return Some(i + 1);
        }
        if wanted.starts_with(&format!("{here}.")) && best.is_none_or(|(len, _)| here.len() > len) {
            best = Some((here.len(), i + 1));
        }
    }
    best.map(|(_, line)| line)
}

/// `targets.columns` with the latest index of each array (`targets[1].columns`).
fn indexed_path(path: &str, counts: &std::collections::HashMap<String, usize>) -> String {
    let mut out = String::new();
    for part in path.split('.') {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(part);
        if let Some(n) = counts.get(&out).filter(|n| **n > 0) {
            out = format!("{out}[{}]", n - 1);
        }
    }
    out
}

fn strip_last_index(field: &str) -> &str {
    match field
        .strip_suffix(']')
        .and_then(|f| f.rfind('[').map(|i| &f[..i]))
    {
        Some(stripped) if !stripped.ends_with(']') => stripped,
        _ => field,
    }
}

#[cfg(test)]
mod line_tests {
    use super::line_of;

    const TEXT: &str = "name = \"x\"\n[source]\ntable = \"t\"\n\n[[targets]]\ntable = \"a\"\n[[targets.columns]]\nname = \"c\"\n[[targets]]\ntable = \"b\"\n[[targets.columns]]\nname = \"d\"\n[[targets.columns]]\nname = \"e\"\ntype = \"nope\"\nallowed = [\"a\", \"a\"]\n";

    #[test]
    fn errors_point_at_their_line() {
        assert_eq!(line_of(TEXT, "name"), Some(1));
        assert_eq!(line_of(TEXT, "source.table"), Some(3));
        assert_eq!(line_of(TEXT, "targets[0].table"), Some(6));
        assert_eq!(line_of(TEXT, "targets[1].table"), Some(10));
        assert_eq!(line_of(TEXT, "targets[1].columns[1].type"), Some(15));
        assert_eq!(line_of(TEXT, "targets[1].columns[1].allowed[1]"), Some(16));
        // Missing key: its table's header.
        assert_eq!(line_of(TEXT, "targets[1].columns[0].type"), Some(11));
        assert_eq!(line_of(TEXT, "source.key"), Some(2));
        assert_eq!(line_of(TEXT, "line 7"), Some(7));
        assert_eq!(line_of(TEXT, "soak_hours"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../recipes/user_preferences.toml");
    const ORDERS: &str = include_str!("../../recipes/order_metadata.toml");

    #[test]
    fn the_shipped_recipes_parse() {
        let demo = Recipe::parse(DEMO).expect("demo recipe");
        assert_eq!(demo.name, "user-preferences");
        assert_eq!(demo.targets.len(), 2);
        let orders = Recipe::parse(ORDERS).expect("orders recipe");
        assert_eq!(orders.source.key_type, KeyType::Uuid);
    }

    #[test]
    fn reports_every_error_with_its_field() {
        let bad = r#"
name = "Bad Name"
[source]
table = "users; drop table users"
key = "id"
key_type = "serial"
column = "prefs"
[[targets]]
table = "t"
source_key_column = "user_id"
[[targets.columns]]
name = "x"
type = "varchar"
[[targets.columns]]
name = "x"
type = "text"
default = 5
[[targets.indexes]]
columns = ["nope"]
"#;
        let errors = Recipe::parse(bad).expect_err("bad recipe");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for expected in [
            "name",
            "source.table",
            "source.key_type",
            "targets[0].columns[0].type",
            "targets[0].columns[1].name",
            "targets[0].columns[1].default",
            "targets[0].indexes[0].columns[0]",
        ] {
            assert!(
                fields.contains(&expected),
                "missing {expected} in {errors:?}"
            );
        }
    }

    #[test]
    fn syntax_errors_say_where() {
        let errors = Recipe::parse("name = \"x\"\n[source\n").expect_err("broken toml");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].field.starts_with("line "), "{errors:?}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let errors = Recipe::parse("name = \"x\"\ncolour = \"red\"\n").expect_err("unknown field");
        assert!(errors[0].message.contains("colour"), "{errors:?}");
    }
}
