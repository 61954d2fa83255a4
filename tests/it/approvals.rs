//! Approvals of phases 4 and 5: the service's rules, the console's view
//! and actions, the server functions' roles, and the CLI's override.

use crate::console::{console_of, wait_for_state};
use crate::http::{call_as, signed_in_as};
use crate::DEMO;
use axum::http::StatusCode;
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use switchyard::approvals::{self, ApprovalError};
use switchyard::console::ConsoleError;
use switchyard::model::account::Role;
use switchyard::model::approval::{ApprovalState, ApprovalView, Decision};
use switchyard::model::console::{ConsoleView, PhaseAction};
use switchyard::model::{Phase, PhaseState};

const ASKER: &str = "asker@example.com";
const CHECKER: &str = "checker@example.com";
const ADMIN: &str = "admin@example.com";

async fn view(pool: &PgPool) -> ConsoleView {
    console_of(pool).view(DEMO).await.expect("view")
}

/// Phases 1 to 3 of the demo done, through the console.
async fn up_to_dual_write(pool: &PgPool) {
    for phase in [Phase::Expand, Phase::Backfill, Phase::DualWrite] {
        console_of(pool)
            .act(DEMO, phase, PhaseAction::Run, false, "test")
            .await
            .expect("run");
        wait_for_state(pool, phase, PhaseState::Done).await;
    }
}

/// The demo with `users` users, phases 1 to 3 done, and phase 4 needing
/// an approval (set by the admin).
async fn phase_4_needs_approval(pool: &PgPool, users: u64) {
    crate::seeded(pool, users).await;
    up_to_dual_write(pool).await;
    approvals::set_policy(pool, DEMO, Phase::SwitchReads, true, ADMIN)
        .await
        .expect("policy");
}

/// The latest approval the console shows for `phase` (`what` names it
/// when there is none).
fn latest_shown(v: &ConsoleView, phase: Phase, what: &str) -> ApprovalView {
    v.phases[phase.index()]
        .approval
        .clone()
        .and_then(|a| a.latest)
        .expect(what)
}

fn run_refusal(v: &ConsoleView, phase: Phase) -> Option<String> {
    v.phases[phase.index()]
        .choice(PhaseAction::Run)
        .expect("Run")
        .refused
        .clone()
}

fn refused<T: std::fmt::Debug>(result: Result<T, ApprovalError>, needle: &str) {
    match result {
        Err(ApprovalError::Refused(m)) => assert!(m.contains(needle), "{m}"),
        other => panic!("expected a refusal containing {needle:?}, got {other:?}"),
    }
}

async fn kinds_by(pool: &PgPool, actor: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT kind FROM switchyard.events WHERE actor = $1 ORDER BY id")
        .bind(actor)
        .fetch_all(pool)
        .await
        .expect("events")
}

#[sqlx::test(migrations = "./migrations")]
async fn a_required_phase_runs_only_once_someone_else_approved_and_the_approval_expires(
    pool: PgPool,
) {
    crate::seeded(&pool, 300).await;
    up_to_dual_write(&pool).await;
    let v = view(&pool).await;
    let approval = v.phases[Phase::SwitchReads.index()]
        .approval
        .clone()
        .expect("phase 4 has an approval standing");
    assert!(!approval.required && approval.latest.is_none());
    assert!(v.phases[Phase::DualWrite.index()].approval.is_none());
    assert_eq!(
        run_refusal(&v, Phase::SwitchReads),
        None,
        "not required yet"
    );
    // Nobody may ask while no approval is required; phases 1-3 never need one.
    refused(
        approvals::request(&pool, DEMO, Phase::SwitchReads, "ready", ASKER).await,
        "does not need an approval",
    );
    assert!(matches!(
        approvals::set_policy(&pool, DEMO, Phase::DualWrite, true, ADMIN).await,
        Err(ApprovalError::Invalid { .. })
    ));

    assert!(
        approvals::set_policy(&pool, DEMO, Phase::SwitchReads, true, ADMIN)
            .await
            .expect("policy")
    );
    let v = view(&pool).await;
    let why = run_refusal(&v, Phase::SwitchReads).expect("refused without an approval");
    assert!(why.contains("needs an approval first"), "{why}");
    assert_eq!(
        v.phases[Phase::SwitchReads.index()].blocked.as_deref(),
        Some(why.as_str())
    );
    // The server refuses it, whatever the page shows.
    match console_of(&pool)
        .act(DEMO, Phase::SwitchReads, PhaseAction::Run, true, ASKER)
        .await
    {
        Err(ConsoleError::Refused(m)) => assert!(m.contains("needs an approval"), "{m}"),
        other => panic!("ran without approval: {other:?}"),
    }

    assert!(matches!(
        approvals::request(&pool, DEMO, Phase::SwitchReads, "   ", ASKER).await,
        Err(ApprovalError::Invalid {
            field: "reason",
            ..
        })
    ));
    let id = approvals::request(&pool, DEMO, Phase::SwitchReads, "verified, 0 diffs", ASKER)
        .await
        .expect("request");
    refused(
        approvals::request(&pool, DEMO, Phase::SwitchReads, "again", CHECKER).await,
        "already waits",
    );
    let v = view(&pool).await;
    let latest = latest_shown(&v, Phase::SwitchReads, "the request is shown");
    assert_eq!(latest.state, ApprovalState::Pending);
    assert_eq!(
        (latest.requested_by.as_str(), latest.reason.as_str()),
        (ASKER, "verified, 0 diffs")
    );
    assert!(run_refusal(&v, Phase::SwitchReads)
        .expect("still refused")
        .contains("waits for approval"));

    // Not the requester (whatever the case of the email), not a viewer, and
    // never without a comment.
    let decide = |by: &'static str, role: Role, decision: Decision, comment: &'static str| {
        let pool = pool.clone();
        async move { approvals::decide(&pool, DEMO, id, decision, comment, by, role).await }
    };
    refused(
        decide("Asker@Example.com", Role::Admin, Decision::Approved, "ok").await,
        "someone else must decide",
    );
    refused(
        decide("viewer@example.com", Role::Viewer, Decision::Approved, "ok").await,
        "operators and admins",
    );
    assert!(matches!(
        decide(CHECKER, Role::Operator, Decision::Approved, " ").await,
        Err(ApprovalError::Invalid {
            field: "comment",
            ..
        })
    ));
    assert_eq!(
        decide(CHECKER, Role::Operator, Decision::Approved, "go ahead")
            .await
            .expect("approved"),
        Phase::SwitchReads
    );
    refused(
        decide(ADMIN, Role::Admin, Decision::Rejected, "no").await,
        "approved already",
    );
    let v = view(&pool).await;
    let latest = latest_shown(&v, Phase::SwitchReads, "shown");
    assert_eq!(latest.state, ApprovalState::Approved);
    assert_eq!(latest.decided_by.as_deref(), Some(CHECKER));
    assert_eq!(latest.comment.as_deref(), Some("go ahead"));
    assert!(latest.decided_at.is_some());
    assert_eq!(
        run_refusal(&v, Phase::SwitchReads),
        None,
        "approved: it can run"
    );
    // Every step is in the event log with its actor.
    assert_eq!(kinds_by(&pool, ADMIN).await, ["approval_policy"]);
    assert_eq!(kinds_by(&pool, ASKER).await, ["approval_requested"]);
    assert_eq!(kinds_by(&pool, CHECKER).await, ["approval_decided"]);
    assert!(v
        .events
        .iter()
        .any(|e| e.actor == CHECKER && e.description.contains("approved: go ahead")));

    // A phase state changes (phase 3 rolled back and run again): the
    // approval no longer counts.
    console_of(&pool)
        .act(DEMO, Phase::DualWrite, PhaseAction::RollBack, false, "test")
        .await
        .expect("roll back");
    wait_for_state(&pool, Phase::DualWrite, PhaseState::RolledBack).await;
    console_of(&pool)
        .act(DEMO, Phase::DualWrite, PhaseAction::Run, false, "test")
        .await
        .expect("run");
    wait_for_state(&pool, Phase::DualWrite, PhaseState::Done).await;
    let v = view(&pool).await;
    let latest = latest_shown(&v, Phase::SwitchReads, "shown");
    assert_eq!(latest.state, ApprovalState::Expired);
    assert!(run_refusal(&v, Phase::SwitchReads)
        .expect("refused again")
        .contains("expired"));
    refused(
        decide(ADMIN, Role::Admin, Decision::Approved, "late").await,
        "expired",
    );

    // Asked and approved again: phase 4 runs, which uses the approval up
    // (its state changed).
    let id = approvals::request(&pool, DEMO, Phase::SwitchReads, "again", ASKER)
        .await
        .expect("request");
    approvals::decide(
        &pool,
        DEMO,
        id,
        Decision::Approved,
        "ok",
        ADMIN,
        Role::Admin,
    )
    .await
    .expect("approve");
    console_of(&pool)
        .act(DEMO, Phase::SwitchReads, PhaseAction::Run, true, ASKER)
        .await
        .expect("runs with the approval");
    wait_for_state(&pool, Phase::SwitchReads, PhaseState::Done).await;
    let v = view(&pool).await;
    let latest = latest_shown(&v, Phase::SwitchReads, "shown");
    assert_eq!(latest.state, ApprovalState::Expired);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rejection_is_shown_and_a_new_request_can_follow(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    approvals::set_policy(&pool, DEMO, Phase::Contract, true, ADMIN)
        .await
        .expect("policy");
    // Setting it again changes nothing (and records nothing).
    assert!(
        !approvals::set_policy(&pool, DEMO, Phase::Contract, true, ADMIN)
            .await
            .expect("policy")
    );
    let id = approvals::request(&pool, DEMO, Phase::Contract, "soak done", ASKER)
        .await
        .expect("request");
    approvals::decide(
        &pool,
        DEMO,
        id,
        Decision::Rejected,
        "wait for Monday",
        CHECKER,
        Role::Operator,
    )
    .await
    .expect("reject");
    let v = view(&pool).await;
    let latest = latest_shown(&v, Phase::Contract, "shown");
    assert_eq!(latest.state, ApprovalState::Rejected);
    assert_eq!(latest.decision, Some(Decision::Rejected));
    assert!(run_refusal(&v, Phase::Contract).is_some());
    approvals::request(&pool, DEMO, Phase::Contract, "it is Monday", ASKER)
        .await
        .expect("asked again");
    // Stopping the requirement lets it run as far as approvals go.
    approvals::set_policy(&pool, DEMO, Phase::Contract, false, ADMIN)
        .await
        .expect("policy");
    assert_eq!(
        approvals::why_not_run(&pool, DEMO, Phase::Contract)
            .await
            .expect("why"),
        None
    );
    assert_eq!(
        kinds_by(&pool, ADMIN).await,
        ["approval_policy", "approval_policy"]
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn approval_server_functions_check_the_role(pool: PgPool) {
    use switchyard::api::approvals::{DecideApproval, RequestApproval, SetApprovalPolicy};
    crate::seeded(&pool, 0).await;
    let viewer = signed_in_as(&pool, "viewer@example.com", Role::Viewer).await;
    let asker = signed_in_as(&pool, ASKER, Role::Operator).await;
    let checker = signed_in_as(&pool, CHECKER, Role::Operator).await;
    let admin = signed_in_as(&pool, ADMIN, Role::Admin).await;
    let policy = format!("name={DEMO}&phase=4&required=true");
    let (status, _) = call_as(&pool, None, SetApprovalPolicy::PATH, &policy).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for cookie in [&viewer, &asker] {
        let (status, body) = call_as(&pool, Some(cookie), SetApprovalPolicy::PATH, &policy).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body.contains("admins only"), "{body}");
    }
    let (status, body) = call_as(&pool, Some(&admin), SetApprovalPolicy::PATH, &policy).await;
    assert!(status.is_success(), "{status}: {body}");

    let request = format!("name={DEMO}&phase=4&reason=all+green");
    let (status, _) = call_as(&pool, Some(&viewer), RequestApproval::PATH, &request).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call_as(&pool, Some(&asker), RequestApproval::PATH, &request).await;
    assert!(status.is_success(), "{status}: {body}");
    let id: i64 = body.trim().parse().expect("the request's id");

    let decide = format!("name={DEMO}&approval={id}&decision=Approved&comment=fine");
    let (status, _) = call_as(&pool, Some(&viewer), DecideApproval::PATH, &decide).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call_as(&pool, Some(&asker), DecideApproval::PATH, &decide).await;
    assert!(!status.is_success(), "the requester approved: {body}");
    assert!(body.contains("someone else must decide"), "{body}");
    let (status, body) = call_as(&pool, Some(&checker), DecideApproval::PATH, &decide).await;
    assert!(status.is_success(), "{status}: {body}");
    let decided: Option<String> =
        sqlx::query_scalar("SELECT decided_by FROM switchyard.approvals WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!(decided.as_deref(), Some(CHECKER));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_phases_page_shows_the_approval_and_its_forms_to_whom_they_are_for(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    approvals::set_policy(&pool, DEMO, Phase::SwitchReads, true, ADMIN)
        .await
        .expect("policy");
    let asker = signed_in_as(&pool, ASKER, Role::Operator).await;
    let checker = signed_in_as(&pool, CHECKER, Role::Operator).await;
    let viewer = signed_in_as(&pool, "viewer@example.com", Role::Viewer).await;
    let admin = signed_in_as(&pool, ADMIN, Role::Admin).await;
    let page = |cookie: String| {
        let pool = pool.clone();
        async move {
            let r = crate::http::get_as(&pool, &format!("/m/{DEMO}/phases"), Some(&cookie)).await;
            assert_eq!(r.status, StatusCode::OK);
            String::from_utf8_lossy(&r.body).into_owned()
        }
    };
    // Nothing asked yet: the admin sees the policy control, an operator the
    // request form.
    let html = page(admin.clone()).await;
    assert!(html.contains("Stop requiring approval"), "{html}");
    assert!(html.contains("Approval required"), "{html}");
    let html = page(asker.clone()).await;
    assert!(!html.contains("Stop requiring approval"));
    assert!(html.contains("Request approval"), "{html}");
    // Asked for (any time before the phase is done).
    approvals::request(&pool, DEMO, Phase::SwitchReads, "ready to switch", ASKER)
        .await
        .expect("request");
    let html = page(asker).await;
    assert!(html.contains("ready to switch"), "{html}");
    assert!(
        html.contains("another operator or admin must approve"),
        "{html}"
    );
    assert!(
        !html.contains("Record decision"),
        "the requester may not decide"
    );
    let html = page(checker).await;
    assert!(html.contains("Record decision"), "{html}");
    let html = page(viewer).await;
    assert!(html.contains("ready to switch"));
    assert!(!html.contains("Record decision") && !html.contains("Request approval"));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_cli_refuses_without_approval_unless_an_admin_overrides(pool: PgPool) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    phase_4_needs_approval(&pool, 100).await;
    switchyard::accounts::add(&pool, ADMIN, crate::http::PASSWORD, Role::Admin)
        .await
        .expect("admin");
    switchyard::accounts::add(&pool, ASKER, crate::http::PASSWORD, Role::Operator)
        .await
        .expect("operator");
    let url = crate::cli::url_of(&pool).await;
    let run = |extra: &[&str], password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args([
                "phase",
                "run",
                "4",
                "recipes/user_preferences.toml",
                "--accept-quarantine",
            ])
            .args(extra)
            .env("DATABASE_URL", &url)
            .env("SWITCHYARD_ACTOR", "dana")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the CLI");
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{password}").expect("password");
        drop(stdin);
        child.wait_with_output().expect("output")
    };
    let out = run(&[], "");
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs an approval first"), "{stderr}");
    // --override alone is bad usage; an operator, or a wrong password, is refused.
    let out = run(&["--override"], "");
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--override", "--as", ASKER], crate::http::PASSWORD);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only an admin"));
    let out = run(&["--override", "--as", ADMIN], "not the password");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        view(&pool).await.phases[Phase::SwitchReads.index()].state,
        PhaseState::Pending,
        "nothing ran"
    );
    assert!(kinds_by(&pool, "cli:dana").await.is_empty());

    let out = run(&["--override", "--as", ADMIN], crate::http::PASSWORD);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kinds = kinds_by(&pool, "cli:dana").await;
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("approval_overridden")
    );
    let admin: String = sqlx::query_scalar(
        "SELECT payload->>'admin' FROM switchyard.events WHERE kind = 'approval_overridden'",
    )
    .fetch_one(&pool)
    .await
    .expect("event");
    assert_eq!(admin, ADMIN);
    assert_eq!(
        view(&pool).await.phases[Phase::SwitchReads.index()].state,
        PhaseState::Done
    );
}

/// The console and the CLI check the approval before they start a run,
/// and the engine asks again under the runner lock, just before the phase
/// starts, where no other runner can change the phase's state meanwhile:
/// a run that reaches the engine without a current approval is refused
/// there, leaving the phase as it was.
#[sqlx::test(migrations = "./migrations")]
async fn the_engine_reads_the_approval_again_under_the_runner_lock(pool: PgPool) {
    use futures::future::BoxFuture;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use switchyard::engine::phases::{Outcome, RunControl, StartGate};
    use switchyard::engine::{EngineError, Recipe};

    phase_4_needs_approval(&pool, 300).await;
    let recipe = Recipe::parse(include_str!("../../recipes/user_preferences.toml"))
        .expect("the demo recipe");
    let engine = crate::engine_with(&pool, recipe, "test", 200, 100, Some(0.0));
    // The service's gate, watched: was an advisory lock (the runner's) held
    // when it was asked?
    let held = Arc::new(AtomicBool::new(false));
    let gate: StartGate = {
        let (service, pool, held) = (
            approvals::start_gate(pool.clone(), DEMO.to_string()),
            pool.clone(),
            held.clone(),
        );
        Arc::new(
            move |phase: Phase| -> BoxFuture<'static, Result<(), String>> {
                let (service, pool, held) = (service.clone(), pool.clone(), held.clone());
                Box::pin(async move {
                    let locks: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
                    )
                    .fetch_one(&pool)
                    .await
                    .map_err(|e| e.to_string())?;
                    held.store(locks > 0, Ordering::SeqCst);
                    service(phase).await
                })
            },
        )
    };
    let ctl = RunControl {
        accept_quarantine: true,
        gate: Some(gate),
        ..RunControl::default()
    };
    match engine.apply(Phase::SwitchReads, &ctl).await {
        Err(EngineError::Refused(m)) => assert!(m.contains("needs an approval"), "{m}"),
        other => panic!("ran without an approval: {other:?}"),
    }
    assert!(held.load(Ordering::SeqCst), "asked without the runner lock");
    assert_eq!(
        view(&pool).await.phases[Phase::SwitchReads.index()].state,
        PhaseState::Pending,
        "the refused phase was left as it was"
    );

    let id = approvals::request(&pool, DEMO, Phase::SwitchReads, "verified", ASKER)
        .await
        .expect("request");
    approvals::decide(
        &pool,
        DEMO,
        id,
        Decision::Approved,
        "go",
        CHECKER,
        Role::Operator,
    )
    .await
    .expect("approve");
    held.store(false, Ordering::SeqCst);
    let outcome = engine.apply(Phase::SwitchReads, &ctl).await;
    assert!(matches!(outcome, Ok(Outcome::Done)), "{outcome:?}");
    assert!(held.load(Ordering::SeqCst), "asked without the runner lock");
}
