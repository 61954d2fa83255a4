//! Seeds the built-in demo once: the migration's documents, and a demo
//! `users` table with generated preferences (about 1% of them messy).
//! Safe to run on every start and from several instances at once.
//! `reset_demo` puts the demo migration's documents back as seeded (for
//! tests and demos; the engine's rollbacks come first, see `cli::demo_reset`).

use sqlx::{PgPool, Postgres, Transaction};

use super::demo;
use super::StoreResult;
use crate::engine::vocab::actor;
use crate::engine::Event;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// The demo migration's documents were written by this call.
    pub migration_created: bool,
    /// Rows generated into `public.users` by this call.
    pub users_created: u64,
    /// Why the users table was left alone, when it was.
    pub users_skipped: Option<String>,
}

/// Serialises seeders (several app instances starting at once, a reset):
/// held until the transaction ends.
async fn seeding_lock(tx: &mut sqlx::PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('switchyard.seed_demo'))")
        .execute(tx)
        .await?;
    Ok(())
}

/// Seeds everything that is missing; leaves existing data untouched.
#[tracing::instrument(skip(pool))]
pub async fn seed_demo(pool: &PgPool, demo_users: u64) -> StoreResult<SeedReport> {
    let mut tx = pool.begin().await?;
    seeding_lock(&mut tx).await?;
    let migration_created = seed_migration(&mut tx).await?;
    seed_recipe(&mut tx).await?;
    let (users_created, users_skipped) = seed_users(&mut tx, demo_users).await?;
    tx.commit().await?;
    Ok(SeedReport {
        migration_created,
        users_created,
        users_skipped,
    })
}

/// Stores the demo's recipe as its migration's first version when it has
/// none (a fresh seed, or a demo seeded before recipes were stored). When
/// another migration already moves the demo's table, the demo is left
/// without a stored recipe (its console says so) rather than failing the
/// start.
async fn seed_recipe(tx: &mut Transaction<'_, Postgres>) -> StoreResult<()> {
    use super::recipes::{self, NewVersion, Origin};
    let has_one: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM switchyard.recipes r JOIN switchyard.migrations m
                        ON m.id = r.migration_id WHERE m.name = $1)",
    )
    .bind(demo::NAME)
    .fetch_one(&mut **tx)
    .await?;
    if has_one {
        return Ok(());
    }
    let recipe = crate::engine::Recipe::parse(demo::RECIPE_TEXT).map_err(|errors| {
        super::StoreError::Corrupt {
            what: "the demo recipe".into(),
            detail: format!("{errors:?}"),
        }
    })?;
    let hash = recipe.hash();
    let table = format!(
        "{}.{}",
        recipe.source.schema.as_str(),
        recipe.source.table.as_str()
    );
    let saved = recipes::save_in(
        tx,
        &NewVersion {
            name: demo::NAME,
            title: demo::TITLE,
            body: demo::RECIPE_TEXT,
            hash: &hash,
            source_table: &table,
            origin: Origin::Seed,
            origin_path: Some(demo::RECIPE_PATH),
            actor: actor::SYSTEM,
            create: false,
        },
    )
    .await;
    match saved {
        Ok(_) => Ok(()),
        Err(super::StoreError::Conflict(why)) => {
            tracing::warn!(%why, "the demo's recipe was not stored");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Forgets everything recorded about the demo migration (its spec, plan and
/// versions, tasks, phase states, event log, and the engine's bookkeeping
/// rows: progress, quarantine, queues, read flag) and seeds it again, in one
/// transaction. The engine must have rolled its phases back first: this
/// touches no table of the database being migrated, and `public.users` is
/// only filled if it is empty.
#[tracing::instrument(skip(pool))]
pub async fn reset_demo(pool: &PgPool, demo_users: u64) -> StoreResult<SeedReport> {
    let mut tx = pool.begin().await?;
    seeding_lock(&mut tx).await?;
    // The engine's tables name the migration instead of referencing its row;
    // every table of ours with that column is cleared, so one added later is
    // cleared too.
    let keyed: Vec<String> = sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'switchyard' AND c.column_name = 'migration_name'
           AND t.table_type = 'BASE TABLE'
         ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await?;
    for table in keyed {
        let sql = format!(
            "DELETE FROM switchyard.\"{}\" WHERE migration_name = $1",
            table.replace('"', "\"\"")
        );
        sqlx::query(&sql).bind(demo::NAME).execute(&mut *tx).await?;
    }
    // Everything else hangs off the migration's row (ON DELETE CASCADE).
    sqlx::query("DELETE FROM switchyard.migrations WHERE name = $1")
        .bind(demo::NAME)
        .execute(&mut *tx)
        .await?;
    let migration_created = seed_migration(&mut tx).await?;
    seed_recipe(&mut tx).await?;
    let (users_created, users_skipped) = seed_users(&mut tx, demo_users).await?;
    tx.commit().await?;
    Ok(SeedReport {
        migration_created,
        users_created,
        users_skipped,
    })
}

async fn seed_migration(tx: &mut Transaction<'_, Postgres>) -> StoreResult<bool> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO switchyard.migrations (name, title, description, recipe_path)
         VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(demo::NAME)
    .bind(demo::TITLE)
    .bind(demo::DESCRIPTION)
    .bind(demo::RECIPE_PATH)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(id) = id else {
        return Ok(false);
    };

    sqlx::query("INSERT INTO switchyard.specs (migration_id, title, blocks) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(demo::TITLE)
        .bind(sqlx::types::Json(demo::spec_blocks()))
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO switchyard.plans (migration_id, title, body_markdown) VALUES ($1, $2, $3)",
    )
    .bind(id)
    .bind(format!("Implementation plan: {}", demo::TITLE))
    .bind(demo::PLAN_BODY)
    .execute(&mut **tx)
    .await?;
    for phase in &demo::PHASES {
        sqlx::query(
            "INSERT INTO switchyard.plan_phases (migration_id, position, title, description, owner)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(phase.position)
        .bind(phase.title)
        .bind(phase.description)
        .bind(phase.owner)
        .execute(&mut **tx)
        .await?;
        sqlx::query("INSERT INTO switchyard.phase_states (migration_id, position) VALUES ($1, $2)")
            .bind(id)
            .bind(phase.position)
            .execute(&mut **tx)
            .await?;
    }
    // Each phase depends on the one before it.
    for phase in &demo::PHASES {
        let Some(before) = phase.position.previous() else {
            continue;
        };
        sqlx::query(
            "INSERT INTO switchyard.plan_phase_dependencies (migration_id, position, depends_on)
             VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(phase.position)
        .bind(before)
        .execute(&mut **tx)
        .await?;
    }

    super::plans::snapshot(tx, id, actor::SYSTEM).await?;

    let mut task_ids = Vec::with_capacity(demo::TASKS.len());
    for (rank, task) in demo::TASKS.iter().enumerate() {
        let task_id: i64 = sqlx::query_scalar(
            "INSERT INTO switchyard.tasks
                 (migration_id, title, status, priority, assignee, sprint, phase_position, rank)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(id)
        .bind(task.title)
        .bind(task.status.as_str())
        .bind(task.priority.as_str())
        .bind(task.assignee)
        .bind(task.sprint)
        .bind(task.phase)
        .bind(rank as i32)
        .fetch_one(&mut **tx)
        .await?;
        for (position, (text, done)) in task.criteria.iter().enumerate() {
            sqlx::query(
                "INSERT INTO switchyard.acceptance_criteria (task_id, position, text, done)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(task_id)
            .bind(position as i32)
            .bind(*text)
            .bind(*done)
            .execute(&mut **tx)
            .await?;
        }
        task_ids.push(task_id);
    }
    for (index, task) in demo::TASKS.iter().enumerate() {
        for dep in task.depends_on {
            sqlx::query(
                "INSERT INTO switchyard.task_dependencies (task_id, depends_on) VALUES ($1, $2)",
            )
            .bind(task_ids[index])
            .bind(task_ids[*dep])
            .execute(&mut **tx)
            .await?;
        }
    }
    super::events::record(tx, id, actor::SYSTEM, &Event::Seeded).await?;
    Ok(true)
}

/// Creates `public.users` if absent and fills it when empty. A `users` table
/// of some other shape (a real application's) is never touched.
async fn seed_users(
    tx: &mut Transaction<'_, Postgres>,
    count: u64,
) -> StoreResult<(u64, Option<String>)> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name = 'users'",
    )
    .fetch_all(&mut **tx)
    .await?;
    if columns.is_empty() {
        sqlx::query(
            "CREATE TABLE public.users (
                 id          bigserial PRIMARY KEY,
                 email       text NOT NULL UNIQUE,
                 created_at  timestamptz NOT NULL DEFAULT now(),
                 preferences jsonb
             )",
        )
        .execute(&mut **tx)
        .await?;
    } else {
        let has = |name: &str, ty: &str| columns.iter().any(|(n, t)| n == name && t == ty);
        if !(has("id", "bigint") && has("email", "text") && has("preferences", "jsonb")) {
            return Ok((
                0,
                Some("public.users exists with another shape; left untouched".into()),
            ));
        }
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM public.users)")
            .fetch_one(&mut **tx)
            .await?;
        if any {
            return Ok((0, Some("public.users already has rows".into())));
        }
    }
    let inserted = sqlx::query(GENERATE_USERS)
        .bind(count as i64)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok((inserted, None))
}

/// Deterministic generated users: row g gets a clean document, except every
/// hundredth row, which gets one of five kinds of mess in turn: missing keys,
/// wrong types, unknown keys, values outside the allowed set, and null (JSON
/// null, or SQL NULL every other time).
const GENERATE_USERS: &str = r#"
INSERT INTO public.users (email, created_at, preferences)
SELECT format('user%s@example.com', g),
       timestamptz '2023-01-01 00:00:00+00' + g * interval '97 seconds',
       CASE
         WHEN g % 100 <> 0 THEN
           jsonb_build_object(
             'theme',    (ARRAY['light','dark','system'])[1 + g % 3],
             'language', (ARRAY['en','de','fr','es','ja','pt-BR'])[1 + g % 6],
             'timezone', (ARRAY['UTC','Europe/Berlin','America/New_York','Asia/Tokyo','Australia/Sydney'])[1 + g % 5],
             'notifications',
               jsonb_build_object(
                 'email', jsonb_build_object('enabled', g % 4 <> 0,
                            'frequency', (ARRAY['instant','daily','weekly','never'])[1 + g % 4]),
                 'push',  jsonb_build_object('enabled', g % 3 = 0,
                            'frequency', (ARRAY['instant','daily','weekly','never'])[1 + (g / 3) % 4])
               ) || CASE WHEN g % 7 = 0 THEN '{}'::jsonb ELSE
                 jsonb_build_object('sms', jsonb_build_object('enabled', g % 5 = 0,
                            'frequency', (ARRAY['instant','daily','weekly','never'])[1 + (g / 5) % 4]))
               END)
         ELSE CASE (g / 100) % 5
           -- missing keys: no timezone, a channel without frequency
           WHEN 0 THEN jsonb_build_object('theme', 'dark', 'language', 'en',
                         'notifications', jsonb_build_object('email', jsonb_build_object('enabled', true)))
           -- wrong types
           WHEN 1 THEN jsonb_build_object('theme', 42, 'language', 'en', 'timezone', 'UTC',
                         'notifications', jsonb_build_object('email',
                           jsonb_build_object('enabled', 'yes', 'frequency', 'daily')))
           -- unknown keys
           WHEN 2 THEN jsonb_build_object('theme', 'light', 'language', 'de', 'timezone', 'UTC',
                         'font_size', 14, 'beta_features', jsonb_build_array('new-editor'),
                         'notifications', jsonb_build_object('email',
                           jsonb_build_object('enabled', true, 'frequency', 'weekly')))
           -- values outside the allowed set
           WHEN 3 THEN jsonb_build_object('theme', 'purple', 'language', 'en', 'timezone', 'UTC',
                         'notifications', jsonb_build_object('pager',
                           jsonb_build_object('enabled', true, 'frequency', 'hourly')))
           -- null
           ELSE CASE WHEN (g / 500) % 2 = 0 THEN 'null'::jsonb ELSE NULL END
         END
       END
FROM generate_series(1, $1::bigint) AS g
"#;
