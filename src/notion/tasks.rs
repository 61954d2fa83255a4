//! Tasks in the team's Notion data source: the mapping of our task fields
//! to its properties, proposed from the data source's schema by name and
//! type (`propose`) and changed by an operator (`choose`); and a task's
//! mapped fields on either side as comparable values (`Side`): the board's
//! (`board_side`) and Notion's, normalised (`notion_side`: option names,
//! user ids, page ids), with the conversions between them.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::wire::{plain_text_of, DataSource, Page, User};
use crate::domain::notion_id::NotionId;
use crate::model::mirror::{FieldMapping, PropertyChoice, TaskField, TaskMapping};
use crate::model::TaskView;

/// The acceptance criteria's key in a `Side` (to-do blocks in Notion).
pub const CRITERIA: &str = "criteria";

/// One side's values of a task's mapped fields, by field name
/// (`TaskField::as_str`, and `CRITERIA`).
pub type Side = BTreeMap<String, Value>;

/// Lower-case letters and digits only: "In progress" and "in-progress"
/// are one name.
fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The data source's properties, in the schema's order of names.
pub fn properties_of(ds: &DataSource) -> Vec<PropertyChoice> {
    let mut out: Vec<PropertyChoice> = ds
        .properties
        .iter()
        .map(|(name, prop)| {
            let kind = prop
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let options = prop
                .get(&kind)
                .and_then(|k| k.get("options"))
                .and_then(Value::as_array)
                .map(|opts| {
                    opts.iter()
                        .filter_map(|o| o.get("name").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let relation_to = prop
                .pointer("/relation/data_source_id")
                .and_then(Value::as_str)
                .and_then(|id| NotionId::parse(id).ok())
                .map(|id| id.to_string());
            PropertyChoice {
                name: name.clone(),
                kind,
                options,
                relation_to,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Names a property of each field is likely to have, best first.
fn names_for(field: TaskField) -> &'static [&'static str] {
    match field {
        TaskField::Title => &["task", "name", "title"],
        TaskField::Status => &["status", "state", "stage", "column"],
        TaskField::Priority => &["priority", "prio", "importance", "urgency"],
        TaskField::Assignee => &["assignee", "assignees", "assignedto", "owner", "person"],
        TaskField::Sprint => &["sprint", "iteration", "cycle"],
        TaskField::DependsOn => &[
            "dependson",
            "dependencies",
            "blockedby",
            "predecessors",
            "waitingon",
        ],
    }
}

/// Option names each of our values is likely to have, best first.
fn option_names_for(value: &str) -> &'static [&'static str] {
    match value {
        "To Do" => &["todo", "notstarted", "backlog", "open", "new"],
        "In Progress" => &["inprogress", "doing", "started", "wip", "active"],
        "Blocked" => &["blocked", "onhold", "waiting", "stuck"],
        "Done" => &["done", "complete", "completed", "finished", "closed"],
        "Low" => &["low", "p3", "minor"],
        "Medium" => &["medium", "med", "normal", "p2"],
        "High" => &["high", "p1", "major"],
        "Critical" => &["critical", "urgent", "p0", "highest", "blocker"],
        _ => &[],
    }
}

/// Our values matched to the property's options by name.
fn match_options(field: TaskField, prop: &PropertyChoice) -> Vec<(String, Option<String>)> {
    field
        .our_values()
        .into_iter()
        .map(|ours| {
            let theirs = option_names_for(ours)
                .iter()
                .find_map(|want| prop.options.iter().find(|o| norm(o) == *want).cloned());
            (ours.to_string(), theirs)
        })
        .collect()
}

fn mapping_to(field: TaskField, prop: &PropertyChoice) -> FieldMapping {
    FieldMapping {
        field,
        property: prop.name.clone(),
        kind: prop.kind.clone(),
        values: match_options(field, prop),
        relation_to: prop.relation_to.clone(),
    }
}

/// The proposed mapping: for each field, the property of a fitting type
/// whose name says it is that field. Where no name says so, only a
/// property that cannot be mistaken is taken (the title; the only `status`
/// property for Status; the only `people` property for Assignee; the only
/// relation to the same data source for dependencies); anything else is
/// left unmapped, to be named as missing, never guessed.
pub fn propose(data_source: &NotionId, props: &[PropertyChoice]) -> TaskMapping {
    let mut fields = Vec::new();
    let mut taken: Vec<&str> = Vec::new();
    for field in TaskField::ALL {
        let fitting: Vec<&PropertyChoice> = props
            .iter()
            .filter(|p| field.fits(p, data_source.as_str()) && !taken.contains(&p.name.as_str()))
            .collect();
        let by_name = names_for(field)
            .iter()
            .find_map(|want| fitting.iter().find(|p| norm(&p.name) == *want));
        let only = |kind: &str| {
            let of_kind: Vec<&&PropertyChoice> =
                fitting.iter().filter(|p| p.kind == kind).collect();
            (of_kind.len() == 1).then(|| of_kind[0])
        };
        let chosen = by_name.or_else(|| match field {
            TaskField::Title => only("title"),
            TaskField::Status => only("status"),
            TaskField::Assignee => only("people"),
            TaskField::DependsOn => only("relation"),
            TaskField::Priority | TaskField::Sprint => None,
        });
        if let Some(prop) = chosen {
            taken.push(prop.name.as_str());
            fields.push(mapping_to(field, prop));
        }
    }
    TaskMapping { fields }
}

/// An operator's choice for one field: `property` (empty: not mirrored),
/// and for status and priority the option each of our values becomes
/// (`options`: our value → option name; a value not given, or an option
/// the property does not have, is matched by name as proposed).
pub fn choose(
    data_source: &NotionId,
    props: &[PropertyChoice],
    field: TaskField,
    property: &str,
    options: &BTreeMap<String, String>,
) -> Result<Option<FieldMapping>, String> {
    let property = property.trim();
    if property.is_empty() {
        if field == TaskField::Title {
            return Err("the task's title must be mapped to the title property".into());
        }
        return Ok(None);
    }
    let prop = props
        .iter()
        .find(|p| p.name == property)
        .ok_or_else(|| format!("the data source has no property “{property}”"))?;
    if !field.fits(prop, data_source.as_str()) {
        return Err(if field == TaskField::DependsOn {
            format!("“{property}” is not a relation to this same data source")
        } else if field == TaskField::Sprint && prop.kind == "relation" {
            format!("“{property}” is a relation to this same data source (or to none): its pages are not sprints")
        } else {
            format!(
                "“{property}” is a {} property; {} takes {}",
                prop.kind,
                field.label(),
                field.kinds().join(" or ")
            )
        });
    }
    let mut mapping = mapping_to(field, prop);
    for (ours, theirs) in mapping.values.iter_mut() {
        if let Some(chosen) = options.get(ours.as_str()) {
            if chosen.is_empty() {
                *theirs = None;
            } else if prop.options.contains(chosen) {
                *theirs = Some(chosen.clone());
            }
        }
    }
    Ok(Some(mapping))
}

// ---- a task's values on either side -----------------------------------------

/// The board's values of the mapped fields (and the criteria).
pub fn board_side(task: &TaskView, mapping: &TaskMapping) -> Side {
    let mut side = Side::new();
    for m in &mapping.fields {
        let value = match m.field {
            TaskField::Title => json!(task.title),
            TaskField::Status => json!(task.status.as_str()),
            TaskField::Priority => json!(task.priority.as_str()),
            TaskField::Assignee => json!(task.assignee),
            TaskField::Sprint => json!(task.sprint),
            TaskField::DependsOn => {
                let mut ids: Vec<i64> = task.depends_on.iter().map(|d| d.id).collect();
                ids.sort_unstable();
                json!(ids)
            }
        };
        side.insert(m.field.as_str().to_string(), value);
    }
    let criteria: Vec<Value> = task
        .criteria
        .iter()
        .map(|c| json!([c.text, c.done]))
        .collect();
    side.insert(CRITERIA.into(), Value::Array(criteria));
    side
}

/// A page's to-do blocks (top level) with their ids: the criteria.
pub fn todo_blocks(children: &[Value]) -> Vec<(NotionId, String, bool)> {
    children
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("to_do"))
        .filter_map(|b| {
            let id = NotionId::parse(b.get("id")?.as_str()?).ok()?;
            let text = plain_text_of(b.pointer("/to_do/rich_text")?);
            let checked = b
                .pointer("/to_do/checked")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            Some((id, text, checked))
        })
        .collect()
}

/// Notion's values of the mapped properties (normalised), and the criteria
/// from the page's to-do blocks.
pub fn notion_side(page: &Page, children: &[Value], mapping: &TaskMapping) -> Side {
    let mut side = Side::new();
    for m in &mapping.fields {
        let prop = page.properties.get(&m.property);
        let raw = prop.and_then(|p| p.get(&m.kind));
        let value = match m.kind.as_str() {
            "title" | "rich_text" => json!(raw.map(plain_text_of).unwrap_or_default()),
            "status" | "select" => json!(raw.and_then(|v| v.get("name")).and_then(Value::as_str)),
            "multi_select" => json!(raw
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|o| o.get("name"))
                .and_then(Value::as_str)),
            "people" => json!(raw
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|u| u.get("id"))
                .and_then(Value::as_str)),
            "relation" => {
                let mut ids: Vec<String> = raw
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| r.get("id").and_then(Value::as_str))
                            .filter_map(|id| NotionId::parse(id).ok())
                            .map(|id| id.to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                ids.sort();
                json!(ids)
            }
            _ => Value::Null,
        };
        side.insert(m.field.as_str().to_string(), value);
    }
    let criteria: Vec<Value> = todo_blocks(children)
        .into_iter()
        .map(|(_, text, done)| json!([text, done]))
        .collect();
    side.insert(CRITERIA.into(), Value::Array(criteria));
    side
}

/// What translates values between the sides: the workspace's people,
/// which page each task has, and the sprints' pages.
pub struct Lookup {
    pub users: Vec<User>,
    /// Task id ↔ page id, for the migration's tasks that have a page.
    pub pages: Vec<(i64, String)>,
    /// Page id ↔ title of the sprints a Sprint relation points to (empty
    /// unless Sprint is mapped to a relation).
    pub sprints: Vec<(String, String)>,
    /// Whether the sprints could be read (always, unless Sprint is a
    /// relation to a data source the integration cannot read).
    pub sprints_read: bool,
}

impl Lookup {
    /// The Notion person an assignee names: by email, else by name (whole,
    /// then first name), case-insensitively.
    pub fn user_for(&self, assignee: &str) -> Option<&User> {
        let want = assignee.trim().to_lowercase();
        let people = || {
            self.users
                .iter()
                .filter(|u| u.kind.as_deref() != Some("bot"))
        };
        people()
            .find(|u| {
                u.person
                    .as_ref()
                    .and_then(|p| p.email.as_deref())
                    .is_some_and(|e| e.to_lowercase() == want)
            })
            .or_else(|| {
                people().find(|u| u.name.as_deref().is_some_and(|n| n.to_lowercase() == want))
            })
    }

    /// The name the board shows for a Notion user.
    pub fn name_of(&self, user: &str) -> Option<String> {
        self.users
            .iter()
            .find(|u| u.id.as_str() == user)
            .and_then(|u| {
                u.name
                    .clone()
                    .or_else(|| u.person.as_ref().and_then(|p| p.email.clone()))
            })
    }

    fn page_of(&self, task: i64) -> Option<&str> {
        self.pages
            .iter()
            .find(|(t, _)| *t == task)
            .map(|(_, p)| p.as_str())
    }

    fn task_of(&self, page: &str) -> Option<i64> {
        self.pages.iter().find(|(_, p)| p == page).map(|(t, _)| *t)
    }

    /// The sprint page a board's sprint names: its title, as typed or
    /// by its letters and digits alone (case, spaces and punctuation
    /// ignored); None when no page or several have it.
    fn sprint_page(&self, name: &str) -> Option<&str> {
        let exact: Vec<&(String, String)> = self
            .sprints
            .iter()
            .filter(|(_, t)| t.trim() == name.trim())
            .collect();
        let found = if exact.is_empty() {
            self.sprints
                .iter()
                .filter(|(_, t)| norm(t) == norm(name))
                .collect()
        } else {
            exact
        };
        match found.as_slice() {
            [(page, _)] => Some(page.as_str()),
            _ => None,
        }
    }

    fn sprint_title(&self, page: &str) -> Option<&str> {
        self.sprints
            .iter()
            .find(|(p, _)| p == page)
            .map(|(_, t)| t.as_str())
    }
}

/// A board value as Notion's normalised value; None when Notion cannot
/// hold it (no option for it, no such person, a dependency without a page
/// yet: the property is then left as it is).
pub fn to_notion(m: &FieldMapping, board: &Value, lookup: &Lookup) -> Option<Value> {
    match m.field {
        TaskField::Title => Some(board.clone()),
        TaskField::Status | TaskField::Priority => board
            .as_str()
            .and_then(|v| m.option_for(v))
            .map(|o| json!(o)),
        // A relation holds sprint pages: the one titled as the board says.
        TaskField::Sprint if m.kind == "relation" => match board.as_str() {
            None => Some(json!([])),
            Some(name) => lookup.sprint_page(name).map(|p| json!([p])),
        },
        TaskField::Sprint => Some(board.clone()),
        TaskField::Assignee => match board.as_str() {
            None => Some(Value::Null),
            Some(name) => lookup.user_for(name).map(|u| json!(u.id.as_str())),
        },
        TaskField::DependsOn => {
            let ids: Vec<i64> = serde_json::from_value(board.clone()).ok()?;
            let mut pages = Vec::new();
            for id in ids {
                pages.push(lookup.page_of(id)?.to_string());
            }
            pages.sort();
            Some(json!(pages))
        }
    }
}

/// A Notion value (normalised) as the board's; None when the board cannot
/// hold it (an option mapped to none of our values, an unknown person, a
/// related page that is no task of this migration).
pub fn to_board(m: &FieldMapping, notion: &Value, lookup: &Lookup) -> Option<Value> {
    match m.field {
        TaskField::Title => notion
            .as_str()
            .filter(|t| !t.trim().is_empty())
            .map(|t| json!(t)),
        TaskField::Status | TaskField::Priority => notion
            .as_str()
            .and_then(|o| m.value_for(o))
            .map(|v| json!(v)),
        // The related sprint pages' titles (several: joined, which names
        // no page, so the board's value is never written back over them).
        TaskField::Sprint if m.kind == "relation" => {
            let pages: Vec<String> = serde_json::from_value(notion.clone()).ok()?;
            let mut titles = Vec::new();
            for page in &pages {
                titles.push(lookup.sprint_title(page)?.to_string());
            }
            titles.sort();
            Some(if titles.is_empty() {
                Value::Null
            } else {
                json!(titles.join(", "))
            })
        }
        TaskField::Sprint => Some(notion.clone()),
        TaskField::Assignee => match notion.as_str() {
            None => Some(Value::Null),
            Some(user) => lookup.name_of(user).map(|n| json!(n)),
        },
        TaskField::DependsOn => {
            let pages: Vec<String> = serde_json::from_value(notion.clone()).ok()?;
            let mut ids = Vec::new();
            for page in pages {
                ids.push(lookup.task_of(&page)?);
            }
            ids.sort_unstable();
            Some(json!(ids))
        }
    }
}

/// A normalised Notion value as the property value a request sets.
pub fn property_value(m: &FieldMapping, notion: &Value) -> Value {
    let name = |v: &Value| {
        v.as_str()
            .map(|n| json!({ "name": n }))
            .unwrap_or(Value::Null)
    };
    let value = match m.kind.as_str() {
        "title" | "rich_text" => {
            json!([ { "type": "text", "text": { "content": notion.as_str().unwrap_or_default() } } ])
        }
        "status" | "select" => name(notion),
        "multi_select" => match notion.as_str() {
            Some(n) => json!([ { "name": n } ]),
            None => json!([]),
        },
        "people" => match notion.as_str() {
            Some(id) => json!([ { "object": "user", "id": id } ]),
            None => json!([]),
        },
        "relation" => json!(notion
            .as_array()
            .map(|ids| ids.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>())
            .unwrap_or_default()),
        _ => Value::Null,
    };
    let mut out = serde_json::Map::new();
    out.insert(m.kind.clone(), value);
    Value::Object(out)
}

/// `property_value` for a page whose property holds `current` now (its
/// value as a page object gives it): the board holds one person and one
/// option, Notion's first, so writing a people or multi-select property
/// replaces that first one only, and the other people and options a
/// person set in Notion stay. Emptied on the board, it is emptied: kept,
/// the second would become Notion's first and come back to the board.
pub fn property_value_over(m: &FieldMapping, notion: &Value, current: Option<&Value>) -> Value {
    let mut out = property_value(m, notion);
    if notion.is_null() {
        return out;
    }
    let key = match m.kind.as_str() {
        "people" => "id",
        "multi_select" => "name",
        _ => return out,
    };
    let others: Vec<Value> = current
        .and_then(|c| c.get(&m.kind))
        .and_then(Value::as_array)
        .map(|items| items.iter().skip(1).cloned().collect())
        .unwrap_or_default();
    if let Some(Value::Array(items)) = out.get_mut(&m.kind) {
        for other in others {
            let same = |i: &Value| i.get(key).is_some() && i.get(key) == other.get(key);
            if !items.iter().any(same) {
                let kept = match other.get(key) {
                    Some(v) if key == "id" => json!({ "object": "user", "id": v }),
                    Some(v) => json!({ "name": v }),
                    None => continue,
                };
                items.push(kept);
            }
        }
    }
    out
}

/// A criterion as a to-do block.
pub fn todo_block(text: &str, done: bool) -> Value {
    json!({ "object": "block", "type": "to_do",
        "to_do": { "rich_text": [ { "type": "text", "text": { "content": text } } ], "checked": done } })
}

/// A criteria value (`[[text, done], …]`) as pairs.
pub fn criteria_of(value: &Value) -> Vec<(String, bool)> {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

/// Shown to a person: a side's value of `field`, as the board would say it.
pub fn describe(field: &str, value: &Value) -> String {
    match value {
        Value::Null => "(empty)".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) if field == CRITERIA => criteria_of(&Value::Array(items.clone()))
            .into_iter()
            .map(|(t, d)| format!("[{}] {t}", if d { "x" } else { " " }))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &str, kind: &str, options: &[&str], relation_to: Option<&str>) -> PropertyChoice {
        PropertyChoice {
            name: name.into(),
            kind: kind.into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            relation_to: relation_to.map(str::to_string),
        }
    }

    #[test]
    fn options_match_by_name_and_missing_ones_are_named() {
        let ds = NotionId::from_u128(7);
        let props = vec![
            prop("Name", "title", &[], None),
            prop("Stage", "select", &["Backlog", "Doing", "Complete"], None),
        ];
        let mapping = propose(&ds, &props);
        let status = mapping.get(TaskField::Status).expect("status");
        assert_eq!(status.option_for("To Do"), Some("Backlog"));
        assert_eq!(status.option_for("In Progress"), Some("Doing"));
        assert_eq!(status.option_for("Done"), Some("Complete"));
        assert_eq!(status.option_for("Blocked"), None);
        let missing = mapping.missing().join("\n");
        assert!(
            missing.contains("“Stage” has no option “Blocked”"),
            "{missing}"
        );
        assert!(missing.contains("Priority: no property"), "{missing}");
        // An operator's choice is checked against the schema.
        let err = choose(&ds, &props, TaskField::Assignee, "Stage", &BTreeMap::new())
            .expect_err("a select cannot hold people");
        assert!(err.contains("takes people"), "{err}");
        let chosen = choose(
            &ds,
            &props,
            TaskField::Status,
            "Stage",
            &BTreeMap::from([("Blocked".to_string(), "Doing".to_string())]),
        )
        .expect("fits")
        .expect("mapped");
        assert_eq!(chosen.option_for("Blocked"), Some("Doing"));
    }

    #[test]
    fn a_board_change_of_people_keeps_the_others_and_a_clear_empties() {
        let m = FieldMapping {
            field: TaskField::Assignee,
            property: "Owner".into(),
            kind: "people".into(),
            values: vec![],
            relation_to: None,
        };
        let now = json!({ "people": [ { "object": "user", "id": "a" }, { "object": "user", "id": "b" } ] });
        assert_eq!(
            property_value_over(&m, &json!("c"), Some(&now)),
            json!({ "people": [ { "object": "user", "id": "c" }, { "object": "user", "id": "b" } ] })
        );
        assert_eq!(
            property_value_over(&m, &Value::Null, Some(&now)),
            json!({ "people": [] })
        );
    }

    #[test]
    fn a_sprint_relation_points_at_another_data_source() {
        let ds = NotionId::from_u128(7);
        let sprints = NotionId::from_u128(8).to_string();
        let props = vec![
            prop("Name", "title", &[], None),
            prop("Blocked by", "relation", &[], Some(ds.as_str())),
            prop("Cycle", "relation", &[], Some(&sprints)),
        ];
        let mapping = propose(&ds, &props);
        let sprint = mapping.get(TaskField::Sprint).expect("sprint");
        assert_eq!(sprint.property, "Cycle");
        assert_eq!(sprint.relation_to.as_deref(), Some(sprints.as_str()));
        let err = choose(
            &ds,
            &props,
            TaskField::Sprint,
            "Blocked by",
            &BTreeMap::new(),
        )
        .expect_err("its pages are tasks");
        assert!(err.contains("not sprints"), "{err}");
        let err = choose(&ds, &props, TaskField::DependsOn, "Cycle", &BTreeMap::new())
            .expect_err("its pages are sprints");
        assert!(err.contains("same data source"), "{err}");

        let lookup = Lookup {
            users: vec![],
            pages: vec![],
            sprints: vec![
                ("p14".into(), "Sprint 14".into()),
                ("p15".into(), "Sprint 15".into()),
                ("dup-a".into(), "Later".into()),
                ("dup-b".into(), "later".into()),
            ],
            sprints_read: true,
        };
        assert_eq!(
            to_notion(sprint, &json!("Sprint 15"), &lookup),
            Some(json!(["p15"]))
        );
        assert_eq!(
            to_notion(sprint, &json!(" sprint14 "), &lookup),
            Some(json!(["p14"]))
        );
        assert_eq!(to_notion(sprint, &json!("Sprint 99"), &lookup), None);
        assert_eq!(
            to_notion(sprint, &json!("LATER"), &lookup),
            None,
            "two pages"
        );
        assert_eq!(to_notion(sprint, &Value::Null, &lookup), Some(json!([])));
        assert_eq!(
            to_board(sprint, &json!(["p14"]), &lookup),
            Some(json!("Sprint 14"))
        );
        assert_eq!(
            to_board(sprint, &json!(["p15", "p14"]), &lookup),
            Some(json!("Sprint 14, Sprint 15"))
        );
        assert_eq!(to_board(sprint, &json!([]), &lookup), Some(Value::Null));
        assert_eq!(to_board(sprint, &json!(["gone"]), &lookup), None);
    }
}
