//! The accounts service (server only): passwords, first-run setup, adding
//! accounts, and signing in with failed attempts slowed and limited (per
//! account, per address, and per device cookie for trusted browsers). Pages,
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
    /// refused (whatever device cookie they carry).
    pub per_address: i64,
    /// Failures per device cookie within `window` before it no longer lets
    /// its browser past the account's limit (it is then one more client
    /// held back by `per_account`).
    pub per_device: i64,
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
            per_device: 5,
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
    /// The stored device cookie key cannot key an HMAC.
    #[error("the device cookie key is unusable: {0}")]
    DeviceKey(String),
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
            AccountError::Hash(e) | AccountError::DeviceKey(e) => {
                crate::server::error::internal(&e)
            }
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

/// At most this many argon2 computations at once (each takes about 19 MiB
/// and a core for tens of milliseconds): a burst of sign-ins waits its turn
/// instead of taking the server's memory.
fn argon2_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        tokio::sync::Semaphore::new(cores * 2)
    })
}

/// The password's argon2id hash (PHC string, random salt, the crate's
/// default parameters). CPU-bound: runs off the async threads.
pub async fn hash_password(password: &str) -> Result<String, AccountError> {
    let password = password.to_string();
    let _permit = argon2_permits()
        .acquire()
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))?;
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
    let Ok(_permit) = argon2_permits().acquire().await else {
        return false;
    };
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

/// `add_by` for a form where the password was typed twice (the Accounts
/// page): the email is checked first, then the password, then that both
/// passwords are the same (`confirm`).
pub async fn add_checked(
    pool: &PgPool,
    email: &str,
    password: &str,
    confirm: &str,
    role: Role,
    by: &str,
) -> Result<Account, AccountError> {
    parse_email(email)?;
    check_password(password)?;
    if password != confirm {
        return Err(AccountError::Invalid {
            field: "confirm",
            message: "the two passwords differ".into(),
        });
    }
    add_by(pool, email, password, role, by).await
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
            Changed::Unlocked(
                stored::clear_failures(pool, FailureScope::Account, &account_key(email)).await?,
            ),
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

/// Signs `email` in with `password` from `address`, from a client without
/// a device cookie (the CLI): `sign_in_from` with none.
pub async fn sign_in(
    pool: &PgPool,
    limits: &SignInLimits,
    email: &str,
    password: &str,
    address: &str,
) -> Result<Account, AccountError> {
    sign_in_from(pool, limits, email, password, address, None).await
}

/// Signs `email` in with `password` from `address`, with the browser's
/// device cookie `device` if it sent one (OWASP's "device cookies").
///
/// Refused without checking the password while the address has too many
/// recent failures. A valid device cookie of this very account (one
/// `device_cookie` issued after an earlier sign-in) makes the attempt a
/// trusted one: it is held back only by its own recent failures
/// (`per_device`), not by the account's, so someone guessing the password
/// elsewhere cannot keep the owner out. Without one (or with one of another
/// account, forged, or over its own limit) it is refused while the account
/// key has too many recent failures. A failure is recorded for the device
/// or the account key, and for the address, and answered after a delay that
/// grows with them. Every refusal for credentials is the same error,
/// whichever part was wrong, and a device cookie never makes an unknown
/// email behave differently (it is checked against an existing account
/// only, and only after the same look-up every attempt makes).
pub async fn sign_in_from(
    pool: &PgPool,
    limits: &SignInLimits,
    email: &str,
    password: &str,
    address: &str,
    device: Option<&str>,
) -> Result<Account, AccountError> {
    let found = stored::credentials(pool, email.trim()).await?;
    let trusted = match (device, &found) {
        (Some(cookie), Some((account, _))) => match device_nonce(pool, cookie, account.id).await? {
            Some(nonce) => {
                let failures =
                    stored::recent_failures(pool, FailureScope::Device, &nonce, limits.window)
                        .await?;
                (failures < limits.per_device).then_some((nonce, failures))
            }
            None => None,
        },
        _ => None,
    };
    let (scope, key, limit) = match trusted {
        Some((nonce, _)) => (FailureScope::Device, nonce, limits.per_device),
        None => (
            FailureScope::Account,
            account_key(email),
            limits.per_account,
        ),
    };
    // Counted as a failure before the password is checked, under locks on
    // the address and the key: parallel guesses are counted one by one.
    let Some(attempt) = stored::reserve_attempt(
        pool,
        scope,
        &key,
        limit,
        address,
        limits.per_address,
        limits.window,
    )
    .await?
    else {
        return Err(AccountError::Limited);
    };
    let failures = attempt.failures;
    let (account, hash) = match found {
        Some((account, hash)) => (Some(account), hash),
        None => (None, decoy_hash().await),
    };
    let matches = verify_password(password, hash).await;
    match account {
        Some(account) if matches && !account.disabled => {
            stored::take_back(pool, scope, &key, &attempt).await?;
            Ok(account)
        }
        _ => {
            let steps = u32::try_from(failures + 1).unwrap_or(u32::MAX);
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

/// The name of the sign-in device cookie.
pub const DEVICE_COOKIE: &str = "switchyard_device";
/// How long a device cookie is kept by the browser.
pub const DEVICE_COOKIE_DAYS: i64 = 180;
/// The server secret device cookies are signed with.
const DEVICE_SECRET: &str = "device_cookie";

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The HMAC key device cookies are signed with: 32 random bytes kept in
/// the database (`switchyard.server_secrets`), made by the first server
/// that needs them, so every instance and restart shares them.
async fn device_key(pool: &PgPool) -> Result<Vec<u8>, AccountError> {
    use rand::RngCore;
    let mut fresh = [0u8; 32];
    rand::rng().fill_bytes(&mut fresh);
    Ok(stored::secret(pool, DEVICE_SECRET, &fresh).await?)
}

fn device_mac(key: &[u8], account_id: i64, nonce: &str) -> Result<HmacSha256, AccountError> {
    use hmac::Mac;
    let mut mac =
        HmacSha256::new_from_slice(key).map_err(|e| AccountError::DeviceKey(e.to_string()))?;
    mac.update(format!("switchyard device v1|{account_id}|{nonce}").as_bytes());
    Ok(mac)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// A new device cookie value for `account` (after it signed in):
/// `v1.ACCOUNT_ID.NONCE.MAC`, NONCE 128 random bits, MAC the HMAC-SHA-256
/// of the account id and the nonce under the server's key (all hex).
pub async fn device_cookie(pool: &PgPool, account: &Account) -> Result<String, AccountError> {
    use hmac::Mac;
    use rand::RngCore;
    let key = device_key(pool).await?;
    let mut nonce = [0u8; 16];
    rand::rng().fill_bytes(&mut nonce);
    let nonce = hex(&nonce);
    let mac = device_mac(&key, account.id, &nonce)?
        .finalize()
        .into_bytes();
    Ok(format!("v1.{}.{nonce}.{}", account.id, hex(&mac)))
}

/// The nonce of `cookie` when it is a device cookie this server signed for
/// the account `account_id`; None for anything else (another account's,
/// altered, forged, malformed).
async fn device_nonce(
    pool: &PgPool,
    cookie: &str,
    account_id: i64,
) -> Result<Option<String>, AccountError> {
    use hmac::Mac;
    let mut parts = cookie.trim().split('.');
    let (Some("v1"), Some(id), Some(nonce), Some(mac), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Ok(None);
    };
    if id.parse::<i64>().ok() != Some(account_id) || nonce.len() != 32 || unhex(nonce).is_none() {
        return Ok(None);
    }
    let Some(mac) = unhex(mac) else {
        return Ok(None);
    };
    let key = device_key(pool).await?;
    let valid = device_mac(&key, account_id, nonce)?
        .verify_slice(&mac)
        .is_ok();
    Ok(valid.then(|| nonce.to_string()))
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

    #[test]
    fn hex_round_trips_and_refuses_non_hex() {
        assert_eq!(hex(&[0, 171, 255]), "00abff");
        assert_eq!(unhex("00abff"), Some(vec![0, 171, 255]));
        assert_eq!(unhex("0g"), None);
        assert_eq!(unhex("abc"), None);
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
