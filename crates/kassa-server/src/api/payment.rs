//! `/v1/payments` (docs/api.md §3): sale, authorization, capture, reverse, and reading payments —
//! including every attempt on a payment request (`source: payment_request`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::authorization::Authorization;
use kassa_core::card::Expiry;
use kassa_core::customer::{Customer, CustomerInput};
use kassa_core::descriptor::{DynamicDescriptor, DynamicDescriptorInput};
use kassa_core::error::FieldErrors;
use kassa_core::id::{AuthorizationId, CustomerId, InvoiceId, PaymentId, PaymentMethodId};
use kassa_core::invoice::{Invoice, InvoiceInput};
use kassa_core::money::{amount_text, Currency, Money};
use kassa_core::payment::{MaskedMethod, Payment, PaymentSource, PaymentStatus};
use kassa_core::payment_method::PaymentMethodInput;
use kassa_core::reference::ReferenceId;
use kassa_store::{CaptureOutcome, NewCapture, Partner, PaymentFilter, ReverseOutcome};
use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::{
    json_created, list_response, ApiAuth, ApiJson, LatePathId, ListBody, ListQuery, Paging, PathId,
};
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::IdempotencyKey;
use crate::money::{self as pay, Charged, Order, Payer};
use crate::state::AppState;

/// The body of a sale or an authorization, named as in the source document.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(
    description = "The payer (`customerId`, or `firstName` and `lastName` for a new \
    customer), exactly one source of the payment method (`paymentMethod`, `paymentMethodId`, or \
    for a sale only `paymentMethodAuthorizationId`), and the `invoice` whose total is charged."
)]
pub struct PaymentBody {
    /// An existing customer (`cus_…`); leave out the new-customer fields when given.
    customer_id: Option<String>,
    /// With `lastName`, makes a new customer for this payment.
    #[schema(max_length = 100)]
    first_name: Option<String>,
    #[schema(max_length = 100)]
    last_name: Option<String>,
    /// The new customer's reference in your system.
    #[schema(max_length = 100)]
    merchant_customer_ref_id: Option<String>,
    /// A tax exemption code for the new customer; an exempt customer pays no tax.
    #[schema(max_length = 25)]
    entity_use_code: Option<String>,
    /// A new card, bank account or Google Pay token; it is vaulted and its `paymentMethodId`
    /// returned.
    payment_method: Option<PaymentMethodInput>,
    /// A stored payment method (`pm_…`) of this customer.
    payment_method_id: Option<String>,
    /// Sale only: capture the invoice total from this authorization (`auth_…`).
    payment_method_authorization_id: Option<String>,
    #[schema(required = true, nullable = false)]
    invoice: Option<InvoiceInput>,
    dynamic_descriptor: Option<DynamicDescriptorInput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sale,
    Authorization,
}

/// A validated request: a new charge or hold, or (sale only) the capture of an authorization.
// Built once per request and matched right away.
#[allow(clippy::large_enum_variant)]
enum Validated {
    Order(Order),
    FromAuthorization {
        authorization: AuthorizationId,
        invoice: Invoice,
        dynamic_descriptor: Option<DynamicDescriptor>,
    },
}

/// Checks every rule of the source document and every id the request names, reporting all
/// failures together; prices the invoice with the partner's tax rates.
async fn validate(
    state: &AppState,
    partner: &Partner,
    body: PaymentBody,
    kind: Kind,
) -> Result<Validated, ApiError> {
    let mut errors = FieldErrors::new();
    let today = state.clock.now().date();

    // The payer: customerId, or firstName + lastName making a new customer.
    let mut exempt = false;
    let payer = match body.customer_id.as_deref() {
        Some(id) => {
            for (given, name) in [
                (body.first_name.is_some(), "firstName"),
                (body.last_name.is_some(), "lastName"),
                (
                    body.merchant_customer_ref_id.is_some(),
                    "merchantCustomerRefId",
                ),
                (body.entity_use_code.is_some(), "entityUseCode"),
            ] {
                if given {
                    errors.add(
                        name,
                        "not_with_customer_id",
                        "describes a new customer; leave it out when customerId is given",
                    );
                }
            }
            match find_customer(state, partner, id).await? {
                Some(customer) => {
                    exempt = customer.is_tax_exempt();
                    Some(Payer::Existing(customer.id))
                }
                None => {
                    errors.add("customerId", "not_found", "no such customer");
                    None
                }
            }
        }
        None if body.first_name.is_none() && body.last_name.is_none() => {
            errors.add(
                "customerId",
                "required",
                "either customerId, or firstName and lastName, is required",
            );
            None
        }
        None => {
            let input = CustomerInput {
                first_name: body.first_name,
                last_name: body.last_name,
                email: None,
                merchant_customer_ref_id: body.merchant_customer_ref_id,
                entity_use_code: body.entity_use_code,
            };
            input.validate("", &mut errors).map(|fields| {
                exempt = fields.entity_use_code.is_some();
                Payer::New(fields)
            })
        }
    };

    // Exactly one source of the payment method.
    let sources = [
        body.payment_method.is_some(),
        body.payment_method_id.is_some(),
        body.payment_method_authorization_id.is_some(),
    ];
    let named = match kind {
        Kind::Sale => "paymentMethod, paymentMethodId or paymentMethodAuthorizationId",
        Kind::Authorization => "paymentMethod or paymentMethodId",
    };
    let mut method = None;
    let mut from_authorization = None;
    match sources.iter().filter(|s| **s).count() {
        0 => errors.add(
            "paymentMethod",
            "required",
            format!("one of {named} is required"),
        ),
        1 => {
            if let Some(input) = body.payment_method {
                let ach = input.ach.is_some();
                let draft = input.validate("paymentMethod", today, &mut errors);
                if kind == Kind::Authorization && ach {
                    errors.add(
                        "paymentMethod.ach",
                        "not_supported",
                        "an authorization holds funds on a card or Google Pay; charge a bank account with a sale",
                    );
                } else {
                    method = draft.map(Charged::New);
                }
            } else if let Some(id) = body.payment_method_id.as_deref() {
                method =
                    stored_method(state, partner, id, kind, today, &payer, &mut errors).await?;
            } else if let Some(id) = body.payment_method_authorization_id.as_deref() {
                if kind == Kind::Authorization {
                    errors.add(
                        "paymentMethodAuthorizationId",
                        "not_supported",
                        "an authorization cannot be made from another authorization",
                    );
                } else {
                    from_authorization =
                        authorization_to_capture(state, partner, id, &payer, &mut errors).await?;
                }
            }
        }
        _ => {
            errors.add(
                "paymentMethod",
                "multiple_payment_method_sources",
                format!("give exactly one of {named}"),
            );
            // Still check what was sent, so every problem is reported at once.
            if let Some(input) = body.payment_method {
                input.validate("paymentMethod", today, &mut errors);
            }
        }
    }

    let draft = super::invoice::invoice_draft(state, body.invoice, &mut errors);
    let dynamic_descriptor = body
        .dynamic_descriptor
        .and_then(|d| d.validate("dynamicDescriptor", &mut errors));

    let invoice = match draft {
        Some(draft) => {
            let rates = state.store.tax_rates(&partner.id).await?;
            let invoice = draft.price(InvoiceId::generate(), &rates, exempt);
            if invoice.total == 0 {
                errors.add(
                    "invoice",
                    "zero_amount",
                    "the invoice total is 0.00; there is nothing to charge",
                );
            } else if invoice.total > state.config.max_amount_minor {
                errors.add(
                    "invoice",
                    "amount_too_large",
                    format!(
                        "the invoice total {} is above the maximum of {}",
                        kassa_core::money::format_minor(invoice.total),
                        kassa_core::money::format_minor(state.config.max_amount_minor)
                    ),
                );
            }
            Some(invoice)
        }
        None => None,
    };
    errors.finish().map_err(ApiError::validation)?;
    let invoice = invoice.expect("validated");
    if let Some(authorization) = from_authorization {
        return Ok(Validated::FromAuthorization {
            authorization,
            invoice,
            dynamic_descriptor,
        });
    }
    Ok(Validated::Order(Order {
        payer: payer.expect("validated"),
        method: method.expect("validated"),
        invoice,
        dynamic_descriptor,
    }))
}

async fn find_customer(
    state: &AppState,
    partner: &Partner,
    id: &str,
) -> Result<Option<Customer>, ApiError> {
    match CustomerId::parse(id) {
        Ok(id) => Ok(state.store.customer(&partner.id, &id).await?),
        Err(_) => Ok(None),
    }
}

/// A stored payment method the request may charge, opened from the vault.
async fn stored_method(
    state: &AppState,
    partner: &Partner,
    id: &str,
    kind: Kind,
    today: time::Date,
    payer: &Option<Payer>,
    errors: &mut FieldErrors,
) -> Result<Option<Charged>, ApiError> {
    const FIELD: &str = "paymentMethodId";
    let found = match PaymentMethodId::parse(id) {
        Ok(id) => state.store.payment_method(&partner.id, &id).await?,
        Err(_) => None,
    };
    let Some(pm) = found else {
        errors.add(
            FIELD,
            "not_found",
            "no such payment method (or it was deleted)",
        );
        return Ok(None);
    };
    // A card a payer typed on a hosted page belongs to no customer: it paid that request, and
    // the payer never agreed to be charged again.
    if pm.customer_id.is_none() {
        errors.add(
            FIELD,
            "not_reusable",
            "was entered by a payer on a payment page and cannot be charged again",
        );
        return Ok(None);
    }
    let belongs = match (payer, &pm.customer_id) {
        (_, None) => false,
        (Some(Payer::Existing(c)), Some(owner)) => c == owner,
        (Some(Payer::New(_)), Some(_)) => false,
        // The payer is already reported as invalid.
        (None, Some(_)) => true,
    };
    if !belongs {
        errors.add(
            FIELD,
            "customer_mismatch",
            "belongs to another customer; send that customer's customerId",
        );
        return Ok(None);
    }
    match &pm.method {
        MaskedMethod::Ach { .. } if kind == Kind::Authorization => {
            errors.add(
                FIELD,
                "not_supported",
                "is a bank account; an authorization holds funds on a card or Google Pay",
            );
            return Ok(None);
        }
        MaskedMethod::Card {
            exp_month,
            exp_year,
            ..
        } => {
            let expiry = Expiry {
                month: u8::try_from(*exp_month).unwrap_or(0),
                year: *exp_year,
            };
            if expiry.is_expired(today) {
                errors.add(FIELD, "card_expired", "the stored card has expired");
                return Ok(None);
            }
        }
        _ => {}
    }
    let secret = match state
        .store
        .payment_method_vault(&partner.id, &pm.id)
        .await?
    {
        Some(entry) => pay::open_stored(state, partner, &pm.method, &entry),
        None => None,
    };
    let Some(secret) = secret else {
        // The key changed or the row was damaged: say so in the log, not to the client.
        tracing::error!(payment_method = %pm.id, "stored payment method cannot be opened from the vault");
        errors.add(
            FIELD,
            "unusable",
            "this payment method can no longer be charged; add it again",
        );
        return Ok(None);
    };
    Ok(Some(Charged::Stored {
        id: pm.id,
        masked: pm.method,
        secret,
    }))
}

/// The authorization a sale names, when it exists and is the payer's.
async fn authorization_to_capture(
    state: &AppState,
    partner: &Partner,
    id: &str,
    payer: &Option<Payer>,
    errors: &mut FieldErrors,
) -> Result<Option<AuthorizationId>, ApiError> {
    const FIELD: &str = "paymentMethodAuthorizationId";
    let found = match AuthorizationId::parse(id) {
        Ok(id) => state.store.authorization(&partner.id, &id).await?,
        Err(_) => None,
    };
    let Some(auth) = found else {
        errors.add(FIELD, "not_found", "no such authorization");
        return Ok(None);
    };
    match payer {
        Some(Payer::Existing(c)) if Some(c) == auth.customer_id.as_ref() => Ok(Some(auth.id)),
        None => Ok(Some(auth.id)),
        _ => {
            errors.add(
                "customerId",
                "customer_mismatch",
                "a sale from an authorization is for the authorization's customer; send its customerId",
            );
            Ok(None)
        }
    }
}

/// `POST /v1/payments/sale`: authorize and capture in one call. A decline is a `failed` payment.
#[utoipa::path(
    post,
    path = "/v1/payments/sale",
    tag = "Payments",
    operation_id = "createSale",
    summary = "Charge (authorize and capture)",
    description = "Authorizes and captures the invoice total in one call. A declined card is not \
        an HTTP error: the payment is created (201) with `status: failed` and a `failureCode` \
        (`card_declined`, `insufficient_funds`, `expired_card`, `incorrect_cvc`, \
        `processing_error`). A bank account (ACH) payment is `pending` until the debit clears or \
        is returned. With `paymentMethodAuthorizationId` the sale captures the invoice total from \
        that authorization.",
    request_body = PaymentBody,
    responses(
        (status = 201, description = "The payment: `completed`, `pending` (ACH) or `failed` \
            (declined)", body = Payment),
        (status = 400, description = "Invalid fields (all listed in `errors`) or malformed JSON; \
            also an unknown `customerId`, `paymentMethodId` or `paymentMethodAuthorizationId`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "From an authorization: `capture_exceeds_authorized`, \
            `already_captured` or `not_open`; or `idempotency_key_reused`", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn sale(
    State(state): State<AppState>,
    auth: ApiAuth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<PaymentBody>,
) -> Result<Response, ApiError> {
    match validate(&state, &auth.partner, body, Kind::Sale).await? {
        Validated::Order(order) => {
            let payment = pay::sale(&state, &auth.partner, &auth.caller, order, key)
                .await
                .map_err(charge_error)?;
            Ok(json_created(payment))
        }
        Validated::FromAuthorization {
            authorization,
            invoice,
            dynamic_descriptor,
        } => {
            let capture = NewCapture {
                payment_id: PaymentId::generate(),
                idempotency_key: key,
                amount: Some(Money::new(invoice.total, invoice.currency)),
                invoice: Some(invoice),
                dynamic_descriptor,
            };
            capture_response(
                &state,
                &auth,
                &authorization,
                &capture,
                "paymentMethodAuthorizationId",
            )
            .await
        }
    }
}

/// `POST /v1/payments/authorization`: hold the invoice total on a card.
#[utoipa::path(
    post,
    path = "/v1/payments/authorization",
    tag = "Payments",
    operation_id = "createAuthorization",
    summary = "Authorize (hold funds)",
    description = "Holds the invoice total on a card or Google Pay (not a bank account) for 7 \
        days, to capture later in full or in part, or reverse. A decline is a 201 with \
        `status: failed` and a `failureCode`. Its `id` is the `paymentMethodAuthorizationId` of a \
        later sale.",
    request_body = PaymentBody,
    responses(
        (status = 201, description = "The authorization: `authorized` or `failed` (declined)", body = Authorization),
        (status = 400, description = "Invalid fields (all listed in `errors`) or malformed JSON; \
            a bank account is `not_supported`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn authorize(
    State(state): State<AppState>,
    auth: ApiAuth,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<PaymentBody>,
) -> Result<Response, ApiError> {
    let Validated::Order(order) =
        validate(&state, &auth.partner, body, Kind::Authorization).await?
    else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "an authorization validated as a capture"
        )));
    };
    let authorization = pay::authorize(&state, &auth.partner, &auth.caller, order, key)
        .await
        .map_err(charge_error)?;
    Ok(json_created(authorization.seen_at(state.clock.now())))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaptureBody {
    /// How much to capture, at most the authorized amount; the whole authorization when left out.
    #[schema(schema_with = kassa_core::money::amount_input_schema)]
    amount: Option<Box<RawValue>>,
}

/// `POST /v1/payments/capture/{authorizationId}`: capture all or part of a hold, once.
#[utoipa::path(
    post,
    path = "/v1/payments/capture/{id}",
    tag = "Payments",
    operation_id = "captureAuthorization",
    summary = "Capture an authorization",
    description = "Captures all of an authorization or part of it (`amount`), once; the \
        uncaptured rest is released. The body may be empty.",
    params(("id" = AuthorizationId, Path, description = "The authorization's id (`auth_…`)")),
    request_body(content = Option<CaptureBody>, description = "Optional: `{}` or no body captures the whole amount"),
    responses(
        (status = 201, description = "The payment the capture made: `completed` once the \
            processor confirmed it, `failed` if it refused (the authorization is `authorized` \
            again), `pending` if it has not answered yet", body = Payment),
        (status = 400, description = "An invalid `amount`, or malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such authorization", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`capture_exceeds_authorized`, `already_captured`, \
            `not_open` (failed, reversed or expired), or `idempotency_key_reused`", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn capture(
    State(state): State<AppState>,
    auth: ApiAuth,
    id: LatePathId<AuthorizationId>,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<CaptureBody>,
) -> Result<Response, ApiError> {
    let id = id.get()?;
    let amount = match body.amount.as_deref() {
        None => None,
        Some(raw) => {
            let mut errors = FieldErrors::new();
            let amount = match amount_text(raw) {
                Some(text) => errors.take(
                    "amount",
                    Money::parse_positive(&text, Currency::Usd, state.config.max_amount_minor),
                ),
                None => {
                    errors.add(
                        "amount",
                        "invalid_amount",
                        "must be a decimal amount like 40.00",
                    );
                    None
                }
            };
            errors.finish().map_err(ApiError::validation)?;
            amount
        }
    };
    let capture = NewCapture {
        payment_id: PaymentId::generate(),
        idempotency_key: key,
        amount,
        invoice: None,
        dynamic_descriptor: None,
    };
    capture_response(&state, &auth, &id, &capture, "").await
}

async fn capture_response(
    state: &AppState,
    auth: &ApiAuth,
    id: &AuthorizationId,
    capture: &NewCapture,
    field: &str,
) -> Result<Response, ApiError> {
    match pay::capture(
        state,
        &auth.partner,
        &auth.caller,
        id.clone(),
        capture.clone(),
    )
    .await
    .map_err(ApiError::internal)?
    {
        // Completed, or failed when the processor refused (the authorization can be captured
        // again); pending only if the processor has not answered yet.
        CaptureOutcome::Captured { payment, .. } | CaptureOutcome::Existing(payment) => {
            Ok(json_created(payment))
        }
        CaptureOutcome::NotFound if field.is_empty() => Err(ApiError::not_found("authorization")),
        CaptureOutcome::NotFound => {
            Err(ApiError::field(field, "not_found", "no such authorization"))
        }
        CaptureOutcome::ExceedsAuthorized(a) => Err(ApiError::invalid_state(
            "capture_exceeds_authorized",
            format!(
                "cannot capture {} of an authorization for {}",
                capture.amount.map(Money::display).unwrap_or_default(),
                a.amount.display()
            ),
        )),
        CaptureOutcome::AlreadyCaptured(a) => Err(ApiError::invalid_state(
            "already_captured",
            format!(
                "authorization {} was already captured (payment {})",
                a.id,
                a.payment_id.map(|p| p.to_string()).unwrap_or_default()
            ),
        )),
        CaptureOutcome::NotCapturable(a) => Err(not_open(&a, "captured")),
    }
}

/// A method deleted between validation and recording is the client's 400, like any unknown id.
fn charge_error(e: anyhow::Error) -> ApiError {
    if e.downcast_ref::<pay::Gone>().is_some() {
        ApiError::field(
            "paymentMethodId",
            "not_found",
            "no such payment method (it was just deleted)",
        )
    } else {
        ApiError::internal(e)
    }
}

fn not_open(a: &Authorization, verb: &str) -> ApiError {
    ApiError::invalid_state(
        "not_open",
        format!(
            "only an authorized hold can be {verb}; this authorization is {}",
            a.status.as_str()
        ),
    )
}

/// `POST /v1/payments/authorization/{id}/reverse`: release a hold without capturing it.
#[utoipa::path(
    post,
    path = "/v1/payments/authorization/{id}/reverse",
    tag = "Payments",
    operation_id = "reverseAuthorization",
    summary = "Reverse an authorization",
    description = "Releases an `authorized` hold without capturing it.",
    params(("id" = AuthorizationId, Path, description = "The authorization's id (`auth_…`)")),
    responses(
        (status = 200, description = "The authorization, now `reversed`", body = Authorization),
        (status = 400, description = "An invalid `Idempotency-Key`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such authorization", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`already_captured` (refund the payment instead), \
            `not_open`, or `idempotency_key_reused`", body = ErrorBody),
    ),
    security(("apiKey" = ["payments"])),
)]
pub async fn reverse(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<AuthorizationId>,
) -> Result<Json<Authorization>, ApiError> {
    match state
        .store
        .reverse_authorization(&auth.partner.id, &id, &auth.caller)
        .await?
    {
        ReverseOutcome::Reversed(a) => Ok(Json(a)),
        ReverseOutcome::NotFound => Err(ApiError::not_found("authorization")),
        ReverseOutcome::AlreadyCaptured(a) => Err(ApiError::invalid_state(
            "already_captured",
            format!(
                "authorization {} was captured; refund the payment instead",
                a.id
            ),
        )),
        ReverseOutcome::NotReversible(a) => Err(not_open(&a, "reversed")),
    }
}

/// `GET /v1/payments/authorization/{id}`.
#[utoipa::path(
    get,
    path = "/v1/payments/authorization/{id}",
    tag = "Payments",
    operation_id = "getAuthorization",
    summary = "Get an authorization",
    description = "An uncaptured hold past its `expiresAt` shows as `expired`.",
    params(("id" = AuthorizationId, Path, description = "The authorization's id (`auth_…`)")),
    responses(
        (status = 200, description = "The authorization", body = Authorization),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such authorization", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn get_authorization(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<AuthorizationId>,
) -> Result<Json<Authorization>, ApiError> {
    let found = state
        .store
        .authorization(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("authorization"))?;
    Ok(Json(found.seen_at(state.clock.now())))
}

#[utoipa::path(
    get,
    path = "/v1/payments/{id}",
    tag = "Payments",
    operation_id = "getPayment",
    summary = "Get a payment",
    description = "Any payment: a sale, a capture, or an attempt on a payment request \
        (`source: payment_request`), failed or not.",
    params(("id" = PaymentId, Path, description = "The payment's id (`pay_…`)")),
    responses(
        (status = 200, description = "The payment", body = Payment),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such payment", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn get_one(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PaymentId>,
) -> Result<Json<Payment>, ApiError> {
    let payment = state
        .store
        .payment(&auth.partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))?;
    Ok(Json(payment))
}

/// A page of the list, under its own name in the OpenAPI document.
type PaymentList = ListBody<Payment>;

/// `GET /v1/payments?status=&source=&customerId=&referenceId=&createdFrom=&createdTo=`.
#[utoipa::path(
    get,
    path = "/v1/payments",
    tag = "Payments",
    operation_id = "listPayments",
    summary = "List payments",
    description = "Your payments, newest first, including every attempt on a payment request. \
        Unknown query parameters are rejected.",
    params(
        ("status" = Option<PaymentStatus>, Query, description = "Only payments with this status"),
        ("source" = Option<PaymentSource>, Query, description = "Only payments from the API or from payment requests"),
        ("customerId" = Option<CustomerId>, Query, description = "Only this customer's payments"),
        ("referenceId" = Option<String>, Query, description = "Only payments on the payment request with this reference"),
        ("createdFrom" = Option<String>, Query, format = DateTime, description = "Only payments made at or after this time (RFC 3339)"),
        ("createdTo" = Option<String>, Query, format = DateTime, description = "Only payments made at or before this time (RFC 3339)"),
        ("method" = Option<String>, Query, description = "Only payments by `card`, `ach` or `google_pay`"),
        ("referenceIdContains" = Option<String>, Query, description = "Only payments whose reference contains this text (case-insensitive)"),
        Paging,
    ),
    responses(
        (status = 200, description = "A page of payments", body = PaymentList),
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
    query.only(&[
        "status",
        "source",
        "customerId",
        "referenceId",
        "createdFrom",
        "createdTo",
        "method",
        "referenceIdContains",
    ])?;
    let mut errors = FieldErrors::new();
    let status = query.get("status").and_then(|s| {
        let parsed = PaymentStatus::parse_str(s);
        if parsed.is_none() {
            errors.add(
                "status",
                "invalid_value",
                "must be one of pending, completed, failed, partially_refunded, refunded",
            );
        }
        parsed
    });
    let source = query.get("source").and_then(|s| {
        let parsed = PaymentSource::parse_str(s);
        if parsed.is_none() {
            errors.add("source", "invalid_value", "must be api or payment_request");
        }
        parsed
    });
    let customer_id = query.get("customerId").and_then(|c| {
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
    let reference_id = query
        .get("referenceId")
        .and_then(|r| errors.take("referenceId", ReferenceId::parse(r)));
    let (created_from, created_to) = query.created_range(&mut errors);
    let method = query.get("method").and_then(|m| {
        let known = ["card", "ach", "google_pay"].contains(&m);
        if !known {
            errors.add("method", "invalid_value", "must be card, ach or google_pay");
        }
        known.then(|| m.to_string())
    });
    let reference_contains = query
        .get("referenceIdContains")
        .map(|q| q.chars().take(100).collect::<String>());
    let page = query.page();
    errors.finish().map_err(ApiError::validation)?;
    let filter = PaymentFilter {
        status,
        source,
        customer_id,
        reference_id: reference_id.map(|r| r.as_str().to_string()),
        created_from,
        created_to,
        method,
        reference_contains,
        search: None,
    };
    let page = state
        .store
        .list_payments(&auth.partner.id, &filter, &page?)
        .await?;
    Ok(list_response(page)?.into_response())
}
