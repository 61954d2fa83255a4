//! `GET /s/{token}/badge.svg`: a small live progress badge for a share link
//! (current phase and percent of phases done), for wikis, READMEs and
//! Notion embeds. The token rules are the share page's: revoked or expired
//! answer 410, unknown 404, each with a badge saying so.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;

use crate::store::shares::{resolve, Resolved};

/// The badge for `token`, never cached (it is live).
pub async fn badge(State(pool): State<PgPool>, Path(token): Path<String>) -> Response {
    let (status, value) = match resolve(&pool, &token).await {
        Ok(Resolved::Open(name)) => {
            match crate::store::migrations::find_summary(&pool, &name).await {
                Ok(s) => {
                    let percent = if s.phases_total == 0 {
                        0.0
                    } else {
                        s.phases_done as f64 * 100.0 / s.phases_total as f64
                    };
                    let text = match &s.current_phase {
                        Some(p) => format!(
                            "phase {}/{} {} · {percent:.0}%",
                            p.position,
                            s.phases_total,
                            p.state.as_str()
                        ),
                        None => "done · 100%".to_string(),
                    };
                    (StatusCode::OK, text)
                }
                Err(e) => {
                    tracing::error!(error = %e, "badge: reading the migration failed");
                    (StatusCode::SERVICE_UNAVAILABLE, "unavailable".to_string())
                }
            }
        }
        Ok(Resolved::Revoked) => (StatusCode::GONE, "link revoked".to_string()),
        Ok(Resolved::Expired(_)) => (StatusCode::GONE, "link expired".to_string()),
        Ok(Resolved::Unknown) => (StatusCode::NOT_FOUND, "unknown link".to_string()),
        Err(e) => {
            tracing::error!(error = %e, "badge: resolving the link failed");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable".to_string())
        }
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg("switchyard", &value),
    )
        .into_response()
}

/// Escapes text for XML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A two-part badge; widths estimated from the character count.
fn svg(label: &str, value: &str) -> String {
    let width = |t: &str| 10 + 7 * t.chars().count();
    let (lw, vw) = (width(label), width(value));
    let (label, value) = (escape(label), escape(value));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{label}: {value}"><title>{label}: {value}</title><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="#2563eb"/><g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="5" y="14">{label}</text><text x="{vx}" y="14">{value}</text></g></svg>"##,
        total = lw + vw,
        vx = lw + 5,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_badge_escapes_its_text() {
        let s = svg("switchyard", "<x> & \"y\"");
        assert!(s.contains("&lt;x&gt; &amp; &quot;y&quot;"), "{s}");
        assert!(!s.contains("<x>"));
    }
}
