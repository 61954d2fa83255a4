//! SQL generated from a recipe. Identifiers come from `Ident` (always
//! quoted), values from `literal` (always escaped); nothing is pasted.
//!
//! Mapping of one document happens in a single statement whose first CTE
//! evaluates each document once (the reason it cannot be mapped, or NULL);
//! the backfill, the dual-write trigger and the capture drain all reuse it.

use super::ident::{literal, path_literal};
use super::recipe::{Column, DefaultValue, Recipe, SqlType, Target, TargetKind};

/// Names of the objects the engine creates for one recipe.
pub struct Names {
    pub slug: String,
}

impl Names {
    pub fn new(recipe: &Recipe) -> Self {
        Names {
            slug: recipe.slug_ident(),
        }
    }
    fn obj(&self, suffix: &str) -> String {
        // Validated slug (a-z0-9_) plus a fixed suffix: safe to quote as is.
        format!("\"sy_{}_{}\"", self.slug, suffix)
    }
    pub fn remap_fn(&self) -> String {
        format!("switchyard.{}", self.obj("remap"))
    }
    pub fn capture_fn(&self) -> String {
        format!("switchyard.{}", self.obj("capture"))
    }
    pub fn dual_write_fn(&self) -> String {
        format!("switchyard.{}", self.obj("dual_write"))
    }
    pub fn reverse_fn(&self, target: &Target) -> String {
        format!(
            "switchyard.\"sy_{}_reverse_{}\"",
            self.slug,
            target.table.as_str()
        )
    }
    pub fn capture_trigger(&self) -> String {
        self.obj("capture")
    }
    pub fn dual_write_trigger(&self) -> String {
        self.obj("dual_write")
    }
    pub fn reverse_trigger(&self) -> String {
        self.obj("reverse")
    }
    pub fn contract_fn(&self, target: &Target) -> String {
        format!(
            "switchyard.\"sy_{}_contract_{}\"",
            self.slug,
            target.table.as_str()
        )
    }
    pub fn contract_trigger(&self) -> String {
        self.obj("contract")
    }
    pub fn fk(&self, target: &Target) -> String {
        format!(
            "\"{}_{}_fk\"",
            target.table.as_str(),
            target.source_key_column.as_str()
        )
    }
    pub fn backup_table(&self) -> String {
        format!("switchyard.{}", self.obj("backup"))
    }
}

pub fn source_table(r: &Recipe) -> String {
    format!("{}.{}", r.source.schema, r.source.table)
}

pub fn target_table(r: &Recipe, t: &Target) -> String {
    format!("{}.{}", r.source.schema, t.table)
}

fn path_text(path: &[String]) -> String {
    path.join(".")
}

/// `CREATE TABLE` for a target, with checks mirroring the recipe's rules.
pub fn create_target(r: &Recipe, t: &Target) -> String {
    let mut cols = vec![format!(
        "    {} {} NOT NULL",
        t.source_key_column,
        r.source.key_type.sql()
    )];
    let mut pk = vec![t.source_key_column.to_string()];
    if let TargetKind::PerEntry {
        key_column,
        key_allowed,
        ..
    } = &t.kind
    {
        let check = if key_allowed.is_empty() {
            String::new()
        } else {
            format!(" CHECK ({} IN ({}))", key_column, list(key_allowed))
        };
        cols.push(format!("    {key_column} text NOT NULL{check}"));
        pk.push(key_column.to_string());
    }
    for c in &t.columns {
        let not_null = if c.required || c.default.is_some() {
            " NOT NULL"
        } else {
            ""
        };
        let default = c
            .default
            .as_ref()
            .map(|d| format!(" DEFAULT {}", default_sql(c.ty, d)))
            .unwrap_or_default();
        let check = if c.allowed.is_empty() {
            String::new()
        } else {
            format!(" CHECK ({} IN ({}))", c.name, list(&c.allowed))
        };
        cols.push(format!(
            "    {} {}{not_null}{default}{check}",
            c.name,
            c.ty.sql()
        ));
    }
    cols.push(format!("    PRIMARY KEY ({})", pk.join(", ")));
    format!(
        "CREATE TABLE {} (\n{}\n)",
        target_table(r, t),
        cols.join(",\n")
    )
}

fn list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| literal(v))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn default_sql(ty: SqlType, d: &DefaultValue) -> String {
    let raw = match d {
        DefaultValue::Text(s) => literal(s),
        DefaultValue::Bool(b) => b.to_string(),
        DefaultValue::Int(i) => i.to_string(),
        DefaultValue::Float(f) => format!("{f:?}"),
    };
    format!("{raw}::{}", ty.sql())
}

/// Why the value at `v` (a jsonb expression) cannot go into column `c`, or NULL.
fn column_check(c: &Column, v: &str, label: &str) -> String {
    let text = format!("({v} #>> '{{}}')");
    let mut arms = Vec::new();
    let missing = if c.required {
        literal(&format!("{label}: required key is missing"))
    } else {
        "NULL".into()
    };
    arms.push(format!(
        "WHEN {v} IS NULL OR {v} = 'null'::jsonb THEN {missing}"
    ));
    arms.push(format!(
        "WHEN jsonb_typeof({v}) <> {jt} THEN {} || jsonb_typeof({v})",
        literal(&format!("{label}: expected {}, got ", c.ty.json_type())),
        jt = literal(c.ty.json_type())
    ));
    if let Some((lo, hi)) = c.ty.int_range() {
        arms.push(format!(
            "WHEN {text} !~ '^-?[0-9]{{1,19}}$' OR {text}::numeric NOT BETWEEN {lo} AND {hi} THEN {} || {text}",
            literal(&format!("{label}: not a valid {}: ", c.ty.sql()))
        ));
    }
    match c.ty {
        SqlType::Timestamptz | SqlType::Date | SqlType::Uuid => arms.push(format!(
            "WHEN switchyard.try_cast({text}, {}) IS NOT TRUE THEN {} || {text}",
            literal(c.ty.sql()),
            literal(&format!("{label}: not a valid {}: ", c.ty.sql()))
        )),
        _ => {}
    }
    if !c.allowed.is_empty() {
        arms.push(format!(
            "WHEN {text} NOT IN ({}) THEN {} || {text} || {}",
            list(&c.allowed),
            literal(&format!("{label}: value ")),
            literal(" is not allowed")
        ));
    }
    format!("CASE {} ELSE NULL END", arms.join(" "))
}

/// The value a column gets from jsonb expression `v` (already checked).
fn column_value(c: &Column, v: &str) -> String {
    let cast = format!("({v} #>> '{{}}')::{}", c.ty.sql());
    match &c.default {
        Some(d) => format!("coalesce({cast}, {})", default_sql(c.ty, d)),
        None => cast,
    }
}

fn jpath(base: &str, path: &[String]) -> String {
    format!("({base} #> {})", path_literal(path))
}

/// The entries object of a per-entry target, `{}` when absent.
fn entries_of(doc: &str, path: &[String]) -> String {
    let v = jpath(doc, path);
    format!("(CASE WHEN jsonb_typeof({v}) = 'object' THEN {v} ELSE '{{}}'::jsonb END)")
}

/// Why document `d` cannot be mapped, or NULL.
pub fn reason_expr(r: &Recipe, d: &str) -> String {
    let mut checks = Vec::new();
    for t in &r.targets {
        match &t.kind {
            TargetKind::PerRow => {
                for c in &t.columns {
                    checks.push(column_check(c, &jpath(d, &c.path), &path_text(&c.path)));
                }
            }
            TargetKind::PerEntry {
                path, key_allowed, ..
            } => {
                let p = path_text(path);
                let v = jpath(d, path);
                checks.push(format!(
                    "CASE WHEN {v} IS NOT NULL AND jsonb_typeof({v}) NOT IN ('object', 'null') THEN {} || jsonb_typeof({v}) END",
                    literal(&format!("{p}: expected object, got "))
                ));
                let mut entry_checks = Vec::new();
                if !key_allowed.is_empty() {
                    entry_checks.push(format!(
                        "CASE WHEN e.key NOT IN ({}) THEN {} || e.key || {} END",
                        list(key_allowed),
                        literal(&format!("{p}: entry ")),
                        literal(" is not allowed")
                    ));
                }
                entry_checks.push(format!(
                    "CASE WHEN jsonb_typeof(e.value) <> 'object' THEN {} || e.key || {} || jsonb_typeof(e.value) END",
                    literal(&format!("{p}.")),
                    literal(": expected object, got ")
                ));
                for c in &t.columns {
                    let check = column_check(c, &jpath("e.value", &c.path), "§");
                    // Put the entry key into the message: '§' marks where.
                    entry_checks.push(format!(
                        "replace({check}, '§', {} || e.key || {})",
                        literal(&format!("{p}.")),
                        literal(&format!(".{}", path_text(&c.path)))
                    ));
                }
                checks.push(format!(
                    "(SELECT x.r FROM (SELECT coalesce({}) AS r FROM jsonb_each({}) AS e) x WHERE x.r IS NOT NULL LIMIT 1)",
                    entry_checks.join(", "),
                    entries_of(d, path)
                ));
            }
        }
    }
    format!(
        "CASE WHEN {d} IS NULL THEN 'document is SQL NULL' \
         WHEN jsonb_typeof({d}) <> 'object' THEN 'document is ' || jsonb_typeof({d}) || ', expected an object' \
         ELSE coalesce({}) END",
        checks.join(",\n        ")
    )
}

/// One statement that maps every source row matching `filter` (over alias
/// `s`): valid documents are upserted into every target, the others are
/// quarantined with their reason. With `count_unmapped`, keys mapped nowhere
/// are added to `switchyard.unmapped_keys`. Returns one row:
/// (rows, quarantined, last_key::text).
pub fn map_statement(r: &Recipe, filter: &str, count_unmapped: bool) -> String {
    map_statement_locking(r, filter, count_unmapped, false)
}

/// As `map_statement`; with `lock_rows`, the batch's source rows are locked
/// FOR KEY SHARE first, so a concurrent delete waits for the batch instead of
/// failing its foreign keys (document updates are not blocked).
pub fn map_statement_locking(
    r: &Recipe,
    filter: &str,
    count_unmapped: bool,
    lock_rows: bool,
) -> String {
    let key = &r.source.key;
    let col = &r.source.column;
    let name = literal(&r.name);
    let mut ctes = vec![format!(
        "src AS MATERIALIZED (\n  SELECT s.{key} AS k, s.{col} AS d, {} AS reason\n  FROM {} s WHERE {filter}{}\n)",
        reason_expr(r, &format!("s.{col}")),
        source_table(r),
        if lock_rows { "\n  FOR KEY SHARE OF s" } else { "" }
    )];
    ctes.push(format!(
        "q AS (\n  INSERT INTO switchyard.quarantine (migration_name, source_key, reason, document)\n  \
         SELECT {name}, k::text, reason, d FROM src WHERE reason IS NOT NULL\n  \
         ON CONFLICT (migration_name, source_key) DO UPDATE\n    \
         SET reason = EXCLUDED.reason, document = EXCLUDED.document, quarantined_at = now()\n  RETURNING 1\n)"
    ));
    for (i, t) in r.targets.iter().enumerate() {
        let table = target_table(r, t);
        let kc = &t.source_key_column;
        let names: Vec<String> = t.columns.iter().map(|c| c.name.to_string()).collect();
        let updates: Vec<String> = names
            .iter()
            .map(|n| format!("{n} = EXCLUDED.{n}"))
            .collect();
        let on_conflict = |keys: &str| {
            if updates.is_empty() {
                format!("ON CONFLICT ({keys}) DO NOTHING")
            } else {
                format!("ON CONFLICT ({keys}) DO UPDATE SET {}", updates.join(", "))
            }
        };
        match &t.kind {
            TargetKind::PerRow => {
                let values: Vec<String> = t
                    .columns
                    .iter()
                    .map(|c| column_value(c, &jpath("d", &c.path)))
                    .collect();
                ctes.push(format!(
                    "t{i} AS (\n  INSERT INTO {table} ({kc}, {})\n  SELECT k, {} FROM src WHERE reason IS NULL\n  {}\n  RETURNING 1\n)",
                    names.join(", "),
                    values.join(", "),
                    on_conflict(&kc.to_string())
                ));
            }
            TargetKind::PerEntry {
                path, key_column, ..
            } => {
                let values: Vec<String> = t
                    .columns
                    .iter()
                    .map(|c| column_value(c, &jpath("e.value", &c.path)))
                    .collect();
                ctes.push(format!(
                    "t{i} AS (\n  INSERT INTO {table} ({kc}, {key_column}, {})\n  SELECT k, e.key, {} FROM src CROSS JOIN LATERAL jsonb_each({}) AS e\n  WHERE reason IS NULL\n  {}\n  RETURNING 1\n)",
                    names.join(", "),
                    values.join(", "),
                    entries_of("d", path),
                    on_conflict(&format!("{kc}, {key_column}"))
                ));
            }
        }
    }
    if count_unmapped {
        let mut top: Vec<String> = r
            .targets
            .iter()
            .flat_map(|t| match &t.kind {
                TargetKind::PerRow => t.columns.iter().map(|c| c.path[0].clone()).collect(),
                TargetKind::PerEntry { path, .. } => vec![path[0].clone()],
            })
            .collect();
        top.sort();
        top.dedup();
        let mut parts = vec![format!(
            "SELECT k.key AS path FROM src CROSS JOIN LATERAL jsonb_object_keys(CASE WHEN jsonb_typeof(d) = 'object' THEN d ELSE '{{}}'::jsonb END) AS k(key) WHERE reason IS NULL AND k.key NOT IN ({})",
            list(&top)
        )];
        for t in &r.targets {
            if let TargetKind::PerEntry { path, .. } = &t.kind {
                let mut inner: Vec<String> = t.columns.iter().map(|c| c.path[0].clone()).collect();
                inner.sort();
                inner.dedup();
                parts.push(format!(
                    "SELECT {} || '.*.' || k.key FROM src CROSS JOIN LATERAL jsonb_each({}) AS e CROSS JOIN LATERAL jsonb_object_keys(CASE WHEN jsonb_typeof(e.value) = 'object' THEN e.value ELSE '{{}}'::jsonb END) AS k(key) WHERE reason IS NULL AND k.key NOT IN ({})",
                    literal(&path_text(path)),
                    entries_of("d", path),
                    list(&inner)
                ));
            }
        }
        ctes.push(format!(
            "u AS (\n  INSERT INTO switchyard.unmapped_keys (migration_name, key_path, documents)\n  SELECT {name}, path, count(*) FROM ({}) AS x GROUP BY path\n  ON CONFLICT (migration_name, key_path) DO UPDATE SET documents = switchyard.unmapped_keys.documents + EXCLUDED.documents\n  RETURNING 1\n)",
            parts.join("\n  UNION ALL ")
        ));
    }
    let touch: Vec<String> = (0..r.targets.len())
        .map(|i| format!("(SELECT count(*) FROM t{i})"))
        .chain(count_unmapped.then(|| "(SELECT count(*) FROM u)".to_string()))
        .collect();
    format!(
        "WITH {}\nSELECT (SELECT count(*) FROM src) AS rows, (SELECT count(*) FROM q) AS quarantined, (SELECT k::text FROM src ORDER BY k DESC LIMIT 1) AS last_key, {} AS written",
        ctes.join(",\n"),
        touch.join(" + ")
    )
}

/// `keys` filter for the key array parameter of the remap function.
fn key_array_type(r: &Recipe) -> String {
    format!("{}[]", r.source.key_type.sql())
}

/// The full re-map of a set of keys: targets deleted, then rebuilt from the
/// current document (or the document quarantined). Used by the dual-write
/// trigger and to drain the capture log. Rows are locked in key order first
/// so a concurrent writer and the drain never interleave on one key.
pub fn create_remap_fn(r: &Recipe, n: &Names) -> String {
    let key = &r.source.key;
    let mut body = vec![format!(
        "PERFORM 1 FROM {} s WHERE s.{key} = ANY(keys) ORDER BY s.{key} FOR UPDATE;",
        source_table(r)
    )];
    for t in &r.targets {
        body.push(format!(
            "DELETE FROM {} WHERE {} = ANY(keys);",
            target_table(r, t),
            t.source_key_column
        ));
    }
    body.push(format!(
        "DELETE FROM switchyard.quarantine WHERE migration_name = {} AND source_key = ANY(keys::text[]);",
        literal(&r.name)
    ));
    // A data-modifying WITH must be a top-level statement: SELECT ... INTO.
    body.push(format!(
        "{} INTO mapped;",
        map_statement(r, &format!("s.{key} = ANY(keys)"), false)
    ));
    format!(
        "CREATE OR REPLACE FUNCTION {}(keys {}) RETURNS void\nLANGUAGE plpgsql AS $sy$\nDECLARE mapped record;\nBEGIN\n{}\nEND;\n$sy$",
        n.remap_fn(),
        key_array_type(r),
        body.join("\n")
    )
}

/// Phase 1's capture: remember the key of every write to the source column.
pub fn create_capture_fn(r: &Recipe, n: &Names) -> String {
    let key = &r.source.key;
    let name = literal(&r.name);
    format!(
        "CREATE OR REPLACE FUNCTION {}() RETURNS trigger\nLANGUAGE plpgsql AS $sy$\nBEGIN\n\
         IF TG_OP IN ('UPDATE', 'DELETE') THEN\n  INSERT INTO switchyard.capture_log (migration_name, source_key) VALUES ({name}, OLD.{key}::text);\nEND IF;\n\
         IF TG_OP IN ('INSERT', 'UPDATE') THEN\n  INSERT INTO switchyard.capture_log (migration_name, source_key) VALUES ({name}, NEW.{key}::text);\nEND IF;\n\
         RETURN NULL;\nEND;\n$sy$",
        n.capture_fn()
    )
}

pub fn create_capture_trigger(r: &Recipe, n: &Names) -> String {
    format!(
        "CREATE TRIGGER {} AFTER INSERT OR UPDATE OF {}, {} OR DELETE ON {} FOR EACH ROW EXECUTE FUNCTION {}()",
        n.capture_trigger(),
        r.source.column,
        r.source.key,
        source_table(r),
        n.capture_fn()
    )
}

/// Phase 3's dual-write: every write to the source column re-maps the row
/// in the same transaction. Skipped while a reverse sync (phase 4) writes.
pub fn create_dual_write_fn(r: &Recipe, n: &Names) -> String {
    let key = &r.source.key;
    let kt = key_array_type(r);
    format!(
        "CREATE OR REPLACE FUNCTION {}() RETURNS trigger\nLANGUAGE plpgsql AS $sy$\nBEGIN\n\
         IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;\n\
         PERFORM set_config('switchyard.syncing', 'on', true);\n\
         IF TG_OP = 'INSERT' THEN PERFORM {f}(ARRAY[NEW.{key}]::{kt});\n\
         ELSIF TG_OP = 'DELETE' THEN PERFORM {f}(ARRAY[OLD.{key}]::{kt});\n\
         ELSE PERFORM {f}(ARRAY[OLD.{key}, NEW.{key}]::{kt}); END IF;\n\
         PERFORM set_config('switchyard.syncing', 'off', true);\n\
         RETURN NULL;\nEND;\n$sy$",
        n.dual_write_fn(),
        f = n.remap_fn()
    )
}

pub fn create_dual_write_trigger(r: &Recipe, n: &Names) -> String {
    format!(
        "CREATE TRIGGER {} AFTER INSERT OR UPDATE OF {}, {} OR DELETE ON {} FOR EACH ROW EXECUTE FUNCTION {}()",
        n.dual_write_trigger(),
        r.source.column,
        r.source.key,
        source_table(r),
        n.dual_write_fn()
    )
}

/// A jsonb object built from (path, value) pairs, nesting shared prefixes.
fn build_object(pairs: &[(Vec<String>, String)]) -> String {
    let mut firsts: Vec<&String> = pairs.iter().map(|(p, _)| &p[0]).collect();
    firsts.dedup();
    let mut seen = std::collections::HashSet::new();
    let mut args = Vec::new();
    for first in firsts {
        if !seen.insert(first.clone()) {
            continue;
        }
        let leaf = pairs.iter().find(|(p, _)| p.len() == 1 && &p[0] == first);
        let value = match leaf {
            Some((_, v)) => format!("to_jsonb({v})"),
            None => {
                let nested: Vec<(Vec<String>, String)> = pairs
                    .iter()
                    .filter(|(p, _)| &p[0] == first && p.len() > 1)
                    .map(|(p, v)| (p[1..].to_vec(), v.clone()))
                    .collect();
                build_object(&nested)
            }
        };
        args.push(format!("{}, {value}", literal(first)));
    }
    format!("jsonb_build_object({})", args.join(", "))
}

/// `doc` with the object at `path` merged with `obj` (creating parents).
fn set_path(doc: &str, path: &[String], obj: &str) -> String {
    let mut expr =
        format!("coalesce(CASE WHEN jsonb_typeof({doc}) = 'object' THEN {doc} END, '{{}}'::jsonb)");
    for i in 1..path.len() {
        let prefix = &path[..i];
        expr = format!(
            "jsonb_set({expr}, {p}, coalesce(CASE WHEN jsonb_typeof({expr} #> {p}) = 'object' THEN {expr} #> {p} END, '{{}}'::jsonb))",
            p = path_literal(prefix)
        );
    }
    format!("jsonb_set({expr}, {}, {obj})", path_literal(path))
}

/// Phase 4's reverse sync: a write to a target flows back into the JSONB
/// column so that rolling back stays lossless.
pub fn create_reverse_fn(r: &Recipe, n: &Names, t: &Target) -> String {
    let src = source_table(r);
    let key = &r.source.key;
    let col = &r.source.column;
    let kc = &t.source_key_column;
    let (upsert, delete) = match &t.kind {
        TargetKind::PerRow => {
            let mut set_expr = format!("s.{col}");
            for c in &t.columns {
                set_expr = set_path(&set_expr, &c.path, &format!("to_jsonb(NEW.{})", c.name));
            }
            let mut del_expr = format!("s.{col}");
            for c in &t.columns {
                del_expr = format!("({del_expr} #- {})", path_literal(&c.path));
            }
            (
                format!("UPDATE {src} s SET {col} = {set_expr} WHERE s.{key} = NEW.{kc};"),
                format!("UPDATE {src} s SET {col} = {del_expr} WHERE s.{key} = OLD.{kc};"),
            )
        }
        TargetKind::PerEntry {
            path, key_column, ..
        } => {
            let pairs: Vec<(Vec<String>, String)> = t
                .columns
                .iter()
                .map(|c| (c.path.clone(), format!("NEW.{}", c.name)))
                .collect();
            let obj = build_object(&pairs);
            // The entry's own path is dynamic (its key); build it in SQL.
            let entries = format!(
                "coalesce(CASE WHEN jsonb_typeof(s.{col} #> {p}) = 'object' THEN s.{col} #> {p} END, '{{}}'::jsonb)",
                p = path_literal(path)
            );
            let with_entry = format!("{entries} || jsonb_build_object(NEW.{key_column}, {obj})");
            let without_entry = format!("({entries} - OLD.{key_column})");
            (
                format!(
                    "UPDATE {src} s SET {col} = {} WHERE s.{key} = NEW.{kc};",
                    set_path(&format!("s.{col}"), path, &with_entry)
                ),
                format!(
                    "UPDATE {src} s SET {col} = {} WHERE s.{key} = OLD.{kc};",
                    set_path(&format!("s.{col}"), path, &without_entry)
                ),
            )
        }
    };
    format!(
        "CREATE OR REPLACE FUNCTION {}() RETURNS trigger\nLANGUAGE plpgsql AS $sy$\nBEGIN\n\
         IF current_setting('switchyard.syncing', true) = 'on' THEN RETURN NULL; END IF;\n\
         PERFORM set_config('switchyard.syncing', 'on', true);\n\
         IF TG_OP IN ('UPDATE', 'DELETE') THEN {delete} END IF;\n\
         IF TG_OP IN ('INSERT', 'UPDATE') THEN {upsert} END IF;\n\
         PERFORM set_config('switchyard.syncing', 'off', true);\n\
         RETURN NULL;\nEND;\n$sy$",
        n.reverse_fn(t)
    )
}

pub fn create_reverse_trigger(r: &Recipe, n: &Names, t: &Target) -> String {
    format!(
        "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW EXECUTE FUNCTION {}()",
        n.reverse_trigger(),
        target_table(r, t),
        n.reverse_fn(t)
    )
}

/// Differences between what the targets hold and what the documents in the
/// key range say they should hold. Rows: (key, entry key, expected, actual).
pub fn verify_statement(r: &Recipe, t: &Target, src_filter: &str, tgt_filter: &str) -> String {
    let key = &r.source.key;
    let col = &r.source.column;
    let kc = &t.source_key_column;
    let exp_values: Vec<String>;
    let act_values: Vec<String> = t
        .columns
        .iter()
        .map(|c| format!("to_jsonb(a.{})", c.name))
        .collect();
    let (exp_from, exp_ek, act_ek) = match &t.kind {
        TargetKind::PerRow => {
            exp_values = t
                .columns
                .iter()
                .map(|c| format!("to_jsonb({})", column_value(c, &jpath("d", &c.path))))
                .collect();
            (
                "src".to_string(),
                "NULL::text".to_string(),
                "NULL::text".to_string(),
            )
        }
        TargetKind::PerEntry {
            path, key_column, ..
        } => {
            exp_values = t
                .columns
                .iter()
                .map(|c| format!("to_jsonb({})", column_value(c, &jpath("e.value", &c.path))))
                .collect();
            (
                format!(
                    "src CROSS JOIN LATERAL jsonb_each({}) AS e",
                    entries_of("d", path)
                ),
                "e.key".to_string(),
                format!("a.{key_column}"),
            )
        }
    };
    format!(
        "WITH src AS MATERIALIZED (SELECT s.{key} AS k, s.{col} AS d, {reason} AS reason FROM {st} s WHERE {src_filter}),\n\
         exp AS (SELECT k::text AS key, {exp_ek} AS ek, jsonb_build_array({ev}) AS v FROM {exp_from} WHERE reason IS NULL),\n\
         act AS (SELECT a.{kc}::text AS key, {act_ek} AS ek, jsonb_build_array({av}) AS v FROM {tt} a WHERE {tgt_filter})\n\
         SELECT coalesce(exp.key, act.key) AS key, coalesce(exp.ek, act.ek) AS entry, exp.v AS expected, act.v AS actual\n\
         FROM exp FULL JOIN act ON exp.key = act.key AND exp.ek IS NOT DISTINCT FROM act.ek\n\
         WHERE exp.v IS DISTINCT FROM act.v",
        reason = reason_expr(r, &format!("s.{col}")),
        st = source_table(r),
        ev = exp_values.join(", "),
        av = act_values.join(", "),
        tt = target_table(r, t),
    )
}

/// After phase 5 the reverse sync has no column to write to; this trigger
/// remembers which keys' target rows change, so rolling back phase 5 can
/// replay exactly those into the restored documents.
pub fn create_contract_capture_fn(r: &Recipe, n: &Names, t: &Target) -> String {
    let kc = &t.source_key_column;
    let name = literal(&format!("{}:contract", r.name));
    format!(
        "CREATE OR REPLACE FUNCTION {}() RETURNS trigger\nLANGUAGE plpgsql AS $sy$\nBEGIN\n\
         IF TG_OP IN ('UPDATE', 'DELETE') THEN INSERT INTO switchyard.capture_log (migration_name, source_key) VALUES ({name}, OLD.{kc}::text); END IF;\n\
         IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO switchyard.capture_log (migration_name, source_key) VALUES ({name}, NEW.{kc}::text); END IF;\n\
         RETURN NULL;\nEND;\n$sy$",
        n.contract_fn(t)
    )
}

pub fn create_contract_capture_trigger(r: &Recipe, n: &Names, t: &Target) -> String {
    format!(
        "CREATE OR REPLACE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW EXECUTE FUNCTION {}()",
        n.contract_trigger(),
        target_table(r, t),
        n.contract_fn(t)
    )
}
