//! `Idempotency-Key` on POST (docs/api.md §1): a repeat with the same body replays the first answer;
//! another body under the same key is refused; a key whose request is still running answers 409.
//! A keyed request runs in a task of its own, so its answer is recorded even when its client goes
//! away (docs/api.md §8).

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kassa_core::id::PartnerId;
use kassa_store::{IdempotencyBegin, IdempotencyPolicy};
use tracing::{Instrument as _, Span};

use crate::api_auth::ApiAuth;
use crate::error::ApiError;
use crate::state::AppState;

const HEADER: &str = "idempotency-key";
const MAX_KEY: usize = 255;
const MAX_BODY: usize = 1024 * 1024;

/// The request's `Idempotency-Key` (checked by [`layer`]), for handlers that also write it on the
/// records they create, so a retry after a crash finds them instead of making another.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(IdempotencyKey(valid_key(&parts.headers)))
    }
}

/// Set on a response whose named top-level fields hold a secret shown once (a new API key): the
/// answer kept for replays has them `null`, so the secret is never stored in the clear.
#[derive(Clone, Copy, Debug)]
pub struct ShownOnce(pub &'static [&'static str]);

/// The request's key when it is well formed: 1 to 255 visible ASCII characters.
fn valid_key(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
}

pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.headers().contains_key(HEADER) {
        return next.run(req).await;
    }
    match replay_or_run(state, req, next).await {
        Ok(resp) | Err(resp) => resp,
    }
}

async fn replay_or_run(state: AppState, req: Request, next: Next) -> Result<Response, Response> {
    let (mut parts, body) = req.into_parts();
    let key = valid_key(&parts.headers).ok_or_else(|| {
        ApiError::field(
            "Idempotency-Key",
            "invalid_value",
            "must be 1 to 255 visible ASCII characters",
        )
        .into_response()
    })?;
    let auth = ApiAuth::from_request_parts(&mut parts, &state)
        .await
        .map_err(IntoResponse::into_response)?;
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::malformed_json("the request body is too large or could not be read")
            .into_response()
    })?;
    // Keyed: the body may hold a card number, and a plain hash of it could be brute-forced
    // from the last 4 and the brand kept beside it.
    let hash = state.vault.request_digest(&[
        parts.method.as_str().as_bytes(),
        b" ",
        parts.uri.path().as_bytes(),
        b"\n",
        &bytes,
    ]);
    let partner = auth.partner.id.clone();
    let request = Request::from_parts(parts, Body::from(bytes));
    // From here on the request runs to its end in its own task, whether or not the client waits
    // for it: a client that goes away drops this future, not the task, so the answer is still
    // recorded under the key and a retry is answered with it. `idempotency_key_in_progress`
    // then means the first request is really still running.
    let keyed = async move {
        match run_keyed(state, partner, key, hash, request, next).await {
            Ok(resp) | Err(resp) => resp,
        }
    };
    let resp = tokio::spawn(keyed.instrument(Span::current()))
        .await
        .unwrap_or_else(|_| {
            ApiError::internal(anyhow::anyhow!("the idempotent request's task failed"))
                .into_response()
        });
    Ok(resp)
}

/// Claims the key, runs the request and records its answer (or frees the key when the answer is
/// one a retry may change).
async fn run_keyed(
    state: AppState,
    partner: PartnerId,
    key: String,
    hash: String,
    request: Request,
    next: Next,
) -> Result<Response, Response> {
    let begin = state
        .store
        .idempotency_begin(
            &partner,
            &key,
            &hash,
            state.clock.now(),
            &IdempotencyPolicy::default(),
        )
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    match begin {
        IdempotencyBegin::Started => {}
        IdempotencyBegin::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut resp = (
                status,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            resp.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(resp);
        }
        IdempotencyBegin::Mismatch => {
            return Err(ApiError::invalid_state(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request",
            )
            .into_response())
        }
        IdempotencyBegin::InProgress => {
            return Err(ApiError::conflict(
                "idempotency_key_in_progress",
                "a request with this Idempotency-Key is still being processed",
            )
            .into_response())
        }
    }
    // A task of its own, so a handler that panics is a 500 that frees the key rather than a key
    // left in progress.
    let resp = tokio::spawn(next.run(request).instrument(Span::current()))
        .await
        .unwrap_or_else(|_| {
            ApiError::internal(anyhow::anyhow!("the request's handler panicked")).into_response()
        });
    let status = resp.status();
    // Nothing is stored for a request that changed nothing and may well succeed when retried:
    // it failed validation (fixable), met a conflict of the moment (an attempt in flight), was
    // throttled, or hit a server fault. The client may retry under the same key.
    let retryable = status == StatusCode::BAD_REQUEST
        || status == StatusCode::CONFLICT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error();
    if retryable {
        if let Err(e) = state.store.idempotency_release(&partner, &key).await {
            tracing::error!(error = %e, "could not release idempotency key");
        }
        return Ok(resp);
    }
    let (resp_parts, body) = resp.into_parts();
    let body = to_bytes(body, usize::MAX).await.map_err(|_| {
        ApiError::internal(anyhow::anyhow!("response body unreadable")).into_response()
    })?;
    let mut text = String::from_utf8_lossy(&body).into_owned();
    if let Some(ShownOnce(fields)) = resp_parts.extensions.get::<ShownOnce>() {
        text = without_fields(&text, fields).map_err(|e| ApiError::internal(e).into_response())?;
    }
    if let Err(e) = state
        .store
        .idempotency_finish(&partner, &key, status.as_u16(), &text)
        .await
    {
        return Err(ApiError::from(e).into_response());
    }
    Ok(Response::from_parts(resp_parts, Body::from(body)))
}

/// The JSON object `body` with `fields` set to `null`.
fn without_fields(body: &str, fields: &[&str]) -> Result<String, serde_json::Error> {
    let mut value: serde_json::Value = serde_json::from_str(body)?;
    if let Some(object) = value.as_object_mut() {
        for field in fields {
            if let Some(v) = object.get_mut(*field) {
                *v = serde_json::Value::Null;
            }
        }
    }
    serde_json::to_string(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    /// A POST through the layer under one Idempotency-Key; the status and whether it was replayed.
    async fn send(router: &Router, api_key: &str) -> (StatusCode, bool) {
        let req = Request::post("/work")
            .header("authorization", format!("Bearer {api_key}"))
            .header(HEADER, "once-1")
            .body(Body::empty())
            .unwrap();
        let resp = router.clone().oneshot(req).await.unwrap();
        (
            resp.status(),
            resp.headers().contains_key("idempotent-replayed"),
        )
    }

    #[tokio::test]
    async fn a_handler_that_panics_is_a_500_and_frees_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = kassa_store::connect(
            &format!("sqlite://{}", dir.path().join("kassa.db").display()),
            &kassa_store::ConnectOptions::default(),
        )
        .await
        .unwrap();
        let now = time::macros::datetime!(2026-11-21 12:00 UTC);
        let app = crate::App::new(crate::AppParts {
            config: crate::Config::default(),
            store: store.clone(),
            processor: Arc::new(kassa_processor::SandboxProcessor::new()),
            clock: Arc::new(kassa_core::clock::FrozenClock::new(now)),
            vault: crate::vault::Vault::new(&[7u8; 32]),
            resolver: None,
        });
        let partner = crate::admin::create_partner(
            store.as_ref(),
            &app.state().vault,
            crate::admin::NewPartnerInput {
                name: "Acme".into(),
                slug: "acme".into(),
                ..Default::default()
            },
            &kassa_core::audit::Caller::cli("test", now),
        )
        .await
        .unwrap();
        let api_key = partner.api_key.expose().clone();
        // The first call panics; later ones succeed.
        let calls = Arc::new(AtomicUsize::new(0));
        let state = app.state().clone();
        let router = Router::new()
            .route(
                "/work",
                post(move || {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        assert!(n > 0, "the first call fails");
                        StatusCode::CREATED
                    }
                }),
            )
            .route_layer(axum::middleware::from_fn_with_state(state.clone(), layer))
            .with_state(state);

        assert_eq!(
            send(&router, &api_key).await,
            (StatusCode::INTERNAL_SERVER_ERROR, false)
        );
        // The key was freed: the retry runs, and the one after it is its replay.
        assert_eq!(send(&router, &api_key).await, (StatusCode::CREATED, false));
        assert_eq!(send(&router, &api_key).await, (StatusCode::CREATED, true));
    }

    #[test]
    fn shown_once_fields_are_kept_as_null() {
        let kept =
            without_fields(r#"{"id":"key_1","key":"sk_secret","label":"ci"}"#, &["key"]).unwrap();
        assert!(!kept.contains("sk_secret"));
        let v: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id": "key_1", "key": null, "label": "ci"})
        );
    }
}
