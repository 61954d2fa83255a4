//! The HTML shell and the router: which page answers which path.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::ui::account::{AccountBar, SetupPage, SignInPage};
use crate::ui::admin::AdminPage;
use crate::ui::home::HomePage;
use crate::ui::migration::MigrationPage;
use crate::ui::not_found::NotFound;
use crate::ui::notion::{ImportPage, LocalModeBanner, NotionSection};
use crate::ui::phases::PhasesSection;
use crate::ui::plan::PlanSection;
use crate::ui::share::SharePage;
use crate::ui::share_links::ShareSection;
use crate::ui::spec::SpecSection;
use crate::ui::tasks::TasksSection;
use crate::ui::wizard::{DraftPage, NewMigrationPage};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                // switchyard.<hash>.css when cargo-leptos hashed the files.
                <HashedStylesheet options=options.clone() id="leptos"/>
                // Islands: only the interactive parts hydrate (the console,
                // the board, the plan editor); the islands router moves
                // between pages by fetching them and patching the document.
                // Its script is a cached file, not inlined in every page.
                <HydrationScripts options islands=true/>
                <IslandsRouterScript/>
                <MetaTags/>
            </head>
            <body>
                <App/>
                <HydrationMark/>
            </body>
        </html>
    }
}

/// Our islands router (in place of the one `HydrationScripts` inlines with
/// `islands_router=true`), loaded from its own file: a module script, so it
/// runs after the document is parsed, in order after the hydration script.
#[component]
fn IslandsRouterScript() -> impl IntoView {
    #[cfg(feature = "ssr")]
    let src = crate::server::islands_routing::path();
    #[cfg(not(feature = "ssr"))]
    let src = "";
    view! { <script type="module" src=src nonce=leptos::nonce::use_nonce()></script> }
}

/// The last island of every page: on a full page load islands hydrate in
/// document order (the hydration script awaits each lazy island's files),
/// so once this one has, every island before it has too. After a
/// client-side navigation the islands router removes the attribute with the
/// old page and sets it again once every new island has hydrated. Effects
/// only run in the browser: the attribute tells tests (and anyone curious)
/// that the buttons are live.
#[island]
pub fn HydrationMark() -> impl IntoView {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Switchyard"/>
        <Router>
            <header class="topbar">
                <a href="/" class="brand">"Switchyard"</a>
                <span class="tagline">"zero-downtime Postgres migrations"</span>
                <AccountBar/>
            </header>
            <LocalModeBanner/>
            <main class="page">
                // Pages render fully before they are sent (Async): readable
                // without JavaScript, and an unknown migration answers with a
                // real 404 status.
                <Routes fallback=|| view! { <NotFound what="page"/> }>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=SignInPage/>
                    <Route path=path!("/admin") view=AdminPage ssr=SsrMode::Async/>
                    <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async/>
                    <Route path=path!("/s/:token") view=SharePage ssr=SsrMode::Async/>
                    <Route path=path!("/notion/import") view=ImportPage ssr=SsrMode::Async/>
                    <Route path=path!("/new") view=NewMigrationPage ssr=SsrMode::Async/>
                    <Route path=path!("/new/:id") view=DraftPage ssr=SsrMode::Async/>
                    <ParentRoute path=path!("/m/:name") view=MigrationPage ssr=SsrMode::Async>
                        <Route path=path!("") view=SpecSection/>
                        <Route path=path!("plan") view=PlanSection/>
                        <Route path=path!("tasks") view=TasksSection/>
                        <Route path=path!("phases") view=PhasesSection/>
                        <Route path=path!("share") view=ShareSection/>
                        <Route path=path!("notion") view=NotionSection/>
                    </ParentRoute>
                </Routes>
            </main>
        </Router>
    }
}
