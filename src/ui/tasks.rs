//! The Tasks section: a board with one column per Status. Cards move by drag
//! and drop or by their arrow buttons (keyboard), criteria tick in place;
//! each change is saved at once and reverted with a message if the save
//! fails. Filters live in the URL so a filtered board can be shared.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_navigate, use_query_map};

use super::common::{use_migration_name, ErrorNote, Loading};
use crate::api::migrations::get_tasks;
use crate::api::tasks::{create_task, delete_task, move_task, set_criterion, update_task};
use crate::model::{AppError, Phase, Priority, TaskForm, TaskStatus, TaskView};

#[component]
pub fn TasksSection() -> impl IntoView {
    let name = use_migration_name();
    let tasks = Resource::new(move || name.get(), get_tasks);
    view! {
        <Suspense fallback=|| view! { <Loading what="tasks"/> }>
            {move || Suspend::new(async move {
                match tasks.await {
                    Ok(initial) => view! { <Board initial name=name.get_untracked()/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The board's shared state, handed to columns and cards.
#[derive(Clone, Copy)]
struct BoardState {
    name: StoredValue<String>,
    tasks: RwSignal<Vec<TaskView>>,
    error: RwSignal<Option<String>>,
    dragging: RwSignal<Option<i64>>,
}

impl BoardState {
    /// Optimistic move: shown at once, saved, reverted if the save fails.
    fn move_to(self, task_id: i64, status: TaskStatus) {
        let Some(before) = self
            .tasks
            .with_untracked(|ts| ts.iter().find(|t| t.id == task_id).cloned())
        else {
            return;
        };
        if before.status == status {
            return;
        }
        self.set(task_id, |t| t.status = status);
        self.error.set(None);
        let name = self.name.get_value();
        spawn_local(async move {
            match move_task(name, task_id, status.as_str().to_string(), before.revision).await {
                Ok(revision) => self.set(task_id, |t| t.revision = revision),
                Err(e) => {
                    self.set(task_id, |t| t.status = before.status);
                    self.error
                        .set(Some(format!("Could not move “{}”: {e}", before.title)));
                }
            }
        });
    }

    fn tick(self, task_id: i64, criterion_id: i64, done: bool) {
        self.set(task_id, |t| {
            if let Some(c) = t.criteria.iter_mut().find(|c| c.id == criterion_id) {
                c.done = done;
            }
        });
        self.error.set(None);
        let name = self.name.get_value();
        spawn_local(async move {
            match set_criterion(name, criterion_id, done).await {
                Ok(revision) => self.set(task_id, |t| t.revision = revision),
                Err(e) => {
                    self.set(task_id, |t| {
                        if let Some(c) = t.criteria.iter_mut().find(|c| c.id == criterion_id) {
                            c.done = !done;
                        }
                    });
                    self.error
                        .set(Some(format!("Could not save the criterion: {e}")));
                }
            }
        });
    }

    fn delete(self, task: TaskView) {
        let name = self.name.get_value();
        spawn_local(async move {
            match delete_task(name, task.id, task.revision).await {
                Ok(()) => self.tasks.update(|ts| ts.retain(|t| t.id != task.id)),
                Err(e) => self
                    .error
                    .set(Some(format!("Could not delete “{}”: {e}", task.title))),
            }
        });
    }

    fn set(self, task_id: i64, f: impl FnOnce(&mut TaskView)) {
        self.tasks.update(|ts| {
            if let Some(t) = ts.iter_mut().find(|t| t.id == task_id) {
                f(t);
            }
        });
    }
}

/// Percent-encodes a query value (names have spaces).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
fn Board(initial: Vec<TaskView>, name: String) -> impl IntoView {
    let state = BoardState {
        name: StoredValue::new(name),
        tasks: RwSignal::new(initial),
        error: RwSignal::new(None),
        dragging: RwSignal::new(None),
    };
    let query = use_query_map();
    let filter = move |key: &'static str| query.read().get(key).filter(|v| !v.is_empty());
    let options = move |f: fn(&TaskView) -> Option<String>| {
        let mut values: Vec<String> = state.tasks.with(|ts| ts.iter().filter_map(f).collect());
        values.sort();
        values.dedup();
        values
    };
    let navigate = use_navigate();
    let set_filter = move |key: &'static str, value: String| {
        let mut pairs: Vec<(String, String)> = ["assignee", "sprint", "priority"]
            .into_iter()
            .filter(|k| *k != key)
            .filter_map(|k| {
                query
                    .read_untracked()
                    .get(k)
                    .filter(|v| !v.is_empty())
                    .map(|v| (k.to_string(), v))
            })
            .collect();
        if !value.is_empty() {
            pairs.push((key.to_string(), value));
        }
        pairs.sort();
        let qs: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let path = format!(
            "/m/{}/tasks{}",
            state.name.get_value(),
            if qs.is_empty() {
                String::new()
            } else {
                format!("?{}", qs.join("&"))
            }
        );
        navigate(&path, Default::default());
    };
    let visible = move |t: &TaskView| {
        filter("assignee").is_none_or(|a| t.assignee.as_deref() == Some(a.as_str()))
            && filter("sprint").is_none_or(|s| t.sprint.as_deref() == Some(s.as_str()))
            && filter("priority").is_none_or(|p| t.priority.as_str() == p)
    };
    let select = move |key: &'static str, label: &'static str, values: Vec<String>| {
        let set_filter = set_filter.clone();
        view! {
            <label>{label} " "
                <select
                    name=key
                    on:change=move |ev| set_filter(key, event_target_value(&ev))
                    prop:value=move || filter(key).unwrap_or_default()
                >
                    <option value="">"All"</option>
                    {values.into_iter().map(|v| {
                        let selected = filter(key).as_deref() == Some(v.as_str());
                        view! { <option value=v.clone() selected=selected>{v.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
        }
    };
    view! {
        <div class="board-tools">
            <form class="filters" aria-label="Filters">
                {select("assignee", "Assignee", options(|t| t.assignee.clone()))}
                {select("sprint", "Sprint", options(|t| t.sprint.clone()))}
                {select("priority", "Priority", Priority::ALL.iter().map(|p| p.as_str().to_string()).collect())}
            </form>
            <NewTask state/>
        </div>
        <p class="action-error" role="alert">{move || state.error.get()}</p>
        <section class="board" aria-label="Task board">
            {TaskStatus::ALL
                .into_iter()
                .map(|status| view! { <Column status state visible/> })
                .collect_view()}
        </section>
    }
}

#[component]
fn Column<V>(status: TaskStatus, state: BoardState, visible: V) -> impl IntoView
where
    V: Fn(&TaskView) -> bool + Copy + Send + Sync + 'static,
{
    let cards = move || {
        state
            .tasks
            .get()
            .into_iter()
            .filter(|t| t.status == status && visible(t))
            .collect::<Vec<_>>()
    };
    view! {
        <div
            class="column"
            role="region"
            aria-label=status.as_str()
            data-status=status.as_str()
            on:dragover=move |ev| ev.prevent_default()
            on:drop=move |ev| {
                ev.prevent_default();
                if let Some(id) = state.dragging.get_untracked() {
                    state.dragging.set(None);
                    state.move_to(id, status);
                }
            }
        >
            <h3>{status.as_str()} <span class="count">{move || cards().len()}</span></h3>
            {move || cards().into_iter().map(|task| view! { <Card task state/> }).collect_view()}
        </div>
    }
    .into_any()
}

#[component]
fn Card(task: TaskView, state: BoardState) -> impl IntoView {
    let done = task.criteria.iter().filter(|c| c.done).count();
    let total = task.criteria.len();
    let waiting: Vec<String> = task
        .depends_on
        .iter()
        .filter(|d| d.status != TaskStatus::Done)
        .map(|d| d.title.clone())
        .collect();
    let idx = TaskStatus::ALL
        .iter()
        .position(|s| *s == task.status)
        .unwrap_or(0);
    let left = idx.checked_sub(1).map(|i| TaskStatus::ALL[i]);
    let right = TaskStatus::ALL.get(idx + 1).copied();
    let id = task.id;
    let name = state.name.get_value();
    let to_delete = task.clone();
    let to_edit = task.clone();
    let editing = RwSignal::new(false);
    view! {
        <article
            class="card"
            data-task-id=task.id
            draggable="true"
            on:dragstart=move |_| state.dragging.set(Some(id))
            on:dragend=move |_| state.dragging.set(None)
        >
            <h4>{task.title.clone()}</h4>
            <p class="card-meta">
                <span class=format!("badge priority-{}", task.priority.as_str().to_lowercase())>
                    {task.priority.as_str()}
                </span>
                {task.assignee.clone().map(|a| view! { <span class="assignee">{a}</span> })}
                {task.sprint.clone().map(|s| view! { <span class="sprint">{s}</span> })}
                {task.phase_position.map(|p| view! {
                    <a class="phase-link" href=format!("/m/{name}/plan#phase-{p}")>{format!("Phase {p}")}</a>
                })}
            </p>
            {(!task.depends_on.is_empty()).then(|| view! {
                <p class="deps">
                    "Depends on: "
                    {task.depends_on.iter().map(|d| format!("{} ({})", d.title, d.status)).collect::<Vec<_>>().join(", ")}
                </p>
            })}
            {(!waiting.is_empty()).then(|| view! {
                <p class="blocked-reason">{format!("Blocked by: {}", waiting.join(", "))}</p>
            })}
            <div class="criteria">
                <p class="criteria-count">{format!("Acceptance criteria {done}/{total}")}</p>
                <ul>
                    {task.criteria.iter().map(|c| {
                        let cid = c.id;
                        view! {
                            <li>
                                <label>
                                    <input type="checkbox" prop:checked=c.done
                                        on:change=move |ev| state.tick(id, cid, event_target_checked(&ev))/>
                                    <span class:done=c.done>{c.text.clone()}</span>
                                </label>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </div>
            <div class="card-actions">
                {left.map(|s| view! {
                    <button aria-label=format!("Move to {}", s.as_str()) on:click=move |_| state.move_to(id, s)>"◀"</button>
                })}
                {right.map(|s| view! {
                    <button aria-label=format!("Move to {}", s.as_str()) on:click=move |_| state.move_to(id, s)>"▶"</button>
                })}
                <button aria-label=format!("Edit {}", task.title)
                    on:click=move |_| editing.update(|e| *e = !*e)>"Edit"</button>
                <button class="delete" aria-label=format!("Delete {}", task.title)
                    on:click=move |_| state.delete(to_delete.clone())>"Delete"</button>
            </div>
            {move || editing.get().then(|| view! { <TaskEditor task=to_edit.clone() state editing/> })}
        </article>
    }
    .into_any()
}

#[component]
fn NewTask(state: BoardState) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let assignee = RwSignal::new(String::new());
    let priority = RwSignal::new("Medium".to_string());
    let field_error = RwSignal::new(None::<(String, String)>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        field_error.set(None);
        let name = state.name.get_value();
        let (t, a, p) = (
            title.get_untracked(),
            assignee.get_untracked(),
            priority.get_untracked(),
        );
        spawn_local(async move {
            let form = TaskForm {
                title: t,
                status: TaskStatus::ToDo.as_str().into(),
                priority: p,
                assignee: a,
                ..TaskForm::default()
            };
            let created = create_task(name.clone(), form).await;
            match created {
                Ok(_) => match get_tasks(name).await {
                    Ok(all) => {
                        state.tasks.set(all);
                        state.error.set(None);
                        title.set(String::new());
                    }
                    Err(e) => state.error.set(Some(e.to_string())),
                },
                // A refusal naming a field is shown beside the form's fields.
                Err(AppError::Invalid { field, message }) => {
                    field_error.set(Some((field, message)))
                }
                Err(e) => state
                    .error
                    .set(Some(format!("Could not create the task: {e}"))),
            }
        });
    };
    view! {
        <form class="new-task" aria-label="New task" on:submit=submit>
            <input type="text" placeholder="New task title" aria-label="Title"
                prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/>
            <input type="text" placeholder="Assignee" aria-label="Assignee"
                prop:value=move || assignee.get() on:input=move |ev| assignee.set(event_target_value(&ev))/>
            <select aria-label="Priority" on:change=move |ev| priority.set(event_target_value(&ev))>
                {Priority::ALL.iter().map(|p| view! {
                    <option value=p.as_str() selected=*p == Priority::Medium>{p.as_str()}</option>
                }).collect_view()}
            </select>
            <button type="submit">"Add task"</button>
            {move || field_error.get().map(|(field, message)| view! {
                <span class="field-error" role="alert" data-field=field.clone()>{format!("{field}: {message}")}</span>
            })}
        </form>
    }
}

/// Edits every field of a task; a refusal is shown next to its field.
#[component]
fn TaskEditor(task: TaskView, state: BoardState, editing: RwSignal<bool>) -> impl IntoView {
    let form = RwSignal::new(TaskForm {
        title: task.title.clone(),
        status: task.status.as_str().into(),
        priority: task.priority.as_str().into(),
        assignee: task.assignee.clone().unwrap_or_default(),
        sprint: task.sprint.clone().unwrap_or_default(),
        phase: task.phase_position.map(Phase::number),
        depends_on: task.depends_on.iter().map(|d| d.id).collect(),
        criteria: task
            .criteria
            .iter()
            .map(|c| c.text.clone())
            .collect::<Vec<_>>()
            .join("\n"),
    });
    let field_error = RwSignal::new(None::<(String, String)>);
    let error = RwSignal::new(None::<String>);
    let (id, revision) = (task.id, task.revision);
    let others: Vec<(i64, String)> = state.tasks.with_untracked(|ts| {
        ts.iter()
            .filter(|t| t.id != id)
            .map(|t| (t.id, t.title.clone()))
            .collect()
    });
    let message_for = move |field: &'static str| {
        move || {
            field_error
                .get()
                .filter(|(f, _)| f == field)
                .map(|(_, m)| view! { <span class="field-error" role="alert">{m}</span> })
        }
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        field_error.set(None);
        error.set(None);
        let name = state.name.get_value();
        let submitted = form.get_untracked();
        spawn_local(async move {
            match update_task(name.clone(), id, revision, submitted).await {
                Ok(_) => {
                    if let Ok(all) = get_tasks(name).await {
                        state.tasks.set(all);
                    }
                    editing.set(false);
                }
                Err(AppError::Invalid { field, message }) => {
                    field_error.set(Some((field, message)))
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let text = move |label: &'static str,
                     field: &'static str,
                     get: fn(&TaskForm) -> String,
                     set: fn(&mut TaskForm, String)| {
        view! {
            <label>{label}
                <input type="text" name=field
                    prop:value=move || form.with(get)
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| set(f, v)); }/>
                {message_for(field)}
            </label>
        }
    };
    let choice = move |label: &'static str,
                       field: &'static str,
                       options: Vec<&'static str>,
                       get: fn(&TaskForm) -> String,
                       set: fn(&mut TaskForm, String)| {
        view! {
            <label>{label}
                <select name=field on:change=move |ev| { let v = event_target_value(&ev); form.update(|f| set(f, v)); }>
                    {options.into_iter().map(|o| view! {
                        <option value=o selected=move || form.with(get) == o>{o}</option>
                    }).collect_view()}
                </select>
                {message_for(field)}
            </label>
        }
    };
    view! {
        <form class="task-editor" aria-label=format!("Edit task {}", task.title) on:submit=save>
            {text("Title", "title", |f| f.title.clone(), |f, v| f.title = v)}
            {choice("Status", "status", TaskStatus::ALL.iter().map(|s| s.as_str()).collect(), |f| f.status.clone(), |f, v| f.status = v)}
            {choice("Priority", "priority", Priority::ALL.iter().map(|p| p.as_str()).collect(), |f| f.priority.clone(), |f, v| f.priority = v)}
            {text("Assignee", "assignee", |f| f.assignee.clone(), |f, v| f.assignee = v)}
            {text("Sprint", "sprint", |f| f.sprint.clone(), |f, v| f.sprint = v)}
            <label>"Phase"
                <select name="phase" on:change=move |ev| {
                    let v = event_target_value(&ev).parse::<i16>().ok();
                    form.update(|f| f.phase = v);
                }>
                    <option value="" selected=move || form.with(|f| f.phase.is_none())>"None"</option>
                    {Phase::ALL.map(|p| view! {
                        <option value=p.to_string() selected=move || form.with(|f| f.phase == Some(p.number()))>
                            {format!("Phase {p}: {}", p.title())}
                        </option>
                    }).collect_view()}
                </select>
                {message_for("phase")}
            </label>
            <fieldset>
                <legend>"Depends on"</legend>
                {others.into_iter().map(|(other, title)| view! {
                    <label class="dep">
                        <input type="checkbox"
                            prop:checked=move || form.with(|f| f.depends_on.contains(&other))
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                form.update(|f| {
                                    f.depends_on.retain(|d| *d != other);
                                    if on { f.depends_on.push(other) }
                                });
                            }/>
                        {title}
                    </label>
                }).collect_view()}
                {message_for("depends_on")}
            </fieldset>
            <label>"Acceptance criteria (one per line)"
                <textarea name="criteria" rows="4"
                    prop:value=move || form.with(|f| f.criteria.clone())
                    on:input=move |ev| { let v = event_target_value(&ev); form.update(|f| f.criteria = v); }></textarea>
                {message_for("criteria")}
            </label>
            <p class="action-error" role="alert">{move || error.get()}</p>
            <div class="buttons">
                <button type="submit" class="primary">"Save task"</button>
                <button type="button" on:click=move |_| editing.set(false)>"Cancel"</button>
            </div>
        </form>
    }
    .into_any()
}
