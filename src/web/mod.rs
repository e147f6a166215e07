//! The web page's files, served from the binary: `index.html` at `/` and at every page route
//! (History API routing), everything else under `/assets/NAME.HASH.EXT` with a content hash in
//! the name and a year-long immutable cache lifetime. Text files are gzipped once, at start-up,
//! and sent compressed to browsers that accept it. `index.html` is sent `no-cache` with its
//! `href="/assets/NAME"` and `src="/assets/NAME"` rewritten to the hashed names. An asset asked
//! for by its plain name (a module imported by a relative URL) is served too, `no-cache`.
//!
//! [`add_security_headers`] puts the strict Content-Security-Policy and friends on every
//! response of the daemon, API included. The list of files is `manifest.rs` (the page's own).

mod manifest;

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The Content-Security-Policy of every response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

/// The page routes that answer with `index.html` (and everything below them).
const PAGE_ROUTES: &[&str] = &[
    "/photos",
    "/albums",
    "/people",
    "/account",
    "/shared",
    "/connections",
];

/// One servable file.
struct Served {
    content_type: &'static str,
    bytes: Vec<u8>,
    /// The gzipped bytes, when smaller.
    gzipped: Option<Vec<u8>>,
    etag: String,
    /// `immutable` (hashed name) or `no-cache`.
    cache_control: &'static str,
}

/// Every servable file, by its path under `/assets/` (hashed and plain names), and the index.
struct Assets {
    by_path: HashMap<String, Arc<Served>>,
    index: Arc<Served>,
}

fn content_hash(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&blake3::hash(bytes).as_bytes()[..5])
}

/// `app.js` → `app.0123456789.js`.
fn hashed_name(name: &str, hash: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !stem.ends_with('/') => {
            format!("{stem}.{hash}.{ext}")
        }
        _ => format!("{name}.{hash}"),
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.contains("javascript")
        || content_type.contains("json")
        || content_type.contains("svg")
}

fn served(content_type: &'static str, bytes: Vec<u8>, cache_control: &'static str) -> Served {
    let gzipped = compressible(content_type)
        .then(|| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(&bytes).ok()?;
            encoder.finish().ok()
        })
        .flatten()
        .filter(|gz| gz.len() < bytes.len());
    Served {
        content_type,
        etag: format!("\"{}\"", content_hash(&bytes)),
        bytes,
        gzipped,
        cache_control,
    }
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

fn build_assets() -> Assets {
    let mut by_path = HashMap::new();
    let mut renames = Vec::new();
    let mut index_source: &[u8] = b"";
    for asset in manifest::ASSETS {
        if asset.name == "index.html" {
            index_source = asset.bytes;
            continue;
        }
        let hashed = hashed_name(asset.name, &content_hash(asset.bytes));
        renames.push((asset.name, hashed.clone()));
        by_path.insert(
            hashed,
            Arc::new(served(asset.content_type, asset.bytes.to_vec(), IMMUTABLE)),
        );
        by_path.insert(
            asset.name.to_owned(),
            Arc::new(served(asset.content_type, asset.bytes.to_vec(), NO_CACHE)),
        );
    }
    let mut index = String::from_utf8_lossy(index_source).into_owned();
    for (name, hashed) in &renames {
        for attr in ["href", "src"] {
            index = index.replace(
                &format!("{attr}=\"/assets/{name}\""),
                &format!("{attr}=\"/assets/{hashed}\""),
            );
        }
    }
    Assets {
        by_path,
        index: Arc::new(served(
            "text/html; charset=utf-8",
            index.into_bytes(),
            NO_CACHE,
        )),
    }
}

fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(build_assets)
}

/// The page's routes. Call once at start-up (it compresses every file then).
pub fn router(_tls: bool) -> Router {
    let assets = assets();
    let mut router = Router::new()
        .route("/", get(index))
        .route("/invite", get(index))
        .route("/assets/{*path}", get(asset));
    for route in PAGE_ROUTES {
        router = router
            .route(route, get(index))
            .route(&format!("{route}/{{*rest}}"), get(index));
    }
    router.with_state(assets)
}

async fn index(State(assets): State<&'static Assets>, headers: HeaderMap) -> Response {
    respond(&assets.index, &headers)
}

async fn asset(
    State(assets): State<&'static Assets>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    match assets.by_path.get(&path) {
        Some(file) => respond(file, &headers),
        None => {
            let body = crate::error::ErrorBody {
                error: "not_found".into(),
                message: "no such file".into(),
            };
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn respond(file: &Served, headers: &HeaderMap) -> Response {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == file.etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match (&file.gzipped, accepts_gzip(headers)) {
            (Some(gz), true) => {
                let mut r = gz.clone().into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            _ => file.bytes.clone().into_response(),
        }
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(file.cache_control),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(etag) = HeaderValue::from_str(&file.etag) {
        h.insert(header::ETAG, etag);
    }
    response
}

/// Puts the security headers on `response` (every response of the daemon).
pub async fn add_security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_keep_the_extension() {
        assert_eq!(hashed_name("app.js", "abc"), "app.abc.js");
        assert_eq!(hashed_name("icons/x.svg", "abc"), "icons/x.abc.svg");
        assert_eq!(hashed_name("LICENSE", "abc"), "LICENSE.abc");
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "br, gzip;q=0.8".parse().unwrap());
        assert!(accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "gzip;q=0".parse().unwrap());
        assert!(!accepts_gzip(&h));
    }

    #[test]
    fn every_asset_has_a_hashed_and_a_plain_name() {
        let assets = build_assets();
        for asset in manifest::ASSETS.iter().filter(|a| a.name != "index.html") {
            assert!(assets.by_path.contains_key(asset.name));
            let hashed = hashed_name(asset.name, &content_hash(asset.bytes));
            assert_eq!(assets.by_path[&hashed].cache_control, IMMUTABLE);
        }
    }
}
