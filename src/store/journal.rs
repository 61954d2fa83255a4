//! The engine's journal (`engine::journal::Journal`) kept in our schema: a
//! migration's row with its plan and phase rows, its phase states, its
//! event log, its pinned recipe, acceptances and runner epoch. The CLI and the console hand a `PgJournal` to every engine
//! they build.

use futures::future::BoxFuture;
use sqlx::PgPool;

use super::events;
use crate::engine::journal::{Journal, PhaseRecord, StateChange};
use crate::engine::{Event, Fence, Phase, PhaseState, Recipe};

#[derive(Clone)]
pub struct PgJournal {
    pool: PgPool,
}

impl PgJournal {
    pub fn new(pool: PgPool) -> Self {
        PgJournal { pool }
    }

    async fn ensure(&self, recipe: &Recipe) -> Result<i64, sqlx::Error> {
        // The common case (every status read, every live update): all there,
        // answered by one read instead of eleven idempotent inserts.
        let existing: Option<(i64, i64)> = sqlx::query_as(
            "SELECT m.id, (SELECT count(*) FROM switchyard.phase_states s WHERE s.migration_id = m.id)
             FROM switchyard.migrations m WHERE m.name = $1",
        )
        .bind(&recipe.name)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((id, 5)) = existing {
            return Ok(id);
        }
        let mut tx = self.pool.begin().await?;
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

    async fn read_phases(&self, migration_id: i64) -> Result<Vec<PhaseRecord>, sqlx::Error> {
        let rows: Vec<PhaseRow> = sqlx::query_as(
            "SELECT position, state, started_by, started_at, finished_at, error
             FROM switchyard.phase_states WHERE migration_id = $1 ORDER BY position",
        )
        .bind(migration_id)
        .fetch_all(&self.pool)
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

    async fn write_state(&self, c: StateChange<'_>) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        if let Some(f) = c.fence {
            f.assert(&mut tx).await?;
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
        .bind(c.migration_id)
        .bind(c.phase)
        .bind(c.state)
        .bind(c.actor)
        .bind(c.error)
        .bind(c.state == PhaseState::Running)
        .bind(c.state.is_final())
        .bind(PhaseState::Paused)
        .execute(&mut *tx)
        .await?;
        if let Some(name) = c.unpin {
            sqlx::query(
                "UPDATE switchyard.migrations SET pinned_recipe = NULL, pinned_hash = NULL, pinned_at = NULL
                 WHERE name = $1",
            )
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        let event = Event::PhaseState {
            state: c.state,
            error: c.error.map(str::to_string),
        };
        events::append(&mut tx, c.migration_id, Some(c.phase), c.actor, &event).await?;
        tx.commit().await
    }
}

#[derive(sqlx::FromRow)]
struct PhaseRow {
    position: Phase,
    state: PhaseState,
    started_by: Option<String>,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    error: Option<String>,
}

impl Journal for PgJournal {
    fn migration_id<'a>(&'a self, recipe: &'a Recipe) -> BoxFuture<'a, Result<i64, sqlx::Error>> {
        Box::pin(self.ensure(recipe))
    }

    fn phases(&self, migration_id: i64) -> BoxFuture<'_, Result<Vec<PhaseRecord>, sqlx::Error>> {
        Box::pin(self.read_phases(migration_id))
    }

    fn set_state<'a>(&'a self, change: StateChange<'a>) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(self.write_state(change))
    }

    fn record<'a>(
        &'a self,
        migration_id: i64,
        phase: Option<Phase>,
        actor: &'a str,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            events::append(&mut conn, migration_id, phase, actor, event).await?;
            Ok(())
        })
    }

    fn pin<'a>(
        &'a self,
        recipe: &'a Recipe,
        fence: &'a Fence,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            fence.assert(&mut tx).await?;
            sqlx::query(
                "UPDATE switchyard.migrations SET pinned_recipe = $2, pinned_hash = $3, pinned_at = now()
                 WHERE name = $1 AND pinned_hash IS NULL",
            )
            .bind(&recipe.name)
            .bind(&recipe.text)
            .bind(recipe.hash())
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })
    }

    fn pinned<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<(String, String)>, sqlx::Error>> {
        Box::pin(async move {
            let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
                "SELECT pinned_recipe, pinned_hash FROM switchyard.migrations WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
            Ok(match row {
                Some((Some(text), Some(hash))) => Some((text, hash)),
                _ => None,
            })
        })
    }

    fn accept<'a>(
        &'a self,
        migration_id: i64,
        name: &'a str,
        actor: &'a str,
        accepted: &'a Event,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO switchyard.acceptances (migration_name, actor, accepted) VALUES ($1, $2, $3)",
            )
            .bind(name)
            .bind(actor)
            .bind(accepted.payload())
            .execute(&mut *tx)
            .await?;
            let phase = Some(Phase::SwitchReads);
            events::append(&mut tx, migration_id, phase, actor, accepted).await?;
            tx.commit().await
        })
    }

    fn next_epoch<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<i64>, sqlx::Error>> {
        Box::pin(async move {
            sqlx::query_scalar(
                "UPDATE switchyard.migrations SET runner_epoch = runner_epoch + 1 WHERE name = $1 RETURNING runner_epoch",
            )
            .bind(name)
            .fetch_optional(&self.pool)
            .await
        })
    }
}
