//! The islands router's script as a file of its own. Leptos's
//! `HydrationScripts` (with `islands_router`) inlines these 11 KB in every
//! page, so every response rendered, compressed and sent them again; the
//! shell now links this copy instead (`app::IslandsRouterScript`), named by
//! its content hash and kept by browsers for a year.
//!
//! `islands_routing.js` is Leptos 0.8.23's `src/hydration/islands_routing.js`
//! unchanged; a test fails when the Leptos in Cargo.lock inlines anything
//! else, so an upgrade cannot leave a stale copy behind.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// The script, exactly as Leptos would inline it.
pub const SCRIPT: &str = include_str!("islands_routing.js");

/// The path the script is served at: `/islands-routing.<hash>.js`, the hash
/// being the first 16 hex digits of its SHA-256.
pub fn path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let digest = Sha256::digest(SCRIPT.as_bytes());
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("/islands-routing.{hash}.js")
    })
}

/// GET `path()`: the script, cacheable for a year (its name changes with it).
pub async fn serve() -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(super::app::IMMUTABLE),
            ),
        ],
        SCRIPT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use leptos::prelude::*;

    #[test]
    fn the_copy_is_the_script_leptos_inlines() {
        let owner = Owner::new();
        let html = owner.with(|| {
            let options = LeptosOptions::builder().output_name("switchyard").build();
            view! { <HydrationScripts options islands=true islands_router=true/> }.to_html()
        });
        assert!(
            html.contains(SCRIPT),
            "Leptos's HydrationScripts no longer inlines src/server/islands_routing.js: \
             copy the new islands_routing.js from the Leptos sources"
        );
        let without = owner.with(|| {
            let options = LeptosOptions::builder().output_name("switchyard").build();
            view! { <HydrationScripts options islands=true/> }.to_html()
        });
        assert!(!without.contains(SCRIPT));
    }

    #[test]
    fn the_path_names_the_content_hash() {
        let p = path();
        assert!(p.starts_with("/islands-routing.") && p.ends_with(".js"));
        assert_eq!(p.len(), "/islands-routing.".len() + 16 + ".js".len());
    }
}
