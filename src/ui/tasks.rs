//! The Tasks section: a board with one column per Status. Cards move by drag
//! and drop or by their arrow buttons (keyboard), criteria tick in place;
//! each of those changes is saved at once and reverted with a message if the
//! save fails. Creating and editing a task are HTML forms on server actions
//! (`ActionForm`). With JavaScript they save in place; a refusal keeps the
//! form as typed and is shown next to the field it names (a stale revision
//! as a conflict). Without it they post to the server function, which
//! redirects back to the board with a refusal encoded in the URL: the new-task
//! form shows it by its field, an editor's refusal is shown above the board
//! (the URL does not say which task), and what was typed is not kept. The
//! board is loaded again when one of those actions saves (successful calls
//! only). Filters live in the URL so a filtered board can be shared; the
//! server applies them, and changing one loads the filtered page.
//!
//! The board is an island (`Board`): the only part of the page that
//! hydrates. It gets the migration's name and the filters from the server
//! (an island has no router in the browser).

use leptos::either::Either;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::common::{
    island_data, provide_action_error, refusal, saved_version, use_migration_name, ErrorNote,
    Loading,
};
use crate::api::migrations::get_tasks;
use crate::api::tasks::{delete_task, move_task, set_criterion, CreateTask, UpdateTask};
use crate::model::account::Role;
use crate::model::{AppError, Phase, Priority, TaskStatus, TaskView};

#[component]
pub fn TasksSection() -> impl IntoView {
    let name = use_migration_name();
    let query = use_query_map();
    let tasks = Resource::new(move || name.get(), get_tasks);
    view! {
        <Suspense fallback=|| view! { <Loading what="tasks"/> }>
            {move || Suspend::new(async move {
                match tasks.await {
                    Ok(initial) => {
                        let filters = query.with_untracked(|q| Filters {
                            assignee: q.get("assignee").filter(|v| !v.is_empty()),
                            sprint: q.get("sprint").filter(|v| !v.is_empty()),
                            priority: q.get("priority").filter(|v| !v.is_empty()),
                        });
                        let can_edit = super::account::may(Role::Operator);
                        let data = BoardData { initial, name: name.get_untracked(), filters, can_edit };
                        match island_data(&data) {
                            Ok(data) => view! { <Board data/> }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The board's filters, from the URL (`?assignee=…&sprint=…&priority=…`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    pub assignee: Option<String>,
    pub sprint: Option<String>,
    pub priority: Option<String>,
}

impl Filters {
    fn get(&self, key: &str) -> Option<String> {
        match key {
            "assignee" => self.assignee.clone(),
            "sprint" => self.sprint.clone(),
            "priority" => self.priority.clone(),
            _ => None,
        }
    }
}

/// The board's shared state, handed to columns and cards.
#[derive(Clone, Copy)]
struct BoardState {
    name: StoredValue<String>,
    tasks: RwSignal<Vec<TaskView>>,
    error: RwSignal<Option<String>>,
    dragging: RwSignal<Option<i64>>,
    /// Every task editor submits through this one action.
    update: ServerAction<UpdateTask>,
    /// The task whose editor submitted last (its refusal is shown there).
    last_edited: RwSignal<Option<i64>>,
    /// Whether to show the controls that change tasks (see `BoardData`).
    can_edit: bool,
    /// The tasks as the live feed last sent them, held while an editor is
    /// open (see `BoardView`).
    incoming: RwSignal<Option<Vec<TaskView>>>,
    /// Bumped when an editor opens, closes or is removed: a held update
    /// may apply then.
    toggled: RwSignal<u32>,
    /// Whether an update is held because an editor is open (the board
    /// says so).
    held: RwSignal<bool>,
    /// Tasks with a move or tick on its way to the server: an update that
    /// arrives meanwhile keeps what this board shows of them (the update
    /// may predate the save; the save's own event brings the next one).
    saving: RwSignal<Vec<i64>>,
    /// The board's element, to tell whether an editor is open in it.
    board: NodeRef<leptos::html::Section>,
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
        self.saving.update(|s| s.push(task_id));
        spawn_local(async move {
            let saved =
                move_task(name, task_id, status.as_str().to_string(), before.revision).await;
            self.saved(task_id);
            match saved {
                Ok(revision) => self.set(task_id, |t| t.revision = t.revision.max(revision)),
                Err(e) => {
                    // Put back where it was, unless the card has news of
                    // its own by now (then it shows those).
                    self.set(task_id, |t| {
                        if t.revision == before.revision {
                            t.status = before.status;
                        }
                    });
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
        let before = self
            .tasks
            .with_untracked(|ts| ts.iter().find(|t| t.id == task_id).map(|t| t.revision));
        self.saving.update(|s| s.push(task_id));
        spawn_local(async move {
            let saved = set_criterion(name, criterion_id, done).await;
            self.saved(task_id);
            match saved {
                Ok(revision) => self.set(task_id, |t| t.revision = t.revision.max(revision)),
                Err(e) => {
                    self.set(task_id, |t| {
                        if Some(t.revision) != before {
                            return;
                        }
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

    /// A save of `task_id` answered: live updates may show it again (one
    /// held meanwhile is looked at once more).
    fn saved(self, task_id: i64) {
        self.saving.update(|s| {
            if let Some(i) = s.iter().position(|id| *id == task_id) {
                s.remove(i);
            }
        });
        self.toggled.update(|n| *n = n.wrapping_add(1));
    }

    fn set(self, task_id: i64, f: impl FnOnce(&mut TaskView)) {
        self.tasks.update(|ts| {
            if let Some(t) = ts.iter_mut().find(|t| t.id == task_id) {
                f(t);
            }
        });
    }
}

/// Is a task editor open on the board? (Never on the server, where nothing
/// is open.)
fn editor_open(board: NodeRef<leptos::html::Section>) -> bool {
    #[cfg(feature = "hydrate")]
    {
        board
            .get_untracked()
            .and_then(|b| b.query_selector("details.task-edit[open]").ok().flatten())
            .is_some()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = board;
        false
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

/// What the board starts from.
#[derive(Serialize, Deserialize)]
pub struct BoardData {
    pub initial: Vec<TaskView>,
    pub name: String,
    pub filters: Filters,
    /// May the account change tasks (operators and admins)? Without it the
    /// board shows no controls that change anything.
    pub can_edit: bool,
}

/// The board island. Its data comes as one JSON string, read here with the
/// very code that reads `get_tasks`' answers: typed props would be read by
/// a second copy of every task decoder in the browser bundle.
#[island(lazy)]
pub fn Board(data: String) -> impl IntoView {
    match serde_json::from_slice::<BoardData>(data.as_bytes()) {
        Ok(BoardData {
            initial,
            name,
            filters,
            can_edit,
        }) => Either::Left(view! { <BoardView initial name filters can_edit/> }),
        Err(e) => {
            #[cfg(feature = "ssr")]
            crate::server::context::set_no_store();
            Either::Right(view! {
                <p class="error-note" role="alert">{format!("Could not read the board: {e}")}</p>
            })
        }
    }
}

#[component]
fn BoardView(
    initial: Vec<TaskView>,
    name: String,
    filters: Filters,
    can_edit: bool,
) -> impl IntoView {
    provide_action_error();
    let create = ServerAction::<CreateTask>::new();
    let update = ServerAction::<UpdateTask>::new();
    let state = BoardState {
        name: StoredValue::new(name),
        tasks: RwSignal::new(initial),
        error: RwSignal::new(None),
        dragging: RwSignal::new(None),
        update,
        last_edited: RwSignal::new(None),
        can_edit,
        incoming: RwSignal::new(None),
        toggled: RwSignal::new(0),
        held: RwSignal::new(false),
        saving: RwSignal::new(Vec::new()),
        board: NodeRef::new(),
    };
    // Every change of the migration's tasks (here, in another browser, or
    // brought from Notion) arrives as the whole list, and shows at once
    // unless an editor is open: then it waits until the editor closes, so
    // what is typed there stays, and is saved against the revision the
    // editor was opened on (a change made meanwhile is then a conflict, as
    // a save on a stale page always is).
    super::live::subscribe_to(
        format!("/live/{}/tasks", state.name.get_value()),
        "tasks",
        state.incoming,
        None,
    );
    Effect::new(move || {
        state.toggled.track();
        let Some(mut tasks) = state.incoming.get() else {
            return;
        };
        // What this board has on its way to the server stays as shown.
        state.saving.with_untracked(|saving| {
            state.tasks.with_untracked(|now| {
                for t in tasks.iter_mut().filter(|t| saving.contains(&t.id)) {
                    if let Some(mine) = now.iter().find(|m| m.id == t.id) {
                        *t = mine.clone();
                    }
                }
            })
        });
        // The same list (the feed's first message, most often) changes
        // nothing: it is dropped, and the cards are not drawn again.
        if state.tasks.with_untracked(|now| *now == tasks) {
            state.incoming.set(None);
            state.held.set(false);
            return;
        }
        if editor_open(state.board) {
            state.held.set(true);
            return;
        }
        state.incoming.set(None);
        state.held.set(false);
        state.tasks.set(tasks);
    });
    // A form saved: the board as the server has it now (a refusal changes
    // nothing, so the board and the form as typed stay as they are).
    let (created, updated) = (saved_version(create), saved_version(update));
    Effect::watch(
        move || (created.get(), updated.get()),
        move |_, _, _| {
            let name = state.name.get_value();
            spawn_local(async move {
                match get_tasks(name).await {
                    Ok(tasks) => state.tasks.set(tasks),
                    Err(e) => state
                        .error
                        .set(Some(format!("Could not load the board again: {e}"))),
                }
            });
        },
        false,
    );
    // The action's input is there while its call is in flight.
    Effect::new(move || {
        if let Some(input) = update.input().get() {
            state.last_edited.set(Some(input.task_id));
        }
    });
    // A refusal the server redirected back with (an editor posted without
    // JavaScript) names no task: it is shown above the board.
    let redirected = move || {
        (update.version().get() == 0)
            .then(|| refusal(update, 0))
            .flatten()
            .map(|e| format!("Could not save the task: {e}"))
    };
    let filters = StoredValue::new(filters);
    let filter = move |key: &'static str| filters.with_value(|f| f.get(key));
    let options = move |f: fn(&TaskView) -> Option<String>| {
        let mut values: Vec<String> = state.tasks.with(|ts| ts.iter().filter_map(f).collect());
        values.sort();
        values.dedup();
        values
    };
    let set_filter = move |key: &'static str, value: String| {
        let mut pairs: Vec<(String, String)> = ["assignee", "sprint", "priority"]
            .into_iter()
            .filter(|k| *k != key)
            .filter_map(|k| filter(k).map(|v| (k.to_string(), v)))
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
        // The server renders the filtered board (an island keeps its own
        // state across a client-side navigation, so this is a page load).
        let _ = window().location().set_href(&path);
    };
    let visible = move |t: &TaskView| {
        filter("assignee").is_none_or(|a| t.assignee.as_deref() == Some(a.as_str()))
            && filter("sprint").is_none_or(|s| t.sprint.as_deref() == Some(s.as_str()))
            && filter("priority").is_none_or(|p| t.priority.as_str() == p)
    };
    let select = move |key: &'static str, label: &'static str, values: Vec<String>| {
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
            {if can_edit {
                Either::Left(view! { <NewTask name=state.name.get_value() create/> })
            } else {
                Either::Right(view! {
                    <p class="role-note">{format!("Creating, moving and editing tasks: {}", Role::Operator.only())}</p>
                })
            }}
        </div>
        <p class="action-error" role="alert">{move || state.error.get().or_else(redirected)}</p>
        <p class="live-note" role="status">
            {move || state.held.get().then_some(
                "The board has changed meanwhile: it shows the change when you close the editor."
            )}
        </p>
        <section class="board" aria-label="Task board" node_ref=state.board>
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
    view! {
        <article
            class="card"
            data-task-id=task.id
            draggable=if state.can_edit { "true" } else { "false" }
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
            {(!task.conflicts.is_empty()).then(|| view! {
                <p class="conflict-note">
                    {format!("Changed here and in Notion: {}. ", task.conflicts.join(", "))}
                    <a href=format!("/m/{name}/notion#conflicts")>"Keep one side"</a>
                </p>
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
                                        disabled=!state.can_edit
                                        on:change=move |ev| state.tick(id, cid, event_target_checked(&ev))/>
                                    <span class:done=c.done>{c.text.clone()}</span>
                                </label>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </div>
            {state.can_edit.then(|| view! {
            <div class="card-actions">
                {left.map(|s| view! {
                    <button aria-label=format!("Move to {}", s.as_str()) on:click=move |_| state.move_to(id, s)>"◀"</button>
                })}
                {right.map(|s| view! {
                    <button aria-label=format!("Move to {}", s.as_str()) on:click=move |_| state.move_to(id, s)>"▶"</button>
                })}
                <button class="delete" aria-label=format!("Delete {}", task.title)
                    on:click=move |_| state.delete(to_delete.clone())>"Delete"</button>
            </div>
            <TaskEditor task=to_edit state/>
            })}
        </article>
    }
}

/// The fields a task form shows a refusal next to.
const FIELDS: [&str; 8] = [
    "title",
    "status",
    "priority",
    "assignee",
    "sprint",
    "phase",
    "depends_on",
    "criteria",
];

/// A refusal split into (field, message) for one of `FIELDS`, or a message
/// for the whole form.
fn split(error: AppError) -> Result<(String, String), String> {
    match error {
        AppError::Invalid { field, message } if FIELDS.contains(&field.as_str()) => {
            Ok((field, message))
        }
        other => Err(other.to_string()),
    }
}

/// Adds a task (To Do) to the board.
#[component]
fn NewTask(name: String, create: ServerAction<CreateTask>) -> impl IntoView {
    let since = create.version().get_untracked();
    let failure = move || refusal(create, since).map(split);
    // Created: the form is empty again for the next one.
    let form = NodeRef::<leptos::html::Form>::new();
    let created = saved_version(create);
    Effect::watch(
        move || created.get(),
        move |_, _, _| {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
        },
        false,
    );
    view! {
        <ActionForm action=create node_ref=form attr:class="new-task" attr:aria-label="New task">
            <input type="hidden" name="name" value=name/>
            <input type="hidden" name="form[status]" value=TaskStatus::ToDo.as_str()/>
            <input type="text" name="form[title]" placeholder="New task title" aria-label="Title"/>
            <input type="text" name="form[assignee]" placeholder="Assignee" aria-label="Assignee"/>
            <select name="form[priority]" aria-label="Priority">
                {Priority::ALL.iter().map(|p| view! {
                    <option value=p.as_str() selected=*p == Priority::Medium>{p.as_str()}</option>
                }).collect_view()}
            </select>
            <button type="submit">"Add task"</button>
            {move || failure().map(|f| match f {
                // A refusal naming a field is shown beside the form's fields.
                Ok((field, message)) => Either::Left(view! {
                    <span class="field-error" role="alert" data-field=field.clone()>{format!("{field}: {message}")}</span>
                }),
                Err(message) => Either::Right(view! {
                    <span class="field-error" role="alert">{format!("Could not create the task: {message}")}</span>
                }),
            })}
        </ActionForm>
    }
}

/// Edits every field of a task, folded under "Edit" (a `<details>`, so it
/// opens without JavaScript too). A refusal is shown next to its field, a
/// stale revision as a conflict, and the form keeps what was typed.
#[component]
fn TaskEditor(task: TaskView, state: BoardState) -> impl IntoView {
    let (id, revision) = (task.id, task.revision);
    let since = state.update.version().get_untracked();
    let failure = move || {
        (state.last_edited.get() == Some(id))
            .then(|| refusal(state.update, since))
            .flatten()
            .map(split)
    };
    let message_for = move |field: &'static str| {
        move || {
            failure()
                .and_then(Result::ok)
                .filter(|(f, _)| f == field)
                .map(|(_, m)| view! { <span class="field-error" role="alert">{m}</span> })
        }
    };
    let others: Vec<(i64, String, bool)> = state.tasks.with_untracked(|ts| {
        ts.iter()
            .filter(|t| t.id != id)
            .map(|t| {
                (
                    t.id,
                    t.title.clone(),
                    task.depends_on.iter().any(|d| d.id == t.id),
                )
            })
            .collect()
    });
    let details = NodeRef::<leptos::html::Details>::new();
    let form = NodeRef::<leptos::html::Form>::new();
    // Drawn again (the board changed under it), an editor goes without a
    // `toggle` event: an update held for it may apply now.
    on_cleanup(move || state.toggled.update(|n| *n = n.wrapping_add(1)));
    let cancel = move |_| {
        if let Some(form) = form.get() {
            form.reset();
        }
        if let Some(details) = details.get() {
            details.set_open(false);
        }
    };
    let text = move |label: &'static str, field: &'static str, value: String| {
        view! {
            <label>{label}
                <input type="text" name=format!("form[{field}]") value=value/>
                {message_for(field)}
            </label>
        }
    };
    let choice = move |label: &'static str,
                       field: &'static str,
                       options: Vec<&'static str>,
                       current: &'static str| {
        view! {
            <label>{label}
                <select name=format!("form[{field}]")>
                    {options.into_iter().map(|o| view! {
                        <option value=o selected=o == current>{o}</option>
                    }).collect_view()}
                </select>
                {message_for(field)}
            </label>
        }
    };
    let criteria = task
        .criteria
        .iter()
        .map(|c| c.text.clone())
        .collect::<Vec<_>>()
        .join("\n");
    let phase = task.phase_position;
    let title = task.title.clone();
    view! {
        <details class="task-edit" node_ref=details
            on:toggle=move |_| state.toggled.update(|n| *n = n.wrapping_add(1))>
            <summary aria-label=format!("Edit {title}")>"Edit"</summary>
            <ActionForm action=state.update node_ref=form
                attr:class="task-editor" attr:aria-label=format!("Edit task {title}")>
                <input type="hidden" name="name" value=state.name.get_value()/>
                <input type="hidden" name="task_id" value=id/>
                <input type="hidden" name="revision" value=revision/>
                {text("Title", "title", task.title.clone())}
                {choice("Status", "status", TaskStatus::ALL.iter().map(|s| s.as_str()).collect(), task.status.as_str())}
                {choice("Priority", "priority", Priority::ALL.iter().map(|p| p.as_str()).collect(), task.priority.as_str())}
                {text("Assignee", "assignee", task.assignee.clone().unwrap_or_default())}
                {text("Sprint", "sprint", task.sprint.clone().unwrap_or_default())}
                <label>"Phase"
                    <select name="form[phase]">
                        <option value="" selected=phase.is_none()>"None"</option>
                        {Phase::ALL.map(|p| view! {
                            <option value=p.to_string() selected=phase == Some(p)>
                                {format!("Phase {p}: {}", p.title())}
                            </option>
                        }).collect_view()}
                    </select>
                    {message_for("phase")}
                </label>
                <fieldset>
                    <legend>"Depends on"</legend>
                    {others.into_iter().map(|(other, title, checked)| view! {
                        <label class="dep">
                            <input type="checkbox" name="form[depends_on][]" value=other checked=checked/>
                            {title}
                        </label>
                    }).collect_view()}
                    {message_for("depends_on")}
                </fieldset>
                <label>"Acceptance criteria (one per line)"
                    <textarea name="form[criteria]" rows="4">{criteria}</textarea>
                    {message_for("criteria")}
                </label>
                <p class="action-error" role="alert">{move || failure().and_then(Result::err)}</p>
                <div class="buttons">
                    <button type="submit" class="primary">"Save task"</button>
                    <button type="reset" on:click=cancel>"Cancel"</button>
                </div>
            </ActionForm>
        </details>
    }
}
