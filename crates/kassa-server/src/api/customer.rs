//! `/v1/customers` (docs/api.md §3).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::customer::{Customer, CustomerInput, CustomerPatchInput};
use kassa_core::error::FieldErrors;
use kassa_core::id::CustomerId;
use kassa_store::CustomerFilter;

use super::{
    json_created, list_response, ApiAuth, ApiJson, LatePathId, ListBody, ListQuery, Paging, PathId,
};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[utoipa::path(
    post,
    path = "/v1/customers",
    tag = "Customers",
    operation_id = "createCustomer",
    summary = "Create a customer",
    request_body = CustomerInput,
    responses(
        (status = 201, description = "The customer", body = Customer),
        (status = 400, description = "Invalid fields (all listed in `errors`) or malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn create(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<CustomerInput>,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::new();
    let fields = body.validate("", &mut errors);
    errors.finish().map_err(ApiError::validation)?;
    let customer = crate::money::new_customer(
        &auth.partner,
        &fields.expect("validated"),
        state.clock.now(),
    );
    state.store.create_customer(&customer, &auth.caller).await?;
    Ok(json_created(customer))
}

#[utoipa::path(
    get,
    path = "/v1/customers/{id}",
    tag = "Customers",
    operation_id = "getCustomer",
    summary = "Get a customer",
    params(("id" = CustomerId, Path, description = "The customer's id (`cus_…`)")),
    responses(
        (status = 200, description = "The customer", body = Customer),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<CustomerId>,
) -> Result<Json<Customer>, ApiError> {
    let customer = state
        .store
        .customer(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    Ok(Json(customer))
}

/// `PATCH /v1/customers/{id}`: absent fields stay; `null` clears an optional one.
#[utoipa::path(
    patch,
    path = "/v1/customers/{id}",
    tag = "Customers",
    operation_id = "updateCustomer",
    summary = "Update a customer",
    description = "Changes the fields given; absent fields stay as they are, and `null` clears an \
        optional one (`email`, `merchantCustomerRefId`, `entityUseCode`).",
    params(("id" = CustomerId, Path, description = "The customer's id (`cus_…`)")),
    request_body = CustomerPatchInput,
    responses(
        (status = 200, description = "The changed customer", body = Customer),
        (status = 400, description = "Invalid fields (all listed in `errors`) or malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such customer", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn update(
    State(state): State<AppState>,
    auth: ApiAuth,
    id: LatePathId<CustomerId>,
    ApiJson(body): ApiJson<CustomerPatchInput>,
) -> Result<Json<Customer>, ApiError> {
    let id = id.get()?;
    let mut errors = FieldErrors::new();
    let patch = body.validate(&mut errors);
    errors.finish().map_err(ApiError::validation)?;
    let customer = state
        .store
        .update_customer(
            &auth.partner.id,
            &id,
            &patch.expect("validated"),
            &auth.caller,
        )
        .await?
        .ok_or_else(|| ApiError::not_found("customer"))?;
    Ok(Json(customer))
}

/// A page of the list, under its own name in the OpenAPI document.
type CustomerList = ListBody<Customer>;

/// `GET /v1/customers?merchantCustomerRefId=`.
#[utoipa::path(
    get,
    path = "/v1/customers",
    tag = "Customers",
    operation_id = "listCustomers",
    summary = "List customers",
    description = "Your customers, newest first. Unknown query parameters are rejected.",
    params(
        ("merchantCustomerRefId" = Option<String>, Query, description = "Only customers with this reference of yours"),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of customers", body = CustomerList),
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
