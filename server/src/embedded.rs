//! The dashboard's static files embedded in the binary at build time
//! (server/build.rs): served under content-hashed names with a year-long
//! `immutable` cache lifetime, under their plain names with revalidation
//! (`no-cache` + ETag), and as brotli or gzip when the browser accepts it
//! and scripts/build-site.sh made that variant.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub struct Asset {
    /// Its URL path, e.g. `/pkg/wisp.css`.
    pub path: &'static str,
    /// The same with a hash of its content in the name.
    pub hashed_path: &'static str,
    pub body: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/site_assets.rs"));

/// Whether the binary carries a built dashboard.
pub fn present() -> bool {
    BUNDLE_OUTPUT_NAME.is_some()
}

/// The hydration bundle's output name (`wisp.<hash>`), for Leptos's
/// hydration scripts.
pub fn bundle_output_name() -> Option<&'static str> {
    BUNDLE_OUTPUT_NAME
}

/// The content-hashed URL path of `path`, when embedded.
pub fn hashed(path: &str) -> Option<&'static str> {
    table().get(path).map(|(asset, _)| asset.hashed_path)
}

/// Every asset by plain and by hashed path (`true`: the hashed one).
fn table() -> &'static HashMap<&'static str, (&'static Asset, bool)> {
    static TABLE: OnceLock<HashMap<&'static str, (&'static Asset, bool)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::new();
        for asset in ASSETS {
            table.insert(asset.path, (asset, false));
            table.insert(asset.hashed_path, (asset, true));
        }
        table
    })
}

/// Answers `path` from the embedded files; `None` when there is no such file.
pub fn serve(method: &Method, path: &str, request_headers: &HeaderMap) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let (asset, immutable) = table().get(path)?;
    // The encoding the browser prefers among those built (highest q; q=0
    // refuses; ties go to the smaller file).
    let wanted = |coding: &str| quality(request_headers, coding);
    let (coding, body) = match (asset.brotli, asset.gzip) {
        (Some(br), gz)
            if wanted("br") > 0.0 && gz.is_none_or(|_| wanted("br") >= wanted("gzip")) =>
        {
            (Some("br"), br)
        }
        (_, Some(gz)) if wanted("gzip") > 0.0 => (Some("gzip"), gz),
        _ => (None, asset.body),
    };
    // One tag per representation: the compressed bytes differ.
    let tag = etag_of(asset.hashed_path);
    let etag = match coding {
        Some(coding) => format!("\"{tag}-{coding}\""),
        None => format!("\"{tag}\""),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(asset.path)),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if *immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Some(coding) = coding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    // If-None-Match compares weakly (RFC 9110 13.1.2): `W/` is ignored.
    let not_modified = request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*");
    if not_modified {
        headers.remove(header::CONTENT_ENCODING);
        return Some((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    if method == Method::HEAD {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        return Some((StatusCode::OK, headers).into_response());
    }
    Some((StatusCode::OK, headers, body).into_response())
}

/// The q-value `Accept-Encoding` gives `coding` (0 when absent or refused;
/// `*` stands for codings not named; a malformed q refuses).
fn quality(headers: &HeaderMap, coding: &str) -> f32 {
    let mut named = None;
    let mut star = None;
    for part in headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut pieces = part.split(';');
        let name = pieces.next().unwrap_or("").trim();
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
            .unwrap_or(0.0);
        if name.eq_ignore_ascii_case(coding) {
            named = Some(q);
        } else if name == "*" {
            star = Some(q);
        }
    }
    named.or(star).unwrap_or(0.0)
}

/// The hash part of a hashed path (`/pkg/wisp.<hash>.css` → `<hash>`).
fn etag_of(hashed_path: &str) -> &str {
    let name = hashed_path.rsplit('/').next().unwrap_or(hashed_path);
    name.split(['.', '_'])
        .find(|part| part.len() == 16 && part.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or(name)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "html" => "text/html; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_of_a_hashed_name_is_its_etag() {
        assert_eq!(
            etag_of("/pkg/wisp.0123456789abcdef.css"),
            "0123456789abcdef"
        );
        assert_eq!(
            etag_of("/pkg/wisp.0123456789abcdef_bg.wasm"),
            "0123456789abcdef"
        );
    }

    #[test]
    fn embedded_files_answer_under_both_names_and_compressed() {
        let Some(asset) = ASSETS.iter().find(|a| a.gzip.is_some()) else {
            // Built without a site (scripts/build-site.sh not run).
            return;
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let plain = serve(&Method::GET, asset.path, &headers).unwrap();
        let mut refusing = HeaderMap::new();
        refusing.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0, br;q=abc"),
        );
        let identity = serve(&Method::GET, asset.path, &refusing).unwrap();
        assert!(identity.headers().get(header::CONTENT_ENCODING).is_none());
        assert_ne!(
            identity.headers()[header::ETAG],
            plain.headers()[header::ETAG]
        );
        assert_eq!(plain.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(plain.headers()[header::CONTENT_ENCODING], "gzip");
        let hashed = serve(&Method::GET, asset.hashed_path, &HeaderMap::new()).unwrap();
        assert_eq!(
            hashed.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert!(hashed.headers().get(header::CONTENT_ENCODING).is_none());
        let mut again = HeaderMap::new();
        again.insert(
            header::IF_NONE_MATCH,
            hashed.headers()[header::ETAG].clone(),
        );
        let revalidated = serve(&Method::GET, asset.hashed_path, &again).unwrap();
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
        assert!(serve(&Method::POST, asset.path, &HeaderMap::new()).is_none());
    }
}
