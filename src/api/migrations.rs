//! Reading migrations and their documents.

use leptos::prelude::*;

use crate::model::{AppError, MigrationSummary, PhaseView, PlanView, SpecView, TaskView};

#[server]
pub async fn list_migrations() -> Result<Vec<MigrationSummary>, AppError> {
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::list_summaries(&pool).await?)
}

#[server]
pub async fn get_migration(name: String) -> Result<MigrationSummary, AppError> {
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::find_summary(&pool, &name).await?)
}

#[server]
pub async fn get_spec(name: String) -> Result<SpecView, AppError> {
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::spec(&pool, &name).await?)
}

#[server]
pub async fn get_plan(name: String) -> Result<PlanView, AppError> {
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::plan(&pool, &name).await?)
}

#[server]
pub async fn get_tasks(name: String) -> Result<Vec<TaskView>, AppError> {
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::tasks(&pool, &name).await?)
}

#[server]
pub async fn get_phases(name: String) -> Result<Vec<PhaseView>, AppError> {
    let pool = crate::server::context::pool()?;
    Ok(crate::store::migrations::phases(&pool, &name).await?)
}
