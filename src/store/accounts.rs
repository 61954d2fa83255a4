//! Accounts and failed sign-ins (`switchyard.accounts`,
//! `switchyard.sign_in_failures`). Passwords arrive here already hashed
//! (`accounts::hash_password`); this module never sees one in clear.

use sqlx::PgPool;

use super::{StoreError, StoreResult};
use crate::model::account::Role;

/// An account as the rest of the server sees it (no password hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

type Row = (i64, String, String, bool, chrono::DateTime<chrono::Utc>);

const COLUMNS: &str = "id, email, role, disabled_at IS NOT NULL, created_at";

fn account(row: Row) -> StoreResult<Account> {
    let (id, email, role, disabled, created_at) = row;
    let role = role.parse().map_err(|detail| StoreError::Corrupt {
        what: format!("role of account {id}"),
        detail,
    })?;
    Ok(Account {
        id,
        email,
        role,
        disabled,
        created_at,
    })
}

/// Is there any account at all (disabled ones included)?
pub async fn any(pool: &PgPool) -> StoreResult<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM switchyard.accounts)")
            .fetch_one(pool)
            .await?,
    )
}

/// Creates an account; an email already taken (in any case) is a conflict.
pub async fn create(
    pool: &PgPool,
    email: &str,
    password_hash: &str,
    role: Role,
) -> StoreResult<Account> {
    let row: Result<Row, sqlx::Error> = sqlx::query_as(&format!(
        "INSERT INTO switchyard.accounts (email, password_hash, role) VALUES ($1, $2, $3)
         RETURNING {COLUMNS}"
    ))
    .bind(email)
    .bind(password_hash)
    .bind(role.as_str())
    .fetch_one(pool)
    .await;
    match row {
        Ok(row) => account(row),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
            "an account with the email {email:?} exists already"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Creates the first account, as admin, only while there is none (two
/// first-run forms sent at once: one wins, the other gets `None`).
pub async fn create_first_admin(
    pool: &PgPool,
    email: &str,
    password_hash: &str,
) -> StoreResult<Option<Account>> {
    let mut tx = pool.begin().await?;
    // Serialises concurrent first runs; readers are not blocked.
    sqlx::query("LOCK TABLE switchyard.accounts IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM switchyard.accounts)")
        .fetch_one(&mut *tx)
        .await?;
    if exists {
        return Ok(None);
    }
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO switchyard.accounts (email, password_hash, role) VALUES ($1, $2, 'admin')
         RETURNING {COLUMNS}"
    ))
    .bind(email)
    .bind(password_hash)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    account(row).map(Some)
}

/// The account with `email` (any case) and its password hash.
pub async fn credentials(pool: &PgPool, email: &str) -> StoreResult<Option<(Account, String)>> {
    let row: Option<(
        i64,
        String,
        String,
        bool,
        chrono::DateTime<chrono::Utc>,
        String,
    )> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, password_hash FROM switchyard.accounts WHERE lower(email) = lower($1)"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await?;
    row.map(|(id, email, role, disabled, created_at, hash)| {
        account((id, email, role, disabled, created_at)).map(|a| (a, hash))
    })
    .transpose()
}

/// The account with id `id`, if it still exists.
pub async fn find(pool: &PgPool, id: i64) -> StoreResult<Option<Account>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM switchyard.accounts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(account).transpose()
}

/// Every account, oldest first.
pub async fn list(pool: &PgPool) -> StoreResult<Vec<Account>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM switchyard.accounts ORDER BY id"
    ))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(account).collect()
}

/// Gives the account with `email` the role `role`.
pub async fn set_role(pool: &PgPool, email: &str, role: Role) -> StoreResult<Account> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "UPDATE switchyard.accounts SET role = $2, updated_at = now()
         WHERE lower(email) = lower($1) RETURNING {COLUMNS}"
    ))
    .bind(email)
    .bind(role.as_str())
    .fetch_optional(pool)
    .await?;
    row.map(account)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("account {email:?}")))
}

/// Disables the account with `email`: it can no longer sign in, and its
/// sessions end at their next request (`server::auth` reads the account on
/// every request).
pub async fn disable(pool: &PgPool, email: &str) -> StoreResult<Account> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "UPDATE switchyard.accounts SET disabled_at = coalesce(disabled_at, now()), updated_at = now()
         WHERE lower(email) = lower($1) RETURNING {COLUMNS}"
    ))
    .bind(email)
    .fetch_optional(pool)
    .await?;
    row.map(account)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("account {email:?}")))
}

/// Where a failed sign-in is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureScope {
    /// The email as typed, lower-cased (whether or not an account has it).
    Account,
    /// The client's address.
    Address,
    /// A sign-in device cookie (its nonce): a trusted browser's own failures.
    Device,
}

impl FailureScope {
    fn as_str(self) -> &'static str {
        match self {
            FailureScope::Account => "account",
            FailureScope::Address => "address",
            FailureScope::Device => "device",
        }
    }
}

/// Failed sign-ins for `key` in `scope` during the last `window`.
pub async fn recent_failures(
    pool: &PgPool,
    scope: FailureScope,
    key: &str,
    window: std::time::Duration,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM switchyard.sign_in_failures
         WHERE scope = $1 AND key = $2 AND failed_at > now() - make_interval(secs => $3)",
    )
    .bind(scope.as_str())
    .bind(key)
    .bind(window.as_secs_f64())
    .fetch_one(pool)
    .await?)
}

/// An attempt counted before its password is checked (`reserve_attempt`).
#[derive(Debug)]
pub struct Reserved {
    /// Failures of the key in its window before this attempt.
    pub failures: i64,
    /// The attempt's two rows (the key's and the address's).
    ids: [i64; 2],
}

/// Counts a sign-in attempt as a failure before its password is checked,
/// unless the address already has `per_address` recent failures or `key`
/// in `scope` has `per_key` (then `None`: refused unchecked). The counts
/// and the insert happen under transaction advisory locks on the address
/// and the key, so concurrent attempts are counted one after another: a
/// burst of parallel guesses gets no more checks than the limits allow.
/// A success takes the attempt back (`take_back`) with the key's earlier
/// failures.
pub async fn reserve_attempt(
    pool: &PgPool,
    scope: FailureScope,
    key: &str,
    per_key: i64,
    address: &str,
    per_address: i64,
    window: std::time::Duration,
) -> StoreResult<Option<Reserved>> {
    let mut tx = pool.begin().await?;
    // One lock per (scope, key), address first: every attempt takes them in
    // this order, so two attempts never wait on each other in a cycle.
    for (scope, key) in [("address", address), (scope.as_str(), key)] {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('switchyard.sign_in'), hashtext($1 || ':' || $2))")
            .bind(scope)
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    let count = "SELECT count(*) FROM switchyard.sign_in_failures
                 WHERE scope = $1 AND key = $2 AND failed_at > now() - make_interval(secs => $3)";
    let at_address: i64 = sqlx::query_scalar(count)
        .bind("address")
        .bind(address)
        .bind(window.as_secs_f64())
        .fetch_one(&mut *tx)
        .await?;
    if at_address >= per_address {
        return Ok(None);
    }
    let failures: i64 = sqlx::query_scalar(count)
        .bind(scope.as_str())
        .bind(key)
        .bind(window.as_secs_f64())
        .fetch_one(&mut *tx)
        .await?;
    if failures >= per_key {
        return Ok(None);
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO switchyard.sign_in_failures (scope, key) VALUES ($1, $2), ('address', $3)
         RETURNING id",
    )
    .bind(scope.as_str())
    .bind(key)
    .bind(address)
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM switchyard.sign_in_failures WHERE failed_at < now() - make_interval(secs => $1)",
    )
    .bind(window.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let ids = match ids.as_slice() {
        [a, b] => [*a, *b],
        _ => {
            return Err(crate::store::StoreError::Invalid {
                field: "sign_in_failures".into(),
                message: "an attempt was not counted".into(),
            })
        }
    };
    Ok(Some(Reserved { failures, ids }))
}

/// A reserved attempt succeeded: it is not a failure after all, and the
/// key's earlier failures are forgotten (the address's are not).
pub async fn take_back(
    pool: &PgPool,
    scope: FailureScope,
    key: &str,
    attempt: &Reserved,
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM switchyard.sign_in_failures
         WHERE id = ANY($3) OR (scope = $1 AND key = $2)",
    )
    .bind(scope.as_str())
    .bind(key)
    .bind(&attempt.ids[..])
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets the failed sign-ins counted against `key` in `scope`.
pub async fn clear_failures(pool: &PgPool, scope: FailureScope, key: &str) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM switchyard.sign_in_failures WHERE scope = $1 AND key = $2")
            .bind(scope.as_str())
            .bind(key)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

/// The server secret `name` (`switchyard.server_secrets`); when there is
/// none yet, `fresh` becomes it (the first of concurrent writers wins, and
/// every caller gets the one stored).
pub async fn secret(pool: &PgPool, name: &str, fresh: &[u8]) -> StoreResult<Vec<u8>> {
    sqlx::query(
        "INSERT INTO switchyard.server_secrets (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(fresh)
    .execute(pool)
    .await?;
    Ok(
        sqlx::query_scalar("SELECT value FROM switchyard.server_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(pool)
            .await?,
    )
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "23505")
}

/// Is session `session_id` still there (not signed out, not expired) and
/// its account `account_id` enabled? What an open live feed asks after an
/// account event.
pub async fn session_signed_in(
    pool: &PgPool,
    session_id: &str,
    account_id: i64,
) -> StoreResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM switchyard.sessions WHERE id = $1 AND expiry_date > now())
            AND EXISTS (SELECT 1 FROM switchyard.accounts WHERE id = $2 AND disabled_at IS NULL)",
    )
    .bind(session_id)
    .bind(account_id)
    .fetch_one(pool)
    .await?)
}
