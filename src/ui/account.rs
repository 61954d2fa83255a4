//! Signing in and out, and the first-run setup. Plain HTML forms posting to
//! the server's endpoints (`server::auth`): they work without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::common::{ErrorNote, Loading};
use super::not_found::NotFound;
use crate::api::accounts::setup_open;
use crate::model::account::SignedIn;

/// Who the page is rendered for (on the server; `None` in the browser,
/// where no component asks).
pub fn signed_in() -> Option<SignedIn> {
    #[cfg(feature = "ssr")]
    {
        crate::server::auth::signed_in_view()
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// May the page's account do what `role` may? (Pages hide the controls of
/// what it may not; the server refuses those calls whatever the page shows.)
pub fn may(role: crate::model::account::Role) -> bool {
    signed_in().is_some_and(|me| me.may(role))
}

/// The top bar's right side: the account and its role, and sign out.
#[component]
pub fn AccountBar() -> impl IntoView {
    signed_in().map(|me| {
        view! {
            <span class="account" data-role=me.role.as_str()>
                <span class="account-email">{me.email.clone()}</span>
                <span class="account-role">{me.role.as_str()}</span>
                {me.may(crate::model::account::Role::Admin).then(|| view! {
                    <a href="/admin" class="admin-link">"Accounts"</a>
                })}
                <form method="post" action="/logout" class="sign-out">
                    <button type="submit">"Sign out"</button>
                </form>
            </span>
        }
    })
}

/// `/login`: email and password. `?error=wrong|limited` shows why the last
/// attempt was refused (never whether the email exists).
#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let (error, next, signed_out) = query.with_untracked(|q| {
        (
            q.get("error"),
            q.get("next").unwrap_or_else(|| "/".into()),
            q.get("signed_out").is_some(),
        )
    });
    let message = error.map(|e| match e.as_str() {
        "limited" => "Too many failed sign-ins. Wait a few minutes, then try again.",
        _ => "Wrong email or password.",
    });
    view! {
        <Title text="Sign in — Switchyard"/>
        <section class="auth-page">
            <h1>"Sign in"</h1>
            {signed_out.then(|| view! { <p class="note" role="status">"You are signed out."</p> })}
            {message.map(|m| view! { <p class="error-note" role="alert">{m}</p> })}
            <form method="post" action="/login" class="auth-form" aria-label="Sign in">
                <input type="hidden" name="next" value=next/>
                <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
                <button type="submit">"Sign in"</button>
            </form>
        </section>
    }
}

/// `/setup`: while no account exists, the first person creates the admin
/// account; afterwards the page is a 404.
#[component]
pub fn SetupPage() -> impl IntoView {
    let open = Resource::new(|| (), |_| setup_open());
    let error = use_query_map().with_untracked(|q| q.get("error"));
    view! {
        <Suspense fallback=|| view! { <Loading what="setup"/> }>
            {move || {
                let error = error.clone();
                Suspend::new(async move {
                    match open.await {
                        Ok(true) => view! {
                            <Title text="First-run setup — Switchyard"/>
                            <section class="auth-page">
                                <h1>"Create the admin account"</h1>
                                <p>
                                    "No account exists yet. The account created here is an admin: it can add "
                                    "operators and viewers (" <code>"switchyard user add"</code> ")."
                                </p>
                                {error.map(|m| view! { <p class="error-note" role="alert">{m}</p> })}
                                <form method="post" action="/setup" class="auth-form" aria-label="Create the admin account">
                                    <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                                    <label>
                                        "Password (at least 10 characters)"
                                        <input type="password" name="password" autocomplete="new-password" minlength="10" required/>
                                    </label>
                                    <label>
                                        "Password again"
                                        <input type="password" name="confirm" autocomplete="new-password" minlength="10" required/>
                                    </label>
                                    <button type="submit">"Create admin and sign in"</button>
                                </form>
                            </section>
                        }
                        .into_any(),
                        Ok(false) => view! { <NotFound what="page"/> }.into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
