//! The Plan section: the plan's text (Markdown, rendered like the spec) and
//! its phases as the server describes them (what each waits for included);
//! an editor with live preview that saves a new revision and refuses to
//! overwrite a revision saved by someone else meanwhile (both versions are
//! shown); the history with diffs and restore.
//!
//! Saving and restoring are HTML forms on server actions (`ActionForm`). The
//! editor is folded under "Edit plan" (a `<details>`, so it opens without
//! JavaScript too). With JavaScript a save happens in place; a refusal keeps
//! the form as typed and is shown next to the field it names, a stale
//! revision as a conflict with both versions side by side. Without it the
//! forms post to the server functions, which redirect back to the plan with
//! a refusal encoded in the URL: the editor opens showing it (what was typed
//! is not kept). The plan and its history are refetched when one of those
//! actions saves (successful calls only). Comparing two revisions is a read,
//! fetched when asked.
//!
//! The plan and its history are one island (`PlanIsland`): the only part of
//! the page that hydrates. It gets the plan, the history and the
//! migration's name from the server (an island has no router in the
//! browser).

use leptos::either::Either;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};

use super::common::{
    date_time, island_data, provide_action_error, refusal, saved_version, use_migration_name,
    ErrorNote, Loading, PhaseBadge,
};
use crate::api::migrations::get_plan;
use crate::api::plans::{
    get_plan_conflict, get_plan_diff, get_plan_history, render_plan, ResolvePlanConflict,
    RestorePlan, SavePlan,
};
use crate::model::account::Role;
use crate::model::plan::{DiffKind, DiffLine, PlanConflictView, PlanEdit, PlanVersion};
use crate::model::{AppError, PhaseView, PlanView};

#[component]
pub fn PlanSection() -> impl IntoView {
    let name = use_migration_name();
    let plan = Resource::new(move || name.get(), get_plan);
    let history = Resource::new(move || name.get(), get_plan_history);
    let conflict = Resource::new(move || name.get(), get_plan_conflict);
    view! {
        <Suspense fallback=|| view! { <Loading what="plan"/> }>
            {move || Suspend::new(async move {
                let conflict = match conflict.await {
                    Ok(c) => c.map(|c| {
                        let can_edit = super::account::may(Role::Operator);
                        view! { <PlanConflict conflict=c name=name.get_untracked() can_edit/> }.into_any()
                    }),
                    Err(error) => Some(view! { <ErrorNote error/> }.into_any()),
                };
                let plan = match (plan.await, history.await) {
                    (Ok(plan), Ok(history)) => {
                        let body_html = body_html(&plan.body_markdown);
                        let can_edit = super::account::may(Role::Operator);
                        let data = PlanData { plan, body_html, history, name: name.get_untracked(), can_edit };
                        match island_data(&data) {
                            Ok(data) => view! { <PlanIsland data/> }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    }
                    (Err(error), _) | (_, Err(error)) => view! { <ErrorNote error/> }.into_any(),
                };
                view! { {conflict} {plan} }
            })}
        </Suspense>
    }
}

/// The plan changed in Switchyard and in its Notion page since the last
/// sync: both versions side by side, who changed each and when, and (for
/// operators) keep one side or save a merge. Plain forms: they work
/// without JavaScript (the server redirects back here).
#[component]
fn PlanConflict(conflict: PlanConflictView, name: String, can_edit: bool) -> impl IntoView {
    let id = conflict.id.to_string();
    let keep = |side: &'static str, label: &'static str| {
        let (name, id) = (name.clone(), id.clone());
        can_edit.then(|| view! {
            <form method="post" action=ResolvePlanConflict::url() class="inline" aria-label=label>
                <input type="hidden" name="name" value=name/>
                <input type="hidden" name="conflict" value=id/>
                <input type="hidden" name="keep" value=side/>
                <button type="submit">{label}</button>
            </form>
        })
    };
    let merge = can_edit.then(|| view! {
        <form method="post" action=ResolvePlanConflict::url() class="plan-merge" aria-label="Merge">
            <input type="hidden" name="name" value=name.clone()/>
            <input type="hidden" name="conflict" value=id.clone()/>
            <input type="hidden" name="keep" value="merged"/>
            <input type="hidden" name="base_revision" value=conflict.switchyard_revision.to_string()/>
            <label>
                "Merged text (the phases stay as in Switchyard)"
                <textarea name="body" rows="8">{conflict.switchyard.body_markdown.clone()}</textarea>
            </label>
            <button type="submit">"Save the merge"</button>
        </form>
    });
    view! {
        <section class="plan-conflict" aria-label="Plan conflict" role="alert">
            <h2>"Changed in Switchyard and in Notion"</h2>
            <p class="hint">
                "The plan and its Notion page both changed since they were last in step: nothing is written to either until one side is kept."
            </p>
            <div class="conflict-sides">
                <div class="conflict-side switchyard-side">
                    <h3>"Switchyard"</h3>
                    <p class="meta">{format!(
                        "Revision {}, by {}, {}",
                        conflict.switchyard_revision,
                        conflict.switchyard_by,
                        date_time(&conflict.switchyard_at, true)
                    )}</p>
                    <pre>{conflict.switchyard.as_text()}</pre>
                    {keep("switchyard", "Keep Switchyard's")}
                </div>
                <div class="conflict-side notion-side">
                    <h3>"Notion"</h3>
                    <p class="meta">{format!(
                        "By {}, {}",
                        conflict.notion_by,
                        date_time(&conflict.notion_at, true)
                    )}</p>
                    <pre>{conflict.notion.as_text()}</pre>
                    {keep("notion", "Keep Notion's")}
                </div>
            </div>
            {merge}
        </section>
    }
}

/// The plan with its editor, and its history. Loaded again from the server
/// when a save or a restore succeeded (a refusal changes nothing, so the
/// editor and what was typed in it stay as they are).
/// The plan's Markdown as HTML, rendered like the spec (Notion blocks). On
/// the server only: the browser gets it rendered (`api::plans::render_plan`
/// for the live preview), so the bundle carries no Markdown parser.
#[cfg(feature = "ssr")]
pub fn body_html(markdown: &str) -> String {
    use super::spec::render_blocks;
    use crate::domain::markdown::to_blocks;
    render_blocks(&to_blocks(markdown)).to_html()
}

/// Only the server renders Markdown (see above).
#[cfg(not(feature = "ssr"))]
pub fn body_html(_markdown: &str) -> String {
    String::new()
}

/// What the plan island starts from.
#[derive(Serialize, Deserialize)]
pub struct PlanData {
    pub plan: PlanView,
    pub body_html: String,
    pub history: Vec<PlanVersion>,
    pub name: String,
    /// May the account edit and restore the plan (operators and admins)?
    pub can_edit: bool,
}

/// The plan island. Its data comes as one JSON string, read here with the
/// very code that reads `get_plan`'s and `get_plan_history`'s answers:
/// typed props would be read by a second copy of those decoders in the
/// browser bundle.
#[island(lazy)]
pub fn PlanIsland(data: String) -> impl IntoView {
    match serde_json::from_slice::<PlanData>(data.as_bytes()) {
        Ok(PlanData {
            plan,
            body_html,
            history,
            name,
            can_edit,
        }) => Either::Left(view! { <PlanAndHistory plan body_html history name can_edit/> }),
        Err(e) => {
            #[cfg(feature = "ssr")]
            crate::server::context::set_no_store();
            Either::Right(view! {
                <p class="error-note" role="alert">{format!("Could not read the plan: {e}")}</p>
            })
        }
    }
}

#[component]
fn PlanAndHistory(
    plan: PlanView,
    body_html: String,
    history: Vec<PlanVersion>,
    name: String,
    can_edit: bool,
) -> impl IntoView {
    provide_action_error();
    let save = ServerAction::<SavePlan>::new();
    let restore = ServerAction::<RestorePlan>::new();
    let (saved, restored) = (saved_version(save), saved_version(restore));
    let plan = RwSignal::new((plan, body_html));
    let history = RwSignal::new(history);
    let error = RwSignal::new(None::<AppError>);
    let name = StoredValue::new(name);
    // The plan, its rendering and its history as the server has them now.
    let reload = move || {
        spawn_local(async move {
            let name = name.get_value();
            let loaded = async {
                let p = get_plan(name.clone()).await?;
                let html = render_plan(p.body_markdown.clone()).await?;
                Ok::<_, AppError>((p, html, get_plan_history(name).await?))
            };
            match loaded.await {
                Ok((p, html, h)) => {
                    error.set(None);
                    plan.set((p, html));
                    history.set(h);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    Effect::watch(
        move || (saved.get(), restored.get()),
        move |_, _, _| reload(),
        false,
    );
    // A revision saved elsewhere (another browser, Notion) is loaded as it
    // arrives, unless the editor is open: then the page says so and loads
    // it once the editor closes. What is typed stays, and a save is checked
    // against the revision the editor was opened on (a conflict, not an
    // overwrite).
    let live = LivePlan {
        newest: RwSignal::new(None),
        toggled: RwSignal::new(0),
        held: RwSignal::new(false),
        root: NodeRef::new(),
    };
    super::live::subscribe_to(
        format!("/live/{}/plan", name.get_value()),
        "plan",
        live.newest,
        None,
    );
    Effect::new(move || {
        live.toggled.track();
        let Some(newest) = live.newest.get().flatten() else {
            return;
        };
        // (Tracked: a revision loaded by a save of this page's own ends
        // the wait too.)
        if newest <= plan.with(|(p, _)| p.revision) {
            live.held.set(false);
            return;
        }
        if editor_open(live.root) {
            live.held.set(true);
            return;
        }
        live.held.set(false);
        live.newest.set(None);
        reload();
    });
    view! {
        {move || error.get().map(|error| view! { <ErrorNote error/> })}
        <p class="live-note" role="status">
            {move || live.held.get().then_some(
                "A newer revision of the plan was saved meanwhile: it shows when you close the editor."
            )}
        </p>
        <div class="plan-live" node_ref=live.root>
            {move || {
                let (plan, body_html) = plan.get();
                let newest = history.with_untracked(|h| h.first().cloned());
                view! { <PlanDoc plan body_html newest name=name.get_value() save can_edit toggled=live.toggled/> }
            }}
        </div>
        {move || view! { <History versions=history.get() name=name.get_value() restore can_edit/> }}
    }
}

/// The plan page's live state (see `PlanAndHistory`).
#[derive(Clone, Copy)]
struct LivePlan {
    /// The newest revision the live feed told of (None: none yet, or it
    /// was loaded; Some(None): the migration has no plan).
    newest: RwSignal<Option<Option<i32>>>,
    /// Bumped when the editor opens or closes.
    toggled: RwSignal<u32>,
    /// A newer revision waits for the editor to close.
    held: RwSignal<bool>,
    root: NodeRef<leptos::html::Div>,
}

/// Is the plan's editor open? (Never on the server.)
fn editor_open(root: NodeRef<leptos::html::Div>) -> bool {
    #[cfg(feature = "hydrate")]
    {
        root.get_untracked()
            .and_then(|r| r.query_selector("details.plan-edit[open]").ok().flatten())
            .is_some()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = root;
        false
    }
}

#[component]
fn PlanDoc(
    plan: PlanView,
    body_html: String,
    newest: Option<PlanVersion>,
    name: String,
    save: ServerAction<SavePlan>,
    can_edit: bool,
    /// Bumped when the editor opens or closes.
    toggled: RwSignal<u32>,
) -> impl IntoView {
    let all = plan.phases.clone();
    let since = save.version().get_untracked();
    // A refusal the server redirected back with (posted without JavaScript)
    // opens the editor, so it is seen.
    let refused = move || refusal(save, since).is_some();
    let details = NodeRef::<leptos::html::Details>::new();
    view! {
        <section class="plan" aria-label="Plan">
            <h2>{plan.title.clone()}</h2>
            <p class="meta">
                <span class="revision">{format!("Revision {}", plan.revision)}</span>
                {format!(" · updated {}", date_time(&plan.updated_at, false))}
            </p>
            {if can_edit {
                Either::Left(view! {
                    <details class="plan-edit" open=refused node_ref=details
                        on:toggle=move |_| toggled.update(|n| *n = n.wrapping_add(1))>
                        <summary>"Edit plan"</summary>
                        <Editor plan=plan.clone() body_html=body_html.clone() newest name save since details/>
                    </details>
                })
            } else {
                Either::Right(view! {
                    <p class="role-note">{format!("Editing and restoring the plan: {}", Role::Operator.only())}</p>
                })
            }}
            <div class="plan-body notion-doc" inner_html=body_html></div>
            <ol class="plan-phases">
                {plan.phases.into_iter().map(|phase| view! { <PlanPhase phase all=all.clone()/> }).collect_view()}
            </ol>
        </section>
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
    view! {
        <li class="plan-phase" id=format!("phase-{}", phase.position) data-position=phase.position.number()>
            <h3>
                <span class="phase-number">{format!("Phase {}", phase.position)}</span>
                " "
                <span class="phase-title">{phase.title.clone()}</span>
                " "
                <PhaseBadge state=phase.state/>
            </h3>
            <p class="phase-description">{phase.description.clone()}</p>
            <p class="meta">
                <span class="deps">{deps}</span>
                {phase.owner.clone().map(|o| view! { <span class="owner">{format!("Owner: {o}")}</span> })}
            </p>
            {(phase.tasks.tasks > 0).then(|| view! {
                <p class="task-progress">
                    {format!(
                        "Tasks {}/{} done · acceptance criteria {}/{} done",
                        phase.tasks.tasks_done, phase.tasks.tasks, phase.tasks.criteria_done, phase.tasks.criteria
                    )}
                </p>
            })}
            {(!phase.status_note.is_empty()).then(|| view! { <p class="status-note">{format!("Status: {}", phase.status_note)}</p> })}
            {(!phase.blockers.is_empty()).then(|| view! { <p class="blocked-reason">{format!("Blockers: {}", phase.blockers)}</p> })}
            {phase.waiting.clone().map(|w| view! { <p class="blocked-reason">{w}</p> })}
        </li>
    }
}

/// The phase fields the editor shows, as (label, form key).
const PHASE_FIELDS: [(&str, &str); 4] = [
    ("Description", "description"),
    ("Owner", "owner"),
    ("Status note", "status_note"),
    ("Blockers", "blockers"),
];

/// The editor's form: `form[body_markdown]` and, for the i-th phase,
/// `form[phases][i][…]` (the names the server's refusals use too, as
/// `body` and `phases[i].owner`).
#[component]
fn Editor(
    plan: PlanView,
    body_html: String,
    newest: Option<PlanVersion>,
    name: String,
    save: ServerAction<SavePlan>,
    since: usize,
    details: NodeRef<leptos::html::Details>,
) -> impl IntoView {
    let failure = move || refusal(save, since);
    let fields: Vec<String> = std::iter::once("body".to_string())
        .chain((0..plan.phases.len()).flat_map(|i| {
            PHASE_FIELDS
                .iter()
                .map(move |(_, key)| format!("phases[{i}].{key}"))
        }))
        .collect();
    let fields = StoredValue::new(fields);
    let message_for = move |field: String| {
        move || {
            failure()
                .and_then(|e| match e {
                    AppError::Invalid { field: f, message } if f == field => Some(message),
                    _ => None,
                })
                .map(|m| view! { <span class="field-error" role="alert">{m}</span> })
        }
    };
    // Anything not shown beside a field (a conflict is shown below, too).
    let general = move || {
        failure().and_then(|e| match e {
            AppError::Invalid { ref field, .. } if fields.with_value(|f| f.contains(field)) => None,
            other => Some(format!("Could not save the plan: {other}")),
        })
    };
    let conflicted = move || matches!(failure(), Some(AppError::Conflict { .. }));
    // What this browser submitted last (for "Your version" in a conflict).
    let titles: Vec<_> = plan
        .phases
        .iter()
        .map(|p| (p.position, p.title.clone()))
        .collect();
    let mine = RwSignal::new(None::<PlanEdit>);
    Effect::new(move || {
        if let Some(input) = save.input().get() {
            mine.set(input.form.parse().ok().map(|mut edit| {
                for p in &mut edit.phases {
                    if let Some((_, title)) = titles.iter().find(|(n, _)| *n == p.position) {
                        p.title = title.clone();
                    }
                }
                edit
            }));
        }
    });
    let name = StoredValue::new(name);
    // Theirs: the newest version. A page that opens on a conflict (a form
    // posted without JavaScript) has it in its history already; a save that
    // conflicts here fetches it.
    let theirs = RwSignal::new(newest.filter(|_| conflicted()));
    Effect::watch(
        conflicted,
        move |conflicted, _, _| {
            if !*conflicted {
                theirs.set(None);
                return;
            }
            spawn_local(async move {
                let newest = get_plan_history(name.get_value())
                    .await
                    .ok()
                    .and_then(|h| h.into_iter().next());
                let _ = theirs.try_set(newest);
            });
        },
        false,
    );
    // The preview: the server renders what was typed (the newest answer
    // wins; an older one arriving late is dropped).
    let preview = RwSignal::new(body_html.clone());
    let original = StoredValue::new(body_html);
    let asked = StoredValue::new(0_u64);
    let typed = move |ev| {
        let text = event_target_value(&ev);
        let n = asked.get_value() + 1;
        asked.set_value(n);
        spawn_local(async move {
            let rendered = render_plan(text).await;
            if asked.try_get_value() == Some(n) {
                // Too long to preview: a save says so beside the field.
                if let Ok(html) = rendered {
                    let _ = preview.try_set(html);
                }
            }
        });
    };
    let base = NodeRef::<leptos::html::Input>::new();
    let cancel = move |_| {
        asked.update_value(|n| *n += 1);
        preview.set(original.get_value());
        if let Some(details) = details.get() {
            details.set_open(false);
        }
    };
    let phase_edits = plan
        .phases
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let value = |key: &str| match key {
                "description" => p.description.clone(),
                "owner" => p.owner.clone().unwrap_or_default(),
                "status_note" => p.status_note.clone(),
                _ => p.blockers.clone(),
            };
            view! {
                <li class="phase-edit">
                    <h3>{format!("Phase {}: {}", p.position, p.title)}</h3>
                    <input type="hidden" name=format!("form[phases][{i}][position]") value=p.position.to_string()/>
                    {PHASE_FIELDS.iter().map(|(label, key)| view! {
                        <label>{*label}
                            <input type="text" name=format!("form[phases][{i}][{key}]") value=value(key)/>
                            {message_for(format!("phases[{i}].{key}"))}
                        </label>
                    }).collect_view()}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="plan-editor" aria-label="Plan editor">
            <h2>{format!("Editing revision {}", plan.revision)}</h2>
            <ActionForm action=save attr:aria-label="Edit the plan">
                <input type="hidden" name="name" value=name.get_value()/>
                <input type="hidden" name="base_revision" value=plan.revision node_ref=base/>
                <div class="editor-split">
                    <label class="body-label">"Plan (Markdown)"
                        <textarea name="form[body_markdown]" rows="14" aria-label="Plan text"
                            on:input=typed>
                            {plan.body_markdown.clone()}
                        </textarea>
                        {message_for("body".to_string())}
                    </label>
                    <div class="preview notion-doc" aria-label="Preview" inner_html=preview>

                    </div>
                </div>
                <ol class="phase-edits">{phase_edits}</ol>
                <p class="action-error" role="alert">{general}</p>
                {move || theirs.get().map(|theirs| view! {
                    <Conflict theirs mine base plan_url=format!("/m/{}/plan", name.get_value())/>
                })}
                <div class="buttons">
                    <button type="submit" class="primary">"Save plan"</button>
                    <button type="reset" on:click=cancel>"Cancel"</button>
                </div>
            </ActionForm>
        </section>
    }
}

/// Someone else's save that ours collided with: both versions, and the two
/// ways out. "Keep mine" submits the form again on top of their revision.
#[component]
fn Conflict(
    theirs: PlanVersion,
    mine: RwSignal<Option<PlanEdit>>,
    base: NodeRef<leptos::html::Input>,
    plan_url: String,
) -> impl IntoView {
    let rev = theirs.revision;
    view! {
        <div class="conflict" role="region" aria-label="Conflict">
            <h3>{format!("Conflict: revision {} was saved by {} while you edited", rev, theirs.saved_by)}</h3>
            <div class="editor-split">
                <div><h4>"Their version"</h4><pre class="theirs">{theirs.plan.as_text()}</pre></div>
                {move || mine.get().map(|m| view! {
                    <div><h4>"Your version"</h4><pre class="mine">{m.as_text()}</pre></div>
                })}
            </div>
            <div class="buttons">
                {move || mine.with(Option::is_some).then(|| view! {
                    <button type="submit" on:click=move |_| {
                        if let Some(base) = base.get() {
                            base.set_value(&rev.to_string());
                        }
                    }>"Keep mine (save over theirs)"</button>
                })}
                // A page load: the plan as saved now, the editor closed.
                <a class="button" href=plan_url rel="external">"Take theirs (discard mine)"</a>
            </div>
        </div>
    }
}

#[component]
fn History(
    versions: Vec<PlanVersion>,
    name: String,
    restore: ServerAction<RestorePlan>,
    can_edit: bool,
) -> impl IntoView {
    let newest = versions.first().map(|v| v.revision).unwrap_or(1);
    let oldest = versions.last().map(|v| v.revision).unwrap_or(1);
    let from = RwSignal::new(oldest.max(newest - 1));
    let to = RwSignal::new(newest);
    let since = restore.version().get_untracked();
    let error = move || refusal(restore, since).map(|e| format!("Could not restore: {e}"));
    let name = StoredValue::new(name);
    // The differences between the revisions compared last, once asked.
    let diff = RwSignal::new(None::<Result<Vec<DiffLine>, String>>);
    let compare = move |_| {
        let (a, b) = (from.get_untracked(), to.get_untracked());
        spawn_local(async move {
            let lines = get_plan_diff(name.get_value(), a, b).await;
            let _ = diff.try_set(Some(lines.map_err(|e| e.to_string())));
        });
    };
    let revisions: Vec<i32> = versions.iter().map(|v| v.revision).collect();
    let select = move |label: &'static str, sig: RwSignal<i32>, revs: Vec<i32>| {
        view! {
            <label>{label} " "
                <select aria-label=label on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse() { sig.set(v) }
                }>
                    {revs.into_iter().map(|r| view! {
                        <option value=r.to_string() selected=move || sig.get() == r>{format!("revision {r}")}</option>
                    }).collect_view()}
                </select>
            </label>
        }
    };
    view! {
        <section class="plan-history" aria-label="History">
            <h3>"History"</h3>
            <ol class="versions">
                {versions.iter().map(|v| {
                    let rev = v.revision;
                    view! {
                        <li data-revision=rev>
                            {format!("Revision {} by {} at {}", rev, v.saved_by, date_time(&v.saved_at, true))}
                            {(can_edit && rev != newest).then(|| view! {
                                " "
                                <ActionForm action=restore attr:class="restore">
                                    <input type="hidden" name="name" value=name.get_value()/>
                                    <input type="hidden" name="revision" value=rev/>
                                    <input type="hidden" name="base_revision" value=newest/>
                                    <button type="submit">{format!("Restore revision {rev}")}</button>
                                </ActionForm>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ol>
            <p class="action-error" role="alert">{error}</p>
            <div class="compare">
                {select("From", from, revisions.clone())}
                {select("To", to, revisions)}
                <button on:click=compare>"Compare"</button>
            </div>
                {move || diff.get().map(|d| match d {
                        Ok(lines) => Either::Left(view! {
                            <pre class="diff" aria-label="Differences">
                                {lines.into_iter().map(|l| {
                                    let (class, mark) = match l.kind {
                                        DiffKind::Same => ("same", "  "),
                                        DiffKind::Added => ("added", "+ "),
                                        DiffKind::Removed => ("removed", "- "),
                                    };
                                    view! { <span class=class>{format!("{mark}{}\n", l.text)}</span> }
                                }).collect_view()}
                            </pre>
                        }),
                        Err(e) => Either::Right(view! { <p class="action-error">{e}</p> }),
                })}
        </section>
    }
}
