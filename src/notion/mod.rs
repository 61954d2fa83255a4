//! The Notion connection (server only; a domain-level service with no
//! Leptos in it): the REST client (`client`), Notion's JSON (`wire`), our
//! blocks on the wire and Notion's request limits (`blocks`), errors a
//! person can act on (`error`), and a fake Notion for tests and for trying
//! the mirror without an account (`fake`).
//!
//! Without `NOTION_TOKEN` the app runs in local mode: `Connection::Local`,
//! and everything that would talk to Notion says so instead.

pub mod blocks;
pub mod client;
pub mod error;
pub mod fake;
pub mod outbox;
pub mod plan_sync;
pub mod progress;
pub mod publish;
pub mod specs;
pub mod task_sync;
pub mod tasks;
pub mod webhook;
pub mod wire;

pub use client::{NotionClient, Settings, NOTION_VERSION};
pub use error::NotionError;

use crate::server::config::Config;

/// Whether this app talks to a Notion workspace.
#[derive(Clone, Debug)]
pub enum Connection {
    /// No token: nothing is sent anywhere.
    Local,
    Connected(NotionClient),
}

impl Connection {
    /// From the configuration: connected when `NOTION_TOKEN` is set.
    pub fn from_config(config: &Config) -> Result<Self, NotionError> {
        match &config.notion_token {
            None => Ok(Connection::Local),
            Some(token) => {
                let mut settings = Settings::new(token.clone(), config.notion_api_base.clone());
                settings.requests_per_second = config.notion_requests_per_second;
                settings.timeout = config.notion_timeout;
                Ok(Connection::Connected(NotionClient::new(settings)?))
            }
        }
    }

    pub fn client(&self) -> Result<&NotionClient, NotionError> {
        match self {
            Connection::Local => Err(NotionError::NotConnected),
            Connection::Connected(client) => Ok(client),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Connection::Local)
    }
}
