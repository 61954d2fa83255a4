//! The `switchyard` binary: the web server (default) and the CLI.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

use switchyard::server::config::Config;
use switchyard::store;

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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn setup() -> Result<(Config, sqlx::PgPool), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let pool = store::connect(&config.database_url, config.max_connections)
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
    let (_config, pool) = setup().await?;
    // Cargo.toml's [package.metadata.leptos] when run from the project folder;
    // LEPTOS_* variables override it (cargo-leptos sets them).
    let cargo_toml = std::path::Path::new("Cargo.toml")
        .exists()
        .then_some("Cargo.toml");
    let conf = leptos::prelude::get_configuration(cargo_toml)
        .map_err(|e| format!("reading the Leptos configuration: {e}"))?;
    let options = conf.leptos_options;
    let addr = options.site_addr;
    let app = switchyard::server::app::router(options, pool.clone());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!("Switchyard listening on http://{addr}");
    axum::serve(listener, app.into_make_service())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    pool.close().await;
    tracing::info!("stopped");
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
