//! `GET /`: a plain page saying what this server is, with the way in for a partner (the
//! dashboard's sign-in) and for a developer (the OpenAPI document) — rather than the payer's
//! "page not found" someone opening the bare address used to get.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::{render, Brand};

#[derive(Template)]
#[template(path = "landing.html")]
struct LandingPage {
    brand: Brand,
}

pub async fn page() -> Response {
    render(
        StatusCode::OK,
        &LandingPage {
            brand: Brand::kassa(),
        },
    )
}
