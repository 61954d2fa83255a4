//! Who is asking, on every request, in one place.
//!
//! - `session_layer`: server-side sessions in `switchyard.sessions` (the
//!   cookie holds only a random 128-bit id; HttpOnly, SameSite=Lax, Secure
//!   when the public URL is https; idle expiry).
//! - `guard` (middleware, every request): refuses cross-origin requests
//!   that could change something, ends sessions past their absolute age or
//!   of disabled accounts, puts the signed-in account into the request, and
//!   turns away anonymous requests except for the few public paths (sign
//!   in, first-run setup, the bundle, the read flag, metrics, and share
//!   link pages, which check their token).
//! - `require`: what every server function calls first with the role it
//!   needs; refuses with 401 or 403.
//! - The sign-in, sign-out and first-run endpoints (plain HTML form posts).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tower_sessions::cookie::{time, SameSite};
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

use crate::accounts::{self, AccountError, SignInLimits};
use crate::engine::Event;
use crate::model::account::{Role, SignedIn};
use crate::model::AppError;
use crate::store::accounts::Account;

/// How sessions and sign-ins behave (from `Config`).
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// Mark the session and device cookies `Secure` (the public URL is https).
    pub secure_cookie: bool,
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after its sign-in, used or not.
    pub absolute: Duration,
    /// The origin pages are served from (`https://switchyard.example.com`),
    /// accepted as a request's `Origin` besides the request's own host.
    pub public_origin: Option<String>,
    pub limits: SignInLimits,
    /// The bearer token `/metrics` asks for (none: it is public; see
    /// `server::metrics`).
    pub metrics_token: Option<String>,
    /// The bearer token `/flags/{name}` asks for (none: it is public).
    pub flags_token: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client
    /// (`client_address`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            secure_cookie: false,
            idle: Duration::from_secs(8 * 3600),
            absolute: Duration::from_secs(7 * 24 * 3600),
            public_origin: None,
            limits: SignInLimits::default(),
            metrics_token: None,
            flags_token: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl AuthSettings {
    pub fn from_config(config: &super::config::Config) -> Self {
        let public_origin = config.public_url.as_deref().map(origin_of);
        AuthSettings {
            secure_cookie: public_origin
                .as_deref()
                .is_some_and(|o| o.starts_with("https://")),
            idle: config.session_idle,
            absolute: config.session_max,
            public_origin,
            limits: SignInLimits::default(),
            metrics_token: config.metrics_token.clone(),
            flags_token: config.flags_token.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }
}

/// `https://host:port` of a URL (scheme and authority, no path).
fn origin_of(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split('/').next().unwrap_or(rest);
            format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                authority.to_ascii_lowercase()
            )
        }
        None => url.to_ascii_lowercase(),
    }
}

/// What the guard and the endpoints share.
#[derive(Clone)]
pub struct AuthState {
    pub pool: PgPool,
    pub settings: Arc<AuthSettings>,
}

/// The signed-in account of a request (a request extension, set by `guard`).
#[derive(Clone, Debug)]
pub struct Current(pub Account);

/// When the request's session ends at the latest, whatever its use (Unix
/// seconds: its sign-in plus `AuthSettings::absolute`); a request
/// extension beside `Current`, for what outlives the request (a live feed).
#[derive(Clone, Copy, Debug)]
pub struct SessionEnds(pub i64);

/// The client's address (a request extension, set by `guard`): the peer's
/// IP, or the client a trusted proxy names (`client_address`), or
/// "unknown" where the server was not told it (in-process tests).
#[derive(Clone, Debug)]
pub struct ClientAddress(pub String);

/// Who sent a request: the peer, unless the peer is a trusted proxy. Then
/// `forwarded` (`X-Forwarded-For`, each proxy appending the address it
/// was reached from) is read from the right, past every trusted proxy, to
/// the first address no trusted proxy is: the one the outermost trusted
/// proxy saw. Addresses to its left were written by the client itself and
/// prove nothing (a guesser could otherwise pick a fresh address for each
/// try and never meet the per-address limit). An entry that is not an
/// address stops the walk at the last trusted hop.
pub fn client_address(
    peer: Option<std::net::IpAddr>,
    forwarded: &str,
    trusted: &[ipnet::IpNet],
) -> Option<std::net::IpAddr> {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|net| net.contains(ip));
    // A dual-stack listener sees IPv4 peers as `::ffff:10.0.0.2`.
    let mut client = peer?.to_canonical();
    if !is_trusted(&client) {
        return Some(client);
    }
    for entry in forwarded
        .rsplit(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let Some(ip) = parse_forwarded(entry).map(|ip| ip.to_canonical()) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port
/// (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_forwarded(entry: &str) -> Option<std::net::IpAddr> {
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The session's record of a sign-in.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct SignInRecord {
    account_id: i64,
    /// Unix seconds.
    signed_in_at: i64,
    /// Unix seconds; rewritten at most once a minute, which saves the
    /// session with a new idle expiry.
    seen_at: i64,
}

const SESSION_KEY: &str = "sign_in";
const COOKIE_NAME: &str = "switchyard_session";

fn store(pool: PgPool) -> PostgresStore {
    // Both names are plain identifiers, accepted by the store's check.
    let store = PostgresStore::new(pool.clone());
    store
        .clone()
        .with_schema_name("switchyard")
        .and_then(|s| s.with_table_name("sessions"))
        .unwrap_or(store)
}

/// Sessions kept in `switchyard.sessions` (our migration creates the table).
pub fn session_layer(pool: PgPool, settings: &AuthSettings) -> SessionManagerLayer<PostgresStore> {
    let idle = time::Duration::seconds(i64::try_from(settings.idle.as_secs()).unwrap_or(i64::MAX));
    SessionManagerLayer::new(store(pool))
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.secure_cookie)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
}

/// Deletes expired sessions every `period`, for as long as the server runs.
pub fn spawn_expired_session_cleanup(pool: PgPool, period: Duration) {
    use tower_sessions::ExpiredDeletion;
    tokio::spawn(async move {
        if let Err(e) = store(pool).continuously_delete_expired(period).await {
            tracing::warn!(error = %e, "deleting expired sessions stopped");
        }
    });
}

/// Paths anyone may request without signing in. `/s/{token}` pages check
/// their token themselves (read-only; see `api::shares`).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login" | "/logout" | "/setup" | "/metrics" | "/favicon.ico"
    ) || path.starts_with("/pkg/")
        || path.starts_with("/flags/")
        || path.starts_with("/s/")
        || path == super::islands_routing::path()
}

/// Public paths whose answers never depend on who asks.
fn is_anonymous_only(path: &str) -> bool {
    matches!(path, "/metrics" | "/favicon.ico" | "/notion/webhook")
        || path.starts_with("/pkg/")
        || path.starts_with("/flags/")
        || path == super::islands_routing::path()
}

/// Could this request change something? (Everything but GET, HEAD, OPTIONS.)
fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Is a request that may change something from one of our own pages?
/// Browsers say where a request comes from (`Sec-Fetch-Site`, `Origin`);
/// a request without either is not a browser's, and carries no victim's
/// cookie by itself.
pub fn same_origin(request: &Request, public_origin: Option<&str>) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.to_str(), Ok("same-origin" | "none")) {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin_of(origin);
    if public_origin.is_some_and(|p| p == origin) {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match (origin.split_once("://"), host) {
        (Some((_, authority)), Some(host)) => authority == host,
        _ => false,
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The session's account, when it is signed in, not past its absolute age,
/// and the account still exists and is enabled (else the session ends);
/// with the time the session ends at the latest (`SessionEnds`).
async fn signed_in(
    state: &AuthState,
    session: &Session,
) -> Result<Option<(Account, SessionEnds)>, AppError> {
    let record = match session.get::<SignInRecord>(SESSION_KEY).await {
        Ok(record) => record,
        Err(e) => return Err(super::error::unavailable(&e)),
    };
    let Some(record) = record else {
        return Ok(None);
    };
    let age = now().saturating_sub(record.signed_in_at);
    let max = i64::try_from(state.settings.absolute.as_secs()).unwrap_or(i64::MAX);
    let account = if age > max {
        None
    } else {
        crate::store::accounts::find(&state.pool, record.account_id)
            .await?
            .filter(|a| !a.disabled)
    };
    let Some(account) = account else {
        session
            .flush()
            .await
            .map_err(|e| super::error::unavailable(&e))?;
        return Ok(None);
    };
    if now().saturating_sub(record.seen_at) >= 60 {
        let seen = SignInRecord {
            seen_at: now(),
            ..record
        };
        session
            .insert(SESSION_KEY, seen)
            .await
            .map_err(|e| super::error::internal(&e))?;
    }
    let ends = SessionEnds(record.signed_in_at.saturating_add(max));
    Ok(Some((account, ends)))
}

/// The middleware every request passes (see the module's comment).
pub async fn guard(State(state): State<AuthState>, mut request: Request, next: Next) -> Response {
    if is_unsafe(request.method())
        && !same_origin(&request, state.settings.public_origin.as_deref())
    {
        return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded: Vec<&str> = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let address = client_address(peer, &forwarded.join(","), &state.settings.trusted_proxies)
        .map_or_else(|| "unknown".into(), |ip| ip.to_string());
    request.extensions_mut().insert(ClientAddress(address));
    let path = request.uri().path().to_string();
    // Files and machine endpoints show no account: their requests cost no
    // session or account read.
    if is_anonymous_only(&path) {
        return next.run(request).await;
    }
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        tracing::error!("no session layer in front of the auth guard");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    // Public pages still learn who is signed in (the top bar).
    let account = match signed_in(&state, &session).await {
        Ok(account) => account,
        Err(e) if is_public(&path) => {
            tracing::warn!(error = %e, "reading the session of a public path failed");
            None
        }
        Err(e) => return error_response(e),
    };
    match account {
        Some((account, ends)) => {
            request.extensions_mut().insert(Current(account));
            request.extensions_mut().insert(ends);
            next.run(request).await
        }
        None if is_public(&path) => next.run(request).await,
        // A share link opens its page and nothing else: whatever else a
        // request made with one asks for is forbidden, not "sign in first".
        None if carries_share_token(&request) => (
            StatusCode::FORBIDDEN,
            "a share link is read-only: it opens its own page and nothing else",
        )
            .into_response(),
        None => {
            let wants_page = request.method() == Method::GET
                && request
                    .headers()
                    .get(header::ACCEPT)
                    .and_then(|a| a.to_str().ok())
                    .is_some_and(|a| a.contains("text/html"));
            let next = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            anonymous(&state, wants_page, &next).await
        }
    }
}

/// Does an anonymous request present a share link's token: sent from a
/// share page (`Referer: …/s/{token}`), or with a `token` in its query, or
/// as a bearer token?
fn carries_share_token(request: &Request) -> bool {
    let headers = request.headers();
    let from_share_page = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.parse::<http::Uri>().ok())
        .is_some_and(|r| r.path().starts_with("/s/"));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.trim_start().to_ascii_lowercase().starts_with("bearer "));
    let in_query = request.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("token"))
    });
    from_share_page || bearer || in_query
}

/// An anonymous request for something that needs an account: a browser
/// asking for a page goes to sign in (or to the first-run setup while
/// there is no account); anything else gets 401.
async fn anonymous(state: &AuthState, wants_page: bool, next: &str) -> Response {
    if !wants_page {
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    }
    match crate::store::accounts::any(&state.pool).await {
        Ok(false) => Redirect::to("/setup").into_response(),
        Ok(true) => Redirect::to(&format!("/login?next={}", encode(next))).into_response(),
        Err(e) => error_response(e.into()),
    }
}

fn error_response(error: AppError) -> Response {
    let status = match error {
        AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, error.to_string()).into_response()
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to go after signing in: a path of ours, never another site
/// (`//evil.example`, `https://…`, `/\evil`).
fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if ok {
        next
    } else {
        "/"
    }
}

/// The account of the request a server function or page is answering.
pub fn current() -> Option<Account> {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Current>().map(|c| c.0.clone()))
}

/// Who the page is rendered for, as pages see it.
pub fn signed_in_view() -> Option<SignedIn> {
    current().map(|a| SignedIn {
        email: a.email,
        role: a.role,
    })
}

/// The request's session (set by the session layer), for server functions.
fn request_session() -> Option<Session> {
    leptos::prelude::use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Session>().cloned())
}

/// Values `keep_once` holds until `take_once` reads them, by session id and
/// key, with when they were kept. In this process's memory only: what they
/// hold (a share link's token) must never be written to the database, where
/// session records live. Lost on a restart or when the next page is served
/// by another instance: the link itself stays (revoke it and make another).
type Kept = std::collections::HashMap<(String, String), (std::time::Instant, serde_json::Value)>;
static KEPT: std::sync::LazyLock<std::sync::Mutex<Kept>> =
    std::sync::LazyLock::new(Default::default);
/// How long a kept value waits for its page.
const KEPT_FOR: Duration = Duration::from_secs(600);

/// The id of the request's session, once it has one.
fn request_session_id() -> Option<String> {
    request_session()
        .and_then(|s| s.id())
        .map(|id| id.to_string())
}

/// Keeps `value` under `key` for this session until `take_once` reads it
/// (at most `KEPT_FOR`): something a form posted without JavaScript must
/// show once on the page the browser is sent back to (a share link's
/// token). Kept in memory, never in the session's stored record.
pub async fn keep_once<T: Serialize>(key: &str, value: &T) -> Result<(), AppError> {
    let Some(id) = request_session_id() else {
        return Err(super::error::internal(&"no saved session in the request"));
    };
    let value = serde_json::to_value(value).map_err(|e| super::error::internal(&e))?;
    let now = std::time::Instant::now();
    // A panic elsewhere cannot leave the map half-written: use it anyway.
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    kept.retain(|_, (at, _)| now.duration_since(*at) < KEPT_FOR);
    kept.insert((id, key.to_string()), (now, value));
    Ok(())
}

/// What one page request took with `take_once`, by key: a page may build a
/// section more than once while rendering (a parent's Suspense renders its
/// children again once its data arrives), and every one of them must show
/// what the first took. Provided anew for every request (`server::app`).
#[derive(Clone, Default)]
pub struct TakenOnce(
    Arc<tokio::sync::Mutex<std::collections::HashMap<String, Option<serde_json::Value>>>>,
);

/// What `keep_once` kept under `key` for this session, removed (and kept
/// for the rest of this request: the look-up holds the request's lock, so
/// two sections asking at once both get it).
pub async fn take_once<T: serde::de::DeserializeOwned>(key: &str) -> Option<T> {
    let taken = leptos::prelude::use_context::<TakenOnce>().unwrap_or_default();
    let mut taken = taken.0.lock().await;
    if let Some(value) = taken.get(key) {
        return value.clone().and_then(|v| serde_json::from_value(v).ok());
    }
    let value = request_session_id().and_then(|id| {
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        kept.remove(&(id, key.to_string()))
            .filter(|(at, _)| at.elapsed() < KEPT_FOR)
            .map(|(_, value)| value)
    });
    taken.insert(key.to_string(), value.clone());
    value.and_then(|v| serde_json::from_value(v).ok())
}

/// Did the request come from a form posted without JavaScript (the browser
/// asks for a page; a server function called from a page's script asks
/// for its encoding)?
pub fn posted_without_javascript() -> bool {
    leptos::prelude::use_context::<http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(header::ACCEPT)
            .and_then(|a| a.to_str().ok())
            .is_some_and(|a| a.contains("text/html"))
    })
}

/// What every server function calls first: the signed-in account, when its
/// role is at least `role`; otherwise the response is 401 (nobody signed
/// in) or 403 (a role below `role`) and nothing else runs.
pub fn require(role: Role) -> Result<Account, AppError> {
    let refuse = |status: StatusCode, error: AppError| {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        Err(error)
    };
    match current() {
        None => refuse(StatusCode::UNAUTHORIZED, AppError::Unauthorized),
        Some(account) if account.role < role => refuse(
            StatusCode::FORBIDDEN,
            AppError::Forbidden {
                message: role.only().into(),
            },
        ),
        Some(account) => Ok(account),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub next: String,
}

/// `POST /login`: signs in under a new session id, then goes to `next`;
/// a refusal goes back to the sign-in page, saying only that the email or
/// password was wrong, or that there were too many failures. The browser's
/// device cookie (`accounts::sign_in_from`) is read here, and a signed-in
/// browser gets a new one.
pub async fn sign_in(
    State(state): State<AuthState>,
    Extension(ClientAddress(address)): Extension<ClientAddress>,
    session: Session,
    headers: axum::http::HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = safe_next(&form.next).to_string();
    let device = request_cookie(&headers, accounts::DEVICE_COOKIE);
    let result = accounts::sign_in_from(
        &state.pool,
        &state.settings.limits,
        &form.email,
        &form.password,
        &address,
        device.as_deref(),
    )
    .await;
    let back = |error: &str| {
        Redirect::to(&format!("/login?error={error}&next={}", encode(&next))).into_response()
    };
    match result {
        Ok(account) => match start_session(&session, &account).await {
            Ok(()) => {
                tracing::info!(account = %account.email, "signed in");
                audit(&state.pool, &account.email, Event::SignedIn).await;
                let mut response = Redirect::to(&next).into_response();
                // Without a new device cookie the sign-in still stands.
                match accounts::device_cookie(&state.pool, &account).await {
                    Ok(value) => {
                        let cookie = device_set_cookie(value, state.settings.secure_cookie);
                        if let Ok(cookie) = header::HeaderValue::from_str(&cookie) {
                            response.headers_mut().append(header::SET_COOKIE, cookie);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "issuing a device cookie failed"),
                }
                response
            }
            Err(e) => error_response(e),
        },
        Err(AccountError::WrongCredentials) => {
            let event = Event::SignInFailed { limited: false };
            audit(&state.pool, &typed_email(&form.email), event).await;
            back("wrong")
        }
        Err(AccountError::Limited) => {
            // Not an event: a refused attempt checks no password and costs
            // nothing, so anyone could write rows at line rate and push the
            // real events off the audit page. The failures that led to it
            // are events; the refusals are logged here.
            tracing::info!(email = %typed_email(&form.email), %address, "sign-in refused: too many failures");
            back("limited")
        }
        Err(e) => error_response(e.into()),
    }
}

/// The value of the request's cookie `name`, if it sent one.
fn request_cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim_matches('"').to_string())
}

/// The `Set-Cookie` of a device cookie: sent back only to the sign-in form's
/// POST (`Path=/login`), `HttpOnly`, `SameSite=Strict`, `Secure` when the
/// public URL is https, kept `accounts::DEVICE_COOKIE_DAYS`.
fn device_set_cookie(value: String, secure: bool) -> String {
    use tower_sessions::cookie::Cookie;
    Cookie::build((accounts::DEVICE_COOKIE, value))
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(time::Duration::days(accounts::DEVICE_COOKIE_DAYS))
        .build()
        .to_string()
}

/// The email a refused sign-in typed, as its event's actor: trimmed,
/// lower-cased, at most 254 characters (whatever was typed).
fn typed_email(email: &str) -> String {
    email.trim().to_lowercase().chars().take(254).collect()
}

/// Records an account event (sign-in, sign-out…) in the audit log. A
/// failure to record is logged and does not refuse the sign-in or out.
async fn audit(pool: &PgPool, actor: &str, event: Event) {
    if let Err(e) = crate::store::events::record_account_event(pool, actor, &event).await {
        tracing::warn!(error = %e, actor, kind = event.kind(), "recording an account event failed");
    }
}

/// A new session id, holding the sign-in of `account` (whatever id the
/// browser came with is dropped: no session fixation).
async fn start_session(session: &Session, account: &Account) -> Result<(), AppError> {
    let at = now();
    session.clear().await;
    session
        .cycle_id()
        .await
        .map_err(|e| super::error::unavailable(&e))?;
    session
        .insert(
            SESSION_KEY,
            SignInRecord {
                account_id: account.id,
                signed_in_at: at,
                seen_at: at,
            },
        )
        .await
        .map_err(|e| super::error::internal(&e))
}

/// `POST /logout`: ends the session on the server (its row is deleted, the
/// cookie removed), then the sign-in page. The sign-out is an account
/// event: its notification ends the session's open live feeds at once.
pub async fn sign_out(
    State(state): State<AuthState>,
    account: Option<Extension<Current>>,
    session: Session,
) -> Response {
    match session.flush().await {
        Ok(()) => {
            if let Some(Extension(Current(account))) = account {
                audit(&state.pool, &account.email, Event::SignedOut).await;
            }
            Redirect::to("/login?signed_out=1").into_response()
        }
        Err(e) => error_response(super::error::unavailable(&e)),
    }
}

#[derive(Deserialize)]
pub struct SetupForm {
    pub email: String,
    pub password: String,
    pub confirm: String,
}

/// `POST /setup`: while no account exists, creates the admin and signs it
/// in; afterwards 404.
pub async fn setup(
    State(state): State<AuthState>,
    session: Session,
    Form(form): Form<SetupForm>,
) -> Response {
    // Once an account exists there is no setup to answer, whatever the form.
    match crate::store::accounts::any(&state.pool).await {
        Ok(true) => return StatusCode::NOT_FOUND.into_response(),
        Ok(false) => {}
        Err(e) => return error_response(e.into()),
    }
    if form.password != form.confirm {
        return Redirect::to(&format!(
            "/setup?error={}",
            encode("the two passwords differ")
        ))
        .into_response();
    }
    match accounts::setup_admin(&state.pool, &form.email, &form.password).await {
        Ok(account) => match start_session(&session, &account).await {
            Ok(()) => {
                tracing::info!(account = %account.email, "first admin created");
                let event = Event::AccountAdded {
                    email: account.email.clone(),
                    role: account.role.as_str().into(),
                };
                audit(&state.pool, &account.email, event).await;
                Redirect::to("/").into_response()
            }
            Err(e) => error_response(e),
        },
        Err(AccountError::SetupDone) => (StatusCode::NOT_FOUND, "Not found").into_response(),
        Err(AccountError::Invalid { field, message }) => Redirect::to(&format!(
            "/setup?error={}",
            encode(&format!("{field}: {message}"))
        ))
        .into_response(),
        Err(e) => error_response(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_names_it() {
        let nets = |s: &[&str]| -> Vec<ipnet::IpNet> {
            s.iter().map(|n| n.parse().expect("net")).collect()
        };
        let ip = |s: &str| -> std::net::IpAddr { s.parse().expect("ip") };
        let proxies = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        let case = |peer: &str, forwarded: &str| {
            client_address(Some(ip(peer)), forwarded, &proxies).map(|a| a.to_string())
        };
        // An untrusted peer's header is ignored.
        assert_eq!(
            case("198.51.100.9", "203.0.113.7").as_deref(),
            Some("198.51.100.9")
        );
        // Through one trusted proxy.
        assert_eq!(
            case("127.0.0.1", "203.0.113.7").as_deref(),
            Some("203.0.113.7")
        );
        // Past a chain of trusted proxies; what the client wrote on the
        // left is not believed.
        assert_eq!(
            case("10.0.0.2", "1.2.3.4, 203.0.113.7, 10.0.0.9").as_deref(),
            Some("203.0.113.7")
        );
        // Ports and IPv6.
        assert_eq!(
            case("10.0.0.2", "[2001:db8::1]:4711").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            case("10.0.0.2", "203.0.113.7:4711").as_deref(),
            Some("203.0.113.7")
        );
        // A dual-stack listener's IPv4 peers, as IPv4.
        assert_eq!(
            case("::ffff:10.0.0.2", "203.0.113.7").as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            case("::ffff:198.51.100.9", "1.2.3.4").as_deref(),
            Some("198.51.100.9")
        );
        // No header, an empty one, or garbage: the last trusted hop.
        assert_eq!(case("10.0.0.2", "").as_deref(), Some("10.0.0.2"));
        assert_eq!(
            case("10.0.0.2", "10.0.0.9, nonsense").as_deref(),
            Some("10.0.0.2")
        );
        assert_eq!(
            case("10.0.0.2", "nonsense, 10.0.0.9").as_deref(),
            Some("10.0.0.9")
        );
        // Nothing trusted: always the peer.
        assert_eq!(
            client_address(Some(ip("127.0.0.1")), "203.0.113.7", &[]).map(|a| a.to_string()),
            Some("127.0.0.1".into())
        );
        assert_eq!(client_address(None, "203.0.113.7", &proxies), None);
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/m/x/phases?a=1"), "/m/x/phases?a=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "",
            "evil",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }

    #[test]
    fn origins_compare_scheme_and_authority() {
        assert_eq!(
            origin_of("HTTPS://Switchyard.example.com/base/"),
            "https://switchyard.example.com"
        );
        let request = |origin: &str, site: Option<&str>| {
            let mut b = Request::post("/api/x")
                .header("host", "127.0.0.1:3000")
                .header("origin", origin);
            if let Some(site) = site {
                b = b.header("sec-fetch-site", site);
            }
            b.body(axum::body::Body::empty()).expect("request")
        };
        assert!(same_origin(&request("http://127.0.0.1:3000", None), None));
        assert!(!same_origin(&request("http://evil.example", None), None));
        assert!(!same_origin(&request("null", None), None));
        assert!(!same_origin(
            &request("http://127.0.0.1:3000", Some("cross-site")),
            None
        ));
        assert!(same_origin(
            &request("https://sy.example.com", Some("same-origin")),
            Some("https://sy.example.com")
        ));
    }
}
