//! The Phases section: the state of each phase of the migration.

use leptos::prelude::*;

use super::common::{use_migration_name, ErrorNote, Loading, PhaseBadge};
use crate::api::migrations::get_phases;
use crate::domain::phases::blocked_by;

#[component]
pub fn PhasesSection() -> impl IntoView {
    let name = use_migration_name();
    let phases = Resource::new(move || name.get(), get_phases);
    view! {
        <Suspense fallback=|| view! { <Loading what="phases"/> }>
            {move || Suspend::new(async move {
                match phases.await {
                    Ok(phases) => {
                        let all = phases.clone();
                        view! {
                            <section class="phases" aria-label="Phases">
                                <table class="phase-table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"#"</th>
                                            <th scope="col">"Phase"</th>
                                            <th scope="col">"State"</th>
                                            <th scope="col">"Since"</th>
                                            <th scope="col">"Can it run?"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {phases.into_iter().map(|p| {
                                            let reason = blocked_by(&p, &all)
                                                .unwrap_or_else(|| "Ready".to_string());
                                            view! {
                                                <tr data-position=p.position>
                                                    <td>{p.position}</td>
                                                    <td class="phase-title">{p.title.clone()}</td>
                                                    <td><PhaseBadge state=p.state/></td>
                                                    <td>{p.state_changed_at.format("%Y-%m-%d %H:%M UTC").to_string()}</td>
                                                    <td>{reason}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
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
