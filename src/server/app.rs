//! Builds the axum application: Leptos pages, server functions, static files,
//! metrics, request tracing. Tests build the very same router.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::PgPool;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use super::auth::{self, AuthSettings, AuthState};
use crate::app::{shell, App};
use crate::console::{Console, Settings};

/// The router serving everything, with `pool` and the phase console
/// (built with `settings`) available to server functions, and sessions as
/// `AuthSettings::default()` says.
pub fn router(leptos_options: LeptosOptions, pool: PgPool, settings: Settings) -> Router {
    router_with(leptos_options, pool, settings, AuthSettings::default())
}

/// `router`, with sessions and sign-ins as `auth` says. Every request
/// passes `auth::guard` (behind the session layer): who is signed in,
/// cross-origin refusals, sign-in required outside the public paths.
pub fn router_with(
    leptos_options: LeptosOptions,
    pool: PgPool,
    settings: Settings,
    auth: AuthSettings,
) -> Router {
    router_with_notion(
        leptos_options,
        pool,
        settings,
        auth,
        crate::notion::Connection::Local,
    )
}

/// `router_with`, talking to Notion through `notion` (server functions and
/// pages find it in their context; `Local`: local mode). Notion's webhook
/// events are refused (no verification token).
pub fn router_with_notion(
    leptos_options: LeptosOptions,
    pool: PgPool,
    settings: Settings,
    auth: AuthSettings,
    notion: crate::notion::Connection,
) -> Router {
    router_with_webhook(leptos_options, pool, settings, auth, notion, None)
}

/// The app's routes, generated once per process. Generating them renders
/// the whole app with resource loading switched off by a process-wide flag
/// (leptos_server's `SuppressResourceLoad`), and a resource first polled by
/// another request's render meanwhile never loads: that page hangs
/// (leptos-rs/leptos#4773; the tests, which build a router per request,
/// hit it in about half the runs of two page tests side by side). Generated
/// once, before any router can serve, no render can overlap it.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// `router_with_notion`, taking Notion's webhook events signed with
/// `webhook_token` at `POST /notion/webhook`.
pub fn router_with_webhook(
    leptos_options: LeptosOptions,
    pool: PgPool,
    settings: Settings,
    auth: AuthSettings,
    notion: crate::notion::Connection,
    webhook_token: Option<String>,
) -> Router {
    let webhook = Router::new()
        .route("/notion/webhook", post(crate::notion::webhook::receive))
        .with_state(crate::notion::webhook::WebhookState {
            pool: pool.clone(),
            notion: notion.clone(),
            token: webhook_token,
        });
    let auth_state = AuthState {
        pool: pool.clone(),
        settings: std::sync::Arc::new(auth),
    };
    let sessions = super::auth::session_layer(pool.clone(), &auth_state.settings);
    let routes = route_list();
    let console = Console::new(pool.clone(), settings);
    // Rehearsals a crash or restart interrupted: their scratch schemas go.
    let recovering = pool.clone();
    tokio::spawn(async move { crate::console::rehearsal::recover(&recovering).await });
    // Live console updates over SSE, fed by the events' NOTIFYs.
    let live_state = crate::console::live::LiveState {
        console: console.clone(),
        hub: crate::console::live::LiveHub::new(pool.clone()),
    };
    let live = Router::new()
        .route("/{name}", axum::routing::get(crate::console::live::sse))
        .route(
            "/{name}/tasks",
            axum::routing::get(crate::console::live::tasks_sse),
        )
        .route(
            "/{name}/plan",
            axum::routing::get(crate::console::live::plan_sse),
        )
        .with_state(live_state.clone());
    // Each phase's dry run as plain text (linked from the console).
    let dry_runs = Router::new()
        .route(
            "/{name}/{phase}",
            axum::routing::get(crate::console::live::dry_run),
        )
        .with_state(live_state.clone());
    // A share link's live feed (public: the token decides).
    let shared_live = Router::new()
        .route(
            "/s/{token}/live",
            axum::routing::get(crate::console::live::shared_sse),
        )
        .with_state(live_state.clone());
    // The read flag over HTTP, for applications that poll, and Prometheus
    // scrapes (`server::metrics`): no session, public unless a bearer token
    // is configured for each (`server::bearer`).
    let flags = Router::new()
        .route(
            "/{name}",
            axum::routing::get(crate::console::live::read_flag),
        )
        .with_state(live_state)
        .layer(axum::middleware::from_fn_with_state(
            super::bearer::BearerGate::new(
                auth_state.settings.flags_token.as_deref(),
                "SWITCHYARD_FLAGS_TOKEN",
            ),
            super::bearer::require,
        ));
    let metrics = Router::new()
        .route("/metrics", axum::routing::get(super::metrics::metrics))
        .with_state(pool.clone())
        .layer(axum::middleware::from_fn_with_state(
            super::bearer::BearerGate::new(
                auth_state.settings.metrics_token.as_deref(),
                "SWITCHYARD_METRICS_TOKEN",
            ),
            super::bearer::require,
        ));
    // The bundle (wasm, JS, CSS): served precompressed when the build left
    // `.br` / `.gz` files beside them (`cargo leptos build --precompress`),
    // otherwise compressed on the fly by the layer below.
    let pkg = Router::new()
        .fallback_service(
            ServeDir::new(format!(
                "{}/{}",
                leptos_options.site_root, leptos_options.site_pkg_dir
            ))
            .precompressed_br()
            .precompressed_gzip(),
        )
        .layer(axum::middleware::from_fn(asset_cache_control));
    let context_pool = pool.clone();
    Router::new()
        // Plain HTML form posts (the pages at these paths are Leptos routes).
        .route("/login", post(auth::sign_in).with_state(auth_state.clone()))
        .route(
            "/logout",
            post(auth::sign_out).with_state(auth_state.clone()),
        )
        .route("/setup", post(auth::setup).with_state(auth_state.clone()))
        .nest_service("/live", live)
        .nest_service("/flags", flags)
        .nest_service("/dry-run", dry_runs)
        .merge(metrics)
        .merge(webhook)
        .merge(shared_live)
        .route(
            super::islands_routing::path(),
            axum::routing::get(super::islands_routing::serve),
        )
        // A share link's live badge (public: the token decides).
        .route(
            "/s/{token}/badge.svg",
            axum::routing::get(super::badge::badge).with_state(pool.clone()),
        )
        .nest_service(&format!("/{}", leptos_options.site_pkg_dir), pkg)
        .leptos_routes_with_context(
            &leptos_options,
            routes,
            move || {
                provide_context(context_pool.clone());
                provide_context(console.clone());
                provide_context(super::auth::TakenOnce::default());
                provide_context(notion.clone());
            },
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler(shell))
        // Inside the guard: a kept page is served only to whom it was
        // rendered for (see `server::page_cache`).
        .layer(axum::middleware::from_fn_with_state(
            (super::page_cache::PageCache::default(), pool.clone()),
            super::page_cache::serve,
        ))
        .layer(axum::middleware::from_fn_with_state(
            auth_state,
            auth::guard,
        ))
        .layer(sessions)
        // Brotli when the client takes it, else gzip (HTML, server
        // functions; assets without a precompressed file), at the fastest
        // level: these are compressed anew for every request, and at the
        // default level compressing a page cost the server about a quarter
        // of its CPU under load (make bench-http, perf).
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .layer(TraceLayer::new_for_http())
        .with_state(leptos_options)
}

/// What browsers may keep of a file under /pkg for a year without asking
/// again: `Cache-Control: immutable` for a file named by its content hash,
/// `no-cache` (revalidate) for any other.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

async fn asset_cache_control(request: Request, next: Next) -> Response {
    let hashed = request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .is_some_and(is_hashed_name);
    let mut response = next.run(request).await;
    let status = response.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if hashed { IMMUTABLE } else { "no-cache" }),
        );
    }
    response
}

/// A name cargo-leptos gives a file with `hash-files = true`:
/// `{name}.{hash}.{js|wasm|css}`, the hash being 22 characters of URL-safe
/// base64 (an MD5 of the content).
pub fn is_hashed_name(file: &str) -> bool {
    let mut parts = file.rsplitn(3, '.');
    let (Some(ext), Some(hash), Some(stem)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !stem.is_empty()
        && matches!(ext, "js" | "wasm" | "css")
        && hash.len() == 22
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::is_hashed_name;

    #[test]
    fn only_content_hashed_names_count_as_hashed() {
        assert!(is_hashed_name("switchyard.q5sBQ1hK3PrVAl0Ab6-x_w.wasm"));
        assert!(is_hashed_name("switchyard.q5sBQ1hK3PrVAl0Ab6-x_w.css"));
        assert!(!is_hashed_name("switchyard.wasm"));
        assert!(!is_hashed_name("switchyard.js"));
        assert!(!is_hashed_name("switchyard.q5sBQ1hK3PrVAl0Ab6-x_w.wasm.br"));
        assert!(!is_hashed_name(".q5sBQ1hK3PrVAl0Ab6-x_w.wasm"));
        assert!(!is_hashed_name("switchyard.q5sBQ1hK3PrVAl0Ab6+x/w.js"));
        assert!(!is_hashed_name("switchyard.short.js"));
    }
}
