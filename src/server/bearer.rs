//! Machine endpoints (`/metrics`, `/flags/{name}`) are read by programs that
//! hold no session: each may be closed with a bearer token of its own, set
//! in the configuration. Without one the endpoint is public, as it was
//! before tokens existed (its figures and flags are not secrets, but a
//! deployment reachable from outside may not want them read by anyone).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// One endpoint's token, and the variable that sets it (named in the
/// refusal, so whoever configures the scraper knows what to ask for).
#[derive(Clone)]
pub struct BearerGate {
    pub token: Option<Arc<str>>,
    pub variable: &'static str,
}

impl BearerGate {
    pub fn new(token: Option<&str>, variable: &'static str) -> Self {
        BearerGate {
            token: token.map(Arc::from),
            variable,
        }
    }
}

/// The middleware: with a token configured, a request without
/// `Authorization: Bearer TOKEN` gets 401, `WWW-Authenticate: Bearer` and
/// no data.
pub async fn require(State(gate): State<BearerGate>, request: Request, next: Next) -> Response {
    if let Some(token) = &gate.token {
        if !bearer_matches(request.headers(), token) {
            let message = format!(
                "{} needs the bearer token set in {}\n",
                request.uri().path(),
                gate.variable
            );
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"switchyard\"")],
                message,
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// Does the request carry `Authorization: Bearer TOKEN`? Compared as
/// SHA-256 digests, so the time taken does not tell how much of a guess
/// was right.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    use sha2::{Digest, Sha256};
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim())
        })
    else {
        return false;
    };
    Sha256::digest(given.as_bytes()) == Sha256::digest(token.as_bytes())
}
