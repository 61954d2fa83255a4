//! Rules of the documents that need no I/O, compiled for the server and the
//! browser: which phase of the plan is current and what a phase waits for
//! (`phases`; the store applies them when it builds the views the pages
//! show), what a spec's requirements are (`spec`, for the spec page) and
//! Markdown as Notion blocks (`markdown`, for the plan and its editor's live
//! preview), and when an approval counts (`approvals`). The migration's own rules are the engine's (`engine`); of it,
//! only its vocabulary (`engine::vocab`) compiles for the browser too.

pub mod approvals;
pub mod markdown;
pub mod notion_id;
pub mod phases;
pub mod spec;
