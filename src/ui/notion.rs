//! The Notion mirror's pages: the local-mode banner every page shows when
//! no token is set, "New migration from a Notion spec" (`/notion/import`:
//! search or paste a URL), and a migration's Notion section
//! (`/m/{name}/notion`: the linked pages, "Refresh from Notion" with the
//! changes shown before they are applied, the spec's earlier versions,
//! "Publish plan to Notion" and the outbox's items with retry / discard).
//! Plain HTML forms posting to server functions: no island, no JavaScript
//! needed.

use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::account::may;
use super::common::{date_time, use_migration_name, ErrorNote, Loading};
use crate::api::notion::{
    get_mirror, preview_spec_refresh, search_notion_pages, search_task_databases, ApplySpecRefresh,
    ConfirmTaskMapping, ConnectTaskDatabase, CreateTasksInNotion, DiscardOutboxItem,
    ImportNotionSpec, PublishPlan, ResolveTaskConflict, RetryOutboxItem, SetTasksDoneWithPhase,
};
use crate::domain::spec::BlockChange;
use crate::model::account::Role;
use crate::model::mirror::{TaskField, TaskLinkView};
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
    Some(ServerFnUrlError::<AppError>::decode_err(&raw).to_string())
}

#[component]
pub(crate) fn Refusal() -> impl IntoView {
    form_refusal().map(|message| {
        view! { <p class="error-note" role="alert"><strong>"Refused: "</strong>{message}</p> }
    })
}

/// A search driven by the query parameter `param`: its value (for the
/// search box) and the results (none for an empty query).
fn search_by_query<T, Fut>(
    param: &'static str,
    search: fn(String) -> Fut,
) -> (String, Resource<Result<Vec<T>, AppError>>)
where
    T: Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    Fut: std::future::Future<Output = Result<Vec<T>, AppError>> + Send + 'static,
{
    let query = use_query_map().with_untracked(|q| q.get(param).unwrap_or_default());
    let searched = query.clone();
    let hits = Resource::new(
        move || searched.clone(),
        move |q| async move {
            if q.trim().is_empty() {
                Ok(Vec::new())
            } else {
                search(q).await
            }
        },
    );
    (query, hits)
}

/// `/notion/import`: pick a Notion page (search, or paste its URL) to make
/// a new migration from.
#[component]
pub fn ImportPage() -> impl IntoView {
    let (query, hits) = search_by_query("q", search_notion_pages);
    let operator = may(Role::Operator);
    let local = local_mode();
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
                let progress = (!m.local && m.plan_page_url.is_some()).then(|| {
                    let on = m.tasks_done_with_phase;
                    let state = if on {
                        "A phase's tasks move to Done when the phase finishes."
                    } else {
                        "Tasks stay where they are when their phase finishes."
                    };
                    let toggle = operator.then(|| view! {
                        <form method="post" action=SetTasksDoneWithPhase::url() class="inline"
                            aria-label="Tasks done with their phase">
                            <input type="hidden" name="name" value=name.clone()/>
                            <input type="hidden" name="on" value=if on { "false" } else { "true" }/>
                            <button type="submit">{if on { "Turn off" } else { "Turn on" }}</button>
                        </form>
                    });
                    view! {
                        <p class="progress-setting">
                            "Progress is written to the plan's page as the phases run. " {state} " " {toggle}
                        </p>
                    }
                });
                let versions = m.spec_versions.clone();
                let outbox = m.outbox.clone();
                let tasks = (!m.local).then(|| {
                    view! { <TaskDatabase name=name.clone() link=m.tasks.clone() operator/> }
                });
                view! {
                    <section class="notion" aria-label="Notion">
                        {m.local.then(|| view! { <p class="hint">"Local mode: nothing is sent to Notion."</p> })}
                        {spec_link}
                        {refresh}
                        {plan_link}
                        {progress}
                        {publish}
                        {operators_only}
                        {tasks}
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
                                    <input type="hidden" name="previewed" value=p.fingerprint.clone()/>
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

/// The task database: connect one (search or paste), confirm or change the
/// proposed mapping, "Create tasks in Notion", then what is mirrored and
/// the conflicts to resolve.
#[component]
fn TaskDatabase(name: String, link: Option<TaskLinkView>, operator: bool) -> impl IntoView {
    let Some(link) = link else {
        return if operator {
            view! { <ConnectTaskDatabaseForm name/> }.into_any()
        } else {
            view! {
                <section class="task-db" aria-label="Task database">
                    <h2>"Task database"</h2>
                    <p class="empty">"Not connected. Connecting one: operators only."</p>
                </section>
            }
            .into_any()
        };
    };
    let editable = operator && !link.pages_queued;
    let mapping = if editable {
        view! { <MappingForm name=name.clone() link=link.clone()/> }.into_any()
    } else {
        view! { <MappingTable link=link.clone()/> }.into_any()
    };
    let create = (operator && link.confirmed_by.is_some() && !link.pages_queued).then(|| {
        view! {
            <form method="post" action=CreateTasksInNotion::url() aria-label="Create tasks in Notion">
                <input type="hidden" name="name" value=name.clone()/>
                <button type="submit">"Create tasks in Notion"</button>
            </form>
        }
    });
    let state = if link.pages_queued {
        format!(
            "Mirrored: {} of {} tasks have a page. {}",
            link.tasks_with_pages,
            link.tasks,
            link.polled_at
                .as_ref()
                .map(|t| format!("Last look at Notion: {t}."))
                .unwrap_or_else(|| "Notion not polled yet.".into())
        )
    } else if let Some(by) = &link.confirmed_by {
        format!("Mapping confirmed by {by}; nothing sent to Notion yet.")
    } else {
        "Mapping proposed: confirm or change it (nothing is sent before).".to_string()
    };
    let missing = (!link.missing.is_empty()).then(|| {
        view! {
            <div class="mapping-missing">
                <p>"Not mirrored:"</p>
                <ul>{link.missing.iter().map(|m| view! { <li>{m.clone()}</li> }).collect_view()}</ul>
            </div>
        }
    });
    let conflicts = link.conflicts.clone();
    let conflict_list = (!conflicts.is_empty()).then(|| {
        view! {
            <h3 id="conflicts">"Conflicts"</h3>
            <p class="hint">
                "Changed on the board and in Notion since the last sync: nothing is written for these until one side is kept."
            </p>
            <table class="conflicts">
                <thead><tr><th>"Task"</th><th>"Field"</th><th>"Board"</th><th>"Notion"</th><th></th></tr></thead>
                <tbody>
                    {conflicts.into_iter().map(|c| {
                        let keep = |side: &'static str, label: &'static str| {
                            let name = name.clone();
                            operator.then(|| view! {
                                <form method="post" action=ResolveTaskConflict::url() class="inline">
                                    <input type="hidden" name="name" value=name/>
                                    <input type="hidden" name="conflict" value=c.id.to_string()/>
                                    <input type="hidden" name="keep" value=side/>
                                    <button type="submit">{label}</button>
                                </form>
                            })
                        };
                        // A text field can also be resolved by a value
                        // typed from both (prefilled with the board's).
                        let title = c.field == "title";
                        let merge = c.merge_from.clone().filter(|_| operator).map(|from| {
                            let name = name.clone();
                            view! {
                                <form method="post" action=ResolveTaskConflict::url() class="inline merge">
                                    <input type="hidden" name="name" value=name/>
                                    <input type="hidden" name="conflict" value=c.id.to_string()/>
                                    <input type="hidden" name="keep" value="merged"/>
                                    <label>"Or type the value to keep: "
                                        <input type="text" name="value" value=from maxlength=if title { "200" } else { "100" } required=title/>
                                    </label>
                                    <button type="submit">"Keep this"</button>
                                </form>
                            }
                        });
                        view! {
                            <tr class="conflict" data-field=c.field.clone()>
                                <td>{format!("{} (task {})", c.task_title, c.task_id)}</td>
                                <td>{c.field.clone()}</td>
                                <td class="board-value">{c.board_value.clone()} <small>{format!(" by {}, {}", c.board_by, date_time(&c.board_at, true))}</small></td>
                                <td class="notion-value">{c.notion_value.clone()} <small>{format!(" by {}, {}", c.notion_by, date_time(&c.notion_at, true))}</small></td>
                                <td>{keep("board", "Keep the board's")} {keep("notion", "Keep Notion's")} {merge}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
    });
    view! {
        <section class="task-db" aria-label="Task database">
            <h2>"Task database"</h2>
            <p>"Tasks mirrored with the Notion data source " <strong>{link.data_source_name.clone()}</strong> "."</p>
            <p class="task-db-state">{state}</p>
            {mapping}
            {missing}
            {create}
            {conflict_list}
        </section>
    }
    .into_any()
}

#[component]
fn ConnectTaskDatabaseForm(name: String) -> impl IntoView {
    let (query, hits) = search_by_query("dsq", search_task_databases);
    let action = format!("/m/{name}/notion");
    let hit_name = name.clone();
    view! {
        <section class="task-db" aria-label="Task database">
            <h2>"Task database"</h2>
            <form method="post" action=ConnectTaskDatabase::url() aria-label="Connect task database">
                <input type="hidden" name="name" value=name.clone()/>
                <label>
                    "Task database URL or id "
                    <input type="text" name="target" required placeholder="https://www.notion.so/…"/>
                </label>
                <button type="submit">"Connect"</button>
            </form>
            <form method="get" action=action aria-label="Search task databases">
                <label>"Search Notion databases " <input type="search" name="dsq" value=query/></label>
                <button type="submit">"Search"</button>
            </form>
            <Suspense fallback=|| view! { <Loading what="search results"/> }>
                {move || {
                    let name = hit_name.clone();
                    Suspend::new(async move {
                        match hits.await {
                            Ok(list) => view! {
                                <ul class="task-db-hits">
                                    {list.into_iter().map(|hit| view! {
                                        <li>
                                            <form method="post" action=ConnectTaskDatabase::url()>
                                                <input type="hidden" name="name" value=name.clone()/>
                                                <input type="hidden" name="target" value=hit.id.clone()/>
                                                {hit.name.clone()} " "
                                                <button type="submit">"Connect"</button>
                                            </form>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }
                            .into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

/// The mapping as a form: a property per field (of a fitting type), and an
/// option per value of ours for status and priority.
#[component]
fn MappingForm(name: String, link: TaskLinkView) -> impl IntoView {
    let rows = TaskField::ALL.into_iter().map(|field| {
        let current = link.mapping.get(field).cloned();
        let fitting: Vec<_> = link
            .properties
            .iter()
            .filter(|p| field.fits(p, &link.data_source_id))
            .cloned()
            .collect();
        let chosen = current.as_ref().map(|m| m.property.clone()).unwrap_or_default();
        let options = current.as_ref().map(|m| {
            let prop_options = link
                .properties
                .iter()
                .find(|p| p.name == m.property)
                .map(|p| p.options.clone())
                .unwrap_or_default();
            m.values.iter().map(|(ours, theirs)| {
                let theirs = theirs.clone().unwrap_or_default();
                let key = format!("mapping[{}:{}]", field.as_str(), ours.replace(' ', "_"));
                view! {
                    <label class="option-map">
                        {format!("{ours} → ")}
                        <select name=key>
                            <option value="" selected=theirs.is_empty()>"(none)"</option>
                            {prop_options.iter().map(|o| view! {
                                <option value=o.clone() selected=*o == theirs>{o.clone()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                }
            }).collect_view()
        });
        view! {
            <tr data-field=field.as_str()>
                <th scope="row">{field.label()}</th>
                <td>
                    <select name=format!("mapping[{}]", field.as_str()) aria-label=field.label()>
                        {(field != TaskField::Title).then(|| view! {
                            <option value="" selected=chosen.is_empty()>"(not mirrored)"</option>
                        })}
                        {fitting.iter().map(|p| view! {
                            <option value=p.name.clone() selected=p.name == chosen>
                                {format!("{} ({})", p.name, p.kind)}
                            </option>
                        }).collect_view()}
                    </select>
                </td>
                <td>{options}</td>
            </tr>
        }
    }).collect_view();
    view! {
        <form method="post" action=ConfirmTaskMapping::url() class="task-mapping" aria-label="Task mapping">
            <input type="hidden" name="name" value=name/>
            <table class="mapping">
                <thead><tr><th>"Our field"</th><th>"Notion property"</th><th>"Values"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <p class="hint">"Acceptance criteria become to-do blocks in each page. Properties not listed here are never touched."</p>
            <button type="submit">"Confirm mapping"</button>
        </form>
    }
}

/// The mapping, read only.
#[component]
fn MappingTable(link: TaskLinkView) -> impl IntoView {
    view! {
        <table class="mapping">
            <thead><tr><th>"Our field"</th><th>"Notion property"</th><th>"Values"</th></tr></thead>
            <tbody>
                {TaskField::ALL.into_iter().map(|field| {
                    let m = link.mapping.get(field).cloned();
                    let property = m.as_ref().map(|m| format!("{} ({})", m.property, m.kind)).unwrap_or_else(|| "(not mirrored)".into());
                    let values = m.map(|m| m.values.iter().map(|(ours, theirs)| {
                        format!("{ours} → {}", theirs.as_deref().unwrap_or("(none)"))
                    }).collect::<Vec<_>>().join(", ")).unwrap_or_default();
                    view! { <tr data-field=field.as_str()><th scope="row">{field.label()}</th><td>{property}</td><td>{values}</td></tr> }
                }).collect_view()}
            </tbody>
        </table>
    }
}
