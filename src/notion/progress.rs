//! Progress written back to the plan's Notion page (and to each mirrored
//! task's page, its phase's line) as the phases run: one
//! callout right after the page's marker says, per phase, its state, when
//! it started and finished, who ran it, rows done and quarantined (the
//! backfill) and a completion note. Coalesced: a page gets at most one
//! progress write per interval (`SWITCHYARD_NOTION_PROGRESS_SECS`), and
//! none when nothing changed, however many batches ran meanwhile. With the
//! migration's setting on, a finished phase's tasks move to Done (through
//! the board, so their pages follow through the task mirror).
//!
//! The plan sync leaves this block alone (it is not part of the plan's
//! editable content), and the writer touches nothing else.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::blocks;
use super::error::MirrorError;
use super::wire::Position;
use super::{NotionClient, NotionError};
use crate::domain::notion_id::NotionId;
use crate::store::progress::{self as stored, PhaseProgress};
use crate::store::StoreError;

/// The first words of the progress block.
pub const PROGRESS_PREFIX: &str = "Progress (kept current by Switchyard)";

fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn state_label(state: &str) -> &str {
    match state {
        "pending" => "Pending",
        "running" => "Running",
        "paused" => "Paused",
        "verifying" => "Verifying",
        "done" => "Done",
        "failed" => "Failed",
        "rolled_back" => "Rolled back",
        other => other,
    }
}

/// The progress block's text: a line per phase.
pub fn progress_text(phases: &[PhaseProgress]) -> String {
    let mut out = String::from(PROGRESS_PREFIX);
    for p in phases {
        out.push_str(&phase_line(p));
    }
    out
}

/// A task page's progress block: its phase's line.
pub fn task_progress_text(phase: &PhaseProgress) -> String {
    format!("{PROGRESS_PREFIX}{}", phase_line(phase))
}

/// One phase's line (starting with a line break).
fn phase_line(p: &PhaseProgress) -> String {
    {
        let mut line = format!(
            "\nPhase {}: {} — {}",
            p.position,
            p.title,
            state_label(&p.state)
        );
        if let Some(at) = &p.started_at {
            line.push_str(&format!(", started {}", time(at)));
            if let Some(by) = &p.started_by {
                line.push_str(&format!(" by {by}"));
            }
        }
        if let Some(at) = &p.finished_at {
            line.push_str(&format!(", finished {}", time(at)));
        }
        if let (Some(done), Some(total)) = (p.rows_done, p.rows_total) {
            if p.state != "pending" {
                line.push_str(&format!(", {done} of {total} rows"));
            }
        }
        if let Some(q) = p.quarantined.filter(|q| *q > 0) {
            line.push_str(&format!(", {q} quarantined"));
        }
        let note = match p.state.as_str() {
            "done" => Some("Completed."),
            "failed" => Some("Failed: see the phase console."),
            "rolled_back" => Some("Rolled back."),
            _ => None,
        };
        if let Some(note) = note {
            line.push_str(&format!(". {note}"));
        }
        line
    }
}

/// The progress block as Notion takes it.
pub fn progress_block(text: &str) -> Value {
    json!({
        "object": "block", "type": "callout",
        "callout": {
            "rich_text": blocks::split_rich_text(&[json!({ "type": "text", "text": { "content": text } })]),
            "icon": { "type": "emoji", "emoji": "📈" },
            "color": "blue_background"
        }
    })
}

/// Whether a block of the page is the progress block.
pub fn is_progress_block(block: &Value) -> bool {
    blocks::kind_of(block) == Some("callout")
        && blocks::from_response(block.clone())
            .plain_text()
            .starts_with(PROGRESS_PREFIX)
}

#[derive(Clone, Debug)]
pub struct ProgressSettings {
    /// At most one progress write per page per this long
    /// (`SWITCHYARD_NOTION_PROGRESS_SECS`).
    pub interval: Duration,
}

impl Default for ProgressSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
        }
    }
}

/// What one turn did for one migration.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Wrote {
    /// The page's progress block was written.
    pub written: bool,
    /// Tasks moved to Done because their phase finished.
    pub tasks_done: Vec<i64>,
    /// Task pages whose progress block was written (their phase changed).
    pub task_pages: Vec<i64>,
}

#[derive(Clone)]
pub struct ProgressWriter {
    pool: PgPool,
    client: NotionClient,
    settings: ProgressSettings,
}

impl ProgressWriter {
    pub fn new(pool: PgPool, client: NotionClient, settings: ProgressSettings) -> Self {
        Self {
            pool,
            client,
            settings,
        }
    }

    /// One look at every published plan and every mirrored task database
    /// (and every migration's finished phases): writes what changed, at
    /// most once per interval per page.
    pub async fn turn(&self) -> Result<Vec<(String, Wrote)>, MirrorError> {
        let mut out = Vec::new();
        let mut names = crate::store::plan_sync::published(&self.pool).await?;
        for link in crate::store::task_sync::mirrored_links(&self.pool).await? {
            if !names.contains(&link.migration_name) {
                names.push(link.migration_name);
            }
        }
        for name in names {
            match self.write(&name, false).await {
                Ok(w) => out.push((name, w)),
                Err(e) => tracing::warn!(migration = %name, error = %e,
                    "progress not written to Notion; trying again next time"),
            }
        }
        Ok(out)
    }

    /// Writes migration `name`'s progress now if it changed (`force`: even
    /// within the interval, e.g. at the end of a test or a run).
    pub async fn write(&self, name: &str, force: bool) -> Result<Wrote, MirrorError> {
        let tasks_done = stored::close_finished_phases(&self.pool, name).await?;
        let phases = stored::phases(&self.pool, name).await?;
        let task_pages = self.write_task_pages(name, &phases, force).await?;
        let Some(state) = crate::store::plan_sync::state(&self.pool, name).await? else {
            return Ok(Wrote {
                written: false,
                tasks_done,
                task_pages,
            });
        };
        let text = progress_text(&phases);
        let (last, at) = stored::last_written(&self.pool, state.migration_id).await?;
        let now = Utc::now();
        if last.as_deref() == Some(text.as_str()) || !self.due(at, now, force) {
            return Ok(Wrote {
                written: false,
                tasks_done,
                task_pages,
            });
        }
        let page = NotionId::parse(&state.page_id).map_err(|e| {
            MirrorError::Store(StoreError::Corrupt {
                what: "the plan's Notion page id".into(),
                detail: e.to_string(),
            })
        })?;
        write_block(&self.client, &page, &text).await?;
        stored::written(&self.pool, state.migration_id, &text, now).await?;
        tracing::info!(
            migration = name,
            "progress written to the plan's Notion page"
        );
        Ok(Wrote {
            written: true,
            tasks_done,
            task_pages,
        })
    }

    /// Is a page last written `at` due for another write `now`?
    fn due(&self, at: Option<DateTime<Utc>>, now: DateTime<Utc>, force: bool) -> bool {
        force
            || at.is_none_or(|at| {
                now.signed_duration_since(at).to_std().unwrap_or_default() >= self.settings.interval
            })
    }

    /// Each mirrored task linked to a phase gets that phase's line on its
    /// page, coalesced like the plan page's (when it changed, at most once
    /// per interval). A page that cannot be written is tried again after an
    /// interval and does not hold back the others.
    async fn write_task_pages(
        &self,
        name: &str,
        phases: &[PhaseProgress],
        force: bool,
    ) -> Result<Vec<i64>, MirrorError> {
        let now = Utc::now();
        let mut written = Vec::new();
        for t in stored::task_pages(&self.pool, name).await? {
            let Some(phase) = phases.iter().find(|p| p.position == t.phase) else {
                continue;
            };
            let text = task_progress_text(phase);
            if t.last_text.as_deref() == Some(text.as_str()) || !self.due(t.written_at, now, force)
            {
                continue;
            }
            let Ok(page) = NotionId::parse(&t.page_id) else {
                continue;
            };
            match write_block(&self.client, &page, &text).await {
                Ok(()) => {
                    stored::task_written(&self.pool, t.task_id, &text, now).await?;
                    written.push(t.task_id);
                }
                Err(e) => {
                    tracing::warn!(task = t.task_id, error = %e,
                        "progress not written to the task's Notion page; trying again after an interval");
                    // A page that keeps failing (in the trash, no access)
                    // costs one request per interval, not one per tick.
                    stored::task_attempted(&self.pool, t.task_id, now).await?;
                }
            }
        }
        Ok(written)
    }

    /// Writes in the background for the life of the app.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // Look often enough that a change waits at most about one
            // interval; the per-page interval bounds the writes.
            let tick = (self.settings.interval / 4).max(Duration::from_millis(200));
            loop {
                if let Err(e) = self.turn().await {
                    tracing::error!(error = %e, "progress writer: cannot read the plans");
                }
                tokio::time::sleep(tick).await;
            }
        })
    }
}

/// Updates the page's progress block in place (one write), or adds it
/// right after the marker when the page has none.
async fn write_block(
    client: &NotionClient,
    page: &NotionId,
    text: &str,
) -> Result<(), NotionError> {
    let children = client.all_block_children(page).await?;
    let block = progress_block(text);
    if let Some(existing) = children.iter().find(|b| is_progress_block(b)) {
        if let Some(id) = existing
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| NotionId::parse(id).ok())
        {
            client
                .update_block(
                    &id,
                    json!({ "callout": { "rich_text": block["callout"]["rich_text"] } }),
                )
                .await?;
            return Ok(());
        }
    }
    let position = match children
        .first()
        .and_then(|b| b.get("id"))
        .and_then(Value::as_str)
        .and_then(|id| NotionId::parse(id).ok())
    {
        Some(first) => Position::AfterBlock(first),
        None => Position::Start,
    };
    client.append_blocks(page, vec![block], position).await?;
    Ok(())
}
