//! The islands router's script as a file of its own, linked by the shell
//! (`app::IslandsRouterScript`), named by its content hash and kept by
//! browsers for a year.
//!
//! `islands_routing.js` is ours, not Leptos's (`HydrationScripts` with
//! `islands_router`, which also inlined its 11 KB in every page): Leptos's
//! walks the old and new pages node by node and stops at the shorter, so a
//! page that grew was left half-updated. The file's head comment says what
//! ours does instead. The shell must not ask Leptos for its router too (two
//! routers would both answer every click): a test checks the shell's
//! scripts carry no other router.

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

    /// The scripts the shell renders (`HydrationScripts` as `app::shell`
    /// calls it) carry no router: Leptos's only comes with
    /// `islands_router=true`, and this test fails if that ever changes.
    #[test]
    fn the_shell_asks_leptos_for_no_router_of_its_own() {
        let owner = Owner::new();
        let render = |router: bool| {
            owner.with(|| {
                let options = LeptosOptions::builder().output_name("switchyard").build();
                view! { <HydrationScripts options islands=true islands_router=router/> }.to_html()
            })
        };
        let leptos_router_marker = "Islands-Router";
        assert!(
            render(true).contains(leptos_router_marker),
            "Leptos's router no longer sends the Islands-Router header: the page cache keys on it"
        );
        assert!(!render(false).contains(leptos_router_marker));
        assert!(SCRIPT.contains(leptos_router_marker));
    }

    #[test]
    fn the_path_names_the_content_hash() {
        let p = path();
        assert!(p.starts_with("/islands-routing.") && p.ends_with(".js"));
        assert_eq!(p.len(), "/islands-routing.".len() + 16 + ".js".len());
    }
}
