//! The table locks a phase takes, read from the very statements it runs
//! (the planner's steps): what the console lists beside each phase's
//! estimate. Only table-level locks that block more than other schema
//! changes are listed; the row locks of batches are not (each batch holds
//! its rows for one short transaction).

use super::step::{Step, Work};
use super::vocab::{LockMode, TableLock};

/// The locks `steps` take on tables, strongest first per table, each with
/// the label of the first step that takes it.
pub fn table_locks(steps: &[Step]) -> Vec<TableLock> {
    let mut found: Vec<TableLock> = Vec::new();
    let mut note = |table: String, mode: LockMode, step: &str| {
        if mode < LockMode::ShareUpdateExclusive {
            return;
        }
        match found.iter_mut().find(|l| l.table == table) {
            Some(known) if known.mode >= mode => {}
            Some(known) => {
                known.mode = mode;
                known.step = step.to_string();
            }
            None => found.push(TableLock {
                table,
                mode,
                step: step.to_string(),
            }),
        }
    };
    for step in steps {
        if let Work::Index(ix) = &step.work {
            note(
                unquote(&ix.table),
                LockMode::ShareUpdateExclusive,
                &step.label,
            );
            continue;
        }
        for sql in step.statements() {
            for (table, mode) in statement_locks(sql) {
                note(table, mode, &step.label);
            }
        }
    }
    found
}

/// The tables one statement locks, and how; empty for statements that take
/// only row locks or lock nothing the application uses (new tables,
/// functions).
pub fn statement_locks(sql: &str) -> Vec<(String, LockMode)> {
    let t = tokens(sql);
    let word = |i: usize| t.get(i).map(|s| s.to_ascii_uppercase()).unwrap_or_default();
    let is = |i: usize, w: &str| word(i) == w;
    // The position after optional words `ws` starting at `i`.
    let skip = |mut i: usize, ws: &[&str]| {
        for w in ws {
            if is(i, w) {
                i += 1;
            }
        }
        i
    };
    let after = |from: usize, w: &str| (from..t.len()).find(|&i| is(i, w)).map(|i| i + 1);
    let name_at = |i: usize| qualified(&t, i);
    match (word(0).as_str(), word(1).as_str()) {
        ("CREATE", _) => {
            let i = skip(1, &["OR", "REPLACE"]);
            let i = skip(i, &["UNIQUE"]);
            if is(i, "TRIGGER") || is(i, "CONSTRAINT") {
                return after(i, "ON")
                    .and_then(name_at)
                    .map(|n| vec![(n, LockMode::ShareRowExclusive)])
                    .unwrap_or_default();
            }
            if is(i, "INDEX") {
                let mode = if is(i + 1, "CONCURRENTLY") {
                    LockMode::ShareUpdateExclusive
                } else {
                    LockMode::Share
                };
                return after(i, "ON")
                    .and_then(|j| name_at(skip(j, &["ONLY"])))
                    .map(|n| vec![(n, mode)])
                    .unwrap_or_default();
            }
            Vec::new()
        }
        ("DROP", "TRIGGER") | ("DROP", "RULE") | ("DROP", "POLICY") => after(2, "ON")
            .and_then(name_at)
            .map(|n| vec![(n, LockMode::AccessExclusive)])
            .unwrap_or_default(),
        ("DROP", "TABLE") => name_at(skip(2, &["IF", "EXISTS"]))
            .map(|n| vec![(n, LockMode::AccessExclusive)])
            .unwrap_or_default(),
        ("TRUNCATE", _) => name_at(skip(1, &["TABLE", "ONLY"]))
            .map(|n| vec![(n, LockMode::AccessExclusive)])
            .unwrap_or_default(),
        ("LOCK", _) => {
            let Some(table) = name_at(skip(1, &["TABLE", "ONLY"])) else {
                return Vec::new();
            };
            let mode = after(1, "IN")
                .map(|i| {
                    (i..t.len())
                        .take_while(|&j| !is(j, "MODE"))
                        .map(word)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .and_then(|m| LockMode::parse(&m))
                .unwrap_or(LockMode::AccessExclusive);
            vec![(table, mode)]
        }
        ("COMMENT", "ON") if is(2, "COLUMN") => name_at(3)
            .and_then(|column| column.rsplit_once('.').map(|(table, _)| table.to_string()))
            .map(|table| vec![(table, LockMode::ShareUpdateExclusive)])
            .unwrap_or_default(),
        ("ALTER", "TABLE") => {
            let i = skip(2, &["IF", "EXISTS"]);
            let i = skip(i, &["ONLY"]);
            let Some(table) = name_at(i) else {
                return Vec::new();
            };
            let rest = i + name_len(&t, i);
            let foreign_key = is(rest, "ADD")
                && is(rest + 1, "CONSTRAINT")
                && after(rest, "FOREIGN").is_some_and(|i| is(i, "KEY"));
            if let Some(r) = after(rest, "REFERENCES").filter(|_| foreign_key) {
                // A foreign key: both tables, against writes.
                let mut locks = vec![(table, LockMode::ShareRowExclusive)];
                locks.extend(name_at(r).map(|n| (n, LockMode::ShareRowExclusive)));
                return locks;
            }
            // Validating a constraint and setting statistics let reads and
            // writes go on; every other ALTER TABLE we run does not.
            let column = skip(rest + 1, &["COLUMN"]);
            let set = column + name_len(&t, column);
            let light = is(rest, "VALIDATE")
                || (is(rest, "ALTER") && is(set, "SET") && is(set + 1, "STATISTICS"));
            let mode = if light {
                LockMode::ShareUpdateExclusive
            } else {
                LockMode::AccessExclusive
            };
            vec![(table, mode)]
        }
        _ => Vec::new(),
    }
}

/// The statement's words and quoted identifiers, in order; quoted ones
/// keep their quotes (so `"on"` is never the keyword ON), punctuation
/// other than `.` is dropped, and so is everything inside string literals.
fn tokens(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut ident = String::from('"');
                while let Some(d) = chars.next() {
                    ident.push(d);
                    if d == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            ident.push('"');
                        } else {
                            break;
                        }
                    }
                }
                out.push(ident);
            }
            '\'' => {
                while let Some(d) = chars.next() {
                    if d == '\'' {
                        if chars.peek() == Some(&'\'') {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for d in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
            }
            '.' => out.push(".".into()),
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let mut word = String::from(c);
                while let Some(&d) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' || d == '$' {
                        word.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(word);
            }
            _ => {}
        }
    }
    out
}

/// How many tokens the (possibly qualified) name at `i` spans.
fn name_len(t: &[String], i: usize) -> usize {
    let mut n = 1;
    while t.get(i + n).map(String::as_str) == Some(".") && t.get(i + n + 1).is_some() {
        n += 2;
    }
    n
}

/// The (possibly qualified) name at `i`, unquoted, parts joined by `.`.
fn qualified(t: &[String], i: usize) -> Option<String> {
    let first = t.get(i)?;
    if first == "." {
        return None;
    }
    let parts: Vec<String> = (0..name_len(t, i))
        .step_by(2)
        .filter_map(|k| t.get(i + k))
        .map(|p| unquote_part(p))
        .collect();
    Some(parts.join("."))
}

/// A (possibly qualified, quoted) name as SQL writes it, unquoted:
/// `"public"."we""ird"` → `public.we"ird`.
fn unquote(name: &str) -> String {
    qualified(&tokens(name), 0).unwrap_or_else(|| name.to_string())
}

/// One identifier token: `"a""b"` → `a"b` (a dot inside quotes stays);
/// a bare word as it is.
fn unquote_part(part: &str) -> String {
    match part.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => part.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Phase, Planner, Recipe};

    fn demo() -> Recipe {
        Recipe::parse(include_str!("../../recipes/user_preferences.toml")).expect("demo")
    }

    fn locks_of(phase: Phase) -> Vec<(String, LockMode)> {
        table_locks(&Planner::new(&demo()).apply(phase))
            .into_iter()
            .map(|l| (l.table, l.mode))
            .collect()
    }

    #[test]
    fn statements_name_the_tables_they_lock() {
        let cases = [
            (
                r#"DROP TRIGGER IF EXISTS "t" ON "public"."users""#,
                vec![("public.users", LockMode::AccessExclusive)],
            ),
            (
                r#"CREATE OR REPLACE TRIGGER "x" AFTER UPDATE ON "s"."we""ird" REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION f()"#,
                vec![("s.we\"ird", LockMode::ShareRowExclusive)],
            ),
            (
                r#"ALTER TABLE "public"."prefs" ADD CONSTRAINT "fk" FOREIGN KEY ("user_id") REFERENCES "public"."users" ("id") ON UPDATE CASCADE NOT VALID"#,
                vec![
                    ("public.prefs", LockMode::ShareRowExclusive),
                    ("public.users", LockMode::ShareRowExclusive),
                ],
            ),
            (
                r#"ALTER TABLE "public"."prefs" VALIDATE CONSTRAINT "fk""#,
                vec![("public.prefs", LockMode::ShareUpdateExclusive)],
            ),
            (
                r#"ALTER TABLE "public"."users" DROP COLUMN IF EXISTS "preferences""#,
                vec![("public.users", LockMode::AccessExclusive)],
            ),
            (
                r#"ALTER TABLE "public"."users" ALTER COLUMN "preferences" SET STATISTICS 500"#,
                vec![("public.users", LockMode::ShareUpdateExclusive)],
            ),
            (
                r#"LOCK TABLE "public"."prefs" IN ROW EXCLUSIVE MODE"#,
                vec![("public.prefs", LockMode::RowExclusive)],
            ),
            (
                r#"COMMENT ON COLUMN "public"."users"."preferences" IS 'on "x" ON y'"#,
                vec![("public.users", LockMode::ShareUpdateExclusive)],
            ),
            (r#"UPDATE "public"."users" SET x = 1"#, vec![]),
            (
                r#"DROP TRIGGER "t" ON "s"."a.b" -- ON "public"."users""#,
                vec![("s.a.b", LockMode::AccessExclusive)],
            ),
            (
                r#"ALTER TABLE "t" ALTER COLUMN "statistics" SET NOT NULL"#,
                vec![("t", LockMode::AccessExclusive)],
            ),
            (
                r#"ALTER TABLE "t" ADD COLUMN "u" bigint REFERENCES "users" ("id")"#,
                vec![("t", LockMode::AccessExclusive)],
            ),
            (
                r#"CREATE TABLE IF NOT EXISTS "public"."new" (id bigint)"#,
                vec![],
            ),
        ];
        for (sql, expected) in cases {
            let expected: Vec<(String, LockMode)> = expected
                .into_iter()
                .map(|(t, m)| (t.to_string(), m))
                .collect();
            assert_eq!(statement_locks(sql), expected, "{sql}");
        }
    }

    #[test]
    fn a_quoted_name_with_a_dot_is_read_whole() {
        assert_eq!(unquote(r#""s"."a.b""#), "s.a.b");
        assert_eq!(unquote(r#""a.b""#), "a.b");
        assert_eq!(unquote(r#""we""ird""#), "we\"ird");
    }

    #[test]
    fn the_demo_phases_lock_what_the_readme_says() {
        let users = || "public.users".to_string();
        // Phase 1: the foreign keys and the capture triggers hold writes
        // back for an instant; nothing blocks reads.
        let p1 = locks_of(Phase::Expand);
        assert!(
            p1.contains(&(users(), LockMode::ShareRowExclusive)),
            "{p1:?}"
        );
        assert!(
            p1.iter().all(|(_, m)| *m < LockMode::AccessExclusive),
            "{p1:?}"
        );
        // Phase 2 takes row locks only.
        assert_eq!(locks_of(Phase::Backfill), vec![]);
        // Phase 3 swaps triggers: dropping one locks the table.
        assert!(locks_of(Phase::DualWrite).contains(&(users(), LockMode::AccessExclusive)));
        // Phase 5 drops the column.
        assert!(locks_of(Phase::Contract).contains(&(users(), LockMode::AccessExclusive)));
    }
}
