//! `/m/{name}`: the migration's header, section tabs, and the section outlet.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Outlet;
use leptos_router::hooks::use_location;

use super::common::{use_migration_name, ErrorNote, Loading, PhaseBadge};
use super::not_found::NotFound;
use crate::api::migrations::get_migration;

#[component]
pub fn MigrationPage() -> impl IntoView {
    let name = use_migration_name();
    let header = Resource::new(move || name.get(), get_migration);
    view! {
        <Suspense fallback=|| view! { <Loading what="migration"/> }>
            {move || Suspend::new(async move {
                match header.await {
                    Ok(m) => {
                        let base = format!("/m/{}", m.name);
                        let current = m
                            .current_phase
                            .clone()
                            .map(|p| {
                                view! {
                                    <span>{format!("Current phase {}: {} ", p.position, p.title)}</span>
                                    <PhaseBadge state=p.state/>
                                }
                                    .into_any()
                            })
                            .unwrap_or_else(|| view! { <span>"All phases done"</span> }.into_any());
                        view! {
                            <Title text=format!("{} — Switchyard", m.title)/>
                            <article class="migration">
                                <header class="migration-header">
                                    <h1>{m.title.clone()}</h1>
                                    <p class="description">{m.description.clone()}</p>
                                    <p class="meta">{current}</p>
                                </header>
                                <nav class="tabs" aria-label="Sections">
                                    <Tab href=base.clone() label="Spec"/>
                                    <Tab href=format!("{base}/plan") label="Plan"/>
                                    <Tab href=format!("{base}/tasks") label="Tasks"/>
                                    <Tab href=format!("{base}/phases") label="Phases"/>
                                    <Tab href=format!("{base}/share") label="Share"/>
                                    <Tab href=format!("{base}/notion") label="Notion"/>
                                </nav>
                                <div class="section">
                                    <Outlet/>
                                </div>
                            </article>
                        }
                            .into_any()
                    }
                    Err(e) if e.is_not_found() => {
                        view! { <NotFound what=format!("migration named {:?}", name.get_untracked())/> }
                            .into_any()
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A section's tab. Every tab says whether it is the current page, with
/// `aria-current="false"` too: the islands router copies the attributes of
/// the next page onto the elements of this one, and never removes one.
#[component]
fn Tab(href: String, label: &'static str) -> impl IntoView {
    let current = use_location().pathname.with_untracked(|path| *path == href);
    view! { <a href=href aria-current=if current { "page" } else { "false" }>{label}</a> }
}
