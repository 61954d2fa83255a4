//! Requirements extracted from a spec's blocks. A spec states them as list
//! items or paragraphs that start with a label ("Current: ...",
//! "Target: ...", "Must maintain: ...", "Performance: ..."); the page shows
//! them as a summary beside the rendered document.

use serde::{Deserialize, Serialize};

use crate::model::notion::Block;

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
}
