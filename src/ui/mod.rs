//! Components. They fetch through `api` server functions only.

pub mod common;
pub mod home;
pub mod live;
pub mod migration;
pub mod not_found;
pub mod phases;
pub mod plan;
pub mod spec;
pub mod tasks;
