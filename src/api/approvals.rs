//! Approvals of phases 4 and 5: the policy (admins), requests (operators
//! and admins) and decisions (operators and admins other than the
//! requester). Each takes URL-encoded input, so the console's forms work
//! without JavaScript too (the server then redirects back to the page).
//! The rules are the approvals service's (`crate::approvals`).

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::model::account::Role;

use crate::model::approval::Decision;
use crate::model::{AppError, Phase};

/// Requires (`required`) or stops requiring an approval before `phase` of
/// migration `name` runs. Admins only.
#[server]
pub async fn set_approval_policy(
    name: String,
    phase: Phase,
    required: bool,
) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Admin)?;
    let pool = crate::server::context::pool()?;
    crate::approvals::set_policy(&pool, &name, phase, required, &account.email).await?;
    Ok(())
}

/// Asks for approval to run `phase` of migration `name`, saying why;
/// returns the request's id.
#[server]
pub async fn request_approval(name: String, phase: Phase, reason: String) -> Result<i64, AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    Ok(crate::approvals::request(&pool, &name, phase, &reason, &account.email).await?)
}

/// Approves or rejects request `approval` of migration `name`, with a
/// comment. Not by whoever asked.
#[server]
pub async fn decide_approval(
    name: String,
    approval: i64,
    decision: Decision,
    comment: String,
) -> Result<(), AppError> {
    let account = crate::server::auth::require(Role::Operator)?;
    let pool = crate::server::context::pool()?;
    crate::approvals::decide(
        &pool,
        &name,
        approval,
        decision,
        &comment,
        &account.email,
        account.role,
    )
    .await?;
    Ok(())
}
