//! Reading migrations and their documents: any signed-in account.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::account::Role;
use crate::model::{AppError, MigrationSummary, PhaseView, PlanView, SpecView, TaskView};

#[server]
pub async fn list_migrations() -> Result<Vec<MigrationSummary>, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::list_summaries(&pool).await?)
}

#[server]
pub async fn get_migration(name: String) -> Result<MigrationSummary, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::find_summary(&pool, &name).await?)
}

#[server]
pub async fn get_spec(name: String) -> Result<SpecView, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::spec(&pool, &name).await?)
}

#[server]
pub async fn get_plan(name: String) -> Result<PlanView, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::plan(&pool, &name).await?)
}

#[server]
pub async fn get_tasks(name: String) -> Result<Vec<TaskView>, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::tasks(&pool, &name).await?)
}

#[server]
pub async fn get_phases(name: String) -> Result<Vec<PhaseView>, AppError> {
    crate::server::auth::require(Role::Viewer)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::phases(&pool, &name).await?)
}
