//! Approvals of phases 4 and 5 as the console shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Phase;

/// What the person deciding a request said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    /// The stored name (`approved`, `rejected`).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "approved",
            Decision::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        [Decision::Approved, Decision::Rejected]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// Where a request for approval stands now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApprovalState {
    /// Asked, not decided yet, still about the current recipe and states.
    Pending,
    /// Approved, and still about the current recipe and states: the phase
    /// may run.
    Approved,
    Rejected,
    /// The pinned recipe or a phase state changed since it was asked: it no
    /// longer counts, whatever was decided.
    Expired,
}

impl ApprovalState {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Rejected => "rejected",
            ApprovalState::Expired => "expired",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ApprovalState::Pending => "Waiting for approval",
            ApprovalState::Approved => "Approved",
            ApprovalState::Rejected => "Rejected",
            ApprovalState::Expired => "Expired",
        }
    }
}

/// One request for approval, with its decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalView {
    pub id: i64,
    pub phase: Phase,
    pub state: ApprovalState,
    pub requested_by: String,
    #[serde(with = "crate::model::time")]
    pub requested_at: DateTime<Utc>,
    pub reason: String,
    pub decision: Option<Decision>,
    pub decided_by: Option<String>,
    #[serde(with = "crate::model::time::option")]
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
    /// Why it no longer counts (when `state` is `Expired`).
    pub expired_because: Option<String>,
}

/// A phase's approval standing (phases 4 and 5 only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseApproval {
    /// An admin requires an approval before the phase runs.
    pub required: bool,
    /// The latest request for this phase, if any.
    pub latest: Option<ApprovalView>,
}
