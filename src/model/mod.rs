//! Types shared by the server and the browser bundle. Everything here compiles
//! for both targets: no database, no I/O.

pub mod account;
pub mod approval;
pub mod console;
pub mod error;
pub mod migration;
pub mod mirror;
pub mod notion;
pub mod plan;
pub mod rehearsal;
pub mod share;
pub mod time;
pub mod wizard;

pub use error::AppError;
pub use migration::*;
