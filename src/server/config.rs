//! All configuration, read once from the environment, in one place.

use std::env;

#[derive(Clone, Debug)]
pub struct Config {
    /// Where Switchyard keeps its own schema (and, for the demo, the database
    /// being migrated); `database_url()` says when it is missing.
    pub database_url: Option<String>,
    /// Pool size for the web server.
    pub max_connections: u32,
    /// Seed the built-in demo migration on start-up.
    pub seed_demo: bool,
    /// Number of generated rows in the demo `users` table.
    pub demo_users: u64,
    /// Overrides every recipe's soak time before phase 5, in hours (demos
    /// and browser tests use 0).
    pub soak_hours: Option<f64>,
    /// Who the CLI records as the actor in the event log (`cli:NAME`).
    pub cli_actor: String,
    /// The URL people open (`SWITCHYARD_PUBLIC_URL`): its origin is accepted
    /// on form posts, and an https URL makes the session and device cookies
    /// `Secure`.
    pub public_url: Option<String>,
    /// A session unused this long ends (`SWITCHYARD_SESSION_IDLE_MINUTES`).
    pub session_idle: std::time::Duration,
    /// A session ends this long after signing in
    /// (`SWITCHYARD_SESSION_MAX_HOURS`).
    pub session_max: std::time::Duration,
    /// The Notion integration's secret (`NOTION_TOKEN`); none: local mode.
    pub notion_token: Option<String>,
    /// Notion's API (`NOTION_API_BASE`; a fake Notion in tests and demos).
    pub notion_api_base: String,
    /// Average requests per second to Notion (`NOTION_REQUESTS_PER_SECOND`).
    pub notion_requests_per_second: f64,
    /// One Notion request's time limit (`NOTION_TIMEOUT_SECONDS`).
    pub notion_timeout: std::time::Duration,
    /// Between polls of mirrored task databases
    /// (`SWITCHYARD_NOTION_POLL_SECS`).
    pub notion_poll: std::time::Duration,
    /// At most one progress write per plan page per this long
    /// (`SWITCHYARD_NOTION_PROGRESS_SECS`).
    pub notion_progress: std::time::Duration,
    /// How long an outbox item being sent is held by the app instance
    /// sending it (`NOTION_OUTBOX_LEASE_SECONDS`): after a crash mid-send,
    /// the item is sent again (found, not created twice) once it runs out.
    pub notion_outbox_lease: std::time::Duration,
    /// The verification token Notion's webhook subscription signs events
    /// with (`NOTION_WEBHOOK_VERIFICATION_TOKEN`); none: webhook events are
    /// refused (the handshake is still taken).
    pub notion_webhook_token: Option<String>,
    /// The bearer token `/metrics` asks scrapers for
    /// (`SWITCHYARD_METRICS_TOKEN`); none: `/metrics` is public.
    pub metrics_token: Option<String>,
    /// The bearer token `/flags/{name}` asks applications for
    /// (`SWITCHYARD_FLAGS_TOKEN`); none: the read flags are public.
    pub flags_token: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed
    /// (`SWITCHYARD_TRUSTED_PROXIES`: addresses or networks, comma
    /// separated); none: the client is the peer.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// Addresses (`10.1.2.3`, `::1`: one host) and networks (`10.0.0.0/8`),
/// separated by commas or spaces; `None` if any is neither.
fn parse_networks(value: &str) -> Option<Vec<ipnet::IpNet>> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .ok()
                .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DATABASE_URL is not set; `make run` starts a private Postgres and sets it for you")]
    MissingDatabaseUrl,
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| env::var(name).ok())
    }

    /// The configuration `var` gives: the value of each variable by name
    /// (`from_env` reads the process's environment; tests give their own).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = &var;
        let database_url = var("DATABASE_URL").filter(|s| !s.trim().is_empty());
        let soak_hours = match var("SWITCHYARD_SOAK_HOURS") {
            None => None,
            Some(value) => match value.trim().parse::<f64>() {
                Ok(h) if (0.0..=8760.0).contains(&h) => Some(h),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "SWITCHYARD_SOAK_HOURS",
                        value,
                        reason: "expected hours from 0 to 8760, e.g. 0 or 0.5",
                    })
                }
            },
        };
        let cli_actor = var("SWITCHYARD_ACTOR")
            .or_else(|| var("USER"))
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "unknown".into());
        let public_url = var("SWITCHYARD_PUBLIC_URL").filter(|s| !s.trim().is_empty());
        if let Some(url) = &public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid {
                    name: "SWITCHYARD_PUBLIC_URL",
                    value: url.clone(),
                    reason: "expected an http:// or https:// URL",
                });
            }
        }
        let idle_minutes: u64 = parse_var(
            var,
            "SWITCHYARD_SESSION_IDLE_MINUTES",
            480,
            "expected a whole number of minutes, e.g. 480",
        )?;
        let max_hours: u64 = parse_var(
            var,
            "SWITCHYARD_SESSION_MAX_HOURS",
            168,
            "expected a whole number of hours, e.g. 168",
        )?;
        let notion_token = var("NOTION_TOKEN")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let notion_api_base = var("NOTION_API_BASE")
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| crate::notion::client::DEFAULT_API_BASE.to_string());
        if !(notion_api_base.starts_with("http://") || notion_api_base.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "NOTION_API_BASE",
                value: notion_api_base,
                reason: "expected an http:// or https:// URL, e.g. https://api.notion.com",
            });
        }
        let notion_requests_per_second: f64 = parse_var(
            var,
            "NOTION_REQUESTS_PER_SECOND",
            3.0,
            "expected requests per second, e.g. 3",
        )?;
        if !(notion_requests_per_second > 0.0 && notion_requests_per_second <= 1000.0) {
            return Err(ConfigError::Invalid {
                name: "NOTION_REQUESTS_PER_SECOND",
                value: notion_requests_per_second.to_string(),
                reason: "expected more than 0 and at most 1000",
            });
        }
        let notion_timeout_seconds: u64 = parse_var(
            var,
            "NOTION_TIMEOUT_SECONDS",
            30,
            "expected a whole number of seconds, e.g. 30",
        )?;
        let notion_poll_secs: u64 = parse_var(
            var,
            "SWITCHYARD_NOTION_POLL_SECS",
            30,
            "expected a whole number of seconds, e.g. 30",
        )?;
        let notion_progress_secs: u64 = parse_var(
            var,
            "SWITCHYARD_NOTION_PROGRESS_SECS",
            60,
            "expected a whole number of seconds, e.g. 60",
        )?;
        let notion_outbox_lease_seconds: u64 = parse_var(
            var,
            "NOTION_OUTBOX_LEASE_SECONDS",
            600,
            "expected a whole number of seconds, e.g. 600",
        )?;
        let metrics_token = var("SWITCHYARD_METRICS_TOKEN")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let flags_token = var("SWITCHYARD_FLAGS_TOKEN")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let trusted_proxies = match var("SWITCHYARD_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(value) => parse_networks(&value).ok_or(ConfigError::Invalid {
                name: "SWITCHYARD_TRUSTED_PROXIES",
                value,
                reason:
                    "expected addresses or networks, comma separated, e.g. 127.0.0.1,10.0.0.0/8",
            })?,
        };
        let notion_webhook_token = var("NOTION_WEBHOOK_VERIFICATION_TOKEN")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        Ok(Config {
            notion_webhook_token,
            metrics_token,
            flags_token,
            trusted_proxies,
            notion_poll: std::time::Duration::from_secs(notion_poll_secs.clamp(1, 86_400)),
            notion_progress: std::time::Duration::from_secs(notion_progress_secs.clamp(1, 86_400)),
            notion_outbox_lease: std::time::Duration::from_secs(
                notion_outbox_lease_seconds.clamp(1, 86_400),
            ),
            notion_token,
            notion_api_base,
            notion_requests_per_second,
            notion_timeout: std::time::Duration::from_secs(notion_timeout_seconds.clamp(1, 300)),
            public_url,
            session_idle: std::time::Duration::from_secs(idle_minutes.clamp(1, 525_600) * 60),
            session_max: std::time::Duration::from_secs(max_hours.clamp(1, 8760) * 3600),
            database_url,
            soak_hours,
            cli_actor: format!("{}:{cli_actor}", crate::engine::vocab::actor::CLI),
            max_connections: parse_var(
                var,
                "SWITCHYARD_DB_POOL",
                10u32,
                "expected a whole number",
            )?,
            seed_demo: parse_bool(var, "SWITCHYARD_SEED_DEMO", true)?,
            demo_users: parse_var(
                var,
                "SWITCHYARD_DEMO_USERS",
                100_000u64,
                "expected a whole number of users, e.g. 100000",
            )?,
        })
    }
}

impl Config {
    /// The database to use; its absence is an error only where one is needed.
    pub fn database_url(&self) -> Result<&str, ConfigError> {
        self.database_url
            .as_deref()
            .ok_or(ConfigError::MissingDatabaseUrl)
    }
}

fn parse_var<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    reason: &'static str,
) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|_| ConfigError::Invalid {
            name,
            value,
            reason,
        }),
    }
}

fn parse_bool(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(value) => match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::Invalid {
                name,
                value,
                reason: "expected true or false",
            }),
        },
    }
}
