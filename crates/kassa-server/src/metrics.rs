//! `GET /metrics`: the counters (`counters.rs`) in the Prometheus text format, and the middleware
//! that counts every response. Who may read them (docs/api.md §9): with `metrics.token`, a
//! request carrying `Authorization: Bearer <token>`; with `metrics.listen`, anyone reaching that
//! address (and the token too, when one is set), and nobody on the public listener; with neither,
//! nobody (404, the page of an unknown path).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use kassa_core::secret::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::state::AppState;

pub async fn count_responses(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    state.metrics.response(resp.status());
    resp
}

/// `/metrics` on the public listener: only with a token, and only when the metrics have no
/// listener of their own.
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let config = &state.config.metrics;
    match (&config.token, config.listen) {
        (Some(token), None) => guarded(&state, token, &headers),
        _ => crate::pages::not_found_page(),
    }
}

/// The router of the `metrics.listen` address: `GET /metrics` (behind the token when one is set)
/// and nothing else.
pub fn own_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(on_own_listener))
        .fallback(|| async { crate::pages::not_found_page() })
        .with_state(state)
}

async fn on_own_listener(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match &state.config.metrics.token {
        Some(token) => guarded(&state, token, &headers),
        None => render(&state),
    }
}

fn guarded(state: &AppState, token: &Secret<String>, headers: &HeaderMap) -> Response {
    if bearer_matches(headers, token) {
        render(state)
    } else {
        // No detail: whether the header was missing, malformed or wrong is not said.
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
        )
            .into_response()
    }
}

/// Whether the request's `Authorization: Bearer …` is the token. Both are hashed first, so the
/// constant-time comparison does not even tell the length.
fn bearer_matches(headers: &HeaderMap, token: &Secret<String>) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let given = Sha256::digest(given.trim().as_bytes());
    let wanted = Sha256::digest(token.expose().as_bytes());
    given.ct_eq(&wanted).into()
}

fn render(state: &AppState) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn only_the_bearer_token_matches() {
        let token = Secret::new("metrics-token-0123456789".to_string());
        assert!(bearer_matches(
            &headers("Bearer metrics-token-0123456789"),
            &token
        ));
        for wrong in [
            "Bearer metrics-token-012345678",
            "Bearer metrics-token-01234567890",
            "Bearer ",
            "bearer metrics-token-0123456789",
            "Basic metrics-token-0123456789",
            "metrics-token-0123456789",
        ] {
            assert!(!bearer_matches(&headers(wrong), &token), "{wrong}");
        }
        assert!(!bearer_matches(&HeaderMap::new(), &token));
    }
}
