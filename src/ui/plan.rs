//! The Plan section: the plan's text (Markdown, rendered like the spec) and
//! its phases; an editor with live preview that saves a new revision, and
//! refuses to overwrite a revision saved by someone else meanwhile (both
//! versions are shown); the history with diffs and restore.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::common::{use_migration_name, ErrorNote, Loading, PhaseBadge};
use super::spec::render_blocks;
use crate::api::migrations::get_plan;
use crate::api::plans::{get_plan_diff, get_plan_history, restore_plan, save_plan};
use crate::domain::markdown::to_blocks;
use crate::domain::phases::blocked_by;
use crate::model::plan::{DiffKind, PhaseEdit, PlanEdit, PlanVersion};
use crate::model::{AppError, PhaseView, PlanView};

#[component]
pub fn PlanSection() -> impl IntoView {
    let name = use_migration_name();
    let plan = Resource::new(move || name.get(), get_plan);
    let history = Resource::new(move || name.get(), get_plan_history);
    let editing = RwSignal::new(false);
    let reload = move || {
        plan.refetch();
        history.refetch();
    };
    view! {
        <Suspense fallback=|| view! { <Loading what="plan"/> }>
            {move || Suspend::new(async move {
                match plan.await {
                    Ok(plan) if editing.get() => {
                        view! { <Editor plan name=name.get_untracked() editing reload/> }.into_any()
                    }
                    Ok(plan) => view! { <PlanDoc plan editing/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(versions) => view! { <History versions name=name.get_untracked() reload/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PlanDoc(plan: PlanView, editing: RwSignal<bool>) -> impl IntoView {
    let all = plan.phases.clone();
    view! {
        <section class="plan" aria-label="Plan">
            <h2>{plan.title.clone()}</h2>
            <p class="meta">
                <span class="revision">{format!("Revision {}", plan.revision)}</span>
                {format!(" · updated {}", plan.updated_at.format("%Y-%m-%d %H:%M UTC"))}
                " "
                <button on:click=move |_| editing.set(true)>"Edit plan"</button>
            </p>
            <div class="plan-body notion-doc">{render_blocks(&to_blocks(&plan.body_markdown))}</div>
            <ol class="plan-phases">
                {plan.phases.into_iter().map(|phase| view! { <PlanPhase phase all=all.clone()/> }).collect_view()}
            </ol>
        </section>
    }
    .into_any()
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
            {blocked.map(|b| view! { <p class="blocked-reason">{b}</p> })}
        </li>
    }
    .into_any()
}

fn edit_of(plan: &PlanView) -> PlanEdit {
    PlanEdit {
        body_markdown: plan.body_markdown.clone(),
        phases: plan
            .phases
            .iter()
            .map(|p| PhaseEdit {
                position: p.position.number(),
                title: p.title.clone(),
                description: p.description.clone(),
                owner: p.owner.clone().unwrap_or_default(),
                status_note: p.status_note.clone(),
                blockers: p.blockers.clone(),
            })
            .collect(),
    }
}

/// Someone else's save that ours collided with.
#[derive(Clone)]
struct Conflict {
    theirs: PlanVersion,
}

#[component]
fn Editor<R>(plan: PlanView, name: String, editing: RwSignal<bool>, reload: R) -> impl IntoView
where
    R: Fn() + Copy + Send + Sync + 'static,
{
    let draft = RwSignal::new(edit_of(&plan));
    let base = RwSignal::new(plan.revision);
    let error = RwSignal::new(None::<String>);
    // A refusal that names a field is shown beside that field.
    let field_error = RwSignal::new(None::<(String, String)>);
    let conflict = RwSignal::new(None::<Conflict>);
    let saving = RwSignal::new(false);
    let name = StoredValue::new(name);
    let save = move || {
        saving.set(true);
        error.set(None);
        field_error.set(None);
        let (n, b, d) = (
            name.get_value(),
            base.get_untracked(),
            draft.get_untracked(),
        );
        spawn_local(async move {
            match save_plan(n.clone(), b, d).await {
                Ok(_) => {
                    conflict.set(None);
                    editing.set(false);
                    reload();
                }
                Err(AppError::Conflict { message }) => {
                    error.set(Some(message));
                    if let Ok(mut versions) = get_plan_history(n).await {
                        if !versions.is_empty() {
                            conflict.set(Some(Conflict {
                                theirs: versions.remove(0),
                            }));
                        }
                    }
                }
                Err(AppError::Invalid { field, message }) => {
                    field_error.set(Some((field, message)))
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            saving.set(false);
        });
    };
    let message_for = move |field: String| {
        move || {
            field_error
                .get()
                .filter(|(f, _)| *f == field)
                .map(|(_, m)| view! { <span class="field-error" role="alert">{m}</span> })
        }
    };
    let field = move |label: &'static str,
                      key: &'static str,
                      i: usize,
                      get: fn(&PhaseEdit) -> String,
                      set: fn(&mut PhaseEdit, String)| {
        let position = draft.with_untracked(|d| d.phases.get(i).map(|p| p.position).unwrap_or(0));
        view! {
            <label>{label}
                <input type="text"
                    prop:value=move || draft.with(|d| d.phases.get(i).map(get).unwrap_or_default())
                    on:input=move |ev| {
                        let v = event_target_value(&ev);
                        draft.update(|d| if let Some(p) = d.phases.get_mut(i) { set(p, v) });
                    }/>
                {message_for(format!("phases[{position}].{key}"))}
            </label>
        }
    };
    view! {
        <section class="plan-editor" aria-label="Plan editor">
            <h2>{format!("Editing revision {}", plan.revision)}</h2>
            <div class="editor-split">
                <label class="body-label">"Plan (Markdown)"
                    <textarea rows="14" aria-label="Plan text"
                        prop:value=move || draft.with(|d| d.body_markdown.clone())
                        on:input=move |ev| {
                            let v = event_target_value(&ev);
                            draft.update(|d| d.body_markdown = v);
                        }></textarea>
                    {message_for("body".to_string())}
                </label>
                <div class="preview notion-doc" aria-label="Preview">
                    {move || render_blocks(&to_blocks(&draft.with(|d| d.body_markdown.clone())))}
                </div>
            </div>
            <ol class="phase-edits">
                {plan.phases.iter().enumerate().map(|(i, p)| view! {
                    <li class="phase-edit">
                        <h3>{format!("Phase {}: {}", p.position, p.title)}</h3>
                        {field("Description", "description", i, |p| p.description.clone(), |p, v| p.description = v)}
                        {field("Owner", "owner", i, |p| p.owner.clone(), |p, v| p.owner = v)}
                        {field("Status note", "status_note", i, |p| p.status_note.clone(), |p, v| p.status_note = v)}
                        {field("Blockers", "blockers", i, |p| p.blockers.clone(), |p, v| p.blockers = v)}
                    </li>
                }).collect_view()}
            </ol>
            <p class="action-error" role="alert">{move || error.get()}</p>
            {move || conflict.get().map(|c| {
                let theirs_rev = c.theirs.revision;
                view! {
                    <div class="conflict" role="region" aria-label="Conflict">
                        <h3>{format!("Conflict: revision {} was saved by {} while you edited", theirs_rev, c.theirs.saved_by)}</h3>
                        <div class="editor-split">
                            <div><h4>"Their version"</h4><pre class="theirs">{c.theirs.plan.as_text()}</pre></div>
                            <div><h4>"Your version"</h4><pre class="mine">{move || draft.with(|d| d.as_text())}</pre></div>
                        </div>
                        <div class="buttons">
                            <button on:click=move |_| { base.set(theirs_rev); save(); }>"Keep mine (save over theirs)"</button>
                            <button on:click=move |_| { conflict.set(None); editing.set(false); reload(); }>"Take theirs (discard mine)"</button>
                        </div>
                    </div>
                }
            })}
            <div class="buttons">
                <button class="primary" disabled=move || saving.get() on:click=move |_| save()>"Save plan"</button>
                <button on:click=move |_| editing.set(false)>"Cancel"</button>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn History<R>(versions: Vec<PlanVersion>, name: String, reload: R) -> impl IntoView
where
    R: Fn() + Copy + Send + Sync + 'static,
{
    let newest = versions.first().map(|v| v.revision).unwrap_or(1);
    let oldest = versions.last().map(|v| v.revision).unwrap_or(1);
    let from = RwSignal::new(oldest.max(newest - 1));
    let to = RwSignal::new(newest);
    let diff = RwSignal::new(None::<Result<Vec<crate::model::plan::DiffLine>, String>>);
    let error = RwSignal::new(None::<String>);
    let name = StoredValue::new(name);
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
                            {format!("Revision {} by {} at {}", rev, v.saved_by, v.saved_at.format("%Y-%m-%d %H:%M:%S UTC"))}
                            {(rev != newest).then(|| view! {
                                " "
                                <button on:click=move |_| {
                                    let n = name.get_value();
                                    spawn_local(async move {
                                        match restore_plan(n, rev, newest).await {
                                            Ok(_) => reload(),
                                            Err(e) => error.set(Some(e.to_string())),
                                        }
                                    });
                                }>{format!("Restore revision {rev}")}</button>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ol>
            <p class="action-error" role="alert">{move || error.get()}</p>
            <div class="compare">
                {select("From", from, revisions.clone())}
                {select("To", to, revisions)}
                <button on:click=move |_| {
                    let (n, a, b) = (name.get_value(), from.get_untracked(), to.get_untracked());
                    spawn_local(async move {
                        diff.set(Some(get_plan_diff(n, a, b).await.map_err(|e| e.to_string())));
                    });
                }>"Compare"</button>
            </div>
            {move || diff.get().map(|d| match d {
                Ok(lines) => view! {
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
                }.into_any(),
                Err(e) => view! { <p class="action-error">{e}</p> }.into_any(),
            })}
        </section>
    }
    .into_any()
}
