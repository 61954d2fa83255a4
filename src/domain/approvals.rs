//! When a request for approval counts, and what it means for a run: pure
//! rules, applied by the console (its view and its actions) and the CLI.

use chrono::{DateTime, Utc};

use crate::model::approval::{ApprovalState, Decision, PhaseApproval};
use crate::model::{Phase, PhaseState};

/// The phases an admin may make wait for an approval.
pub const PHASES: [Phase; 2] = [Phase::SwitchReads, Phase::Contract];

/// Can `phase` be made to wait for an approval?
pub fn applies_to(phase: Phase) -> bool {
    PHASES.contains(&phase)
}

/// What a request is about, and what it is compared with later: the hash of
/// the pinned recipe (None before phase 1 pinned one) and the time of the
/// latest change of any of the migration's phase states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Circumstances {
    pub recipe_hash: Option<String>,
    pub states_at: Option<DateTime<Utc>>,
}

/// Where a request stands, given what it decided and what it was about
/// (`asked`) against what holds `now`; with the reason when it expired.
/// A rejection stays a rejection; anything else expires once the recipe or
/// a phase state changed.
pub fn standing(
    decision: Option<Decision>,
    asked: &Circumstances,
    now: &Circumstances,
) -> (ApprovalState, Option<String>) {
    if decision == Some(Decision::Rejected) {
        return (ApprovalState::Rejected, None);
    }
    if asked.recipe_hash != now.recipe_hash {
        return (
            ApprovalState::Expired,
            Some("the pinned recipe changed since it was requested".into()),
        );
    }
    if asked.states_at != now.states_at {
        return (
            ApprovalState::Expired,
            Some("a phase changed state since it was requested".into()),
        );
    }
    match decision {
        Some(_) => (ApprovalState::Approved, None),
        None => (ApprovalState::Pending, None),
    }
}

/// Why `phase` may not run (or resume) yet for want of an approval, if so.
pub fn why_not_run(phase: Phase, approval: Option<&PhaseApproval>) -> Option<String> {
    let approval = approval.filter(|a| a.required)?;
    let Some(latest) = &approval.latest else {
        return Some(format!(
            "phase {phase} needs an approval first (an admin requires one): request it"
        ));
    };
    match latest.state {
        ApprovalState::Approved => None,
        ApprovalState::Pending => Some(format!(
            "phase {phase} waits for approval: requested by {}; another operator or admin must approve it",
            latest.requested_by
        )),
        ApprovalState::Rejected => Some(format!(
            "phase {phase} needs an approval: the last request was rejected by {}; request again",
            latest.decided_by.as_deref().unwrap_or("?")
        )),
        ApprovalState::Expired => Some(format!(
            "phase {phase} needs an approval: the last one expired ({}); request a new one",
            latest.expired_because.as_deref().unwrap_or("it no longer applies")
        )),
    }
}

/// May a request for approval of a phase in `state` be made? Of any phase
/// 4 or 5 not done: one left running by a runner that is gone must be
/// resumed, and resuming needs an approval too (the one that let it start
/// expired when it started).
pub fn why_not_request(phase: Phase, state: PhaseState) -> Option<String> {
    if !applies_to(phase) {
        return Some(format!("phase {phase} never needs an approval"));
    }
    (state == PhaseState::Done)
        .then(|| format!("phase {phase} is done: there is nothing to approve"))
}

/// A reason or comment as stored: trimmed, 1 to 2000 characters.
pub fn note(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("say why (it is shown to everyone on the console)");
    }
    if text.chars().count() > 2000 {
        return Err("at most 2000 characters");
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::approval::ApprovalView;

    fn at(s: &str) -> Option<DateTime<Utc>> {
        Some(
            DateTime::parse_from_rfc3339(s)
                .expect("time")
                .with_timezone(&Utc),
        )
    }

    #[test]
    fn a_request_expires_when_the_recipe_or_a_state_changes_but_a_rejection_stays() {
        let asked = Circumstances {
            recipe_hash: Some("aa".into()),
            states_at: at("2026-12-01T10:00:00Z"),
        };
        let same = asked.clone();
        assert_eq!(standing(None, &asked, &same).0, ApprovalState::Pending);
        assert_eq!(
            standing(Some(Decision::Approved), &asked, &same).0,
            ApprovalState::Approved
        );
        let recipe = Circumstances {
            recipe_hash: Some("bb".into()),
            ..asked.clone()
        };
        let (state, why) = standing(Some(Decision::Approved), &asked, &recipe);
        assert_eq!(state, ApprovalState::Expired);
        assert!(why.expect("why").contains("recipe"));
        let states = Circumstances {
            states_at: at("2026-12-01T10:00:00.000001Z"),
            ..asked.clone()
        };
        let (state, why) = standing(None, &asked, &states);
        assert_eq!(state, ApprovalState::Expired);
        assert!(why.expect("why").contains("phase changed state"));
        assert_eq!(
            standing(Some(Decision::Rejected), &asked, &recipe).0,
            ApprovalState::Rejected
        );
    }

    #[test]
    fn only_a_current_approval_lets_a_required_phase_run() {
        let p = Phase::SwitchReads;
        let view = |state| ApprovalView {
            id: 1,
            phase: p,
            state,
            requested_by: "a@example.com".into(),
            requested_at: at("2026-12-01T10:00:00Z").expect("t"),
            reason: "ready".into(),
            decision: None,
            decided_by: Some("b@example.com".into()),
            decided_at: None,
            comment: None,
            expired_because: None,
        };
        let approval = |required, latest| PhaseApproval { required, latest };
        assert_eq!(why_not_run(p, None), None);
        assert_eq!(why_not_run(p, Some(&approval(false, None))), None);
        assert!(why_not_run(p, Some(&approval(true, None)))
            .expect("refused")
            .contains("needs an approval first"));
        for state in [
            ApprovalState::Pending,
            ApprovalState::Rejected,
            ApprovalState::Expired,
        ] {
            assert!(
                why_not_run(p, Some(&approval(true, Some(view(state))))).is_some(),
                "{state:?}"
            );
        }
        assert_eq!(
            why_not_run(
                p,
                Some(&approval(true, Some(view(ApprovalState::Approved))))
            ),
            None
        );
    }

    #[test]
    fn requests_are_for_phases_4_and_5_that_can_still_start() {
        assert!(why_not_request(Phase::Backfill, PhaseState::Pending).is_some());
        assert!(why_not_request(Phase::SwitchReads, PhaseState::Pending).is_none());
        assert!(why_not_request(Phase::Contract, PhaseState::Failed).is_none());
        assert!(why_not_request(Phase::Contract, PhaseState::Done).is_some());
        assert!(why_not_request(Phase::SwitchReads, PhaseState::Running).is_none());
        assert_eq!(note("  ok "), Ok("ok".into()));
        assert!(note("   ").is_err());
        assert!(note(&"x".repeat(2001)).is_err());
    }
}
