//! `GET /static/logo/{slug}/{hash}`: a partner's uploaded logo, on Kassa's host and on the
//! partner's billing host alike. The hash in the path names the bytes, so the answer is cached
//! for good (`immutable`, with an `ETag`); another hash (an older logo) is not found. An SVG is
//! served sanitised and sandboxed by its own CSP, so even opened on its own it runs nothing.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kassa_core::partner::Slug;

use super::{internal_error_page, PageParams};
use crate::state::AppState;

/// What an SVG logo may do when opened directly: draw itself with its own attributes, nothing
/// else (no script, no request, sandboxed).
const SVG_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

pub async fn serve(
    State(state): State<AppState>,
    PageParams(params): PageParams,
    headers: HeaderMap,
) -> Response {
    let slug = params.get("slug").and_then(|s| Slug::parse(s).ok());
    let hash = params.get("hash").map(String::as_str).unwrap_or("");
    let Some(slug) = slug else {
        return not_found();
    };
    let stored = match state.store.logo_by_slug(slug.as_str()).await {
        Ok(Some(stored)) if stored.logo.sha256 == hash => stored,
        Ok(_) => return not_found(),
        Err(e) => return internal_error_page(e),
    };
    let etag = HeaderValue::from_str(&format!("\"{}\"", stored.logo.sha256)).expect("hex");
    let content_type = HeaderValue::from_str(&stored.logo.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut resp = super::assets::conditional(
        &headers,
        &etag,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
        content_type,
        || stored.bytes.into_response(),
    );
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SVG_POLICY),
    );
    resp
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-store")],
        "",
    )
        .into_response()
}
