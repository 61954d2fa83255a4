//! Builds the axum application: Leptos pages, server functions, static files,
//! request tracing. Tests build the very same router.

use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::PgPool;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::app::{shell, App};
use crate::console::{Console, Settings};

/// The router serving everything, with `pool` and the phase console
/// (built with `settings`) available to server functions.
pub fn router(leptos_options: LeptosOptions, pool: PgPool, settings: Settings) -> Router {
    let routes = generate_route_list(App);
    let console = Console::new(pool.clone(), settings);
    // Live console updates over SSE, fed by the events' NOTIFYs.
    let live_state = crate::console::live::LiveState {
        console: console.clone(),
        hub: crate::console::live::LiveHub::start(pool.clone()),
    };
    let live = Router::new()
        .route("/{name}", axum::routing::get(crate::console::live::sse))
        .with_state(live_state.clone());
    // The read flag over HTTP, for applications that poll.
    let flags = Router::new()
        .route(
            "/{name}",
            axum::routing::get(crate::console::live::read_flag),
        )
        .with_state(live_state);
    let context_pool = pool.clone();
    Router::new()
        .nest_service("/live", live)
        .nest_service("/flags", flags)
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            move || {
                provide_context(context_pool.clone());
                provide_context(console.clone());
            },
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler(shell))
        // The wasm bundle shrinks about 3x with gzip.
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(leptos_options)
}
