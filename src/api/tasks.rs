//! Changing the task board: operators and admins only (each change is
//! recorded as theirs). Input is parsed here (parse, don't validate):
//! unknown statuses or priorities, phases that are not 1 to 5 (or a phase's
//! name) and dependency ids that are not numbers are refused with the field
//! named; the store checks the rest, in one transaction.
//!
//! `create_task` and `update_task` take the default URL-encoded input, so
//! the board's forms post to them as plain HTML forms (`form[title]=…`) and
//! work without JavaScript: the server then redirects back to the page the
//! form was on, with a refusal encoded in the URL for the page to show.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::account::Role;

use crate::model::{AppError, TaskForm};

/// Moves a card; returns the task's new revision.
#[server]
pub async fn move_task(
    name: String,
    task_id: i64,
    status: String,
    revision: i32,
) -> Result<i32, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let status = crate::model::TaskStatus::parse_field(&status)?;
    Ok(
        crate::store::tasks::move_task(&pool, &name, task_id, status, revision, &account.email)
            .await?,
    )
}

/// Ticks or unticks an acceptance criterion; returns the task's new revision.
#[server]
pub async fn set_criterion(name: String, criterion_id: i64, done: bool) -> Result<i32, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    Ok(
        crate::store::tasks::set_criterion(&pool, &name, criterion_id, done, &account.email)
            .await?,
    )
}

/// Creates a task; returns its id. Refusals name the field, as for
/// `update_task`.
#[server]
pub async fn create_task(name: String, form: TaskForm) -> Result<i64, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let input = task_input(form)?;
    Ok(crate::store::tasks::create_task(&pool, &name, input, &account.email).await?)
}

/// Edits a task on top of `revision`; returns the new revision. Refusals name
/// the field (title, assignee, sprint, phase, depends_on, criteria, status,
/// priority); a stale revision is a conflict.
#[server]
pub async fn update_task(
    name: String,
    task_id: i64,
    revision: i32,
    form: TaskForm,
) -> Result<i32, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    let input = task_input(form)?;
    Ok(
        crate::store::tasks::update_task(&pool, &name, task_id, revision, input, &account.email)
            .await?,
    )
}

#[server]
pub async fn delete_task(name: String, task_id: i64, revision: i32) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::store::tasks::delete_task(&pool, &name, task_id, revision, &account.email).await?)
}

/// Parses a submitted form into the store's input (status, priority, phase
/// and dependency ids refused with their field named; the store checks the
/// rest).
#[cfg(feature = "ssr")]
fn task_input(form: TaskForm) -> Result<crate::store::tasks::TaskInput, AppError> {
    Ok(crate::store::tasks::TaskInput {
        status: crate::model::TaskStatus::parse_field(&form.status)?,
        priority: crate::model::Priority::parse_field(&form.priority)?,
        phase_position: parse_phase(&form.phase)?,
        depends_on: parse_ids(&form.depends_on)?,
        criteria: form.criteria.lines().map(str::to_string).collect(),
        title: form.title,
        assignee: Some(form.assignee),
        sprint: Some(form.sprint),
    })
}

/// An empty phase field is "no phase"; anything else must name a phase (its
/// number, 1 to 5, or its name).
#[cfg(feature = "ssr")]
fn parse_phase(value: &str) -> Result<Option<crate::model::Phase>, AppError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse()
        .map(Some)
        .map_err(|message| AppError::invalid("phase", message))
}

/// Dependency ids, one per form input; empty inputs are ignored.
#[cfg(feature = "ssr")]
fn parse_ids(values: &[String]) -> Result<Vec<i64>, AppError> {
    values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .map_err(|_| AppError::invalid("depends_on", format!("{v:?} is not a task id")))
        })
        .collect()
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use crate::model::Phase;

    #[test]
    fn phase_and_dependencies_parse_or_name_their_field() {
        assert_eq!(parse_phase(" "), Ok(None));
        assert_eq!(parse_phase("3"), Ok(Some(Phase::DualWrite)));
        assert_eq!(parse_phase("switch-reads"), Ok(Some(Phase::SwitchReads)));
        for bad in ["three", "9", "0"] {
            let err = parse_phase(bad).expect_err("not a phase");
            assert!(
                matches!(err, AppError::Invalid { ref field, .. } if field == "phase"),
                "{bad}: {err:?}"
            );
        }
        assert_eq!(
            parse_ids(&["4".into(), "".into(), " 7 ".into()]),
            Ok(vec![4, 7])
        );
        let err = parse_ids(&["4".into(), "x1".into()]).expect_err("not an id");
        assert!(
            matches!(err, AppError::Invalid { ref field, ref message } if field == "depends_on" && message.contains("x1")),
            "{err:?}"
        );
    }
}
