//! The Plan section: the plan's text and its phases with dependencies.

use leptos::prelude::*;

use super::common::{use_migration_name, ErrorNote, Loading, PhaseBadge};
use crate::api::migrations::get_plan;
use crate::domain::phases::blocked_by;
use crate::model::PhaseView;

#[component]
pub fn PlanSection() -> impl IntoView {
    let name = use_migration_name();
    let plan = Resource::new(move || name.get(), get_plan);
    view! {
        <Suspense fallback=|| view! { <Loading what="plan"/> }>
            {move || Suspend::new(async move {
                match plan.await {
                    Ok(plan) => {
                        let paragraphs: Vec<String> = plan
                            .body_markdown
                            .split("\n\n")
                            .map(|p| p.trim().replace('\n', " "))
                            .filter(|p| !p.is_empty())
                            .collect();
                        let all = plan.phases.clone();
                        view! {
                            <section class="plan" aria-label="Plan">
                                <h2>{plan.title.clone()}</h2>
                                <p class="meta">
                                    {format!(
                                        "Revision {} · updated {}",
                                        plan.revision,
                                        plan.updated_at.format("%Y-%m-%d %H:%M UTC"),
                                    )}
                                </p>
                                <div class="plan-body">
                                    {paragraphs.into_iter().map(|p| view! { <p>{p}</p> }).collect_view()}
                                </div>
                                <ol class="plan-phases">
                                    {plan
                                        .phases
                                        .into_iter()
                                        .map(|phase| view! { <PlanPhase phase=phase all=all.clone()/> })
                                        .collect_view()}
                                </ol>
                            </section>
                        }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PlanPhase(phase: PhaseView, all: Vec<PhaseView>) -> impl IntoView {
    let deps = if phase.depends_on.is_empty() {
        "No dependencies".to_string()
    } else {
        let names: Vec<String> = phase
            .depends_on
            .iter()
            .map(|d| {
                all.iter()
                    .find(|p| p.position == *d)
                    .map(|p| format!("Phase {}: {}", p.position, p.title))
                    .unwrap_or_else(|| format!("Phase {d}"))
            })
            .collect();
        format!("Depends on {}", names.join(", "))
    };
    let blocked = blocked_by(&phase, &all);
    view! {
        <li class="plan-phase" data-position=phase.position>
            <h3>
                <span class="phase-number">{format!("Phase {}", phase.position)}</span>
                " "
                <span class="phase-title">{phase.title.clone()}</span>
                " "
                <PhaseBadge state=phase.state/>
            </h3>
            <p>{phase.description.clone()}</p>
            <p class="meta">
                <span class="deps">{deps}</span>
                {phase.owner.clone().map(|o| view! { <span class="owner">{format!("Owner: {o}")}</span> })}
            </p>
            {blocked.map(|b| view! { <p class="blocked-reason">{b}</p> })}
        </li>
    }
    .into_any()
}
