//! The Notion mirror's pages: the local-mode banner every page shows when
//! no token is set, "New migration from a Notion spec" (`/notion/import`:
//! search or paste a URL), and a migration's Notion section
//! (`/m/{name}/notion`: the linked pages, "Refresh from Notion" with the
//! changes shown before they are applied, the spec's earlier versions,
//! "Publish plan to Notion" and the outbox's items with retry / discard).
//! Plain HTML forms posting to server functions: no island, no JavaScript
//! needed.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::account::may;
use super::common::{date_time, use_migration_name, ErrorNote, Loading};
use crate::api::notion::{
    get_mirror, preview_spec_refresh, search_notion_pages, ApplySpecRefresh, DiscardOutboxItem,
    ImportNotionSpec, PublishPlan, RetryOutboxItem,
};
use crate::domain::spec::BlockChange;
use crate::model::account::Role;
use crate::model::AppError;

/// Is this app in local mode (no Notion token)? Known on the server; the
/// pages that ask are rendered there.
pub fn local_mode() -> bool {
    #[cfg(feature = "ssr")]
    {
        use_context::<crate::notion::Connection>().is_some_and(|c| c.is_local())
    }
    #[cfg(not(feature = "ssr"))]
    {
        false
    }
}

/// The banner of every page in local mode.
#[component]
pub fn LocalModeBanner() -> impl IntoView {
    local_mode().then(|| {
        view! {
            <p class="notion-banner">
                "Local mode: not connected to Notion. To connect, start Switchyard with "
                <code>"NOTION_TOKEN"</code>
                " set to an integration's secret and share your spec pages with the integration (see the README)."
            </p>
        }
    })
}

/// A refusal a plain form post was redirected back with (`__err`).
fn form_refusal() -> Option<String> {
    let raw = use_query_map().with_untracked(|q| q.get("__err"))?;
    Some(
        serde_json::from_str::<AppError>(&raw)
            .map(|e| e.to_string())
            .unwrap_or(raw),
    )
}

#[component]
fn Refusal() -> impl IntoView {
    form_refusal().map(|message| {
        view! { <p class="error-note" role="alert"><strong>"Refused: "</strong>{message}</p> }
    })
}

/// `/notion/import`: pick a Notion page (search, or paste its URL) to make
/// a new migration from.
#[component]
pub fn ImportPage() -> impl IntoView {
    let query = use_query_map().with_untracked(|q| q.get("q").unwrap_or_default());
    let operator = may(Role::Operator);
    let local = local_mode();
    let searched = query.clone();
    let hits = Resource::new(
        move || searched.clone(),
        |q| async move {
            if q.trim().is_empty() {
                Ok(Vec::new())
            } else {
                search_notion_pages(q).await
            }
        },
    );
    view! {
        <Title text="New migration from a Notion spec — Switchyard"/>
        <h1>"New migration from a Notion spec"</h1>
        <Refusal/>
        {if !operator {
            view! { <p class="hint">"Importing a spec: operators only."</p> }.into_any()
        } else if local {
            view! {
                <p class="hint">
                    "Switchyard is in local mode: set NOTION_TOKEN to import specs from Notion."
                </p>
            }
                .into_any()
        } else {
            view! {
                <form method="post" action=ImportNotionSpec::url() class="notion-import"
                    aria-label="Import by URL">
                    <label>
                        "Notion page URL or id "
                        <input type="text" name="page" required
                            placeholder="https://www.notion.so/…"/>
                    </label>
                    <button type="submit">"Import"</button>
                </form>
                <form method="get" action="/notion/import" class="notion-search" aria-label="Search Notion">
                    <label>"Search Notion pages " <input type="search" name="q" value=query/></label>
                    <button type="submit">"Search"</button>
                </form>
                <Suspense fallback=|| view! { <Loading what="search results"/> }>
                    {move || Suspend::new(async move {
                        match hits.await {
                            Ok(list) => {
                                view! {
                                    <ul class="notion-hits">
                                        {list
                                            .into_iter()
                                            .map(|hit| {
                                                view! {
                                                    <li>
                                                        <form method="post" action=ImportNotionSpec::url()>
                                                            <input type="hidden" name="page" value=hit.id.clone()/>
                                                            <a href=hit.url.clone()>{hit.title.clone()}</a>
                                                            " (edited " {date_time(&hit.last_edited, false)} ") "
                                                            <button type="submit">"Import"</button>
                                                        </form>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                }
                                    .into_any()
                            }
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Suspense>
            }
                .into_any()
        }}
    }
}

/// `/m/{name}/notion`: the migration's Notion side.
#[component]
pub fn NotionSection() -> impl IntoView {
    let name = use_migration_name();
    let mirror = Resource::new(move || name.get(), get_mirror);
    let operator = may(Role::Operator);
    let refresh_asked = use_query_map().with_untracked(|q| q.get("refresh").is_some());
    view! {
        <Refusal/>
        <Suspense fallback=|| view! { <Loading what="Notion"/> }>
            {move || Suspend::new(async move {
                let m = match mirror.await {
                    Ok(m) => m,
                    Err(error) => return view! { <ErrorNote error/> }.into_any(),
                };
                let name = name.get_untracked();
                let spec_link = m.spec_page_url.clone().map(|url| {
                    view! { <p>"Spec: " <a href=url.clone()>{url.clone()}</a></p> }
                });
                let plan_link = m.plan_page_url.clone().map(|url| {
                    view! { <p>"Plan published: " <a href=url.clone() class="plan-page">{url.clone()}</a></p> }
                });
                let refresh = (operator && !m.local && m.spec_page_url.is_some()).then(|| {
                    if refresh_asked {
                        view! { <RefreshPreviewPanel name=name.clone()/> }.into_any()
                    } else {
                        view! {
                            <p><a href=format!("/m/{name}/notion?refresh=1") class="button">"Refresh from Notion"</a></p>
                        }
                            .into_any()
                    }
                });
                let publish = (operator && !m.local && m.plan_page_url.is_none()).then(|| {
                    view! {
                        <form method="post" action=PublishPlan::url() class="publish-plan"
                            aria-label="Publish plan to Notion">
                            <input type="hidden" name="name" value=name.clone()/>
                            <label>
                                "Under the page (URL or id; empty: the spec's page) "
                                <input type="text" name="parent"/>
                            </label>
                            <button type="submit">"Publish plan to Notion"</button>
                        </form>
                    }
                });
                // Said, not just hidden (as the other sections do).
                let operators_only = (!operator).then(|| {
                    view! {
                        <p class="hint">
                            "Refreshing the spec, publishing the plan and retrying outbox items: operators only."
                        </p>
                    }
                });
                let versions = m.spec_versions.clone();
                let outbox = m.outbox.clone();
                view! {
                    <section class="notion" aria-label="Notion">
                        {m.local.then(|| view! { <p class="hint">"Local mode: nothing is sent to Notion."</p> })}
                        {spec_link}
                        {refresh}
                        {plan_link}
                        {publish}
                        {operators_only}
                        <h2>"Outbox"</h2>
                        {if outbox.is_empty() {
                            view! { <p class="empty">"Nothing sent to Notion yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="outbox">
                                    <thead><tr><th>"#"</th><th>"What"</th><th>"State"</th><th>"Attempts"</th><th>"Error"</th><th></th></tr></thead>
                                    <tbody>
                                        {outbox.into_iter().map(|item| {
                                            let open = item.state == "pending" || item.state == "failed";
                                            let actions = (operator && open).then(|| {
                                                let name = name.clone();
                                                view! {
                                                    <form method="post" action=RetryOutboxItem::url() class="inline">
                                                        <input type="hidden" name="name" value=name.clone()/>
                                                        <input type="hidden" name="item" value=item.id.to_string()/>
                                                        <button type="submit">"Retry now"</button>
                                                    </form>
                                                    <form method="post" action=DiscardOutboxItem::url() class="inline">
                                                        <input type="hidden" name="name" value=name/>
                                                        <input type="hidden" name="item" value=item.id.to_string()/>
                                                        <button type="submit">"Discard"</button>
                                                    </form>
                                                }
                                            });
                                            let state = match (&item.result_url, item.state.as_str()) {
                                                (Some(url), _) => view! { <a href=url.clone()>{item.state.clone()}</a> }.into_any(),
                                                (None, "pending") => format!("pending (next try {})", date_time(&item.next_attempt_at, true)).into_any(),
                                                (None, state) => state.to_string().into_any(),
                                            };
                                            view! {
                                                <tr data-state=item.state.clone()>
                                                    <td>{item.id}</td>
                                                    <td>{item.what.clone()} " (by " {item.created_by.clone()} ")"</td>
                                                    <td>{state}</td>
                                                    <td>{item.attempts}</td>
                                                    <td class="error">{item.last_error.clone().unwrap_or_default()}</td>
                                                    <td>{actions}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }
                                .into_any()
                        }}
                        <h2>"Earlier versions of the spec"</h2>
                        {if versions.is_empty() {
                            view! { <p class="empty">"None: the spec has not been refreshed."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="spec-versions">
                                    {versions.into_iter().map(|v| view! {
                                        <li>
                                            {format!("{} ({} blocks), fetched {}, replaced {} by {}",
                                                v.title, v.blocks, date_time(&v.fetched_at, false),
                                                date_time(&v.replaced_at, false), v.replaced_by)}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }
                                .into_any()
                        }}
                    </section>
                }
                    .into_any()
            })}
        </Suspense>
    }
}

/// The changes a refresh would bring, and the button that applies them.
#[component]
fn RefreshPreviewPanel(name: String) -> impl IntoView {
    let asked = name.clone();
    let preview = Resource::new(move || asked.clone(), preview_spec_refresh);
    view! {
        <Suspense fallback=|| view! { <Loading what="the page from Notion"/> }>
            {move || {
                let name = name.clone();
                Suspend::new(async move {
                    match preview.await {
                        Ok(p) if p.diff.is_empty() => {
                            view! { <p class="refresh-none">"Notion's page is the same as the stored spec: nothing to refresh."</p> }
                                .into_any()
                        }
                        Ok(p) => view! {
                            <section class="refresh-preview" aria-label="Changes from Notion">
                                <h2>"Changes from Notion"</h2>
                                <Changes title="Added" changes=p.diff.added.clone()/>
                                <Changes title="Removed" changes=p.diff.removed.clone()/>
                                <Changes title="Changed" changes=p.diff.changed.clone()/>
                                <form method="post" action=ApplySpecRefresh::url()>
                                    <input type="hidden" name="name" value=name.clone()/>
                                    <input type="hidden" name="base" value=p.base.to_string()/>
                                    <button type="submit">"Replace the spec with Notion's page"</button>
                                </form>
                            </section>
                        }
                            .into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn Changes(title: &'static str, changes: Vec<BlockChange>) -> impl IntoView {
    (!changes.is_empty()).then(|| {
        view! {
            <h3>{format!("{title} ({})", changes.len())}</h3>
            <ul class=format!("changes {}", title.to_lowercase())>
                {changes.into_iter().map(|c| {
                    let text = match (c.before.is_empty(), c.after.is_empty()) {
                        (true, _) => c.after.clone(),
                        (_, true) => c.before.clone(),
                        _ => format!("{} → {}", c.before, c.after),
                    };
                    view! { <li data-kind=c.kind.clone()><span class="kind">{c.kind.clone()}</span> " " {text}</li> }
                }).collect_view()}
            </ul>
        }
    })
}
