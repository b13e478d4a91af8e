//! Balance and payouts (docs/api.md §4): `GET /v1/balance`, `GET /v1/payouts`, `GET /v1/payouts/{id}`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::id::PayoutId;
use kassa_core::money::{Currency, Money};
use kassa_core::payout::{Balance, Payout};

use super::{list_response, ApiAuth, ListBody, ListQuery, Paging, PathId};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[utoipa::path(
    get,
    path = "/v1/balance",
    tag = "Payouts",
    operation_id = "getBalance",
    summary = "Get the balance",
    description = "Derived from the ledger. `available` is what the next payout would pay: \
        captured and cleared payments, less refunds and fees, not yet paid out (it may be \
        negative after refunds). `pending` is bank (ACH) payments not cleared yet.",
    responses(
        (status = 200, description = "The balance", body = Balance),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn balance(
    State(state): State<AppState>,
    auth: ApiAuth,
) -> Result<Json<Balance>, ApiError> {
    let b = state.store.balances(&auth.partner.id).await?;
    Ok(Json(Balance {
        available: Money::new(b.available, Currency::Usd),
        pending: Money::new(b.pending, Currency::Usd),
        currency: Currency::Usd,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/payouts/{id}",
    tag = "Payouts",
    operation_id = "getPayout",
    summary = "Get a payout",
    params(("id" = PayoutId, Path, description = "The payout's id (`po_…`)")),
    responses(
        (status = 200, description = "The payout and its items", body = Payout),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payout", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PayoutId>,
) -> Result<Json<Payout>, ApiError> {
    let payout = state
        .store
        .payout(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("payout"))?;
    Ok(Json(payout))
}

/// A page of the list, under its own name in the OpenAPI document.
type PayoutList = ListBody<Payout>;

#[utoipa::path(
    get,
    path = "/v1/payouts",
    tag = "Payouts",
    operation_id = "listPayouts",
    summary = "List payouts",
    description = "Your payout batches, newest first: `paid`, or `carried_forward` when a batch's \
        net was zero or negative (no money moved; its amount becomes a `carried_balance` item of \
        the next).",
    params(Paging),
    responses(
        (status = 200, description = "A page of payouts", body = PayoutList),
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
    query.only(&[])?;
    let page = state
        .store
        .list_payouts(&auth.partner.id, &query.page()?)
        .await?;
    Ok(list_response(page)?.into_response())
}
