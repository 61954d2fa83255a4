//! A recipe drafted from a profile (issue 14), as TOML for the operator to
//! read and edit: one per-row target with the scalar paths, one per-entry
//! target for each entry-like object, SQL types from the JSON types seen,
//! `allowed` from small sets of values, `required` where every document has
//! the path. Pure: the profile in, the text out (with what was left out and
//! why); `Recipe::parse` checks it like any other recipe.

use std::collections::BTreeMap;

use super::discover::{EntryObject, PathProfile, Profile, ValueCount};

/// A path (or a value, or an entry key) seen in fewer than this share of
/// the documents that could have it is left out: a stray key or a typo
/// (the backfill counts it as unmapped, or quarantines the value).
pub const RARE_SHARE: f64 = 0.01;
/// A string path whose common values number at most this many gets an
/// `allowed` list (a small closed set reads as an enumeration; five or more,
/// like languages or time zones, as open-ended).
pub const ENUM_MAX: usize = 4;
/// A string path is typed timestamptz / date / uuid when at least this
/// share of its strings have that form.
pub const FORM_SHARE: f64 = 0.99;

/// The source the draft moves.
#[derive(Clone, Debug)]
pub struct DraftSource {
    pub schema: String,
    pub table: String,
    pub key: String,
    pub key_type: String,
    pub column: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    pub name: String,
    pub text: String,
    /// Paths not mapped, each with why.
    pub left_out: Vec<(String, String)>,
}

/// Stats of one scalar field, merged over entries when it is inside them.
#[derive(Clone, Debug, Default)]
struct Field {
    documents: i64,
    strings: i64,
    numbers: i64,
    booleans: i64,
    nulls: i64,
    others: i64,
    integral: i64,
    max_abs: f64,
    timestamps: i64,
    dates: i64,
    uuids: i64,
    values: BTreeMap<String, i64>,
    /// Some path merged here had too many distinct strings to list them.
    values_incomplete: bool,
}

impl Field {
    fn add(&mut self, p: &PathProfile) {
        self.documents += p.documents;
        self.strings += p.count_of("string");
        self.numbers += p.count_of("number");
        self.booleans += p.count_of("boolean");
        self.nulls += p.nulls();
        self.others += p.count_of("object") + p.count_of("array");
        self.integral += p.integral_numbers;
        self.max_abs = self.max_abs.max(p.max_abs_number.unwrap_or(0.0));
        self.timestamps += p.timestamp_strings;
        self.dates += p.date_strings;
        self.uuids += p.uuid_strings;
        match &p.values {
            Some(values) => {
                for v in values {
                    *self.values.entry(v.value.clone()).or_default() += v.documents;
                }
            }
            None if p.count_of("string") > 0 => self.values_incomplete = true,
            None => {}
        }
    }

    /// The SQL type and a note on the JSON types seen.
    fn sql_type(&self) -> &'static str {
        let max = self.strings.max(self.numbers).max(self.booleans);
        let share = |n: i64| n as f64 >= self.strings as f64 * FORM_SHARE;
        if max == 0 {
            "text"
        } else if self.booleans == max {
            "boolean"
        } else if self.numbers == max {
            if self.integral == self.numbers && self.max_abs <= i32::MAX as f64 {
                "integer"
            } else if self.integral == self.numbers && self.max_abs <= 9.0e15 {
                "bigint"
            } else {
                "numeric"
            }
        } else if share(self.timestamps) {
            "timestamptz"
        } else if share(self.dates) {
            "date"
        } else if share(self.uuids) {
            "uuid"
        } else {
            "text"
        }
    }

    /// The common string values, when few enough to be an allowed set.
    fn allowed(&self) -> Option<Vec<String>> {
        if self.values_incomplete || self.sql_type() != "text" || self.strings == 0 {
            return None;
        }
        let floor = self.strings as f64 * RARE_SHARE;
        let common: Vec<String> = self
            .values
            .iter()
            .filter(|(_, n)| **n as f64 >= floor)
            .map(|(v, _)| v.clone())
            .collect();
        (!common.is_empty() && common.len() <= ENUM_MAX).then_some(common)
    }

    fn types_note(&self) -> String {
        let total = self.documents.max(1) as f64;
        let mut parts: Vec<String> = [
            ("string", self.strings),
            ("number", self.numbers),
            ("boolean", self.booleans),
            ("null", self.nulls),
            ("object/array", self.others),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(t, n)| format!("{t} {:.1}%", *n as f64 * 100.0 / total))
        .collect();
        if parts.is_empty() {
            parts.push("no values".into());
        }
        parts.join(", ")
    }
}

/// A plain identifier made of `raw` (lower case, `_` for anything else,
/// not starting with a digit, at most 63 bytes).
pub fn ident_from(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert_str(0, "c_");
    }
    s.truncate(63);
    s
}

fn singular(word: &str) -> String {
    if let Some(stem) = word.strip_suffix("ies").filter(|s| s.len() >= 2) {
        format!("{stem}y")
    } else if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_string()
    } else {
        word.to_string()
    }
}

/// A name not in `taken` (adds `_2`, `_3`…), recorded as taken.
fn unique(base: String, taken: &mut Vec<String>) -> String {
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        let suffix = format!("_{n}");
        name = format!("{}{suffix}", &base[..base.len().min(63 - suffix.len())]);
        n += 1;
    }
    taken.push(name.clone());
    name
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn percent(n: i64, of: i64) -> String {
    format!("{:.1}%", n as f64 * 100.0 / of.max(1) as f64)
}

/// Whether every key of `path` can be written in a recipe's path.
fn plain_path(path: &[String]) -> bool {
    path.iter().all(|seg| {
        !seg.is_empty()
            && seg.len() <= 63
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

/// The migration name drafted for a source: `table-column` as a slug.
pub fn name_for(src: &DraftSource) -> String {
    let mut name: String = format!("{}-{}", src.table, src.column)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_string();
    name.truncate(40);
    let name = name.trim_end_matches('-').to_string();
    if name.is_empty() {
        "migration".into()
    } else {
        name
    }
}

/// The recipe drafted from `profile` for `src`.
pub fn draft(src: &DraftSource, profile: &Profile) -> Draft {
    let objects = profile.objects.max(1);
    let mut left_out: Vec<(String, String)> = Vec::new();
    let entries: Vec<&EntryObject> = profile.entry_objects.iter().collect();
    let under_entries = |p: &PathProfile| {
        entries
            .iter()
            .any(|e| p.path.len() > e.path.len() && p.path.starts_with(&e.path))
    };
    let is_entry = |p: &PathProfile| entries.iter().any(|e| e.path == p.path);
    let by_path: BTreeMap<&[String], &PathProfile> = profile
        .paths
        .iter()
        .map(|p| (p.path.as_slice(), p))
        .collect();
    // Every ancestor mostly an object (else the path overlaps a scalar).
    let ancestors_are_objects = |p: &PathProfile| {
        (1..p.path.len()).all(|n| {
            by_path
                .get(&p.path[..n])
                .is_some_and(|a| a.dominant_type() == Some("object"))
        })
    };

    let singular_table = singular(&src.table);
    let source_key_column = if src.key.starts_with(&singular_table) {
        ident_from(&src.key)
    } else {
        ident_from(&format!("{singular_table}_{}", src.key))
    };
    let mut tables: Vec<String> = vec![src.table.clone()];
    let mut out = String::new();
    let name = name_for(src);
    out.push_str(&format!(
        "# Drafted by Switchyard from {} document(s) of {}.{}.{}{}.\n\
         # Read it, name things as your team would, add defaults and indexes.\n",
        profile.rows,
        src.schema,
        src.table,
        src.column,
        match profile.sample_percent {
            Some(p) => format!(" (a {p}% sample)"),
            None => String::new(),
        }
    ));
    out.push_str(&format!("name = {}\n", quote(&name)));
    out.push_str(&format!(
        "title = {}\n",
        quote(&format!("Move {}.{} to tables", src.table, src.column))
    ));
    out.push_str("soak_hours = 24.0\ntarget_batch_ms = 200\ninitial_batch_size = 1000\n\n");
    out.push_str("[source]\n");
    out.push_str(&format!("schema = {}\n", quote(&src.schema)));
    out.push_str(&format!("table = {}\n", quote(&src.table)));
    out.push_str(&format!("key = {}\n", quote(&src.key)));
    out.push_str(&format!("key_type = {}\n", quote(&src.key_type)));
    out.push_str(&format!("column = {}\n", quote(&src.column)));

    // Per row: the scalar paths outside entry objects.
    let mut row_columns: Vec<(Vec<String>, Field)> = Vec::new();
    for p in &profile.paths {
        if under_entries(p) || is_entry(p) {
            continue;
        }
        let dotted = p.dotted();
        if !plain_path(&p.path) {
            left_out.push((
                dotted,
                "a key with characters a recipe path cannot hold (letters, digits, _ and - only)"
                    .into(),
            ));
            continue;
        }
        match p.dominant_type() {
            Some("object") => continue,
            Some("array") => {
                left_out.push((dotted, "arrays are not mapped to columns".into()));
                continue;
            }
            None => {
                left_out.push((dotted, "only JSON null was seen".into()));
                continue;
            }
            _ => {}
        }
        if (p.documents as f64) < objects as f64 * RARE_SHARE {
            left_out.push((
                dotted,
                format!(
                    "in {} of the documents only: a stray key?",
                    percent(p.documents, objects)
                ),
            ));
            continue;
        }
        if !ancestors_are_objects(p) {
            left_out.push((dotted, "inside a value that is mostly not an object".into()));
            continue;
        }
        let mut f = Field::default();
        f.add(p);
        row_columns.push((p.path.clone(), f));
    }
    if !row_columns.is_empty() {
        let table = unique(
            ident_from(&format!("{singular_table}_{}", src.column)),
            &mut tables,
        );
        out.push_str(&format!(
            "\n# One row per {} row.\n[[targets]]\ntable = {}\nkind = \"per_row\"\nsource_key_column = {}\n",
            src.table,
            quote(&table),
            quote(&source_key_column)
        ));
        let mut names = vec![source_key_column.clone()];
        for (path, f) in &row_columns {
            write_column(&mut out, path, f, objects, &mut names);
        }
    }

    // Per entry: each entry-like object.
    for e in &entries {
        let depth = e.path.len();
        if !plain_path(&e.path) {
            left_out.push((
                e.dotted(),
                "a key with characters a recipe path cannot hold (letters, digits, _ and - only)"
                    .into(),
            ));
            continue;
        }
        let parent_docs = by_path
            .get(e.path.as_slice())
            .map(|p| p.documents)
            .unwrap_or(0);
        let floor = parent_docs as f64 * RARE_SHARE;
        // Entries keyed by data (SKUs, ids: many keys) are all kept; a few
        // named keys (channels) drop the stray ones.
        let keyed_by_data = e.keys.len() as i64 > super::discover::LOW_CARDINALITY;
        let (common, rare): (Vec<&ValueCount>, Vec<&ValueCount>) = e
            .keys
            .iter()
            .partition(|k| keyed_by_data || k.documents as f64 >= floor);
        for k in rare {
            left_out.push((
                format!("{}.{}", e.dotted(), k.value),
                format!(
                    "an entry in {} of the documents only: a stray key?",
                    percent(k.documents, parent_docs)
                ),
            ));
        }
        let entry_count: i64 = common.iter().map(|k| k.documents).sum();
        let mut fields: BTreeMap<Vec<String>, Field> = BTreeMap::new();
        for p in &profile.paths {
            let inside = p.path.len() > depth + 1
                && p.path.starts_with(&e.path)
                && common.iter().any(|k| k.value == p.path[depth]);
            if !inside || matches!(p.dominant_type(), Some("object") | None) {
                continue;
            }
            fields
                .entry(p.path[depth + 1..].to_vec())
                .or_default()
                .add(p);
        }
        let last = e.path.last().cloned().unwrap_or_default();
        let table = unique(
            ident_from(&format!("{}_{}", singular(&last), src.column)),
            &mut tables,
        );
        let key_column = ident_from(&format!("{}_key", singular(&last)));
        out.push_str(&format!(
            "\n# One row per {} row and entry of `{}` ({} entries seen).\n[[targets]]\ntable = {}\nkind = \"per_entry\"\nentries = {}\nsource_key_column = {}\nentry_key_column = {}\n",
            src.table,
            e.dotted(),
            entry_count,
            quote(&table),
            quote(&e.dotted()),
            quote(&source_key_column),
            quote(&key_column),
        ));
        if common.len() as i64 <= super::discover::LOW_CARDINALITY {
            let mut keys: Vec<String> = common.iter().map(|k| quote(&k.value)).collect();
            keys.sort();
            out.push_str(&format!("entry_key_allowed = [{}]\n", keys.join(", ")));
        }
        let mut names = vec![source_key_column.clone(), key_column];
        for (rel, f) in &fields {
            let dotted = format!("{}.*.{}", e.dotted(), rel.join("."));
            if !plain_path(rel) {
                left_out.push((
                    dotted,
                    "a key with characters a recipe path cannot hold".into(),
                ));
                continue;
            }
            if f.others > f.strings + f.numbers + f.booleans {
                left_out.push((dotted, "arrays are not mapped to columns".into()));
                continue;
            }
            if (f.documents as f64) < entry_count as f64 * RARE_SHARE {
                left_out.push((
                    dotted,
                    format!(
                        "in {} of the entries only: a stray key?",
                        percent(f.documents, entry_count)
                    ),
                ));
                continue;
            }
            write_column(&mut out, rel, f, entry_count, &mut names);
        }
    }
    Draft {
        name,
        text: out,
        left_out,
    }
}

/// One `[[targets.columns]]` for `path` (relative to the document or the
/// entry), seen as `f` in `of` documents (or entries).
fn write_column(out: &mut String, path: &[String], f: &Field, of: i64, names: &mut Vec<String>) {
    let name = unique(ident_from(&path.join("_")), names);
    let dotted = path.join(".");
    out.push_str(&format!(
        "\n# in {} ({}){}\n[[targets.columns]]\nname = {}\n",
        percent(f.documents, of),
        f.types_note(),
        if f.nulls > 0 {
            format!("; {} null", f.nulls)
        } else {
            String::new()
        },
        quote(&name)
    ));
    if dotted != name {
        out.push_str(&format!("path = {}\n", quote(&dotted)));
    }
    out.push_str(&format!("type = {}\n", quote(f.sql_type())));
    if f.documents >= of && f.nulls == 0 {
        out.push_str("required = true\n");
    }
    if let Some(allowed) = f.allowed() {
        let list: Vec<String> = allowed.iter().map(|v| quote(v)).collect();
        out.push_str(&format!("allowed = [{}]\n", list.join(", ")));
    }
}
