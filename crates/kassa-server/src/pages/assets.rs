//! Kassa's own static files — `kassa.css` (every page), `pay.js` and `pow.js` (the pay page),
//! `dashboard.css` and `dashboard.js` — compiled in, each with a strong `ETag` (a hash of its
//! bytes, computed once) and `Cache-Control: no-cache`: their URLs carry no version, so a
//! browser keeps them but asks again each time, and `If-None-Match` gets a `304` with no body
//! until an upgrade changes the bytes. [`conditional`] is that answer for every cached file,
//! the partner's brand stylesheet and uploaded logo included.

use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// A compiled-in file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "/static/kassa.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_str!("../../static/kassa.css"),
    },
    // The pay page's progressive enhancement (card number spacing, brand, Luhn and expiry
    // checks before sending); first-party, so the CSP's `script-src 'self'` allows it.
    Asset {
        path: "/static/pay.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_str!("../../static/pay.js"),
    },
    // The pay page's script in challenge mode (docs/api.md §8).
    Asset {
        path: "/static/pow.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_str!("../../static/pow.js"),
    },
    // The dashboard's own rules, on top of `kassa.css` (which the pay pages share, so they
    // carry none of the dashboard's bytes).
    Asset {
        path: "/static/dashboard.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_str!("../../static/dashboard.css"),
    },
    // The dashboard's one script (copy buttons); every page works without it.
    Asset {
        path: "/static/dashboard.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_str!("../../static/dashboard.js"),
    },
];

/// Unversioned URLs: kept, but revalidated on every use.
pub const REVALIDATE: &str = "no-cache";

/// Each asset's `ETag`, in [`ASSETS`] order, hashed once on first use.
static ETAGS: LazyLock<Vec<HeaderValue>> =
    LazyLock::new(|| ASSETS.iter().map(|a| etag_of(a.bytes.as_bytes())).collect());

/// A strong `ETag` for `bytes`: the first 128 bits of their SHA-256.
pub fn etag_of(bytes: &[u8]) -> HeaderValue {
    let digest = Sha256::digest(bytes);
    let tag = format!("\"{}\"", hex::encode(&digest[..16]));
    HeaderValue::from_str(&tag).expect("hex in quotes is a valid header value")
}

/// The routes of [`ASSETS`].
pub fn routes() -> Router<AppState> {
    ASSETS
        .iter()
        .enumerate()
        .fold(Router::new(), |router, (i, asset)| {
            router.route(
                asset.path,
                get(move |headers: HeaderMap| async move { serve(i, &headers) }),
            )
        })
}

fn serve(i: usize, headers: &HeaderMap) -> Response {
    let asset = &ASSETS[i];
    conditional(
        headers,
        &ETAGS[i],
        HeaderValue::from_static(REVALIDATE),
        HeaderValue::from_static(asset.content_type),
        || asset.bytes.into_response(),
    )
}

/// Whether the request's `If-None-Match` names `etag` (or is `*`); weak tags compare by value,
/// as RFC 9110 says for this header.
pub fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let etag = etag.as_bytes();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(|tag| tag.trim_ascii())
        .any(|tag| tag == b"*" || tag.strip_prefix(b"W/").unwrap_or(tag) == etag)
}

/// A cached file's answer: `304` with no body when the client has `etag`, else the body from
/// `body`; both with the `ETag`, `Cache-Control` and `Content-Type`.
pub fn conditional(
    headers: &HeaderMap,
    etag: &HeaderValue,
    cache_control: HeaderValue,
    content_type: HeaderValue,
    body: impl FnOnce() -> Response,
) -> Response {
    let mut resp = if not_modified(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body()
    };
    let h = resp.headers_mut();
    h.insert(header::ETAG, etag.clone());
    h.insert(header::CACHE_CONTROL, cache_control);
    h.insert(header::CONTENT_TYPE, content_type);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn if_none_match_compares_each_listed_tag() {
        let etag = etag_of(b"body { }");
        let tag = etag.to_str().unwrap().to_string();
        assert!(not_modified(&asking(&tag), &etag));
        assert!(not_modified(&asking(&format!("W/{tag}")), &etag));
        assert!(not_modified(&asking(&format!("\"x\", {tag}")), &etag));
        assert!(not_modified(&asking("*"), &etag));
        assert!(!not_modified(&asking("\"x\""), &etag));
        assert!(!not_modified(&asking(&tag[1..]), &etag));
        assert!(!not_modified(&HeaderMap::new(), &etag));
    }

    #[test]
    fn every_asset_has_its_own_tag() {
        let mut tags: Vec<_> = ETAGS.iter().collect();
        tags.sort_by_key(|t| t.as_bytes().to_vec());
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len());
    }
}
