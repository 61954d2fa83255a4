//! The Tasks section: a board with one column per Status.

use leptos::prelude::*;

use super::common::{use_migration_name, ErrorNote, Loading};
use crate::api::migrations::get_tasks;
use crate::model::{TaskStatus, TaskView};

#[component]
pub fn TasksSection() -> impl IntoView {
    let name = use_migration_name();
    let tasks = Resource::new(move || name.get(), get_tasks);
    view! {
        <Suspense fallback=|| view! { <Loading what="tasks"/> }>
            {move || Suspend::new(async move {
                match tasks.await {
                    Ok(tasks) => {
                        let name = name.get_untracked();
                        view! {
                            <section class="board" aria-label="Task board">
                                {TaskStatus::ALL
                                    .into_iter()
                                    .map(|status| {
                                        let cards: Vec<TaskView> = tasks
                                            .iter()
                                            .filter(|t| t.status == status)
                                            .cloned()
                                            .collect();
                                        view! { <Column status cards name=name.clone()/> }
                                    })
                                    .collect_view()}
                            </section>
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
fn Column(status: TaskStatus, cards: Vec<TaskView>, name: String) -> impl IntoView {
    let count = cards.len();
    view! {
        <div class="column" role="region" aria-label=status.as_str() data-status=status.as_str()>
            <h3>{status.as_str()} <span class="count">{count}</span></h3>
            {cards.into_iter().map(|task| view! { <Card task name=name.clone()/> }).collect_view()}
        </div>
    }
    .into_any()
}

#[component]
fn Card(task: TaskView, name: String) -> impl IntoView {
    let done = task.criteria.iter().filter(|c| c.done).count();
    let total = task.criteria.len();
    let waiting: Vec<String> = task
        .depends_on
        .iter()
        .filter(|d| d.status != TaskStatus::Done)
        .map(|d| d.title.clone())
        .collect();
    view! {
        <article class="card" data-task-id=task.id>
            <h4>{task.title.clone()}</h4>
            <p class="card-meta">
                <span class=format!("badge priority-{}", task.priority.as_str().to_lowercase())>
                    {task.priority.as_str()}
                </span>
                {task.assignee.clone().map(|a| view! { <span class="assignee">{a}</span> })}
                {task.sprint.clone().map(|s| view! { <span class="sprint">{s}</span> })}
                {task.phase_position.map(|p| view! {
                    <a class="phase-link" href=format!("/m/{name}/plan")>{format!("Phase {p}")}</a>
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
                    {task.criteria.iter().map(|c| view! {
                        <li>
                            <label>
                                <input type="checkbox" checked=c.done disabled=true/>
                                <span class:done=c.done>{c.text.clone()}</span>
                            </label>
                        </li>
                    }).collect_view()}
                </ul>
            </div>
        </article>
    }
    .into_any()
}
