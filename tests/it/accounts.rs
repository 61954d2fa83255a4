//! Accounts, sessions and roles over HTTP, through the real router.

use crate::http::{
    call_as, encode, get_as, header, operator, send, session_cookie, sign_in, signed_in_as,
    OPERATOR, PASSWORD,
};
use crate::DEMO;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use switchyard::model::account::Role;

fn location(r: &crate::http::Reply) -> String {
    header(r, "location").unwrap_or("").to_string()
}

async fn sessions(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM switchyard.sessions")
        .fetch_one(pool)
        .await
        .expect("count")
}

async fn post_setup(
    pool: &PgPool,
    email: &str,
    password: &str,
    confirm: &str,
) -> crate::http::Reply {
    let form = format!(
        "email={}&password={}&confirm={}",
        encode(email),
        encode(password),
        encode(confirm)
    );
    let request = Request::post("/setup")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body(Body::from(form))
        .expect("request");
    send(crate::http::app_of_pool(pool), request).await
}

#[sqlx::test(migrations = "./migrations")]
async fn first_run_setup_creates_the_admin_once_then_is_a_404(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    // No account: every page leads to the setup.
    let r = get_as(&pool, "/", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/setup");
    let r = get_as(&pool, "/setup", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&r.body);
    assert!(html.contains("Create the admin account"), "{html}");

    // Refusals go back to the form and create nothing.
    let r = post_setup(&pool, "admin@example.com", "short", "short").await;
    assert!(
        location(&r).starts_with("/setup?error="),
        "{}",
        location(&r)
    );
    let r = post_setup(&pool, "admin@example.com", PASSWORD, "something else").await;
    assert!(location(&r).contains("differ"), "{}", location(&r));
    assert!(!switchyard::store::accounts::any(&pool).await.expect("any"));

    let r = post_setup(&pool, "admin@example.com", PASSWORD, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/");
    let cookie = session_cookie(&r).expect("signed in at once");
    let r = get_as(&pool, "/", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&r.body);
    assert!(html.contains("admin@example.com"), "{html}");
    let accounts = switchyard::store::accounts::list(&pool)
        .await
        .expect("list");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].role, Role::Admin);

    // Once an account exists: 404, and a second admin is never created.
    let r = post_setup(&pool, "intruder@example.com", PASSWORD, PASSWORD).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Whatever the form says (it is not even checked).
    let r = post_setup(&pool, "intruder@example.com", PASSWORD, "other").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get_as(&pool, "/setup", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        switchyard::store::accounts::list(&pool)
            .await
            .expect("list")
            .len(),
        1
    );
    // And anonymous pages now lead to the sign-in page.
    let r = get_as(&pool, "/m/user-preferences/phases", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=/m/user-preferences/phases");
}

#[sqlx::test(migrations = "./migrations")]
async fn sign_in_sets_a_new_session_and_sign_out_ends_it_on_the_server(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    switchyard::accounts::add(&pool, OPERATOR, PASSWORD, Role::Operator)
        .await
        .expect("add");
    let r = sign_in(&pool, "OPS@example.com", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        location(&r),
        format!("/m/{DEMO}"),
        "back where it was going"
    );
    let set_cookie = crate::http::set_cookie(&r, "switchyard_session")
        .expect("cookie")
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "http: {set_cookie}");
    let cookie = session_cookie(&r).expect("cookie");
    assert_eq!(sessions(&pool).await, 1);
    let r = get_as(&pool, "/", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);

    // Signing in again with that cookie: another id, the old one is gone
    // (a session id planted before sign-in never becomes signed in).
    let again = sign_in(&pool, OPERATOR, PASSWORD, Some(&cookie)).await;
    let second = session_cookie(&again).expect("cookie");
    assert_ne!(second, cookie);
    let r = get_as(&pool, "/", Some(&cookie)).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the old id no longer works"
    );

    // Sign out: the server forgets the session, the cookie no longer works.
    let request = Request::post("/logout")
        .header("cookie", &second)
        .body(Body::empty())
        .expect("request");
    let r = send(crate::http::app_of_pool(&pool), request).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?signed_out=1");
    assert_eq!(sessions(&pool).await, 0);
    let r = get_as(&pool, "/", Some(&second)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"), "{}", location(&r));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    switchyard::accounts::add(&pool, OPERATOR, PASSWORD, Role::Operator)
        .await
        .expect("add");
    let wrong = sign_in(&pool, OPERATOR, "not the password", None).await;
    let unknown = sign_in(&pool, "nobody@example.com", "not the password", None).await;
    assert_eq!(wrong.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&wrong), location(&unknown));
    assert!(location(&wrong).starts_with("/login?error=wrong"));
    assert!(session_cookie(&wrong).is_none() && session_cookie(&unknown).is_none());
    let page = get_as(&pool, &location(&wrong), None).await;
    let html = String::from_utf8_lossy(&page.body);
    assert!(html.contains("Wrong email or password."), "{html}");
    assert!(!html.contains("nobody@example.com") && !html.contains(OPERATOR));
    // A disabled account is refused the same way, with its right password.
    switchyard::store::accounts::disable(&pool, OPERATOR)
        .await
        .expect("disable");
    let disabled = sign_in(&pool, OPERATOR, PASSWORD, None).await;
    assert_eq!(location(&disabled), location(&unknown));
}

/// The demo, the operator and the viewer other@example.com (neither signed
/// in yet), and the sign-in limits the router applies.
async fn two_accounts(pool: &PgPool) -> switchyard::accounts::SignInLimits {
    crate::seeded(pool, 0).await;
    switchyard::accounts::add(pool, OPERATOR, PASSWORD, Role::Operator)
        .await
        .expect("add");
    switchyard::accounts::add(pool, "other@example.com", PASSWORD, Role::Viewer)
        .await
        .expect("add");
    switchyard::accounts::SignInLimits::default()
}

/// Records `n` failed sign-ins from "unknown", the address every request
/// in these tests comes from.
async fn fail_from_the_test_address(pool: &PgPool, n: i64) {
    sqlx::query(
        "INSERT INTO switchyard.sign_in_failures (scope, key)
         SELECT 'address', 'unknown' FROM generate_series(1, $1)",
    )
    .bind(n)
    .execute(pool)
    .await
    .expect("failures");
}

#[sqlx::test(migrations = "./migrations")]
async fn failed_sign_ins_are_limited_per_account_and_per_address_but_not_forever(pool: PgPool) {
    let limits = two_accounts(&pool).await;
    for _ in 0..limits.per_account {
        let r = sign_in(&pool, OPERATOR, "guess", None).await;
        assert!(location(&r).contains("error=wrong"));
    }
    // Now even the right password is refused, without saying whether the
    // email exists: an unknown email is limited alike.
    let r = sign_in(&pool, OPERATOR, PASSWORD, None).await;
    assert!(location(&r).contains("error=limited"), "{}", location(&r));
    assert!(session_cookie(&r).is_none());
    // The failures are in the audit log; refusals that checked nothing
    // are not (anyone could write them at line rate).
    for _ in 0..20 {
        sign_in(&pool, OPERATOR, "guess", None).await;
    }
    let recorded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM switchyard.events WHERE kind = 'sign_in_failed' AND actor = $1",
    )
    .bind(OPERATOR)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(recorded, limits.per_account);
    for _ in 0..limits.per_account {
        sign_in(&pool, "ghost@example.com", "guess", None).await;
    }
    let r = sign_in(&pool, "ghost@example.com", "guess", None).await;
    assert!(location(&r).contains("error=limited"));
    // Another account from the same address still signs in.
    let r = sign_in(&pool, "other@example.com", PASSWORD, None).await;
    assert!(session_cookie(&r).is_some(), "{}", location(&r));

    // The failures age out: the owner is never locked out for good.
    sqlx::query("UPDATE switchyard.sign_in_failures SET failed_at = now() - interval '16 minutes'")
        .execute(&pool)
        .await
        .expect("age");
    let r = sign_in(&pool, OPERATOR, PASSWORD, None).await;
    assert!(session_cookie(&r).is_some(), "{}", location(&r));

    // Per address: enough failures from one address over any emails stop
    // every sign-in from it (here every request comes from "unknown").
    fail_from_the_test_address(&pool, limits.per_address).await;
    let r = sign_in(&pool, "other@example.com", PASSWORD, None).await;
    assert!(location(&r).contains("error=limited"), "{}", location(&r));
}

/// Behind a reverse proxy named in `SWITCHYARD_TRUSTED_PROXIES`, the
/// per-address limit counts the client the proxy names, not the proxy: one
/// guesser is stopped without stopping everyone behind the same proxy, and
/// an address the guesser writes into the header itself changes nothing.
#[sqlx::test(migrations = "./migrations")]
async fn behind_a_trusted_proxy_the_limit_counts_the_forwarded_client(pool: PgPool) {
    use axum::extract::ConnectInfo;
    let limits = two_accounts(&pool).await;
    let config = switchyard::server::config::Config::from_vars(|name| match name {
        "SWITCHYARD_TRUSTED_PROXIES" => Some("127.0.0.1, 10.0.0.0/8".into()),
        _ => None,
    })
    .expect("config");
    let auth = switchyard::server::auth::AuthSettings::from_config(&config);
    let attempt = |email: &str, password: &str, forwarded: &str| {
        let form = format!("email={}&password={}", encode(email), encode(password));
        let mut request = Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", forwarded)
            .body(Body::from(form))
            .expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                40000,
            ))));
        let (p, a) = (pool.clone(), auth.clone());
        async move { send(move || crate::http::app_with(p, a), request).await }
    };
    // The guesser tries many emails, each time claiming a new address on
    // the left of what the proxy appends.
    for i in 0..limits.per_address {
        let r = attempt(
            &format!("guess{i}@example.com"),
            "guess",
            &format!("192.0.2.{i}, 203.0.113.7"),
        )
        .await;
        assert!(location(&r).contains("error=wrong"), "{}", location(&r));
    }
    let r = attempt(OPERATOR, PASSWORD, "203.0.113.7").await;
    assert!(location(&r).contains("error=limited"), "{}", location(&r));
    // Another client behind the same proxy (two proxies deep) signs in.
    let r = attempt(OPERATOR, PASSWORD, "198.51.100.4, 10.1.2.3").await;
    assert!(session_cookie(&r).is_some(), "{}", location(&r));
    let counted: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT key FROM switchyard.sign_in_failures WHERE scope = 'address'",
    )
    .fetch_all(&pool)
    .await
    .expect("failures");
    assert_eq!(counted, vec!["203.0.113.7".to_string()]);
    // A list that is not one is refused, saying which variable.
    let bad = switchyard::server::config::Config::from_vars(|name| match name {
        "SWITCHYARD_TRUSTED_PROXIES" => Some("10.0.0.0/33".into()),
        _ => None,
    });
    let error = bad.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error.contains("SWITCHYARD_TRUSTED_PROXIES"), "{error}");
}

/// `name=value` of the device cookie a reply sets, and its attributes.
fn device_cookie(reply: &crate::http::Reply) -> Option<(String, String)> {
    crate::http::set_cookie(reply, "switchyard_device").map(|v| {
        let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
        (pair.to_string(), attributes.to_string())
    })
}

#[sqlx::test(migrations = "./migrations")]
async fn a_device_cookie_lets_its_owner_past_an_attackers_lockout_and_nothing_else_does(
    pool: PgPool,
) {
    let limits = two_accounts(&pool).await;
    // The owner signed in from this browser before: it holds a device cookie.
    let r = sign_in(&pool, OPERATOR, PASSWORD, None).await;
    let (owner, attributes) = device_cookie(&r).expect("a device cookie after signing in");
    for attribute in ["HttpOnly", "Path=/login", "SameSite=Strict", "Max-Age="] {
        assert!(attributes.contains(attribute), "{attribute}: {attributes}");
    }
    assert!(!attributes.contains("Secure"), "http: {attributes}");
    let other = device_cookie(&sign_in(&pool, "other@example.com", PASSWORD, None).await)
        .expect("another account's device cookie")
        .0;
    // A wrong password gets no device cookie.
    assert!(device_cookie(&sign_in(&pool, OPERATOR, "guess", None).await).is_none());

    // An attacker without the cookie locks the account for untrusted clients.
    for _ in 1..limits.per_account {
        let r = sign_in(&pool, OPERATOR, "guess", None).await;
        assert!(location(&r).contains("error=wrong"), "{}", location(&r));
    }
    let r = sign_in(&pool, OPERATOR, PASSWORD, None).await;
    assert!(location(&r).contains("error=limited"), "{}", location(&r));

    // Cookies that are not this account's own device cookie change nothing:
    // another account's, a forged MAC, another account id, garbage.
    let value = owner.trim_start_matches("switchyard_device=");
    let mut parts: Vec<String> = value.split('.').map(str::to_string).collect();
    let flipped = {
        let mut mac = parts[3].clone();
        let last = if mac.ends_with('0') { "1" } else { "0" };
        mac.pop();
        mac.push_str(last);
        mac
    };
    let forged_mac = format!(
        "switchyard_device={}.{}.{}.{flipped}",
        parts[0], parts[1], parts[2]
    );
    parts[1] = (parts[1].parse::<i64>().expect("account id") + 1).to_string();
    let other_id = format!("switchyard_device={}", parts.join("."));
    for cookie in [
        other.as_str(),
        forged_mac.as_str(),
        other_id.as_str(),
        "switchyard_device=v1.1.x.y",
    ] {
        let r = sign_in(&pool, OPERATOR, PASSWORD, Some(cookie)).await;
        assert!(
            location(&r).contains("error=limited"),
            "{cookie}: {}",
            location(&r)
        );
        assert!(session_cookie(&r).is_none(), "{cookie}");
    }
    // With it, an unknown email is answered as without it.
    let r = sign_in(&pool, "ghost@example.com", "guess", Some(&owner)).await;
    assert!(location(&r).contains("error=wrong"), "{}", location(&r));

    // The owner's browser, with its device cookie, still signs in.
    let r = sign_in(&pool, OPERATOR, PASSWORD, Some(&owner)).await;
    assert!(session_cookie(&r).is_some(), "{}", location(&r));
    let renewed = device_cookie(&r).expect("a new device cookie").0;
    assert_ne!(renewed, owner);
    // ... and the untrusted clients are still held back.
    let r = sign_in(&pool, OPERATOR, PASSWORD, None).await;
    assert!(location(&r).contains("error=limited"), "{}", location(&r));

    // A device cookie has its own limit: once over it, it is one more
    // untrusted client (here: held back by the account's lockout).
    for _ in 0..limits.per_device {
        let r = sign_in(&pool, OPERATOR, "guess", Some(&renewed)).await;
        assert!(location(&r).contains("error=wrong"), "{}", location(&r));
    }
    let r = sign_in(&pool, OPERATOR, PASSWORD, Some(&renewed)).await;
    assert!(location(&r).contains("error=limited"), "{}", location(&r));
    // Another device of the owner's is not held back by it.
    let r = sign_in(&pool, OPERATOR, PASSWORD, Some(&owner)).await;
    assert!(session_cookie(&r).is_some(), "{}", location(&r));

    // The per-address limit holds whatever cookie is sent.
    fail_from_the_test_address(&pool, limits.per_address).await;
    let r = sign_in(&pool, OPERATOR, PASSWORD, Some(&owner)).await;
    assert!(location(&r).contains("error=limited"), "{}", location(&r));
}

/// Every server function that changes something, with a valid request for
/// it (valid for an operator on the seeded demo).
async fn mutations(pool: &PgPool) -> Vec<(&'static str, String)> {
    use switchyard::api::approvals::{DecideApproval, RequestApproval};
    use switchyard::api::console::{ActOnPhase, Rehearse, SetThrottle};
    use switchyard::api::notion::{
        ApplySpecRefresh, ConfirmTaskMapping, ConnectTaskDatabase, CreateTasksInNotion,
        DiscardOutboxItem, ImportNotionSpec, PublishPlan, ResolveTaskConflict, RetryOutboxItem,
        SetTasksDoneWithPhase,
    };
    use switchyard::api::plans::{RenderPlan, ResolvePlanConflict, RestorePlan, SavePlan};
    use switchyard::api::shares::{CreateShareLink, RevokeShareLink};
    use switchyard::api::tasks::{CreateTask, DeleteTask, MoveTask, SetCriterion, UpdateTask};
    let (task, rev): (i64, i32) =
        sqlx::query_as("SELECT id, revision FROM switchyard.tasks ORDER BY id LIMIT 1")
            .fetch_one(pool)
            .await
            .expect("task");
    let criterion: i64 =
        sqlx::query_scalar("SELECT id FROM switchyard.acceptance_criteria LIMIT 1")
            .fetch_one(pool)
            .await
            .expect("criterion");
    let task_form =
        "form%5Bstatus%5D=To+Do&form%5Btitle%5D=T&form%5Bassignee%5D=&form%5Bsprint%5D=\
                     &form%5Bpriority%5D=High&form%5Bphase%5D=&form%5Bcriteria%5D=";
    vec![
        (
            ActOnPhase::PATH,
            format!("name={DEMO}&phase=1&action=Run&accept_quarantine=false"),
        ),
        (
            SetThrottle::PATH,
            format!("name={DEMO}&target_batch_ms=300&throttle_ms=5"),
        ),
        (Rehearse::PATH, format!("name={DEMO}&percent=5")),
        (
            MoveTask::PATH,
            format!("name={DEMO}&task_id={task}&status=Done&revision={rev}"),
        ),
        (
            SetCriterion::PATH,
            format!("name={DEMO}&criterion_id={criterion}&done=true"),
        ),
        (CreateTask::PATH, format!("name={DEMO}&{task_form}")),
        (
            UpdateTask::PATH,
            format!("name={DEMO}&task_id={task}&revision={rev}&{task_form}"),
        ),
        (
            DeleteTask::PATH,
            format!("name={DEMO}&task_id={task}&revision={rev}"),
        ),
        (
            SavePlan::PATH,
            format!("name={DEMO}&base_revision=1&form%5Bbody_markdown%5D=x"),
        ),
        (
            RestorePlan::PATH,
            format!("name={DEMO}&revision=1&base_revision=1"),
        ),
        (RenderPlan::PATH, "markdown=%23+x".to_string()),
        (
            RequestApproval::PATH,
            format!("name={DEMO}&phase=4&reason=ready"),
        ),
        (
            DecideApproval::PATH,
            format!("name={DEMO}&approval=1&decision=Approved&comment=ok"),
        ),
        (
            CreateShareLink::PATH,
            format!("name={DEMO}&label=chat&expires_hours="),
        ),
        (RevokeShareLink::PATH, format!("name={DEMO}&id=1")),
        (
            ImportNotionSpec::PATH,
            "page=0123456789abcdef0123456789abcdef".to_string(),
        ),
        (
            ApplySpecRefresh::PATH,
            format!("name={DEMO}&base=1&previewed=x"),
        ),
        (PublishPlan::PATH, format!("name={DEMO}")),
        (RetryOutboxItem::PATH, format!("name={DEMO}&item=1")),
        (DiscardOutboxItem::PATH, format!("name={DEMO}&item=1")),
        (
            ConnectTaskDatabase::PATH,
            format!("name={DEMO}&target=0123456789abcdef0123456789abcdef"),
        ),
        (
            ConfirmTaskMapping::PATH,
            format!("name={DEMO}&mapping%5Btitle%5D=Name"),
        ),
        (CreateTasksInNotion::PATH, format!("name={DEMO}")),
        (
            ResolveTaskConflict::PATH,
            format!("name={DEMO}&conflict=1&keep=board"),
        ),
        (
            ResolvePlanConflict::PATH,
            format!("name={DEMO}&conflict=1&keep=switchyard"),
        ),
        (SetTasksDoneWithPhase::PATH, format!("name={DEMO}&on=true")),
        // The new-migration wizard (issue 14).
        (
            switchyard::api::wizard::StartDraft::PATH,
            "schema=public&table=users&key=id&column=preferences".to_string(),
        ),
        (
            switchyard::api::wizard::ProfileDraft::PATH,
            "id=1&scope=sample".to_string(),
        ),
        (
            switchyard::api::wizard::SaveDraftRecipe::PATH,
            "id=1&recipe=name".to_string(),
        ),
        (
            switchyard::api::wizard::SaveDraftSpec::PATH,
            "id=1&spec=x".to_string(),
        ),
        (
            switchyard::api::wizard::LinkDraftSpecPage::PATH,
            "id=1&page=0123456789abcdef0123456789abcdef".to_string(),
        ),
        (
            switchyard::api::wizard::CreateFromDraft::PATH,
            "id=1".to_string(),
        ),
    ]
}

/// Every server function only admins may call, with a valid request for it.
fn admin_mutations() -> Vec<(&'static str, String)> {
    use switchyard::api::accounts::{AddAccount, ChangeAccount};
    use switchyard::api::approvals::SetApprovalPolicy;
    vec![
        (
            AddAccount::PATH,
            format!(
                "email=new%40example.com&role=Admin&password={p}&confirm={p}",
                p = encode(PASSWORD)
            ),
        ),
        (
            SetApprovalPolicy::PATH,
            format!("name={DEMO}&phase=4&required=true"),
        ),
        (
            ChangeAccount::PATH,
            "email=viewer%40example.com&action=Disable".to_string(),
        ),
    ]
}

/// Every server function that changes nothing. Each needs an account
/// (`setup_open` and `get_shared` too: the setup and share pages call them
/// while rendering, on the server, not over HTTP).
const READS: [&str; 24] = {
    use switchyard::api::{accounts, console, migrations, notion, plans, shares, wizard};
    [
        accounts::SetupOpen::PATH,
        accounts::GetAdmin::PATH,
        console::GetConsole::PATH,
        console::GetDryRun::PATH,
        migrations::ListMigrations::PATH,
        migrations::GetMigration::PATH,
        migrations::GetSpec::PATH,
        migrations::GetPlan::PATH,
        migrations::GetTasks::PATH,
        migrations::GetPhases::PATH,
        notion::SearchNotionPages::PATH,
        notion::PreviewSpecRefresh::PATH,
        notion::GetMirror::PATH,
        notion::SearchTaskDatabases::PATH,
        plans::GetPlanHistory::PATH,
        plans::GetPlanVersion::PATH,
        plans::GetPlanDiff::PATH,
        plans::GetPlanConflict::PATH,
        shares::GetShared::PATH,
        shares::GetShareLinks::PATH,
        wizard::ListSources::PATH,
        wizard::GetDraft::PATH,
        wizard::GetProfiling::PATH,
        wizard::CheckRecipe::PATH,
    ]
};

/// The sweeps above are lists: this fails when a server function is in
/// none of them (a new one must be classified: a mutation for operators, one
/// for admins, or a read), so none is left out of the 401/403 checks.
#[sqlx::test(migrations = "./migrations")]
async fn every_server_function_is_in_a_sweep(pool: PgPool) {
    use std::collections::BTreeSet;
    crate::seeded(&pool, 0).await;
    let swept: BTreeSet<&str> = mutations(&pool)
        .await
        .into_iter()
        .chain(admin_mutations())
        .map(|(path, _)| path)
        .chain(READS)
        .collect();
    let registered: BTreeSet<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path)
        .collect();
    assert!(registered.len() > 50, "{registered:?}");
    let missing: Vec<&&str> = registered.difference(&swept).collect();
    assert!(
        missing.is_empty(),
        "server functions no sweep checks: {missing:?} (add each to `mutations`, `admin_mutations` or `READS`)"
    );
    let unknown: Vec<&&str> = swept.difference(&registered).collect();
    assert!(unknown.is_empty(), "swept but not served: {unknown:?}");
}

/// What a mutation could have changed: tasks, criteria, plan, events.
async fn fingerprint(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT (SELECT string_agg(id || status || revision, ',' ORDER BY id) FROM switchyard.tasks)
             || (SELECT string_agg(id || done::text, ',' ORDER BY id) FROM switchyard.acceptance_criteria)
             || (SELECT string_agg(revision::text, ',') FROM switchyard.plans)
             || (SELECT count(*) FROM switchyard.events)",
    )
    .fetch_one(pool)
    .await
    .expect("fingerprint")
}

#[sqlx::test(migrations = "./migrations")]
async fn every_mutation_is_refused_for_viewers_403_and_anonymous_401(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let viewer = signed_in_as(&pool, "viewer@example.com", Role::Viewer).await;
    // Signing in is an event too: both sign in before the fingerprint.
    let operator = signed_in_as(&pool, "ops@example.com", Role::Operator).await;
    let (_, token) = switchyard::store::shares::create(&pool, DEMO, "chat", None, OPERATOR)
        .await
        .expect("share link");
    let before = fingerprint(&pool).await;
    for (path, form) in mutations(&pool).await {
        let (status, body) = call_as(&pool, Some(&viewer), path, &form).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body.contains("operators only"), "{path}: {body}");
        let (status, _) = call_as(&pool, None, path, &form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    for (path, form) in admin_mutations() {
        for cookie in [&viewer, &operator] {
            let (status, body) = call_as(&pool, Some(cookie), path, &form).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
            assert!(body.contains("admins only"), "{path}: {body}");
        }
        let (status, _) = call_as(&pool, None, path, &form).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // A share link's token, however presented, changes nothing.
    for (path, form) in mutations(&pool).await.into_iter().chain(admin_mutations()) {
        for request in [
            Request::post(path).header("referer", format!("http://localhost/s/{token}")),
            Request::post(format!("{path}?token={token}")),
            Request::post(path).header("authorization", format!("Bearer {token}")),
        ] {
            let request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form.clone()))
                .expect("request");
            let r = send(crate::http::app_of_pool(&pool), request).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} with a share token");
        }
    }
    // A token opens no read server function either (its page reads on the
    // server, not through them).
    for path in READS {
        let request = Request::post(format!("{path}?token={token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("name={DEMO}")))
            .expect("request");
        let r = send(crate::http::app_of_pool(&pool), request).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} with a share token");
    }
    // The read server functions need an account too (their arguments do
    // not matter: the session is checked before they are read).
    {
        use switchyard::api::accounts::GetAdmin;
        use switchyard::api::shares::GetShareLinks;
        for path in READS {
            let (status, _) = call_as(&pool, None, path, &format!("name={DEMO}")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        }
        // Share links and the accounts page: not for viewers.
        for (path, form, only) in [
            (
                GetShareLinks::PATH,
                format!("name={DEMO}"),
                "operators only",
            ),
            (
                switchyard::api::wizard::ListSources::PATH,
                String::new(),
                "operators only",
            ),
            (
                switchyard::api::wizard::GetDraft::PATH,
                "id=1".to_string(),
                "operators only",
            ),
            (
                switchyard::api::wizard::GetProfiling::PATH,
                "id=1".to_string(),
                "operators only",
            ),
            (
                switchyard::api::wizard::CheckRecipe::PATH,
                "recipe=x".to_string(),
                "operators only",
            ),
            (GetAdmin::PATH, "actor=".to_string(), "admins only"),
        ] {
            let (status, body) = call_as(&pool, Some(&viewer), path, &form).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
            assert!(body.contains(only), "{path}: {body}");
        }
    }
    assert_eq!(fingerprint(&pool).await, before, "nothing changed");
    // A viewer reads everything: pages and the read server functions.
    for page in [
        "/",
        "/m/user-preferences/plan",
        "/m/user-preferences/phases",
    ] {
        let r = get_as(&pool, page, Some(&viewer)).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
    }
    let (status, body) = call_as(
        &pool,
        Some(&viewer),
        switchyard::api::console::GetConsole::PATH,
        &format!("name={DEMO}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The live feed and the dry run need an account too.
    for uri in [format!("/live/{DEMO}"), format!("/dry-run/{DEMO}/1")] {
        let request = Request::get(&uri).body(Body::empty()).expect("request");
        let r = send(crate::http::app_of_pool(&pool), request).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn an_operator_may_and_is_recorded_as_the_actor(pool: PgPool) {
    use switchyard::api::tasks::MoveTask;
    crate::seeded(&pool, 0).await;
    let cookie = operator(&pool).await;
    let (task, rev): (i64, i32) =
        sqlx::query_as("SELECT id, revision FROM switchyard.tasks ORDER BY id LIMIT 1")
            .fetch_one(&pool)
            .await
            .expect("task");
    let (status, body) = call_as(
        &pool,
        Some(&cookie),
        MoveTask::PATH,
        &format!("name={DEMO}&task_id={task}&status=Done&revision={rev}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let actor: String =
        sqlx::query_scalar("SELECT actor FROM switchyard.events ORDER BY id DESC LIMIT 1")
            .fetch_one(&pool)
            .await
            .expect("event");
    assert_eq!(actor, OPERATOR);
}

#[sqlx::test(migrations = "./migrations")]
async fn cross_origin_posts_are_refused_whatever_the_session(pool: PgPool) {
    use switchyard::api::tasks::MoveTask;
    crate::seeded(&pool, 0).await;
    let cookie = operator(&pool).await;
    let (task, rev): (i64, i32) =
        sqlx::query_as("SELECT id, revision FROM switchyard.tasks ORDER BY id LIMIT 1")
            .fetch_one(&pool)
            .await
            .expect("task");
    let form = format!("name={DEMO}&task_id={task}&status=Done&revision={rev}");
    let before = fingerprint(&pool).await;
    let post = |extra: Vec<(&'static str, &'static str)>, path: &'static str, body: String| {
        let mut request = Request::post(path)
            .header("cookie", &cookie)
            .header("host", "127.0.0.1:3000")
            .header("content-type", "application/x-www-form-urlencoded");
        for (k, v) in extra {
            request = request.header(k, v);
        }
        request.body(Body::from(body)).expect("request")
    };
    for headers in [
        vec![("origin", "http://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "http://a.127.0.0.1:3000"),
        ],
    ] {
        for path in [MoveTask::PATH, "/logout", "/login", "/setup"] {
            let r = send(
                crate::http::app_of_pool(&pool),
                post(headers.clone(), path, form.clone()),
            )
            .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} {headers:?}");
        }
    }
    assert_eq!(fingerprint(&pool).await, before, "nothing changed");
    assert!(sessions(&pool).await >= 1, "the session was not ended");
    // From our own page: accepted.
    let r = send(
        crate::http::app_of_pool(&pool),
        post(
            vec![
                ("origin", "http://127.0.0.1:3000"),
                ("sec-fetch-site", "same-origin"),
            ],
            MoveTask::PATH,
            form,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[sqlx::test(migrations = "./migrations")]
async fn sessions_end_when_idle_too_old_or_the_account_is_disabled(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    // Idle: the stored session's expiry passed.
    let cookie = operator(&pool).await;
    sqlx::query("UPDATE switchyard.sessions SET expiry_date = now() - interval '1 second'")
        .execute(&pool)
        .await
        .expect("expire");
    let r = get_as(&pool, "/", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "idle session ended");

    // Disabled: its live session stops at the next request.
    let cookie = operator(&pool).await;
    assert_eq!(
        get_as(&pool, "/", Some(&cookie)).await.status,
        StatusCode::OK
    );
    switchyard::store::accounts::disable(&pool, OPERATOR)
        .await
        .expect("disable");
    let r = get_as(&pool, "/", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // Absolute: a router whose sessions last one second from sign-in.
    switchyard::accounts::add(&pool, "short@example.com", PASSWORD, Role::Viewer)
        .await
        .expect("add");
    let cookie = signed_in_as(&pool, "short@example.com", Role::Viewer).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let auth = switchyard::server::auth::AuthSettings {
        absolute: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let p = pool.clone();
    let request = Request::get("/")
        .header("accept", "text/html")
        .header("cookie", &cookie)
        .body(Body::empty())
        .expect("request");
    let r = send(move || crate::http::app_with(p, auth), request).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "too old");
    let live: i64 =
        sqlx::query_scalar("SELECT count(*) FROM switchyard.sessions WHERE expiry_date > now()")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(live, 0, "and deleted on the server");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_secure_flag_follows_an_https_public_url(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    switchyard::accounts::add(&pool, OPERATOR, PASSWORD, Role::Operator)
        .await
        .expect("add");
    // Through the configuration, as `serve` builds it (SWITCHYARD_PUBLIC_URL).
    for (public_url, secure) in [
        (Some("https://switchyard.example.com/"), true),
        (Some("http://switchyard.example.com"), false),
        (None, false),
    ] {
        let config = switchyard::server::config::Config::from_vars(|name| match name {
            "SWITCHYARD_PUBLIC_URL" => public_url.map(str::to_string),
            _ => None,
        })
        .expect("config");
        let auth = switchyard::server::auth::AuthSettings::from_config(&config);
        let p = pool.clone();
        let form = format!("email={}&password={}", encode(OPERATOR), encode(PASSWORD));
        let request = Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("request");
        let r = send(move || crate::http::app_with(p, auth), request).await;
        assert!(session_cookie(&r).is_some(), "{public_url:?}: signed in");
        let set_cookies: Vec<&str> = r
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert_eq!(set_cookies.len(), 2, "session and device: {set_cookies:?}");
        for set_cookie in set_cookies {
            let has_secure = set_cookie
                .split(';')
                .any(|a| a.trim().eq_ignore_ascii_case("secure"));
            assert_eq!(has_secure, secure, "{public_url:?}: {set_cookie}");
        }
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn pages_show_a_viewer_no_controls_and_say_who_may(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let viewer = signed_in_as(&pool, "viewer@example.com", Role::Viewer).await;
    let operator = operator(&pool).await;
    // (page, what only an operator gets, what a viewer is told)
    let pages = [
        (
            "/m/user-preferences/phases",
            r#"aria-label="Phase 1 actions""#,
            "Phase 1 actions: operators only",
        ),
        (
            "/m/user-preferences/tasks",
            r#"aria-label="New task""#,
            "Creating, moving and editing tasks: operators only",
        ),
        (
            "/m/user-preferences/plan",
            "Edit plan",
            "Editing and restoring the plan: operators only",
        ),
    ];
    for (page, control, note) in pages {
        let r = get_as(&pool, page, Some(&viewer)).await;
        let html = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert!(!html.contains(control), "{page}: a viewer sees {control}");
        assert!(html.contains(note), "{page}: {html}");
        assert!(
            html.contains("viewer@example.com"),
            "{page}: who is signed in"
        );
        let r = get_as(&pool, page, Some(&operator)).await;
        let html = String::from_utf8_lossy(&r.body);
        assert!(html.contains(control), "{page}: an operator sees {control}");
        assert!(!html.contains(note), "{page}");
    }
    let r = get_as(&pool, "/m/user-preferences/tasks", Some(&viewer)).await;
    let html = String::from_utf8_lossy(&r.body);
    assert!(!html.contains(r#"class="delete""#) && !html.contains("Move to "));
}

/// A burst of parallel guesses gets no more password checks than the
/// limit: each attempt is counted before its password is checked, one
/// after another (they all read "no failures yet" before, and all were
/// checked).
#[sqlx::test(migrations = "./migrations")]
async fn parallel_guesses_are_counted_one_by_one(pool: PgPool) {
    let limits = two_accounts(&pool).await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..20 {
        let pool = pool.clone();
        guesses.spawn(async move {
            switchyard::accounts::sign_in_from(
                &pool,
                &limits,
                OPERATOR,
                &format!("guess {i}"),
                "203.0.113.9",
                None,
            )
            .await
        });
    }
    let (mut wrong, mut limited) = (0, 0);
    while let Some(result) = guesses.join_next().await {
        match result.expect("joined") {
            Err(switchyard::accounts::AccountError::WrongCredentials) => wrong += 1,
            Err(switchyard::accounts::AccountError::Limited) => limited += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(wrong, limits.per_account, "checked: no more than the limit");
    assert_eq!(wrong + limited, 20);
    // The owner's right password is refused too now (the account is
    // limited), and a success takes its own attempt back.
    let refused = switchyard::accounts::sign_in_from(
        &pool,
        &limits,
        OPERATOR,
        PASSWORD,
        "203.0.113.10",
        None,
    )
    .await;
    assert!(
        matches!(refused, Err(switchyard::accounts::AccountError::Limited)),
        "{refused:?}"
    );
    let before: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM switchyard.sign_in_failures WHERE key = '203.0.113.11'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    switchyard::accounts::sign_in_from(
        &pool,
        &limits,
        "other@example.com",
        PASSWORD,
        "203.0.113.11",
        None,
    )
    .await
    .expect("signed in");
    let after: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM switchyard.sign_in_failures WHERE key = '203.0.113.11'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(
        (before, after),
        (0, 0),
        "a success leaves no failure behind"
    );
}

/// Failed sign-ins (which anyone can send) are recorded for the audit log
/// but not announced to the live feeds; a change that can end sessions (a
/// disabled account) is.
#[sqlx::test(migrations = "./migrations")]
async fn failed_sign_ins_wake_no_live_feed_but_a_disabled_account_does(pool: PgPool) {
    use switchyard::accounts::{change, Change};
    two_accounts(&pool).await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .expect("listener");
    listener
        .listen(switchyard::store::events::EVENTS_CHANNEL)
        .await
        .expect("listen");
    for i in 0..3 {
        let r = sign_in(&pool, OPERATOR, &format!("guess {i}"), None).await;
        assert!(location(&r).contains("error=wrong"), "{}", location(&r));
    }
    let recorded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM switchyard.events WHERE kind = 'sign_in_failed'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(recorded, 3, "each failure is in the audit log");
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), listener.recv()).await;
    assert!(quiet.is_err(), "announced: {quiet:?}");
    change(
        &pool,
        "other@example.com",
        Change::Disable,
        "admin@example.com",
        None,
    )
    .await
    .expect("disabled");
    let woke = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv())
        .await
        .expect("announced")
        .expect("a notification");
    assert!(
        woke.payload().contains("account_changed"),
        "{}",
        woke.payload()
    );
}
