//! A migration's data version: one short statement whose answer changes
//! whenever anything a migration's pages show may have changed. The page
//! cache (`server::page_cache`) serves a page again only while it reads the
//! same version as when the page was rendered.
//!
//! It does not rely on our code announcing its writes: the application's
//! own writes reach the quarantine and the unmapped-key counts during
//! dual-write without any event, and a test or an operator may change a row
//! by hand. So each watched table contributes the number of the
//! migration's rows and the newest `xmin` among them: an insert or update
//! brings a newer transaction id, a delete changes the count. The event log
//! is append-only and contributes its newest id; the runner's lock is asked
//! as the console asks it.

use sqlx::PgPool;

use super::StoreResult;
use crate::engine::state::{lock_granted_sql, RUNNER_LOCK};

/// Tables a migration's pages read, each with the condition selecting the
/// migration's rows (`m` is the migration's row). A page served from the
/// cache must show nothing read from a table missing here.
pub const WATCHED: &[(&str, &str)] = &[
    ("phase_states", "t.migration_id = m.id"),
    ("plan_phases", "t.migration_id = m.id"),
    ("plan_phase_dependencies", "t.migration_id = m.id"),
    ("plans", "t.migration_id = m.id"),
    ("specs", "t.migration_id = m.id"),
    ("tasks", "t.migration_id = m.id"),
    (
        "acceptance_criteria",
        "t.task_id IN (SELECT id FROM switchyard.tasks WHERE migration_id = m.id)",
    ),
    (
        "task_dependencies",
        "t.task_id IN (SELECT id FROM switchyard.tasks WHERE migration_id = m.id)",
    ),
    ("backfill_progress", "t.migration_name = m.name"),
    ("quarantine", "t.migration_name = m.name"),
    ("unmapped_keys", "t.migration_name = m.name"),
    ("read_flags", "t.migration_name = m.name"),
    ("approvals", "t.migration_id = m.id"),
    ("approval_policies", "t.migration_id = m.id"),
    ("acceptances", "t.migration_name = m.name"),
];

/// What a page of migration `name` depends on that can change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The watched rows' counts and newest transaction ids, the newest
    /// event and whether a runner is active, as one text.
    pub data: String,
    /// The recipe file the console reads (a file changes without any row).
    pub recipe_path: Option<String>,
}

static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let tables: Vec<String> = WATCHED
        .iter()
        .map(|(table, mine)| {
            format!(
                "(SELECT count(*) || '.' || coalesce(max(t.xmin::text::bigint), 0)
                  FROM switchyard.{table} t WHERE {mine})"
            )
        })
        .collect();
    format!(
        "SELECT concat_ws(':', m.xmin::text,
             (SELECT max(e.id) FROM switchyard.events e WHERE e.migration_id = m.id),
             {runner},
             {tables}),
           m.recipe_path
         FROM switchyard.migrations m WHERE m.name = $1",
        runner = lock_granted_sql("m.name", "$2", "true"),
        tables = tables.join(",\n             "),
    )
});

/// The version of migration `name` now; None when there is no such
/// migration.
pub async fn of(pool: &PgPool, name: &str) -> StoreResult<Option<Version>> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(SQL.as_str())
        .bind(name)
        .bind(RUNNER_LOCK)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(data, recipe_path)| Version { data, recipe_path }))
}
