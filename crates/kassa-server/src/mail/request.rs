//! The emails a partner asks for, by API or in the dashboard: a payment's receipt again
//! (`POST /v1/payments/{id}/receipt`) and a payment request's link
//! (`POST /v1/payment-requests/{id}/send`). Each is queued as a job like any other email, is
//! audited, and is limited to a few an hour per payment or request.

use kassa_core::audit::Caller;
use kassa_core::email::Email;
use kassa_core::id::{EmailId, PaymentId, PaymentRequestId};
use kassa_core::mail::EmailKind;
use kassa_core::payment::PaymentStatus;
use kassa_core::payment_request::PaymentRequestStatus;
use kassa_store::{EmailRecord, NewEmail, Partner};

use crate::error::ApiError;
use crate::limits::Limit;
use crate::state::AppState;

/// Queues the receipt of a completed payment again: to `to`, else the payment's payer email,
/// else its customer's email.
pub async fn send_receipt(
    state: &AppState,
    partner: &Partner,
    payment: &PaymentId,
    to: Option<&str>,
    by: &Caller,
) -> Result<EmailRecord, ApiError> {
    let to = parse_to(to)?;
    configured(state)?;
    let payment = state
        .store
        .payment(&partner.id, payment)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))?;
    if !matches!(
        payment.status,
        PaymentStatus::Completed | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded
    ) {
        return Err(ApiError::invalid_state(
            "payment_not_completed",
            format!(
                "payment {} is {}: a receipt is sent once it completes",
                payment.id,
                payment.status.as_str()
            ),
        ));
    }
    let customer_email = match (&to, &payment.payer.email, &payment.customer_id) {
        (None, None, Some(customer)) => state
            .store
            .customer(&partner.id, customer)
            .await?
            .and_then(|c| c.email)
            .and_then(|e| Email::parse(&e).ok()),
        _ => None,
    };
    let to = to
        .or_else(|| payment.payer.email.clone())
        .or(customer_email)
        .ok_or_else(|| {
            ApiError::field(
                "email",
                "required",
                "this payment has no payer email; give the address to send the receipt to",
            )
        })?;
    queue(
        state,
        NewEmail {
            id: EmailId::generate(),
            partner_id: partner.id.clone(),
            kind: EmailKind::Receipt,
            to,
            payment_id: Some(payment.id.clone()),
            payment_request_id: payment.payment_request_id.clone(),
            webhook_endpoint_id: None,
            dedupe_key: None,
        },
        payment.id.as_str(),
        by,
    )
    .await
}

/// Queues an email of an open payment request's link: to `to`, else its `payerEmail`.
pub async fn send_link(
    state: &AppState,
    partner: &Partner,
    request: &PaymentRequestId,
    to: Option<&str>,
    by: &Caller,
) -> Result<EmailRecord, ApiError> {
    let to = parse_to(to)?;
    configured(state)?;
    let request = state
        .store
        .payment_request(&partner.id, request)
        .await?
        .ok_or_else(|| ApiError::not_found("payment request"))?
        .seen_at(state.clock.now());
    if request.status != PaymentRequestStatus::Open {
        return Err(ApiError::invalid_state_conflict(
            "not_open",
            format!(
                "payment request {} is {}: only an open request's link is sent",
                request.id,
                request.status.as_str()
            ),
        ));
    }
    let to = to.or_else(|| request.payer_email.clone()).ok_or_else(|| {
        ApiError::field(
            "email",
            "required",
            "this payment request has no payerEmail; give the address to send the link to",
        )
    })?;
    queue(
        state,
        NewEmail {
            id: EmailId::generate(),
            partner_id: partner.id.clone(),
            kind: EmailKind::PaymentLink,
            to,
            payment_id: None,
            payment_request_id: Some(request.id.clone()),
            webhook_endpoint_id: None,
            dedupe_key: None,
        },
        request.id.as_str(),
        by,
    )
    .await
}

fn parse_to(to: Option<&str>) -> Result<Option<Email>, ApiError> {
    match to.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Email::parse(t)
            .map(Some)
            .map_err(|e| ApiError::field("email", "invalid_email", e.to_string())),
    }
}

fn configured(state: &AppState) -> Result<(), ApiError> {
    if state.mailer.is_none() {
        return Err(ApiError::conflict(
            "email_not_configured",
            "this Kassa sends no email: its operator has not set smtp.url",
        ));
    }
    Ok(())
}

async fn queue(
    state: &AppState,
    email: NewEmail,
    subject: &str,
    by: &Caller,
) -> Result<EmailRecord, ApiError> {
    // Counted only for what is really queued: a refused request above took nothing.
    let _counted = state
        .limits
        .take(state, &[(Limit::EmailsPerSubject, subject)])
        .await
        .map_err(|e| {
            e.into_api("too many emails about this payment or request; try again later")
        })?;
    state
        .store
        .queue_email(&email, Some(by), state.clock.now())
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a new email was not written")))
}
