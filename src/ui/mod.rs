//! Components. They read and change data through `api` server functions;
//! the one other channel is the phase console's live feed (`live`), an
//! EventSource on the server's Server-Sent Events (`GET /live/{name}`).

pub mod account;
pub mod admin;
pub mod common;
pub mod home;
pub mod live;
pub mod migration;
pub mod not_found;
pub mod notion;
pub mod phases;
pub mod plan;
pub mod share;
pub mod share_links;
pub mod spec;
pub mod tasks;
pub mod wizard;
