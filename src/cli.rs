//! The engine's command line: `switchyard recipe check | plan | phase run |
//! phase rollback | status | verify`, and `switchyard demo reset`, which
//! puts the built-in demo back as seeded (for tests and demos). The target
//! database comes from DATABASE_URL. Exit codes a script can rely on:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | failed: invalid recipe, verification differences, a step failed |
//! | 2 | bad usage (unknown command or option) |
//! | 3 | busy: another runner is acting on this migration |
//! | 4 | refused: phase order, rollback order, soak time, gate |
//! | 5 | stopped before the end: paused (Ctrl-C) or aborted |

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::engine::inspect::check_database;
use crate::engine::phases::{Outcome, RunControl};
use crate::engine::vocab::BackfillProgress;
use crate::engine::{
    render_steps, Engine, EngineError, EngineOptions, Phase, PhaseState, Planner, Recipe,
};
use crate::store::{self, journal::PgJournal, StoreError};

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_BUSY: u8 = 3;
pub const EXIT_REFUSED: u8 = 4;
pub const EXIT_STOPPED: u8 = 5;

/// Reads and parses a recipe file; every problem is printed with its field.
pub fn load_recipe(path: &Path) -> Result<Recipe, ExitCode> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", path.display());
        ExitCode::from(EXIT_FAILED)
    })?;
    Recipe::parse(&text).map_err(|errors| {
        eprintln!("{}: {} error(s):", path.display(), errors.len());
        for e in &errors {
            eprintln!("  {e}");
        }
        ExitCode::from(EXIT_FAILED)
    })
}

pub fn exit_for(err: &EngineError) -> ExitCode {
    eprintln!("error: {err}");
    ExitCode::from(match err {
        EngineError::Busy(_) => EXIT_BUSY,
        EngineError::Refused(_) => EXIT_REFUSED,
        _ => EXIT_FAILED,
    })
}

/// What the engine commands act on and as whom, from the configuration.
#[derive(Clone)]
pub struct Connection {
    pub pool: sqlx::PgPool,
    /// Recorded in the event log (`Config::cli_actor`).
    pub actor: String,
    /// `Config::soak_hours`.
    pub soak_hours: Option<f64>,
}

fn engine(recipe: Recipe, conn: &Connection) -> Engine {
    let journal = Arc::new(PgJournal::new(conn.pool.clone()));
    let opts = EngineOptions {
        actor: conn.actor.clone(),
        soak_hours: conn.soak_hours,
        ..EngineOptions::default()
    };
    Engine::new(conn.pool.clone(), recipe, opts, journal)
}

/// Has phase 1 of `name` started (so its target names are ours)?
async fn phase1_started(pool: &sqlx::PgPool, name: &str) -> Result<bool, StoreError> {
    match store::migrations::phases(pool, name).await {
        Ok(phases) => Ok(phases
            .first()
            .is_some_and(|p| !matches!(p.state, PhaseState::Pending | PhaseState::RolledBack))),
        Err(StoreError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Once phase 1 pinned a recipe, what runs is the pinned one: `plan` and
/// `verify` show and check that (saying so when the file differs).
async fn pinned_or_given(engine: Engine, file: &Path) -> Engine {
    match engine.pinned_engine().await {
        Ok(Some(pinned)) => {
            eprintln!(
                "note: {} differs from the recipe pinned at phase 1 (sha256 {}); using the pinned recipe",
                file.display(),
                pinned.recipe().hash()
            );
            pinned
        }
        _ => engine,
    }
}

pub async fn recipe_check(file: &Path, pool: Option<sqlx::PgPool>) -> ExitCode {
    let recipe = match load_recipe(file) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Some(pool) = pool {
        let started = match phase1_started(&pool, &recipe.name).await {
            Ok(started) => started,
            Err(e) => {
                eprintln!("error: reading the migration's phases: {e}");
                return ExitCode::from(EXIT_FAILED);
            }
        };
        match check_database(&pool, &recipe, started).await {
            Ok(errors) if errors.is_empty() => {}
            Ok(errors) => {
                eprintln!(
                    "{}: {} error(s) against the database:",
                    file.display(),
                    errors.len()
                );
                for e in &errors {
                    eprintln!("  {e}");
                }
                return ExitCode::from(EXIT_FAILED);
            }
            Err(e) => return exit_for(&e),
        }
    }
    println!(
        "{}: ok ({} target table(s))",
        file.display(),
        recipe.targets.len()
    );
    ExitCode::SUCCESS
}

/// The dry run of every phase, from the file alone: the planner needs no
/// database (what runs once phase 1 pinned a recipe is shown by the console
/// and by `status`, which compare the file with the pinned recipe).
pub fn plan(file: &Path) -> ExitCode {
    let recipe = match load_recipe(file) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let planner = Planner::new(&recipe);
    for phase in Phase::ALL {
        println!("-- ===== phase {phase} =====");
        print!("{}", render_steps(&planner.apply(phase)));
    }
    ExitCode::SUCCESS
}

fn print_progress(p: &BackfillProgress) {
    let eta = p
        .eta_seconds()
        .map(|s| format!("{:.0}s", s))
        .unwrap_or_else(|| "?".into());
    // One line per tick, like gh-ost's status line: progress, rate, ETA,
    // and whether (and why) the backfill is yielding to the application.
    let state = match (&p.throttled, p.paused) {
        (_, true) => "paused".to_string(),
        (Some(why), _) => format!("throttled, {why}"),
        (None, _) => "copying".to_string(),
    };
    eprintln!(
        "backfill {}/{} ({:.1}%); {:.0} rows/s; ETA {eta}; quarantined {}; batch {}; state: {state}",
        p.rows_done,
        p.rows_total,
        p.percent(),
        p.rows_per_second,
        p.quarantined,
        p.batch_size
    );
}

/// How `phase run` was asked to run.
#[derive(Clone, Debug, Default)]
pub struct RunFlags {
    pub accept_quarantine: bool,
    pub accept_differences: bool,
    /// `--override --as EMAIL`: run without a required approval, on this
    /// admin's authority (password checked, recorded).
    pub override_as: Option<String>,
}

/// The first line of `stdin`, without its line ending: a password given by
/// a script.
fn first_line_of(stdin: &std::io::Stdin) -> Result<String, String> {
    use std::io::BufRead;
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from stdin: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The password of `email` for an override: asked at a terminal (not
/// echoed), else the first line of stdin. Never argv.
fn read_admin_password(email: &str) -> Result<String, String> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        rpassword::prompt_password(format!("Password of admin {email}: "))
            .map_err(|e| format!("reading the password: {e}"))
    } else {
        first_line_of(&stdin)
    }
}

/// Phases 4 and 5 of a migration whose admin requires an approval run only
/// with a current one (`crate::approvals`), as from the web console. Without
/// it the run is refused (exit 4), unless `--override --as EMAIL` names an
/// enabled admin account and its password is given (checked like a
/// sign-in, failures counted): the override is then recorded in the event
/// log as the CLI actor's, naming the admin. Returns the engine's start
/// gate that reads the approval again under the runner lock (none after an
/// override: the admin's decision stands).
async fn approval_gate(
    conn: &Connection,
    name: &str,
    phase: Phase,
    override_as: Option<&str>,
) -> Result<Option<crate::engine::phases::StartGate>, ExitCode> {
    let why = match crate::approvals::why_not_run(&conn.pool, name, phase).await {
        Ok(why) => why,
        Err(e) => {
            eprintln!("error: reading the approvals: {e}");
            return Err(ExitCode::from(EXIT_FAILED));
        }
    };
    let Some(why) = why else {
        return Ok(Some(crate::approvals::start_gate(
            conn.pool.clone(),
            name.to_string(),
        )));
    };
    let Some(admin) = override_as else {
        eprintln!("error: refused: {why}");
        eprintln!("(an admin can run it anyway with --override --as EMAIL; that is recorded)");
        return Err(ExitCode::from(EXIT_REFUSED));
    };
    let password = read_admin_password(admin).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_FAILED)
    })?;
    let limits = crate::accounts::SignInLimits::default();
    let account = match crate::accounts::sign_in(&conn.pool, &limits, admin, &password, "cli").await
    {
        Ok(account) => account,
        Err(e) => {
            eprintln!("error: refused: --as {admin}: {e}");
            return Err(ExitCode::from(EXIT_REFUSED));
        }
    };
    if account.role != crate::model::account::Role::Admin {
        eprintln!("error: refused: --as {admin}: only an admin can override an approval");
        return Err(ExitCode::from(EXIT_REFUSED));
    }
    if let Err(e) =
        crate::approvals::record_override(&conn.pool, name, phase, &account.email, &conn.actor)
            .await
    {
        eprintln!("error: recording the override: {e}");
        return Err(ExitCode::from(EXIT_FAILED));
    }
    eprintln!(
        "note: phase {phase} runs without a valid approval ({why}), overridden by admin {}; recorded",
        account.email
    );
    Ok(None)
}

/// Saves the recipe run from `file` as its migration's newest version in
/// our database (nothing new when it has not changed), so the migration is
/// listed on `/` and driven from the browser with it; a recipe for a table
/// another migration moves is refused (exit 4) with that migration's name.
async fn register(
    conn: &Connection,
    recipe: &Recipe,
    file: &Path,
    origin: crate::store::recipes::Origin,
) -> Result<crate::store::recipes::Saved, ExitCode> {
    use crate::recipes::{register_parsed, RecipeServiceError, Registration};
    let path = file.display().to_string();
    let reg = Registration {
        origin,
        path: Some(&path),
        actor: &conn.actor,
        migration: None,
    };
    register_parsed(&conn.pool, recipe, &reg)
        .await
        .map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                RecipeServiceError::Refused(_) => EXIT_REFUSED,
                _ => EXIT_FAILED,
            })
        })
}

/// `switchyard recipe import FILE`: the file becomes its migration's newest
/// recipe version (the migration is created when new).
pub async fn recipe_import(file: &Path, conn: &Connection) -> ExitCode {
    let recipe = match load_recipe(file) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match register(conn, &recipe, file, crate::store::recipes::Origin::Import).await {
        Ok(saved) if saved.created => {
            println!("{}: recipe version {} saved", recipe.name, saved.version);
            ExitCode::SUCCESS
        }
        Ok(saved) => {
            println!(
                "{}: unchanged (the newest version, {}, has this text)",
                recipe.name, saved.version
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `switchyard recipe export NAME [--version N] [--output FILE]`: the
/// stored recipe's text, to stdout or a file (for teams that keep recipes
/// in Git).
pub async fn recipe_export(
    pool: &sqlx::PgPool,
    name: &str,
    version: Option<i32>,
    output: Option<&Path>,
) -> ExitCode {
    let stored = match crate::recipes::export(pool, name, version).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match output {
        None => {
            print!("{}", stored.body);
            ExitCode::SUCCESS
        }
        Some(path) => match std::fs::write(path, &stored.body) {
            Ok(()) => {
                eprintln!(
                    "{name}: recipe version {} written to {}",
                    stored.version,
                    path.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                ExitCode::from(EXIT_FAILED)
            }
        },
    }
}

pub async fn phase_run(phase: Phase, file: &Path, flags: &RunFlags, conn: &Connection) -> ExitCode {
    let recipe = match load_recipe(file) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Err(code) = register(conn, &recipe, file, crate::store::recipes::Origin::Cli).await {
        return code;
    }
    let gate = match approval_gate(conn, &recipe.name, phase, flags.override_as.as_deref()).await {
        Ok(gate) => gate,
        Err(code) => return code,
    };
    // (Phase 1 checks the database itself, refusing with every problem.)
    let engine = engine(recipe, conn);
    let ctl = RunControl {
        accept_quarantine: flags.accept_quarantine,
        accept_differences: flags.accept_differences,
        on_progress: Some(Arc::new(print_progress)),
        gate,
        ..RunControl::default()
    };
    // Ctrl-C: stop at the next checkpoint, leaving the phase resumable.
    let stop = ctl.stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping at the next checkpoint (Ctrl-C again to kill)…");
            stop.store(true, Ordering::Relaxed);
            let _ = tokio::signal::ctrl_c().await;
            std::process::exit(130);
        }
    });
    let outcome = engine.apply(phase, &ctl).await;
    crate::console::runner_gone(&conn.pool, &engine.recipe().name).await;
    match outcome {
        Ok(Outcome::Done) => {
            println!("phase {phase}: done");
            ExitCode::SUCCESS
        }
        Ok(Outcome::Paused) => {
            println!("phase {phase}: paused at its checkpoint; run it again to resume");
            ExitCode::from(EXIT_STOPPED)
        }
        Ok(Outcome::Aborted) => {
            println!("phase {phase}: aborted");
            ExitCode::from(EXIT_STOPPED)
        }
        Err(e) => exit_for(&e),
    }
}

pub async fn phase_rollback(phase: Phase, file: &Path, conn: &Connection) -> ExitCode {
    let recipe = match load_recipe(file) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Err(code) = register(conn, &recipe, file, crate::store::recipes::Origin::Cli).await {
        return code;
    }
    let engine = engine(recipe, conn);
    let outcome = engine.rollback(phase).await;
    crate::console::runner_gone(&conn.pool, &engine.recipe().name).await;
    match outcome {
        Ok(()) => {
            println!("phase {phase}: rolled back");
            ExitCode::SUCCESS
        }
        Err(e) => exit_for(&e),
    }
}

pub async fn status(file: &Path, conn: &Connection) -> ExitCode {
    let recipe = match load_recipe(file) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let engine = engine(recipe, conn);
    match engine.status().await {
        Ok(s) => {
            println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => exit_for(&e),
    }
}

pub async fn verify(file: &Path, conn: &Connection) -> ExitCode {
    let recipe = match load_recipe(file) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let engine = pinned_or_given(engine(recipe, conn), file).await;
    match engine.verify().await {
        Ok(report) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
            if report.differences > 0 {
                ExitCode::from(EXIT_FAILED)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => exit_for(&e),
    }
}

/// How long `demo reset` waits for a runner (a phase started from the web
/// app, say) to stop.
const RESET_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// `switchyard demo reset`: the demo migration as `make run` first seeds it.
/// A running backfill is asked to abort and any runner is waited for; every
/// phase that ran is rolled back through the engine, last first (so the
/// database being migrated is as before phase 1); then the store forgets
/// the migration's documents, events and engine bookkeeping and seeds them
/// again.
pub async fn demo_reset(conn: &Connection, demo_users: u64) -> ExitCode {
    use crate::store::{demo, seed};

    let recipe = match load_recipe(Path::new(demo::RECIPE_PATH)) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let engine = engine(recipe, conn);
    let started = std::time::Instant::now();
    loop {
        match engine.is_busy().await {
            Ok(false) => break,
            Ok(true) if started.elapsed() < RESET_WAIT => {
                // Read before every batch: a backfill stops at its next one.
                if let Err(e) = engine.request_stop(true).await {
                    return exit_for(&e);
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Ok(true) => {
                eprintln!(
                    "error: a runner is still acting on {:?} after {}s; nothing was reset",
                    demo::NAME,
                    RESET_WAIT.as_secs()
                );
                return ExitCode::from(EXIT_BUSY);
            }
            Err(e) => return exit_for(&e),
        }
    }
    let records = match engine.phase_records().await {
        Ok(r) => r,
        Err(e) => return exit_for(&e),
    };
    for record in records.iter().rev() {
        if matches!(record.state, PhaseState::Pending | PhaseState::RolledBack) {
            continue;
        }
        if let Err(e) = engine.rollback(record.phase).await {
            eprintln!("error: rolling back phase {}:", record.phase);
            return exit_for(&e);
        }
        println!("phase {}: rolled back", record.phase);
    }
    match seed::reset_demo(&conn.pool, demo_users).await {
        Ok(report) => {
            println!(
                "{}: reset to its seeded state (users generated: {})",
                demo::NAME,
                report.users_created
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: re-seeding the demo: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The password for `user add`: typed at a prompt (not echoed, asked twice)
/// when stdin is a terminal, else the first line of stdin. Never argv.
fn read_password(email: &str) -> Result<String, String> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {email}: "))
            .map_err(|e| format!("reading the password: {e}"))?;
        let again = rpassword::prompt_password("Again: ")
            .map_err(|e| format!("reading the password: {e}"))?;
        if first != again {
            return Err("the two passwords differ".into());
        }
        Ok(first)
    } else {
        first_line_of(&stdin)
    }
}

fn print_account(a: &store::accounts::Account) {
    println!(
        "{}\t{}\t{}\t{}",
        a.email,
        a.role,
        if a.disabled { "disabled" } else { "active" },
        a.created_at.format("%Y-%m-%d %H:%M UTC")
    );
}

/// `switchyard user add EMAIL --role ROLE` (recorded as the CLI actor's).
pub async fn user_add(
    conn: &Connection,
    email: &str,
    role: crate::model::account::Role,
) -> ExitCode {
    let password = match read_password(email) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match crate::accounts::add_by(&conn.pool, email, &password, role, &conn.actor).await {
        Ok(account) => {
            print_account(&account);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// `switchyard user list`: email, role, state, created (tab-separated).
pub async fn user_list(pool: &sqlx::PgPool) -> ExitCode {
    match store::accounts::list(pool).await {
        Ok(accounts) => {
            accounts.iter().for_each(print_account);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// `switchyard user set-role EMAIL ROLE`, `user disable EMAIL`,
/// `user unlock EMAIL` (each recorded as the CLI actor's).
pub async fn user_change(conn: &Connection, change: UserChange<'_>) -> ExitCode {
    use crate::accounts::{Change, Changed};
    let (email, change) = match change {
        UserChange::Role(email, role) => (email, Change::Role(role)),
        UserChange::Disable(email) => (email, Change::Disable),
        UserChange::Unlock(email) => (email, Change::Unlock),
    };
    match crate::accounts::change(&conn.pool, email, change, &conn.actor, None).await {
        Ok(Changed::Account(a)) => {
            print_account(&a);
            ExitCode::SUCCESS
        }
        Ok(Changed::Unlocked(n)) => {
            println!("{email}: {n} failed sign-in(s) forgotten");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// What `user_change` does.
pub enum UserChange<'a> {
    Role(&'a str, crate::model::account::Role),
    Disable(&'a str),
    Unlock(&'a str),
}

/// `switchyard share create NAME [--label L] [--expires-hours H]`: prints
/// the link (under `public_url` when given, else its path). The token is
/// shown only here.
pub async fn share_create(
    conn: &Connection,
    name: &str,
    label: &str,
    expires_hours: Option<f64>,
    public_url: Option<&str>,
) -> ExitCode {
    let expires_at = match expires_hours {
        None => None,
        Some(h) if h.is_finite() && h > 0.0 && h <= 24.0 * 366.0 => {
            Some(chrono::Utc::now() + chrono::Duration::seconds((h * 3600.0) as i64))
        }
        Some(h) => {
            eprintln!("error: --expires-hours {h}: expected more than 0, at most 8784");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match store::shares::create(&conn.pool, name, label, expires_at, &conn.actor).await {
        Ok((link, token)) => {
            let base = public_url.unwrap_or("").trim_end_matches('/');
            println!("{base}/s/{token}");
            eprintln!(
                "share link {} for {} created{}; the token is not shown again",
                link.id,
                link.migration,
                link.expires_at
                    .map(|at| format!(", expires {}", at.format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

/// `switchyard share list NAME`: id, label, state, created by, expires,
/// last used (tab-separated).
pub async fn share_list(pool: &sqlx::PgPool, name: &str) -> ExitCode {
    match store::shares::list(pool, name).await {
        Ok(links) => {
            let now = chrono::Utc::now();
            for l in links {
                let state = if l.revoked_at.is_some() {
                    "revoked"
                } else if l.expires_at.is_some_and(|at| at <= now) {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{state}\t{}\t{}\t{}",
                    l.id,
                    l.label,
                    l.created_by,
                    when(l.expires_at),
                    when(l.last_used_at)
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// `switchyard share revoke ID`: the link stops working at once.
pub async fn share_revoke(conn: &Connection, id: i64) -> ExitCode {
    match store::shares::revoke(&conn.pool, id, &conn.actor).await {
        Ok(link) => {
            println!("share link {} for {} revoked", link.id, link.migration);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
