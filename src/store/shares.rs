//! Share links (`switchyard.share_links`): a random token gives read-only
//! access to one migration. Only the token's SHA-256 is stored.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::{events, StoreError, StoreResult};
use crate::engine::Event;

/// A share link as listed (never its token).
#[derive(Clone, Debug, PartialEq)]
pub struct ShareLink {
    pub id: i64,
    pub migration: String,
    pub label: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a token opens, or why it no longer does.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    /// The migration's name (the link's use is recorded).
    Open(String),
    Revoked,
    Expired(DateTime<Utc>),
    /// No link has this token.
    Unknown,
}

/// Bytes of randomness in a token (128 bits).
pub const TOKEN_BYTES: usize = 16;

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new token: 128 random bits, as 32 lowercase hex digits. `rand::rng()`
/// is rand's cryptographically secure generator (ChaCha, seeded from the
/// operating system).
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

type Row = (
    i64,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

const COLUMNS: &str =
    "s.id, m.name, s.label, s.created_by, s.created_at, s.expires_at, s.last_used_at, s.revoked_at";

fn link(row: Row) -> ShareLink {
    let (id, migration, label, created_by, created_at, expires_at, last_used_at, revoked_at) = row;
    ShareLink {
        id,
        migration,
        label,
        created_by,
        created_at,
        expires_at,
        last_used_at,
        revoked_at,
    }
}

/// Creates a link to migration `name`; returns it and its token (the only
/// time the token exists outside the link's URL).
pub async fn create(
    pool: &PgPool,
    name: &str,
    label: &str,
    expires_at: Option<DateTime<Utc>>,
    created_by: &str,
) -> StoreResult<(ShareLink, String)> {
    let label = label.trim();
    if label.chars().count() > 200 {
        return Err(StoreError::Invalid {
            field: "label".into(),
            message: "at most 200 characters".into(),
        });
    }
    if expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(StoreError::Invalid {
            field: "expires".into(),
            message: "must be in the future".into(),
        });
    }
    let token = new_token();
    let mut tx = pool.begin().await?;
    let migration_id: i64 =
        sqlx::query_scalar("SELECT id FROM switchyard.migrations WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))?;
    let row: Row = sqlx::query_as(&format!(
        "WITH s AS (
             INSERT INTO switchyard.share_links (migration_id, token_sha256, label, created_by, expires_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING *)
         SELECT {COLUMNS} FROM s JOIN switchyard.migrations m ON m.id = s.migration_id"
    ))
    .bind(migration_id)
    .bind(digest(&token))
    .bind(label)
    .bind(created_by)
    .bind(expires_at)
    .fetch_one(&mut *tx)
    .await?;
    let link = link(row);
    let event = Event::ShareCreated {
        link: link.id,
        label: link.label.clone(),
    };
    events::append(&mut tx, migration_id, None, created_by, &event).await?;
    tx.commit().await?;
    Ok((link, token))
}

/// Every link of migration `name`, newest first.
pub async fn list(pool: &PgPool, name: &str) -> StoreResult<Vec<ShareLink>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM switchyard.share_links s
         JOIN switchyard.migrations m ON m.id = s.migration_id
         WHERE m.name = $1 ORDER BY s.id DESC"
    ))
    .bind(name)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(link).collect())
}

/// Revokes link `id` (of any migration); it stops working at once (an
/// open live feed of it ends too: the revocation is an event, which wakes
/// every feed). Recorded in the event log as `by`'s, unless it was revoked
/// already.
pub async fn revoke(pool: &PgPool, id: i64, by: &str) -> StoreResult<ShareLink> {
    revoke_of(pool, None, id, by).await
}

/// `revoke`, of a link of migration `name` only (`NotFound` for a link of
/// another).
pub async fn revoke_in(pool: &PgPool, name: &str, id: i64, by: &str) -> StoreResult<ShareLink> {
    revoke_of(pool, Some(name), id, by).await
}

async fn revoke_of(pool: &PgPool, name: Option<&str>, id: i64, by: &str) -> StoreResult<ShareLink> {
    let mut tx = pool.begin().await?;
    // (migration id, revoked before this)
    let found: Option<(i64, bool)> = sqlx::query_as(
        "SELECT s.migration_id, s.revoked_at IS NOT NULL FROM switchyard.share_links s
         JOIN switchyard.migrations m ON m.id = s.migration_id
         WHERE s.id = $1 AND ($2::text IS NULL OR m.name = $2) FOR UPDATE OF s",
    )
    .bind(id)
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let (migration_id, was_revoked) =
        found.ok_or_else(|| StoreError::NotFound(format!("share link {id}")))?;
    let row: Row = sqlx::query_as(&format!(
        "WITH s AS (
             UPDATE switchyard.share_links
             SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, $2)
             WHERE id = $1 RETURNING *)
         SELECT {COLUMNS} FROM s JOIN switchyard.migrations m ON m.id = s.migration_id"
    ))
    .bind(id)
    .bind(by)
    .fetch_one(&mut *tx)
    .await?;
    if !was_revoked {
        events::append(
            &mut tx,
            migration_id,
            None,
            by,
            &Event::ShareRevoked { link: id },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(link(row))
}

/// Is link `token` still open (not revoked, not expired)? (What an open
/// live feed of it asks after each event; does not count as a use.)
pub async fn still_open(pool: &PgPool, token: &str) -> StoreResult<bool> {
    let open: Option<bool> = sqlx::query_scalar(
        "SELECT revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
         FROM switchyard.share_links WHERE token_sha256 = $1",
    )
    .bind(digest(&token.to_ascii_lowercase()))
    .fetch_optional(pool)
    .await?;
    Ok(open == Some(true))
}

/// How stale an open link's recorded last use may get: a link opened again
/// within this time is not written to (a page view that writes a row on
/// every request costs a WAL record and a commit each; "last used" to the
/// minute is what the list needs).
const LAST_USE_GRANULARITY: &str = "1 minute";

/// What `token` opens now; an open link's last use becomes now (to the
/// minute: see `LAST_USE_GRANULARITY`).
pub async fn resolve(pool: &PgPool, token: &str) -> StoreResult<Resolved> {
    // Only well-formed tokens are looked up (any other text opens nothing).
    if token.len() != TOKEN_BYTES * 2 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(Resolved::Unknown);
    }
    // (migration name, revoked at, expires at)
    type Found = (String, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let sql = format!(
        "WITH found AS (
             SELECT s.id, m.name, s.revoked_at, s.expires_at,
                    s.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now())
                      AND (s.last_used_at IS NULL
                           OR s.last_used_at < now() - interval '{LAST_USE_GRANULARITY}') AS stale
             FROM switchyard.share_links s JOIN switchyard.migrations m ON m.id = s.migration_id
             WHERE s.token_sha256 = $1
         ), touched AS (
             UPDATE switchyard.share_links s SET last_used_at = now()
             FROM found WHERE s.id = found.id AND found.stale
         )
         SELECT name, revoked_at, expires_at FROM found"
    );
    let row: Option<Found> = sqlx::query_as(&sql)
        .bind(digest(&token.to_ascii_lowercase()))
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        None => Resolved::Unknown,
        Some((_, Some(_), _)) => Resolved::Revoked,
        Some((_, None, Some(at))) if at <= Utc::now() => Resolved::Expired(at),
        Some((name, None, _)) => Resolved::Open(name),
    })
}
