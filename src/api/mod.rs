//! Server functions: the thin layer between pages and the server's services.
//! Each one parses its input (refusing bad input with the field named),
//! takes what it needs from the request context and calls it: the store,
//! with the pool, for migrations, plans and tasks; the console service
//! (`console::Console`) for the phase console. Errors reach the page as
//! `AppError`.

pub mod accounts;
pub mod approvals;
pub mod console;
pub mod migrations;
pub mod notion;
pub mod plans;
pub mod shares;
pub mod tasks;
pub mod wizard;
