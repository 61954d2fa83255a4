//! Generated recipes, documents and target writes for the proof suite. A
//! case is a seed: proptest picks seeds, a failure names the seed, and the
//! same seed rebuilds the same case.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchyard::engine::recipe::{KeyType, Recipe, SqlType, TargetKind};

use super::model::{hyphenate, TVal, J};

pub struct Gen(pub StdRng);

impl Gen {
    pub fn new(seed: u64) -> Self {
        Gen(StdRng::seed_from_u64(seed))
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.0.random_bool(p)
    }
    pub fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n.max(1))
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const ALLOWED: [&str; 4] = ["red", "green", "it's $sy$ \\ \"q\"", "ünï 🚀"];
const ENTRY_KEYS: [&str; 4] = ["x", "y", "z", "w"];

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A recipe of the whole supported shape: 1-3 targets, per-row and
/// per-entry, up to 20 columns, nested paths, every type, optional /
/// required / default / allowed.
pub fn recipe(g: &mut Gen, name: &str, schema: &str) -> Recipe {
    let key_type = *g.pick(&["bigint", "integer", "uuid"]);
    let mut t = format!(
        "name = \"{name}\"\nsoak_hours = 0.0\ninitial_batch_size = {}\n[source]\nschema = \"{schema}\"\ntable = \"src\"\nkey = \"id\"\nkey_type = \"{key_type}\"\ncolumn = \"doc\"\n",
        1 + g.below(7)
    );
    let targets = 1 + g.below(3);
    let mut col = 0;
    for ti in 0..targets {
        let per_entry = g.chance(0.4);
        t.push_str(&format!(
            "[[targets]]\ntable = \"t{ti}\"\nkind = \"{}\"\nsource_key_column = \"src_id\"\n",
            if per_entry { "per_entry" } else { "per_row" }
        ));
        if per_entry {
            t.push_str(&format!(
                "entries = \"e{ti}\"\nentry_key_column = \"entry_key\"\n"
            ));
            if g.chance(0.5) {
                t.push_str("entry_key_allowed = [\"x\", \"y\", \"z\"]\n");
            }
        }
        let cols = 1 + g.below(6.min(20 - col));
        for _ in 0..cols {
            let ty = g.pick(&SqlType::ALL).sql();
            let depth = 1 + g.below(3);
            let mids: &[&str] = if per_entry { &["f", "g"] } else { &["p", "q"] };
            let mut path: Vec<String> = (1..depth).map(|_| g.pick(mids).to_string()).collect();
            path.push(format!("c{col}"));
            t.push_str(&format!(
                "[[targets.columns]]\nname = \"c{col}\"\npath = \"{}\"\ntype = \"{ty}\"\n",
                path.join(".")
            ));
            let allowed = ty == "text" && g.chance(0.3);
            if allowed {
                let list: Vec<String> = ALLOWED.iter().map(|a| toml_str(a)).collect();
                t.push_str(&format!("allowed = [{}]\n", list.join(", ")));
            }
            if g.chance(0.25) {
                t.push_str("required = true\n");
            } else if g.chance(0.35) {
                let d = match ty {
                    "text" if allowed => toml_str(ALLOWED[0]),
                    "text" => toml_str("dflt"),
                    "boolean" => "true".into(),
                    "smallint" | "integer" | "bigint" => "7".into(),
                    "numeric" => "2.5".into(),
                    "double precision" => "0.25".into(),
                    "timestamptz" => toml_str("2020-01-01 00:00:00Z"),
                    "date" => toml_str("2020-01-01"),
                    _ => toml_str("00000000-0000-0000-0000-000000000001"),
                };
                t.push_str(&format!("default = {d}\n"));
            }
            col += 1;
        }
        if col >= 20 {
            break;
        }
    }
    Recipe::parse(&t).unwrap_or_else(|e| panic!("generated recipe is invalid: {e:?}\n{t}"))
}

pub fn key(g: &mut Gen, kt: KeyType, n: i64) -> String {
    match kt {
        KeyType::Uuid => format!("{:08x}-0000-4000-8000-{:012x}", n, g.below(1 << 30)),
        KeyType::Integer => match n {
            0 => i32::MIN.to_string(),
            _ => (n * 3 - 1000).to_string(),
        },
        KeyType::BigInt => match n {
            0 => i64::MIN.to_string(),
            _ => (n * 7 - 5000).to_string(),
        },
    }
}

fn num(s: impl AsRef<str>) -> J {
    J::Num(s.as_ref().to_string())
}

fn text_value(g: &mut Gen) -> String {
    match g.below(8) {
        0 => String::new(),
        1 => "plain".into(),
        2 => "it's".into(),
        3 => "back\\slash \"quoted\"".into(),
        4 => "$sy$; DROP TABLE x; --".into(),
        5 => "ünïcødé 🚀 ключ".into(),
        6 => "long ".repeat(60),
        _ => format!("v{}", g.below(1000)),
    }
}

fn uuid_spelling(g: &mut Gen) -> String {
    let hex: String = (0..32)
        .map(|_| *g.pick(&['0', '7', 'a', 'c', 'f', '3']))
        .collect();
    let canon = hyphenate(&hex);
    match g.below(4) {
        0 => canon,
        1 => canon.to_uppercase(),
        2 => format!("{{{canon}}}"),
        _ => hex,
    }
}

/// A JSON value that column type `ty` (with `allowed`) takes.
fn valid(g: &mut Gen, ty: SqlType, allowed: &[String]) -> J {
    match ty {
        SqlType::Text if !allowed.is_empty() => J::Str(g.pick(allowed).clone()),
        SqlType::Text => J::Str(text_value(g)),
        SqlType::Boolean => J::Bool(g.chance(0.5)),
        SqlType::SmallInt => num(g.pick(&["0", "-0", "1", "-32768", "32767", "1.0", "1e2", "-5"])),
        SqlType::Integer => num(g.pick(&["0", "2147483647", "-2147483648", "1e3", "7.0", "42"])),
        SqlType::BigInt => num(g.pick(&[
            "9223372036854775807",
            "-9223372036854775808",
            "12345678901234",
            "1e18",
            "0",
        ])),
        SqlType::Numeric => num(g.pick(&[
            "0",
            "1.50",
            "-0.0325",
            "1e2",
            "12345678901234567890.123",
            "1E-3",
            "-0",
            "1.50e1",
        ])),
        SqlType::Double => num(g.pick(&[
            "0",
            "0.1",
            "1e-5",
            "-2.5",
            "1.7976931348623157e308",
            "5e-324",
            "0.1000000000000000055511151231257827",
            "123456789012345678",
        ])),
        SqlType::Timestamptz => J::Str(
            g.pick(&[
                "2024-01-02",
                "2024-01-02T03:04:05Z",
                "2024-01-02 03:04:05",
                "2024-06-30T23:59:59.123456+02:00",
                "1999-12-31 23:59:59-05:30",
                "2024-01-02T03:04:05.5Z",
            ])
            .to_string(),
        ),
        SqlType::Date => J::Str(
            g.pick(&["2024-01-02", "1970-01-01", "2000-02-29"])
                .to_string(),
        ),
        SqlType::Uuid => J::Str(uuid_spelling(g)),
    }
}

/// A JSON value column type `ty` must refuse (wrong type, out of range, not
/// allowed, not castable, relative time).
fn invalid(g: &mut Gen, ty: SqlType, allowed: &[String]) -> J {
    match ty {
        SqlType::Text if !allowed.is_empty() && g.chance(0.5) => J::Str("purple".into()),
        SqlType::Text => num("5"),
        SqlType::Boolean => J::Str("true".into()),
        SqlType::SmallInt => num(g.pick(&["1.5", "32768", "-32769"])),
        SqlType::Integer => num(g.pick(&["2147483648", "0.5"])),
        SqlType::BigInt => num(g.pick(&["9223372036854775808", "-9223372036854775809", "1e19"])),
        SqlType::Numeric => J::Str("1.5".into()),
        SqlType::Double => num(g.pick(&["1e309", "-1e400", "1e-400"])),
        SqlType::Timestamptz => J::Str(
            g.pick(&[
                "not a time",
                "2024-13-01 00:00:00",
                "2024-02-30",
                "now",
                "today",
                "tomorrow 10:00",
            ])
            .to_string(),
        ),
        SqlType::Date => J::Str(
            g.pick(&["2024-02-30", "not a date", "yesterday"])
                .to_string(),
        ),
        SqlType::Uuid => J::Str(
            g.pick(&[
                "not-a-uuid",
                "a0eebc99",
                "{a0eebc999c0b4ef8bb6d6bb9bd380a11",
            ])
            .to_string(),
        ),
    }
}

fn column_value(g: &mut Gen, ty: SqlType, allowed: &[String]) -> Option<J> {
    match g.below(20) {
        0..=2 => None,
        3 => Some(J::Null),
        4 => Some(invalid(g, ty, allowed)),
        _ => Some(valid(g, ty, allowed)),
    }
}

fn junk(g: &mut Gen) -> J {
    match g.below(5) {
        0 => J::Arr(vec![num("1"), J::Str("two".into())]),
        1 => num("3"),
        2 => J::Str("string".into()),
        3 => J::Bool(false),
        _ => J::Obj(vec![(
            "deep".into(),
            J::Obj(vec![(
                "deeper".into(),
                J::Obj(vec![("deepest".into(), J::Null)]),
            )]),
        )]),
    }
}

/// A document for recipe `r`: mostly well-formed, sometimes messy or hostile.
pub fn document(g: &mut Gen, r: &Recipe) -> Option<J> {
    match g.below(40) {
        0 => return None,
        1 => return Some(junk(g)),
        2 => return Some(J::Null),
        _ => {}
    }
    let mut doc = J::Obj(Vec::new());
    for t in &r.targets {
        match &t.kind {
            TargetKind::PerRow => {
                for c in &t.columns {
                    if c.path.len() > 1 && g.chance(0.03) {
                        doc = doc.put(&c.path[..1], junk(g));
                        continue;
                    }
                    if let Some(v) = column_value(g, c.ty, &c.allowed) {
                        doc = doc.put(&c.path, v);
                    }
                }
            }
            TargetKind::PerEntry { path, .. } => match g.below(20) {
                0 | 1 => {}
                2 => doc = doc.put(path, J::Null),
                3 => doc = doc.put(path, junk(g)),
                _ => {
                    let mut entries = J::Obj(Vec::new());
                    for _ in 0..g.below(4) {
                        let key = g.pick(&ENTRY_KEYS).to_string();
                        let value = if g.chance(0.05) {
                            junk(g)
                        } else {
                            let mut e = J::Obj(vec![("note".into(), J::Str("kept".into()))]);
                            for c in &t.columns {
                                if let Some(v) = column_value(g, c.ty, &c.allowed) {
                                    e = e.put(&c.path, v);
                                }
                            }
                            e
                        };
                        entries = entries.put(&[key], value);
                    }
                    doc = doc.put(path, entries);
                }
            },
        }
    }
    if g.chance(0.3) {
        doc = doc.put(&["zz_unknown".to_string()], junk(g));
    }
    if g.chance(0.1) {
        doc = doc.put(&["ключ".to_string()], J::Str("значение".into()));
    }
    Some(doc)
}

/// A value a target column accepts (its CHECKs and NOT NULL included).
pub fn target_value(g: &mut Gen, ty: SqlType, allowed: &[String], nullable: bool) -> TVal {
    if nullable && g.chance(0.2) {
        return TVal::Null;
    }
    match ty {
        SqlType::Text if !allowed.is_empty() => TVal::Text(g.pick(allowed).clone()),
        SqlType::Text => TVal::Text(text_value(g)),
        SqlType::Boolean => TVal::Bool(g.chance(0.5)),
        SqlType::SmallInt => TVal::Int(*g.pick(&[0, -32768, 32767, 12])),
        SqlType::Integer => TVal::Int(*g.pick(&[0, i32::MIN as i64, i32::MAX as i64, 99])),
        SqlType::BigInt => TVal::Int(*g.pick(&[0, i64::MIN, i64::MAX, 123_456_789_012])),
        SqlType::Numeric => TVal::Num(g.pick(&["3.14", "0", "-2.50", "1e3", "0.001"]).to_string()),
        SqlType::Double => TVal::Num(g.pick(&["0.5", "-1.25", "1e-5", "3", "0.1"]).to_string()),
        SqlType::Timestamptz => TVal::Ts(*g.pick(&[0, 1_700_000_000, 946_684_799, 1_234_567_890])),
        SqlType::Date => TVal::Date(*g.pick(&[
            chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default(),
            chrono::NaiveDate::from_ymd_opt(1999, 12, 31).unwrap_or_default(),
        ])),
        SqlType::Uuid => {
            let hex: String = (0..32).map(|_| *g.pick(&['0', '9', 'b', 'e'])).collect();
            TVal::Uuid(hyphenate(&hex))
        }
    }
}
