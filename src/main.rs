//! The `switchyard` binary: the web server (default) and the CLI.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use switchyard::engine::Phase;
use switchyard::model::account::Role;
use switchyard::server::config::Config;
use switchyard::store;

/// mimalloc instead of glibc's malloc: cheaper for the many small,
/// short-lived allocations of rendering a page (Cargo.toml says what perf
/// measured).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Zero-downtime Postgres migrations, end to end"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the schema, seed the demo, and serve the web app (the default).
    Serve,
    /// Apply the schema and seed the demo, then exit.
    Setup,
    /// Recipes: check one (against DATABASE_URL too, when set).
    Recipe {
        #[command(subcommand)]
        command: RecipeCommand,
    },
    /// Print every phase's SQL (dry run); changes nothing.
    Plan { file: PathBuf },
    /// Run or roll back a phase against DATABASE_URL.
    Phase {
        #[command(subcommand)]
        command: PhaseCommand,
    },
    /// JSON: each phase's state, progress, quarantine and unmapped keys.
    Status { file: PathBuf },
    /// JSON: compare every document with the targets; exit 1 on differences.
    Verify { file: PathBuf },
    /// Accounts (DATABASE_URL): add, list, set a role, disable, unlock.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Read-only share links (DATABASE_URL): create, list, revoke.
    Share {
        #[command(subcommand)]
        command: ShareCommand,
    },
    /// Serve a fake Notion (in memory) for trying the mirror without an
    /// account: point NOTION_API_BASE at it and set NOTION_TOKEN to TOKEN.
    NotionFake {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3900")]
        addr: std::net::SocketAddr,
        /// The integration token it accepts.
        #[arg(long, env = "NOTION_TOKEN", default_value = "secret_fake")]
        token: String,
        /// Seed a spec page (the demo's spec) to import.
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        seed: bool,
    },
    /// The built-in demo migration (DATABASE_URL).
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Put the demo migration back as first seeded (for tests and demos).
    ///
    /// Whatever was done to it: a running backfill is aborted and any other
    /// runner waited for (up to 120 s, then exit 3, nothing reset); every
    /// phase that ran is rolled back through the engine, last first, so the
    /// database being migrated is as before phase 1; then the migration's
    /// spec, plan (with its versions), tasks, event log and the engine's
    /// progress, quarantine and read flag are deleted and seeded again.
    /// `public.users` is kept (the rollbacks restore it; it is generated only
    /// when empty). Run it from the project folder: it reads the demo's
    /// recipe file. Every browser test starts with it.
    Reset,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account. The password is read from stdin (first line), or
    /// asked for at a prompt when stdin is a terminal; never from argv.
    Add {
        email: String,
        /// viewer, operator or admin.
        #[arg(long)]
        role: Role,
    },
    /// Every account: email, role, active/disabled, created (tab-separated).
    List,
    /// Give an account another role.
    SetRole { email: String, role: Role },
    /// Disable an account: it cannot sign in, and its sessions end.
    Disable { email: String },
    /// Forget an account's failed sign-ins (lifts the sign-in limit now).
    Unlock { email: String },
}

#[derive(Subcommand)]
enum ShareCommand {
    /// Create a link to migration NAME; prints it (under SWITCHYARD_PUBLIC_URL
    /// when set). The token is shown only this once.
    Create {
        name: String,
        /// What the link is for ("for the #payments channel").
        #[arg(long, default_value = "")]
        label: String,
        /// The link stops working this many hours from now.
        #[arg(long)]
        expires_hours: Option<f64>,
    },
    /// Migration NAME's links: id, label, state, created by, expires, last used.
    List { name: String },
    /// Revoke link ID: it stops working at once.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum RecipeCommand {
    /// Validate a recipe; exit 1 listing every error.
    Check { file: PathBuf },
    /// Save FILE as its migration's newest recipe version in DATABASE_URL
    /// (the migration is created when new; it is then listed on `/` and
    /// driven from the browser).
    Import { file: PathBuf },
    /// Print migration NAME's stored recipe (its newest version, or
    /// --version N), or write it to --output FILE.
    Export {
        name: String,
        #[arg(long)]
        version: Option<i32>,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PhaseCommand {
    /// Run a phase (1-5, or its name: expand, backfill, dual-write,
    /// switch-reads, contract) to completion; Ctrl-C pauses at a checkpoint.
    Run {
        phase: Phase,
        file: PathBuf,
        /// Phase 4: proceed although documents are quarantined (recorded).
        #[arg(long)]
        accept_quarantine: bool,
        /// Phase 4: proceed although verification lists differences (recorded).
        #[arg(long)]
        accept_differences: bool,
        /// Phases 4 and 5: run without a current approval where one is
        /// required. Needs --as EMAIL, an enabled admin account whose
        /// password is read from stdin (or asked at a terminal); recorded in
        /// the event log.
        #[arg(long = "override", requires = "as_admin")]
        override_approval: bool,
        /// The admin taking responsibility for --override.
        #[arg(long = "as", value_name = "EMAIL", requires = "override_approval")]
        as_admin: Option<String>,
    },
    /// Roll back phase N (phases roll back in reverse order).
    Rollback { phase: Phase, file: PathBuf },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::Setup => setup().await.map(|_| ()),
        Command::NotionFake { addr, token, seed } => notion_fake(addr, token, seed).await,
        engine_command => return run_engine_command(engine_command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Engine commands: the database is DATABASE_URL; our bookkeeping schema is
/// applied there first (idempotent).
async fn run_engine_command(command: Command) -> ExitCode {
    use switchyard::cli;
    // A dry run touches no database at all.
    if let Command::Plan { file } = &command {
        return cli::plan(file);
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(cli::EXIT_FAILED);
        }
    };
    let pool = match config.database_url.as_deref() {
        Some(url) => match store::connect(url, 5).await {
            Ok(pool) => match store::migrate(&pool).await {
                Ok(()) => Some(pool),
                Err(e) => {
                    eprintln!("error: applying Switchyard's schema: {e}");
                    return ExitCode::from(cli::EXIT_FAILED);
                }
            },
            Err(e) => {
                eprintln!("error: cannot connect to DATABASE_URL: {e}");
                return ExitCode::from(cli::EXIT_FAILED);
            }
        },
        None => None,
    };
    let need = |pool: Option<sqlx::PgPool>| {
        pool.map(|pool| cli::Connection {
            pool,
            actor: config.cli_actor.clone(),
            soak_hours: config.soak_hours,
        })
        .ok_or_else(|| {
            eprintln!("error: DATABASE_URL must name the database to migrate");
            ExitCode::from(cli::EXIT_FAILED)
        })
    };
    match command {
        Command::Recipe {
            command: RecipeCommand::Check { file },
        } => cli::recipe_check(&file, pool).await,
        Command::Recipe {
            command: RecipeCommand::Import { file },
        } => match need(pool) {
            Ok(p) => cli::recipe_import(&file, &p).await,
            Err(code) => code,
        },
        Command::Recipe {
            command:
                RecipeCommand::Export {
                    name,
                    version,
                    output,
                },
        } => match need(pool) {
            Ok(p) => cli::recipe_export(&p.pool, &name, version, output.as_deref()).await,
            Err(code) => code,
        },
        Command::Phase { command } => match need(pool) {
            Ok(p) => match command {
                PhaseCommand::Run {
                    phase,
                    file,
                    accept_quarantine,
                    accept_differences,
                    override_approval,
                    as_admin,
                } => {
                    let flags = cli::RunFlags {
                        accept_quarantine,
                        accept_differences,
                        override_as: as_admin.filter(|_| override_approval),
                    };
                    cli::phase_run(phase, &file, &flags, &p).await
                }
                PhaseCommand::Rollback { phase, file } => {
                    cli::phase_rollback(phase, &file, &p).await
                }
            },
            Err(c) => c,
        },
        Command::Status { file } => match need(pool) {
            Ok(p) => cli::status(&file, &p).await,
            Err(c) => c,
        },
        Command::Verify { file } => match need(pool) {
            Ok(p) => cli::verify(&file, &p).await,
            Err(c) => c,
        },
        Command::User { command } => match need(pool) {
            Ok(p) => match command {
                UserCommand::Add { email, role } => cli::user_add(&p, &email, role).await,
                UserCommand::List => cli::user_list(&p.pool).await,
                UserCommand::SetRole { email, role } => {
                    cli::user_change(&p, cli::UserChange::Role(&email, role)).await
                }
                UserCommand::Disable { email } => {
                    cli::user_change(&p, cli::UserChange::Disable(&email)).await
                }
                UserCommand::Unlock { email } => {
                    cli::user_change(&p, cli::UserChange::Unlock(&email)).await
                }
            },
            Err(c) => c,
        },
        Command::Share { command } => match need(pool) {
            Ok(p) => match command {
                ShareCommand::Create {
                    name,
                    label,
                    expires_hours,
                } => {
                    cli::share_create(
                        &p,
                        &name,
                        &label,
                        expires_hours,
                        config.public_url.as_deref(),
                    )
                    .await
                }
                ShareCommand::List { name } => cli::share_list(&p.pool, &name).await,
                ShareCommand::Revoke { id } => cli::share_revoke(&p, id).await,
            },
            Err(c) => c,
        },
        Command::Demo {
            command: DemoCommand::Reset,
        } => match need(pool) {
            Ok(p) => cli::demo_reset(&p, config.demo_users).await,
            Err(c) => c,
        },
        Command::Serve | Command::Setup | Command::NotionFake { .. } | Command::Plan { .. } => {
            ExitCode::SUCCESS
        }
    }
}

async fn setup() -> Result<(Config, sqlx::PgPool), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let url = config.database_url().map_err(|e| e.to_string())?;
    let pool = store::connect(url, config.max_connections)
        .await
        .map_err(|e| format!("cannot connect to the database: {e}"))?;
    store::migrate(&pool).await.map_err(|e| e.to_string())?;
    if config.seed_demo {
        let report = store::seed::seed_demo(&pool, config.demo_users)
            .await
            .map_err(|e| format!("seeding the demo failed: {e}"))?;
        tracing::info!(
            migration_created = report.migration_created,
            users_created = report.users_created,
            users_skipped = ?report.users_skipped,
            "demo seeded"
        );
    }
    Ok((config, pool))
}

async fn serve() -> Result<(), String> {
    let (config, pool) = setup().await?;
    // Cargo.toml's [package.metadata.leptos] when run from the project folder;
    // LEPTOS_* variables override it (cargo-leptos sets them).
    let cargo_toml = std::path::Path::new("Cargo.toml")
        .exists()
        .then_some("Cargo.toml");
    let conf = leptos::prelude::get_configuration(cargo_toml)
        .map_err(|e| format!("reading the Leptos configuration: {e}"))?;
    let options = conf.leptos_options;
    let addr = options.site_addr;
    let settings = switchyard::console::Settings {
        soak_hours: config.soak_hours,
    };
    let auth = switchyard::server::auth::AuthSettings::from_config(&config);
    let notion = switchyard::notion::Connection::from_config(&config)
        .map_err(|e| format!("setting up the Notion client: {e}"))?;
    match &notion {
        switchyard::notion::Connection::Local => {
            tracing::info!("Notion: local mode (NOTION_TOKEN is not set)")
        }
        switchyard::notion::Connection::Connected(client) => {
            tracing::info!(api = %client.settings().api_base, poll = ?config.notion_poll,
                "Notion: connected; outbox worker and task poller started");
            switchyard::notion::outbox::OutboxWorker::new(
                pool.clone(),
                client.clone(),
                switchyard::notion::outbox::WorkerSettings {
                    lease: config.notion_outbox_lease,
                    ..Default::default()
                },
            )
            .spawn();
            switchyard::notion::task_sync::Poller::new(
                pool.clone(),
                client.clone(),
                switchyard::notion::task_sync::PollSettings {
                    interval: config.notion_poll,
                    ..Default::default()
                },
            )
            .spawn();
            switchyard::notion::progress::ProgressWriter::new(
                pool.clone(),
                client.clone(),
                switchyard::notion::progress::ProgressSettings {
                    interval: config.notion_progress,
                },
            )
            .spawn();
        }
    }
    let app = switchyard::server::app::router_with_webhook(
        options,
        pool.clone(),
        settings,
        auth,
        notion,
        config.notion_webhook_token.clone(),
    );
    switchyard::server::auth::spawn_expired_session_cleanup(
        pool.clone(),
        std::time::Duration::from_secs(600),
    );
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!("Switchyard listening on http://{addr}");
    // The peer's address reaches the sign-in limits (`auth::ClientAddress`).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| format!("server error: {e}"))?;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// `switchyard notion-fake`: the fake Notion until Ctrl-C.
async fn notion_fake(addr: std::net::SocketAddr, token: String, seed: bool) -> Result<(), String> {
    let fake = switchyard::notion::fake::FakeNotion::new(&token);
    if seed {
        let blocks: Vec<switchyard::model::notion::Block> =
            serde_json::from_value(store::demo::spec_blocks())
                .map_err(|e| format!("the demo spec does not parse: {e}"))?;
        let content = blocks
            .iter()
            .filter_map(switchyard::notion::blocks::to_request)
            .collect();
        let id = fake.add_page(None, store::demo::TITLE, content);
        println!("spec page: {} (id {id})", id.notion_url());
    }
    let running = fake
        .start(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!(
        "fake Notion on {} — run Switchyard with NOTION_API_BASE={} NOTION_TOKEN={token}",
        running.base_url(),
        running.base_url()
    );
    shutdown_signal().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
