//! The built-in demo migration (SPEC section 2): its spec as Notion blocks,
//! its plan with five phases, and its five tasks. This is data, written once
//! into Postgres by `seed`; pages read it back from there.

use serde_json::{json, Value};

use crate::model::{Phase, Priority, TaskStatus};

pub const NAME: &str = "user-preferences";
pub const TITLE: &str = "User Preferences Schema Migration";
pub const DESCRIPTION: &str = "Move user preferences from a JSON blob to a structured schema \
     for performance and data integrity.";
pub const RECIPE_PATH: &str = "recipes/user_preferences.toml";
/// The demo recipe's text, stored as its first version when seeded.
pub const RECIPE_TEXT: &str = include_str!("../../recipes/user_preferences.toml");

pub struct DemoPhase {
    pub position: Phase,
    pub title: &'static str,
    pub description: &'static str,
    pub owner: &'static str,
}

pub const PHASES: [DemoPhase; 5] = [
    DemoPhase {
        position: Phase::Expand,
        title: "Create new tables with indexes",
        description: "Create user_preferences and notification_preferences, their indexes \
                      (CONCURRENTLY) and the capture that keeps every later write.",
        owner: "Alice Chen",
    },
    DemoPhase {
        position: Phase::Backfill,
        title: "Backfill data from the JSONB column",
        description: "Copy every document into the new tables in keyset batches; \
                      unmappable documents go to quarantine.",
        owner: "Bob Martinez",
    },
    DemoPhase {
        position: Phase::DualWrite,
        title: "Dual-write mode",
        description: "Every write to users.preferences is reflected in the new tables in the \
                      same transaction.",
        owner: "Chen Wei",
    },
    DemoPhase {
        position: Phase::SwitchReads,
        title: "Switch reads to the new schema",
        description: "After a zero-difference verification, flip the read flag; writes to the \
                      new tables flow back into the JSONB column.",
        owner: "Dana Okafor",
    },
    DemoPhase {
        position: Phase::Contract,
        title: "Drop the old JSONB column",
        description: "After the soak time: back up the column, drop the triggers and the column.",
        owner: "Alice Chen",
    },
];

pub const PLAN_BODY: &str = "\
Five phases, each depending on the previous one. Every DDL runs under a short \
lock_timeout with retries so the application never queues behind us.

Rollback is possible at every step until phase 5 drops the column; the column \
is backed up first.";

pub struct DemoTask {
    pub title: &'static str,
    pub status: TaskStatus,
    pub priority: Priority,
    pub assignee: &'static str,
    pub sprint: &'static str,
    pub phase: Phase,
    /// Indexes (0-based) into `TASKS` of the tasks this one depends on.
    pub depends_on: &'static [usize],
    pub criteria: &'static [(&'static str, bool)],
}

pub const TASKS: [DemoTask; 5] = [
    DemoTask {
        title: "Write migration SQL",
        status: TaskStatus::Done,
        priority: Priority::High,
        assignee: "Alice Chen",
        sprint: "Sprint 14",
        phase: Phase::Expand,
        depends_on: &[],
        criteria: &[
            (
                "DDL for user_preferences and notification_preferences reviewed",
                true,
            ),
            ("Indexes are built CONCURRENTLY", true),
            ("Every statement runs under lock_timeout with retries", true),
        ],
    },
    DemoTask {
        title: "Implement backfill job",
        status: TaskStatus::InProgress,
        priority: Priority::Critical,
        assignee: "Bob Martinez",
        sprint: "Sprint 14",
        phase: Phase::Backfill,
        depends_on: &[0],
        criteria: &[
            ("Keyset batches with a checkpoint per batch", true),
            (
                "Resumes after a crash with nothing lost or duplicated",
                false,
            ),
            ("Malformed documents are quarantined with a reason", false),
        ],
    },
    DemoTask {
        title: "Add dual-write",
        status: TaskStatus::ToDo,
        priority: Priority::High,
        assignee: "Chen Wei",
        sprint: "Sprint 15",
        phase: Phase::DualWrite,
        depends_on: &[1],
        criteria: &[
            (
                "Inserts, updates and deletes reach the new tables in the same transaction",
                false,
            ),
            ("No write made since phase 1 is missing", false),
        ],
    },
    DemoTask {
        title: "Update read queries",
        status: TaskStatus::ToDo,
        priority: Priority::Medium,
        assignee: "Dana Okafor",
        sprint: "Sprint 15",
        phase: Phase::SwitchReads,
        depends_on: &[2],
        criteria: &[
            ("Verification reports zero differences", false),
            ("Reads switch behind the read flag", false),
        ],
    },
    DemoTask {
        title: "Rollback plan and monitoring",
        status: TaskStatus::Blocked,
        priority: Priority::Medium,
        assignee: "Alice Chen",
        sprint: "Sprint 15",
        phase: Phase::Contract,
        depends_on: &[0, 1],
        criteria: &[
            ("Each phase has a rehearsed rollback", false),
            ("Dashboards show rows/s, lag and errors", false),
        ],
    },
];

/// The spec document, exactly as Notion's API would return its blocks (with
/// nested children attached inline).
pub fn spec_blocks() -> Value {
    let mut d = Doc::default();
    let open_questions = vec![
        d.block(
            "paragraph",
            vec![
                t("Do mobile clients still write the "),
                c("notifications.sms"),
                t(" key?"),
            ],
        ),
        d.block(
            "paragraph",
            vec![
                t("How long should the soak time before phase 5 be? Proposal: "),
                b("7 days"),
                t("."),
            ],
        ),
    ];
    let blocks = vec![
        d.block("heading_1", vec![t(TITLE)]),
        d.callout(
            "💡",
            vec![
                b("Goal: "),
                t("move user preferences from a JSON blob to a structured schema for "),
                b("performance"),
                t(" and "),
                b("data integrity"),
                t(", with zero downtime."),
            ],
        ),
        d.block("heading_2", vec![t("Background")]),
        d.block(
            "paragraph",
            vec![
                t("Today every user's settings live in "),
                c("users.preferences"),
                t(", a "),
                c("jsonb"),
                t(" document. Queries that filter on a preference cannot use an index, "),
                i("nothing"),
                t(" stops a client from writing "),
                s("any shape it likes"),
                t(" an invalid value, and the document is "),
                u("rewritten whole"),
                t(" on every change. See the "),
                link(
                    "PostgreSQL JSON types documentation",
                    "https://www.postgresql.org/docs/current/datatype-json.html",
                ),
                t(" for why this hurts at "),
                colored("1M+ users", "red"),
                t("."),
            ],
        ),
        d.block("heading_2", vec![t("Requirements")]),
        d.block(
            "bulleted_list_item",
            vec![
                b("Current: "),
                c("users.preferences jsonb"),
                t(" (theme, language, timezone, and a notifications object keyed by channel: email / push / sms, each with enabled and frequency)"),
            ],
        ),
        d.block(
            "bulleted_list_item",
            vec![
                b("Target: "),
                c("user_preferences"),
                t(" (one row per user) and "),
                c("notification_preferences"),
                t(" (one row per user and channel)"),
            ],
        ),
        d.block(
            "bulleted_list_item",
            vec![b("Must maintain: "), t("backward compatibility during the migration")],
        ),
        d.block(
            "bulleted_list_item",
            vec![b("Performance: "), t("1M+ users, zero downtime")],
        ),
        d.block("heading_2", vec![t("Target schema")]),
        d.table(
            &["Table", "Column", "Type", "Rule"],
            &[
                &["user_preferences", "user_id", "bigint", "primary key, references users"],
                &["user_preferences", "theme", "text", "light | dark | system"],
                &["user_preferences", "language", "text", "BCP 47 tag, default en"],
                &["user_preferences", "timezone", "text", "IANA name, default UTC"],
                &["notification_preferences", "user_id, channel", "bigint, text", "primary key; channel email | push | sms"],
                &["notification_preferences", "enabled, frequency", "boolean, text", "frequency instant | daily | weekly | never"],
            ],
        ),
        d.code(
            "sql",
            "CREATE TABLE user_preferences (\n    user_id   bigint PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,\n    theme     text NOT NULL DEFAULT 'system' CHECK (theme IN ('light', 'dark', 'system')),\n    language  text NOT NULL DEFAULT 'en',\n    timezone  text NOT NULL DEFAULT 'UTC'\n);\n\nCREATE TABLE notification_preferences (\n    user_id   bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,\n    channel   text   NOT NULL CHECK (channel IN ('email', 'push', 'sms')),\n    enabled   boolean NOT NULL DEFAULT true,\n    frequency text   NOT NULL DEFAULT 'daily'\n              CHECK (frequency IN ('instant', 'daily', 'weekly', 'never')),\n    PRIMARY KEY (user_id, channel)\n);",
        ),
        d.block("heading_3", vec![t("Current document shape")]),
        d.code(
            "json",
            "{\n  \"theme\": \"dark\",\n  \"language\": \"en\",\n  \"timezone\": \"Europe/Berlin\",\n  \"notifications\": {\n    \"email\": {\"enabled\": true, \"frequency\": \"daily\"},\n    \"push\":  {\"enabled\": false, \"frequency\": \"never\"},\n    \"sms\":   {\"enabled\": true, \"frequency\": \"instant\"}\n  }\n}",
        ),
        d.block("heading_2", vec![t("Rollout")]),
        d.block("numbered_list_item", vec![t("Create new tables with indexes.")]),
        d.block("numbered_list_item", vec![t("Backfill data from the JSONB column.")]),
        d.block("numbered_list_item", vec![t("Dual-write mode (old and new kept in step).")]),
        d.block("numbered_list_item", vec![t("Switch reads to the new schema.")]),
        d.block("numbered_list_item", vec![t("Drop the old JSONB column.")]),
        d.block(
            "quote",
            vec![
                t("No step may block the application: every DDL runs under a short "),
                c("lock_timeout"),
                t(" and is retried with backoff."),
            ],
        ),
        d.block("heading_2", vec![t("Checklist")]),
        d.todo_item(vec![t("Spec reviewed by product")], true),
        d.todo_item(vec![t("Recipe written and checked")], true),
        d.todo_item(vec![t("Backfill benchmarked on a 1M-row copy")], false),
        d.todo_item(vec![t("Rollback rehearsed on staging")], false),
        d.with_children("toggle", vec![t("Open questions")], open_questions),
        d.divider(),
        d.block(
            "paragraph",
            vec![
                i("Owner: platform team. Questions go to "),
                link("#db-migrations", "https://chat.example.com/db-migrations"),
                i("."),
            ],
        ),
    ];
    Value::Array(blocks)
}

/// Builds blocks with stable, Notion-looking ids.
#[derive(Default)]
struct Doc {
    next: u64,
}

impl Doc {
    fn id(&mut self) -> String {
        self.next += 1;
        format!("5e1ec7ed-0000-4000-8000-{:012x}", self.next)
    }

    fn raw(&mut self, kind: &str, body: Value, children: Vec<Value>) -> Value {
        let mut block = json!({
            "object": "block",
            "id": self.id(),
            "type": kind,
            "has_children": !children.is_empty(),
            "archived": false,
            "in_trash": false,
        });
        block[kind] = body;
        if !children.is_empty() {
            block["children"] = Value::Array(children);
        }
        block
    }

    fn block(&mut self, kind: &str, rich_text: Vec<Value>) -> Value {
        let mut body = json!({ "rich_text": rich_text, "color": "default" });
        if kind.starts_with("heading_") {
            body["is_toggleable"] = json!(false);
        }
        self.raw(kind, body, vec![])
    }

    fn with_children(&mut self, kind: &str, rich_text: Vec<Value>, children: Vec<Value>) -> Value {
        self.raw(
            kind,
            json!({ "rich_text": rich_text, "color": "default" }),
            children,
        )
    }

    fn todo_item(&mut self, rich_text: Vec<Value>, checked: bool) -> Value {
        self.raw(
            "to_do",
            json!({ "rich_text": rich_text, "checked": checked, "color": "default" }),
            vec![],
        )
    }

    fn callout(&mut self, emoji: &str, rich_text: Vec<Value>) -> Value {
        self.raw(
            "callout",
            json!({
                "rich_text": rich_text,
                "icon": { "type": "emoji", "emoji": emoji },
                "color": "blue_background",
            }),
            vec![],
        )
    }

    fn code(&mut self, language: &str, source: &str) -> Value {
        self.raw(
            "code",
            json!({ "rich_text": [t(source)], "caption": [], "language": language }),
            vec![],
        )
    }

    fn divider(&mut self) -> Value {
        self.raw("divider", json!({}), vec![])
    }

    fn table(&mut self, header: &[&str], rows: &[&[&str]]) -> Value {
        let mut children = vec![self.row(header)];
        for row in rows {
            children.push(self.row(row));
        }
        self.raw(
            "table",
            json!({
                "table_width": header.len(),
                "has_column_header": true,
                "has_row_header": false,
            }),
            children,
        )
    }

    fn row(&mut self, cells: &[&str]) -> Value {
        let cells: Vec<Value> = cells.iter().map(|c| json!([t(c)])).collect();
        self.raw("table_row", json!({ "cells": cells }), vec![])
    }
}

fn rich(content: &str, annotate: &[&str], color: &str, url: Option<&str>) -> Value {
    let flag = |name: &str| annotate.contains(&name);
    json!({
        "type": "text",
        "text": { "content": content, "link": url.map(|u| json!({ "url": u })) },
        "annotations": {
            "bold": flag("bold"),
            "italic": flag("italic"),
            "strikethrough": flag("strikethrough"),
            "underline": flag("underline"),
            "code": flag("code"),
            "color": color,
        },
        "plain_text": content,
        "href": url,
    })
}

fn t(s: &str) -> Value {
    rich(s, &[], "default", None)
}
fn b(s: &str) -> Value {
    rich(s, &["bold"], "default", None)
}
fn i(s: &str) -> Value {
    rich(s, &["italic"], "default", None)
}
fn c(s: &str) -> Value {
    rich(s, &["code"], "default", None)
}
fn s(s: &str) -> Value {
    rich(s, &["strikethrough"], "default", None)
}
fn u(s: &str) -> Value {
    rich(s, &["underline"], "default", None)
}
fn colored(s: &str, color: &str) -> Value {
    rich(s, &["bold"], color, None)
}
fn link(s: &str, url: &str) -> Value {
    rich(s, &[], "default", Some(url))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::spec::extract_requirements;
    use crate::model::notion::{Block, BlockKind};

    #[test]
    fn demo_spec_parses_as_notion_blocks_with_every_rendered_type() {
        let blocks: Vec<Block> =
            serde_json::from_value(spec_blocks()).expect("demo spec is valid Notion JSON");
        let kinds: Vec<&str> = blocks
            .iter()
            .map(|b| match &b.kind {
                BlockKind::Heading1 { .. } => "h1",
                BlockKind::Heading2 { .. } => "h2",
                BlockKind::Heading3 { .. } => "h3",
                BlockKind::Paragraph { .. } => "p",
                BlockKind::BulletedListItem { .. } => "ul",
                BlockKind::NumberedListItem { .. } => "ol",
                BlockKind::ToDo { .. } => "todo",
                BlockKind::Code { .. } => "code",
                BlockKind::Quote { .. } => "quote",
                BlockKind::Callout { .. } => "callout",
                BlockKind::Table { .. } => "table",
                BlockKind::Toggle { .. } => "toggle",
                BlockKind::Divider { .. } => "divider",
                _ => "other",
            })
            .collect();
        for expected in [
            "h1", "h2", "h3", "p", "ul", "ol", "todo", "code", "quote", "callout", "table",
            "toggle", "divider",
        ] {
            assert!(kinds.contains(&expected), "demo spec lacks {expected}");
        }
        assert!(!kinds.contains(&"other"));
        let req = extract_requirements(&blocks);
        assert_eq!(req.current.len(), 1);
        assert_eq!(req.target.len(), 1);
        assert_eq!(req.must_maintain.len(), 1);
        assert_eq!(req.performance.len(), 1);
    }

    #[test]
    fn demo_task_dependencies_point_backwards() {
        for (index, task) in TASKS.iter().enumerate() {
            assert!(task.depends_on.iter().all(|d| *d < index), "{}", task.title);
        }
    }
}
