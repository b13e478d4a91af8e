//! Making payment requests (the service behind `api/payment_request.rs`, the creation link and
//! the dashboard): one path, one set of rules.

use kassa_core::email::Email;
use kassa_core::id::PaymentRequestId;
use kassa_core::money::Money;
use kassa_core::payment_request::{
    Metadata, PaymentRequest, PaymentRequestObject, PaymentRequestStatus,
};
use kassa_core::reference::ReferenceId;
use kassa_core::url::RedirectUrl;
use kassa_store::{CreateOutcome, Partner, StoreError};
use time::OffsetDateTime;

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

/// Creates the request, or finds the partner's request with this reference (same amount: the
/// existing one; other amount: a conflict), atomically.
pub async fn create_or_get(
    state: &AppState,
    partner: &Partner,
    fields: NewRequestFields,
) -> Result<CreateOutcome, StoreError> {
    let now = state.clock.now();
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
    state.store.create_payment_request(&record, now).await
}
