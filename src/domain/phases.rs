//! Phase ordering rules of the plan. The store applies them when it builds
//! the views (the current phase, what a phase waits for); pages show the
//! result.

#[cfg(test)]
use crate::model::Phase;
use crate::model::{PhaseHeadline, PhaseState, PhaseView};

/// The phase to act on next: the first one (by position) that is not done.
/// `None` when every phase is done.
pub fn current_phase(phases: impl IntoIterator<Item = PhaseHeadline>) -> Option<PhaseHeadline> {
    phases
        .into_iter()
        .filter(|p| p.state != PhaseState::Done)
        .min_by_key(|p| p.position)
}

/// Why `phase` cannot start yet, or `None` when its dependencies are met.
pub fn blocked_by(phase: &PhaseView, all: &[PhaseView]) -> Option<String> {
    let waiting: Vec<String> = phase
        .depends_on
        .iter()
        .filter_map(|dep| all.iter().find(|p| p.position == *dep))
        .filter(|dep| dep.state != PhaseState::Done)
        .map(|dep| format!("phase {} ({}) is {}", dep.position, dep.title, dep.state))
        .collect();
    if waiting.is_empty() {
        None
    } else {
        Some(format!("Waiting: {}", waiting.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn phase(number: i16, state: PhaseState) -> PhaseView {
        let position = Phase::from_number(number).expect("a phase");
        PhaseView {
            position,
            title: format!("Phase {position}"),
            description: String::new(),
            owner: None,
            status_note: String::new(),
            blockers: String::new(),
            depends_on: position.previous().into_iter().collect(),
            waiting: None,
            state,
            state_changed_at: Utc::now(),
            tasks: Default::default(),
        }
    }

    fn headline(p: &PhaseView) -> PhaseHeadline {
        PhaseHeadline {
            position: p.position,
            title: p.title.clone(),
            state: p.state,
        }
    }

    #[test]
    fn current_is_first_not_done_by_position() {
        let phases = [
            phase(3, PhaseState::Pending),
            phase(1, PhaseState::Done),
            phase(2, PhaseState::Running),
        ];
        let current = current_phase(phases.iter().map(headline)).expect("a current phase");
        assert_eq!(current.position, Phase::Backfill);
        assert_eq!(current.state, PhaseState::Running);
    }

    #[test]
    fn no_current_phase_when_all_done() {
        let phases = [phase(1, PhaseState::Done), phase(2, PhaseState::Done)];
        assert_eq!(current_phase(phases.iter().map(headline)), None);
    }

    #[test]
    fn blocked_names_the_unfinished_dependency() {
        let phases = vec![phase(1, PhaseState::Running), phase(2, PhaseState::Pending)];
        let reason = blocked_by(&phases[1], &phases).expect("blocked");
        assert!(reason.contains("phase 1"), "{reason}");
        assert!(reason.contains("Running"), "{reason}");
        assert_eq!(blocked_by(&phases[0], &phases), None);
    }
}
