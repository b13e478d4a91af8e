//! The one API error type: every failure of the JSON API leaves through it, in the shape of
//! docs/api.md §1. A 5xx logs its cause and tells the client nothing internal.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::error::FieldError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: &'static str,
    message: String,
    errors: Vec<FieldError>,
    cause: Option<anyhow::Error>,
    /// Seconds for the `Retry-After` header of a 429.
    retry_after: Option<u64>,
}

/// The body of every error answer (docs/api.md §1).
#[derive(Serialize, ToSchema)]
#[schema(
    as = Error,
    description = "Every error answer: a stable `type` and `code`, a message for people, and for \
        a validation failure every invalid field at once.",
    example = json!({"error": {
        "type": "invalid_request", "code": "validation_failed", "message": "2 fields are invalid",
        "errors": [
            {"field": "paymentMethod.creditCard.paymentAccountNumber",
             "code": "luhn_check_failed", "message": "card number is not valid"},
            {"field": "invoice.invoiceLineItems[0].valueType", "code": "invalid_value",
             "message": "must be one of Standard, Discount, DiscountPercentage, FinalDiscount, PriceOverride"}
        ]}})
)]
pub(crate) struct ErrorBody<'a> {
    error: Inner<'a>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ErrorDetail)]
struct Inner<'a> {
    /// The class of error: `invalid_request` (400), `authentication_error` (401),
    /// `permission_error` (403, `insufficient_scope`), `not_found` (404), `conflict` (409), `invalid_state` (422, and 409 for `not_open` on a cancel),
    /// `rate_limited` (429, with `Retry-After`), `internal_error` (500).
    #[serde(rename = "type")]
    kind: &'a str,
    /// A stable code to act on, e.g. `validation_failed`, `reference_conflict`, `already_captured`.
    code: &'a str,
    /// For people; may change.
    message: &'a str,
    /// Every invalid field, when the request failed validation.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.into(),
            errors: Vec::new(),
            cause: None,
            retry_after: None,
        }
    }

    /// Every failing field at once. A lone unsupported currency keeps its own code.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let code = match errors.as_slice() {
            [only] if only.code == "unsupported_currency" => "unsupported_currency",
            _ => "validation_failed",
        };
        let message = match errors.len() {
            1 => format!("{}: {}", errors[0].field, errors[0].message),
            n => format!("{n} fields are invalid"),
        };
        Self {
            errors,
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request", code, message)
        }
    }

    pub fn field(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, code, message)])
    }

    /// A request refused whole with its own status and code (an upload too large, of a type
    /// not taken, or unreadable).
    pub fn invalid_request(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(status, "invalid_request", code, message)
    }

    pub fn malformed_json(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "malformed_json",
            message,
        )
    }

    /// 400: a processor's notification whose signature or body does not hold (docs/api.md §10).
    pub fn invalid_notification(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "invalid_notification",
            message,
        )
    }

    pub fn missing_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "missing_api_key",
            "send your API key as: Authorization: Bearer sk_…",
        )
    }

    pub fn invalid_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_api_key",
            "the API key is unknown or revoked",
        )
    }

    /// 403 `insufficient_scope`: the API key lacks `scope` (docs/api.md §9).
    pub fn insufficient_scope(scope: kassa_core::scope::Scope) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "insufficient_scope",
            format!("this API key lacks the scope \"{scope}\""),
        )
    }

    /// A limit of docs/api.md §8: 429 `rate_limited`, to be tried again after `retry_after_secs`.
    pub fn rate_limited(retry_after_secs: u64, message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "rate_limited",
                message,
            )
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "not_found",
            format!("no such {what}"),
        )
    }

    pub fn route_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "not_found",
            "no such endpoint",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "method_not_allowed",
            "this endpoint does not take that method",
        )
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", code, message)
    }

    /// A 409 caused by one field's value (e.g. a billing host another partner has): the field is
    /// also listed in `errors`, so a form can show the message beside it.
    pub fn conflict_on(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            errors: vec![FieldError::new(field, code, message.clone())],
            ..Self::conflict(code, message)
        }
    }

    pub fn invalid_state(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_state",
            code,
            message,
        )
    }

    /// Like `invalid_state`, answered with 409 where the contract says so (`not_open` on cancel).
    pub fn invalid_state_conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "invalid_state", code, message)
    }

    /// 503: something Kassa must ask (e.g. DNS) did not answer; nothing was changed and the
    /// same call may succeed later.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            code,
            message,
        )
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal_error",
                "something went wrong on our side; it has been logged",
            )
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// For people; what the answer's `message` says.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The invalid fields (a validation failure, or a conflict on one field's value).
    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// A fault on our side: the page shows a generic error and the cause goes to the log.
    pub fn is_internal(&self) -> bool {
        self.status.is_server_error()
    }

    /// The cause of a fault, for the log.
    pub fn into_cause(self) -> anyhow::Error {
        self.cause
            .unwrap_or_else(|| anyhow::anyhow!("{}: {}", self.code, self.message))
    }
}

impl From<kassa_store::StoreError> for ApiError {
    fn from(e: kassa_store::StoreError) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let body = ErrorBody {
            error: Inner {
                kind: self.kind,
                code: self.code,
                message: &self.message,
                errors: &self.errors,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_reports_every_field() {
        let e = ApiError::validation(vec![
            FieldError::new("amount", "invalid_amount", "bad"),
            FieldError::new("referenceId", "required", "is required"),
        ]);
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.code(), "validation_failed");
        assert_eq!(e.message, "2 fields are invalid");
    }

    #[test]
    fn lone_currency_error_keeps_its_code() {
        let e = ApiError::validation(vec![FieldError::new(
            "currency",
            "unsupported_currency",
            "USD only",
        )]);
        assert_eq!(e.code(), "unsupported_currency");
    }
}
