//! `/v1/payment-requests` (API.md §2).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::clock::parse_rfc3339;
use kassa_core::email::Email;
use kassa_core::error::FieldErrors;
use kassa_core::id::PaymentRequestId;
use kassa_core::money::{amount_text, Currency, Money};
use kassa_core::payment_request::{PaymentRequest, PaymentRequestStatus};
use kassa_core::reference::ReferenceId;
use kassa_core::url::RedirectUrl;
use kassa_store::{CancelOutcome, CreateOutcome, PaymentRequestFilter};
use serde::Deserialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{json_created, list_response, ApiAuth, ApiJson, ListBody, ListQuery, Paging, PathId};
use crate::error::{ApiError, ErrorBody};
use crate::new_request::{create_or_get, NewRequestFields};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreatePaymentRequestBody)]
pub struct CreateBody {
    /// Greater than 0 and at most the configured maximum (999,999.99 by default).
    #[schema(required = true, schema_with = kassa_core::money::amount_input_schema)]
    amount: Option<Box<RawValue>>,
    /// Only USD for now, the default; anything else is `unsupported_currency`.
    #[schema(examples("USD"))]
    currency: Option<String>,
    /// Your own reference, unique among your payment requests: 1–100 characters, no control
    /// characters.
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 100,
        examples("QUOTE-123")
    )]
    reference_id: Option<String>,
    /// Where the payer's receipt links back to: an absolute `https` URL (`http` only for
    /// localhost), at most 2048 characters, without credentials.
    #[schema(format = "uri", max_length = 2048)]
    redirect_url: Option<String>,
    #[schema(max_length = 500)]
    description: Option<String>,
    #[schema(format = Email)]
    payer_email: Option<String>,
    /// When the link stops taking payments (RFC 3339, in the future); none by default.
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// Up to 50 keys of 1–40 characters, values up to 500 characters.
    metadata: Option<BTreeMap<String, String>>,
}

const MAX_DESCRIPTION: usize = 500;
const MAX_METADATA_KEYS: usize = 50;

impl CreateBody {
    /// The same body from a form: blank fields are absent, the amount is taken as typed.
    pub(crate) fn from_form(
        amount: &str,
        reference_id: &str,
        description: &str,
        payer_email: &str,
        redirect_url: &str,
    ) -> CreateBody {
        let given = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        CreateBody {
            amount: given(amount).map(|a| {
                RawValue::from_string(serde_json::Value::from(a).to_string())
                    .expect("a JSON string is valid JSON")
            }),
            currency: None,
            // Kept as typed: the reference rules (not trimming) decide what is valid.
            reference_id: Some(reference_id.to_string()),
            redirect_url: given(redirect_url),
            description: given(description),
            payer_email: given(payer_email),
            expires_at: None,
            metadata: None,
        }
    }

    pub(crate) fn validate(
        self,
        max_amount: i64,
        now: OffsetDateTime,
    ) -> Result<NewRequestFields, ApiError> {
        let mut errors = FieldErrors::new();
        let currency = match self.currency.as_deref() {
            None => Some(Currency::Usd),
            Some(c) => errors.take("currency", Currency::parse(c)),
        };
        let amount = match self.amount.as_deref() {
            None => {
                errors.add("amount", "required", "is required");
                None
            }
            Some(raw) => match amount_text(raw) {
                Some(text) => errors.take(
                    "amount",
                    Money::parse_positive(&text, currency.unwrap_or_default(), max_amount),
                ),
                None => {
                    errors.add(
                        "amount",
                        "invalid_amount",
                        "must be a decimal amount like 250.00",
                    );
                    None
                }
            },
        };
        let reference_id = errors.take(
            "referenceId",
            ReferenceId::parse(self.reference_id.as_deref().unwrap_or("")),
        );
        let redirect_url = self
            .redirect_url
            .as_deref()
            .and_then(|u| errors.take("redirectUrl", RedirectUrl::parse(u)));
        let payer_email = self
            .payer_email
            .as_deref()
            .and_then(|e| errors.take("payerEmail", Email::parse(e)));
        if let Some(d) = &self.description {
            if d.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            {
                errors.add(
                    "description",
                    "invalid_characters",
                    "must not contain control characters",
                );
            } else if d.chars().count() > MAX_DESCRIPTION {
                errors.add(
                    "description",
                    "too_long",
                    format!("must be at most {MAX_DESCRIPTION} characters"),
                );
            }
        }
        let expires_at = match self.expires_at.as_deref() {
            None => None,
            Some(text) => match parse_rfc3339(text).ok() {
                Some(at) if at > now => Some(at),
                Some(_) => {
                    errors.add("expiresAt", "in_the_past", "must be in the future");
                    None
                }
                None => {
                    errors.add(
                        "expiresAt",
                        "invalid_timestamp",
                        "must be an RFC 3339 timestamp like 2026-12-31T23:59:59Z",
                    );
                    None
                }
            },
        };
        let metadata = self.metadata.unwrap_or_default();
        if metadata.len() > MAX_METADATA_KEYS {
            errors.add(
                "metadata",
                "too_many_keys",
                format!("must have at most {MAX_METADATA_KEYS} keys"),
            );
        }
        for (k, v) in &metadata {
            if k.chars().chain(v.chars()).any(|c| c == '\0') {
                errors.add(
                    format!("metadata.{}", k.replace('\0', "")),
                    "invalid_characters",
                    "must not contain NUL characters",
                );
            } else if k.is_empty() || k.chars().count() > 40 {
                errors.add(
                    format!("metadata.{k}"),
                    "invalid_key",
                    "keys must be 1 to 40 characters",
                );
            } else if v.chars().count() > 500 {
                errors.add(
                    format!("metadata.{k}"),
                    "too_long",
                    "values must be at most 500 characters",
                );
            }
        }
        errors.finish().map_err(ApiError::validation)?;
        Ok(NewRequestFields {
            amount: amount.expect("validated"),
            reference_id: reference_id.expect("validated"),
            redirect_url,
            description: self.description,
            payer_email,
            expires_at,
            metadata,
        })
    }
}

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
    security(("apiKey" = [])),
)]
pub async fn create(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let fields = body.validate(state.config.max_amount_minor, now)?;
    match create_or_get(&state, &auth.partner, fields).await? {
        CreateOutcome::Created(pr) => Ok(json_created(pr.seen_at(now))),
        CreateOutcome::Existing(pr) => Ok((StatusCode::OK, Json(pr.seen_at(now))).into_response()),
        CreateOutcome::Conflict(pr) => Err(reference_conflict(&pr)),
    }
}

/// `reference_conflict`: the reference is taken by a request for another amount.
pub(crate) fn reference_conflict(pr: &PaymentRequest) -> ApiError {
    ApiError::conflict(
        "reference_conflict",
        format!(
            "payment request {} already uses referenceId {:?} with amount {} {}",
            pr.id,
            pr.reference_id.as_str(),
            pr.amount,
            pr.currency.as_str()
        ),
    )
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
    security(("apiKey" = [])),
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
    security(("apiKey" = [])),
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
    security(("apiKey" = [])),
)]
pub async fn cancel(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<PaymentRequestId>,
) -> Result<Json<PaymentRequest>, ApiError> {
    cancel_request(&state, &auth.partner, &id).await.map(Json)
}

/// Cancels an open request (the API's and the dashboard's one path).
pub(crate) async fn cancel_request(
    state: &AppState,
    partner: &kassa_store::Partner,
    id: &PaymentRequestId,
) -> Result<PaymentRequest, ApiError> {
    match state
        .store
        .cancel_payment_request(&partner.id, id, state.clock.now())
        .await?
    {
        CancelOutcome::Canceled(pr) => Ok(pr),
        CancelOutcome::NotFound => Err(ApiError::not_found("payment request")),
        CancelOutcome::InProgress(_) => Err(ApiError::conflict(
            "payment_in_progress",
            "a payment on this request is being processed; try again in a moment",
        )),
        CancelOutcome::NotOpen(pr) => Err(ApiError::invalid_state_conflict(
            "not_open",
            format!(
                "only an open payment request can be canceled; this one is {}",
                pr.status.as_str()
            ),
        )),
    }
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

/// Builds a partner's creation link from an amount as typed, a reference and an optional
/// redirect URL, checked by the rules the link itself is checked by (the API's and the
/// dashboard's builder).
pub(crate) fn build_creation_link(
    state: &AppState,
    partner: &kassa_store::Partner,
    amount: Option<&str>,
    reference_id: &str,
    redirect_url: Option<&str>,
) -> Result<String, ApiError> {
    let mut errors = FieldErrors::new();
    let amount = match amount.map(str::trim).filter(|a| !a.is_empty()) {
        None => {
            errors.add("amount", "required", "is required");
            None
        }
        Some(text) => errors.take(
            "amount",
            Money::parse_positive(text, Currency::Usd, state.config.max_amount_minor),
        ),
    };
    errors.take("referenceId", ReferenceId::parse(reference_id));
    let redirect_url = redirect_url.map(str::trim).filter(|u| !u.is_empty());
    if let Some(url) = redirect_url {
        errors.take("redirectUrl", RedirectUrl::parse(url));
    }
    errors.finish().map_err(ApiError::validation)?;
    let amount = amount.expect("validated");
    Ok(crate::links::creation_link(
        &state.config.public_base(),
        partner,
        &kassa_core::money::format_minor(amount.minor()),
        reference_id,
        redirect_url,
    ))
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
    security(("apiKey" = [])),
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
