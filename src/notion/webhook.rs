//! Notion webhooks, at one endpoint (`POST /notion/webhook`): a signal to
//! fetch, never a source of content. Notion first sends a handshake, a
//! JSON object with only `verification_token`; the operator copies that
//! token into the subscription in Notion and into
//! `NOTION_WEBHOOK_VERIFICATION_TOKEN`. Every event after it carries
//! `X-Notion-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body keyed
//! with that token: checked (in constant time) before anything else.
//!
//! An event names a page or a data source (`entity`, and the page's parent
//! in `data.parent`): the published plan on that page is synced, the task
//! data source it belongs to is polled. Events may repeat or come out of
//! order: each fetch reads Notion as it is now and compares by content, so
//! a repeat finds nothing new and an old event fetches the newest state.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use sqlx::PgPool;

use super::error::MirrorError;
use super::{Connection, NotionClient};
use crate::domain::notion_id::NotionId;

/// The header Notion signs events with.
pub const SIGNATURE_HEADER: &str = "x-notion-signature";

/// `sha256=<hex>` of `body` keyed with `token` (what Notion sends).
pub fn signature(token: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `header` is the signature of `body` with `token`.
pub fn verify(token: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    if hex.len() != 64 {
        return false;
    }
    let mut bytes = Vec::with_capacity(32);
    for pair in hex.as_bytes().chunks(2) {
        let Ok(text) = std::str::from_utf8(pair) else {
            return false;
        };
        let Ok(byte) = u8::from_str_radix(text, 16) else {
            return false;
        };
        bytes.push(byte);
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(token.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// What the endpoint needs.
#[derive(Clone)]
pub struct WebhookState {
    pub pool: PgPool,
    pub notion: Connection,
    /// `NOTION_WEBHOOK_VERIFICATION_TOKEN`; none: events are refused.
    pub token: Option<String>,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, message.to_string()).into_response()
}

/// `POST /notion/webhook`.
pub async fn receive(
    State(state): State<WebhookState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(event) = serde_json::from_slice::<Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    // The handshake: only a verification token.
    if let Some(token) = event.get("verification_token").and_then(Value::as_str) {
        if event.get("type").is_none() {
            match &state.token {
                None => tracing::warn!(
                    verification_token = token,
                    "Notion webhook handshake: paste this verification token into the \
                     subscription in Notion and set NOTION_WEBHOOK_VERIFICATION_TOKEN to it"
                ),
                Some(_) => tracing::info!(
                    "Notion webhook handshake received (a verification token is configured already)"
                ),
            }
            return (StatusCode::OK, "verification token received").into_response();
        }
    }
    let Some(token) = &state.token else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhooks are not set up: NOTION_WEBHOOK_VERIFICATION_TOKEN is not set",
        );
    };
    let signed = headers.get(SIGNATURE_HEADER).and_then(|h| h.to_str().ok());
    if !verify(token, &body, signed) {
        tracing::warn!("Notion webhook refused: bad or missing X-Notion-Signature");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "bad or missing X-Notion-Signature",
        );
    }
    let Ok(client) = state.notion.client().cloned() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "local mode: not connected to Notion",
        );
    };
    let ids = ids_of(&event);
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    tracing::info!(%kind, ids = ?ids, "Notion webhook: fetching");
    // Answered at once; the fetch runs beside (Notion retries slow answers).
    let pool = state.pool.clone();
    tokio::spawn(async move {
        if let Err(e) = fetch(&pool, &client, &ids).await {
            tracing::warn!(%kind, error = %e, "Notion webhook: fetch failed; the next poll tries again");
        }
    });
    (StatusCode::OK, "ok").into_response()
}

/// The ids an event names: its entity and the entity's parent.
fn ids_of(event: &Value) -> Vec<String> {
    ["/entity/id", "/data/parent/id"]
        .iter()
        .filter_map(|p| event.pointer(p).and_then(Value::as_str))
        .filter_map(|id| NotionId::parse(id).ok())
        .map(|id| id.to_string())
        .collect()
}

/// Fetches what the ids concern: the plan published on one of them, the
/// task data source one of them is (or whose row one of them is).
pub async fn fetch(
    pool: &PgPool,
    client: &NotionClient,
    ids: &[String],
) -> Result<(), MirrorError> {
    for name in crate::store::plan_sync::published(pool).await? {
        let Some(state) = crate::store::plan_sync::state(pool, &name).await? else {
            continue;
        };
        let page = NotionId::parse(&state.page_id).map(|p| p.to_string());
        if page.is_ok_and(|p| ids.contains(&p)) {
            super::plan_sync::sync(pool, client, &name).await?;
        }
    }
    let poller = super::task_sync::Poller::new(pool.clone(), client.clone(), Default::default());
    for link in crate::store::task_sync::mirrored_links(pool).await? {
        let source = NotionId::parse(&link.data_source_id).map(|s| s.to_string());
        let pages = crate::store::task_sync::pages(pool, link.migration_id).await?;
        let named = source.is_ok_and(|s| ids.contains(&s))
            || pages
                .iter()
                .any(|(_, p)| NotionId::parse(p).is_ok_and(|p| ids.contains(&p.to_string())));
        if named {
            poller.poll_link(&link).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_the_bodys_hmac_with_the_token() {
        let body = br#"{"type":"page.content_updated"}"#;
        let good = signature("secret_tok", body);
        assert!(good.starts_with("sha256=") && good.len() == 7 + 64);
        assert!(verify("secret_tok", body, Some(&good)));
        assert!(!verify("other", body, Some(&good)));
        assert!(!verify("secret_tok", b"{}", Some(&good)));
        assert!(!verify("secret_tok", body, None));
        assert!(!verify("secret_tok", body, Some("sha256=zz")));
        assert!(!verify(
            "secret_tok",
            body,
            Some(&good.replace("sha256=", "md5="))
        ));
    }
}
