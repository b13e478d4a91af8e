//! Emails a partner asks for (docs/api.md §11): `POST /v1/payments/{id}/receipt` sends a
//! completed payment's receipt again, `POST /v1/payment-requests/{id}/send` emails a request's
//! link. Both answer 202 with the queued email; it is sent by a job, retried, and shows on the
//! payment's timeline.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kassa_core::id::{EmailId, PaymentId, PaymentRequestId};
use kassa_store::EmailRecord;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{ApiAuth, ApiJson, PathId};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Whom to send it to, when not the address Kassa has.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = SendEmailBody)]
pub struct SendBody {
    /// Send to this address instead of the payer's (a receipt: the payment's `payerEmail`, else
    /// its customer's email; a link: the request's `payerEmail`).
    #[schema(format = "email", max_length = 254)]
    email: Option<String>,
}

/// An email Kassa sends.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Email)]
pub struct EmailBody {
    id: EmailId,
    #[schema(inline)]
    object: EmailObject,
    /// `receipt`, `payment_pending`, `payment_link`, `payment_completed`, `debit_returned` or
    /// `endpoint_disabled`.
    kind: String,
    #[schema(format = "email")]
    to: String,
    /// `queued` (waiting for its first or next try), `sent` or `failed` (refused for good, or
    /// every try failed).
    status: String,
    attempts: i64,
    /// Why the last try failed.
    last_error: Option<String>,
    payment_id: Option<PaymentId>,
    payment_request_id: Option<PaymentRequestId>,
    #[serde(with = "kassa_core::clock::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "kassa_core::clock::rfc3339_option")]
    sent_at: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
enum EmailObject {
    #[serde(rename = "email")]
    Email,
}

impl From<EmailRecord> for EmailBody {
    fn from(e: EmailRecord) -> Self {
        EmailBody {
            id: e.id,
            object: EmailObject::Email,
            kind: e.kind.as_str().to_owned(),
            to: e.to.to_string(),
            status: e.status.as_str().to_owned(),
            attempts: e.attempts,
            last_error: e.last_error,
            payment_id: e.payment_id,
            payment_request_id: e.payment_request_id,
            created_at: e.created_at,
            sent_at: e.sent_at,
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/payments/{id}/receipt",
    tag = "Payments",
    operation_id = "sendReceipt",
    summary = "Email a payment's receipt again",
    description = "Queues the receipt of a completed (or refunded) payment to `email`, else the \
        payment's `payerEmail`, else its customer's email. At most 5 emails an hour about one \
        payment.",
    params(("id" = PaymentId, Path, description = "The payment's id (`pay_…`)")),
    request_body(content = SendBody, description = "Optional: another address"),
    responses(
        (status = 202, description = "Queued", body = EmailBody),
        (status = 400, description = "`email`: invalid, or `required` when the payment has no \
            payer email", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
        (status = 409, description = "`email_not_configured`: this Kassa has no SMTP server", body = ErrorBody),
        (status = 422, description = "`payment_not_completed`, or `idempotency_key_reused` with \
            another body", body = ErrorBody),
        (status = 429, description = "Too many emails about this payment", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn send_receipt(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PaymentId>,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<(StatusCode, Json<EmailBody>), ApiError> {
    let email = crate::mail::request::send_receipt(
        &state,
        &auth.partner,
        &id,
        body.email.as_deref(),
        &auth.caller,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(email.into())))
}

#[utoipa::path(
    post,
    path = "/v1/payment-requests/{id}/send",
    tag = "Payment requests",
    operation_id = "sendPaymentRequest",
    summary = "Email a payment request's link",
    description = "Queues an email of an open request's link to `email`, else its `payerEmail`. \
        At most 5 emails an hour about one request.",
    params(("id" = PaymentRequestId, Path, description = "The payment request's id (`pr_…`)")),
    request_body(content = SendBody, description = "Optional: another address"),
    responses(
        (status = 202, description = "Queued", body = EmailBody),
        (status = 400, description = "`email`: invalid, or `required` when the request has no \
            `payerEmail`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment request", body = ErrorBody),
        (status = 409, description = "`not_open`: the request is not open; \
            `email_not_configured`: this Kassa has no SMTP server", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
        (status = 429, description = "Too many emails about this request", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn send_link(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PaymentRequestId>,
    ApiJson(body): ApiJson<SendBody>,
) -> Result<(StatusCode, Json<EmailBody>), ApiError> {
    let email = crate::mail::request::send_link(
        &state,
        &auth.partner,
        &id,
        body.email.as_deref(),
        &auth.caller,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(email.into())))
}
