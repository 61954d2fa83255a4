//! Identifiers and literals for generated SQL. Parse, don't validate: an
//! `Ident` can only hold a plain lower-case identifier, and it always prints
//! quoted, so a recipe can never inject SQL through a name.

use std::fmt;

/// A plain SQL identifier: `[a-z_][a-z0-9_]*`, at most 63 bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident(String);

impl Ident {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("is empty".into());
        }
        if s.len() > 63 {
            return Err(format!(
                "{s:?} is longer than 63 bytes (Postgres would truncate it)"
            ));
        }
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(format!(
                "{s:?} is not a plain identifier (lower-case letters, digits and _, not starting with a digit)"
            ));
        }
        Ok(Ident(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    /// Always quoted: reserved words like `user` or `order` stay safe.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

/// A SQL string literal that means the same text whatever the server's
/// `standard_conforming_strings`: quotes are doubled, and a value holding a
/// backslash is written as an escape string (`E'...'`) with backslashes
/// doubled, so no content can end the literal early. Recipes never carry NUL
/// (the recipe check refuses it), which no Postgres text can hold.
pub fn literal(s: &str) -> String {
    if s.contains('\\') {
        format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Any identifier (e.g. a constraint name read from the catalog), quoted.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A `text[]` literal for a JSON path, e.g. `'{"notifications","email"}'`.
pub fn path_literal(segments: &[String]) -> String {
    let inner: Vec<String> = segments
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{}::text[]", literal(&format!("{{{}}}", inner.join(","))))
}

/// `body` between dollar quotes whose tag does not occur in it, so nothing
/// in the body (a recipe value holding `$sy$`, say) can end it early.
pub fn dollar_quote(body: &str) -> String {
    let mut n = 0u32;
    loop {
        let tag = if n == 0 {
            "$sy$".to_string()
        } else {
            format!("$sy{n}$")
        };
        // Also refuse a tag that could be completed by the body's last characters.
        if !body.contains(&tag[..tag.len() - 1]) {
            return format!("{tag}\n{body}\n{tag}");
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_identifiers_and_quotes_them() {
        let id = Ident::parse("user_preferences").expect("plain");
        assert_eq!(id.to_string(), "\"user_preferences\"");
        assert_eq!(
            Ident::parse("order").expect("reserved ok").to_string(),
            "\"order\""
        );
    }

    #[test]
    fn rejects_hostile_identifiers() {
        for bad in [
            "",
            "users; DROP TABLE users",
            "users\"--",
            "Users",
            "1users",
            "us ers",
            "users'",
            "ü",
            &"a".repeat(64),
        ] {
            assert!(Ident::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn literals_escape_quotes() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(
            path_literal(&["a".into(), "b'c".into()]),
            "'{\"a\",\"b''c\"}'::text[]"
        );
        // A backslash cannot escape the closing quote, whatever the server's
        // standard_conforming_strings.
        assert_eq!(literal("a\\'; DROP"), "E'a\\\\''; DROP'");
    }

    #[test]
    fn dollar_quotes_never_occur_in_the_body() {
        let body = "x $sy$ y $sy1$ z $sy";
        let quoted = dollar_quote(body);
        assert!(quoted.starts_with("$sy2$"), "{quoted}");
        assert_eq!(quoted.matches("$sy2$").count(), 2);
    }
}
