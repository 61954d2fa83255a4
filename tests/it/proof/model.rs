//! A reference model of recipe semantics, written from the rules in the
//! README and `engine::sql`'s module comment, not from the SQL: documents
//! are trees of our own (`J`), numbers stay text and are read as decimals
//! here, times are parsed with chrono, uuids by Postgres's documented rule.
//! Nothing here calls the engine.

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use switchyard::engine::recipe::{Column, DefaultValue, Recipe, SqlType, TargetKind};

/// A JSON document as the tests write it (numbers keep their text).
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    pub fn to_json(&self) -> String {
        match self {
            J::Null => "null".into(),
            J::Bool(b) => b.to_string(),
            J::Num(n) => n.clone(),
            J::Str(s) => serde_json::Value::String(s.clone()).to_string(),
            J::Arr(items) => format!(
                "[{}]",
                items.iter().map(J::to_json).collect::<Vec<_>>().join(",")
            ),
            J::Obj(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, v)| format!(
                        "{}:{}",
                        serde_json::Value::String(k.clone()),
                        v.to_json()
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    pub fn get(&self, key: &str) -> Option<&J> {
        match self {
            J::Obj(fields) => fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at `path`, walking objects only.
    pub fn at(&self, path: &[String]) -> Option<&J> {
        let mut cur = self;
        for seg in path {
            cur = cur.get(seg)?;
        }
        Some(cur)
    }

    /// With `val` at `path`: non-object steps become objects, other keys stay.
    pub fn put(&self, path: &[String], val: J) -> J {
        let Some((first, rest)) = path.split_first() else {
            return val;
        };
        let mut fields = match self {
            J::Obj(f) => f.clone(),
            _ => Vec::new(),
        };
        let inner = fields
            .iter()
            .find(|(k, _)| k == first)
            .map(|(_, v)| v.clone())
            .unwrap_or(J::Null);
        let new = inner.put(rest, val);
        fields.retain(|(k, _)| k != first);
        fields.push((first.clone(), new));
        J::Obj(fields)
    }

    /// Without the key at `path`, walking objects only.
    pub fn remove(&self, path: &[String]) -> J {
        let J::Obj(fields) = self else {
            return self.clone();
        };
        let Some((first, rest)) = path.split_first() else {
            return self.clone();
        };
        if rest.is_empty() {
            return J::Obj(fields.iter().filter(|(k, _)| k != first).cloned().collect());
        }
        match self.get(first) {
            Some(inner @ J::Obj(_)) => {
                let new = inner.remove(rest);
                let mut f: Vec<_> = fields.iter().filter(|(k, _)| k != first).cloned().collect();
                f.push((first.clone(), new));
                J::Obj(f)
            }
            _ => self.clone(),
        }
    }

    fn is_null(v: Option<&J>) -> bool {
        matches!(v, None | Some(J::Null))
    }
}

/// A decimal read from JSON number text: sign, significant digits, and the
/// power of ten of the last digit; plus the scale Postgres would print.
#[derive(Clone, Debug)]
pub struct Dec {
    neg: bool,
    digits: String,
    exp: i64,
    scale: i64,
}

impl Dec {
    pub fn parse(text: &str) -> Option<Dec> {
        let (neg, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (mant, e) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        let (int, frac) = match mant.find('.') {
            Some(i) => (&mant[..i], &mant[i + 1..]),
            None => (mant, ""),
        };
        let all = format!("{int}{frac}");
        let exp = e - frac.len() as i64;
        let scale = (frac.len() as i64 - e).max(0);
        let trimmed = all.trim_start_matches('0');
        let (digits, exp) = if trimmed.is_empty() {
            (String::new(), 0)
        } else {
            let t = trimmed.trim_end_matches('0');
            (t.to_string(), exp + (trimmed.len() - t.len()) as i64)
        };
        Some(Dec {
            neg: neg && !digits.is_empty(),
            digits,
            exp,
            scale,
        })
    }

    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    pub fn same_value(&self, other: &Dec) -> bool {
        (self.is_zero() && other.is_zero())
            || (self.neg == other.neg && self.digits == other.digits && self.exp == other.exp)
    }

    pub fn is_integral(&self) -> bool {
        self.is_zero() || self.exp >= 0
    }

    /// The integer value, when integral and within i64.
    pub fn to_i64(&self) -> Option<i64> {
        if !self.is_integral() {
            return None;
        }
        if self.is_zero() {
            return Some(0);
        }
        if self.digits.len() as i64 + self.exp > 19 {
            return None;
        }
        let text = format!("{}{}", self.digits, "0".repeat(self.exp as usize));
        let magnitude: i128 = text.parse().ok()?;
        let v = if self.neg { -magnitude } else { magnitude };
        i64::try_from(v).ok()
    }

    /// Postgres's `numeric::text` of this value.
    pub fn numeric_text(&self) -> String {
        let scale = self.scale as usize;
        // value = digits × 10^exp, printed with `scale` decimals.
        let digits = if self.digits.is_empty() {
            "0".to_string()
        } else {
            self.digits.clone()
        };
        let shift = self.exp + scale as i64; // digits × 10^shift / 10^scale
        let body = if shift >= 0 {
            format!("{digits}{}", "0".repeat(shift as usize))
        } else {
            // Cannot happen: scale ≥ -exp whenever digits are non-zero.
            digits
        };
        let body = if body.len() <= scale {
            format!("{}{body}", "0".repeat(scale + 1 - body.len()))
        } else {
            body
        };
        let (int, frac) = body.split_at(body.len() - scale);
        let int = int.trim_start_matches('0');
        let int = if int.is_empty() { "0" } else { int };
        let sign = if self.neg { "-" } else { "" };
        if scale == 0 {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }
}

/// What a target column holds, as the tests read it back (`col::text`, or
/// the float for double precision).
#[derive(Clone, Debug)]
pub enum Cell {
    Null,
    Text(String),
    Float(f64),
}

impl PartialEq for Cell {
    fn eq(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Text(a), Cell::Text(b)) => a == b,
            (Cell::Float(a), Cell::Float(b)) => a == b,
            _ => false,
        }
    }
}

/// One expected target row: target index, entry key, cells in column order.
pub type Row = (usize, Option<String>, Vec<Cell>);

const RELATIVE: [&str; 4] = ["now", "today", "tomorrow", "yesterday"];

fn parse_timestamp(s: &str) -> Option<chrono::DateTime<Utc>> {
    if RELATIVE.iter().any(|w| s.to_lowercase().contains(w)) {
        return None;
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0)?));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z"] {
        if let Ok(t) = chrono::DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let naive = s.strip_suffix('Z').unwrap_or(s);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    None
}

fn timestamp_text(t: chrono::DateTime<Utc>) -> String {
    let micros = t.timestamp_subsec_micros();
    let frac = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}").trim_end_matches('0').to_string()
    };
    format!("{}{frac}+00", t.format("%Y-%m-%d %H:%M:%S"))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if RELATIVE.iter().any(|w| s.to_lowercase().contains(w)) {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Postgres's uuid input rule: optional braces, 32 hex digits, a hyphen
/// allowed after any group of four.
pub fn parse_uuid(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut i = 0;
    let braces = b.first() == Some(&b'{');
    if braces {
        i += 1;
    }
    let mut hex = String::new();
    for n in 0..16 {
        let pair = b.get(i..i + 2)?;
        if !pair.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        hex.push_str(&String::from_utf8_lossy(pair).to_lowercase());
        i += 2;
        if b.get(i) == Some(&b'-') && n % 2 == 1 && n < 15 {
            i += 1;
        }
    }
    if braces {
        if b.get(i) != Some(&b'}') {
            return None;
        }
        i += 1;
    }
    if i != b.len() {
        return None;
    }
    Some(hyphenate(&hex))
}

/// 32 hex digits in the 8-4-4-4-12 form Postgres prints.
pub fn hyphenate(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn default_cell(c: &Column) -> Cell {
    match &c.default {
        None => Cell::Null,
        Some(DefaultValue::Text(s)) => match c.ty {
            SqlType::Timestamptz => parse_timestamp(s)
                .map(|t| Cell::Text(timestamp_text(t)))
                .unwrap_or(Cell::Null),
            SqlType::Date => parse_date(s)
                .map(|d| Cell::Text(d.to_string()))
                .unwrap_or(Cell::Null),
            SqlType::Uuid => parse_uuid(s).map(Cell::Text).unwrap_or(Cell::Null),
            _ => Cell::Text(s.clone()),
        },
        Some(DefaultValue::Bool(b)) => Cell::Text(b.to_string()),
        Some(DefaultValue::Int(i)) => match c.ty {
            SqlType::Double => Cell::Float(*i as f64),
            _ => Cell::Text(i.to_string()),
        },
        Some(DefaultValue::Float(f)) => match c.ty {
            SqlType::Double => Cell::Float(*f),
            _ => Cell::Text(
                Dec::parse(&format!("{f:?}"))
                    .map(|d| d.numeric_text())
                    .unwrap_or_default(),
            ),
        },
    }
}

/// The cell column `c` gets from document value `v`, or why not.
pub fn cell(c: &Column, v: Option<&J>) -> Result<Cell, String> {
    if J::is_null(v) {
        return if c.required {
            Err("required key is missing".into())
        } else {
            Ok(default_cell(c))
        };
    }
    let v = v.ok_or("absent")?;
    match (c.ty, v) {
        (SqlType::Text, J::Str(s)) => {
            if !c.allowed.is_empty() && !c.allowed.contains(s) {
                Err(format!("{s:?} not allowed"))
            } else {
                Ok(Cell::Text(s.clone()))
            }
        }
        (SqlType::Boolean, J::Bool(b)) => Ok(Cell::Text(b.to_string())),
        (SqlType::SmallInt | SqlType::Integer | SqlType::BigInt, J::Num(n)) => {
            let (lo, hi) = c.ty.int_range().ok_or("no range")?;
            let d = Dec::parse(n).ok_or("bad number")?;
            match d.to_i64() {
                Some(i) if (lo..=hi).contains(&i) => Ok(Cell::Text(i.to_string())),
                _ => Err(format!("not a valid integer: {n}")),
            }
        }
        (SqlType::Numeric, J::Num(n)) => Ok(Cell::Text(
            Dec::parse(n).ok_or("bad number")?.numeric_text(),
        )),
        (SqlType::Double, J::Num(n)) => {
            let f: f64 = n.parse().map_err(|_| "bad number")?;
            let d = Dec::parse(n).ok_or("bad number")?;
            if f.is_infinite() || (f == 0.0 && !d.is_zero()) {
                Err(format!("out of range: {n}"))
            } else {
                Ok(Cell::Float(f))
            }
        }
        (SqlType::Timestamptz, J::Str(s)) => parse_timestamp(s)
            .map(|t| Cell::Text(timestamp_text(t)))
            .ok_or_else(|| format!("not a timestamptz: {s}")),
        (SqlType::Date, J::Str(s)) => parse_date(s)
            .map(|d| Cell::Text(d.to_string()))
            .ok_or_else(|| format!("not a date: {s}")),
        (SqlType::Uuid, J::Str(s)) => parse_uuid(s)
            .map(Cell::Text)
            .ok_or_else(|| format!("not a uuid: {s}")),
        _ => Err("wrong JSON type".into()),
    }
}

/// Forward mapping of one document: every target row, or a quarantine reason.
pub fn forward(r: &Recipe, doc: Option<&J>) -> Result<Vec<Row>, String> {
    let Some(doc) = doc else {
        return Err("SQL NULL".into());
    };
    if !matches!(doc, J::Obj(_)) {
        return Err("not an object".into());
    }
    let mut rows = Vec::new();
    for (i, t) in r.targets.iter().enumerate() {
        match &t.kind {
            TargetKind::PerRow => {
                let cells = t
                    .columns
                    .iter()
                    .map(|c| cell(c, doc.at(&c.path)))
                    .collect::<Result<Vec<_>, _>>()?;
                rows.push((i, None, cells));
            }
            TargetKind::PerEntry {
                path, key_allowed, ..
            } => match doc.at(path) {
                None | Some(J::Null) => {}
                Some(J::Obj(entries)) => {
                    // jsonb keeps the last of duplicate keys.
                    let mut seen = std::collections::HashSet::new();
                    for (k, v) in entries.iter().rev() {
                        if !seen.insert(k.clone()) {
                            continue;
                        }
                        if !key_allowed.is_empty() && !key_allowed.contains(k) {
                            return Err(format!("entry {k} not allowed"));
                        }
                        if !matches!(v, J::Obj(_)) {
                            return Err(format!("entry {k} is not an object"));
                        }
                        let cells = t
                            .columns
                            .iter()
                            .map(|c| cell(c, v.at(&c.path)))
                            .collect::<Result<Vec<_>, _>>()?;
                        rows.push((i, Some(k.clone()), cells));
                    }
                }
                Some(_) => return Err("entries are not an object".into()),
            },
        }
    }
    Ok(rows)
}

/// A value the tests write into a target column.
#[derive(Clone, Debug, PartialEq)]
pub enum TVal {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    /// Numeric or double, as the decimal text written.
    Num(String),
    /// Seconds since the epoch (whole seconds).
    Ts(i64),
    Date(NaiveDate),
    Uuid(String),
}

impl TVal {
    /// The SQL text bound for `$n::text::type`.
    pub fn sql_text(&self) -> Option<String> {
        match self {
            TVal::Null => None,
            TVal::Text(s) => Some(s.clone()),
            TVal::Bool(b) => Some(b.to_string()),
            TVal::Int(i) => Some(i.to_string()),
            TVal::Num(n) => Some(n.clone()),
            TVal::Ts(secs) => Some(format!(
                "{}",
                Utc.timestamp_opt(*secs, 0)
                    .single()?
                    .format("%Y-%m-%d %H:%M:%S+00")
            )),
            TVal::Date(d) => Some(d.to_string()),
            TVal::Uuid(u) => Some(u.clone()),
        }
    }

    /// `to_jsonb` of the stored value (what reverse sync writes).
    pub fn json(&self, ty: SqlType) -> J {
        match self {
            TVal::Null => J::Null,
            TVal::Text(s) => J::Str(s.clone()),
            TVal::Bool(b) => J::Bool(*b),
            TVal::Int(i) => J::Num(i.to_string()),
            TVal::Num(n) => match ty {
                SqlType::Double => {
                    let f: f64 = n.parse().unwrap_or(0.0);
                    J::Num(format!("{f:e}"))
                }
                _ => J::Num(Dec::parse(n).map(|d| d.numeric_text()).unwrap_or_default()),
            },
            TVal::Ts(secs) => J::Str(
                Utc.timestamp_opt(*secs, 0)
                    .single()
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string())
                    .unwrap_or_default(),
            ),
            TVal::Date(d) => J::Str(d.to_string()),
            TVal::Uuid(u) => J::Str(u.to_lowercase()),
        }
    }
}

/// Does document value `v` (present) already mean `x` for column `c`?
fn same_present(c: &Column, v: Option<&J>, x: &J) -> bool {
    match (v, x) {
        (Some(J::Num(a)), J::Num(b)) => match (c.ty, Dec::parse(a), Dec::parse(b)) {
            (SqlType::Numeric, Some(a), Some(b)) => a.numeric_text() == b.numeric_text(),
            (SqlType::Double, Some(da), _) => {
                let (fa, fb) = (a.parse::<f64>(), b.parse::<f64>());
                match (fa, fb) {
                    (Ok(fa), Ok(fb)) => {
                        // Finite, not an underflow of a non-zero number, equal.
                        fa.is_finite() && (fa != 0.0 || da.is_zero()) && fa == fb
                    }
                    _ => false,
                }
            }
            (_, Some(a), Some(b)) => a.same_value(&b),
            _ => false,
        },
        (Some(J::Str(a)), J::Str(b)) => {
            a == b
                || match c.ty {
                    SqlType::Timestamptz => {
                        parse_timestamp(a).is_some() && parse_timestamp(a) == parse_timestamp(b)
                    }
                    SqlType::Date => parse_date(a).is_some() && parse_date(a) == parse_date(b),
                    SqlType::Uuid => parse_uuid(a).is_some() && parse_uuid(a) == parse_uuid(b),
                    _ => false,
                }
        }
        (Some(a), b) => a == b,
        (None, _) => false,
    }
}

/// Does `v` map forward to `x` (absent or null meaning the default)?
fn same_mapped(c: &Column, v: Option<&J>, x: &J) -> bool {
    if J::is_null(v) {
        if let Some(d) = &c.default {
            let dj = match d {
                DefaultValue::Text(s) => J::Str(s.clone()),
                DefaultValue::Bool(b) => J::Bool(*b),
                DefaultValue::Int(i) => J::Num(i.to_string()),
                DefaultValue::Float(f) => J::Num(format!("{f:e}")),
            };
            return same_present(c, Some(&dj), x);
        }
        return false;
    }
    same_present(c, v, x)
}

/// A target write as the model sees it.
#[derive(Clone, Debug)]
pub enum Write {
    /// Set one column of an existing row. (Whether the value changed does
    /// not matter to the result: a document in step already maps to the old
    /// value, and a value it maps to is left alone.)
    Update {
        target: usize,
        entry: Option<String>,
        column: usize,
        new: TVal,
    },
    /// A new per-entry row, every column given.
    Insert {
        target: usize,
        entry: String,
        values: Vec<TVal>,
    },
    /// Delete a per-entry row.
    Delete { target: usize, entry: String },
}

/// The document after a target write (reverse sync), per the README's rule.
pub fn reverse(r: &Recipe, doc: Option<&J>, w: &Write) -> Option<J> {
    let target_of = |i: usize| &r.targets[i];
    let doc = match doc {
        None | Some(J::Null) => J::Obj(Vec::new()),
        Some(d @ J::Obj(_)) => d.clone(),
        Some(other) => return Some(other.clone()),
    };
    let full = |i: usize, entry: &Option<String>, c: &Column| -> Vec<String> {
        match (&target_of(i).kind, entry) {
            (TargetKind::PerEntry { path, .. }, Some(e)) => {
                let mut p = path.clone();
                p.push(e.clone());
                p.extend(c.path.clone());
                p
            }
            _ => c.path.clone(),
        }
    };
    let write = |d: J, i: usize, entry: &Option<String>, c: &Column, x: &J| -> J {
        let path = full(i, entry, c);
        let v = d.at(&path).cloned();
        if *x == J::Null {
            if J::is_null(v.as_ref()) {
                d
            } else {
                d.remove(&path)
            }
        } else if same_mapped(c, v.as_ref(), x) {
            d
        } else {
            d.put(&path, x.clone())
        }
    };
    Some(match w {
        Write::Update {
            target,
            entry,
            column,
            new,
        } => {
            let c = &target_of(*target).columns[*column];
            write(doc, *target, entry, c, &new.json(c.ty))
        }
        Write::Insert {
            target,
            entry,
            values,
        } => {
            let t = target_of(*target);
            let TargetKind::PerEntry { path, .. } = &t.kind else {
                return Some(doc);
            };
            let mut entry_path = path.clone();
            entry_path.push(entry.clone());
            let mut d = doc;
            if !matches!(d.at(&entry_path), Some(J::Obj(_))) {
                d = d.put(&entry_path, J::Obj(Vec::new()));
            }
            for (c, v) in t.columns.iter().zip(values) {
                d = write(d, *target, &Some(entry.clone()), c, &v.json(c.ty));
            }
            d
        }
        Write::Delete { target, entry } => {
            let TargetKind::PerEntry { path, .. } = &target_of(*target).kind else {
                return Some(doc);
            };
            let mut p = path.clone();
            p.push(entry.clone());
            doc.remove(&p)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_like_postgres() {
        for (json, text) in [
            ("1e2", "100"),
            ("1.50", "1.50"),
            ("1.50e1", "15.0"),
            ("-0", "0"),
            ("-0.00", "0.00"),
            ("1E-3", "0.001"),
            ("12345678901234567890", "12345678901234567890"),
            ("-3.25E-2", "-0.0325"),
        ] {
            assert_eq!(
                Dec::parse(json).expect("number").numeric_text(),
                text,
                "{json}"
            );
        }
    }

    #[test]
    fn uuids_follow_the_postgres_rule() {
        let canon = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for ok in [
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        ] {
            assert_eq!(parse_uuid(ok).as_deref(), Some(canon), "{ok}");
        }
        for bad in [
            "a0eebc99",
            "{a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
            "-a0eebc999c0b4ef8bb6d6bb9bd380a11",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad}");
        }
    }
}
