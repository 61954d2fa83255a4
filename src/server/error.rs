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
            other => {
                let reference = error_reference();
                tracing::error!(%reference, error = %other, "request failed");
                AppError::Internal { reference }
            }
        }
    }
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
