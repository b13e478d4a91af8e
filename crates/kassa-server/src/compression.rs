//! Compressed answers (docs/api.md §12): gzip or br when the client asks, for what gains from it
//! and leaks nothing by it. HTML is never compressed: the dashboard and the pay page carry CSRF
//! tokens and session-bound values next to text an attacker can make them reflect (a search
//! term, a form value), and compressing both together lets the attacker read the secret from
//! the answer's length (BREACH). CSV exports reflect a search term beside payer data, so they
//! stay uncompressed too. What is compressed carries no ambient secret: the API's JSON (a
//! cross-site page cannot send its bearer key), the OpenAPI document, stylesheets, scripts, SVG
//! and `/metrics`. Bodies under [`MIN_SIZE`] are sent as they are.

use axum::http::{header, HeaderMap, StatusCode, Version};
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;

/// Smaller bodies gain too little to be worth the CPU and the header bytes.
pub const MIN_SIZE: u16 = 1024;

/// The media types (before any `;` parameter) that may be compressed.
const COMPRESSIBLE: &[&str] = &[
    "application/json",
    "text/css",
    "text/javascript",
    "application/javascript",
    "image/svg+xml",
    "text/plain",
];

/// Only the types of [`COMPRESSIBLE`].
#[derive(Debug, Clone, Copy)]
pub struct SafeToCompress;

impl Predicate for SafeToCompress {
    fn should_compress<B>(&self, response: &axum::http::Response<B>) -> bool
    where
        B: http_body::Body,
    {
        compressible(response.status(), response.version(), response.headers())
    }
}

fn compressible(_status: StatusCode, _version: Version, headers: &HeaderMap) -> bool {
    let Some(media) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
    else {
        return false;
    };
    let media = media.trim();
    COMPRESSIBLE.iter().any(|c| c.eq_ignore_ascii_case(media))
}

/// The layer: gzip and br only, for [`SafeToCompress`] bodies above [`MIN_SIZE`].
pub fn layer() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        .compress_when(SizeAbove::new(MIN_SIZE).and(SafeToCompress))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn typed(content_type: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        compressible(StatusCode::OK, Version::HTTP_11, &headers)
    }

    #[test]
    fn only_types_without_reflected_secrets_are_compressed() {
        for yes in [
            "application/json",
            "text/css; charset=utf-8",
            "text/javascript; charset=utf-8",
            "image/svg+xml",
            "text/plain; version=0.0.4; charset=utf-8",
        ] {
            assert!(typed(yes), "{yes}");
        }
        for no in [
            "text/html; charset=utf-8",
            "text/csv; charset=utf-8",
            "image/png",
            "application/octet-stream",
        ] {
            assert!(!typed(no), "{no}");
        }
        assert!(!compressible(
            StatusCode::OK,
            Version::HTTP_11,
            &HeaderMap::new()
        ));
    }
}
