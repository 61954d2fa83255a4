//! `/admin`: accounts (add, role, disable, unlock) and the audit log,
//! filterable by actor. Admins only (the server refuses anyone else). Rendered on the
//! server with plain HTML forms posting to server functions: no island,
//! the page comes back after each change, with or without JavaScript.

use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::common::{date_time, ErrorNote, Loading};
use crate::api::accounts::{get_admin, AddAccount, ChangeAccount};
use crate::model::account::{AdminView, Role};
use crate::model::AppError;

#[component]
pub fn AdminPage() -> impl IntoView {
    let query = use_query_map();
    let (actor, refused, refused_path) = query.with_untracked(|q| {
        (
            q.get("actor").unwrap_or_default(),
            q.get("__err"),
            q.get("__path"),
        )
    });
    let admin = Resource::new(move || actor.clone(), get_admin);
    // A change refused (a form posted without JavaScript comes back with
    // the server function's error, and which function it was, in the URL).
    let refused = refused.map(|e| {
        let error = ServerFnUrlError::<AppError>::decode_err(&e);
        Refused {
            adding: refused_path.as_deref() == Some(AddAccount::PATH),
            error,
        }
    });
    view! {
        <Title text="Accounts — Switchyard"/>
        <Suspense fallback=|| view! { <Loading what="accounts"/> }>
            {move || {
                let refused = refused.clone();
                Suspend::new(async move {
                    match admin.await {
                        Ok(view) => view! { <Admin view refused/> }.into_any(),
                        Err(AppError::Forbidden { .. }) => view! {
                            <section class="admin">
                                <h1>"Accounts"</h1>
                                <p class="role-note">{format!("Accounts and the audit log: {}.", Role::Admin.only())}</p>
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

/// A refusal the page came back with.
#[derive(Clone, Debug)]
struct Refused {
    /// Refused by the "Add an account" form (else by a change).
    adding: bool,
    error: AppError,
}

#[component]
fn Admin(view: AdminView, refused: Option<Refused>) -> impl IntoView {
    let action = ChangeAccount::PATH;
    let (add_refused, refused) = match refused {
        Some(r) if r.adding => (Some(r.error), None),
        other => (None, other.map(|r| r.error.to_string())),
    };
    let me = super::account::signed_in()
        .map(|s| s.email)
        .unwrap_or_default();
    view! {
        <section class="admin" aria-label="Accounts">
            <h1>"Accounts"</h1>
            {refused.map(|r| view! { <p class="action-error" role="alert">{format!("Refused: {r}")}</p> })}
            <p class="meta">
                "You cannot change your own role or disable yourself: another admin can. "
                "Scripts add accounts with " <code>"switchyard user add EMAIL --role ROLE"</code> "."
            </p>
            <AddAccountForm refused=add_refused/>
            <table class="phase-table accounts">
                <thead><tr>
                    <th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"State"</th>
                    <th scope="col">"Created"</th><th scope="col">"Change"</th>
                </tr></thead>
                <tbody>
                    {view.accounts.into_iter().map(|a| {
                        let own = a.email.eq_ignore_ascii_case(&me);
                        let controls = (!own).then(|| {
                            let email = a.email.clone();
                            view! {
                                <form method="post" action=action class="inline">
                                    <input type="hidden" name="email" value=email.clone()/>
                                    <input type="hidden" name="action" value="SetRole"/>
                                    <label>"Role "
                                        <select name="role">
                                            {Role::ALL.into_iter().map(|r| view! {
                                                <option value=format!("{r:?}") selected={r == a.role}>{r.as_str()}</option>
                                            }).collect_view()}
                                        </select>
                                    </label>
                                    <button type="submit">"Set role"</button>
                                </form>
                                {(!a.disabled).then(|| view! {
                                    <form method="post" action=action class="inline">
                                        <input type="hidden" name="email" value=email.clone()/>
                                        <input type="hidden" name="action" value="Disable"/>
                                        <button type="submit" class="danger">"Disable"</button>
                                    </form>
                                })}
                                <form method="post" action=action class="inline">
                                    <input type="hidden" name="email" value=email.clone()/>
                                    <input type="hidden" name="action" value="Unlock"/>
                                    <button type="submit">"Unlock"</button>
                                </form>
                            }
                        });
                        view! {
                            <tr class="account-row" data-email=a.email.clone()>
                                <td>{a.email.clone()}</td>
                                <td class="role">{a.role.as_str()}</td>
                                <td>{if a.disabled { "disabled" } else { "active" }}</td>
                                <td>{date_time(&a.created_at, false)}</td>
                                <td>{controls.map(|c| c.into_any()).unwrap_or_else(|| view! { <span class="meta">"(you)"</span> }.into_any())}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="audit" aria-label="Audit log">
            <h2>"Audit log"</h2>
            <form method="get" action="/admin" class="inline">
                <label>"Actor contains "
                    <input type="text" name="actor" value=view.actor.clone().unwrap_or_default()/>
                </label>
                <button type="submit">"Filter"</button>
                {view.actor.is_some().then(|| view! { " " <a href="/admin">"All actors"</a> })}
            </form>
            <ol class="audit-log">
                {view.audit.into_iter().map(|e| view! {
                    <li data-kind=e.kind.clone()>
                        <time>{date_time(&e.at, true)}</time>
                        " "
                        <span class="actor">{e.actor}</span>
                        " "
                        {e.migration.map(|m| format!("[{m}] ")).unwrap_or_default()}
                        {e.phase.map(|p| format!("phase {p}: ")).unwrap_or_default()}
                        {e.description}
                    </li>
                }).collect_view()}
            </ol>
        </section>
    }
}

/// Adds an account: email, role and an initial password typed twice, which
/// the admin hands over (as Grafana's and Gitea's admins do). A plain form
/// on the server function, as `ActionForm` renders it: the page comes back
/// with the new account listed, or with the refusal beside its field (what
/// was typed is not kept: passwords never travel back in a URL).
#[component]
fn AddAccountForm(refused: Option<AppError>) -> impl IntoView {
    let (field, other) = match refused {
        Some(AppError::Invalid { field, message }) => (Some((field, message)), None),
        Some(error) => (None, Some(error.to_string())),
        None => (None, None),
    };
    let beside = move |name: &'static str| {
        field
            .as_ref()
            .filter(|(f, _)| f == name)
            .map(|(f, message)| {
                view! { <span class="field-error" role="alert" data-field=f.clone()>{message.clone()}</span> }
            })
    };
    view! {
        <h2>"Add an account"</h2>
        <form method="post" action=AddAccount::PATH class="add-account" aria-label="Add an account">
            {other.map(|o| view! { <p class="action-error" role="alert">{format!("Refused: {o}")}</p> })}
            <label>"Email "
                <input type="email" name="email" required autocomplete="off"/>
            </label>
            {beside("email")}
            <label>"Role "
                <select name="role">
                    {Role::ALL.into_iter().map(|r| view! {
                        <option value=format!("{r:?}") selected={r == Role::Viewer}>{r.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            {beside("role")}
            <label>"Initial password (at least 10 characters) "
                <input type="password" name="password" required autocomplete="new-password"/>
            </label>
            {beside("password")}
            <label>"Initial password again "
                <input type="password" name="confirm" required autocomplete="new-password"/>
            </label>
            {beside("confirm")}
            <button type="submit">"Add account"</button>
        </form>
    }
}
