//! Sandbox controls (API.md §6): settle or return a pending ACH debit now instead of waiting
//! for the settlement delay.

use axum::extract::State;
use axum::Json;
use kassa_core::id::PaymentId;
use kassa_core::payment::{AchResolution, AchReturnCode, MaskedMethod, Payment, PaymentStatus};
use kassa_store::ResolveOutcome;
use serde::Deserialize;

use super::{ApiAuth, ApiJson, PathId};
use crate::app::AppState;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    code: Option<String>,
}

async fn pending_ach(state: &AppState, auth: &ApiAuth, id: &str) -> Result<PaymentId, ApiError> {
    let id = PaymentId::parse(id).map_err(|_| ApiError::not_found("payment"))?;
    let payment = state
        .store
        .payment(&auth.partner.id, &id)
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
    Ok(id)
}

async fn resolve(
    state: &AppState,
    auth: &ApiAuth,
    id: &PaymentId,
    resolution: AchResolution,
) -> Result<Json<Payment>, ApiError> {
    match state
        .store
        .resolve_ach(Some(&auth.partner.id), id, &resolution, state.clock.now())
        .await?
    {
        ResolveOutcome::Resolved(p) => Ok(Json(p)),
        ResolveOutcome::NotPending => Err(ApiError::invalid_state(
            "not_pending",
            "the payment is no longer pending",
        )),
    }
}

pub async fn settle(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId,
) -> Result<Json<Payment>, ApiError> {
    let id = pending_ach(&state, &auth, &id).await?;
    resolve(&state, &auth, &id, AchResolution::Clear).await
}

pub async fn return_debit(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ReturnBody>,
) -> Result<Json<Payment>, ApiError> {
    let code = AchReturnCode::parse(body.code.as_deref().unwrap_or("R01")).ok_or_else(|| {
        ApiError::field(
            "code",
            "invalid_value",
            "must be an ACH return code like R01",
        )
    })?;
    let id = pending_ach(&state, &auth, &id).await?;
    resolve(&state, &auth, &id, AchResolution::Return(code)).await
}
