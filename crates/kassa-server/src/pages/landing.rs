//! `GET /`: a plain page saying what this server is, with the way in for a partner (the
//! dashboard's sign-in) and for a developer (the OpenAPI document) — rather than the payer's
//! "page not found" someone opening the bare address used to get. On a partner's billing host
//! the address is the partner's, not Kassa's: there it is the plain "not found" page, and a payer
//! is never shown the way to the operator's dashboard.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use super::{internal_error_page, normalize_host, not_found_page, render, Brand};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    brand: Brand,
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(normalize_host)
        .unwrap_or_default();
    if !host.is_empty() {
        match state.store.partner_by_host(&host).await {
            Ok(Some(_)) => return not_found_page(),
            Ok(None) => {}
            Err(e) => return internal_error_page(e),
        }
    }
    render(
        StatusCode::OK,
        &LandingPage {
            brand: Brand::kassa(),
        },
    )
}
