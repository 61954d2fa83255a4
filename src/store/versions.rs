//! A migration's data version: one short statement whose answer changes
//! when anything a migration's page shows changes. The page cache
//! (`server::page_cache`) serves a page again only while it reads the same
//! version as when the page was rendered (and for at most `MAX_AGE`).
//!
//! It does not rely on our code announcing its writes: the application's
//! own writes reach the quarantine and the unmapped-key counts during
//! dual-write without any event, and a test or an operator may change a row
//! by hand. So each watched table contributes the number of the
//! migration's rows and the sum of their `xmin`s: an insert or update gives
//! a row a new transaction id, a delete changes the count, and a sum (not
//! the newest id) also moves when transactions commit out of order. The
//! event log is append-only and contributes its newest id; the runner's lock
//! is asked as the console asks it. Two exceptions, bounded by the cache's
//! `MAX_AGE`: the quarantine contributes its count only (its rows carry whole
//! documents: reading them all per request would cost more than the page),
//! so a reason rewritten in place shows within a second; and an event whose
//! transaction commits after a later one's shows within a second.

use sqlx::PgPool;

use super::StoreResult;
use crate::engine::state::{lock_granted_sql, RUNNER_LOCK};

/// The pages the cache keeps, each with what it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Page {
    /// The phase console (`/m/{name}/phases`).
    Console,
    /// A share link's page (`/s/{token}`): spec, plan, board, phases.
    Shared,
}

/// Tables a migration's pages read, each with the condition selecting the
/// migration's rows (`m` is the migration's row), and the pages showing
/// them. A page served from the cache must show nothing read from a table
/// missing here.
pub const WATCHED: &[(&str, &str, &[Page])] = &[
    ("phase_states", "t.migration_id = m.id", BOTH),
    ("plan_phases", "t.migration_id = m.id", BOTH),
    ("plan_phase_dependencies", "t.migration_id = m.id", BOTH),
    ("plans", "t.migration_id = m.id", &[Page::Shared]),
    ("specs", "t.migration_id = m.id", &[Page::Shared]),
    ("tasks", "t.migration_id = m.id", BOTH),
    (
        "acceptance_criteria",
        "t.task_id IN (SELECT id FROM switchyard.tasks WHERE migration_id = m.id)",
        BOTH,
    ),
    (
        "task_dependencies",
        "t.task_id IN (SELECT id FROM switchyard.tasks WHERE migration_id = m.id)",
        &[Page::Shared],
    ),
    ("backfill_progress", "t.migration_name = m.name", BOTH),
    (
        "unmapped_keys",
        "t.migration_name = m.name",
        &[Page::Console],
    ),
    ("read_flags", "t.migration_name = m.name", &[Page::Console]),
    ("approvals", "t.migration_id = m.id", &[Page::Console]),
    (
        "approval_policies",
        "t.migration_id = m.id",
        &[Page::Console],
    ),
    ("acceptances", "t.migration_name = m.name", &[Page::Console]),
    // The recipe the console runs until phase 1 pins one (its dry run).
    ("recipes", "t.migration_id = m.id", &[Page::Console]),
    // Rehearsals' reports (a step is added without an event).
    ("rehearsals", "t.migration_id = m.id", &[Page::Console]),
];

/// Counted, not summed (see the module's comment), on the console only.
pub const COUNTED: &str = "quarantine";

const BOTH: &[Page] = &[Page::Console, Page::Shared];

/// What a page of migration `name` depends on that can change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The watched rows' counts and newest transaction ids, the newest
    /// event and whether a runner is active, as one text.
    pub data: String,
    /// The recipe file the console reads (a file changes without any row).
    pub recipe_path: Option<String>,
}

/// The statement for `page`: $1 the migration's name, $2 the runner lock's class.
fn statement(page: Page) -> String {
    let tables: Vec<String> = WATCHED
        .iter()
        .filter(|(_, _, pages)| pages.contains(&page))
        .map(|(table, mine, _)| {
            format!(
                "(SELECT count(*) || '.' || coalesce(sum(t.xmin::text::bigint), 0)
                  FROM switchyard.{table} t WHERE {mine})"
            )
        })
        .collect();
    let console_only = match page {
        Page::Console => format!(
            "{runner},
             (SELECT count(*) FROM switchyard.{COUNTED} t WHERE t.migration_name = m.name),",
            runner = lock_granted_sql("m.name", "$2", "true"),
        ),
        Page::Shared => "$2::text IS NULL,".to_string(),
    };
    format!(
        "SELECT concat_ws(':', m.xmin::text,
             (SELECT max(e.id) FROM switchyard.events e WHERE e.migration_id = m.id),
             {console_only}
             {tables}),
           m.recipe_path
         FROM switchyard.migrations m WHERE m.name = $1",
        tables = tables.join(",\n             "),
    )
}

static CONSOLE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| statement(Page::Console));
static SHARED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| statement(Page::Shared));

/// The version of what `page` shows of migration `name` now; None when
/// there is no such migration.
pub async fn of(pool: &PgPool, page: Page, name: &str) -> StoreResult<Option<Version>> {
    let sql = match page {
        Page::Console => CONSOLE.as_str(),
        Page::Shared => SHARED.as_str(),
    };
    let row: Option<(String, Option<String>)> = sqlx::query_as(sql)
        .bind(name)
        .bind(RUNNER_LOCK)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(data, recipe_path)| Version { data, recipe_path }))
}
