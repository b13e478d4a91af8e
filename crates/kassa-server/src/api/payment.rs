//! `/v1/payments` (API.md §3): reading payments, including every attempt on a payment request.

use axum::extract::State;
use axum::Json;
use kassa_core::id::PaymentId;
use kassa_core::payment::Payment;

use super::{ApiAuth, PathId};
use crate::app::AppState;
use crate::error::ApiError;

pub async fn get_one(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId,
) -> Result<Json<Payment>, ApiError> {
    let id = PaymentId::parse(&id).map_err(|_| ApiError::not_found("payment"))?;
    let payment = state
        .store
        .payment(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))?;
    Ok(Json(payment))
}
