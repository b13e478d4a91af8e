//! The `{id}` of an API route, read as its typed id. An id that cannot name anything answers the
//! same 404 as an id that names nothing of the caller's ("no such payment"), decided here once
//! for every route; the noun comes from the id type ([`PrefixedId::NOUN`]).

use std::str::FromStr;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use kassa_core::id::PrefixedId;

use crate::error::ApiError;

/// The route's `{id}` as a `T`; a malformed one is the 404 of `T`'s noun.
pub struct PathId<T>(pub T);

impl<T, S> FromRequestParts<S> for PathId<T>
where
    T: PrefixedId + FromStr + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        LatePathId::<T>::from_request_parts(parts, state)
            .await?
            .get()
            .map(PathId)
    }
}

/// The route's `{id}` for a handler that has always checked its body or query first: a
/// malformed id's 404 is held until [`LatePathId::get`], so a request wrong in both ways keeps
/// getting the body's or query's error, as before ids were read by an extractor.
pub struct LatePathId<T>(Result<T, ApiError>);

impl<T> LatePathId<T> {
    /// The id, or the 404 for a malformed one.
    pub fn get(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T, S> FromRequestParts<S> for LatePathId<T>
where
    T: PrefixedId + FromStr + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // A path that cannot be read (bad UTF-8) names nothing, so it is the unknown route's 404.
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::route_not_found())?;
        Ok(LatePathId(
            T::from_str(&raw).map_err(|_| ApiError::not_found(T::NOUN)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::{get, post};
    use axum::Router;
    use kassa_core::id::PaymentId;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use super::*;
    use crate::api::ApiJson;

    async fn answer(method: &str, uri: &str, body: &'static str) -> (StatusCode, Value) {
        let app = Router::new()
            .route(
                "/payments/{id}",
                get(|PathId(id): PathId<PaymentId>| async move { id.to_string() }),
            )
            .route(
                "/payments/{id}/note",
                post(
                    |id: LatePathId<PaymentId>, ApiJson(_): ApiJson<Value>| async move {
                        id.get().map(|id| id.to_string())
                    },
                ),
            );
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    fn error(code: &str, message: &str) -> Value {
        json!({"error": {"type": code, "code": code, "message": message}})
    }

    #[tokio::test]
    async fn a_well_formed_id_is_read_as_its_type() {
        let id = PaymentId::generate().to_string();
        let (status, body) = answer("GET", &format!("/payments/{id}"), "").await;
        assert_eq!((status, body), (StatusCode::OK, Value::String(id)));
    }

    #[tokio::test]
    async fn a_malformed_id_is_the_404_of_its_noun() {
        for uri in ["/payments/nope", "/payments/re_x", "/payments/%00"] {
            let (status, body) = answer("GET", uri, "").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(body, error("not_found", "no such payment"), "{uri}");
        }
        // A path that is not UTF-8 names no route at all.
        let (status, body) = answer("GET", "/payments/%FF", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, error("not_found", "no such endpoint"));
    }

    #[tokio::test]
    async fn a_late_id_answers_after_the_body() {
        let (status, body) = answer("POST", "/payments/nope/note", "[").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "malformed_json");
        let (status, body) = answer("POST", "/payments/nope/note", "{}").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, error("not_found", "no such payment"));
        let id = PaymentId::generate().to_string();
        let (status, body) = answer("POST", &format!("/payments/{id}/note"), "{}").await;
        assert_eq!((status, body), (StatusCode::OK, Value::String(id)));
    }
}
