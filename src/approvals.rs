//! The approvals service (server only): an admin makes phases 4 and 5 of a
//! migration wait for an approval; an operator asks for one, with a reason;
//! someone else with the operator or admin role approves or rejects it,
//! with a comment; the phase runs only with a current approval. The phase
//! console (its view and its actions), the server functions and the CLI
//! all come here; the rules themselves are `domain::approvals`, the SQL
//! `store::approvals`. Who may call what (roles) the callers check.

use sqlx::PgPool;

use crate::domain::approvals::{self as rules, Circumstances};
use crate::engine::Phase;
use crate::model::account::Role;
use crate::model::approval::{ApprovalState, ApprovalView, Decision, PhaseApproval};
use crate::model::AppError;
use crate::store::approvals::{self as stored, Standing, StoredApproval};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("{0} not found")]
    NotFound(String),
    /// Not possible now; the message says why.
    #[error("{0}")]
    Refused(String),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ApprovalError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApprovalError::NotFound(what),
            other => ApprovalError::Store(other),
        }
    }
}

impl From<sqlx::Error> for ApprovalError {
    fn from(e: sqlx::Error) -> Self {
        ApprovalError::Store(e.into())
    }
}

impl From<ApprovalError> for AppError {
    fn from(err: ApprovalError) -> Self {
        match err {
            ApprovalError::NotFound(what) => AppError::not_found(what),
            ApprovalError::Refused(m) => AppError::invalid("approval", m),
            ApprovalError::Invalid { field, message } => AppError::invalid(field, message),
            ApprovalError::Store(e) => e.into(),
        }
    }
}

/// A stored request as the console shows it, given what holds `now`.
pub fn view_of(a: &StoredApproval, now: &Circumstances) -> Result<ApprovalView, StoreError> {
    let decision = a.decision()?;
    let (state, expired_because) = rules::standing(decision, &a.asked(), now);
    Ok(ApprovalView {
        id: a.id,
        phase: a.phase,
        state,
        requested_by: a.requested_by.clone(),
        requested_at: a.requested_at,
        reason: a.reason.clone(),
        decision,
        decided_by: a.decided_by.clone(),
        decided_at: a.decided_at,
        comment: a.comment.clone(),
        expired_because,
    })
}

/// Each phase's approval standing as the console shows it: `Some` for
/// phases 4 and 5, `None` for the others (indexed by `Phase::index`).
pub fn phase_approvals(
    required: &[Phase],
    latest: &[StoredApproval],
    now: &Circumstances,
) -> Result<Vec<Option<PhaseApproval>>, StoreError> {
    Phase::ALL
        .iter()
        .map(|phase| {
            if !rules::applies_to(*phase) {
                return Ok(None);
            }
            let latest = latest
                .iter()
                .find(|a| a.phase == *phase)
                .map(|a| view_of(a, now))
                .transpose()?;
            Ok(Some(PhaseApproval {
                required: required.contains(phase),
                latest,
            }))
        })
        .collect()
}

fn approvals_of(standing: &Standing) -> Result<Vec<Option<PhaseApproval>>, StoreError> {
    phase_approvals(&standing.required, &standing.latest, &standing.now)
}

/// Why `phase` of `name` may not run (or resume) for want of an approval
/// now, if so: read fresh from the database.
pub async fn why_not_run(
    pool: &PgPool,
    name: &str,
    phase: Phase,
) -> Result<Option<String>, ApprovalError> {
    if !rules::applies_to(phase) {
        return Ok(None);
    }
    let standing = match stored::standing(pool, name).await {
        Ok(s) => s,
        // A migration the engine has not recorded yet has no policy.
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let approvals = approvals_of(&standing)?;
    Ok(rules::why_not_run(phase, approvals[phase.index()].as_ref()))
}

/// The engine's start gate for migration `name`: under the runner lock,
/// just before a phase starts or resumes, `why_not_run` is read again, so
/// an approval that expired after the caller's first check (the phase's
/// state changed by another runner meanwhile) refuses the run.
pub fn start_gate(pool: PgPool, name: String) -> crate::engine::phases::StartGate {
    std::sync::Arc::new(move |phase| {
        let (pool, name) = (pool.clone(), name.clone());
        Box::pin(async move {
            match why_not_run(&pool, &name, phase).await {
                Ok(None) => Ok(()),
                Ok(Some(why)) => Err(why),
                Err(e) => Err(format!("the approvals could not be read: {e}")),
            }
        })
    })
}

/// Requires (or stops requiring) an approval before `phase` of `name` runs;
/// recorded as `by`'s (an admin: the caller checks). Returns whether
/// anything changed.
pub async fn set_policy(
    pool: &PgPool,
    name: &str,
    phase: Phase,
    required: bool,
    by: &str,
) -> Result<bool, ApprovalError> {
    if !rules::applies_to(phase) {
        return Err(ApprovalError::Invalid {
            field: "phase",
            message: "only phases 4 and 5 can require an approval",
        });
    }
    Ok(stored::set_policy(pool, name, phase, required, by).await?)
}

/// `by` (an operator or admin: the caller checks) asks for approval to run
/// `phase` of `name`, saying why. Refused unless the phase needs an
/// approval, is not done, and has no current request (waiting or
/// approved). Returns the request's id.
pub async fn request(
    pool: &PgPool,
    name: &str,
    phase: Phase,
    reason: &str,
    by: &str,
) -> Result<i64, ApprovalError> {
    let reason = rules::note(reason).map_err(|message| ApprovalError::Invalid {
        field: "reason",
        message,
    })?;
    stored::request(pool, name, phase, &reason, by, |standing| {
        if let Some(why) = rules::why_not_request(phase, standing.states[phase.index()]) {
            return Err(ApprovalError::Refused(why));
        }
        if !standing.required.contains(&phase) {
            return Err(ApprovalError::Refused(format!(
                "phase {phase} does not need an approval (an admin can require one)"
            )));
        }
        let approvals = approvals_of(standing)?;
        let latest = approvals[phase.index()]
            .as_ref()
            .and_then(|a| a.latest.as_ref());
        match latest.map(|l| l.state) {
            Some(ApprovalState::Pending) => Err(ApprovalError::Refused(format!(
                "phase {phase} already waits for a decision on request {}",
                latest.map(|l| l.id).unwrap_or_default()
            ))),
            Some(ApprovalState::Approved) => Err(ApprovalError::Refused(format!(
                "phase {phase} is approved already; it can run"
            ))),
            _ => Ok(()),
        }
    })
    .await
}

/// `by` (with role `role`) approves or rejects request `id` of `name`, with
/// a comment. Refused for the requester themself, for a viewer, and for a
/// request that is decided or expired already. Returns the request's phase.
pub async fn decide(
    pool: &PgPool,
    name: &str,
    id: i64,
    decision: Decision,
    comment: &str,
    by: &str,
    role: Role,
) -> Result<Phase, ApprovalError> {
    if role < Role::Operator {
        return Err(ApprovalError::Refused(
            "approvals are decided by operators and admins".into(),
        ));
    }
    let comment = rules::note(comment).map_err(|message| ApprovalError::Invalid {
        field: "comment",
        message,
    })?;
    stored::decide(pool, name, id, decision, &comment, by, |standing| {
        let latest = standing.latest.iter().find(|a| a.id == id).ok_or_else(|| {
            ApprovalError::Refused(format!(
                "request {id} is not the latest request of its phase (or not of {name:?})"
            ))
        })?;
        if latest.requested_by.eq_ignore_ascii_case(by) {
            return Err(ApprovalError::Refused(
                "you asked for this approval: someone else must decide it".into(),
            ));
        }
        let view = view_of(latest, &standing.now)?;
        match view.state {
            ApprovalState::Pending => Ok(()),
            ApprovalState::Expired => Err(ApprovalError::Refused(format!(
                "request {id} expired: {}",
                view.expired_because.unwrap_or_default()
            ))),
            decided => Err(ApprovalError::Refused(format!(
                "request {id} is {} already",
                decided.as_str()
            ))),
        }
    })
    .await
}

/// The command line's override of a missing approval: `admin` must name an
/// enabled admin account (the caller has checked its password); the
/// override is recorded as `actor`'s, naming the admin.
pub async fn record_override(
    pool: &PgPool,
    name: &str,
    phase: Phase,
    admin: &str,
    actor: &str,
) -> Result<(), ApprovalError> {
    let standing = stored::standing(pool, name).await?;
    stored::record_override(pool, standing.migration_id, phase, admin, actor).await?;
    Ok(())
}
