//! The error every server function returns. It crosses the wire, so it only
//! ever carries what a user may see: internal causes are logged on the server
//! and replaced by a generic message (see `server::error`).

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AppError {
    /// The thing asked for does not exist (maps to HTTP 404).
    #[error("{what} not found")]
    NotFound { what: String },
    /// Input was refused; `field` says where, `message` says why.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Nobody is signed in (maps to HTTP 401).
    #[error("sign in first")]
    Unauthorized,
    /// The signed-in account's role does not allow this (maps to HTTP 403);
    /// `message` says who may ("operators only").
    #[error("not allowed: {message}")]
    Forbidden { message: String },
    /// Someone else saved first; nothing was changed.
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// The database cannot be reached right now; trying again may work.
    #[error(
        "the database is unavailable right now (reference {reference}); try again in a moment"
    )]
    Unavailable { reference: String },
    /// Notion refused or could not be reached; `message` says what to do
    /// (share the page with the integration, check the token, try later…).
    #[error("Notion: {message}")]
    Notion { message: String },
    /// Something failed on the server; details are in the server log only.
    #[error("internal error (reference {reference}); the details are in the server log")]
    Internal { reference: String },
    /// The request never reached our code (network, decoding...).
    #[error("request failed: {0}")]
    Transport(String),
}

impl AppError {
    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound { what: what.into() }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, AppError::NotFound { .. })
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}
