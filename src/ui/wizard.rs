//! "New migration" (issue 14): `/new` lists the tables of the connected
//! database a recipe could move (step 1); `/new/{id}` is one draft with
//! its profile (step 2), its recipe as TOML with each problem beside its
//! line and a summary table (step 3), and the standard plan and tasks it
//! becomes (step 4). Every step is stored, so the page reads again and
//! resumes. Plain HTML forms posting to server functions, so no step
//! needs JavaScript; two islands add to them: a running profile's
//! progress line, and the recipe's problems listed as you type.
//! Operators and admins only (checked on the server).

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::account::may;
use super::common::{island_data, ErrorNote, Loading};
use super::notion::Refusal;
use crate::api::wizard::{
    check_recipe, get_draft, get_profiling, list_sources, CreateFromDraft, LinkDraftSpecPage,
    ProfileDraft, SaveDraftRecipe, SaveDraftSpec, StartDraft,
};
use crate::model::account::Role;
use crate::model::wizard::{DraftView, ProfileView, ProfilingView, RecipeProblem, SourceView};

/// `/new`: step 1, the source.
#[component]
pub fn NewMigrationPage() -> impl IntoView {
    let operator = may(Role::Operator);
    let sources = Resource::new(
        || (),
        move |_| async move {
            if operator {
                list_sources().await.map(Some)
            } else {
                Ok(None)
            }
        },
    );
    view! {
        <Title text="New migration — Switchyard"/>
        <h1>"New migration"</h1>
        <ol class="wizard-steps">
            <li class="current">"1. Source"</li>
            <li>"2. Profile"</li>
            <li>"3. Recipe"</li>
            <li>"4. Plan and tasks"</li>
        </ol>
        <Refusal/>
        <Suspense fallback=|| view! { <Loading what="tables"/> }>
            {move || Suspend::new(async move {
                match sources.await {
                    Ok(None) => view! {
                        <p class="hint">"Starting a migration: operators only."</p>
                    }.into_any(),
                    Ok(Some(v)) => {
                        let drafts = (!v.drafts.is_empty()).then(|| view! {
                            <section class="wizard-drafts">
                                <h2>"Drafts under way"</h2>
                                <ul>
                                    {v.drafts.into_iter().map(|d| view! {
                                        <li>
                                            <a href=format!("/new/{}", d.id)>{format!("Draft {}: {}", d.id, d.source)}</a>
                                            {format!(" (at step {})", d.step)}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            </section>
                        });
                        let empty = v.tables.is_empty().then(|| view! {
                            <p class="empty">"No table of this database has a jsonb column."</p>
                        });
                        view! {
                            {drafts}
                            <h2>"Tables with a jsonb column"</h2>
                            {empty}
                            <table class="wizard-sources">
                                <thead><tr>
                                    <th>"Table"</th><th>"Rows"</th><th>"Size"</th>
                                    <th>"Key and column"</th>
                                </tr></thead>
                                <tbody>
                                    {v.tables.into_iter().map(|t| view! { <SourceRow t/> }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SourceRow(t: SourceView) -> impl IntoView {
    let name = format!("{}.{}", t.schema, t.table);
    let action = match (&t.unusable, &t.migrated_by) {
        (Some(why), _) => {
            view! { <td class="unusable">"Cannot be used: " {why.clone()}</td> }.into_any()
        }
        (None, Some(other)) => view! {
            <td class="unusable">
                "Already migrated by " <a href=format!("/m/{other}")>{other.clone()}</a>
            </td>
        }
        .into_any(),
        (None, None) => view! {
            <td>
                <form method="post" action=StartDraft::url() class="start-draft"
                    aria-label=format!("Start a migration of {name}")>
                    <input type="hidden" name="schema" value=t.schema.clone()/>
                    <input type="hidden" name="table" value=t.table.clone()/>
                    <label>"Key "
                        <select name="key">
                            {t.keys.iter().map(|(c, ty)| view! {
                                <option value=c.clone()>{format!("{c} ({ty})")}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    " "
                    <label>"Column "
                        <select name="column">
                            {t.columns.iter().map(|c| view! {
                                <option value=c.clone()>{c.clone()}</option>
                            }).collect_view()}
                        </select>
                    </label>
                    " "
                    <button type="submit">"Profile this table"</button>
                </form>
            </td>
        }
        .into_any(),
    };
    view! {
        <tr data-table=name.clone()>
            <td><code>{name.clone()}</code></td>
            <td>{t.rows.clone()}</td>
            <td>{t.size.clone()}</td>
            {action}
        </tr>
    }
}

/// `/new/{id}`: one draft, steps 2 to 4.
#[component]
pub fn DraftPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok());
    let operator = may(Role::Operator);
    let draft = Resource::new(id, move |id| async move {
        match (operator, id) {
            (false, _) => Ok(None),
            (true, Some(id)) => get_draft(id).await.map(Some),
            (true, None) => Err(crate::model::AppError::invalid(
                "id",
                "a draft's number is expected",
            )),
        }
    });
    view! {
        <Title text="New migration — Switchyard"/>
        <h1>"New migration"</h1>
        <Refusal/>
        <Suspense fallback=|| view! { <Loading what="the draft"/> }>
            {move || Suspend::new(async move {
                match draft.await {
                    Ok(None) => view! {
                        <p class="hint">"Starting a migration: operators only."</p>
                    }.into_any(),
                    Ok(Some(d)) => view! { <Draft d/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Draft(d: DraftView) -> impl IntoView {
    let id = d.id.to_string();
    let source = format!("{}.{}.{}", d.schema, d.table, d.column);
    let made = d.migration.clone().map(|name| view! {
        <p class="wizard-done">
            "This draft is migration " <a href=format!("/m/{name}/phases")>{name.clone()}</a> " now."
        </p>
    });
    let profile = d
        .profile
        .clone()
        .map(|p| view! { <ProfileTable p/> }.into_any());
    let open = d.migration.is_none();
    let running = d.profiling.clone().filter(|p| !p.stalled);
    let progress = running
        .as_ref()
        .and_then(|p| island_data(p).ok())
        .map(|data| view! { <ProfilingProgress id=d.id data/> });
    let stalled = d.profiling.as_ref().filter(|p| p.stalled).map(|p| view! {
        <p class="error-note" role="alert">
            {format!(
                "A profile of {} stopped at {}% without ending (the server stopped?): start it again.",
                if p.whole { "the whole table" } else { "a sample" },
                p.percent
            )}
        </p>
    });
    let failed = d.profiling_error.clone().map(|e| {
        view! {
            <p class="error-note" role="alert">{format!("The last profile failed: {e}")}</p>
        }
    });
    // Two forms, each with its scope: a submit button's own name and value
    // are not sent when the islands router posts the form for the browser.
    // None while a profile runs (one at a time).
    let profile_forms = (open && running.is_none()).then(|| {
        view! {
            <div class="profile-draft">
                <form method="post" action=ProfileDraft::url() aria-label="Profile a sample">
                    <input type="hidden" name="id" value=id.clone()/>
                    <input type="hidden" name="scope" value="sample"/>
                    <button type="submit">"Profile a sample"</button>
                </form>
                <form method="post" action=ProfileDraft::url() aria-label="Profile the whole table">
                    <input type="hidden" name="id" value=id.clone()/>
                    <input type="hidden" name="scope" value="whole"/>
                    <button type="submit">"Profile the whole table"</button>
                </form>
            </div>
        }
    });
    view! {
        <ol class="wizard-steps">
            <li class="done"><a href="/new">"1. Source"</a></li>
            <li class=if d.profile.is_some() { "done" } else { "current" }>"2. Profile"</li>
            <li class=if d.recipe_text.is_some() { "done" } else { "" }>"3. Recipe"</li>
            <li class=if d.migration.is_some() { "done" } else { "" }>"4. Plan and tasks"</li>
        </ol>
        {made}
        <section class="wizard-source">
            <h2>"1. Source"</h2>
            <p>
                <code>{source}</code>
                {format!(", key {} ({}), started by {}", d.key, d.key_type, d.created_by)}
            </p>
        </section>
        <section class="wizard-profile" id="profile">
            <h2>"2. Profile"</h2>
            {failed}
            {stalled}
            {progress}
            {profile_forms}
            {profile.unwrap_or_else(|| view! {
                <p class="hint">"Not profiled yet: a sample first (fast), the whole table on request."</p>
            }.into_any())}
        </section>
        <RecipeStep d=d.clone()/>
        <PlanStep d/>
    }
}

/// How far a running profile is: asked again every two seconds
/// (`get_profiling`); once it has ended (or stopped), the page is loaded
/// again to show the profile, or why it failed. Rendered on the server
/// too, as of the load.
#[island(lazy)]
pub fn ProfilingProgress(id: i64, data: String) -> impl IntoView {
    let Ok(initial) = serde_json::from_str::<ProfilingView>(&data) else {
        return None;
    };
    let at = RwSignal::new(initial);
    #[cfg(feature = "hydrate")]
    {
        let poll = move || {
            leptos::task::spawn_local(async move {
                match get_profiling(id).await {
                    Ok(Some(p)) if !p.stalled => at.set(p),
                    Ok(_) => {
                        let _ = window().location().reload();
                    }
                    // A poll that failed: the next one asks again.
                    Err(_) => {}
                }
            });
        };
        if let Ok(handle) = set_interval_with_handle(poll, std::time::Duration::from_secs(2)) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, get_profiling);
    Some(view! {
        {move || {
            let p = at.get();
            view! {
                <p class="profiling" role="status">{profiling_words(&p)}</p>
                <progress max=p.pages_total.unwrap_or(0).max(1) value=p.pages_done></progress>
            }
        }}
    })
}

/// "Profiling the whole table: 42% (1200 of 2900 pages), 1 min 12 s so
/// far, about 1 min 40 s left".
fn profiling_words(p: &ProfilingView) -> String {
    let what = if p.whole {
        "the whole table"
    } else {
        "a sample"
    };
    let read = match p.pages_total {
        Some(total) => format!("{}% ({} of {} pages), ", p.percent, p.pages_done, total),
        None => String::new(),
    };
    let left = p
        .left
        .as_ref()
        .map(|l| format!(", about {l} left"))
        .unwrap_or_default();
    format!("Profiling {what}: {read}{} so far{left}", p.elapsed)
}

#[component]
fn ProfileTable(p: ProfileView) -> impl IntoView {
    let entries = (!p.entries.is_empty()).then(|| view! {
        <h3>"Objects whose keys look like entries"</h3>
        <ul class="entry-objects">
            {p.entries.iter().map(|e| view! {
                <li><code>{e.path.clone()}</code> ": " {e.keys.clone()} "; each with " {e.fields.clone()}</li>
            }).collect_view()}
        </ul>
    });
    let truncated = p.truncated.then(|| {
        view! {
            <p class="hint">"More paths were found than are listed."</p>
        }
    });
    view! {
        <p class="profile-summary">
            {format!(
                "Read {} rows ({}, at {}): {} objects, {} SQL NULL, {} JSON null, {} not objects.",
                p.rows, p.scope, p.profiled_at, p.objects, p.sql_nulls, p.json_nulls, p.non_objects
            )}
        </p>
        <table class="profile-paths">
            <thead><tr>
                <th>"Path"</th><th>"Documents"</th><th>"Types"</th><th>"Nulls"</th>
                <th>"Values"</th><th>"Longest"</th>
            </tr></thead>
            <tbody>
                {p.paths.iter().map(|r| view! {
                    <tr data-path=r.path.clone()>
                        <td><code>{r.path.clone()}</code></td>
                        <td>{format!("{} ({})", r.documents, r.share)}</td>
                        <td>{r.types.clone()}</td>
                        <td>{r.nulls}</td>
                        <td>{r.values.clone().unwrap_or_default()}</td>
                        <td class="longest">{r.longest.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        {entries}
        {truncated}
    }
}

#[component]
fn RecipeStep(d: DraftView) -> impl IntoView {
    let Some(text) = d.recipe_text.clone() else {
        return view! {
            <section class="wizard-recipe" id="recipe">
                <h2>"3. Recipe"</h2>
                <p class="hint">"A recipe is drafted from the profile."</p>
            </section>
        }
        .into_any();
    };
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let problems = d.problems.clone();
    let listing = (!problems.is_empty()).then(|| {
        // Each problem beside its line: the text with numbered lines.
        view! {
            <ul class="recipe-problems" role="alert">
                {problems.iter().map(|p| view! {
                    <li data-line=p.line.map(|l| l.to_string()).unwrap_or_default()>
                        {match p.line {
                            Some(l) => format!("line {l}: "),
                            None => String::new(),
                        }}
                        <code>{p.field.clone()}</code> ": " {p.message.clone()}
                    </li>
                }).collect_view()}
            </ul>
            <pre class="recipe-lines">
                {lines.iter().enumerate().map(|(i, line)| {
                    let n = i + 1;
                    let here: Vec<String> = problems.iter()
                        .filter(|p| p.line == Some(n))
                        .map(|p| format!("{}: {}", p.field, p.message))
                        .collect();
                    let class = if here.is_empty() { "line" } else { "line has-problem" };
                    view! {
                        <span class=class>{format!("{n:>4}  {line}")}
                            {(!here.is_empty()).then(|| view! { <span class="problem">{format!("  ← {}", here.join("; "))}</span> })}
                            "\n"
                        </span>
                    }
                }).collect_view()}
            </pre>
        }
    });
    let summary = (!d.summary.is_empty()).then(|| view! {
        <table class="recipe-summary">
            <thead><tr>
                <th>"Target"</th><th>"Kind"</th><th>"Column"</th><th>"Path"</th>
                <th>"Type"</th><th>"Required"</th><th>"Allowed"</th>
            </tr></thead>
            <tbody>
                {d.summary.iter().map(|c| view! {
                    <tr>
                        <td>{c.target.clone()}</td><td>{c.kind.clone()}</td><td>{c.column.clone()}</td>
                        <td><code>{c.path.clone()}</code></td><td>{c.sql_type.clone()}</td>
                        <td>{if c.required { "yes" } else { "" }}</td><td>{c.allowed.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    });
    let unmapped = (!d.unmapped.is_empty()).then(|| {
        view! {
            <p class="unmapped">"Mapped nowhere (counted as unmapped keys, lost at phase 5): "
                {d.unmapped.join(", ")}</p>
        }
    });
    let checked = d.sample_check.clone().map(|check| match check {
        Ok(c) => Either::Left(view! {
            <div class="sample-check" data-quarantined=c.quarantined>
                <h3>"What phase 2 would make of " {c.scope.clone()}</h3>
                <p class="sample-check-summary">{format!(
                    "Of {} documents read, {} would be quarantined (phase 4 waits until they are reviewed), and {} key path(s) would be left unmapped.",
                    c.documents, c.quarantined, c.unmapped_paths
                )}</p>
                {(!c.reasons.is_empty()).then(|| view! {
                    <table class="sample-reasons">
                        <thead><tr><th>"Quarantined because"</th><th>"Documents"</th></tr></thead>
                        <tbody>
                            {c.reasons.iter().map(|(why, n)| view! {
                                <tr><td>{why.clone()}</td><td>{*n}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
                {(!c.unmapped.is_empty()).then(|| view! {
                    <table class="sample-unmapped">
                        <thead><tr><th>"Unmapped key"</th><th>"Times found"</th></tr></thead>
                        <tbody>
                            {c.unmapped.iter().map(|(path, n)| view! {
                                <tr data-path=path.clone()><td><code>{path.clone()}</code></td><td>{*n}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
            </div>
        }),
        Err(e) => Either::Right(view! {
            <p class="sample-check error-note" role="alert">{format!("Could not check the recipe against the documents: {e}")}</p>
        }),
    });
    let dry_run = (!d.dry_run.is_empty()).then(|| {
        view! {
            <div class="draft-dry-run">
                <h3>"Dry run: the SQL each phase would execute"</h3>
                {d.dry_run.iter().map(|(title, sql)| view! {
                    <details>
                        <summary>{title.clone()}</summary>
                        <pre><code>{sql.clone()}</code></pre>
                    </details>
                }).collect_view()}
            </div>
        }
    });
    let editable = d.migration.is_none();
    let rows = (lines.len() + 2).clamp(10, 60).to_string();
    view! {
        <section class="wizard-recipe" id="recipe">
            <h2>"3. Recipe"</h2>
            {listing}
            {summary}
            {unmapped}
            {checked}
            {dry_run}
            <RecipeEditor id=d.id text rows editable/>
        </section>
    }
    .into_any()
}

/// The recipe's text area, checked as you type: after each change the
/// server parses the text (`check_recipe`; the newest answer wins) and
/// each problem is listed with its line and that line's text, before
/// anything is saved. Saving is the form's (it works without JavaScript;
/// the page then shows the saved text with each problem beside its line).
#[island(lazy)]
pub fn RecipeEditor(id: i64, text: String, rows: String, editable: bool) -> impl IntoView {
    // (the text checked, its problems); None: nothing typed since the load.
    let live = RwSignal::new(None::<(String, Vec<RecipeProblem>)>);
    let asked = StoredValue::new(0_u64);
    let typed = move |ev| {
        let text = event_target_value(&ev);
        let n = asked.get_value() + 1;
        asked.set_value(n);
        leptos::task::spawn_local(async move {
            // A check that failed (too long, the session ended) is shown
            // as such, not an older text's answer.
            let problems = check_recipe(text.clone()).await.unwrap_or_else(|e| {
                vec![RecipeProblem {
                    line: None,
                    field: "recipe".into(),
                    message: format!("could not be checked: {e}"),
                }]
            });
            if asked.try_get_value() == Some(n) {
                let _ = live.try_set(Some((text, problems)));
            }
        });
    };
    let listing = move || {
        live.get().map(|(text, problems)| {
            if problems.is_empty() {
                return Either::Left(view! {
                    <p class="recipe-live ok" role="status">"As typed: no problems (not saved yet)."</p>
                });
            }
            let lines: Vec<&str> = text.lines().collect();
            Either::Right(view! {
                <ul class="recipe-live" role="status" aria-label="Problems as typed">
                    {problems.into_iter().map(|p| {
                        let at = p.line.map(|l| format!("line {l}: ")).unwrap_or_default();
                        let source = p
                            .line
                            .and_then(|l| lines.get(l.wrapping_sub(1)))
                            .map(|t| t.trim().to_string());
                        view! {
                            <li data-line=p.line.map(|l| l.to_string()).unwrap_or_default()>
                                {at} <code>{p.field}</code> ": " {p.message}
                                {source.map(|t| view! { " — " <code class="line-text">{t}</code> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })
        })
    };
    view! {
        <form method="post" action=SaveDraftRecipe::url() class="recipe-form" aria-label="Recipe">
            <input type="hidden" name="id" value=id.to_string()/>
            <label for="recipe-text">"Recipe (TOML)"</label>
            <textarea id="recipe-text" name="recipe" rows=rows cols="90" spellcheck="false"
                readonly=!editable on:input=typed>{text}</textarea>
            {listing}
            {editable.then(|| view! { <p><button type="submit">"Save recipe"</button></p> })}
        </form>
    }
}

#[component]
fn PlanStep(d: DraftView) -> impl IntoView {
    if d.phases.is_empty() {
        return view! {
            <section class="wizard-plan" id="plan">
                <h2>"4. Plan and tasks"</h2>
                <p class="hint">"Derived from a valid recipe."</p>
            </section>
        }
        .into_any();
    }
    let create = (d.migration.is_none() && d.problems.is_empty()).then(|| {
        view! {
            <form method="post" action=CreateFromDraft::url() class="create-migration"
                aria-label="Create the migration">
                <input type="hidden" name="id" value=d.id.to_string()/>
                <button type="submit">"Create the migration"</button>
            </form>
        }
    });
    let editable = d.migration.is_none();
    let spec = d.spec.clone().map(|text| {
        let rows = (text.lines().count() + 2).clamp(8, 40).to_string();
        view! {
            <form method="post" action=SaveDraftSpec::url() class="spec-form" id="spec"
                aria-label="Spec">
                <input type="hidden" name="id" value=d.id.to_string()/>
                <h3><label for="spec-text">"Spec (Markdown)"</label></h3>
                <p class="hint">{if d.spec_typed {
                    "As typed here: it becomes the migration's spec (save it empty to go back to the written one)."
                } else {
                    "Written from the recipe and the profile; change it and save, and yours becomes the migration's spec."
                }}</p>
                <textarea id="spec-text" name="spec" rows=rows cols="90" readonly=!editable>{text}</textarea>
                {editable.then(|| view! { <p><button type="submit">"Save spec"</button></p> })}
            </form>
        }
    });
    // Or a Notion page as the spec (fetched when the migration is made;
    // without a Notion connection, making it says how to connect).
    let linked = d.spec_page.clone();
    let spec_page = editable.then(|| {
        view! {
            <form method="post" action=LinkDraftSpecPage::url() class="spec-page-form"
                aria-label="Spec from Notion">
                <input type="hidden" name="id" value=d.id.to_string()/>
                <h3><label for="spec-page">"Or the spec from a Notion page"</label></h3>
                <p class="hint">{match &linked {
                    Some(page) => format!("Linked: Notion page {page}. It is fetched, with all its blocks, when the migration is made, and used instead of the Markdown above; save it empty to unlink it."),
                    None => "Paste the page's URL or id: it is fetched when the migration is made, and can be refreshed from Notion later.".to_string(),
                }}</p>
                <input type="text" id="spec-page" name="page" size="60" value=linked.clone().unwrap_or_default()/>
                <button type="submit">"Link the page"</button>
            </form>
        }
    });
    view! {
        <section class="wizard-plan" id="plan">
            <h2>"4. Plan and tasks"</h2>
            {spec}
            {spec_page}
            <h3>"Plan: five phases, each after the one before"</h3>
            <ol class="planned-phases">
                {d.phases.iter().map(|p| view! {
                    <li><strong>{p.title.clone()}</strong> " — " {p.detail.clone()}</li>
                }).collect_view()}
            </ol>
            <h3>"Tasks"</h3>
            <ul class="planned-tasks">
                {d.tasks.iter().map(|t| view! {
                    <li>
                        <strong>{t.title.clone()}</strong> {format!(" ({})", t.detail)}
                        <ul>{t.criteria.iter().map(|c| view! { <li>{c.clone()}</li> }).collect_view()}</ul>
                    </li>
                }).collect_view()}
            </ul>
            {create}
        </section>
    }
    .into_any()
}
