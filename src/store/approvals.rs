//! Approvals of phases 4 and 5 (`switchyard.approval_policies`,
//! `switchyard.approvals`): which phases need one, the requests and their
//! decisions, each change recorded in the event log in the same
//! transaction. What a request may be and who may decide it is the
//! service's (`crate::approvals`); this only reads and writes.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::{events, StoreError, StoreResult};
use crate::domain::approvals::Circumstances;
use crate::engine::{Event, Phase, PhaseState};
use crate::model::approval::Decision;

/// One request for approval as stored.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
pub struct StoredApproval {
    pub id: i64,
    pub phase: Phase,
    pub recipe_hash: Option<String>,
    pub states_at: Option<DateTime<Utc>>,
    pub requested_by: String,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// `Decision::as_str`, when decided.
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
}

impl StoredApproval {
    pub fn decision(&self) -> StoreResult<Option<Decision>> {
        self.decision
            .as_deref()
            .map(|d| {
                Decision::parse(d).ok_or_else(|| StoreError::Corrupt {
                    what: format!("decision of approval {}", self.id),
                    detail: format!("unknown decision {d:?}"),
                })
            })
            .transpose()
    }

    /// What it was asked about.
    pub fn asked(&self) -> Circumstances {
        Circumstances {
            recipe_hash: self.recipe_hash.clone(),
            states_at: self.states_at,
        }
    }
}

/// A migration's approvals as they stand: what the console and a run check.
#[derive(Clone, Debug, PartialEq)]
pub struct Standing {
    pub migration_id: i64,
    /// Phases an admin made wait for an approval.
    pub required: Vec<Phase>,
    /// The latest request of each phase that has one.
    pub latest: Vec<StoredApproval>,
    /// What holds now (see `Circumstances`).
    pub now: Circumstances,
    /// Each phase's state, in phase order (pending for one not recorded yet).
    pub states: Vec<PhaseState>,
}

/// SQL (of a migration row `m`): the phases needing approval, as smallint[].
pub const REQUIRED_SQL: &str = "array(SELECT a.phase FROM switchyard.approval_policies a
      WHERE a.migration_id = m.id ORDER BY a.phase)";
/// SQL (of a migration row `m`): the latest request of each phase, as JSON.
pub const LATEST_SQL: &str = "coalesce((SELECT json_agg(x ORDER BY x.phase) FROM (
      SELECT DISTINCT ON (a.phase) a.id, a.phase, a.recipe_hash, a.states_at, a.requested_by,
             a.reason, a.requested_at, a.decision, a.decided_by, a.decided_at, a.comment
      FROM switchyard.approvals a WHERE a.migration_id = m.id
      ORDER BY a.phase, a.id DESC) x), '[]')";
/// SQL (of a migration row `m`): the latest change of any phase state.
pub const STATES_AT_SQL: &str =
    "(SELECT max(s.changed_at) FROM switchyard.phase_states s WHERE s.migration_id = m.id)";

#[derive(sqlx::FromRow)]
struct StandingRow {
    id: i64,
    required: Vec<Phase>,
    latest: sqlx::types::Json<Vec<StoredApproval>>,
    pinned_hash: Option<String>,
    states_at: Option<DateTime<Utc>>,
    states: Vec<String>,
}

/// Migration `name`'s approvals as they stand, read in the caller's
/// connection (`FOR UPDATE` of the migration's row when `lock`: requests
/// and decisions of one migration then happen one at a time).
async fn standing_in(conn: &mut PgConnection, name: &str, lock: bool) -> StoreResult<Standing> {
    let sql = format!(
        "SELECT m.id, {REQUIRED_SQL} AS required, {LATEST_SQL} AS latest, m.pinned_hash,
                {STATES_AT_SQL} AS states_at,
                array(SELECT s.state FROM switchyard.phase_states s WHERE s.migration_id = m.id
                      ORDER BY s.position) AS states
         FROM switchyard.migrations m WHERE m.name = $1 {}",
        if lock { "FOR UPDATE" } else { "" }
    );
    let row: Option<StandingRow> = sqlx::query_as(&sql)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("migration {name:?}")))?;
    let mut states = row
        .states
        .iter()
        .map(|s| {
            PhaseState::parse(s).ok_or_else(|| StoreError::Corrupt {
                what: "phase state".into(),
                detail: format!("unknown state {s:?}"),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    states.resize(Phase::ALL.len(), PhaseState::Pending);
    Ok(Standing {
        migration_id: row.id,
        required: row.required,
        latest: row.latest.0,
        now: Circumstances {
            recipe_hash: row.pinned_hash,
            states_at: row.states_at,
        },
        states,
    })
}

/// Migration `name`'s approvals as they stand (`NotFound` for an unknown
/// migration).
pub async fn standing(pool: &PgPool, name: &str) -> StoreResult<Standing> {
    let mut conn = pool.acquire().await?;
    standing_in(&mut conn, name, false).await
}

/// Requires (or stops requiring) an approval before `phase` of `name`
/// runs, recorded as `by`'s. Returns whether anything changed.
pub async fn set_policy(
    pool: &PgPool,
    name: &str,
    phase: Phase,
    required: bool,
    by: &str,
) -> StoreResult<bool> {
    let mut tx = pool.begin().await?;
    let standing = standing_in(&mut tx, name, true).await?;
    let affected = if required {
        sqlx::query(
            "INSERT INTO switchyard.approval_policies (migration_id, phase, set_by) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(standing.migration_id)
        .bind(phase)
        .bind(by)
        .execute(&mut *tx)
        .await?
    } else {
        sqlx::query(
            "DELETE FROM switchyard.approval_policies WHERE migration_id = $1 AND phase = $2",
        )
        .bind(standing.migration_id)
        .bind(phase)
        .execute(&mut *tx)
        .await?
    };
    let changed = affected.rows_affected() > 0;
    if changed {
        let event = Event::ApprovalPolicy { required };
        events::append(&mut tx, standing.migration_id, Some(phase), by, &event).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// A request by `by` to run `phase` of `name`, bound to what holds now,
/// if `check` allows it given the standing (read under the migration's
/// lock, so requests and decisions of one migration happen one at a time);
/// recorded in the event log.
pub async fn request<E: From<StoreError> + From<sqlx::Error>>(
    pool: &PgPool,
    name: &str,
    phase: Phase,
    reason: &str,
    by: &str,
    check: impl FnOnce(&Standing) -> Result<(), E>,
) -> Result<i64, E> {
    let mut tx = pool.begin().await?;
    let standing = standing_in(&mut tx, name, true).await?;
    check(&standing)?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO switchyard.approvals
             (migration_id, phase, recipe_hash, states_at, requested_by, reason)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(standing.migration_id)
    .bind(phase)
    .bind(&standing.now.recipe_hash)
    .bind(standing.now.states_at)
    .bind(by)
    .bind(reason)
    .fetch_one(&mut *tx)
    .await?;
    let event = Event::ApprovalRequested {
        approval: id,
        reason: reason.to_string(),
    };
    events::append(&mut tx, standing.migration_id, Some(phase), by, &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// `by`'s decision on request `id` of `name`, if `check` allows it given the
/// standing (read under the migration's lock); recorded in the event log.
/// Returns the request's phase.
pub async fn decide<E: From<StoreError> + From<sqlx::Error>>(
    pool: &PgPool,
    name: &str,
    id: i64,
    decision: Decision,
    comment: &str,
    by: &str,
    check: impl FnOnce(&Standing) -> Result<(), E>,
) -> Result<Phase, E> {
    let mut tx = pool.begin().await?;
    let standing = standing_in(&mut tx, name, true).await?;
    check(&standing)?;
    let phase: Option<Phase> = sqlx::query_scalar(
        "UPDATE switchyard.approvals
         SET decision = $3, decided_by = $4, decided_at = now(), comment = $5
         WHERE id = $1 AND migration_id = $2 AND decision IS NULL RETURNING phase",
    )
    .bind(id)
    .bind(standing.migration_id)
    .bind(decision.as_str())
    .bind(by)
    .bind(comment)
    .fetch_optional(&mut *tx)
    .await?;
    let phase = phase.ok_or_else(|| StoreError::NotFound(format!("request {id}")))?;
    let event = Event::ApprovalDecided {
        approval: id,
        approved: decision == Decision::Approved,
        comment: comment.to_string(),
    };
    events::append(&mut tx, standing.migration_id, Some(phase), by, &event).await?;
    tx.commit().await?;
    Ok(phase)
}

/// Records that `phase` of migration `migration_id` runs without a valid
/// approval on admin `admin`'s override, as `actor`.
pub async fn record_override(
    pool: &PgPool,
    migration_id: i64,
    phase: Phase,
    admin: &str,
    actor: &str,
) -> StoreResult<()> {
    let mut conn = pool.acquire().await?;
    let event = Event::ApprovalOverridden {
        admin: admin.to_string(),
    };
    events::append(&mut conn, migration_id, Some(phase), actor, &event).await?;
    Ok(())
}
