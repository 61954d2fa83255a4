//! Accounts as pages need them.

use leptos::prelude::*;

use crate::model::AppError;

/// Is the first-run setup open (no account exists yet)? Public knowledge:
/// it needs no role (the setup page asks it while nobody can sign in).
#[server]
pub async fn setup_open() -> Result<bool, AppError> {
    let pool = crate::server::context::pool()?;
    Ok(!crate::store::accounts::any(&pool).await?)
}

/// Audit entries the admin page shows.
#[cfg(feature = "ssr")]
const AUDIT_SHOWN: i64 = 200;

/// Every account, and the latest audit entries of every migration and of
/// none (sign-ins, account changes), newest first; only those whose actor
/// contains `actor` when it is not empty. Admins only.
#[server]
pub async fn get_admin(actor: String) -> Result<crate::model::account::AdminView, AppError> {
    use crate::model::account::{AccountRow, AdminView, AuditRow, Role};
    crate::server::auth::require(Role::Admin)?;
    let pool = crate::server::context::pool()?;
    let actor = Some(actor.trim().to_string()).filter(|a| !a.is_empty());
    let accounts = crate::store::accounts::list(&pool).await?;
    let audit = crate::store::events::audit(&pool, actor.as_deref(), AUDIT_SHOWN).await?;
    Ok(AdminView {
        accounts: accounts
            .into_iter()
            .map(|a| AccountRow {
                email: a.email,
                role: a.role,
                disabled: a.disabled,
                created_at: a.created_at,
            })
            .collect(),
        audit: audit
            .into_iter()
            .map(|e| AuditRow {
                id: e.id,
                at: e.at,
                actor: e.actor,
                migration: e.migration,
                phase: e.phase,
                kind: e.event.kind().to_string(),
                description: e.event.describe(),
            })
            .collect(),
        actor,
    })
}

/// Changes an account: its role (`role`), or disables or unlocks it.
/// Admins only, never their own role or account; recorded in the audit log.
#[server]
pub async fn change_account(
    email: String,
    action: crate::model::account::AccountAction,
    role: Option<crate::model::account::Role>,
) -> Result<(), AppError> {
    use crate::accounts::Change;
    use crate::model::account::{AccountAction, Role};
    let admin = crate::server::auth::require(Role::Admin)?;
    let pool = crate::server::context::pool()?;
    let change = match (action, role) {
        (AccountAction::SetRole, Some(role)) => Change::Role(role),
        (AccountAction::SetRole, None) => return Err(AppError::invalid("role", "choose a role")),
        (AccountAction::Disable, _) => Change::Disable,
        (AccountAction::Unlock, _) => Change::Unlock,
    };
    crate::accounts::change(&pool, &email, change, &admin.email, Some(&admin)).await?;
    Ok(())
}

/// Adds an account with `role` and an initial password typed twice (the
/// admin hands it over; see the README). Admins only; recorded in the audit
/// log with the admin as its actor. A refusal names its field (`email`,
/// `role`, `password`, `confirm`): an email taken already (any case) is a
/// refusal of `email`.
#[server]
pub async fn add_account(
    email: String,
    role: crate::model::account::Role,
    password: String,
    confirm: String,
) -> Result<(), AppError> {
    use crate::accounts::AccountError;
    use crate::model::account::Role;
    use crate::store::StoreError;
    let admin = crate::server::auth::require(Role::Admin)?;
    let pool = crate::server::context::pool()?;
    match crate::accounts::add_checked(&pool, &email, &password, &confirm, role, &admin.email).await
    {
        Ok(_) => Ok(()),
        Err(AccountError::Store(StoreError::Conflict(message))) => {
            Err(AppError::invalid("email", message))
        }
        Err(e) => Err(e.into()),
    }
}
