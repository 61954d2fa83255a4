//! The Phases section: the console where an engineer drives the migration
//! and everyone watches it, live (pushed over Server-Sent Events, see
//! `live`). It renders what the server's console view says (each phase's
//! buttons, what they must confirm, whether quarantine must be accepted,
//! whether the throttle applies) and acts through server functions; the
//! server decides every rule and refuses anything else.
//!
//! The console is an island (`Console`): the only part of the page that
//! hydrates. Each phase's dry run is loaded when it is unfolded, not sent
//! with every view; without JavaScript it is a link to the SQL as text.

use leptos::either::Either;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::common::{
    date_time, provide_action_error, time_of_day, use_migration_name, ErrorNote, Loading,
    PhaseBadge,
};
use crate::api::approvals::{DecideApproval, RequestApproval, SetApprovalPolicy};
use crate::api::console::{get_console, get_dry_run, ActOnPhase, Rehearse, SetThrottle};
use crate::model::account::Role;
use crate::model::approval::{ApprovalState, Decision, PhaseApproval};
use crate::model::console::{
    ConsolePhase, ConsoleView, DryRunSql, PhaseAction, PhaseChoice, ProgressView, ThroughputPoint,
};
use crate::model::rehearsal::{estimate_millis, RehearsalState, RehearsalView};
use crate::model::time::duration_words;
use crate::model::Phase;
use crate::model::PhaseState;

#[component]
pub fn PhasesSection() -> impl IntoView {
    let name = use_migration_name();
    let console = Resource::new(move || name.get(), get_console);
    view! {
        <Suspense fallback=|| view! { <Loading what="phase console"/> }>
            {move || Suspend::new(async move {
                match console.await {
                    Ok(initial) => {
                        let can_operate = super::account::may(Role::Operator);
                        let is_admin = super::account::may(Role::Admin);
                        let me = super::account::signed_in().map(|s| s.email).unwrap_or_default();
                        view! { <Console initial can_operate is_admin me/> }.into_any()
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// An action waiting for the operator's confirmation of what the server
/// said it means.
#[derive(Clone, PartialEq)]
struct Pending {
    phase: Phase,
    action: PhaseAction,
    consequence: Option<String>,
    /// Quarantined documents the operator must accept (the server's count).
    accept_quarantined: Option<i64>,
}

/// Dry runs loaded so far, newest per phase (each with its recipe's hash).
type DryRuns = RwSignal<Vec<(Phase, DryRunSql)>>;

/// The approval forms' actions, shared by the phase cards.
#[derive(Clone, Copy)]
struct ApprovalActions {
    policy: ServerAction<SetApprovalPolicy>,
    request: ServerAction<RequestApproval>,
    decide: ServerAction<DecideApproval>,
}

/// The console. Without `can_operate` (a viewer) it shows no action
/// buttons and no throttle controls, and says who may use them; approval
/// policy controls only for `is_admin`; `me` is the signed-in account's
/// email (whoever asked for an approval is not offered to decide it).
#[island(lazy)]
pub fn Console(
    initial: ConsoleView,
    can_operate: bool,
    is_admin: bool,
    me: String,
) -> impl IntoView {
    provide_action_error();
    let approvals = ApprovalActions {
        policy: ServerAction::new(),
        request: ServerAction::new(),
        decide: ServerAction::new(),
    };
    let approval_error = move || {
        let policy = approvals.policy.value().get().and_then(|r| r.err());
        let request = approvals.request.value().get().and_then(|r| r.err());
        let decide = approvals.decide.value().get().and_then(|r| r.err());
        policy.or(request).or(decide).map(|e| e.to_string())
    };
    let name = initial.name.clone();
    let view = RwSignal::new(initial);
    let dry_runs: DryRuns = RwSignal::new(Vec::new());
    super::live::subscribe(name.clone(), view);
    let act = ServerAction::<ActOnPhase>::new();
    let confirming = RwSignal::new(None::<Pending>);
    let accept_quarantine = RwSignal::new(false);
    let error = move || {
        act.value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    let name_for_do = name.clone();
    let list_name = name.clone();
    let do_action = move |phase: Phase, action: PhaseAction, accept: bool| {
        act.dispatch(ActOnPhase {
            name: name_for_do.clone(),
            phase,
            action,
            accept_quarantine: accept,
        });
    };
    let request = {
        let do_action = do_action.clone();
        move |phase: Phase, choice: PhaseChoice| {
            if choice.confirm.is_none() && choice.accept_quarantined.is_none() {
                do_action(phase, choice.action, false);
                return;
            }
            accept_quarantine.set(false);
            confirming.set(Some(Pending {
                phase,
                action: choice.action,
                consequence: choice.confirm,
                accept_quarantined: choice.accept_quarantined,
            }));
        }
    };
    view! {
        <section class="console" aria-label="Phase console">
            {move || {
                view.with(|v| v.recipe_error.clone())
                    .map(|e| view! { <p class="error-note" role="alert">{e}</p> })
            }}
            <p class="action-error" role="alert">{error}</p>
            <p class="action-error approval-error" role="alert">{approval_error}</p>
            {(!can_operate).then(|| view! {
                <p class="role-note">
                    "Running, pausing, resuming, aborting and rolling back phases, and the throttle: "
                    {Role::Operator.only()}
                    "."
                </p>
            })}
            <ProgressPanel view name=name.clone() can_operate/>
            {move || {
                confirming
                    .get()
                    .map(|p| {
                        let consequence = p.consequence.clone();
                        let do_action = do_action.clone();
                        let (phase, action) = (p.phase, p.action);
                        view! {
                            <div class="confirm" role="dialog" aria-label="Confirm">
                                <p><strong>{format!("Confirm {} phase {}", p.action.verb(), p.phase)}</strong></p>
                                {consequence.map(|c| view! { <p>{c}</p> })}
                                {p.accept_quarantined.map(|quarantined| view! {
                                    <label>
                                        <input type="checkbox"
                                            prop:checked=move || accept_quarantine.get()
                                            on:change=move |ev| accept_quarantine.set(event_target_checked(&ev))/>
                                        {format!(" Accept the {quarantined} quarantined document(s): they will not be readable from the new tables")}
                                    </label>
                                })}
                                <div class="buttons">
                                    <button class="danger" on:click=move |_| {
                                        confirming.set(None);
                                        do_action(phase, action, accept_quarantine.get_untracked());
                                    }>"Confirm"</button>
                                    <button on:click=move |_| confirming.set(None)>"Cancel"</button>
                                </div>
                            </div>
                        }
                    })
            }}
            {move || {
                let v = view.get();
                v.pinned_recipe_hash.map(|hash| {
                    let short: String = hash.chars().take(12).collect();
                    view! {
                        <p class="recipe-pin" title=hash.clone()>
                            {format!("Recipe pinned at phase 1: sha256 {short}…")}
                            {v.recipe_changed.then(|| view! {
                                <strong class="warning">
                                    " The recipe file has changed since; the pinned recipe is the one that runs."
                                </strong>
                            })}
                        </p>
                    }
                })
            }}
            <ol class="console-phases">
                {move || {
                    view.get()
                        .phases
                        .into_iter()
                        .map(|p| {
                            let request = request.clone();
                            let dry_run = view! {
                                <DryRun name=list_name.clone() phase=p.phase
                                    recipe_hash=view.with(|v| v.recipe_hash.clone()) dry_runs/>
                            };
                            let approval = p.approval.clone().map(|approval| view! {
                                <ApprovalPanel name=list_name.clone() phase=p.phase state=p.state approval
                                    actions=approvals can_operate is_admin me=me.clone()/>
                            });
                            let estimate = view.with(|v| {
                                estimate_line(&p, v.rehearsal.as_ref(), v.progress.as_ref())
                            });
                            view! { <PhaseCard phase=p request pending=act.pending() dry_run can_operate approval estimate/> }
                        })
                        .collect_view()
                }}
            </ol>
            <RehearsalPanel view name=name.clone() can_operate/>
            <VerificationPanel view/>
            <QuarantinePanel view/>
            <EventLog view/>
        </section>
    }
}

/// One phase: its state, why it waits, its buttons (exactly the server's
/// choices) and its dry run.
#[component]
fn PhaseCard<F>(
    phase: ConsolePhase,
    request: F,
    pending: Memo<bool>,
    dry_run: impl IntoView + 'static,
    can_operate: bool,
    approval: Option<impl IntoView + 'static>,
    /// The expected duration, and how reality compares (`estimate_line`).
    estimate: Option<String>,
) -> impl IntoView
where
    F: Fn(Phase, PhaseChoice) + Clone + Send + Sync + 'static,
{
    let p = phase.phase;
    let state = phase.state;
    let started = phase.started_at.map(|at| {
        format!(
            "Started by {} at {}",
            phase.started_by.clone().unwrap_or_else(|| "?".into()),
            date_time(&at, true)
        )
    });
    let buttons = can_operate.then(|| {
        phase
            .choices
            .iter()
            .cloned()
            .map(|choice| {
                let request = request.clone();
                let allowed = choice.refused.is_none();
                let title = choice.refused.clone().unwrap_or_default();
                let label = choice.action.label();
                view! {
                    <button
                        title=title
                        disabled=move || !allowed || pending.get()
                        on:click=move |_| request(p, choice.clone())
                    >
                        {label}
                    </button>
                }
            })
            .collect_view()
    });
    view! {
        <li class="console-phase" data-position=p.number() data-state=state.as_str()>
            <h3>
                <span class="phase-number">{format!("Phase {p}")}</span>
                " "
                <span class="phase-title">{phase.title.clone()}</span>
                " "
                <PhaseBadge state/>
            </h3>
            {started.map(|s| view! { <p class="meta">{s}</p> })}
            {estimate.map(|e| view! { <p class="estimate">{e}</p> })}
            <PhaseLocks locks=phase.locks.clone()/>
            {phase.error.clone().map(|e| view! { <p class="phase-error">{e}</p> })}
            {phase.blocked.clone().map(|r| view! { <p class="blocked-reason">{format!("Cannot run yet: {r}")}</p> })}
            {match buttons {
                Some(buttons) => Either::Left(view! {
                    <div class="buttons" role="group" aria-label=format!("Phase {p} actions")>
                        {buttons}
                    </div>
                }),
                None => Either::Right(view! {
                    <p class="role-note">{format!("Phase {p} actions: {}", Role::Operator.only())}</p>
                }),
            }}
            {approval}
            {dry_run}
        </li>
    }
}

/// Phases 4 and 5: whether the phase waits for an approval, its latest
/// request (who asked, when and why; who decided, when and why; or why it
/// expired), and the forms this account may use: ask (operators and
/// admins), decide (operators and admins, not whoever asked), require or
/// stop requiring approval (admins). Plain forms: without JavaScript they
/// post and the page comes back; with it, the live feed shows the outcome.
#[component]
fn ApprovalPanel(
    name: String,
    phase: Phase,
    state: PhaseState,
    approval: PhaseApproval,
    actions: ApprovalActions,
    can_operate: bool,
    is_admin: bool,
    me: String,
) -> impl IntoView {
    let n = phase.number();
    let latest = approval.latest.clone();
    let latest_state = latest.as_ref().map(|l| l.state);
    // What the server accepts (`domain::approvals::why_not_request`).
    let may_request = can_operate
        && approval.required
        && state != PhaseState::Done
        && !matches!(
            latest_state,
            Some(ApprovalState::Pending | ApprovalState::Approved)
        );
    let mine = latest
        .as_ref()
        .is_some_and(|l| l.requested_by.eq_ignore_ascii_case(&me));
    let may_decide = can_operate && latest_state == Some(ApprovalState::Pending) && !mine;
    let history = latest.map(|l| {
        let decided = l.decision.map(|d| {
            let verb = match d {
                Decision::Approved => "Approved",
                Decision::Rejected => "Rejected",
            };
            view! {
                <p class="approval-decision" data-decision=d.as_str()>
                    {format!(
                        "{verb} by {} at {}: ",
                        l.decided_by.clone().unwrap_or_else(|| "?".into()),
                        l.decided_at.map(|at| date_time(&at, false)).unwrap_or_default()
                    )}
                    <q>{l.comment.clone().unwrap_or_default()}</q>
                </p>
            }
        });
        view! {
            <p class="approval-state">
                <span class=format!("badge approval-{}", l.state.as_str()) data-state=l.state.as_str()>
                    {l.state.label()}
                </span>
                {l.expired_because.clone().map(|why| format!(" ({why})"))}
            </p>
            <p class="approval-request">
                {format!(
                    "Request {} by {} at {}: ",
                    l.id,
                    l.requested_by,
                    date_time(&l.requested_at, false)
                )}
                <q>{l.reason.clone()}</q>
            </p>
            {decided}
            {(mine && l.state == ApprovalState::Pending).then(|| view! {
                <p class="role-note">"You asked: another operator or admin must approve or reject it."</p>
            })}
        }
    });
    let request_form = may_request.then(|| {
        let name = name.clone();
        view! {
            <ActionForm action=actions.request attr:class="approval-request-form">
                <input type="hidden" name="name" value=name.clone()/>
                <input type="hidden" name="phase" value=n/>
                <label>{format!("Why should phase {n} run now? ")}
                    <input type="text" name="reason" required=true maxlength="2000"/>
                </label>
                <button type="submit">"Request approval"</button>
            </ActionForm>
        }
    });
    let decide_form = may_decide
        .then(|| approval.latest.as_ref().map(|l| l.id))
        .flatten()
        .map(|id| {
            let name = name.clone();
            view! {
                <ActionForm action=actions.decide attr:class="approval-decide-form">
                    <input type="hidden" name="name" value=name.clone()/>
                    <input type="hidden" name="approval" value=id/>
                    <label><input type="radio" name="decision" value="Approved" required=true/>" Approve"</label>
                    <label><input type="radio" name="decision" value="Rejected"/>" Reject"</label>
                    <label>" Comment "
                        <input type="text" name="comment" required=true maxlength="2000"/>
                    </label>
                    <button type="submit">"Record decision"</button>
                </ActionForm>
            }
        });
    let policy_form = is_admin.then(|| {
        let required = approval.required;
        view! {
            <ActionForm action=actions.policy attr:class="approval-policy-form">
                <input type="hidden" name="name" value=name.clone()/>
                <input type="hidden" name="phase" value=n/>
                <input type="hidden" name="required" value=if required { "false" } else { "true" }/>
                <button type="submit">
                    {if required { "Stop requiring approval" } else { "Require approval" }}
                </button>
            </ActionForm>
        }
    });
    view! {
        <div class="approval" data-required=approval.required.to_string()
            aria-label=format!("Phase {n} approval")>
            <p class="approval-policy">
                {if approval.required {
                    "Approval required: an operator asks, someone else approves, then it can run."
                } else {
                    "No approval required to run this phase."
                }}
                {(!is_admin).then(|| view! { <span class="role-note">" (set by admins)"</span> })}
            </p>
            {history}
            {request_form}
            {decide_form}
            {policy_form}
        </div>
    }
}

/// A phase's dry run, folded. Unfolding it loads the SQL (once per recipe:
/// loaded again only when the recipe that runs has changed since) and shows
/// which recipe it comes from. The link opens the same SQL as plain text,
/// which also works without JavaScript.
#[component]
fn DryRun(
    name: String,
    phase: Phase,
    recipe_hash: Option<String>,
    dry_runs: DryRuns,
) -> impl IntoView {
    let href = format!("/dry-run/{name}/{}", phase.number());
    let current = {
        let hash = recipe_hash.clone();
        move || {
            dry_runs.with(|d| {
                d.iter()
                    .find(|(p, _)| *p == phase)
                    .filter(|(_, d)| hash.is_none() || hash.as_ref() == Some(&d.recipe_hash))
                    .map(|(_, d)| d.clone())
            })
        }
    };
    let loading = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let load = {
        let current = current.clone();
        move |_| {
            if current().is_some() || loading.get_untracked() {
                return;
            }
            loading.set(true);
            let name = name.clone();
            spawn_local(async move {
                let got = get_dry_run(name, phase).await;
                // The card may have been re-rendered meanwhile: the signals
                // may be gone, the loaded SQL is kept by the console.
                let _ = loading.try_set(false);
                match got {
                    Ok(sql) => {
                        let _ = error.try_set(None);
                        dry_runs.update(|d| {
                            d.retain(|(p, _)| *p != phase);
                            d.push((phase, sql));
                        });
                    }
                    Err(e) => {
                        let _ = error.try_set(Some(format!("Could not load the dry run: {e}")));
                    }
                }
            });
        }
    };
    view! {
        <details class="dry-run" on:toggle=load>
            <summary>"Dry run: the SQL this phase executes"</summary>
            <p class="meta">
                // A plain page load, not a client-side navigation.
                <a href=href rel="external">"The SQL as plain text"</a>
                {move || loading.get().then_some(" · loading…")}
            </p>
            <p class="action-error" role="alert">{move || error.get()}</p>
            {move || current().map(|d| {
                let short: String = d.recipe_hash.chars().take(12).collect();
                view! {
                    <p class="meta">{format!("Recipe sha256 {short}…")}</p>
                    <pre><code data-language="sql">{d.sql}</code></pre>
                }
            })}
        </details>
    }
}

#[component]
fn ProgressPanel(view: RwSignal<ConsoleView>, name: String, can_operate: bool) -> impl IntoView {
    let throttle = ServerAction::<SetThrottle>::new();
    let throttle_error = move || {
        throttle
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    move || {
        let v = view.get();
        let bar = v.progress.clone().map(|p| {
            let percent = p.percent;
            let eta = p
                .eta_seconds
                .map(|s| format!("{s:.0} s"))
                .unwrap_or_else(|| "—".into());
            view! {
                <div class="progress" role="progressbar" aria-label="Backfill"
                    aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{percent:.0}")>
                    <div class="bar" style=format!("width: {percent:.1}%")></div>
                </div>
                <p class="progress-numbers">
                    <span class="rows">{format!("{} / {} rows", p.rows_done, p.rows_total)}</span>
                    <span>{format!("{:.0} rows/s", p.rows_per_second)}</span>
                    <span>{format!("ETA {eta}")}</span>
                    <span>{format!("{} quarantined", p.quarantined)}</span>
                    <span>{format!("batch {}", p.batch_size)}</span>
                    {p.paused.then(|| view! { <span class="badge phase-paused">"paused"</span> })}
                    {p.throttled.clone().map(|why| view! {
                        <span class="badge throttled" title="The backfill yields while the application's writes are slow">
                            {format!("throttled: {why}")}
                        </span>
                    })}
                </p>
                <ThroughputChart points=v.throughput.clone()/>
            }
        });
        let form = (v.throttle_applies && can_operate).then(|| {
            let name = name.clone();
            view! {
                <ActionForm action=throttle attr:class="throttle">
                    <input type="hidden" name="name" value=name/>
                    <label>"Target batch duration (ms) "
                        <input type="number" name="target_batch_ms" value=v.target_batch_ms/>
                    </label>
                    <label>" Pause between batches (ms) "
                        <input type="number" name="throttle_ms" value=v.throttle_ms/>
                    </label>
                    <button type="submit">"Apply throttle"</button>
                </ActionForm>
                <p class="action-error" role="alert">{throttle_error}</p>
            }
        });
        (bar.is_some() || form.is_some()).then(|| {
            view! {
                <div class="progress-panel" aria-label="Backfill progress">
                    <h3>"Backfill"</h3>
                    {bar}
                    {form}
                </div>
            }
        })
    }
}

/// Rows/s over time, as an SVG line.
#[component]
fn ThroughputChart(points: Vec<ThroughputPoint>) -> impl IntoView {
    if points.len() < 2 {
        return Either::Left(
            view! { <p class="meta">"Throughput chart appears once the backfill reports."</p> },
        );
    }
    let (w, h) = (600.0_f64, 120.0_f64);
    let t0 = points[0].at.timestamp_millis() as f64;
    let t1 = points[points.len() - 1].at.timestamp_millis() as f64;
    let span = (t1 - t0).max(1.0);
    let max = points
        .iter()
        .map(|p| p.rows_per_second)
        .fold(1.0_f64, f64::max);
    let line: Vec<String> = points
        .iter()
        .map(|p| {
            let x = (p.at.timestamp_millis() as f64 - t0) / span * w;
            let y = h - p.rows_per_second / max * (h - 10.0);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    Either::Right(view! {
        <svg class="throughput" viewBox=format!("0 0 {w} {h}") role="img"
            aria-label=format!("Throughput over time, peak {max:.0} rows/s")>
            <polyline points=line.join(" ") fill="none" stroke="currentColor" stroke-width="2"/>
            <text x="4" y="12" class="axis">{format!("{max:.0} rows/s")}</text>
        </svg>
    })
}

#[component]
fn VerificationPanel(view: RwSignal<ConsoleView>) -> impl IntoView {
    move || {
        let v = view.get().verification?;
        let percent = if v.rows_total > 0 {
            (v.rows_compared as f64 * 100.0 / v.rows_total as f64).min(100.0)
        } else {
            100.0
        };
        let percent = if v.finished { 100.0 } else { percent };
        Some(view! {
            <section class="verification" aria-label="Verification results">
                <h3>{if v.finished { "Verification" } else { "Verification running" }}</h3>
                <div class="progress" role="progressbar" aria-label="Verification"
                    aria-valuemin="0" aria-valuemax="100" aria-valuenow=format!("{percent:.0}")>
                    <div class="bar" style=format!("width: {percent:.1}%")></div>
                </div>
                <p class="progress-numbers">
                    <span>{format!("{} / {} rows compared", v.rows_compared, v.rows_total)}</span>
                    <span class="differences">{format!("{} difference(s)", v.differences)}</span>
                    <span>{format!("at {} UTC", time_of_day(&v.at))}</span>
                </p>
                {(!v.first_differences.is_empty()).then(|| view! {
                    <table class="phase-table">
                        <thead><tr>
                            <th scope="col">"Table"</th><th scope="col">"Key"</th><th scope="col">"Entry"</th>
                            <th scope="col">"Expected"</th><th scope="col">"Actual"</th>
                        </tr></thead>
                        <tbody>
                            {v.first_differences.into_iter().map(|d| view! {
                                <tr>
                                    <td>{d.table}</td><td>{d.key}</td><td>{d.entry.unwrap_or_default()}</td>
                                    <td><code>{d.expected.unwrap_or_else(|| "(none)".into())}</code></td>
                                    <td><code>{d.actual.unwrap_or_else(|| "(none)".into())}</code></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
            </section>
        })
    }
}

#[component]
fn QuarantinePanel(view: RwSignal<ConsoleView>) -> impl IntoView {
    move || {
        let v = view.get();
        (v.quarantined > 0 || !v.unmapped_keys.is_empty()).then(|| {
            view! {
                <div class="quarantine" aria-label="Quarantine">
                    <h3>{format!("Quarantine: {} document(s)", v.quarantined)}</h3>
                    <table class="phase-table">
                        <thead><tr><th scope="col">"Key"</th><th scope="col">"Reason"</th></tr></thead>
                        <tbody>
                            {v.quarantine_sample.into_iter().map(|q| view! {
                                <tr><td>{q.key}</td><td>{q.reason}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    {(!v.unmapped_keys.is_empty()).then(|| view! {
                        <h4>"Keys mapped nowhere (lost at phase 5)"</h4>
                        <ul class="unmapped">
                            {v.unmapped_keys.into_iter().map(|(k, n)| view! {
                                <li><code>{k}</code>{format!(" in {n} document(s)")}</li>
                            }).collect_view()}
                        </ul>
                    })}
                </div>
            }
        })
    }
}

/// The migration's event log, newest first, filterable by actor (the part
/// of the actor typed, any case; in the browser, as you type).
#[component]
fn EventLog(view: RwSignal<ConsoleView>) -> impl IntoView {
    let actor = RwSignal::new(String::new());
    view! {
        <div class="event-log" aria-label="Event log">
            <h3>"Event log"</h3>
            <label class="actor-filter">"Actor contains "
                <input type="search" name="actor" prop:value=move || actor.get()
                    on:input=move |ev| actor.set(event_target_value(&ev))/>
            </label>
            <ol>
                {move || {
                    let wanted = actor.get().trim().to_lowercase();
                    view.get().events.into_iter()
                        .filter(|e| wanted.is_empty() || e.actor.to_lowercase().contains(&wanted))
                        .map(|e| view! {
                            <li data-kind=e.kind>
                                <time>{time_of_day(&e.at)}</time>
                                " "
                                <span class="actor">{e.actor}</span>
                                " "
                                {e.phase.map(|p| format!("phase {p}: ")).unwrap_or_default()}
                                {e.description}
                            </li>
                        }).collect_view()
                }}
            </ol>
        </div>
    }
}

/// What the phase is expected to take on the production table (from the
/// latest rehearsal, scaled by the table's rows where the work grows with
/// them), beside what it took, or, while it runs, when it started and (the
/// backfill) its own ETA. No clock is read: the browser's would differ
/// from the server's.
fn estimate_line(
    phase: &ConsolePhase,
    rehearsal: Option<&RehearsalView>,
    progress: Option<&ProgressView>,
) -> Option<String> {
    let rehearsal = rehearsal.filter(|r| r.state != RehearsalState::Running)?;
    let estimate = estimate_millis(rehearsal, phase.phase).map(duration_words);
    let source = format!(
        "the {} % rehearsal{}",
        rehearsal.percent,
        if rehearsal.stale {
            ", of an earlier recipe"
        } else {
            ""
        }
    );
    let taken = match (phase.started_at, phase.finished_at, phase.state) {
        (Some(start), Some(end), PhaseState::Done) => Some(format!(
            "took {}",
            duration_words((end - start).num_milliseconds())
        )),
        (Some(start), _, PhaseState::Running | PhaseState::Verifying) => {
            let eta = progress
                .filter(|_| phase.phase == Phase::Backfill)
                .and_then(|p| p.eta_seconds)
                .map(|s| format!(", ETA {}", duration_words((s * 1000.0) as i64)))
                .unwrap_or_default();
            Some(format!("running since {}{eta}", time_of_day(&start)))
        }
        _ => None,
    };
    Some(match (estimate, taken) {
        (Some(e), Some(t)) => format!("{t}; estimated {e} from {source}"),
        (Some(e), None) => format!("Estimated {e} (from {source})"),
        (None, Some(t)) => format!("{t}; no estimate ({source} did not measure it)"),
        (None, None) => format!("No estimate: {source} did not measure this phase"),
    })
}

/// "Rehearse on a sample": the form (operators and admins) and the latest
/// rehearsal's report, step by step.
#[component]
fn RehearsalPanel(view: RwSignal<ConsoleView>, name: String, can_operate: bool) -> impl IntoView {
    let rehearse = ServerAction::<Rehearse>::new();
    let error = move || {
        rehearse
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    };
    let report = move || {
        view.with(|v| v.rehearsal.clone()).map(|r| {
            let rows = r
                .steps
                .iter()
                .map(|s| {
                    view! {
                        <tr data-failed=s.error.is_some().to_string()>
                            <td>{s.action()}</td>
                            <td>{duration_words(s.millis)}</td>
                            <td>{s.rows.map(|n| n.to_string()).unwrap_or_default()}</td>
                            <td>{s.quarantined}</td>
                            <td>{s.unmapped_keys}</td>
                            <td>{s.lock_waits}</td>
                            <td>{s.error.clone().unwrap_or_else(|| "ok".into())}</td>
                        </tr>
                    }
                })
                .collect_view();
            view! {
                <p class="rehearsal-summary" data-state=r.state.as_str()>{r.summary()}</p>
                {r.error.clone().map(|e| view! { <p class="phase-error">{e}</p> })}
                <table class="rehearsal-steps">
                    <thead>
                        <tr>
                            <th>"Step"</th><th>"Time"</th><th>"Rows"</th><th>"Quarantined"</th>
                            <th>"Unmapped keys"</th><th>"Lock waits"</th><th>"Result"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            }
        })
    };
    let running = move || {
        view.with(|v| {
            v.rehearsal
                .as_ref()
                .is_some_and(|r| r.state == RehearsalState::Running)
        })
    };
    view! {
        <section class="rehearsal" aria-label="Rehearsal">
            <h3>"Rehearse on a sample"</h3>
            <p class="meta">
                "Copies a sample of the source table into a scratch schema, runs every phase and every rollback there, reports each step and drops the schema. The production table is only read."
            </p>
            {can_operate.then(|| view! {
                <ActionForm action=rehearse attr:class="rehearse">
                    <input type="hidden" name="name" value=name.clone()/>
                    <label>
                        "Sample (% of the table) "
                        <input type="number" name="percent" value="5" min="0.1" max="50" step="0.1" required/>
                    </label>
                    <button type="submit" disabled=move || running() || rehearse.pending().get()>
                        "Rehearse on a sample"
                    </button>
                </ActionForm>
            })}
            <p class="action-error" role="alert">{error}</p>
            {move || match report() {
                Some(report) => Either::Left(report),
                None => Either::Right(view! { <p class="meta">"No rehearsal yet."</p> }),
            }}
        </section>
    }
}

/// The table locks a phase's run takes, strongest per table: each for one
/// short transaction under `lock_timeout`, given up and retried when the
/// application holds the table.
#[component]
fn PhaseLocks(locks: Vec<crate::engine::vocab::TableLock>) -> impl IntoView {
    let summary = if locks.is_empty() {
        "Locks: row locks only".to_string()
    } else {
        let strongest = locks.iter().map(|l| l.mode).max();
        format!(
            "Locks: {} table(s), at most {}",
            locks.len(),
            strongest.map(|m| m.as_str()).unwrap_or_default()
        )
    };
    let items = locks
        .into_iter()
        .map(|l| {
            view! {
                <li data-table=l.table.clone() data-mode=l.mode.as_str()>
                    <code>{l.table.clone()}</code>
                    {format!(": {} ({}), in \u{201c}{}\u{201d}", l.mode.as_str(), l.mode.blocks(), l.step)}
                </li>
            }
        })
        .collect_view();
    view! {
        <details class="locks">
            <summary>{summary}</summary>
            <p class="meta">
                "Each is taken in a short transaction under lock_timeout and given up (then tried again) when the application holds the table, so the application never queues behind it for longer."
            </p>
            <ul>{items}</ul>
        </details>
    }
}
