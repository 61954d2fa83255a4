//! `/s/{token}`: one migration, read-only, for whoever holds a share link.
//! Rendered on the server, readable without JavaScript, with no control
//! that changes anything; its phases and progress are an island
//! (`SharedProgress`) that the link's live feed keeps current. Carries Open Graph / Twitter meta
//! tags so a link pasted in chat previews the progress.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;

use super::common::{island_data, ErrorNote, Loading, PhaseBadge};
use super::not_found::NotFound;
use super::spec::render_blocks;
use crate::api::shares::get_shared;
use crate::model::share::{SharedLive, SharedView};
use crate::model::{AppError, TaskStatus};

#[component]
pub fn SharePage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server::context::set_secret_address();
    let token = use_params_map().with_untracked(|p| p.get("token").unwrap_or_default());
    let token_for_page = token.clone();
    let shared = Resource::new(move || token.clone(), get_shared);
    view! {
        <Suspense fallback=|| view! { <Loading what="shared migration"/> }>
            {move || {
                let token = token_for_page.clone();
                Suspend::new(async move {
                match shared.await {
                    Ok(view) => view! { <Shared view token/> }.into_any(),
                    Err(AppError::NotFound { .. }) => view! { <NotFound what="share link"/> }.into_any(),
                    Err(AppError::Forbidden { message }) => view! {
                        <Title text="Link no longer valid — Switchyard"/>
                        <section class="share-gone">
                            <h1>"This link no longer works"</h1>
                            <p>{message}</p>
                            <p>"Ask whoever shared it for a new one."</p>
                        </section>
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}}
        </Suspense>
    }
}

/// The moving part of a share page: headline, progress and phases, kept
/// current by the link's own live feed (`/s/{token}/live`); rendered on
/// the server too, so it reads without JavaScript (then as of the load).
/// When the link is revoked or expires, the feed says so and stops.
#[island(lazy)]
pub fn SharedProgress(token: String, data: String) -> impl IntoView {
    let Ok(initial) = serde_json::from_str::<SharedLive>(&data) else {
        return None;
    };
    let live = RwSignal::new(initial);
    let gone = RwSignal::new(false);
    super::live::subscribe_to(format!("/s/{token}/live"), "shared", live, Some(gone));
    Some(view! {
        <p class="share-gone-note" role="alert">
            {move || gone.get().then_some("This link no longer works: it was revoked or has expired. What is shown is as of then.")}
        </p>
        {move || {
            let l = live.get();
            let percent = l.percent_done;
            let backfill = l.backfill_percent;
            view! {
                <p class="meta headline">{l.headline}</p>
                <div class="progress" role="progressbar" aria-label="Phases done"
                    aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{percent:.0}")>
                    <div class="bar" style=format!("width: {percent:.1}%")></div>
                </div>
                <section aria-label="Phases" class="shared-phases">
                    <h2>"Phases"</h2>
                    <ol>
                        {l.phases.into_iter().map(|p| {
                            let progress = (p.position.number() == 2).then_some(backfill).flatten();
                            view! {
                                <li class="shared-phase" data-position=p.position.number() data-state=p.state.as_str()>
                                    {format!("Phase {}: {} ", p.position, p.title)}
                                    <PhaseBadge state=p.state/>
                                    {progress.map(|pc| view! { <span class="progress-text">{format!(" backfill {pc:.0}%")}</span> })}
                                </li>
                            }
                        }).collect_view()}
                    </ol>
                </section>
            }
        }}
    })
}

#[component]
fn Shared(view: SharedView, token: String) -> impl IntoView {
    let headline = view.headline();
    let title = view.summary.title.clone();
    let live = island_data(&view.live()).unwrap_or_default();
    let SharedView {
        summary,
        spec,
        plan_title,
        plan_html,
        tasks,
        ..
    } = view;
    view! {
        <Title text=format!("{title} — Switchyard")/>
        <Meta property="og:title" content=title.clone()/>
        <Meta property="og:description" content=headline.clone()/>
        <Meta property="og:type" content="website"/>
        <Meta name="twitter:card" content="summary"/>
        <Meta name="twitter:title" content=title.clone()/>
        <Meta name="twitter:description" content=headline.clone()/>
        <article class="migration shared" data-name=summary.name.clone()>
            <header class="migration-header">
                <p class="share-note">"Read-only view, shared by link"</p>
                <h1>{title}</h1>
                <p class="description">{summary.description.clone()}</p>
            </header>
            <SharedProgress token data=live/>
            <section aria-label="Spec" class="spec">
                <h2>"Spec"</h2>
                <div class="notion-doc">{render_blocks(&spec.blocks)}</div>
            </section>
            <section aria-label="Plan" class="plan">
                <h2>{plan_title}</h2>
                <div class="plan-body notion-doc" inner_html=plan_html></div>
            </section>
            <section aria-label="Tasks" class="shared-tasks">
                <h2>"Tasks"</h2>
                {TaskStatus::ALL.into_iter().map(|status| {
                    let in_column: Vec<_> = tasks.iter().filter(|t| t.status == status).cloned().collect();
                    view! {
                        <h3>{format!("{} ({})", status.as_str(), in_column.len())}</h3>
                        <ul>
                            {in_column.into_iter().map(|t| {
                                let done = t.criteria.iter().filter(|c| c.done).count();
                                view! {
                                    <li class="shared-task">
                                        {t.title.clone()}
                                        {format!(" · {} · criteria {done}/{}", t.priority.as_str(), t.criteria.len())}
                                        {t.assignee.clone().map(|a| format!(" · {a}"))}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }
                }).collect_view()}
            </section>
        </article>
    }
}
