//! The real router (pages and server functions) over a real database.

use crate::DEMO;
use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use leptos::prelude::LeptosOptions;
use leptos::server_fn::ServerFn;
use sqlx::PgPool;
use tower::ServiceExt;

/// `app`, built where it is called (see `send`).
fn app_of(pool: &PgPool) -> impl FnOnce() -> axum::Router + Send + 'static {
    let pool = pool.clone();
    move || app(pool)
}

pub(crate) fn app(pool: PgPool) -> axum::Router {
    app_with(pool, switchyard::server::auth::AuthSettings::default())
}

/// `app`, with sessions and sign-ins as `auth` says.
pub(crate) fn app_with(pool: PgPool, auth: switchyard::server::auth::AuthSettings) -> axum::Router {
    let options = LeptosOptions::builder()
        .output_name("switchyard")
        .site_root("target/site")
        .build();
    switchyard::server::app::router_with(
        options,
        pool,
        switchyard::console::Settings::default(),
        auth,
    )
}

/// `app_of`, for other test modules.
pub(crate) fn app_of_pool(pool: &PgPool) -> impl FnOnce() -> axum::Router + Send + 'static {
    app_of(pool)
}

/// What a request got back, read whole.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: axum::body::Bytes,
}

/// Every request runs on one runtime that lives as long as this test
/// binary, not on its test's own, and so is the app built: the tasks an app
/// spawns (a rehearsal's recovery, a profile scan) then outlive the test
/// that sent the request without their runtime going away under them. (The
/// pages that waited forever here, one run in a few of two page tests side
/// by side, were Leptos' route generation switching resource loading off
/// process-wide while another test rendered: `server::app` now generates
/// the routes once.)
pub(crate) fn server_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the requests' runtime")
    })
}

/// The longest a request may take before its test fails (a hang fails
/// the test, naming the request, instead of stalling the whole run).
const REQUEST_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

pub(crate) async fn send(
    router: impl FnOnce() -> axum::Router + Send + 'static,
    request: Request<Body>,
) -> Reply {
    let what = format!("{} {}", request.method(), request.uri());
    let task = server_runtime().spawn(async move {
        let response = router().oneshot(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), 16 * 1024 * 1024)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            body,
        }
    });
    let abort = task.abort_handle();
    match tokio::time::timeout(REQUEST_LIMIT, task).await {
        Ok(reply) => reply.expect("the request's task"),
        Err(_) => {
            // Not left running on the shared runtime, holding connections.
            abort.abort();
            let sessions = database_sessions().await;
            panic!("{what}: no answer within {REQUEST_LIMIT:?}; the server's sessions then:\n{sessions}")
        }
    }
}

/// Every session of the test cluster that is not idle (what each waits
/// for and runs), so a hang's report says whether the database held it.
async fn database_sessions() -> String {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        return "DATABASE_URL is not set".into();
    };
    let rows: Result<Vec<String>, sqlx::Error> = async {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await?;
        sqlx::query_scalar(
            "SELECT format('%s pid %s %s %s/%s for %s: %s', datname, pid, state,
                           wait_event_type, wait_event, now() - state_change, left(query, 300))
             FROM pg_stat_activity
             WHERE state IS DISTINCT FROM 'idle' AND pid <> pg_backend_pid() AND datname IS NOT NULL",
        )
        .fetch_all(&mut conn)
        .await
    }
    .await;
    match rows {
        Ok(rows) => rows.join("\n"),
        Err(e) => format!("(could not list them: {e})"),
    }
}

/// The password of every account the tests create.
pub(crate) const PASSWORD: &str = "correct horse battery";

/// The operator most tests act as.
pub(crate) const OPERATOR: &str = "ops@example.com";

/// Signs in as `email` (creating the account with `role` first when it does
/// not exist) through `POST /login`; returns the session cookie
/// (`name=value`) to send back.
pub(crate) async fn signed_in_as(
    pool: &PgPool,
    email: &str,
    role: switchyard::model::account::Role,
) -> String {
    if switchyard::store::accounts::credentials(pool, email)
        .await
        .expect("look up")
        .is_none()
    {
        switchyard::accounts::add(pool, email, PASSWORD, role)
            .await
            .expect("add the account");
    }
    let r = sign_in(pool, email, PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "signed in");
    session_cookie(&r).expect("a session cookie")
}

/// The operator's session cookie (see `signed_in_as`).
pub(crate) async fn operator(pool: &PgPool) -> String {
    signed_in_as(pool, OPERATOR, switchyard::model::account::Role::Operator).await
}

/// Posts the sign-in form (with the session cookie `cookie`, if any).
pub(crate) async fn sign_in(
    pool: &PgPool,
    email: &str,
    password: &str,
    cookie: Option<&str>,
) -> Reply {
    let mut request = Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let form = format!(
        "email={}&password={}&next=%2Fm%2F{DEMO}",
        encode(email),
        encode(password)
    );
    send(
        app_of(pool),
        request.body(Body::from(form)).expect("request"),
    )
    .await
}

/// The whole `Set-Cookie` (value and attributes) a reply sets for the
/// cookie `name`.
pub(crate) fn set_cookie<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.split('=').next() == Some(name))
}

/// `name=value` of the session cookie a reply sets.
pub(crate) fn session_cookie(reply: &Reply) -> Option<String> {
    set_cookie(reply, "switchyard_session")
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

/// GETs `uri` as a browser asking for a page, with `cookie` when given.
pub(crate) async fn get_as(pool: &PgPool, uri: &str, cookie: Option<&str>) -> Reply {
    let mut request = Request::get(uri).header("accept", "text/html");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    send(app_of(pool), request.body(Body::empty()).expect("request")).await
}

/// GETs `uri` signed in as the operator.
async fn get(pool: &PgPool, uri: &str) -> (StatusCode, String) {
    let cookie = operator(pool).await;
    let r = get_as(pool, uri, Some(&cookie)).await;
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

#[sqlx::test(migrations = "./migrations")]
async fn home_page_lists_the_seeded_migration(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (status, html) = get(&pool, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("User Preferences Schema Migration"), "{html}");
    assert!(html.contains("Phase 1 of 5: Create new tables with indexes"));
    assert!(html.contains(&format!("href=\"/m/{DEMO}\"")));
}

#[sqlx::test(migrations = "./migrations")]
async fn migration_page_renders_spec_from_the_database(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    // Change the stored spec: the page must show what the database holds.
    sqlx::query(
        r#"UPDATE switchyard.specs SET blocks = '[{"type":"code","code":{"language":"sql",
           "rich_text":[{"type":"text","plain_text":"SELECT 42 AS answer","href":null}]}}]'"#,
    )
    .execute(&pool)
    .await
    .expect("update");
    let (status, html) = get(&pool, &format!("/m/{DEMO}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("SELECT 42 AS answer"), "{html}");
    assert!(html.contains("data-language=\"sql\""));
}

#[sqlx::test(migrations = "./migrations")]
async fn unknown_migration_is_a_404(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (status, html) = get(&pool, "/m/does-not-exist").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Not found"));
}

#[sqlx::test(migrations = "./migrations")]
async fn hostile_links_in_a_spec_are_not_rendered_as_links(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    sqlx::query(
        r#"UPDATE switchyard.specs SET blocks = '[{"type":"paragraph","paragraph":{
           "rich_text":[{"type":"text","plain_text":"<script>alert(1)</script> click",
                          "href":"javascript:alert(1)"}]}}]'"#,
    )
    .execute(&pool)
    .await
    .expect("update");
    let (status, html) = get(&pool, &format!("/m/{DEMO}")).await;
    assert_eq!(status, StatusCode::OK);
    // The text may appear in the serialised hydration data, never as a link.
    assert!(!html.contains("href=\"javascript:"));
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; click"));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_phases_page_links_its_dry_runs_and_they_read_as_text(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (status, html) = get(&pool, &format!("/m/{DEMO}/phases")).await;
    assert_eq!(status, StatusCode::OK);
    // The page carries each phase's state and a link to its SQL, not the
    // SQL itself (loaded when a dry run is unfolded).
    assert!(html.contains("console-phase"), "{html}");
    for n in 1..=5 {
        assert!(
            html.contains(&format!("href=\"/dry-run/{DEMO}/{n}\"")),
            "phase {n}: {html}"
        );
    }
    assert!(!html.contains("CREATE TABLE IF NOT EXISTS"), "{html}");
    let request = Request::get(format!("/dry-run/{DEMO}/1"))
        .header("cookie", operator(&pool).await)
        .body(Body::empty())
        .expect("request");
    let r = send(app_of(&pool), request).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/plain; charset=utf-8")
    );
    let sql = String::from_utf8_lossy(&r.body);
    assert!(
        sql.contains(r#"CREATE TABLE IF NOT EXISTS "public"."user_preferences""#),
        "{sql}"
    );
    for (uri, expected) in [
        (format!("/dry-run/{DEMO}/9"), StatusCode::NOT_FOUND),
        ("/dry-run/nope/1".to_string(), StatusCode::NOT_FOUND),
    ] {
        let (status, _) = get(&pool, &uri).await;
        assert_eq!(status, expected, "{uri}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn read_flag_endpoint_reports_where_to_read(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (status, body) = get(&pool, &format!("/flags/{DEMO}")).await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["reads_from"], "source");
    assert!(json.get("changed_at").is_none(), "never set: {json}");
    sqlx::query(
        "INSERT INTO switchyard.read_flags (migration_name, reads_from) VALUES ($1, 'targets')",
    )
    .bind(DEMO)
    .execute(&pool)
    .await
    .expect("flip");
    let (_, body) = get(&pool, &format!("/flags/{DEMO}")).await;
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["reads_from"], "targets");
    assert_eq!(json["migration"], DEMO);
    assert!(json["changed_at"].is_string(), "{json}");
    let (status, _) = get(&pool, "/flags/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Calls a server function the way the browser does (URL-encoded POST),
/// signed in as the operator.
async fn call(pool: &PgPool, path: &str, form: &str) -> (StatusCode, String) {
    let cookie = operator(pool).await;
    call_as(pool, Some(&cookie), path, form).await
}

/// `call`, with the session cookie `cookie` (or none).
pub(crate) async fn call_as(
    pool: &PgPool,
    cookie: Option<&str>,
    path: &str,
    form: &str,
) -> (StatusCode, String) {
    let mut request = Request::post(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let request = request
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(Body::from(form.to_string()))
        .expect("request");
    let r = send(app_of(pool), request).await;
    (r.status, String::from_utf8_lossy(&r.body).into_owned())
}

#[sqlx::test(migrations = "./migrations")]
async fn move_task_server_fn_refuses_unknown_statuses_and_stale_revisions(pool: PgPool) {
    use switchyard::api::tasks::MoveTask;
    crate::seeded(&pool, 0).await;
    let (id, rev): (i64, i32) =
        sqlx::query_as("SELECT id, revision FROM switchyard.tasks WHERE title = 'Add dual-write'")
            .fetch_one(&pool)
            .await
            .expect("task");
    let (status, body) = call(
        &pool,
        MoveTask::PATH,
        &format!("name={DEMO}&task_id={id}&status=Shipped&revision={rev}"),
    )
    .await;
    assert!(!status.is_success(), "{status}");
    assert!(
        body.contains("status") && body.contains("Shipped"),
        "{body}"
    );

    let (status, body) = call(
        &pool,
        MoveTask::PATH,
        &format!("name={DEMO}&task_id={id}&status=Done&revision={rev}"),
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(body.trim(), (rev + 1).to_string());

    let (status, body) = call(
        &pool,
        MoveTask::PATH,
        &format!("name={DEMO}&task_id={id}&status=Blocked&revision={rev}"),
    )
    .await;
    assert!(!status.is_success());
    assert!(body.contains("Conflict"), "{body}");
    let stored: String = sqlx::query_scalar("SELECT status FROM switchyard.tasks WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("status");
    assert_eq!(stored, "Done", "the stale move changed nothing");
}

#[sqlx::test(migrations = "./migrations")]
async fn act_on_phase_server_fn_refuses_out_of_order(pool: PgPool) {
    use switchyard::api::console::ActOnPhase;
    crate::seeded(&pool, 0).await;
    let (status, body) = call(
        &pool,
        ActOnPhase::PATH,
        "name=user-preferences&phase=3&action=Run&accept_quarantine=false",
    )
    .await;
    assert!(!status.is_success(), "{status}");
    assert!(body.contains("phases run in order"), "{body}");
    // A phase is a `Phase`: a number that names none is refused on decoding.
    let (status, body) = call(
        &pool,
        ActOnPhase::PATH,
        "name=user-preferences&phase=9&action=Run&accept_quarantine=false",
    )
    .await;
    assert!(!status.is_success(), "{status}");
    assert!(body.contains("there is no phase 9"), "{body}");
}

/// The board page a form is posted from (the browser sends it as Referer).
const BOARD: &str = "http://localhost/m/user-preferences/tasks?priority=High";

/// Posts a form the way a browser without JavaScript does: URL-encoded
/// (brackets and all), asking for HTML, from the board page. Returns the
/// status and the Location header.
async fn post_form(pool: &PgPool, path: &str, form: &str) -> (StatusCode, Option<String>) {
    post_form_from(pool, BOARD, path, form).await
}

/// `post_form`, from the page `referer`.
async fn post_form_from(
    pool: &PgPool,
    referer: &str,
    path: &str,
    form: &str,
) -> (StatusCode, Option<String>) {
    let request = Request::post(path)
        .header("cookie", operator(pool).await)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .header("referer", referer)
        .body(Body::from(form.to_string()))
        .expect("request");
    let r = send(app_of(pool), request).await;
    let location = header(&r, "location").map(str::to_string);
    (r.status, location)
}

async fn task_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM switchyard.tasks")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[sqlx::test(migrations = "./migrations")]
async fn create_form_posted_without_javascript_saves_and_redirects_to_the_board(pool: PgPool) {
    use switchyard::api::tasks::CreateTask;
    crate::seeded(&pool, 0).await;
    let (dep, _): (i64, i32) = sqlx::query_as(
        "SELECT id, revision FROM switchyard.tasks WHERE title = 'Write migration SQL'",
    )
    .fetch_one(&pool)
    .await
    .expect("task");
    // What the board's "New task" form sends, encoded as a browser does.
    let form = format!(
        "name=user-preferences&form%5Bstatus%5D=To+Do&form%5Btitle%5D=Write+the+runbook\
         &form%5Bassignee%5D=Dana+Okafor&form%5Bpriority%5D=High\
         &form%5Bdepends_on%5D%5B%5D={dep}&form%5Bcriteria%5D=Reviewed%0D%0AOn+the+wiki"
    );
    let (status, location) = post_form(&pool, CreateTask::PATH, &form).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(location.as_deref(), Some(BOARD), "back to the board");

    let tasks = switchyard::store::migrations::tasks(&pool, crate::DEMO)
        .await
        .expect("tasks");
    let created = tasks
        .iter()
        .find(|t| t.title == "Write the runbook")
        .expect("the task was created");
    assert_eq!(created.status, switchyard::model::TaskStatus::ToDo);
    assert_eq!(created.priority, switchyard::model::Priority::High);
    assert_eq!(created.assignee.as_deref(), Some("Dana Okafor"));
    let deps: Vec<i64> = created.depends_on.iter().map(|d| d.id).collect();
    assert_eq!(deps, vec![dep]);
    let criteria: Vec<&str> = created.criteria.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(criteria, vec!["Reviewed", "On the wiki"]);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_refused_form_redirects_back_with_the_field_shown_and_saves_nothing(pool: PgPool) {
    use switchyard::api::tasks::{CreateTask, UpdateTask};
    crate::seeded(&pool, 0).await;
    // An empty title: refused, back to the board with the refusal in the URL.
    let (status, location) = post_form(
        &pool,
        CreateTask::PATH,
        "name=user-preferences&form%5Bstatus%5D=To+Do&form%5Btitle%5D=+++&form%5Bpriority%5D=Low",
    )
    .await;
    assert!(status.is_redirection(), "{status}");
    let location = location.expect("a Location header");
    assert!(
        location.starts_with(BOARD) && location.contains("__err="),
        "{location}"
    );
    assert_eq!(task_count(&pool).await, 5, "nothing saved");
    // The board it lands on shows the refusal next to the form, field named.
    let path = location.trim_start_matches("http://localhost");
    let (status, html) = get(&pool, path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"data-field="title""#) && html.contains("title: a task needs a title"),
        "{html}"
    );

    // A dependency that is not a task id is refused naming depends_on.
    let (id, rev): (i64, i32) =
        sqlx::query_as("SELECT id, revision FROM switchyard.tasks WHERE title = 'Add dual-write'")
            .fetch_one(&pool)
            .await
            .expect("task");
    let (status, location) = post_form(
        &pool,
        UpdateTask::PATH,
        &format!(
            "name=user-preferences&task_id={id}&revision={rev}&form%5Btitle%5D=Renamed\
             &form%5Bstatus%5D=Done&form%5Bpriority%5D=Low&form%5Bdepends_on%5D%5B%5D=two"
        ),
    )
    .await;
    assert!(status.is_redirection(), "{status}");
    let location = location.expect("a Location header");
    let (_, html) = get(&pool, location.trim_start_matches("http://localhost")).await;
    assert!(
        html.contains("Could not save the task: depends_on: ") && html.contains("is not a task id"),
        "{html}"
    );
    let (title, revision): (String, i32) =
        sqlx::query_as("SELECT title, revision FROM switchyard.tasks WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("task");
    assert_eq!(
        (title.as_str(), revision),
        ("Add dual-write", rev),
        "unchanged"
    );
}

/// The plan page the editor's form is posted from.
const PLAN: &str = "http://localhost/m/user-preferences/plan";

/// Percent-encodes a form value as a browser does (`+` for spaces).
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether the plan page's editor (`<details class="plan-edit">`) is
/// rendered open; `None` when the page has no editor.
fn editor_open(html: &str) -> Option<bool> {
    let at = html.find(r#"class="plan-edit""#)?;
    let start = html[..at].rfind("<details")?;
    let end = at + html[at..].find('>')?;
    Some(html[start..end].split_whitespace().any(|a| a == "open"))
}

/// What the plan editor's form sends: every field of every phase, as the
/// plan is now, with `change` applied, on top of `base_revision`.
async fn plan_form(
    pool: &PgPool,
    base_revision: i32,
    change: impl FnOnce(&mut switchyard::model::plan::PlanEdit),
) -> String {
    let mut edit = switchyard::store::plans::history(pool, crate::DEMO)
        .await
        .expect("history")
        .remove(0)
        .plan;
    change(&mut edit);
    let mut pairs = vec![
        ("name".to_string(), crate::DEMO.to_string()),
        ("base_revision".into(), base_revision.to_string()),
        ("form[body_markdown]".into(), edit.body_markdown.clone()),
    ];
    for (i, p) in edit.phases.iter().enumerate() {
        for (key, value) in [
            ("position", p.position.to_string()),
            ("description", p.description.clone()),
            ("owner", p.owner.clone()),
            ("status_note", p.status_note.clone()),
            ("blockers", p.blockers.clone()),
        ] {
            pairs.push((format!("form[phases][{i}][{key}]"), value));
        }
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[sqlx::test(migrations = "./migrations")]
async fn plan_form_posted_without_javascript_saves_a_revision_and_redirects_back(pool: PgPool) {
    use switchyard::api::plans::SavePlan;
    crate::seeded(&pool, 0).await;
    let before = switchyard::store::migrations::plan(&pool, crate::DEMO)
        .await
        .expect("plan");
    let form = plan_form(&pool, 1, |edit| {
        edit.body_markdown = "## Rollout\r\n\r\nShip **carefully** & slowly.".into();
        edit.phases[1].status_note = "waiting for the benchmark".into();
        edit.phases[2].owner = "Zoe Park".into();
    })
    .await;
    let (status, location) = post_form_from(&pool, PLAN, SavePlan::PATH, &form).await;
    assert!(status.is_redirection(), "{status}");
    // Back to the plan (the server drops the query it would carry a
    // refusal in, leaving an empty one).
    assert_eq!(
        location.as_deref().map(|l| l.trim_end_matches('?')),
        Some(PLAN),
        "back to the plan"
    );

    let plan = switchyard::store::migrations::plan(&pool, crate::DEMO)
        .await
        .expect("plan");
    assert_eq!(plan.revision, 2, "a new revision");
    assert_eq!(
        plan.body_markdown,
        "## Rollout\r\n\r\nShip **carefully** & slowly."
    );
    assert_eq!(plan.phases[1].status_note, "waiting for the benchmark");
    assert_eq!(plan.phases[2].owner.as_deref(), Some("Zoe Park"));
    assert_eq!(
        plan.phases[0].description, before.phases[0].description,
        "fields posted as they were are kept"
    );
    let history = switchyard::store::plans::history(&pool, crate::DEMO)
        .await
        .expect("history");
    assert_eq!(
        (history[0].revision, history[0].saved_by.as_str()),
        (2, OPERATOR)
    );
    // The page it lands on shows the new revision, the editor closed.
    let (status, html) = get(&pool, &format!("/m/{DEMO}/plan")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Revision 2"), "{html}");
    assert_eq!(editor_open(&html), Some(false), "{html}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_stale_plan_form_redirects_back_with_the_conflict_and_saves_nothing(pool: PgPool) {
    use switchyard::api::plans::SavePlan;
    crate::seeded(&pool, 0).await;
    // Someone else saves revision 2 while this form still says revision 1.
    let theirs = plan_form(&pool, 1, |edit| edit.body_markdown = "Alice's plan".into()).await;
    let (status, _) = post_form_from(&pool, PLAN, SavePlan::PATH, &theirs).await;
    assert!(status.is_redirection(), "{status}");
    let stale = plan_form(&pool, 1, |edit| edit.body_markdown = "Bob's plan".into()).await;
    let (status, location) = post_form_from(&pool, PLAN, SavePlan::PATH, &stale).await;
    assert!(status.is_redirection(), "{status}");
    let location = location.expect("a Location header");
    assert!(
        location.starts_with(PLAN) && location.contains("__err="),
        "{location}"
    );
    let plan = switchyard::store::migrations::plan(&pool, crate::DEMO)
        .await
        .expect("plan");
    assert_eq!(
        (plan.revision, plan.body_markdown.as_str()),
        (2, "Alice's plan"),
        "nothing overwritten"
    );
    // The plan it lands on opens the editor with the conflict and their
    // version.
    let (status, html) = get(&pool, location.trim_start_matches("http://localhost")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(editor_open(&html), Some(true), "the editor is open: {html}");
    assert!(
        html.contains(
            "the plan was saved by someone else as revision 2 while you edited revision 1"
        ),
        "{html}"
    );
    assert!(
        html.contains("Conflict: revision 2 was saved by ops@example.com while you edited"),
        "{html}"
    );
    assert!(
        html.contains(r#"<pre class="theirs">Alice's plan"#),
        "{html}"
    );

    assert!(
        !html.contains("Keep mine"),
        "what was typed is not kept without JavaScript, so it cannot be kept: {html}"
    );
}

// Each request builds the app anew (with its own live feed's connection), so
// a test makes few of them: the refused field is a test of its own.
#[sqlx::test(migrations = "./migrations")]
async fn a_refused_plan_field_posted_without_javascript_is_shown_beside_it(pool: PgPool) {
    use switchyard::api::plans::SavePlan;
    crate::seeded(&pool, 0).await;
    let long = plan_form(&pool, 1, |edit| edit.phases[2].owner = "x".repeat(101)).await;
    let (status, location) = post_form_from(&pool, PLAN, SavePlan::PATH, &long).await;
    assert!(status.is_redirection(), "{status}");
    let location = location.expect("a Location header");
    let (_, html) = get(&pool, location.trim_start_matches("http://localhost")).await;
    // Beside the field: within the owner input's label.
    let owner = html
        .find(r#"name="form[phases][2][owner]""#)
        .map(|at| &html[at..at + html[at..].find("</label>").unwrap_or(0)]);
    assert!(
        owner.is_some_and(
            |label| label.contains("field-error") && label.contains("at most 100 characters")
        ),
        "{html}"
    );
    let plan = switchyard::store::migrations::plan(&pool, crate::DEMO)
        .await
        .expect("plan");
    assert_eq!(plan.revision, 1, "nothing saved");
}

/// The value of the sample of metric `name` whose labels include `labels`
/// (Prometheus text format), if there is one.
fn sample(body: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[sqlx::test(migrations = "./migrations")]
async fn metrics_report_the_demo_and_follow_its_changes(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    // Public: Prometheus does not sign in.
    let request = Request::get("/metrics")
        .body(Body::empty())
        .expect("request");
    let response = send(app_of(&pool), request).await;
    assert_eq!(response.status, StatusCode::OK);
    let content_type = header(&response, "content-type").unwrap_or("");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let (_, body) = get(&pool, "/metrics").await;
    let m = ("migration", DEMO);
    for (phase, name) in [(1, "expand"), (2, "backfill"), (5, "contract")] {
        let phase = phase.to_string();
        let at = |state| {
            sample(
                &body,
                "switchyard_phase_state",
                &[m, ("phase", &phase), ("name", name), ("state", state)],
            )
        };
        assert_eq!(at("pending"), Some(1.0), "{body}");
        assert_eq!(at("running"), Some(0.0), "{body}");
    }
    assert_eq!(
        sample(&body, "switchyard_quarantined_documents", &[m]),
        Some(0.0),
        "{body}"
    );
    // No backfill yet: no progress series.
    assert_eq!(sample(&body, "switchyard_backfill_rows_done", &[m]), None);

    // The engine runs phase 1, then backfills half, quarantines one
    // document, and the operator pauses it with a throttle.
    sqlx::query(
        "UPDATE switchyard.phase_states s SET state = CASE s.position WHEN 1 THEN 'done' ELSE 'paused' END
         FROM switchyard.migrations m WHERE m.id = s.migration_id AND m.name = $1 AND s.position <= 2",
    )
    .bind(DEMO)
    .execute(&pool)
    .await
    .expect("states");
    sqlx::query(
        "INSERT INTO switchyard.backfill_progress
           (migration_name, last_key, rows_done, rows_total, quarantined, batch_size, rows_per_second,
            paused, target_batch_ms, throttle_ms)
         VALUES ($1, '500', 500, 1000, 1, 250, 1234.5, true, 150, 40)",
    )
    .bind(DEMO)
    .execute(&pool)
    .await
    .expect("progress");
    sqlx::query(
        "INSERT INTO switchyard.quarantine (migration_name, source_key, reason) VALUES ($1, '7', 'bad')",
    )
    .bind(DEMO)
    .execute(&pool)
    .await
    .expect("quarantine");

    let (_, body) = get(&pool, "/metrics").await;
    let state = |phase: &str, state| {
        sample(
            &body,
            "switchyard_phase_state",
            &[m, ("phase", phase), ("state", state)],
        )
    };
    assert_eq!(state("1", "done"), Some(1.0), "{body}");
    assert_eq!(state("1", "pending"), Some(0.0), "{body}");
    assert_eq!(state("2", "paused"), Some(1.0), "{body}");
    assert_eq!(state("3", "pending"), Some(1.0), "{body}");
    for (name, value) in [
        ("switchyard_backfill_rows_done", 500.0),
        ("switchyard_backfill_rows_total", 1000.0),
        ("switchyard_backfill_rows_per_second", 1234.5),
        ("switchyard_backfill_batch_size", 250.0),
        ("switchyard_backfill_paused", 1.0),
        ("switchyard_backfill_abort_requested", 0.0),
        ("switchyard_backfill_throttle_ms", 40.0),
        ("switchyard_backfill_target_batch_ms", 150.0),
        ("switchyard_quarantined_documents", 1.0),
    ] {
        assert_eq!(sample(&body, name, &[m]), Some(value), "{name}: {body}");
    }
    assert!(
        sample(&body, "switchyard_backfill_updated_timestamp_seconds", &[m])
            .is_some_and(|t| t > 1.7e9),
        "{body}"
    );
}

/// A site folder of its own with a hashed wasm (and its precompressed
/// copies, with contents that tell them apart) and an unhashed stylesheet.
fn asset_site(tag: &str) -> (std::path::PathBuf, String) {
    let root = std::env::temp_dir().join(format!("switchyard-site-{tag}-{}", std::process::id()));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    let wasm = "switchyard.q5sBQ1hK3PrVAl0Ab6-x_w.wasm".to_string();
    std::fs::write(pkg.join(&wasm), b"\0asm plain").expect("write");
    std::fs::write(pkg.join(format!("{wasm}.br")), b"brotli bytes").expect("write");
    std::fs::write(pkg.join(format!("{wasm}.gz")), b"gzip bytes").expect("write");
    std::fs::write(
        pkg.join("switchyard.css"),
        "body { color: black; }\n".repeat(20),
    )
    .expect("write");
    (root, wasm)
}

async fn get_with(router: axum::Router, uri: &str, accept: Option<&str>, cookie: &str) -> Reply {
    let mut request = Request::get(uri).header("cookie", cookie);
    if let Some(accept) = accept {
        request = request.header("accept-encoding", accept);
    }
    send(
        move || router,
        request.body(Body::empty()).expect("request"),
    )
    .await
}

/// With `SWITCHYARD_METRICS_TOKEN` set, a scrape needs it as a bearer
/// token: without it, or with another, 401 and no figures.
#[sqlx::test(migrations = "./migrations")]
async fn metrics_with_a_token_answer_only_scrapes_that_send_it(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let scrape = |authorization: Option<&'static str>| {
        let p = pool.clone();
        async move {
            let auth = switchyard::server::auth::AuthSettings {
                metrics_token: Some("s3cret-scrape".into()),
                ..Default::default()
            };
            let mut request = Request::get("/metrics");
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            send(
                move || app_with(p, auth),
                request.body(Body::empty()).expect("request"),
            )
            .await
        }
    };
    for refused in [
        None,
        Some("Bearer wrong"),
        Some("Basic czNjcmV0LXNjcmFwZQ=="),
    ] {
        let r = scrape(refused).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{refused:?}");
        assert!(
            header(&r, "www-authenticate").is_some_and(|v| v.starts_with("Bearer")),
            "{refused:?}"
        );
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains("switchyard_phase_state"), "{body}");
        assert!(body.contains("SWITCHYARD_METRICS_TOKEN"), "{body}");
    }
    let r = scrape(Some("Bearer s3cret-scrape")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&r.body).contains("switchyard_phase_state"));
}

/// With `SWITCHYARD_FLAGS_TOKEN` set, the read flag answers only requests
/// that send it (an application's poller), and does not even say whether a
/// migration exists to anyone else.
#[sqlx::test(migrations = "./migrations")]
async fn flags_with_a_token_answer_only_requests_that_send_it(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let config = switchyard::server::config::Config::from_vars(|name| match name {
        "SWITCHYARD_FLAGS_TOKEN" => Some(" app-poller ".into()),
        _ => None,
    })
    .expect("config");
    let auth = switchyard::server::auth::AuthSettings::from_config(&config);
    let ask = |path: String, authorization: Option<&'static str>| {
        let (p, a) = (pool.clone(), auth.clone());
        async move {
            let mut request = Request::get(path);
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            send(
                move || app_with(p, a),
                request.body(Body::empty()).expect("request"),
            )
            .await
        }
    };
    for path in [format!("/flags/{DEMO}"), "/flags/nope".to_string()] {
        for refused in [None, Some("Bearer wrong"), Some("app-poller")] {
            let r = ask(path.clone(), refused).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path} {refused:?}");
            let body = String::from_utf8_lossy(&r.body);
            assert!(!body.contains("reads_from"), "{body}");
            assert!(body.contains("SWITCHYARD_FLAGS_TOKEN"), "{body}");
        }
    }
    let r = ask(format!("/flags/{DEMO}"), Some("Bearer app-poller")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&r.body).contains("reads_from"));
    let r = ask("/flags/nope".into(), Some("bearer app-poller")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

pub(crate) fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).and_then(|v| v.to_str().ok())
}

#[sqlx::test(migrations = "./migrations")]
async fn hashed_assets_are_cached_for_a_year_and_sent_as_brotli_when_accepted(pool: PgPool) {
    crate::seeded(&pool, 0).await;
    let (root, wasm) = asset_site("cache");
    let options = LeptosOptions::builder()
        .output_name("switchyard")
        .site_root(root.to_string_lossy().to_string())
        .build();
    let router = switchyard::server::app::router(
        options,
        pool.clone(),
        switchyard::console::Settings::default(),
    );
    let uri = format!("/pkg/{wasm}");
    let cookie = operator(&pool).await;

    let r = get_with(
        router.clone(),
        &uri,
        Some("gzip, deflate, br, zstd"),
        &cookie,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r, "content-encoding"), Some("br"));
    assert_eq!(
        header(&r, "cache-control"),
        Some(switchyard::server::app::IMMUTABLE)
    );
    assert_eq!(header(&r, "content-type"), Some("application/wasm"));
    let body = r.body.clone();
    assert_eq!(&body[..], b"brotli bytes");

    let r = get_with(router.clone(), &uri, Some("gzip"), &cookie).await;
    assert_eq!(header(&r, "content-encoding"), Some("gzip"));
    assert_eq!(
        header(&r, "cache-control"),
        Some(switchyard::server::app::IMMUTABLE)
    );
    let body = r.body.clone();
    assert_eq!(&body[..], b"gzip bytes");

    let r = get_with(router.clone(), &uri, None, &cookie).await;
    assert_eq!(header(&r, "content-encoding"), None);
    let body = r.body.clone();
    assert_eq!(&body[..], b"\0asm plain");

    // Not named by its hash: revalidated, compressed on the fly.
    let r = get_with(
        router.clone(),
        "/pkg/switchyard.css",
        Some("gzip, br"),
        &cookie,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(header(&r, "cache-control"), Some("no-cache"));
    assert_eq!(header(&r, "content-encoding"), Some("br"));
    let r = get_with(router.clone(), "/pkg/switchyard.css", Some("gzip"), &cookie).await;
    assert_eq!(header(&r, "content-encoding"), Some("gzip"));

    // A missing asset is a 404 with no caching.
    let r = get_with(
        router.clone(),
        "/pkg/switchyard.AAAAAAAAAAAAAAAAAAAAAA.js",
        Some("br"),
        &cookie,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(header(&r, "cache-control"), None);

    // Pages: compressed as asked, never kept long.
    for page in ["/", &format!("/m/{DEMO}/phases")] {
        let r = get_with(router.clone(), page, Some("gzip, deflate, br"), &cookie).await;
        assert_eq!(r.status, StatusCode::OK, "{page}");
        assert_eq!(header(&r, "content-encoding"), Some("br"), "{page}");
        let cache = header(&r, "cache-control").unwrap_or("");
        assert!(
            !cache.contains("immutable") && !cache.contains("max-age"),
            "{page}: {cache}"
        );
        let r = get_with(router.clone(), page, Some("gzip"), &cookie).await;
        assert_eq!(header(&r, "content-encoding"), Some("gzip"), "{page}");
    }
    let _ = std::fs::remove_dir_all(root);
}
