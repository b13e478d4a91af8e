//! Making payment requests (the service behind `api/payment_request.rs`, the creation link and
//! the dashboard): one path, one set of rules — the body a new request is read from and checked
//! by, where a creation link may send payers back to, the creation-link builder, the reference
//! conflict, and canceling an open request.

use std::collections::BTreeMap;

use kassa_core::audit::Caller;
use kassa_core::clock::parse_rfc3339;
use kassa_core::email::Email;
use kassa_core::error::FieldErrors;
use kassa_core::id::PaymentRequestId;
use kassa_core::money::{amount_text, Currency, Money};
use kassa_core::payment_request::{
    Metadata, PaymentRequest, PaymentRequestObject, PaymentRequestStatus,
};
use kassa_core::reference::ReferenceId;
use kassa_core::url::RedirectUrl;
use kassa_store::{CancelOutcome, CreateOutcome, Partner, StoreError};
use serde::Deserialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

/// The validated parts of a new payment request, every error reported at once.
pub struct NewRequestFields {
    pub amount: Money,
    pub reference_id: ReferenceId,
    pub redirect_url: Option<RedirectUrl>,
    pub description: Option<String>,
    pub payer_email: Option<Email>,
    pub expires_at: Option<OffsetDateTime>,
    pub metadata: Metadata,
}

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

/// Creates the request, or finds the partner's request with this reference (same amount: the
/// existing one; other amount: a conflict), atomically.
pub async fn create_or_get(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    fields: NewRequestFields,
) -> Result<CreateOutcome, StoreError> {
    let now = by.at;
    let id = PaymentRequestId::generate();
    let record = PaymentRequest {
        url: crate::links::pay_url(&state.config.public_base(), partner, &id),
        id,
        partner_id: partner.id.clone(),
        object: PaymentRequestObject::PaymentRequest,
        reference_id: fields.reference_id,
        amount: fields.amount,
        currency: fields.amount.currency(),
        status: PaymentRequestStatus::Open,
        redirect_url: fields.redirect_url,
        description: fields.description,
        payer_email: fields.payer_email,
        metadata: fields.metadata,
        created_at: now,
        completed_at: None,
        expires_at: fields.expires_at,
        payment_id: None,
        attempt_count: 0,
        attempt_payment_id: None,
    };
    state.store.create_payment_request(&record, by).await
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

/// Whether a creation link may carry `redirect` (docs/api.md §8). A signed link may name any
/// valid redirect, as only the partner can sign; an unsigned one, which anyone can write, only a
/// host in the partner's `allowedRedirectHosts` or its default redirect URL's host, so a link
/// that looks like the partner's cannot send payers on to a site of someone else's choosing.
/// (The API names its redirect with the partner's key and is not limited.)
pub(crate) fn link_may_redirect(partner: &Partner, redirect: &RedirectUrl, signed: bool) -> bool {
    signed
        || partner
            .allowed_redirect_hosts
            .allow(redirect, partner.default_redirect_url.as_ref())
}

/// Builds a partner's creation link from an amount as typed, a reference and an optional
/// redirect URL, checked by the rules the link itself is checked by (the API's and the
/// dashboard's builder).
pub(crate) fn build_creation_link(
    state: &AppState,
    partner: &Partner,
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
        let parsed = errors.take("redirectUrl", RedirectUrl::parse(url));
        // The link is signed only when the partner requires it; an unsigned one leading to
        // another host would be refused when opened.
        if parsed.is_some_and(|u| !link_may_redirect(partner, &u, partner.require_signed_links)) {
            errors.add(
                "redirectUrl",
                "redirect_host_not_allowed",
                "leads to a host that is neither an allowed redirect host (allowedRedirectHosts \
                 in your settings) nor the default redirect URL's host, so a link without a \
                 signature may not name it",
            );
        }
    }
    errors.finish().map_err(ApiError::validation)?;
    let amount = amount.expect("validated");
    crate::links::creation_link(
        &state.config.public_base(),
        &state.vault,
        partner,
        &kassa_core::money::format_minor(amount.minor()),
        reference_id,
        redirect_url,
    )
    .map_err(|_| ApiError::internal(anyhow::anyhow!("the partner's link secret does not open")))
}

/// Cancels an open request (the API's and the dashboard's one path).
pub(crate) async fn cancel_request(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    id: &PaymentRequestId,
) -> Result<PaymentRequest, ApiError> {
    match state
        .store
        .cancel_payment_request(&partner.id, id, by)
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
