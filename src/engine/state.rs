//! One runner at a time: the advisory lock a runner holds while it acts on
//! a migration, and the fence (its epoch) that refuses a replaced runner's
//! writes.

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use super::journal::Journal;
use super::recipe::Recipe;
use super::EngineError;

/// Channel announcing read-flag changes (payload: JSON).
pub const READ_FLAG_CHANNEL: &str = "switchyard_read_flag";

/// Proof that a runner is still the current one: its epoch, checked by
/// `switchyard.assert_runner` at the start of every transaction it commits.
#[derive(Clone, Debug)]
pub struct Fence {
    pub migration: String,
    pub epoch: i64,
}

impl Fence {
    pub async fn assert(&self, conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT switchyard.assert_runner($1, $2)")
            .bind(&self.migration)
            .bind(self.epoch)
            .execute(conn)
            .await
            .map(|_| ())
    }
}

/// SQLSTATE SYF01: `assert_runner` refused a replaced runner.
pub fn fenced(err: &sqlx::Error) -> Option<String> {
    let db = err.as_database_error()?;
    (db.code().as_deref() == Some("SYF01")).then(|| db.message().to_string())
}

/// The advisory lock class of runners (the key is the migration's name).
pub const RUNNER_LOCK: &str = "switchyard.runner";

/// Is the runner lock of migration `$1` granted, in this database: to our
/// own session only (`$3` false), or to any (`$3` true)?
static LOCK_GRANTED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "/* switchyard runner lock */ SELECT {}",
        lock_granted_sql("$1", "$2", "$3")
    )
});

/// A boolean SQL expression: is the advisory lock of class `class` (an SQL
/// text expression; runners use `RUNNER_LOCK`) on the migration named by
/// `name` (an SQL text expression) granted in this database, to our own
/// session only (`any_session` false) or to any (true)? For a statement
/// that asks it beside other things (the console's snapshot).
pub fn lock_granted_sql(name: &str, class: &str, any_session: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND classid = hashtext({class})::oid AND objid = hashtext({name})::oid AND objsubid = 2
     AND ({any_session} OR pid = pg_backend_pid()))"
    )
}

/// Is any runner acting on migration `name` right now?
pub async fn runner_active(pool: &PgPool, name: &str) -> Result<bool, EngineError> {
    Ok(sqlx::query_scalar(LOCK_GRANTED.as_str())
        .bind(name)
        .bind(RUNNER_LOCK)
        .bind(true)
        .fetch_one(pool)
        .await?)
}

/// An advisory lock of class `class` on `key`, held by a session of its
/// own for as long as this value lives: if the process dies, Postgres drops
/// the session and the lock. A session found dead or lockless (`held`),
/// or dropped without `release`, is closed, never handed back to the pool.
pub struct SessionLock {
    conn: tokio::sync::Mutex<Option<PoolConnection<Postgres>>>,
    class: &'static str,
    key: String,
}

impl SessionLock {
    /// Takes the lock, or None when another session holds it.
    pub async fn try_acquire(
        pool: &PgPool,
        class: &'static str,
        key: &str,
    ) -> Result<Option<Self>, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let got: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($2), hashtext($1))")
                .bind(key)
                .bind(class)
                .fetch_one(&mut *conn)
                .await?;
        Ok(got.then(|| SessionLock {
            conn: tokio::sync::Mutex::new(Some(conn)),
            class,
            key: key.to_string(),
        }))
    }

    /// Does our session still hold the lock? A session the server ended
    /// (a restart, `idle_session_timeout`, a terminated backend) does not.
    pub async fn held(&self) -> bool {
        let mut guard = self.conn.lock().await;
        let Some(conn) = guard.as_mut() else {
            return false;
        };
        let held: Result<bool, sqlx::Error> = sqlx::query_scalar(LOCK_GRANTED.as_str())
            .bind(&self.key)
            .bind(self.class)
            .bind(false)
            .fetch_one(&mut **conn)
            .await;
        if !matches!(held, Ok(true)) {
            if let Some(c) = guard.take() {
                drop(c.detach());
            }
            return false;
        }
        true
    }

    /// Releases the lock now (whoever takes it next must not race a closing
    /// session), then returns the session to the pool.
    pub async fn release(self) {
        let taken = self.conn.lock().await.take();
        if let Some(mut conn) = taken {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext($2), hashtext($1))")
                .bind(&self.key)
                .bind(self.class)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                // Could not say so: close the session, which releases it too.
                drop(conn.detach());
            }
        }
    }
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.get_mut().take() {
            drop(conn.detach());
        }
    }
}

/// Held while a runner acts on a migration (a `SessionLock` of class
/// `RUNNER_LOCK` on its name). If the session is lost while the runner
/// lives, `check` notices before the next step, and the epoch (`Fence`)
/// refuses any transaction still in flight.
pub struct RunnerLock {
    session: SessionLock,
    name: String,
    fence: Fence,
}

impl RunnerLock {
    /// Takes the lock of `recipe`'s migration (whose records must exist:
    /// `Journal::migration_id`) and starts a new epoch, or says it is busy.
    pub async fn acquire(
        pool: &PgPool,
        recipe: &Recipe,
        journal: &dyn Journal,
    ) -> Result<Self, EngineError> {
        let name = &recipe.name;
        let Some(session) = SessionLock::try_acquire(pool, RUNNER_LOCK, name).await? else {
            return Err(EngineError::Busy(name.to_string()));
        };
        // On any failure from here, dropping `session` closes it, which
        // releases the lock just taken.
        let epoch = match journal.next_epoch(name).await? {
            Some(epoch) => epoch,
            None => {
                return Err(EngineError::Refused(format!(
                    "migration {name:?} has no records yet; its journal creates them first"
                )))
            }
        };
        Ok(RunnerLock {
            session,
            name: name.to_string(),
            fence: Fence {
                migration: name.to_string(),
                epoch,
            },
        })
    }

    fn lost(&self) -> EngineError {
        EngineError::LockLost(format!(
            "migration {:?}: its session ended or no longer holds the advisory lock",
            self.name
        ))
    }

    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// Is the advisory lock still held by our session? Errors when not.
    pub async fn check(&self) -> Result<(), EngineError> {
        if self.session.held().await {
            Ok(())
        } else {
            Err(self.lost())
        }
    }

    /// Releases the lock now (the next runner must not race a closing
    /// session), then returns the session to the pool.
    pub async fn release(self) {
        self.session.release().await;
    }
}
