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
