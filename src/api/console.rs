//! The phase console: its view, and operator actions. Every rule is enforced
//! by the console service on the server, whatever the buttons say.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::engine::vocab::actor;

use crate::model::console::{ConsoleView, DryRunSql, PhaseAction};
use crate::model::{AppError, Phase};

#[server]
pub async fn get_console(name: String) -> Result<ConsoleView, AppError> {
    let console = crate::server::context::console()?;
    Ok(console.view(&name).await?)
}

/// The SQL `phase` executes (its dry run), loaded when the page asks for
/// it: the console view does not carry it.
#[server]
pub async fn get_dry_run(name: String, phase: Phase) -> Result<DryRunSql, AppError> {
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
    let console = crate::server::context::console()?;
    // No accounts yet (SPEC section 6 comes later): actions are by `actor::WEB`.
    Ok(console
        .act(&name, phase, action, accept_quarantine, actor::WEB)
        .await?)
}

#[server]
pub async fn set_throttle(
    name: String,
    target_batch_ms: i32,
    throttle_ms: i32,
) -> Result<(), AppError> {
    let console = crate::server::context::console()?;
    Ok(console
        .throttle(&name, target_batch_ms, throttle_ms)
        .await?)
}
