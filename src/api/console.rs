//! The phase console: its view (any signed-in account), and operator
//! actions (operators and admins, recorded as theirs). Every rule is
//! enforced by the console service on the server, whatever the buttons say.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::account::Role;

use crate::model::console::{ConsoleView, DryRunSql, PhaseAction};
use crate::model::{AppError, Phase};

#[server]
pub async fn get_console(name: String) -> Result<ConsoleView, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let console = crate::server::context::console()?;
    Ok(console.view(&name).await?)
}

/// The SQL `phase` executes (its dry run), loaded when the page asks for
/// it: the console view does not carry it.
#[server]
pub async fn get_dry_run(name: String, phase: Phase) -> Result<DryRunSql, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let console = crate::server::context::console()?;
    let (recipe_hash, sql) = console.dry_run_sql(&name, phase).await?;
    Ok(DryRunSql {
        recipe_hash,
        sql: sql.join("\n"),
    })
}

#[server]
pub async fn act_on_phase(
    name: String,
    phase: Phase,
    action: PhaseAction,
    accept_quarantine: bool,
) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let console = crate::server::context::console()?;
    Ok(console
        .act(&name, phase, action, accept_quarantine, &account.email)
        .await?)
}

#[server]
pub async fn set_throttle(
    name: String,
    target_batch_ms: i32,
    throttle_ms: i32,
) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let console = crate::server::context::console()?;
    Ok(console
        .throttle(&name, target_batch_ms, throttle_ms, &account.email)
        .await?)
}

/// "Rehearse on a sample": copies `percent` % of the source into a scratch
/// schema and runs every phase and rollback there (in the background);
/// the console shows the report. Returns the rehearsal's id.
#[server]
pub async fn rehearse(name: String, percent: f64) -> Result<i64, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let console = crate::server::context::console()?;
    Ok(console.rehearse(&name, percent, &account.email).await?)
}
