//! Rendered pages kept and served again while nothing they show has
//! changed: the phase console (`/m/{name}/phases`) and a share link's page
//! (`/s/{token}`), the two pages people keep open or reload while a phase
//! runs, and the two that cost the most to build (the console's snapshot,
//! the spec, plan and board, the page's hydration data, its compression).
//!
//! Freshness is decided by the database for every request: before a page
//! is served again, one statement reads the migration's data version
//! (`store::versions`), which changes with the rows of the migration the
//! page shows, written by us, by the application's own writes during
//! dual-write, or by hand; the recipe file's size and modification time are
//! compared too. What that cannot see at once (a soak time running out, the
//! few cases `store::versions` names) is bounded by `MAX_AGE`: no page is
//! served from the cache once it is older than that.
//!
//! An entry belongs to one page and one viewer (the account and its role,
//! or nobody), so nobody is served what another account may see. A share
//! link is looked up on every request, as without the cache: a revoked or
//! expired link is refused at once, and its last use is still recorded.
//! Each entry keeps the page compressed once per encoding (Brotli, gzip),
//! so a page served again costs that one statement and a copy.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use sqlx::PgPool;

use super::auth::Current;
use crate::model::account::Role;
use crate::store::shares::{resolve, Resolved};
use crate::store::versions::{self, Page, Version};

/// The longest a page is served again without being rendered anew, even
/// when its data version has not changed (for what changes with the clock).
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// Pages kept at most; past this, the oldest makes room.
const ENTRIES_KEPT: usize = 512;

/// The largest page kept (a bigger one is served, not kept).
const LARGEST_PAGE: usize = 4 << 20;

/// Header saying whether a page came from the cache (`hit`) or was
/// rendered for this request (`miss`): for operators and for the tests.
pub const CACHE_HEADER: &str = "x-switchyard-cache";

#[derive(Clone, Default)]
pub struct PageCache {
    entries: Arc<Mutex<HashMap<Key, Arc<Entry>>>>,
}

/// Which page, for whom.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    path: String,
    viewer: Option<(i64, Role)>,
    /// Asked by the islands router (client-side navigation), which may be
    /// answered differently from a full page load.
    islands_router: bool,
}

struct Entry {
    version: Version,
    recipe: Option<FileStamp>,
    made: Instant,
    headers: HeaderMap,
    body: Bytes,
    brotli: OnceLock<Option<Bytes>>,
    gzip: OnceLock<Option<Bytes>>,
}

/// A file's size and modification time.
type FileStamp = (u64, Option<SystemTime>);

fn stamp(path: &str) -> Option<FileStamp> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

/// The cacheable page at `path`, with the migration's name (console) or
/// the link's token (share page); None: any other path. Names and tokens
/// that would need decoding are left to the page itself.
pub fn cacheable(path: &str) -> Option<(Page, &str)> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let mut parts = path.strip_prefix('/')?.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("m"), Some(name), Some("phases"), None) if plain(name) => Some((Page::Console, name)),
        (Some("s"), Some(token), None, None) if plain(token) => Some((Page::Shared, token)),
        _ => None,
    }
}

/// The middleware (inside the auth guard, which has told who is asking).
pub async fn serve(
    State((cache, pool)): State<(PageCache, PgPool)>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::GET || request.uri().query().is_some() {
        return next.run(request).await;
    }
    let path = request.uri().path().to_string();
    let Some((kind, found)) = cacheable(&path) else {
        return next.run(request).await;
    };
    let (name, path) = match kind {
        Page::Console => (found.to_string(), path),
        Page::Shared => match resolve(&pool, found).await {
            // Keyed by the token as it is looked up (any case): another
            // spelling of one link is the same page, not another entry.
            Ok(Resolved::Open(name)) => (name, format!("/s/{}", found.to_ascii_lowercase())),
            // Unknown, revoked, expired, or not known now: the page says so.
            _ => return next.run(request).await,
        },
    };
    let version = match versions::of(&pool, kind, &name).await {
        Ok(Some(version)) => version,
        Ok(None) => return next.run(request).await,
        Err(e) => {
            tracing::warn!(error = %e, "page cache: reading the data version failed");
            return next.run(request).await;
        }
    };
    let recipe = version.recipe_path.as_deref().and_then(stamp);
    let key = Key {
        path,
        viewer: request
            .extensions()
            .get::<Current>()
            .map(|c| (c.0.id, c.0.role)),
        islands_router: request.headers().contains_key("islands-router"),
    };
    let accepts = Encoding::accepted(request.headers());
    if let Some(entry) = cache.get(&key) {
        if entry.version == version && entry.recipe == recipe && entry.made.elapsed() < MAX_AGE {
            return entry.respond(accepts);
        }
    }
    // Rendered after the version was read: a change made meanwhile makes
    // the next request's version differ, so it is never hidden.
    let made = Instant::now();
    let response = next.run(request).await;
    let keep = response.status() == StatusCode::OK
        && !response.headers().contains_key(header::SET_COOKIE)
        && !response
            .headers()
            .get_all(header::CACHE_CONTROL)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.contains("no-store")))
        && !response.headers().contains_key(header::CONTENT_ENCODING)
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/html"));
    if !keep {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The page is whole in memory already (rendered before it is sent).
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, "page cache: the page could not be read whole");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if body.len() > LARGEST_PAGE {
        return Response::from_parts(parts, Body::from(body));
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let entry = Arc::new(Entry {
        version,
        recipe,
        made,
        headers: parts.headers.clone(),
        body: body.clone(),
        brotli: OnceLock::new(),
        gzip: OnceLock::new(),
    });
    cache.put(key, entry);
    parts
        .headers
        .insert(CACHE_HEADER, HeaderValue::from_static("miss"));
    Response::from_parts(parts, Body::from(body))
}

impl PageCache {
    fn get(&self, key: &Key) -> Option<Arc<Entry>> {
        // A panic elsewhere cannot leave the map half-written: use it anyway.
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).cloned()
    }

    fn put(&self, key: Key, entry: Arc<Entry>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= ENTRIES_KEPT && !entries.contains_key(&key) {
            // Full: the oldest page makes room.
            let oldest = entries
                .iter()
                .min_by_key(|(_, e)| e.made)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, entry);
    }
}

/// A content coding a client takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// The best coding `Accept-Encoding` allows (q=0 refuses one).
    fn accepted(headers: &HeaderMap) -> Encoding {
        let takes = |wanted: &str| {
            headers
                .get_all(header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|item| {
                    let mut bits = item.split(';');
                    let coding = bits.next().unwrap_or("").trim();
                    let refused = bits.any(|b| {
                        b.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.trim().parse::<f32>().ok())
                            .is_some_and(|q| q <= 0.0)
                    });
                    coding.eq_ignore_ascii_case(wanted) && !refused
                })
        };
        if takes("br") {
            Encoding::Brotli
        } else if takes("gzip") {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }
}

impl Entry {
    fn respond(&self, accepts: Encoding) -> Response {
        let compressed = match accepts {
            Encoding::Brotli => self
                .brotli
                .get_or_init(|| brotli_of(&self.body))
                .clone()
                .map(|b| (b, "br")),
            Encoding::Gzip => self
                .gzip
                .get_or_init(|| gzip_of(&self.body))
                .clone()
                .map(|b| (b, "gzip")),
            Encoding::Identity => None,
        };
        let mut response = Response::new(Body::empty());
        *response.headers_mut() = self.headers.clone();
        let headers = response.headers_mut();
        headers.insert(CACHE_HEADER, HeaderValue::from_static("hit"));
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        let body = match compressed {
            Some((bytes, coding)) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
                bytes
            }
            None => self.body.clone(),
        };
        *response.body_mut() = Body::from(body);
        response
    }
}

/// `body` in Brotli at a middle quality: done once per page version, so it
/// can afford more than the per-request compression's fastest level.
fn brotli_of(body: &[u8]) -> Option<Bytes> {
    let mut out = Vec::with_capacity(body.len() / 4);
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        writer.write_all(body).ok()?;
        writer.flush().ok()?;
    }
    Some(Bytes::from(out))
}

fn gzip_of(body: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::new(6),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_console_and_share_pages_are_cacheable() {
        assert_eq!(
            cacheable("/m/user-preferences/phases"),
            Some((Page::Console, "user-preferences"))
        );
        assert_eq!(cacheable("/s/0123abcd"), Some((Page::Shared, "0123abcd")));
        for other in [
            "/",
            "/m/user-preferences",
            "/m/user-preferences/plan",
            "/m/user-preferences/share",
            "/m/user-preferences/phases/extra",
            "/m//phases",
            "/m/a%20b/phases",
            "/s/",
            "/s/abc/live",
            "/s/abc/badge.svg",
            "/login",
        ] {
            assert_eq!(cacheable(other), None, "{other}");
        }
    }

    #[test]
    fn the_best_accepted_coding_is_chosen_and_q_zero_refuses() {
        let with = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_str(value).unwrap(),
            );
            Encoding::accepted(&h)
        };
        assert_eq!(with("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(with("gzip"), Encoding::Gzip);
        assert_eq!(with("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(with("identity"), Encoding::Identity);
        assert_eq!(Encoding::accepted(&HeaderMap::new()), Encoding::Identity);
    }

    #[test]
    fn compressed_bodies_decompress_to_the_page() {
        use std::io::Read;
        let page = "<html><body>".to_string() + &"phase 2 running ".repeat(500) + "</body></html>";
        let br = brotli_of(page.as_bytes()).expect("brotli");
        let mut back = String::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_string(&mut back)
            .expect("brotli decodes");
        assert_eq!(back, page);
        let gz = gzip_of(page.as_bytes()).expect("gzip");
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut back)
            .expect("gzip decodes");
        assert_eq!(back, page);
        assert!(br.len() < page.len() / 10 && gz.len() < page.len() / 10);
    }
}
