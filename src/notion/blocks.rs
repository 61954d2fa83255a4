//! Blocks on the wire: our `model::notion::Block` to the JSON Notion takes
//! (`to_request`), Notion's JSON back to ours (`from_response`), and the
//! request limits every outgoing block is made to fit (`fit`): at most
//! 2000 characters per rich-text item and 100 items per array. How many
//! blocks one request carries (100 per array, 2 levels of nesting, 1000
//! blocks, 500 KB) is the client's business (`client::append_blocks`).

use serde_json::{json, Map, Value};

use crate::model::notion::{Block, BlockKind, RichText};

/// Most characters in one rich-text item's `text.content` (Notion counts
/// UTF-16 code units, as JavaScript does).
pub const MAX_TEXT_CHARS: usize = 2000;
/// Most items in any array of a request (rich text, children, options…).
pub const MAX_ARRAY: usize = 100;
/// Most block elements in one request.
pub const MAX_BLOCKS_PER_REQUEST: usize = 1000;
/// Most bytes of one request's body (Notion: 500 KB; a margin is kept).
pub const MAX_PAYLOAD_BYTES: usize = 480_000;
/// Most bytes (as JSON) of the text one block carries: a block's rich text
/// past this continues in another block of the same type, so any single
/// block fits a request whatever its characters (100 items of 2000
/// characters of four UTF-8 bytes, escapes aside, would be 800 KB).
pub const MAX_BLOCK_TEXT_BYTES: usize = 100_000;
/// Levels of `children` arrays one request may carry.
pub const MAX_NESTING: usize = 2;

/// Block types whose children are other pages, not content of this one.
pub fn is_page_like(kind: &str) -> bool {
    matches!(kind, "child_page" | "child_database")
}

/// A block as Notion returned it, as ours. A type we do not render (or a
/// known type in a shape we cannot read) becomes `Unsupported`, keeping
/// its id and its type's name for the placeholder.
pub fn from_response(raw: Value) -> Block {
    let kind_name = raw
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let id = raw
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let has_children = raw
        .get("has_children")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match serde_json::from_value::<Block>(raw) {
        Ok(mut block) => {
            if block.kind == BlockKind::Unsupported {
                block.unsupported_type = Some(kind_name);
            }
            block.children.clear();
            block
        }
        Err(_) => Block {
            id,
            has_children,
            kind: BlockKind::Unsupported,
            children: Vec::new(),
            unsupported_type: Some(kind_name),
        },
    }
}

/// Our block as Notion takes it in a request, children nested inside the
/// type's object; `None` for a block that cannot be recreated (unsupported).
pub fn to_request(block: &Block) -> Option<Value> {
    if block.kind == BlockKind::Unsupported {
        return None;
    }
    let Value::Object(mut whole) = serde_json::to_value(block).ok()? else {
        return None;
    };
    let kind = whole.get("type")?.as_str()?.to_string();
    let mut body = whole.remove(&kind)?;
    if let Value::Object(fields) = &mut body {
        for key in ["rich_text", "caption"] {
            if let Some(Value::Array(items)) = fields.get_mut(key) {
                *items = items.iter().map(rich_text_request_value).collect();
            }
        }
        if let Some(Value::Array(cells)) = fields.get_mut("cells") {
            for cell in cells.iter_mut() {
                if let Value::Array(items) = cell {
                    *items = items.iter().map(rich_text_request_value).collect();
                }
            }
        }
        // An icon we could not read (a file, a custom emoji) is left out.
        if fields
            .get("icon")
            .and_then(|i| i.get("type"))
            .and_then(Value::as_str)
            == Some("other")
        {
            fields.remove("icon");
        }
        let children: Vec<Value> = block.children.iter().filter_map(to_request).collect();
        if !children.is_empty() {
            // Notion takes a heading's children only when it is a toggle,
            // which a heading with children is (our model does not keep
            // the flag).
            if kind.starts_with("heading_") {
                fields.insert("is_toggleable".into(), Value::Bool(true));
            }
            fields.insert("children".into(), Value::Array(children));
        }
    }
    let mut out = Map::new();
    out.insert("object".into(), json!("block"));
    out.insert("type".into(), json!(kind));
    out.insert(kind, body);
    Some(Value::Object(out))
}

/// A stored rich-text item as a request's `text` item (a mention or an
/// equation is sent as its plain text).
fn rich_text_request_value(item: &Value) -> Value {
    let Ok(item) = serde_json::from_value::<RichText>(item.clone()) else {
        return item.clone();
    };
    json!({
        "type": "text",
        "text": {
            "content": item.plain_text,
            "link": item.href.as_ref().map(|url| json!({ "url": url })),
        },
        "annotations": item.annotations,
    })
}

/// A request block's type name.
pub fn kind_of(block: &Value) -> Option<&str> {
    block.get("type").and_then(Value::as_str)
}

/// A request block's nested children (inside its type's object).
pub fn children_of(block: &Value) -> &[Value] {
    kind_of(block)
        .and_then(|k| block.get(k))
        .and_then(|b| b.get("children"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Takes a request block's nested children out of it.
pub fn take_children(block: &mut Value) -> Vec<Value> {
    let Some(kind) = kind_of(block).map(str::to_string) else {
        return Vec::new();
    };
    match block
        .get_mut(&kind)
        .and_then(Value::as_object_mut)
        .and_then(|b| b.remove("children"))
    {
        Some(Value::Array(children)) => children,
        _ => Vec::new(),
    }
}

/// Puts `children` back into a request block.
pub fn set_children(block: &mut Value, children: Vec<Value>) {
    let Some(kind) = kind_of(block).map(str::to_string) else {
        return;
    };
    if let Some(body) = block.get_mut(&kind).and_then(Value::as_object_mut) {
        if children.is_empty() {
            body.remove("children");
        } else {
            body.insert("children".into(), Value::Array(children));
        }
    }
}

/// Blocks (with their nested children) made to fit the per-item limits:
/// longer text split into several items with the same annotations and
/// link, more than 100 items split into several blocks of the same type
/// (the children follow the last of them). Order is kept.
pub fn fit(blocks: Vec<Value>) -> Vec<Value> {
    blocks.into_iter().flat_map(fit_one).collect()
}

/// Rich text split into items of at most 2000 characters, for a place that
/// cannot be continued in another block (a caption, a table cell): past
/// 100 items, what is cut is said in the last one rather than lost unseen.
/// `budget`: most bytes (as JSON) of what is kept.
fn fit_capped(items: &[Value], budget: usize) -> Vec<Value> {
    let mut fitted = split_rich_text(items);
    if fitted.len() <= MAX_ARRAY && bytes_of(&fitted) <= budget {
        return fitted;
    }
    // As many items as fit beside the note saying what was cut.
    let mut keep = 0;
    let mut bytes = 200;
    for item in &fitted {
        let size = json_len(item) + 1;
        if keep == MAX_ARRAY - 1 || bytes + size > budget {
            break;
        }
        keep += 1;
        bytes += size;
    }
    let cut: usize = fitted[keep..]
        .iter()
        .filter_map(|item| item.pointer("/text/content").and_then(Value::as_str))
        .map(|text| text.chars().count())
        .sum();
    fitted.truncate(keep);
    fitted.push(json!({ "type": "text", "text": { "content": format!(
        "… ({cut} more characters not sent: Notion holds at most {MAX_ARRAY} text items \
         here, and a request at most 500 KB)"
    ) } }));
    fitted
}

/// Bytes of `v` as JSON.
pub fn json_len(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(0, |b| b.len())
}

fn bytes_of(items: &[Value]) -> usize {
    items.iter().map(|i| json_len(i) + 1).sum()
}

/// Rich text cut into runs of at most `MAX_ARRAY` items and
/// `MAX_BLOCK_TEXT_BYTES` (each run at least one item).
fn runs(items: Vec<Value>) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for item in items {
        let size = json_len(&item) + 1;
        if !current.is_empty()
            && (current.len() == MAX_ARRAY || bytes + size > MAX_BLOCK_TEXT_BYTES)
        {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() || out.is_empty() {
        out.push(current);
    }
    out
}

fn fit_one(mut block: Value) -> Vec<Value> {
    let children = fit(take_children(&mut block));
    let Some(kind) = kind_of(&block).map(str::to_string) else {
        return vec![block];
    };
    let mut overflow: Vec<Vec<Value>> = Vec::new();
    if let Some(body) = block.get_mut(&kind).and_then(Value::as_object_mut) {
        if let Some(Value::Array(items)) = body.get_mut("caption") {
            *items = fit_capped(items, MAX_BLOCK_TEXT_BYTES);
        }
        if let Some(Value::Array(cells)) = body.get_mut("cells") {
            // The row's cells share one block's budget.
            let budget = MAX_BLOCK_TEXT_BYTES / cells.len().max(1);
            for cell in cells.iter_mut() {
                if let Value::Array(items) = cell {
                    *items = fit_capped(items, budget);
                }
            }
        }
        if let Some(Value::Array(items)) = body.get_mut("rich_text") {
            let mut chunks = runs(split_rich_text(items)).into_iter();
            *items = chunks.next().unwrap_or_default();
            overflow = chunks.collect();
        }
    }
    let mut out = vec![block.clone()];
    for chunk in overflow {
        let mut more = block.clone();
        if let Some(body) = more.get_mut(&kind).and_then(Value::as_object_mut) {
            body.insert("rich_text".into(), Value::Array(chunk));
        }
        out.push(more);
    }
    if let Some(last) = out.last_mut() {
        set_children(last, children);
    }
    out
}

/// Rich-text items with every `text.content` at most `MAX_TEXT_CHARS`
/// UTF-16 units long (split on character boundaries).
pub fn split_rich_text(items: &[Value]) -> Vec<Value> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let content = item
            .get("text")
            .and_then(|t| t.get("content"))
            .and_then(Value::as_str);
        match content {
            Some(content) if utf16_len(content) > MAX_TEXT_CHARS => {
                for piece in split_utf16(content, MAX_TEXT_CHARS) {
                    let mut part = item.clone();
                    if let Some(text) = part.get_mut("text").and_then(Value::as_object_mut) {
                        text.insert("content".into(), json!(piece));
                    }
                    if let Some(plain) = part.get_mut("plain_text") {
                        *plain = json!(piece);
                    }
                    out.push(part);
                }
            }
            _ => out.push(item.clone()),
        }
    }
    out
}

pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

fn split_utf16(s: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut len = 0;
    for c in s.chars() {
        if len + c.len_utf16() > max {
            out.push(std::mem::take(&mut current));
            len = 0;
        }
        current.push(c);
        len += c.len_utf16();
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The number of blocks in `block`, its nested children included.
pub fn count_blocks(block: &Value) -> usize {
    1 + children_of(block).iter().map(count_blocks).sum::<usize>()
}

/// How deep `block`'s children arrays go (0: no children).
pub fn nesting(block: &Value) -> usize {
    children_of(block)
        .iter()
        .map(|c| 1 + nesting(c))
        .max()
        .unwrap_or(0)
}

/// A paragraph request block with `text` (for code that builds pages).
pub fn paragraph(text: &str) -> Value {
    json!({
        "object": "block", "type": "paragraph",
        "paragraph": { "rich_text": [ { "type": "text", "text": { "content": text } } ] }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caption cannot continue in another block: past 100 items, the
    /// last one says how much was not sent, instead of a silent cut.
    #[test]
    fn an_overlong_caption_says_what_was_cut() {
        let caption: Vec<Value> = (0..105)
            .map(|i| json!({ "type": "text", "text": { "content": format!("{i:03}") } }))
            .collect();
        let image = json!({ "object": "block", "type": "image",
            "image": { "type": "external", "external": { "url": "https://example.com/a.png" },
                       "caption": caption } });
        let fitted = fit(vec![image]);
        let items = fitted[0]["image"]["caption"].as_array().expect("caption");
        assert_eq!(items.len(), MAX_ARRAY);
        assert_eq!(items[98]["text"]["content"], "098");
        let last = items[99]["text"]["content"].as_str().expect("text");
        assert!(last.contains("18 more characters not sent"), "{last}");
    }

    #[test]
    fn long_text_is_split_into_items_of_2000() {
        let long = "é".repeat(4500) + "😀";
        let blocks = fit(vec![paragraph(&long)]);
        assert_eq!(blocks.len(), 1);
        let items = blocks[0]["paragraph"]["rich_text"]
            .as_array()
            .expect("items");
        let lens: Vec<usize> = items
            .iter()
            .map(|i| utf16_len(i["text"]["content"].as_str().expect("content")))
            .collect();
        assert_eq!(lens, vec![2000, 2000, 502]);
        let joined: String = items
            .iter()
            .map(|i| i["text"]["content"].as_str().expect("content"))
            .collect();
        assert_eq!(joined, long);
    }

    #[test]
    fn more_than_100_items_become_several_blocks_children_last() {
        let items: Vec<Value> = (0..250)
            .map(|i| json!({ "type": "text", "text": { "content": format!("{i} ") } }))
            .collect();
        let mut block = json!({ "object": "block", "type": "paragraph",
            "paragraph": { "rich_text": items } });
        set_children(&mut block, vec![paragraph("child")]);
        let blocks = fit(vec![block]);
        assert_eq!(blocks.len(), 3);
        let sizes: Vec<usize> = blocks
            .iter()
            .map(|b| b["paragraph"]["rich_text"].as_array().map_or(0, Vec::len))
            .collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        assert!(children_of(&blocks[0]).is_empty());
        assert_eq!(children_of(&blocks[2]).len(), 1);
        assert_eq!(
            blocks[1]["paragraph"]["rich_text"][0]["text"]["content"],
            "100 "
        );
    }

    #[test]
    fn our_blocks_become_request_blocks_and_back() {
        let stored: Block = serde_json::from_value(json!({
            "id": "x", "type": "bulleted_list_item", "has_children": true,
            "bulleted_list_item": { "rich_text": [
                { "type": "text", "text": { "content": "see", "link": null }, "plain_text": "see",
                  "href": "https://example.com", "annotations": { "bold": true, "italic": false,
                  "strikethrough": false, "underline": false, "code": false, "color": "default" } }
            ], "color": "default" },
            "children": [ { "id": "y", "type": "paragraph",
                "paragraph": { "rich_text": [ { "plain_text": "inner" } ] } } ]
        }))
        .expect("block");
        let request = to_request(&stored).expect("request");
        assert!(request.get("id").is_none());
        let item = &request["bulleted_list_item"]["rich_text"][0];
        assert_eq!(item["text"]["content"], "see");
        assert_eq!(item["text"]["link"]["url"], "https://example.com");
        assert_eq!(item["annotations"]["bold"], true);
        assert_eq!(children_of(&request).len(), 1);
        assert_eq!(nesting(&request), 1);
        assert_eq!(count_blocks(&request), 2);
        assert!(request["bulleted_list_item"].get("is_toggleable").is_none());

        // A heading with children goes as a toggle heading, the only kind
        // Notion gives children.
        let heading: Block = serde_json::from_value(json!({
            "id": "h", "type": "heading_2", "has_children": true,
            "heading_2": { "rich_text": [ { "plain_text": "Phase 1" } ] },
            "children": [ { "id": "c", "type": "paragraph",
                "paragraph": { "rich_text": [ { "plain_text": "steps" } ] } } ]
        }))
        .expect("heading");
        let request = to_request(&heading).expect("request");
        assert_eq!(request["heading_2"]["is_toggleable"], true);

        let back = from_response(
            json!({ "id": "z", "type": "synced_block", "has_children": true,
            "synced_block": { "synced_from": null } }),
        );
        assert_eq!(back.kind, BlockKind::Unsupported);
        assert_eq!(back.unsupported_type.as_deref(), Some("synced_block"));
        assert_eq!(back.id, "z");
        // A known type in a shape we cannot read is kept as a placeholder too.
        let odd =
            from_response(json!({ "id": "w", "type": "to_do", "to_do": { "checked": "yes" } }));
        assert_eq!(odd.kind, BlockKind::Unsupported);
        assert_eq!(odd.unsupported_type.as_deref(), Some("to_do"));
        assert!(to_request(&odd).is_none());
    }
}
