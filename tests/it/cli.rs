//! The CLI as a script sees it: exit codes and messages.

use sqlx::PgPool;
use std::process::{Command, Output};

/// Runs the CLI to its end, off the test's runtime: the runtime goes on
/// meanwhile (a connection the test just let go is returned to its pool,
/// and a transaction it dropped is rolled back, only by a task on it; with
/// the runtime blocked, a CLI waiting on that transaction's lock waited
/// forever).
pub(crate) async fn cli(args: &[&str], database_url: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    cmd.args(args).env_remove("DATABASE_URL");
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the CLI's thread")
        .expect("run the CLI")
}

pub(crate) fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

pub(crate) async fn url_of(pool: &PgPool) -> String {
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .expect("db");
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server, _) = base.rsplit_once('/').expect("url with a database");
    format!("{server}/{db}")
}

#[tokio::test]
async fn recipe_check_lists_every_error_and_exits_1() {
    let path = write(
        "hostile.toml",
        r#"
name = "x"
[source]
table = "users\"; DROP TABLE users; --"
key = "id"
column = "Preferences"
[[targets]]
table = "t"
source_key_column = "k"
[[targets.columns]]
name = "a"
path = "a..b"
type = "text"
"#,
    );
    let out = cli(&["recipe", "check", path.to_str().expect("utf8")], None).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("source.table"), "{stderr}");
    assert!(stderr.contains("source.column"), "{stderr}");
    assert!(stderr.contains("targets[0].columns[0].path"), "{stderr}");
    assert!(stderr.contains("3 error(s)"), "{stderr}");
}

#[tokio::test]
async fn plan_prints_every_phase_without_a_database() {
    let out = cli(&["plan", "recipes/user_preferences.toml"], None).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for phase in 1..=5 {
        assert!(
            stdout.contains(&format!("-- ===== phase {phase} =====")),
            "phase {phase}"
        );
    }
    assert!(
        stdout.contains("CREATE INDEX CONCURRENTLY IF NOT EXISTS \"user_preferences_theme_idx\"")
    );
    assert!(stdout.contains("NOT VALID"));
    assert!(
        stdout.contains("ALTER TABLE \"public\".\"users\" DROP COLUMN IF EXISTS \"preferences\"")
    );
}

#[tokio::test]
async fn unreadable_recipe_is_a_clear_error() {
    let out = cli(&["recipe", "check", "/nonexistent/recipe.toml"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/recipe.toml"));
}

#[sqlx::test(migrations = "./migrations")]
async fn phase_order_is_refused_with_exit_4_and_status_is_json(pool: PgPool) {
    crate::seeded(&pool, 50).await;
    let url = url_of(&pool).await;
    let out = cli(
        &["phase", "run", "2", "recipes/user_preferences.toml"],
        Some(&url),
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("phases run in order"));

    let out = cli(
        &["phase", "run", "1", "recipes/user_preferences.toml"],
        Some(&url),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["status", "recipes/user_preferences.toml"], Some(&url)).await;
    assert!(out.status.success());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status is JSON");
    assert_eq!(status["phases"][0]["state"], "done");
    assert_eq!(status["phases"][1]["state"], "pending");

    let out = cli(&["verify", "recipes/user_preferences.toml"], Some(&url)).await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("verify is JSON");
    // Nothing backfilled yet: every valid document is a difference.
    assert!(report["differences"].as_i64().unwrap_or(0) > 0, "{report}");
    assert_eq!(out.status.code(), Some(1));
}

#[sqlx::test(migrations = "./migrations")]
async fn recipe_check_against_the_database_finds_missing_tables(pool: PgPool) {
    let url = url_of(&pool).await;
    let out = cli(
        &["recipe", "check", "recipes/order_metadata.toml"],
        Some(&url),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("public.orders does not exist"));
}

/// Runs `switchyard ARGS` with `stdin` as its standard input.
fn cli_with_stdin(args: &[&str], url: &str, stdin: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .env("DATABASE_URL", url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the CLI");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write the password");
    child.wait_with_output().expect("wait")
}

#[sqlx::test(migrations = "./migrations")]
async fn user_commands_add_list_change_role_disable_and_unlock(pool: PgPool) {
    use switchyard::model::account::Role;
    let url = url_of(&pool).await;
    let out = cli_with_stdin(
        &["user", "add", "dana@example.com", "--role", "operator"],
        &url,
        "a long enough secret\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (account, hash) = switchyard::store::accounts::credentials(&pool, "dana@example.com")
        .await
        .expect("read")
        .expect("added");
    assert_eq!(account.role, Role::Operator);
    assert!(
        hash.starts_with("$argon2id$") && !hash.contains("secret"),
        "{hash}"
    );
    // The password was the line read (without its newline).
    let limits = switchyard::accounts::SignInLimits::default();
    switchyard::accounts::sign_in(
        &pool,
        &limits,
        "dana@example.com",
        "a long enough secret",
        "t",
    )
    .await
    .expect("signs in with the password from stdin");

    // Refusals: a short password, a taken email (any case), an unknown role.
    let out = cli_with_stdin(
        &["user", "add", "x@example.com", "--role", "viewer"],
        &url,
        "short\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    let out = cli_with_stdin(
        &["user", "add", "DANA@example.com", "--role", "viewer"],
        &url,
        "another long secret\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    let out = cli(
        &["user", "add", "y@example.com", "--role", "root"],
        Some(&url),
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "bad usage");

    let out = cli(
        &["user", "set-role", "dana@example.com", "admin"],
        Some(&url),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["user", "disable", "dana@example.com"], Some(&url)).await;
    assert!(out.status.success());
    let out = cli(&["user", "list"], Some(&url)).await;
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.starts_with("dana@example.com\tadmin\tdisabled\t"),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 1);
    let out = cli(&["user", "disable", "nobody@example.com"], Some(&url)).await;
    assert_eq!(out.status.code(), Some(1));

    // unlock forgets the account's failed sign-ins.
    for _ in 0..2 {
        let _ =
            switchyard::accounts::sign_in(&pool, &limits, "Dana@example.com", "wrong", "t").await;
    }
    let out = cli(&["user", "unlock", "dana@example.com"], Some(&url)).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 failed sign-in(s) forgotten"));
}

#[sqlx::test(migrations = "./migrations")]
async fn share_commands_create_list_and_revoke(pool: PgPool) {
    use switchyard::store::shares::{resolve, Resolved};
    crate::seeded(&pool, 0).await;
    let url = url_of(&pool).await;
    let out = cli(
        &[
            "share",
            "create",
            crate::DEMO,
            "--label",
            "for #payments",
            "--expires-hours",
            "2",
        ],
        Some(&url),
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let token = printed.strip_prefix("/s/").expect("a /s/ link");
    assert_eq!(
        resolve(&pool, token).await.expect("resolve"),
        Resolved::Open(crate::DEMO.into())
    );
    let out = cli(&["share", "list", crate::DEMO], Some(&url)).await;
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    let fields: Vec<&str> = listed.trim().split('\t').collect();
    assert_eq!(fields[1..3], ["for #payments", "active"], "{listed}");
    assert!(!listed.contains(token), "the token is never listed");
    let out = cli(&["share", "revoke", fields[0]], Some(&url)).await;
    assert!(out.status.success());
    assert_eq!(
        resolve(&pool, token).await.expect("resolve"),
        Resolved::Revoked
    );
    let out = cli(&["share", "list", crate::DEMO], Some(&url)).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("\trevoked\t"));
    let out = cli(&["share", "create", "no-such-migration"], Some(&url)).await;
    assert_eq!(out.status.code(), Some(1));
    let out = cli(
        &["share", "create", crate::DEMO, "--expires-hours", "0"],
        Some(&url),
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
}
