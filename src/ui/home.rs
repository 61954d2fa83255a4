//! `/`: every migration with its current phase.

use leptos::prelude::*;
use leptos_meta::Title;

use super::common::{ErrorNote, Loading, PhaseBadge};
use crate::api::migrations::list_migrations;
use crate::model::MigrationSummary;

#[component]
pub fn HomePage() -> impl IntoView {
    let migrations = Resource::new(|| (), |_| list_migrations());
    view! {
        <Title text="Migrations — Switchyard"/>
        <h1>"Migrations"</h1>
        {super::account::may(crate::model::account::Role::Operator).then(|| view! {
            <p class="new-migration">
                <a href="/new" class="button">"New migration"</a>
                " "
                <a href="/notion/import">"New migration from a Notion spec"</a>
            </p>
        })}
        <Suspense fallback=|| view! { <Loading what="migrations"/> }>
            {move || Suspend::new(async move {
                match migrations.await {
                    Ok(list) if list.is_empty() => {
                        view! { <p class="empty">"No migrations yet."</p> }.into_any()
                    }
                    Ok(list) => {
                        view! {
                            <ul class="migration-list">
                                {list.into_iter().map(|m| view! { <MigrationCard m/> }).collect_view()}
                            </ul>
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
fn MigrationCard(m: MigrationSummary) -> impl IntoView {
    let href = format!("/m/{}", m.name);
    let current = match &m.current_phase {
        Some(p) => view! {
            <span class="current-phase">
                {format!("Phase {} of {}: {} ", p.position, m.phases_total, p.title)}
                <PhaseBadge state=p.state/>
            </span>
        }
        .into_any(),
        None => view! { <span class="current-phase complete">"All phases done"</span> }.into_any(),
    };
    view! {
        <li class="migration-card" data-name=m.name.clone()>
            <h2><a href=href>{m.title.clone()}</a></h2>
            <p class="description">{m.description.clone()}</p>
            <p class="meta">
                {current}
                <span class="progress-text">
                    {format!("{}/{} phases done", m.phases_done, m.phases_total)}
                </span>
                <span class="progress-text">
                    {format!("{}/{} tasks done", m.tasks_done, m.tasks_total)}
                </span>
            </p>
        </li>
    }
    .into_any()
}
