//! The engine's record of a migration: phase states, events (+ NOTIFY), and
//! the advisory lock that lets one runner act at a time across processes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use super::recipe::Recipe;
use super::vocab::{Event, Phase, PhaseState};
use super::EngineError;

/// Channel carrying every event (payload: JSON with the event id).
pub const EVENTS_CHANNEL: &str = "switchyard_events";
/// Channel announcing read-flag changes (payload: JSON).
pub const READ_FLAG_CHANNEL: &str = "switchyard_read_flag";

#[derive(Clone, Debug, Serialize)]
pub struct PhaseRecord {
    pub phase: Phase,
    pub state: PhaseState,
    pub started_by: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// Makes sure the migration exists in our schema (the CLI may run a recipe
/// nobody opened in the browser yet); returns its id.
pub async fn ensure_migration(pool: &PgPool, recipe: &Recipe) -> Result<i64, EngineError> {
    // The common case (every status read, every live update): all there,
    // answered by one read instead of eleven idempotent inserts.
    let existing: Option<(i64, i64)> = sqlx::query_as(
        "SELECT m.id, (SELECT count(*) FROM switchyard.phase_states s WHERE s.migration_id = m.id)
         FROM switchyard.migrations m WHERE m.name = $1",
    )
    .bind(&recipe.name)
    .fetch_optional(pool)
    .await?;
    if let Some((id, 5)) = existing {
        return Ok(id);
    }
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO switchyard.migrations (name, title) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(&recipe.name)
    .bind(&recipe.title)
    .execute(&mut *tx)
    .await?;
    let id: i64 = sqlx::query_scalar("SELECT id FROM switchyard.migrations WHERE name = $1")
        .bind(&recipe.name)
        .fetch_one(&mut *tx)
        .await?;
    for phase in Phase::ALL {
        sqlx::query(
            "INSERT INTO switchyard.plan_phases (migration_id, position, title) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(phase)
        .bind(phase.title())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO switchyard.phase_states (migration_id, position) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(phase)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct Row {
    position: Phase,
    state: PhaseState,
    started_by: Option<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    error: Option<String>,
}

pub async fn phases(pool: &PgPool, migration_id: i64) -> Result<Vec<PhaseRecord>, EngineError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT position, state, started_by, started_at, finished_at, error
         FROM switchyard.phase_states WHERE migration_id = $1 ORDER BY position",
    )
    .bind(migration_id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PhaseRecord {
            phase: r.position,
            state: r.state,
            started_by: r.started_by,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
        })
        .collect())
}

/// Records a state change and announces it.
pub async fn set_state(
    pool: &PgPool,
    migration_id: i64,
    phase: Phase,
    state: PhaseState,
    actor: &str,
    error: Option<&str>,
    fence: Option<&Fence>,
) -> Result<(), EngineError> {
    let mut tx = pool.begin().await?;
    if let Some(f) = fence {
        f.assert(&mut tx)
            .await
            .map_err(|e| EngineError::from_step("record the phase state", e))?;
    }
    sqlx::query(
        // $6: a run starts (a resumed pause keeps who started it and when);
        // $7: the phase ends.
        "UPDATE switchyard.phase_states SET state = $3, changed_at = now(), error = $5,
             started_by = CASE WHEN $6 AND state <> $8 THEN $4 ELSE started_by END,
             started_at = CASE WHEN $6 AND state <> $8 THEN now() ELSE started_at END,
             finished_at = CASE WHEN $7 THEN now() WHEN $6 THEN NULL ELSE finished_at END
         WHERE migration_id = $1 AND position = $2",
    )
    .bind(migration_id)
    .bind(phase)
    .bind(state)
    .bind(actor)
    .bind(error)
    .bind(state == PhaseState::Running)
    .bind(state.is_final())
    .bind(PhaseState::Paused)
    .execute(&mut *tx)
    .await?;
    let error = error.map(str::to_string);
    record_event(
        &mut tx,
        migration_id,
        Some(phase),
        actor,
        &Event::PhaseState { state, error },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Appends an event to the migration's log and NOTIFYs it, in the caller's
/// transaction (the notification is delivered only if that transaction
/// commits). Every event of every layer is written here.
pub async fn record_event(
    conn: &mut sqlx::PgConnection,
    migration_id: i64,
    phase: Option<Phase>,
    actor: &str,
    event: &Event,
) -> Result<i64, sqlx::Error> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO switchyard.events (migration_id, phase, actor, kind, payload)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(migration_id)
    .bind(phase)
    .bind(actor)
    .bind(event.kind())
    .bind(event.payload())
    .fetch_one(&mut *conn)
    .await?;
    let note = serde_json::json!({
        "event_id": id, "migration_id": migration_id, "phase": phase, "kind": event.kind(),
    });
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(EVENTS_CHANNEL)
        .bind(note.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// `record_event` on a connection of its own.
pub async fn event(
    pool: &PgPool,
    migration_id: i64,
    phase: Option<Phase>,
    actor: &str,
    event: &Event,
) -> Result<(), EngineError> {
    let mut conn = pool.acquire().await?;
    record_event(&mut conn, migration_id, phase, actor, event).await?;
    Ok(())
}

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

const LOCK_HELD: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
     AND pid = pg_backend_pid()
     AND classid = hashtext($2)::oid AND objid = hashtext($1)::oid AND objsubid = 2)";

/// Held while a runner acts on a migration. The lock lives in a session of
/// its own: if the process dies, Postgres drops the session and the lock.
/// If the session is lost while the runner lives (a Postgres restart,
/// `idle_session_timeout`, a terminated backend), `check` notices before the
/// next step, and the epoch (`Fence`) refuses any transaction still in flight.
pub struct RunnerLock {
    conn: tokio::sync::Mutex<Option<PoolConnection<Postgres>>>,
    name: String,
    fence: Fence,
}

impl RunnerLock {
    pub async fn acquire(pool: &PgPool, recipe: &Recipe) -> Result<Self, EngineError> {
        ensure_migration(pool, recipe).await?;
        let name = &recipe.name;
        let mut conn = pool.acquire().await?;
        let got: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($2), hashtext($1))")
                .bind(name)
                .bind(RUNNER_LOCK)
                .fetch_one(&mut *conn)
                .await?;
        if !got {
            return Err(EngineError::Busy(name.to_string()));
        }
        let epoch: i64 = sqlx::query_scalar(
            "UPDATE switchyard.migrations SET runner_epoch = runner_epoch + 1 WHERE name = $1 RETURNING runner_epoch",
        )
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
        Ok(RunnerLock {
            conn: tokio::sync::Mutex::new(Some(conn)),
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
        let mut guard = self.conn.lock().await;
        let Some(conn) = guard.as_mut() else {
            return Err(self.lost());
        };
        let held: Result<bool, sqlx::Error> = sqlx::query_scalar(LOCK_HELD)
            .bind(&self.name)
            .bind(RUNNER_LOCK)
            .fetch_one(&mut **conn)
            .await;
        match held {
            Ok(true) => Ok(()),
            _ => {
                // A dead or lockless session must never go back to the pool.
                if let Some(c) = guard.take() {
                    drop(c.detach());
                }
                Err(self.lost())
            }
        }
    }

    /// Releases the lock now (the next runner must not race a closing
    /// session), then returns the session to the pool.
    pub async fn release(self) {
        let taken = self.conn.lock().await.take();
        if let Some(mut conn) = taken {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtext($2), hashtext($1))")
                .bind(&self.name)
                .bind(RUNNER_LOCK)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                // Could not say so: close the session, which releases it too.
                drop(conn.detach());
            }
        }
    }
}

impl Drop for RunnerLock {
    fn drop(&mut self) {
        // Closing the session releases the lock; never hand a locked
        // session back to the pool.
        if let Some(conn) = self.conn.get_mut().take() {
            drop(conn.detach());
        }
    }
}
