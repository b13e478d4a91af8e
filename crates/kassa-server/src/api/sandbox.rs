//! Sandbox controls (docs/api.md §6): settle or return a pending ACH debit now instead of waiting
//! for the settlement delay.

use axum::extract::State;
use axum::Json;
use kassa_core::id::PaymentId;
use kassa_core::payment::{AchResolution, AchReturnCode, MaskedMethod, Payment, PaymentStatus};
use kassa_store::ResolveOutcome;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ApiAuth, ApiJson, LatePathId, PathId};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SandboxReturnBody)]
pub struct ReturnBody {
    /// The ACH return reason code; R01 (insufficient funds) when left out.
    #[schema(pattern = "^R[0-9]{2}$", examples("R01"))]
    code: Option<String>,
}

async fn pending_ach(state: &AppState, auth: &ApiAuth, id: &PaymentId) -> Result<(), ApiError> {
    let payment = state
        .store
        .payment(&auth.partner.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))?;
    if !matches!(payment.payment_method, MaskedMethod::Ach { .. })
        || payment.status != PaymentStatus::Pending
    {
        return Err(ApiError::invalid_state(
            "not_pending",
            "only a pending ACH payment can be settled or returned",
        ));
    }
    Ok(())
}

async fn resolve(
    state: &AppState,
    auth: &ApiAuth,
    id: &PaymentId,
    resolution: AchResolution,
) -> Result<Json<Payment>, ApiError> {
    match crate::money::resolve_debit(state, Some(&auth.partner.id), id, &resolution).await? {
        ResolveOutcome::Resolved(p) => Ok(Json(p)),
        ResolveOutcome::NotPending => Err(ApiError::invalid_state(
            "not_pending",
            "the payment is no longer pending",
        )),
    }
}

#[utoipa::path(
    post,
    path = "/v1/sandbox/payments/{id}/settle",
    tag = "Sandbox",
    operation_id = "settleSandboxPayment",
    summary = "Clear a pending ACH payment (sandbox)",
    description = "Clears a pending ACH payment now instead of after the settlement delay.",
    params(("id" = PaymentId, Path, description = "The payment's id (`pay_…`)")),
    responses(
        (status = 200, description = "The payment, now `completed`", body = Payment),
        (status = 400, description = "An invalid `Idempotency-Key`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`not_pending`: not a pending ACH payment; or \
            `idempotency_key_reused`", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn settle(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PaymentId>,
) -> Result<Json<Payment>, ApiError> {
    pending_ach(&state, &auth, &id).await?;
    resolve(&state, &auth, &id, AchResolution::Clear).await
}

#[utoipa::path(
    post,
    path = "/v1/sandbox/payments/{id}/return",
    tag = "Sandbox",
    operation_id = "returnSandboxPayment",
    summary = "Return a pending ACH payment (sandbox)",
    description = "Returns a pending ACH payment now, as the bank would: the payment fails with \
        the return code, and a payment request it was for is open again.",
    params(("id" = PaymentId, Path, description = "The payment's id (`pay_…`)")),
    request_body(content = Option<ReturnBody>, description = "Optional; R01 when left out"),
    responses(
        (status = 200, description = "The payment, now `failed` with the return code as `failureCode`", body = Payment),
        (status = 400, description = "An invalid `code`, or malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`not_pending`: not a pending ACH payment; or \
            `idempotency_key_reused`", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn return_debit(
    State(state): State<AppState>,
    auth: ApiAuth,
    id: LatePathId<PaymentId>,
    ApiJson(body): ApiJson<ReturnBody>,
) -> Result<Json<Payment>, ApiError> {
    let code = AchReturnCode::parse(body.code.as_deref().unwrap_or("R01")).ok_or_else(|| {
        ApiError::field(
            "code",
            "invalid_value",
            "must be an ACH return code like R01",
        )
    })?;
    let id = id.get()?;
    pending_ach(&state, &auth, &id).await?;
    resolve(&state, &auth, &id, AchResolution::Return(code)).await
}
