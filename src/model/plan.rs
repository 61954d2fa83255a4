//! The plan as an editable, versioned document.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AppError, Phase};

/// The editable fields of one phase of the plan (its title is shown, not
/// edited).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseEdit {
    pub position: Phase,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub status_note: String,
    #[serde(default)]
    pub blockers: String,
}

/// The longest plan text (in characters) a save accepts, and the preview
/// renders.
pub const MAX_BODY_CHARS: usize = 100_000;

/// A whole plan as saved in one revision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanEdit {
    pub body_markdown: String,
    pub phases: Vec<PhaseEdit>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanVersion {
    pub revision: i32,
    pub saved_by: String,
    #[serde(with = "crate::model::time")]
    pub saved_at: DateTime<Utc>,
    pub plan: PlanEdit,
}

/// The plan changed in Switchyard and in Notion since the last sync: both
/// versions as found, who changed each and when. Nothing is written on
/// either side until an operator keeps one (or saves a merge).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanConflictView {
    pub id: i64,
    pub switchyard: PlanEdit,
    pub switchyard_revision: i32,
    pub switchyard_by: String,
    #[serde(with = "crate::model::time")]
    pub switchyard_at: DateTime<Utc>,
    pub notion: PlanEdit,
    pub notion_by: String,
    #[serde(with = "crate::model::time")]
    pub notion_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiffKind {
    Same,
    Added,
    Removed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiffLine {
    pub kind: DiffKind,
    pub text: String,
}

impl PlanEdit {
    /// The plan as plain text, one field a line: what diffs compare.
    pub fn as_text(&self) -> String {
        let mut out = self.body_markdown.trim_end().to_string();
        out.push('\n');
        for p in &self.phases {
            out.push_str(&format!("\n## Phase {}: {}\n", p.position, p.title));
            for (label, value) in [
                ("Description", &p.description),
                ("Owner", &p.owner),
                ("Status note", &p.status_note),
                ("Blockers", &p.blockers),
            ] {
                out.push_str(&format!("{label}: {}\n", value.replace('\n', " ")));
            }
        }
        out
    }
}

/// The plan editor's form as it is posted: every field a string, parsed on
/// the server (`PlanForm::parse`), so a plain HTML form can post it
/// URL-encoded as `form[body_markdown]=…&form[phases][0][position]=2&…`.
/// Every field has a default: a form may omit any of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanForm {
    pub body_markdown: String,
    pub phases: Vec<PhaseForm>,
}

/// One phase's fields in the plan editor's form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhaseForm {
    /// The phase's number (1-5).
    pub position: String,
    pub description: String,
    pub owner: String,
    pub status_note: String,
    pub blockers: String,
}

impl PlanForm {
    /// The form of `plan` as it is now: what the editor starts from.
    pub fn of(plan: &PlanEdit) -> PlanForm {
        PlanForm {
            body_markdown: plan.body_markdown.clone(),
            phases: plan
                .phases
                .iter()
                .map(|p| PhaseForm {
                    position: p.position.to_string(),
                    description: p.description.clone(),
                    owner: p.owner.clone(),
                    status_note: p.status_note.clone(),
                    blockers: p.blockers.clone(),
                })
                .collect(),
        }
    }

    /// The edit the form asks for (titles left empty: they are not edited).
    /// A position that names no phase, or a phase given twice, is refused
    /// naming the field (`phases[i].position`, `i` counted from 0 as the
    /// form numbers them); lengths are checked by the store.
    pub fn parse(self) -> Result<PlanEdit, AppError> {
        let mut phases: Vec<PhaseEdit> = Vec::with_capacity(self.phases.len());
        for (i, p) in self.phases.into_iter().enumerate() {
            let field = format!("phases[{i}].position");
            let position: Phase = p
                .position
                .trim()
                .parse()
                .map_err(|message: String| AppError::invalid(&field, message))?;
            if phases.iter().any(|q| q.position == position) {
                return Err(AppError::invalid(
                    field,
                    format!("phase {position} is given twice"),
                ));
            }
            phases.push(PhaseEdit {
                position,
                title: String::new(),
                description: p.description,
                owner: p.owner,
                status_note: p.status_note,
                blockers: p.blockers,
            });
        }
        Ok(PlanEdit {
            body_markdown: self.body_markdown,
            phases,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_posted_plan_parses_or_names_the_field() {
        let form = |positions: &[&str]| PlanForm {
            body_markdown: "body".into(),
            phases: positions
                .iter()
                .map(|p| PhaseForm {
                    position: p.to_string(),
                    owner: "Zoe".into(),
                    ..PhaseForm::default()
                })
                .collect(),
        };
        let edit = form(&["1", " 4 "]).parse().expect("valid");
        let positions: Vec<Phase> = edit.phases.iter().map(|p| p.position).collect();
        assert_eq!(positions, vec![Phase::Expand, Phase::SwitchReads]);
        assert_eq!(edit.phases[1].owner, "Zoe");
        for (bad, field) in [
            (&["1", "9"][..], "phases[1].position"),
            (&["x"][..], "phases[0].position"),
            (&["2", "2"][..], "phases[1].position"),
        ] {
            match form(bad).parse() {
                Err(AppError::Invalid { field: f, .. }) => assert_eq!(f, field, "{bad:?}"),
                other => panic!("{bad:?}: expected {field} refused, got {other:?}"),
            }
        }
        // What the editor starts from parses back to the same edit.
        assert_eq!(PlanForm::of(&edit).parse(), Ok(edit));
    }
}
