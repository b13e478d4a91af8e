//! `/v1/customers` (API.md §3).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::customer::{Customer, CustomerInput, CustomerPatchInput};
use kassa_core::error::FieldErrors;
use kassa_core::id::CustomerId;
use kassa_store::CustomerFilter;

use super::{json_created, list_response, ApiAuth, ApiJson, ListQuery, PathId};
use crate::app::AppState;
use crate::error::ApiError;

pub async fn create(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<CustomerInput>,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::new();
    let fields = body.validate("", &mut errors);
    errors.finish().map_err(ApiError::validation)?;
    let customer = crate::payment::new_customer(
        &auth.partner,
        &fields.expect("validated"),
        state.clock.now(),
    );
    state.store.create_customer(&customer).await?;
    Ok(json_created(customer))
}

fn parse_id(id: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(id).map_err(|_| ApiError::not_found("customer"))
}

pub async fn get_one(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId,
) -> Result<Json<Customer>, ApiError> {
    let id = parse_id(&id)?;
    let customer = state
        .store
        .customer(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    Ok(Json(customer))
}

/// `PATCH /v1/customers/{id}`: absent fields stay; `null` clears an optional one.
pub async fn update(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId,
    ApiJson(body): ApiJson<CustomerPatchInput>,
) -> Result<Json<Customer>, ApiError> {
    let id = parse_id(&id)?;
    let mut errors = FieldErrors::new();
    let patch = body.validate(&mut errors);
    errors.finish().map_err(ApiError::validation)?;
    let customer = state
        .store
        .update_customer(
            &auth.partner.id,
            &id,
            &patch.expect("validated"),
            state.clock.now(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    Ok(Json(customer))
}

/// `GET /v1/customers?merchantCustomerRefId=`.
pub async fn list(
    State(state): State<AppState>,
    auth: ApiAuth,
    query: ListQuery,
) -> Result<Response, ApiError> {
    query.only(&["merchantCustomerRefId"])?;
    let filter = CustomerFilter {
        merchant_customer_ref_id: query.get("merchantCustomerRefId").map(str::to_string),
    };
    let page = state
        .store
        .list_customers(&auth.partner.id, &filter, &query.page()?)
        .await?;
    Ok(list_response(page)?.into_response())
}
