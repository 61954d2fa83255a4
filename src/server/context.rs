//! What server functions get from the request context.

use leptos::prelude::use_context;
use sqlx::PgPool;

use crate::model::AppError;

/// The database pool the server put into the Leptos context.
pub fn pool() -> Result<PgPool, AppError> {
    use_context::<PgPool>().ok_or_else(|| {
        tracing::error!("no PgPool in the Leptos context; was the router built by server::app?");
        AppError::Internal {
            reference: "no-pool".into(),
        }
    })
}

/// The phase console service the server put into the Leptos context.
pub fn console() -> Result<crate::console::Console, AppError> {
    use_context::<crate::console::Console>().ok_or_else(|| {
        tracing::error!("no Console in the Leptos context; was the router built by server::app?");
        AppError::Internal {
            reference: "no-console".into(),
        }
    })
}

/// Marks the response being rendered as not to be kept by anyone (no-op
/// outside a request): a page showing an error that may pass (a database
/// outage, a Notion failure) must not be served again from a cache, ours
/// (`server::page_cache`) or a proxy's.
pub fn set_no_store() {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
    }
}

/// Marks the response being rendered as one whose address is a secret (a
/// share link's page, `/s/{token}`): browsers send no `Referer` from it to
/// anything it loads or links to, and search engines do not index it.
pub fn set_secret_address() {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(
            http::header::REFERRER_POLICY,
            http::HeaderValue::from_static("no-referrer"),
        );
        response.insert_header(
            http::HeaderName::from_static("x-robots-tag"),
            http::HeaderValue::from_static("noindex, nofollow"),
        );
    }
}

/// Marks the response being rendered as 404 (no-op outside a request).
pub fn set_not_found() {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
}

/// The Notion connection the server put into the Leptos context (local
/// mode when none was).
pub fn notion() -> crate::notion::Connection {
    use_context::<crate::notion::Connection>().unwrap_or(crate::notion::Connection::Local)
}
