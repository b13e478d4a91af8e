//! Emails in the dashboard (docs/api.md §11): each email about a payment or a payment request as
//! a line of its timeline, and the two buttons that send one — "Email link" on a payment
//! request, "Resend receipt" on a payment — through the same operations as the API
//! (`mail::request`).

use std::collections::HashMap;

use axum::extract::{Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::id::{PaymentId, PaymentRequestId};
use kassa_core::mail::EmailStatus;
use kassa_core::timezone::format_datetime;
use kassa_store::Partner;

use super::{act, Can};
use crate::error::ApiError;
use crate::pages::{internal_error_page, Brand, PageParams};
use crate::state::AppState;

/// One email as a timeline line.
pub struct EmailRow {
    /// "Receipt", "Payment link" …
    pub label: &'static str,
    pub to: String,
    /// "Sent", "Queued" or "Failed".
    pub status: &'static str,
    /// The CSS class of the status badge.
    pub status_class: &'static str,
    /// When it was sent, or written.
    pub at: time::OffsetDateTime,
    /// The same, in the partner's zone.
    pub when: String,
    /// Tries so far and why the last failed, while it is not sent.
    pub detail: Option<String>,
}

/// What the page says about email: the lines, and whether Kassa can send any.
pub struct Emails {
    pub rows: Vec<EmailRow>,
    pub configured: bool,
}

impl Emails {
    /// The line of the timeline an email makes: "Receipt to jo@… · Sent".
    pub fn timeline_text(row: &EmailRow) -> String {
        let mut text = format!("{} to {} · {}", row.label, row.to, row.status);
        if let Some(d) = &row.detail {
            text.push_str(" (");
            text.push_str(d);
            text.push(')');
        }
        text
    }

    /// What the page says after "Email link" or "Resend receipt": the newest email's recipient.
    pub fn queued_notice(&self, what: &str) -> Option<String> {
        self.rows
            .last()
            .map(|r| format!("The {what} is on its way to {}.", r.to))
    }
}

/// The partner's emails about a payment or a request, oldest first.
pub async fn about(
    state: &AppState,
    partner: &Partner,
    payment: Option<&PaymentId>,
    request: Option<&PaymentRequestId>,
) -> anyhow::Result<Emails> {
    let records = state
        .store
        .emails_about(&partner.id, payment, request)
        .await?;
    let rows = records
        .into_iter()
        .map(|e| {
            let (status, status_class) = match e.status {
                EmailStatus::Sent => ("Sent", "succeeded"),
                EmailStatus::Queued => ("Queued", "pending"),
                EmailStatus::Failed => ("Failed", "failed"),
            };
            let detail = match (e.status, &e.last_error) {
                (EmailStatus::Sent, _) | (_, None) => None,
                (_, Some(error)) => Some(format!(
                    "{} {} so far: {error}",
                    e.attempts,
                    if e.attempts == 1 { "try" } else { "tries" }
                )),
            };
            let at = e.sent_at.unwrap_or(e.created_at);
            EmailRow {
                at,
                label: e.kind.label(),
                to: e.to.to_string(),
                status,
                status_class,
                when: format_datetime(&partner.timezone, at),
                detail,
            }
        })
        .collect();
    Ok(Emails {
        rows,
        configured: state.mailer.is_some(),
    })
}

/// `POST /dashboard/payment-requests/{id}/send`: emails the link to the request's payer email.
pub async fn send_link(
    State(state): State<AppState>,
    signed: Can<act::CreatePaymentRequest>,
    params: PageParams,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let Ok(id) = PaymentRequestId::parse(params.id()) else {
        return super::not_found(signed.partner(), "payment request");
    };
    let sent =
        crate::mail::request::send_link(&state, signed.partner(), &id, None, &signed.caller).await;
    answer(
        sent.map(|_| format!("/dashboard/payment-requests/{id}?emailed=1")),
        signed.partner(),
        "The link was not sent",
    )
}

/// `POST /dashboard/transactions/{id}/receipt`: sends the payment's receipt again.
pub async fn send_receipt(
    State(state): State<AppState>,
    signed: Can<act::CreatePaymentRequest>,
    params: PageParams,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let Ok(id) = PaymentId::parse(params.id()) else {
        return super::not_found(signed.partner(), "payment");
    };
    let sent =
        crate::mail::request::send_receipt(&state, signed.partner(), &id, None, &signed.caller)
            .await;
    answer(
        sent.map(|_| format!("/dashboard/transactions/{id}?emailed=1")),
        signed.partner(),
        "The receipt was not sent",
    )
}

fn answer(sent: Result<String, ApiError>, partner: &Partner, heading: &str) -> Response {
    match sent {
        Ok(back) => Redirect::to(&back).into_response(),
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) => crate::pages::message(
            e.status(),
            Brand::of(partner),
            heading,
            heading,
            &super::sentence(e.message()),
        ),
    }
}
