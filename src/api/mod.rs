//! Server functions: the thin layer between pages and domain services. Each
//! one takes the pool from the context, calls the store, and maps errors.

pub mod console;
pub mod migrations;
pub mod plans;
pub mod tasks;
