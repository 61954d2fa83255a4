//! Domain rules that need no I/O and hold on both sides of the wire: which
//! phase is current, what a spec's requirements are. The migration engine
//! (server only) and the Notion sync live beside this as their own modules.

pub mod markdown;
pub mod phases;
pub mod spec;
