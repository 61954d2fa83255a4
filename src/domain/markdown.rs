//! Markdown to Notion blocks, so the plan (written in Markdown) renders with
//! the same renderer as the spec, in the live preview and on the page.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde_json::{json, Map};

use crate::model::notion::{
    Annotations, Block, BlockKind, CodeBlock, Empty, RichText, TextBlock, ToDoBlock,
};

/// Converts Markdown to blocks. Anything not representable becomes text.
/// The blocks are built as values (not parsed from JSON): this runs in the
/// browser for the live preview, which then needs no block parser.
pub fn to_blocks(markdown: &str) -> Vec<Block> {
    let mut conv = Converter::default();
    let options = Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(markdown, options) {
        conv.event(event);
    }
    conv.flush();
    conv.blocks
}

/// Blocks (as Notion sends them) back to Markdown: the inverse of
/// `to_blocks` for what it produces (headings, paragraphs, lists, to-dos,
/// quotes, code, dividers, bold / italic / strikethrough / code / links),
/// so a plan edited in Notion comes back as Markdown. Other blocks become
/// their text (a callout as a quote, a table as its rows' text); nested
/// list items are indented. Characters Markdown would read as formatting
/// are escaped.
pub fn from_blocks(blocks: &[Block]) -> String {
    let mut out = String::new();
    write_blocks(blocks, 0, &mut out);
    out.trim_end().to_string() + "\n"
}

fn is_list_item(kind: &BlockKind) -> bool {
    matches!(
        kind,
        BlockKind::BulletedListItem { .. }
            | BlockKind::NumberedListItem { .. }
            | BlockKind::ToDo { .. }
    )
}

fn write_blocks(blocks: &[Block], depth: usize, out: &mut String) {
    let indent = "   ".repeat(depth);
    let mut previous_was_item = false;
    for block in blocks {
        let item = is_list_item(&block.kind);
        let continues_list = item && previous_was_item;
        if depth == 0 && !out.is_empty() && !continues_list {
            out.push('\n');
        }
        previous_was_item = item;
        let text = |rich: &[RichText]| inline_markdown(rich);
        let line = match &block.kind {
            BlockKind::Paragraph { paragraph } => text(&paragraph.rich_text),
            BlockKind::Heading1 { heading_1 } => format!("# {}", text(&heading_1.rich_text)),
            BlockKind::Heading2 { heading_2 } => format!("## {}", text(&heading_2.rich_text)),
            BlockKind::Heading3 { heading_3 } => format!("### {}", text(&heading_3.rich_text)),
            BlockKind::BulletedListItem { bulleted_list_item } => {
                format!("- {}", text(&bulleted_list_item.rich_text))
            }
            BlockKind::NumberedListItem { numbered_list_item } => {
                format!("1. {}", text(&numbered_list_item.rich_text))
            }
            BlockKind::ToDo { to_do } => format!(
                "- [{}] {}",
                if to_do.checked { "x" } else { " " },
                text(&to_do.rich_text)
            ),
            BlockKind::Toggle { toggle } => format!("- {}", text(&toggle.rich_text)),
            BlockKind::Quote { quote } => format!("> {}", text(&quote.rich_text)),
            BlockKind::Callout { callout } => format!("> {}", text(&callout.rich_text)),
            BlockKind::Code { code } => {
                let source: String = code
                    .rich_text
                    .iter()
                    .map(|t| t.plain_text.as_str())
                    .collect();
                format!("```{}\n{}\n```", code.language, source)
            }
            BlockKind::Divider { .. } => "---".to_string(),
            _ => escape(&block.plain_text()),
        };
        if line.trim().is_empty() && !matches!(block.kind, BlockKind::Code { .. }) {
            previous_was_item = false;
            continue;
        }
        // A line break inside a block's text stays inside the block.
        let line = if matches!(block.kind, BlockKind::Code { .. }) {
            line
        } else {
            line.replace('\n', " ")
        };
        out.push_str(&indent);
        out.push_str(&line);
        out.push('\n');
        if !block.children.is_empty() {
            write_blocks(&block.children, depth + 1, out);
        }
    }
}

/// Escapes what Markdown would read as formatting.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '[' | ']' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Rich text as inline Markdown. Markers wrap the text without its outer
/// spaces (`** bold**` would not be bold).
fn inline_markdown(items: &[RichText]) -> String {
    let mut out = String::new();
    for item in items {
        let content = &item.plain_text;
        let trimmed = content.trim();
        if trimmed.is_empty() {
            out.push_str(content);
            continue;
        }
        let lead = &content[..content.len() - content.trim_start().len()];
        let trail = &content[content.trim_end().len()..];
        let a = &item.annotations;
        let mut core = if a.code {
            format!("`{}`", trimmed.replace('`', "'"))
        } else {
            escape(trimmed)
        };
        if a.strikethrough {
            core = format!("~~{core}~~");
        }
        if a.italic {
            core = format!("*{core}*");
        }
        if a.bold {
            core = format!("**{core}**");
        }
        if let Some(url) = &item.href {
            core = format!("[{core}]({})", url.replace(')', "%29").replace(' ', "%20"));
        }
        out.push_str(lead);
        out.push_str(&core);
        out.push_str(trail);
    }
    out
}

/// The kind of text block being filled.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Paragraph,
    Heading1,
    Heading2,
    Heading3,
    Bulleted,
    Numbered,
    ToDo { checked: bool },
    Quote,
}

#[derive(Default)]
struct Converter {
    blocks: Vec<Block>,
    /// The block being filled.
    current: Option<Kind>,
    text: Vec<RichText>,
    bold: bool,
    italic: bool,
    strike: bool,
    link: Option<String>,
    lists: Vec<bool>, // true = numbered
    quote: bool,
    code: Option<String>,
    code_text: String,
}

fn block(kind: BlockKind) -> Block {
    Block {
        id: String::new(),
        has_children: false,
        kind,
        children: Vec::new(),
        unsupported_type: None,
    }
}

/// A text item as Notion sends it (`type` and `text` kept beside the
/// fields the renderer reads).
fn rich_text(content: &str, link: Option<&str>, annotations: Annotations, text: bool) -> RichText {
    let mut rest = Map::new();
    rest.insert("type".into(), json!("text"));
    if text {
        rest.insert(
            "text".into(),
            json!({ "content": content, "link": link.map(|u| json!({ "url": u })) }),
        );
    }
    RichText {
        plain_text: content.to_string(),
        href: link.map(str::to_string),
        annotations,
        rest,
    }
}

impl Converter {
    fn start(&mut self, kind: Kind) {
        self.flush();
        self.current = Some(kind);
    }

    fn flush(&mut self) {
        let text = std::mem::take(&mut self.text);
        let Some(kind) = self.current.take() else {
            if !text.is_empty() {
                self.push(Kind::Paragraph, text);
            }
            return;
        };
        if text.is_empty() && kind == Kind::Paragraph {
            return;
        }
        self.push(kind, text);
    }

    fn push(&mut self, kind: Kind, rich_text: Vec<RichText>) {
        let t = TextBlock {
            rich_text,
            color: "default".into(),
        };
        self.blocks.push(block(match kind {
            Kind::Paragraph => BlockKind::Paragraph { paragraph: t },
            Kind::Heading1 => BlockKind::Heading1 { heading_1: t },
            Kind::Heading2 => BlockKind::Heading2 { heading_2: t },
            Kind::Heading3 => BlockKind::Heading3 { heading_3: t },
            Kind::Bulleted => BlockKind::BulletedListItem {
                bulleted_list_item: t,
            },
            Kind::Numbered => BlockKind::NumberedListItem {
                numbered_list_item: t,
            },
            Kind::Quote => BlockKind::Quote { quote: t },
            Kind::ToDo { checked } => BlockKind::ToDo {
                to_do: ToDoBlock {
                    rich_text: t.rich_text,
                    checked,
                    color: t.color,
                },
            },
        }));
    }

    fn inline(&mut self, content: &str, code: bool) {
        if self.current.is_none() {
            self.current = Some(if self.quote {
                Kind::Quote
            } else {
                Kind::Paragraph
            });
        }
        let annotations = Annotations {
            bold: self.bold,
            italic: self.italic,
            strikethrough: self.strike,
            underline: false,
            code,
            color: "default".into(),
        };
        self.text
            .push(rich_text(content, self.link.as_deref(), annotations, true));
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => self.start(match level {
                HeadingLevel::H1 => Kind::Heading1,
                HeadingLevel::H2 => Kind::Heading2,
                _ => Kind::Heading3,
            }),
            Event::Start(Tag::Paragraph) if self.current.is_none() => {
                self.start(if self.quote {
                    Kind::Quote
                } else {
                    Kind::Paragraph
                });
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
                    Kind::Numbered
                } else {
                    Kind::Bulleted
                });
            }
            Event::TaskListMarker(checked) => {
                self.current = Some(Kind::ToDo { checked });
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
                let content = source.trim_end_matches('\n');
                self.blocks.push(block(BlockKind::Code {
                    code: CodeBlock {
                        rich_text: vec![rich_text(content, None, Annotations::default(), false)],
                        caption: Vec::new(),
                        language,
                    },
                }));
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
                self.blocks
                    .push(block(BlockKind::Divider { divider: Empty {} }));
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
        let BlockKind::ToDo { to_do } = &blocks[3].kind else {
            panic!("a to-do: {:?}", blocks[3]);
        };
        assert!(to_do.checked);
        let BlockKind::Code { code } = &blocks[6].kind else {
            panic!("a code block: {:?}", blocks[6]);
        };
        assert_eq!(code.language, "sql");
    }

    #[test]
    fn blocks_go_back_to_markdown_that_reads_as_the_same_blocks() {
        let md = "# Title\n\nSome **bold** and `code` and [a link](https://example.com) and *it* and ~~gone~~.\n\n- one\n- [x] done\n- [ ] open\n\n1. first\n\n> quoted\n\n```sql\nSELECT 1;\n```\n\n---\n\nstars * and_underscores_ stay text\n";
        let blocks = to_blocks(md);
        let back = from_blocks(&blocks);
        // Blocks compared by type and text, formatting included; adjacent
        // items formatted alike count as one (the parser may split text
        // at an escaped character).
        let strip = |bs: Vec<Block>| -> Vec<(String, Vec<(String, String)>)> {
            bs.iter()
                .map(|b| {
                    let kind = serde_json::to_value(b).expect("json")["type"].to_string();
                    let mut items: Vec<(String, String)> = Vec::new();
                    for t in b.rich_text().unwrap_or_default() {
                        let format = format!("{:?}{:?}", t.annotations, t.href);
                        match items.last_mut() {
                            Some((f, text)) if *f == format => text.push_str(&t.plain_text),
                            _ => items.push((format, t.plain_text.clone())),
                        }
                    }
                    if items.is_empty() {
                        items.push((String::new(), b.plain_text()));
                    }
                    (kind, items)
                })
                .collect()
        };
        assert_eq!(strip(to_blocks(&back)), strip(blocks), "{back}");
        // Stable: a second round gives the same text.
        assert_eq!(from_blocks(&to_blocks(&back)), back);
        assert!(back.contains("- [x] done\n- [ ] open"), "{back}");
        assert!(
            back.contains("stars \\* and\\_underscores\\_ stay text"),
            "{back}"
        );
    }

    #[test]
    fn blocks_are_what_notion_sends() {
        // Built as values, they read back from their JSON unchanged, as
        // Notion's own blocks do (rich text keeps its `type` and `text`).
        let blocks = to_blocks("Some *text* [here](https://example.com).\n\n---\n\n- [ ] open\n");
        let json = serde_json::to_value(&blocks).expect("serialises");
        let again: Vec<Block> = serde_json::from_value(json.clone()).expect("parses");
        assert_eq!(again, blocks);
        assert_eq!(json[0]["type"], "paragraph");
        let link = &json[0]["paragraph"]["rich_text"][3];
        assert_eq!(link["type"], "text");
        assert_eq!(link["text"]["link"]["url"], "https://example.com");
        assert_eq!(link["href"], "https://example.com");
        assert_eq!(json[1]["type"], "divider");
        assert_eq!(json[2]["to_do"]["checked"], false);
    }
}
