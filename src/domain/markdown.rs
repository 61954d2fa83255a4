//! Markdown to Notion blocks, so the plan (written in Markdown) renders with
//! the same renderer as the spec, in the live preview and on the page.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde_json::{json, Value};

use crate::model::notion::Block;

/// Converts Markdown to blocks. Anything not representable becomes text.
pub fn to_blocks(markdown: &str) -> Vec<Block> {
    let mut conv = Converter::default();
    let options = Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(markdown, options) {
        conv.event(event);
    }
    conv.flush();
    conv.blocks
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

#[derive(Default)]
struct Converter {
    blocks: Vec<Value>,
    /// The block being filled: (type, extra fields).
    current: Option<(String, serde_json::Map<String, Value>)>,
    text: Vec<Value>,
    bold: bool,
    italic: bool,
    strike: bool,
    link: Option<String>,
    lists: Vec<bool>, // true = numbered
    quote: bool,
    code: Option<String>,
    code_text: String,
}

impl Converter {
    fn start(&mut self, kind: &str) {
        self.flush();
        self.current = Some((kind.to_string(), serde_json::Map::new()));
    }

    fn flush(&mut self) {
        let text = std::mem::take(&mut self.text);
        let Some((kind, extra)) = self.current.take() else {
            if !text.is_empty() {
                self.push("paragraph", text, serde_json::Map::new());
            }
            return;
        };
        if text.is_empty() && kind == "paragraph" {
            return;
        }
        self.push(&kind, text, extra);
    }

    fn push(&mut self, kind: &str, text: Vec<Value>, extra: serde_json::Map<String, Value>) {
        let mut body = json!({ "rich_text": text, "color": "default" });
        for (k, v) in extra {
            body[k] = v;
        }
        let mut block = json!({ "object": "block", "type": kind, "has_children": false });
        block[kind] = body;
        self.blocks.push(block);
    }

    fn inline(&mut self, content: &str, code: bool) {
        if self.current.is_none() {
            let kind = if self.quote { "quote" } else { "paragraph" };
            self.current = Some((kind.to_string(), serde_json::Map::new()));
        }
        self.text.push(json!({
            "type": "text",
            "text": { "content": content, "link": self.link.as_ref().map(|u| json!({ "url": u })) },
            "annotations": {
                "bold": self.bold, "italic": self.italic, "strikethrough": self.strike,
                "underline": false, "code": code, "color": "default",
            },
            "plain_text": content,
            "href": self.link,
        }));
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => self.start(match level {
                HeadingLevel::H1 => "heading_1",
                HeadingLevel::H2 => "heading_2",
                _ => "heading_3",
            }),
            Event::Start(Tag::Paragraph) if self.current.is_none() => {
                self.start(if self.quote { "quote" } else { "paragraph" });
            }
            Event::Start(Tag::BlockQuote(_)) => {
                self.flush();
                self.quote = true;
            }
            Event::End(TagEnd::BlockQuote(_)) => {
                self.flush();
                self.quote = false;
            }
            Event::Start(Tag::List(first)) => {
                self.flush();
                self.lists.push(first.is_some());
            }
            Event::End(TagEnd::List(_)) => {
                self.flush();
                self.lists.pop();
            }
            Event::Start(Tag::Item) => {
                let numbered = self.lists.last().copied().unwrap_or(false);
                self.start(if numbered {
                    "numbered_list_item"
                } else {
                    "bulleted_list_item"
                });
            }
            Event::TaskListMarker(checked) => {
                let mut extra = serde_json::Map::new();
                extra.insert("checked".into(), json!(checked));
                self.current = Some(("to_do".into(), extra));
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                self.flush();
                self.code = Some(match kind {
                    CodeBlockKind::Fenced(lang) => lang.to_string(),
                    CodeBlockKind::Indented => String::new(),
                });
                self.code_text.clear();
            }
            Event::End(TagEnd::CodeBlock) => {
                let language = self.code.take().unwrap_or_default();
                let source = std::mem::take(&mut self.code_text);
                let mut extra = serde_json::Map::new();
                extra.insert("language".into(), json!(language));
                extra.insert("caption".into(), json!([]));
                let content = source.trim_end_matches('\n').to_string();
                let text = vec![json!({ "type": "text", "plain_text": content, "href": null })];
                self.push("code", text, extra);
            }
            Event::Text(t) if self.code.is_some() => self.code_text.push_str(&t),
            Event::Text(t) => self.inline(&t, false),
            Event::Code(t) => self.inline(&t, true),
            Event::SoftBreak | Event::HardBreak => self.inline(" ", false),
            Event::Start(Tag::Strong) => self.bold = true,
            Event::End(TagEnd::Strong) => self.bold = false,
            Event::Start(Tag::Emphasis) => self.italic = true,
            Event::End(TagEnd::Emphasis) => self.italic = false,
            Event::Start(Tag::Strikethrough) => self.strike = true,
            Event::End(TagEnd::Strikethrough) => self.strike = false,
            Event::Start(Tag::Link { dest_url, .. }) => self.link = Some(dest_url.to_string()),
            Event::End(TagEnd::Link) => self.link = None,
            Event::Rule => {
                self.flush();
                let mut block =
                    json!({ "object": "block", "type": "divider", "has_children": false });
                block["divider"] = json!({});
                self.blocks.push(block);
            }
            Event::End(TagEnd::Paragraph)
            | Event::End(TagEnd::Heading(_))
            | Event::End(TagEnd::Item) => self.flush(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::notion::BlockKind;

    #[test]
    fn converts_the_common_markdown_shapes() {
        let md = "# Title\n\nSome **bold** and `code` and [a link](https://example.com).\n\n- one\n- [x] done\n\n1. first\n\n> quoted\n\n```sql\nSELECT 1;\n```\n";
        let blocks = to_blocks(md);
        let kinds: Vec<&str> = blocks
            .iter()
            .map(|b| match &b.kind {
                BlockKind::Heading1 { .. } => "h1",
                BlockKind::Paragraph { .. } => "p",
                BlockKind::BulletedListItem { .. } => "ul",
                BlockKind::ToDo { .. } => "todo",
                BlockKind::NumberedListItem { .. } => "ol",
                BlockKind::Quote { .. } => "quote",
                BlockKind::Code { .. } => "code",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, vec!["h1", "p", "ul", "todo", "ol", "quote", "code"]);
        let p = blocks[1].rich_text().expect("text");
        assert!(p
            .iter()
            .any(|t| t.plain_text == "bold" && t.annotations.bold));
        assert!(p
            .iter()
            .any(|t| t.plain_text == "code" && t.annotations.code));
        assert!(p
            .iter()
            .any(|t| t.href.as_deref() == Some("https://example.com")));
        assert_eq!(blocks[6].plain_text(), "SELECT 1;");
    }
}
