//! Requirements extracted from a spec's blocks. A spec states them as list
//! items or paragraphs that start with a label ("Current: ...",
//! "Target: ...", "Must maintain: ...", "Performance: ..."); the page shows
//! them as a summary beside the rendered document.

use serde::{Deserialize, Serialize};

use crate::model::notion::{plain_text, Block, BlockKind};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Requirements {
    pub current: Vec<String>,
    pub target: Vec<String>,
    pub must_maintain: Vec<String>,
    pub performance: Vec<String>,
}

impl Requirements {
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
            && self.target.is_empty()
            && self.must_maintain.is_empty()
            && self.performance.is_empty()
    }
}

/// Walks every block (children included) and files each labelled line.
pub fn extract_requirements(blocks: &[Block]) -> Requirements {
    let mut req = Requirements::default();
    walk(blocks, &mut req);
    req
}

fn walk(blocks: &[Block], req: &mut Requirements) {
    for block in blocks {
        let text = block.plain_text();
        if let Some((label, rest)) = text.split_once(':') {
            let rest = rest.trim();
            if !rest.is_empty() {
                let bucket = match label.trim().to_ascii_lowercase().as_str() {
                    "current" => Some(&mut req.current),
                    "target" => Some(&mut req.target),
                    "must maintain" | "must keep" => Some(&mut req.must_maintain),
                    "performance" => Some(&mut req.performance),
                    _ => None,
                };
                if let Some(bucket) = bucket {
                    bucket.push(rest.to_string());
                }
            }
        }
        walk(&block.children, req);
    }
}

/// What a refresh from Notion would change: blocks added, removed and
/// changed (same block id, other content), each with its text before and
/// after. Nested blocks count on their own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SpecDiff {
    pub added: Vec<BlockChange>,
    pub removed: Vec<BlockChange>,
    pub changed: Vec<BlockChange>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockChange {
    pub id: String,
    /// The block's type as Notion names it (`paragraph`, `to_do`…).
    pub kind: String,
    pub before: String,
    pub after: String,
}

impl SpecDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// One block, flattened: where it is, what it is, what it says.
struct Flat<'a> {
    key: String,
    block: &'a Block,
}

fn flatten<'a>(blocks: &'a [Block], prefix: &str, out: &mut Vec<Flat<'a>>) {
    for (i, block) in blocks.iter().enumerate() {
        // Blocks from Notion have ids; a local spec's may not (keyed by place).
        let key = if block.id.is_empty() {
            format!("{prefix}#{i}")
        } else {
            block.id.clone()
        };
        out.push(Flat {
            key: key.clone(),
            block,
        });
        flatten(&block.children, &key, out);
    }
}

/// The name Notion gives a block's type.
pub fn kind_name(block: &Block) -> String {
    if let Some(kind) = &block.unsupported_type {
        return kind.clone();
    }
    serde_json::to_value(&block.kind)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_else(|| "unsupported".into())
}

/// A block's own text, for a person to compare (a table row's cells joined).
pub fn block_text(block: &Block) -> String {
    match &block.kind {
        BlockKind::TableRow { table_row } => table_row
            .cells
            .iter()
            .map(|c| plain_text(c))
            .collect::<Vec<_>>()
            .join(" | "),
        BlockKind::ToDo { to_do } => format!(
            "[{}] {}",
            if to_do.checked { "x" } else { " " },
            plain_text(&to_do.rich_text)
        ),
        _ => block.plain_text(),
    }
}

/// What replacing `old` by `new` changes, block by block.
pub fn diff_blocks(old: &[Block], new: &[Block]) -> SpecDiff {
    let (mut before, mut after) = (Vec::new(), Vec::new());
    flatten(old, "", &mut before);
    flatten(new, "", &mut after);
    let old_by_key: std::collections::HashMap<&str, &Block> =
        before.iter().map(|f| (f.key.as_str(), f.block)).collect();
    let new_keys: std::collections::HashSet<&str> = after.iter().map(|f| f.key.as_str()).collect();
    let mut diff = SpecDiff::default();
    for f in &after {
        match old_by_key.get(f.key.as_str()) {
            None => diff.added.push(BlockChange {
                id: f.key.clone(),
                kind: kind_name(f.block),
                before: String::new(),
                after: block_text(f.block),
            }),
            Some(previous) => {
                let same = previous.kind == f.block.kind
                    && previous.unsupported_type == f.block.unsupported_type;
                if !same {
                    diff.changed.push(BlockChange {
                        id: f.key.clone(),
                        kind: kind_name(f.block),
                        before: block_text(previous),
                        after: block_text(f.block),
                    });
                }
            }
        }
    }
    for f in &before {
        if !new_keys.contains(f.key.as_str()) {
            diff.removed.push(BlockChange {
                id: f.key.clone(),
                kind: kind_name(f.block),
                before: block_text(f.block),
                after: String::new(),
            });
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str) -> Block {
        serde_json::from_value(serde_json::json!({
            "id": "b", "type": "bulleted_list_item",
            "bulleted_list_item": {"rich_text": [{"type": "text", "plain_text": text, "href": null}]}
        }))
        .expect("valid block")
    }

    #[test]
    fn files_labelled_lines_including_nested_ones() {
        let mut parent = item("Requirements overview");
        parent.children = vec![item("Performance: 1M+ users, zero downtime")];
        let blocks = vec![
            item("Current: users.preferences jsonb"),
            item("Target: user_preferences table"),
            item("Must maintain: backward compatibility"),
            item("Unrelated: something"),
            parent,
        ];
        let req = extract_requirements(&blocks);
        assert_eq!(req.current, vec!["users.preferences jsonb"]);
        assert_eq!(req.target, vec!["user_preferences table"]);
        assert_eq!(req.must_maintain, vec!["backward compatibility"]);
        assert_eq!(req.performance, vec!["1M+ users, zero downtime"]);
    }

    #[test]
    fn diff_lists_added_removed_and_changed_blocks_nested_included() {
        let with_id = |id: &str, text: &str| {
            let mut b = item(text);
            b.id = id.into();
            b
        };
        let mut parent = with_id("p", "Parent");
        parent.children = vec![with_id("c1", "child one"), with_id("c2", "child two")];
        let old = vec![with_id("a", "Alpha"), parent.clone(), with_id("z", "Zulu")];
        let mut parent2 = parent;
        parent2.children = vec![
            with_id("c1", "child one, edited"),
            with_id("c3", "child three"),
        ];
        let new = vec![with_id("a", "Alpha"), parent2, with_id("n", "New")];

        let diff = diff_blocks(&old, &new);
        let ids = |v: &[BlockChange]| v.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&diff.added), vec!["c3", "n"]);
        assert_eq!(ids(&diff.removed), vec!["c2", "z"]);
        assert_eq!(ids(&diff.changed), vec!["c1"]);
        assert_eq!(diff.changed[0].before, "child one");
        assert_eq!(diff.changed[0].after, "child one, edited");
        assert_eq!(diff.changed[0].kind, "bulleted_list_item");
        assert!(diff_blocks(&new, &new).is_empty());
    }
}
