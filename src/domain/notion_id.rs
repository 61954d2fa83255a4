//! Notion object ids (pages, blocks, databases, data sources, users), parsed
//! from what a person pastes: a page's URL (`https://www.notion.so/team/
//! Spec-Title-1a2b…`), a peek URL (`…?p=1a2b…`), or the id itself with or
//! without dashes. Kept in Notion's own form: lowercase, dashed (8-4-4-4-12).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NotionId(String);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is neither a Notion page URL nor a Notion id (32 hexadecimal digits, \
     as at the end of the page's URL)"
)]
pub struct NotionIdError(pub String);

impl NotionId {
    /// Reads an id from a URL or from the id itself.
    pub fn parse(input: &str) -> Result<Self, NotionIdError> {
        let input = input.trim();
        let refuse = || NotionIdError(input.chars().take(200).collect());
        if let Some(id) = from_hex(input) {
            return Ok(id);
        }
        let rest = input
            .strip_prefix("https://")
            .or_else(|| input.strip_prefix("http://"))
            .ok_or_else(refuse)?;
        let (before_fragment, _) = rest.split_once('#').unwrap_or((rest, ""));
        let (path, query) = before_fragment
            .split_once('?')
            .unwrap_or((before_fragment, ""));
        // A page opened as a peek from a database: `?p=<id>` names the page.
        for pair in query.split('&') {
            if let Some(value) = pair.strip_prefix("p=") {
                if let Some(id) = from_hex(value) {
                    return Ok(id);
                }
            }
        }
        // Otherwise the id ends the path's last segment (`Title-<id>` or `<id>`).
        let (_host, path) = path.split_once('/').ok_or_else(refuse)?;
        let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if let Some(id) = from_hex(last) {
            return Ok(id);
        }
        let tail_start = last.len().checked_sub(32).ok_or_else(refuse)?;
        if !last.is_char_boundary(tail_start) || !last[..tail_start].ends_with('-') {
            return Err(refuse());
        }
        from_hex(&last[tail_start..]).ok_or_else(refuse)
    }

    /// Dashed, lowercase: what the API takes and returns.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 32 digits without dashes (as in Notion's URLs and block anchors).
    pub fn compact(&self) -> String {
        self.0.replace('-', "")
    }

    /// Where a person opens it in Notion.
    pub fn notion_url(&self) -> String {
        format!("https://www.notion.so/{}", self.compact())
    }

    /// Builds an id from 128 bits (the fake Notion mints ids this way).
    pub fn from_u128(bits: u128) -> Self {
        let hex = format!("{bits:032x}");
        Self(dashed(&hex))
    }
}

/// 32 hex digits, or a dashed UUID; anything else is `None`.
fn from_hex(s: &str) -> Option<NotionId> {
    let compact: String = if s.len() == 36 {
        let dashes_ok = s
            .char_indices()
            .all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) == (c == '-'));
        if !dashes_ok {
            return None;
        }
        s.chars().filter(|c| *c != '-').collect()
    } else {
        s.to_string()
    };
    (compact.len() == 32 && compact.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| NotionId(dashed(&compact.to_ascii_lowercase())))
}

fn dashed(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl std::fmt::Display for NotionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for NotionId {
    type Err = NotionIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for NotionId {
    type Error = NotionIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<NotionId> for String {
    fn from(id: NotionId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DASHED: &str = "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d";

    #[test]
    fn reads_ids_and_urls_people_paste() {
        for input in [
            DASHED,
            "1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d",
            "1A2B3C4D5E6F4A1B8C2D3E4F5A6B7C8D",
            " https://www.notion.so/acme/User-Preferences-Spec-1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d ",
            "https://www.notion.so/1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d?pvs=4",
            "https://acme.notion.site/Spec-1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d#anchor",
            "https://www.notion.so/acme/ffffffffffffffffffffffffffffffff?v=0&p=1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d",
            "http://127.0.0.1:3900/page/1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d/",
        ] {
            assert_eq!(
                NotionId::parse(input).map(|id| id.to_string()),
                Ok(DASHED.to_string()),
                "{input}"
            );
        }
        let id = NotionId::parse(DASHED).expect("id");
        assert_eq!(id.compact(), "1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d");
        assert_eq!(
            id.notion_url(),
            "https://www.notion.so/1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d"
        );
    }

    #[test]
    fn refuses_what_is_not_an_id() {
        for input in [
            "",
            "hello",
            "1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8",
            "1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8g",
            "1a2b3c4d-5e6f4a1b-8c2d-3e4f5a6b7c8d",
            "https://www.notion.so/acme/Spec",
            "https://www.notion.so/acme/Spec1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d",
            "ftp://www.notion.so/1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d",
        ] {
            assert!(NotionId::parse(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn round_trips_through_serde() {
        let id: NotionId = serde_json::from_str(&format!("\"{DASHED}\"")).expect("parses");
        assert_eq!(
            serde_json::to_string(&id).expect("json"),
            format!("\"{DASHED}\"")
        );
        assert!(serde_json::from_str::<NotionId>("\"nope\"").is_err());
    }
}
