//! The JSON API under `/v1`: authentication, body and query parsing, and the routes.

pub(crate) mod access;
pub(crate) mod audit;
pub(crate) mod customer;
pub(crate) mod email;
pub(crate) mod events;
pub(crate) mod file_body;
pub(crate) mod invoice;
pub(crate) mod logo;
pub(crate) mod path_id;
pub(crate) mod payment;
pub(crate) mod payment_method;
pub(crate) mod payment_request;
pub(crate) mod payout;
pub(crate) mod refund;
pub(crate) mod sandbox;
pub(crate) mod settings;
pub(crate) mod webhooks;

pub use crate::api_auth::ApiAuth;
pub use path_id::{LatePathId, PathId};

use std::borrow::Cow;
use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use kassa_store::{Page, PageRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Ref, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest JSON body accepted.
const MAX_BODY: usize = 256 * 1024;

/// Every route of the service outside `src/pages` but the OpenAPI document (`openapi.rs`, which
/// documents these): the probes and metrics, and the operations, behind the scope check
/// (`access.rs`) and the idempotency layer.
pub fn routes(state: &AppState) -> Router<AppState> {
    let (api, doc) = operations().split_for_parts();
    let scopes = std::sync::Arc::new(access::ScopeTable::from_openapi(&doc));
    // The scope check is the outer layer: a call the key may not make is refused before the
    // idempotency layer records anything.
    let api = api
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::layer,
        ))
        .route_layer(middleware::from_fn_with_state(
            (state.clone(), scopes),
            access::layer,
        ));
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(crate::metrics::metrics))
        .merge(api)
}

/// The operations of the JSON API, each registered once: `routes!` takes the path and method
/// from the handler's `#[utoipa::path]`, so the router and the OpenAPI document cannot differ.
/// Handlers in one `routes!` share a path.
pub(crate) fn operations() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(payment_request::create, payment_request::list))
        .routes(routes!(payment_request::get_one))
        .routes(routes!(payment_request::qr))
        .routes(routes!(payment_request::cancel))
        .routes(routes!(email::send_link))
        .routes(routes!(email::send_receipt))
        .routes(routes!(payment_request::creation_link))
        .routes(routes!(payment::list))
        .routes(routes!(payment::sale))
        .routes(routes!(payment::authorize))
        .routes(routes!(payment::get_authorization))
        .routes(routes!(payment::reverse))
        .routes(routes!(payment::capture))
        .routes(routes!(payment::get_one))
        .routes(routes!(refund::create))
        .routes(routes!(refund::list))
        .routes(routes!(refund::get_one))
        .routes(routes!(events::list))
        .routes(routes!(events::get_one))
        .routes(routes!(webhooks::create, webhooks::list))
        .routes(routes!(webhooks::get_one, webhooks::delete))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::enable))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::retry))
        .routes(routes!(payout::balance))
        .routes(routes!(payout::list))
        .routes(routes!(payout::get_one))
        .routes(routes!(invoice::preview))
        .routes(routes!(customer::create, customer::list))
        .routes(routes!(customer::get_one, customer::update))
        .routes(routes!(payment_method::create, payment_method::list))
        .routes(routes!(payment_method::get_one, payment_method::delete))
        .routes(routes!(settings::get_partner, settings::update_partner))
        .routes(routes!(settings::verify_billing_host))
        .routes(routes!(logo::upload_logo, logo::delete_logo))
        .routes(routes!(settings::list_api_keys, settings::create_api_key))
        .routes(routes!(settings::revoke_api_key))
        .routes(routes!(settings::list_users, settings::create_user))
        .routes(routes!(settings::delete_user))
        .routes(routes!(audit::list))
        .routes(routes!(sandbox::settle))
        .routes(routes!(sandbox::return_debit))
}

/// A JSON body parsed with the failing field's path in the error (`invoice.invoiceLineItems[0].value`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::malformed_json("the request body could not be read"))?;
        if !is_json && !bytes.is_empty() {
            return Err(ApiError::malformed_json(
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        if bytes.len() > MAX_BODY {
            return Err(ApiError::malformed_json("the request body is too large"));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}" as &[u8]
    } else {
        bytes
    };
    // serde would read a struct from an array too; the API takes objects only.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::malformed_json("the body must be a JSON object"));
    }
    one_json_value(bytes)?;
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data if path != "." => {
                let msg = inner.to_string();
                let msg = without_value(msg.split(" at line ").next().unwrap_or(&msg));
                let (field, code) = match msg.strip_prefix("unknown field `") {
                    Some(rest) => {
                        let name = rest.split('`').next().unwrap_or_default();
                        let field = match path.rsplit_once('.') {
                            Some((parent, _)) if path.ends_with(name) => format!("{parent}.{name}"),
                            _ => name.to_string(),
                        };
                        (field, "unknown_field")
                    }
                    None => (path, "invalid_type"),
                };
                ApiError::field(&field, code, msg)
            }
            serde_json::error::Category::Data => {
                let msg = inner.to_string();
                ApiError::malformed_json(msg.split(" at line ").next().unwrap_or(&msg).to_string())
            }
            _ => ApiError::malformed_json(format!("the body is not valid JSON: {inner}")),
        }
    })
}

/// The body is exactly one JSON value, with nothing but whitespace after it: `{…}garbage` or
/// `{} {}` is malformed as a whole, whatever its first value holds, so it is checked before any
/// field is read (and a field error is never reported for a body that is not JSON).
fn one_json_value(bytes: &[u8]) -> Result<(), ApiError> {
    use serde::Deserialize as _;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde::de::IgnoredAny::deserialize(&mut de)
        .map_err(|e| ApiError::malformed_json(format!("the body is not valid JSON: {e}")))?;
    de.end().map_err(|_| {
        ApiError::malformed_json("the body must be one JSON value, with nothing after it")
    })
}

/// serde quotes the offending value ("invalid type: integer `4242…`, expected a string"); it may
/// be a card number sent as a JSON number, so only what was expected is repeated.
fn without_value(msg: &str) -> String {
    let rest = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "));
    match rest.and_then(|r| r.rsplit_once(", expected ")) {
        Some((_, expected)) => format!("must be {expected}"),
        None => msg.to_string(),
    }
}

/// `?limit=&startingAfter=` and the other query parameters of a list endpoint.
pub struct ListQuery {
    params: HashMap<String, String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or("");
        let mut params = HashMap::new();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            if params.insert(k.to_string(), v.to_string()).is_some() {
                return Err(ApiError::field(
                    &k,
                    "duplicate_parameter",
                    "must be given at most once",
                ));
            }
        }
        Ok(ListQuery { params })
    }
}

impl ListQuery {
    /// Rejects parameters the endpoint does not know, so a typo never silently lists everything.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        let mut errors: Vec<_> = self
            .params
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()) && *k != "limit" && *k != "startingAfter")
            .map(|k| {
                kassa_core::error::FieldError::new(
                    k.clone(),
                    "unknown_parameter",
                    "is not a filter of this list",
                )
            })
            .collect();
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(errors))
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `createdFrom` and `createdTo` (RFC 3339, both inclusive); a malformed time or a range that
    /// ends before it starts is recorded in `errors`.
    pub fn created_range(
        &self,
        errors: &mut kassa_core::error::FieldErrors,
    ) -> (Option<time::OffsetDateTime>, Option<time::OffsetDateTime>) {
        let mut time = |name: &str| {
            self.get(name).and_then(|t| {
                let parsed = kassa_core::clock::parse_rfc3339(t).ok();
                if parsed.is_none() {
                    errors.add(
                        name,
                        "invalid_timestamp",
                        "must be an RFC 3339 timestamp like 2026-11-21T00:00:00Z",
                    );
                }
                parsed
            })
        };
        let (from, to) = (time("createdFrom"), time("createdTo"));
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                errors.add(
                    "createdTo",
                    "invalid_range",
                    "must not be before createdFrom",
                );
            }
        }
        (from, to)
    }

    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.get("limit") {
            None => 20,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    ApiError::field(
                        "limit",
                        "invalid_value",
                        "must be a whole number from 1 to 100",
                    )
                })?,
        };
        let starting_after = match self.get("startingAfter") {
            // Ids are a prefix and base62; anything else names no item.
            Some(id)
                if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                return Err(ApiError::field(
                    "startingAfter",
                    "unknown_cursor",
                    "names no item of this list",
                ))
            }
            other => other.map(str::to_string),
        };
        Ok(PageRequest {
            limit,
            starting_after,
        })
    }
}

/// `?limit=&startingAfter=`, as the OpenAPI document shows them; [`ListQuery`] reads them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)] // Never built: only its parameters' documentation is used.
pub struct Paging {
    /// How many items to return, newest first.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<i64>,
    /// The id of the last item of the previous page.
    starting_after: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListBody<T> {
    data: Vec<T>,
    has_more: bool,
}

// By hand rather than derived, so that `data` refers to the item's schema instead of copying it.
impl<T: ToSchema> PartialSchema for ListBody<T> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "data",
                ArrayBuilder::new().items(Ref::from_schema_name(T::name())),
            )
            .required("data")
            .property(
                "hasMore",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some(
                        "Whether more items follow; ask with `startingAfter` set to the last id.",
                    )),
            )
            .required("hasMore")
            .into()
    }
}

impl<T: ToSchema> ToSchema for ListBody<T> {
    fn name() -> Cow<'static, str> {
        format!("{}List", T::name()).into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into(), T::schema()));
        T::schemas(schemas);
    }
}

/// Shapes a store page as `{"data": [...], "hasMore": bool}`.
pub fn list_response<T: Serialize>(page: Page<T>) -> Result<Json<ListBody<T>>, ApiError> {
    match page {
        Page::Items { data, has_more } => Ok(Json(ListBody { data, has_more })),
        Page::UnknownCursor => Err(ApiError::field(
            "startingAfter",
            "unknown_cursor",
            "names no item of this list",
        )),
    }
}

pub(crate) async fn health() -> impl IntoResponse {
    (StatusCode::OK, "ok")
}

pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    // Shutting down: the load balancer is to send nothing new (docs/api.md §12).
    if state.draining.is_draining() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

pub(crate) fn json_created<T: Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        name: Option<String>,
    }

    /// The error's code, or its first field's.
    fn code(raw: &str) -> Option<&'static str> {
        parse_json::<Body>(raw.as_bytes())
            .err()
            .map(|e| e.field_errors().first().map_or(e.code(), |f| f.code))
    }

    #[test]
    fn only_whitespace_may_follow_the_value() {
        for ok in ["{}", r#"{"name": "x"}"#, "{} \n\t\r", "  {}  ", ""] {
            assert_eq!(code(ok), None, "{ok:?}");
        }
        for bad in [
            "{}x", "{} {}", "{}]", "{}}", "{},", "{}\0", "{}\u{a0}", "{}/",
        ] {
            assert_eq!(code(bad), Some("malformed_json"), "{bad:?}");
        }
    }

    #[test]
    fn a_body_that_is_not_json_is_malformed_before_any_field_is_read() {
        // The unknown field would be a field error in a well-formed body.
        assert_eq!(code(r#"{"surprise": 1}"#), Some("unknown_field"));
        assert_eq!(code(r#"{"surprise": 1}x"#), Some("malformed_json"));
        assert_eq!(code(r#"{"name": 5, "#), Some("malformed_json"));
    }
}
