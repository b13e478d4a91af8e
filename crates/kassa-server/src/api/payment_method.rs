//! `/v1/payment-methods` (docs/api.md §3): vault a card, bank account or Google Pay token for a
//! customer, read it back masked, delete it.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::address::BillingAddressInput;
use kassa_core::error::FieldErrors;
use kassa_core::id::{CustomerId, PaymentMethodId};
use kassa_core::payment_method::{
    AchInput, CreditCardInput, GooglePayInput, PaymentMethod, PaymentMethodInput,
    PaymentMethodObject,
};
use kassa_store::CustomerRef;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{json_created, list_response, ApiAuth, ApiJson, ListBody, ListQuery, Paging, PathId};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// `customerId` and the fields of a sale's `paymentMethod`, at the top level.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(
    as = CreatePaymentMethodBody,
    description = "`customerId` and the fields of a sale's `paymentMethod`, with exactly one of \
        `creditCard`, `ach` or `googlePay`."
)]
pub struct CreateBody {
    /// The customer the method belongs to (`cus_…`).
    #[schema(required = true, nullable = false)]
    customer_id: Option<String>,
    #[schema(required = true, nullable = false, max_length = 100)]
    billing_first_name: Option<String>,
    #[schema(required = true, nullable = false, max_length = 100)]
    billing_last_name: Option<String>,
    billing_address: Option<BillingAddressInput>,
    credit_card: Option<CreditCardInput>,
    ach: Option<AchInput>,
    google_pay: Option<GooglePayInput>,
    #[schema(max_length = 100)]
    merchant_payment_method_ref_id: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/payment-methods",
    tag = "Payment methods",
    operation_id = "createPaymentMethod",
    summary = "Store a payment method",
    description = "Vaults a card, bank account or Google Pay token for a customer, to charge \
        later with `paymentMethodId`. Only masked details are ever shown again.",
    request_body = CreateBody,
    responses(
        (status = 201, description = "The stored payment method, masked", body = PaymentMethod),
        (status = 400, description = "Invalid fields (all listed in `errors`), malformed JSON, or \
            an unknown `customerId`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn create(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::new();
    let customer = match body.customer_id.as_deref() {
        None => {
            errors.add("customerId", "required", "is required");
            None
        }
        Some(id) => {
            let found = match CustomerId::parse(id) {
                Ok(id) => state.store.customer(&auth.partner.id, &id).await?,
                Err(_) => None,
            };
            if found.is_none() {
                errors.add("customerId", "not_found", "no such customer");
            }
            found
        }
    };
    let input = PaymentMethodInput {
        billing_first_name: body.billing_first_name,
        billing_last_name: body.billing_last_name,
        billing_address: body.billing_address,
        credit_card: body.credit_card,
        ach: body.ach,
        google_pay: body.google_pay,
        merchant_payment_method_ref_id: body.merchant_payment_method_ref_id,
    };
    let draft = input.validate("", state.clock.now().date(), &mut errors);
    errors.finish().map_err(ApiError::validation)?;
    let customer = customer.expect("validated");
    let method = crate::money::vault_method(
        &state,
        &auth.partner,
        Some(&customer.id),
        &draft.expect("validated"),
    );
    let created = state
        .store
        .create_payment_method(
            &auth.partner.id,
            Some(&CustomerRef::Existing(customer.id)),
            &method,
            &auth.caller,
        )
        .await?;
    Ok(json_created(created))
}

#[utoipa::path(
    get,
    path = "/v1/payment-methods/{id}",
    tag = "Payment methods",
    operation_id = "getPaymentMethod",
    summary = "Get a payment method",
    params(("id" = PaymentMethodId, Path, description = "The payment method's id (`pm_…`)")),
    responses(
        (status = 200, description = "The payment method, masked", body = PaymentMethod),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment method (or it was deleted)", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PaymentMethodId>,
) -> Result<Json<PaymentMethod>, ApiError> {
    let found = state
        .store
        .payment_method(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment method"))?;
    Ok(Json(found))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeletedPaymentMethod)]
pub struct Deleted {
    id: PaymentMethodId,
    #[schema(inline)]
    object: PaymentMethodObject,
    /// Always `true`.
    deleted: bool,
}

/// `DELETE /v1/payment-methods/{id}`: the method can no longer be charged and its number is
/// destroyed; payments made with it keep their masked details.
#[utoipa::path(
    delete,
    path = "/v1/payment-methods/{id}",
    tag = "Payment methods",
    operation_id = "deletePaymentMethod",
    summary = "Delete a payment method",
    description = "The method can no longer be charged and its number is destroyed; payments \
        made with it keep their masked details.",
    params(("id" = PaymentMethodId, Path, description = "The payment method's id (`pm_…`)")),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment method (or it was already deleted)", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PaymentMethodId>,
) -> Result<Json<Deleted>, ApiError> {
    let deleted = state
        .store
        .delete_payment_method(&auth.partner.id, &id, &auth.caller)
        .await?
        .ok_or_else(|| ApiError::not_found("payment method"))?;
    Ok(Json(Deleted {
        id: deleted.id,
        object: PaymentMethodObject::PaymentMethod,
        deleted: true,
    }))
}

/// A page of the list, under its own name in the OpenAPI document.
type PaymentMethodList = ListBody<PaymentMethod>;

/// `GET /v1/payment-methods?customerId=`.
#[utoipa::path(
    get,
    path = "/v1/payment-methods",
    tag = "Payment methods",
    operation_id = "listPaymentMethods",
    summary = "List payment methods",
    description = "Your stored payment methods (deleted ones left out), newest first, masked. \
        Unknown query parameters are rejected.",
    params(
        ("customerId" = Option<CustomerId>, Query, description = "Only this customer's methods"),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of payment methods", body = PaymentMethodList),
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
    query.only(&["customerId"])?;
    let mut errors = FieldErrors::new();
    let customer = query.get("customerId").and_then(|c| {
        let parsed = CustomerId::parse(c).ok();
        if parsed.is_none() {
            errors.add(
                "customerId",
                "invalid_value",
                "must be a customer id (cus_…)",
            );
        }
        parsed
    });
    let page = query.page();
    errors.finish().map_err(ApiError::validation)?;
    let page = state
        .store
        .list_payment_methods(&auth.partner.id, customer.as_ref(), &page?)
        .await?;
    Ok(list_response(page)?.into_response())
}
