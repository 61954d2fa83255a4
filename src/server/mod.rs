//! Server-only plumbing: configuration, the axum app, shared state, and the
//! mapping of domain errors to what crosses the wire.

pub mod app;
pub mod auth;
pub mod badge;
pub mod bearer;
pub mod config;
pub mod context;
pub mod error;
pub mod islands_routing;
pub mod metrics;
pub mod page_cache;
