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
