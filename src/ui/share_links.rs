//! `/m/{name}/share`: the migration's read-only share links, for operators
//! and admins: create one (label, optional expiry; its link is shown this
//! once), list them with their last use, revoke one. Viewers are told who
//! may. The controls are an island (`ShareLinks`) of plain forms
//! (`ActionForm`): without JavaScript they post and the page comes back
//! (a created link's token then comes back once through the session).

use leptos::prelude::*;

use super::common::use_migration_name;
use super::common::{date_time, island_data, provide_action_error, ErrorNote, Loading};
use crate::api::shares::{get_share_links, CreateShareLink, RevokeShareLink};
use crate::model::account::Role;
use crate::model::share::{ShareLinkState, ShareLinks as Links};
use crate::model::AppError;

#[component]
pub fn ShareSection() -> impl IntoView {
    let name = use_migration_name();
    if !super::account::may(Role::Operator) {
        return view! { <OperatorsOnly/> }.into_any();
    }
    let links = Resource::new(move || name.get(), get_share_links);
    view! {
        <Suspense fallback=|| view! { <Loading what="share links"/> }>
            {move || Suspend::new(async move {
                match links.await.and_then(|l| island_data(&l)) {
                    Ok(data) => view! { <ShareLinks name=name.get_untracked() data/> }.into_any(),
                    Err(AppError::Forbidden { .. }) => view! { <OperatorsOnly/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

/// What a viewer sees instead of the share links.
#[component]
fn OperatorsOnly() -> impl IntoView {
    view! {
        <section class="share-links" aria-label="Share links">
            <h2>"Share links"</h2>
            <p class="role-note">
                {format!("Creating, listing and revoking share links: {}.", Role::Operator.only())}
            </p>
        </section>
    }
}

/// The share links island; `data` is `ShareLinks` as JSON.
#[island(lazy)]
pub fn ShareLinks(name: String, data: String) -> impl IntoView {
    provide_action_error();
    let initial = serde_json::from_str::<Links>(&data).unwrap_or(Links {
        links: Vec::new(),
        created: None,
    });
    let create = ServerAction::<CreateShareLink>::new();
    let revoke = ServerAction::<RevokeShareLink>::new();
    let state = RwSignal::new(initial);
    // Each answer is the list as it now is (and a created link, once).
    Effect::new(move |_| {
        if let Some(Ok(links)) = create.value().get() {
            state.set(links);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(links)) = revoke.value().get() {
            state.set(links);
        }
    });
    let error = move || {
        let c = create.value().get().and_then(|r| r.err());
        let r = revoke.value().get().and_then(|r| r.err());
        c.or(r).map(|e| e.to_string())
    };
    let revoke_name = name.clone();
    view! {
        <section class="share-links" aria-label="Share links">
            <h2>"Share links"</h2>
            <p class="meta">
                "Anyone with a link reads this migration's spec, plan, tasks and phases, live, without signing in, and can change nothing."
            </p>
            <ActionForm action=create attr:class="share-create">
                <input type="hidden" name="name" value=name.clone()/>
                <label>"Label "
                    <input type="text" name="label" maxlength="200" placeholder="for the #payments channel"/>
                </label>
                <label>" Expires in (hours, empty: never) "
                    <input type="number" name="expires_hours" min="1" step="any"/>
                </label>
                <button type="submit">"Create link"</button>
            </ActionForm>
            <p class="action-error" role="alert">{error}</p>
            {move || state.with(|s| s.created.clone()).map(|c| view! {
                <p class="share-created" role="status">
                    {format!("Link {} created. Copy it now: it is not shown again. ", c.id)}
                    <a class="share-url" href=c.path.clone() rel="external">{c.path.clone()}</a>
                </p>
            })}
            <table class="phase-table share-table">
                <thead><tr>
                    <th scope="col">"Label"</th><th scope="col">"State"</th>
                    <th scope="col">"Created"</th><th scope="col">"Expires"</th>
                    <th scope="col">"Last used"</th><th scope="col"></th>
                </tr></thead>
                <tbody>
                    {move || {
                        let name = revoke_name.clone();
                        state.get().links.into_iter().map(move |l| {
                        let when = |at: Option<chrono::DateTime<chrono::Utc>>, none: &'static str| {
                            at.map(|at| date_time(&at, false)).unwrap_or_else(|| none.into())
                        };
                        let control = (l.state == ShareLinkState::Active).then(|| {
                            let name = name.clone();
                            view! {
                                <ActionForm action=revoke attr:class="share-revoke">
                                    <input type="hidden" name="name" value=name/>
                                    <input type="hidden" name="id" value=l.id/>
                                    <button type="submit" class="danger">"Revoke"</button>
                                </ActionForm>
                            }
                        });
                        view! {
                            <tr class="share-link" data-id=l.id data-state=l.state.as_str()>
                                <td>{if l.label.is_empty() { "(no label)".to_string() } else { l.label.clone() }}</td>
                                <td>{l.state.as_str()}</td>
                                <td>{format!("{} by {}", date_time(&l.created_at, false), l.created_by)}</td>
                                <td>{when(l.expires_at, "never")}</td>
                                <td>{when(l.last_used_at, "never")}</td>
                                <td>{control}</td>
                            </tr>
                        }
                    }).collect_view()
                    }}
                </tbody>
            </table>
        </section>
    }
}
