//! Refunds (docs/api.md §4): `POST /v1/payments/{id}/refunds`, `GET /v1/refunds/{id}`,
//! `GET /v1/refunds?paymentId=`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::error::FieldErrors;
use kassa_core::id::{PaymentId, RefundId};
use kassa_core::money::Currency;
use kassa_core::refund::{Refund, RefundInput};
use kassa_store::{NewRefund, RefundFilter};

use super::{
    json_created, list_response, ApiAuth, ApiJson, LatePathId, ListBody, ListQuery, Paging, PathId,
};
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;

/// `POST /v1/payments/{id}/refunds`: all that is left, or `amount` of it.
#[utoipa::path(
    post,
    path = "/v1/payments/{id}/refunds",
    tag = "Refunds",
    operation_id = "createRefund",
    summary = "Refund a payment",
    description = "Pays back all of a payment that is left to refund, or `amount` of it; several \
        partial refunds may follow each other up to the captured amount. A bank (ACH) payment can \
        be refunded only once it has cleared. The refund is deducted from the partner's next \
        payout. `status` is `succeeded`, or `failed` if the processor refused (the amount is \
        refundable again), or `pending` while it has not answered.",
    params(("id" = PaymentId, Path, description = "The payment's id (`pay_…`)")),
    request_body(content = Option<RefundInput>, description = "Optional: `{}` or no body refunds all that is left"),
    responses(
        (status = 201, description = "The refund", body = Refund),
        (status = 400, description = "An invalid `amount` or `reason`, or malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`refund_exceeds_available`, `payment_not_settled` (a bank \
            payment not cleared yet, or a failed payment) or `idempotency_key_reused`", body = ErrorBody),
    ),
    security(("apiKey" = ["refunds"])),
)]
pub async fn create(
    State(state): State<AppState>,
    auth: ApiAuth,
    payment: LatePathId<PaymentId>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<RefundInput>,
) -> Result<Response, ApiError> {
    let payment = payment.get()?;
    let mut errors = FieldErrors::new();
    let fields = body.validate(Currency::Usd, state.config.max_amount_minor, &mut errors);
    errors.finish().map_err(ApiError::validation)?;
    let (amount, reason) = fields.expect("validated");
    let new = NewRefund {
        id: RefundId::generate(),
        amount,
        reason,
        idempotency_key: key,
    };
    let begun = crate::money::refund(&state, &auth.partner, &auth.caller, payment, new)
        .await
        .map_err(ApiError::internal)?;
    Ok(json_created(crate::money::refund_outcome(begun)?))
}

#[utoipa::path(
    get,
    path = "/v1/refunds/{id}",
    tag = "Refunds",
    operation_id = "getRefund",
    summary = "Get a refund",
    params(("id" = RefundId, Path, description = "The refund's id (`re_…`)")),
    responses(
        (status = 200, description = "The refund; `payoutId` names the payout it was deducted from", body = Refund),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such refund", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<RefundId>,
) -> Result<Json<Refund>, ApiError> {
    let refund = state
        .store
        .refund(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("refund"))?;
    Ok(Json(refund))
}

/// A page of the list, under its own name in the OpenAPI document.
type RefundList = ListBody<Refund>;

#[utoipa::path(
    get,
    path = "/v1/refunds",
    tag = "Refunds",
    operation_id = "listRefunds",
    summary = "List refunds",
    description = "Your refunds, newest first. Unknown query parameters are rejected.",
    params(
        ("paymentId" = Option<PaymentId>, Query, description = "Only this payment's refunds"),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of refunds", body = RefundList),
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
    query.only(&["paymentId"])?;
    let mut errors = FieldErrors::new();
    let payment_id = query.get("paymentId").and_then(|p| {
        let parsed = PaymentId::parse(p).ok();
        if parsed.is_none() {
            errors.add("paymentId", "invalid_value", "must be a payment id (pay_…)");
        }
        parsed
    });
    let page = query.page();
    errors.finish().map_err(ApiError::validation)?;
    let page = state
        .store
        .list_refunds(&auth.partner.id, &RefundFilter { payment_id }, &page?)
        .await?;
    Ok(list_response(page)?.into_response())
}
