//! Changing the task board. Input is parsed here (parse, don't validate):
//! unknown statuses or priorities are refused with the field named; the
//! store checks the rest, in one transaction.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::engine::vocab::actor;

use crate::model::{AppError, TaskForm};

/// Moves a card; returns the task's new revision.
#[server]
pub async fn move_task(
    name: String,
    task_id: i64,
    status: String,
    revision: i32,
) -> Result<i32, AppError> {
    let pool = crate::server::context::pool()?;
    let status = crate::model::TaskStatus::parse_field(&status)?;
    Ok(crate::store::tasks::move_task(&pool, &name, task_id, status, revision, actor::WEB).await?)
}

/// Ticks or unticks an acceptance criterion; returns the task's new revision.
#[server]
pub async fn set_criterion(name: String, criterion_id: i64, done: bool) -> Result<i32, AppError> {
    let pool = crate::server::context::pool()?;
    Ok(crate::store::tasks::set_criterion(&pool, &name, criterion_id, done, actor::WEB).await?)
}

/// Creates a task; returns its id.
#[server]
pub async fn create_task(name: String, form: TaskForm) -> Result<i64, AppError> {
    let pool = crate::server::context::pool()?;
    let input = task_input(form)?;
    Ok(crate::store::tasks::create_task(&pool, &name, input, actor::WEB).await?)
}

/// Edits a task on top of `revision`; returns the new revision. Refusals name
/// the field (title, assignee, sprint, phase, depends_on, criteria, status,
/// priority); a stale revision is a conflict.
#[server(input = leptos::server_fn::codec::Json)]
pub async fn update_task(
    name: String,
    task_id: i64,
    revision: i32,
    form: TaskForm,
) -> Result<i32, AppError> {
    let pool = crate::server::context::pool()?;
    let input = task_input(form)?;
    Ok(
        crate::store::tasks::update_task(&pool, &name, task_id, revision, input, actor::WEB)
            .await?,
    )
}

#[server]
pub async fn delete_task(name: String, task_id: i64, revision: i32) -> Result<(), AppError> {
    let pool = crate::server::context::pool()?;
    Ok(crate::store::tasks::delete_task(&pool, &name, task_id, revision, actor::WEB).await?)
}

/// Parses a submitted form into the store's input (status and priority
/// refused with their field named; the store checks the rest).
#[cfg(feature = "ssr")]
fn task_input(form: TaskForm) -> Result<crate::store::tasks::TaskInput, AppError> {
    Ok(crate::store::tasks::TaskInput {
        title: form.title,
        status: crate::model::TaskStatus::parse_field(&form.status)?,
        priority: crate::model::Priority::parse_field(&form.priority)?,
        assignee: Some(form.assignee),
        sprint: Some(form.sprint),
        phase_position: form.phase,
        depends_on: form.depends_on,
        criteria: form.criteria.lines().map(str::to_string).collect(),
    })
}
