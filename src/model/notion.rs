//! Notion block and rich-text types, shaped exactly like the Notion API's
//! JSON (`GET /v1/blocks/{id}/children`). The spec is stored in this format so
//! the same renderer serves the built-in demo and the Notion mirror.
//!
//! One deliberate extension: a block's nested children are stored inline in
//! `children` (Notion returns them from a separate call; the mirror fetches
//! them and attaches them here).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Block {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub has_children: bool,
    #[serde(flatten)]
    pub kind: BlockKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Block>,
    /// For an `Unsupported` block, the type Notion gave it (`synced_block`,
    /// `embed`…): the page shows it as a labelled placeholder linking to the
    /// block in Notion. Our own key, not Notion's (the client fills it in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported_type: Option<String>,
}

/// The block types Switchyard renders. Anything else Notion may send is kept
/// as `Unsupported` so a new block type never breaks a whole page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockKind {
    Paragraph {
        paragraph: TextBlock,
    },
    #[serde(rename = "heading_1")]
    Heading1 {
        heading_1: TextBlock,
    },
    #[serde(rename = "heading_2")]
    Heading2 {
        heading_2: TextBlock,
    },
    #[serde(rename = "heading_3")]
    Heading3 {
        heading_3: TextBlock,
    },
    BulletedListItem {
        bulleted_list_item: TextBlock,
    },
    NumberedListItem {
        numbered_list_item: TextBlock,
    },
    ToDo {
        to_do: ToDoBlock,
    },
    Toggle {
        toggle: TextBlock,
    },
    Quote {
        quote: TextBlock,
    },
    Callout {
        callout: CalloutBlock,
    },
    Code {
        code: CodeBlock,
    },
    Divider {
        divider: Empty,
    },
    Table {
        table: TableBlock,
    },
    TableRow {
        table_row: TableRowBlock,
    },
    #[serde(other)]
    Unsupported,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    #[serde(default)]
    pub rich_text: Vec<RichText>,
    #[serde(default = "default_color")]
    pub color: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToDoBlock {
    #[serde(default)]
    pub rich_text: Vec<RichText>,
    #[serde(default)]
    pub checked: bool,
    #[serde(default = "default_color")]
    pub color: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CalloutBlock {
    #[serde(default)]
    pub rich_text: Vec<RichText>,
    #[serde(default)]
    pub icon: Option<Icon>,
    #[serde(default = "default_color")]
    pub color: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Icon {
    Emoji {
        emoji: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CodeBlock {
    #[serde(default)]
    pub rich_text: Vec<RichText>,
    #[serde(default)]
    pub caption: Vec<RichText>,
    #[serde(default)]
    pub language: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TableBlock {
    #[serde(default)]
    pub table_width: u32,
    #[serde(default)]
    pub has_column_header: bool,
    #[serde(default)]
    pub has_row_header: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TableRowBlock {
    /// One entry per cell; each cell is a rich-text array.
    #[serde(default)]
    pub cells: Vec<Vec<RichText>>,
}

/// A rich-text item. Notion always sends `plain_text`, `href` and
/// `annotations` whatever the item's type (text, mention, equation), so the
/// renderer needs nothing else; the rest of the item is kept verbatim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RichText {
    #[serde(default)]
    pub plain_text: String,
    #[serde(default)]
    pub href: Option<String>,
    #[serde(default)]
    pub annotations: Annotations,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Annotations {
    #[serde(default)]
    pub bold: bool,
    #[serde(default)]
    pub italic: bool,
    #[serde(default)]
    pub strikethrough: bool,
    #[serde(default)]
    pub underline: bool,
    #[serde(default)]
    pub code: bool,
    #[serde(default = "default_color")]
    pub color: String,
}

impl Default for Annotations {
    fn default() -> Self {
        Self {
            bold: false,
            italic: false,
            strikethrough: false,
            underline: false,
            code: false,
            color: default_color(),
        }
    }
}

fn default_color() -> String {
    "default".to_string()
}

/// Concatenated plain text of a rich-text array.
pub fn plain_text(items: &[RichText]) -> String {
    items.iter().map(|t| t.plain_text.as_str()).collect()
}

impl Block {
    /// The rich text a block carries, if its type has one.
    pub fn rich_text(&self) -> Option<&[RichText]> {
        match &self.kind {
            BlockKind::Paragraph { paragraph: t }
            | BlockKind::Heading1 { heading_1: t }
            | BlockKind::Heading2 { heading_2: t }
            | BlockKind::Heading3 { heading_3: t }
            | BlockKind::BulletedListItem {
                bulleted_list_item: t,
            }
            | BlockKind::NumberedListItem {
                numbered_list_item: t,
            }
            | BlockKind::Toggle { toggle: t }
            | BlockKind::Quote { quote: t } => Some(&t.rich_text),
            BlockKind::ToDo { to_do } => Some(&to_do.rich_text),
            BlockKind::Callout { callout } => Some(&callout.rich_text),
            BlockKind::Code { code } => Some(&code.rich_text),
            _ => None,
        }
    }

    pub fn plain_text(&self) -> String {
        self.rich_text().map(plain_text).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_notion_api_paragraph_with_annotations_and_link() {
        let json = r#"{
          "object": "block", "id": "c02fc1d3-db8b-45c5-a222-27595b15aea7",
          "created_time": "2022-03-01T19:05:00.000Z", "has_children": false,
          "archived": false, "type": "paragraph",
          "paragraph": {
            "rich_text": [
              {"type": "text", "text": {"content": "Lacinato ", "link": null},
               "annotations": {"bold": true, "italic": false, "strikethrough": false,
                               "underline": false, "code": false, "color": "default"},
               "plain_text": "Lacinato ", "href": null},
              {"type": "text", "text": {"content": "kale", "link": {"url": "https://example.com/kale"}},
               "annotations": {"bold": false, "italic": true, "strikethrough": false,
                               "underline": false, "code": false, "color": "red"},
               "plain_text": "kale", "href": "https://example.com/kale"}
            ],
            "color": "default"
          }
        }"#;
        let block: Block = serde_json::from_str(json).expect("valid Notion block");
        let BlockKind::Paragraph { paragraph } = &block.kind else {
            panic!("expected a paragraph, got {:?}", block.kind);
        };
        assert_eq!(paragraph.rich_text.len(), 2);
        assert!(paragraph.rich_text[0].annotations.bold);
        assert_eq!(paragraph.rich_text[1].annotations.color, "red");
        assert_eq!(
            paragraph.rich_text[1].href.as_deref(),
            Some("https://example.com/kale")
        );
        assert_eq!(block.plain_text(), "Lacinato kale");
    }

    #[test]
    fn unknown_block_types_are_kept_as_unsupported() {
        let json = r#"{"id": "x", "type": "synced_block", "synced_block": {"synced_from": null}}"#;
        let block: Block = serde_json::from_str(json).expect("parses");
        assert_eq!(block.kind, BlockKind::Unsupported);
    }

    #[test]
    fn round_trips_through_json_with_children() {
        let json = r#"{"id": "t", "type": "table", "has_children": true,
            "table": {"table_width": 2, "has_column_header": true, "has_row_header": false},
            "children": [{"id": "r", "type": "table_row", "table_row": {"cells": [
                [{"type":"text","text":{"content":"a"},"plain_text":"a","href":null}],
                [{"type":"text","text":{"content":"b"},"plain_text":"b","href":null}]
            ]}}]}"#;
        let block: Block = serde_json::from_str(json).expect("parses");
        let again: Block =
            serde_json::from_value(serde_json::to_value(&block).expect("serialises"))
                .expect("parses again");
        assert_eq!(block, again);
        assert_eq!(again.children.len(), 1);
    }
}
