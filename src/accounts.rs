//! The accounts service (server only): passwords, first-run setup, adding
//! accounts, and signing in with failed attempts slowed and limited. Pages,
//! endpoints and the CLI come here; SQL is in `store::accounts`.

use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sqlx::PgPool;

use crate::engine::vocab::AccountChange;
use crate::engine::Event;
use crate::model::account::Role;
use crate::store::accounts::{self as stored, Account, FailureScope};
use crate::store::events as stored_events;
use crate::store::StoreError;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (hashing cost grows with it).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// How failed sign-ins are counted and limited.
#[derive(Clone, Copy, Debug)]
pub struct SignInLimits {
    /// Failures count this long.
    pub window: Duration,
    /// Failures per account key (the email as typed) within `window` before
    /// sign-ins to it are refused; refused attempts do not count, so the
    /// account opens again `window` after the failures stopped.
    pub per_account: i64,
    /// Failures per client address within `window` before its sign-ins are
    /// refused.
    pub per_address: i64,
    /// Added to a failed attempt's answer per failure already counted for
    /// its account key, up to `max_delay`.
    pub delay_step: Duration,
    pub max_delay: Duration,
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            window: Duration::from_secs(15 * 60),
            per_account: 5,
            per_address: 30,
            delay_step: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The email is unknown, the password wrong or the account disabled:
    /// one error for all three, so the answer never tells which.
    #[error("wrong email or password")]
    WrongCredentials,
    /// Too many recent failures for this account key or address.
    #[error("too many failed sign-ins; try again later")]
    Limited,
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// First-run setup after an account exists.
    #[error("setup is done already")]
    SetupDone,
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccountError> for crate::model::AppError {
    fn from(err: AccountError) -> Self {
        use crate::model::AppError;
        match err {
            AccountError::Invalid { field, message } => AppError::invalid(field, message),
            AccountError::Store(e) => e.into(),
            AccountError::SetupDone => AppError::not_found("page"),
            e @ (AccountError::WrongCredentials | AccountError::Limited) => AppError::Forbidden {
                message: e.to_string(),
            },
            AccountError::Hash(e) => crate::server::error::internal(&e),
        }
    }
}

/// The email as stored: trimmed; refused unless it looks like an address.
pub fn parse_email(email: &str) -> Result<String, AccountError> {
    let email = email.trim();
    let invalid = |message: &str| AccountError::Invalid {
        field: "email",
        message: message.into(),
    };
    if email.len() > 254 {
        return Err(invalid("at most 254 characters"));
    }
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(email.to_string())
        }
        _ => Err(invalid("expected an email address, like dana@example.com")),
    }
}

/// Refuses passwords that are too short or too long.
pub fn check_password(password: &str) -> Result<(), AccountError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(AccountError::Invalid {
            field: "password",
            message: format!(
                "{MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters (it has {chars})"
            ),
        });
    }
    Ok(())
}

/// The password's argon2id hash (PHC string, random salt, the crate's
/// default parameters). CPU-bound: runs off the async threads.
pub async fn hash_password(password: &str) -> Result<String, AccountError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AccountError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| AccountError::Hash(e.to_string()))?
}

/// Does `password` match `hash`? A hash that does not parse matches nothing.
async fn verify_password(password: &str, hash: String) -> bool {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// A hash no password is checked against for real: an unknown email costs
/// the same argon2 work as a known one, so timing does not tell them apart.
async fn decoy_hash() -> String {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async {
            hash_password("decoy password, never anyone's")
                .await
                .unwrap_or_default()
        })
        .await
        .clone()
}

/// The key failures of `email` are counted under.
pub fn account_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Adds an account and records it in the audit log as `by`'s (the CLI:
/// `cli:NAME`).
pub async fn add_by(
    pool: &PgPool,
    email: &str,
    password: &str,
    role: Role,
    by: &str,
) -> Result<Account, AccountError> {
    let account = add(pool, email, password, role).await?;
    let event = Event::AccountAdded {
        email: account.email.clone(),
        role: account.role.as_str().into(),
    };
    stored_events::record_account_event(pool, by, &event).await?;
    Ok(account)
}

/// What an admin changes of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Role(Role),
    /// It can no longer sign in; its sessions (and their live feeds) end.
    Disable,
    /// Forget its failed sign-ins (lifts the sign-in limit now).
    Unlock,
}

/// What `change` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changed {
    Account(Account),
    /// Failed sign-ins forgotten.
    Unlocked(u64),
}

/// Changes the account `email` as `by` asks, recorded in the audit log as
/// `by`'s. `by_account`: the signed-in admin making the change (the admin
/// page), who may not change their own role or disable themself (another
/// admin must: an installation is never left without an admin by a
/// slip); the CLI passes None.
pub async fn change(
    pool: &PgPool,
    email: &str,
    change: Change,
    by: &str,
    by_account: Option<&Account>,
) -> Result<Changed, AccountError> {
    let own = by_account.is_some_and(|a| a.email.eq_ignore_ascii_case(email.trim()));
    if own && change != Change::Unlock {
        return Err(AccountError::Invalid {
            field: "email",
            message: "you cannot change your own role or disable yourself; ask another admin"
                .into(),
        });
    }
    let (changed, what) = match change {
        Change::Role(role) => (
            Changed::Account(stored::set_role(pool, email.trim(), role).await?),
            AccountChange::Role(role.as_str().into()),
        ),
        Change::Disable => (
            Changed::Account(stored::disable(pool, email.trim()).await?),
            AccountChange::Disabled,
        ),
        Change::Unlock => (
            Changed::Unlocked(stored::clear_failures(pool, &account_key(email)).await?),
            AccountChange::Unlocked,
        ),
    };
    let email = match &changed {
        Changed::Account(a) => a.email.clone(),
        Changed::Unlocked(_) => account_key(email),
    };
    let event = Event::AccountChanged {
        email,
        change: what,
    };
    stored_events::record_account_event(pool, by, &event).await?;
    Ok(changed)
}

/// Adds an account, without recording it (tests; `add_by` records it).
pub async fn add(
    pool: &PgPool,
    email: &str,
    password: &str,
    role: Role,
) -> Result<Account, AccountError> {
    let email = parse_email(email)?;
    check_password(password)?;
    let hash = hash_password(password).await?;
    Ok(stored::create(pool, &email, &hash, role).await?)
}

/// First run: creates the admin while no account exists.
pub async fn setup_admin(
    pool: &PgPool,
    email: &str,
    password: &str,
) -> Result<Account, AccountError> {
    if stored::any(pool).await? {
        return Err(AccountError::SetupDone);
    }
    let email = parse_email(email)?;
    check_password(password)?;
    let hash = hash_password(password).await?;
    stored::create_first_admin(pool, &email, &hash)
        .await?
        .ok_or(AccountError::SetupDone)
}

/// Signs `email` in with `password` from `address`. Refused without
/// checking the password while its account key or address has too many
/// recent failures; a failure is recorded for both and answered after a
/// delay that grows with the account key's failures. Every refusal for
/// credentials is the same error, whichever part was wrong.
pub async fn sign_in(
    pool: &PgPool,
    limits: &SignInLimits,
    email: &str,
    password: &str,
    address: &str,
) -> Result<Account, AccountError> {
    let key = account_key(email);
    let account_failures =
        stored::recent_failures(pool, FailureScope::Account, &key, limits.window).await?;
    let address_failures =
        stored::recent_failures(pool, FailureScope::Address, address, limits.window).await?;
    if account_failures >= limits.per_account || address_failures >= limits.per_address {
        return Err(AccountError::Limited);
    }
    let found = stored::credentials(pool, email.trim()).await?;
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), hash),
        None => (None, decoy_hash().await),
    };
    let matches = verify_password(password, hash).await;
    match account {
        Some(account) if matches && !account.disabled => {
            stored::clear_failures(pool, &key).await?;
            Ok(account)
        }
        _ => {
            stored::record_failure(pool, &key, address, limits.window).await?;
            let steps = u32::try_from(account_failures + 1).unwrap_or(u32::MAX);
            tokio::time::sleep(
                limits
                    .delay_step
                    .saturating_mul(steps)
                    .min(limits.max_delay),
            )
            .await;
            Err(AccountError::WrongCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_passwords_are_checked() {
        assert_eq!(
            parse_email(" dana@example.com ").ok().as_deref(),
            Some("dana@example.com")
        );
        for bad in [
            "dana",
            "@example.com",
            "dana@",
            "da na@example.com",
            "a@b@c",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
        assert!(check_password("short").is_err());
        assert!(check_password("long enough!").is_ok());
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse battery").await.expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify_password("correct horse battery", hash.clone()).await);
        assert!(!verify_password("correct horse battery!", hash).await);
        assert!(!verify_password("x", "not a hash".into()).await);
    }
}
