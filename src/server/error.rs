//! Turning store errors into `AppError`s without leaking internals: the cause
//! goes to the log with a reference, the user gets the reference.

use crate::model::AppError;
use crate::store::StoreError;

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => AppError::NotFound { what },
            StoreError::Invalid { field, message } => AppError::Invalid { field, message },
            StoreError::Conflict(message) => AppError::Conflict { message },
            StoreError::Database(e) if is_outage(&e) => unavailable(&e),
            other => {
                let reference = error_reference();
                tracing::error!(%reference, error = %other, "request failed");
                AppError::Internal { reference }
            }
        }
    }
}

/// Notion errors answer 409 in local mode (the request cannot be served in
/// this state) and 502 otherwise (Notion, upstream, refused or failed),
/// when they end a request.
impl From<crate::notion::NotionError> for AppError {
    fn from(err: crate::notion::NotionError) -> Self {
        use crate::notion::NotionError;
        let status = match err {
            NotionError::NotConnected => http::StatusCode::CONFLICT,
            _ => http::StatusCode::BAD_GATEWAY,
        };
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        match err {
            NotionError::Decode { .. } => internal(&err),
            other => {
                tracing::warn!(error = %other, "Notion request failed");
                AppError::Notion {
                    message: other.to_string(),
                }
            }
        }
    }
}

impl From<crate::notion::specs::SpecError> for AppError {
    fn from(err: crate::notion::specs::SpecError) -> Self {
        match err {
            crate::notion::specs::SpecError::Notion(e) => e.into(),
            crate::notion::specs::SpecError::Store(e) => e.into(),
        }
    }
}

/// The database could not be reached (as opposed to refusing a query).
pub fn is_outage(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    ) || err
        .as_database_error()
        .and_then(|e| e.code())
        // admin shutdown, crash shutdown, cannot connect now
        .is_some_and(|c| matches!(c.as_ref(), "57P01" | "57P02" | "57P03"))
}

/// An outage, logged with the reference the user sees.
pub fn unavailable(err: &dyn std::fmt::Display) -> AppError {
    let reference = error_reference();
    tracing::error!(%reference, error = %err, "database unavailable");
    AppError::Unavailable { reference }
}

/// Anything else that failed on the server, logged with its reference.
pub fn internal(err: &dyn std::fmt::Display) -> AppError {
    let reference = error_reference();
    tracing::error!(%reference, error = %err, "request failed");
    AppError::Internal { reference }
}

/// A short reference that ties a user-visible error to its log line.
fn error_reference() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}-{:04x}",
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff
    )
}
