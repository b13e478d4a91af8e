//! `/v1/payment-requests` (docs/api.md §2).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::error::FieldErrors;
use kassa_core::id::PaymentRequestId;
use kassa_core::money::amount_text;
use kassa_core::payment_request::{PaymentRequest, PaymentRequestStatus};
use kassa_core::reference::ReferenceId;
use kassa_store::{CreateOutcome, PaymentRequestFilter};
use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::file_body::FileBody;
use super::{json_created, list_response, ApiAuth, ApiJson, ListBody, ListQuery, Paging, PathId};
use crate::error::{ApiError, ErrorBody};
use crate::new_request::{
    build_creation_link, cancel_request, create_or_get, reference_conflict, CreateBody,
};
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/v1/payment-requests",
    tag = "Payment requests",
    operation_id = "createPaymentRequest",
    summary = "Create a payment request",
    description = "Makes a payment link for a fixed amount under your own `referenceId`. \
        Sending the same `referenceId` again with the same amount and currency answers 200 with \
        the existing request (whatever its status) instead of making a second one; with another \
        amount or currency it is a 409 `reference_conflict`.",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created", body = PaymentRequest),
        (status = 200, description = "A request with this `referenceId`, amount and currency \
            already exists; it is returned unchanged", body = PaymentRequest),
        (status = 400, description = "Invalid fields (all listed in `errors`), malformed JSON, or \
            `unsupported_currency`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`reference_conflict`: the `referenceId` is used with another \
            amount or currency; or `idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn create(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let fields = body.validate(state.config.max_amount_minor, now)?;
    match create_or_get(&state, &auth.partner, &auth.caller, fields).await? {
        CreateOutcome::Created(pr) => Ok(json_created(pr.seen_at(now))),
        CreateOutcome::Existing(pr) => Ok((StatusCode::OK, Json(pr.seen_at(now))).into_response()),
        CreateOutcome::Conflict(pr) => Err(reference_conflict(&pr)),
    }
}

#[utoipa::path(
    get,
    path = "/v1/payment-requests/{id}",
    tag = "Payment requests",
    operation_id = "getPaymentRequest",
    summary = "Get a payment request",
    description = "An open request past its `expiresAt` shows as `expired`.",
    params(("id" = PaymentRequestId, Path, description = "The payment request's id (`pr_…`)")),
    responses(
        (status = 200, description = "The payment request", body = PaymentRequest),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment request (also for another partner's)", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PaymentRequestId>,
) -> Result<Json<PaymentRequest>, ApiError> {
    let pr = state
        .store
        .payment_request(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment request"))?;
    Ok(Json(pr.seen_at(state.clock.now())))
}

#[utoipa::path(
    get,
    path = "/v1/payment-requests/{id}/qr",
    tag = "Payment requests",
    operation_id = "getPaymentRequestQr",
    summary = "Get a payment request's link as a QR code",
    description = "The request's payment link (`url`) as a QR code, an SVG image to print or \
        show on a screen for the payer to scan.",
    params(("id" = PaymentRequestId, Path, description = "The payment request's id (`pr_…`)")),
    responses(
        (status = 200, description = "The QR code of the payment link", content_type = "image/svg+xml", body = FileBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment request (also for another partner's)", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn qr(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PaymentRequestId>,
) -> Result<Response, ApiError> {
    let pr = state
        .store
        .payment_request(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment request"))?;
    let svg = crate::link_qr::svg(&pr.url)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("QR code of {}: {e}", pr.id)))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/svg+xml"),
            (axum::http::header::CACHE_CONTROL, "private, max-age=300"),
        ],
        svg,
    )
        .into_response())
}

/// A page of the list, under its own name in the OpenAPI document.
type PaymentRequestList = ListBody<PaymentRequest>;

#[utoipa::path(
    get,
    path = "/v1/payment-requests",
    tag = "Payment requests",
    operation_id = "listPaymentRequests",
    summary = "List payment requests",
    description = "Your payment requests, newest first. Unknown query parameters are rejected.",
    params(
        ("status" = Option<PaymentRequestStatus>, Query, description = "Only requests with this status"),
        ("referenceId" = Option<String>, Query, description = "Only the request with this reference"),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of payment requests", body = PaymentRequestList),
        (status = 400, description = "An invalid or unknown query parameter, or an unknown \
            `startingAfter`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn list(
    State(state): State<AppState>,
    auth: ApiAuth,
    query: ListQuery,
) -> Result<Response, ApiError> {
    query.only(&["status", "referenceId"])?;
    let mut errors = FieldErrors::new();
    let status = match query.get("status") {
        None => None,
        Some(s) => {
            let parsed = PaymentRequestStatus::parse_str(s);
            if parsed.is_none() {
                errors.add(
                    "status",
                    "invalid_value",
                    "must be one of open, processing, completed, canceled, expired",
                );
            }
            parsed
        }
    };
    let reference_id = query
        .get("referenceId")
        .and_then(|r| errors.take("referenceId", ReferenceId::parse(r)));
    let page = query.page();
    errors.finish().map_err(ApiError::validation)?;
    let now = state.clock.now();
    let filter = PaymentRequestFilter {
        reference_contains: None,
        status,
        reference_id: reference_id.map(|r| r.as_str().to_string()),
        as_of: Some(now),
    };
    let page = state
        .store
        .list_payment_requests(&auth.partner.id, &filter, &page?)
        .await?
        .map(|pr| pr.seen_at(now));
    Ok(list_response(page)?.into_response())
}

#[utoipa::path(
    post,
    path = "/v1/payment-requests/{id}/cancel",
    tag = "Payment requests",
    operation_id = "cancelPaymentRequest",
    summary = "Cancel a payment request",
    description = "Cancels an `open` payment request; its link stops taking payments.",
    params(("id" = PaymentRequestId, Path, description = "The payment request's id (`pr_…`)")),
    responses(
        (status = 200, description = "The canceled payment request", body = PaymentRequest),
        (status = 400, description = "An invalid `Idempotency-Key`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment request", body = ErrorBody),
        (status = 409, description = "`not_open`: the request is not open (completed, processing, \
            canceled or expired); `payment_in_progress`: a payment on it is being decided; or \
            `idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn cancel(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PaymentRequestId>,
) -> Result<Json<PaymentRequest>, ApiError> {
    cancel_request(&state, &auth.partner, &auth.caller, &id)
        .await
        .map(Json)
}

/// The body of `POST /v1/creation-links`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreationLinkBody)]
pub struct CreationLinkBody {
    /// Greater than 0 and at most the configured maximum.
    #[schema(required = true, schema_with = kassa_core::money::amount_input_schema)]
    amount: Option<Box<RawValue>>,
    /// 1–100 characters, no control characters.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 100)]
    reference_id: Option<String>,
    /// An absolute `https` URL (`http` only for localhost), without credentials.
    #[schema(format = "uri", max_length = 2048)]
    redirect_url: Option<String>,
}

/// A creation link: opening it makes (or finds) the payment request and shows its pay page.
#[derive(Debug, serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreationLink {
    /// Always `creation_link`.
    #[schema(example = "creation_link")]
    object: &'static str,
    #[schema(format = "uri")]
    url: String,
    /// Whether the link carries a `signature` (when the partner requires signed links).
    signed: bool,
}

#[utoipa::path(
    post,
    path = "/v1/creation-links",
    tag = "Payment requests",
    operation_id = "buildCreationLink",
    summary = "Build a creation link",
    description = "Returns the creation link for an amount and a `referenceId` (and optionally a \
        `redirectUrl`) on your billing host or under `/p/{slug}`, signed with your link secret \
        when your account requires signed links. Nothing is created until the link is opened: \
        the first opening makes the payment request, later ones show the same request.",
    request_body = CreationLinkBody,
    responses(
        (status = 200, description = "The link", body = CreationLink),
        (status = 400, description = "Invalid fields (all listed in `errors`) or malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn creation_link(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<CreationLinkBody>,
) -> Result<Json<CreationLink>, ApiError> {
    let amount = match body.amount.as_deref() {
        None => None,
        Some(raw) => Some(amount_text(raw).ok_or_else(|| {
            ApiError::field(
                "amount",
                "invalid_amount",
                "must be a decimal amount like 250.00",
            )
        })?),
    };
    let url = build_creation_link(
        &state,
        &auth.partner,
        amount.as_deref(),
        body.reference_id.as_deref().unwrap_or(""),
        body.redirect_url.as_deref(),
    )?;
    Ok(Json(CreationLink {
        object: "creation_link",
        url,
        signed: auth.partner.require_signed_links,
    }))
}
