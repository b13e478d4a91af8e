//! The refund wizard: the refund's details, a review of exactly what will be refunded, and
//! "Apply Refund" (made once per review, however often it is pressed), with the API's rules.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::id::{random_base62, RefundId};
use kassa_core::money::Money;
use kassa_core::payment::{Payment, PaymentStatus};
use kassa_core::refund::{check_refund, refundable, RefundError, RefundInput};
use kassa_store::NewRefund;

use super::transaction::{load_payment, refundable_now};
use super::{act, field, sentence, Can, Nav, Signed};
use crate::pages::{internal_error_page, render, Brand, PageParams};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dashboard/refund.html")]
struct RefundPage {
    brand: Brand,
    nav: Nav,
    id: String,
    payment_amount: String,
    reference: String,
    refundable: String,
    /// Why the payment cannot be refunded now, instead of the form.
    blocked: Option<String>,
    /// A refusal of the whole request (the API's message).
    notice: Option<String>,
    amount: String,
    reason: String,
    amount_error: Option<String>,
    reason_error: Option<String>,
    /// The review step: the exact amount, and the key that makes "Apply Refund" happen once.
    review: Option<Review>,
}

struct Review {
    amount: String,
    after: String,
    key: String,
}

impl RefundPage {
    fn new(state: &AppState, signed: &Signed, p: &Payment) -> RefundPage {
        let blocked = match p.status {
            _ if refundable_now(p) => None,
            PaymentStatus::Pending => Some(
                "This payment has not cleared yet. A bank payment can be refunded once it has cleared."
                    .to_string(),
            ),
            PaymentStatus::Failed => {
                Some("This payment failed; nothing was collected to refund.".to_string())
            }
            _ => Some("This payment has been refunded in full.".to_string()),
        };
        RefundPage {
            brand: Brand::of(signed.partner()),
            nav: signed.nav(state, "transactions", None),
            id: p.id.to_string(),
            payment_amount: p.amount.display(),
            reference: p.reference_id.clone().unwrap_or_default(),
            refundable: refundable(p).display(),
            blocked,
            notice: None,
            amount: kassa_core::money::format_minor(refundable(p).minor()),
            reason: String::new(),
            amount_error: None,
            reason_error: None,
            review: None,
        }
    }
}

/// `GET /dashboard/transactions/{id}/refund`: the wizard's first step, the refund's details.
pub async fn refund_form(
    State(state): State<AppState>,
    signed: Can<act::Refund>,
    params: PageParams,
) -> Response {
    let id = params.id();
    let payment = match load_payment(&state, &signed, id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let page = RefundPage::new(&state, &signed, &payment);
    let status = if page.blocked.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

/// `POST /dashboard/transactions/{id}/refund`: `step=review` checks the details and shows them
/// for review; `step=edit` goes back to them; `step=apply` makes the refund (once per review,
/// however often the button is pressed), with the API's rules and messages.
pub async fn refund_submit(
    State(state): State<AppState>,
    signed: Can<act::Refund>,
    params: PageParams,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let id = params.id();
    let payment = match load_payment(&state, &signed, id).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let mut page = RefundPage::new(&state, &signed, &payment);
    page.amount = field(&form, "amount");
    page.reason = form.get("reason").cloned().unwrap_or_default();
    let step = field(&form, "step");
    if step == "edit" {
        return render(StatusCode::OK, &page);
    }
    // Applying asks the store straight away: it answers a repeat of the same review with the
    // refund already made (whatever is left now), and refuses what is no longer possible.
    let applying = step == "apply";
    if let (false, Some(why)) = (applying, &page.blocked) {
        page.notice = Some(why.clone());
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let mut errors = kassa_core::error::FieldErrors::new();
    let validated = RefundInput::from_form(&page.amount, &page.reason).validate(
        payment.currency,
        state.config.max_amount_minor,
        &mut errors,
    );
    let Some((amount, reason)) = validated else {
        for e in errors.into_vec() {
            match e.field.as_str() {
                "amount" => page.amount_error = Some(format!("Amount {}.", e.message)),
                _ => page.reason_error = Some(format!("Reason {}.", e.message)),
            }
        }
        return render(StatusCode::BAD_REQUEST, &page);
    };
    // What is reviewed is what is applied: a blank amount becomes all that is left now.
    let amount = match amount {
        Some(amount) => amount,
        None if !applying => refundable(&payment),
        None => {
            page.notice = Some("Please review the refund again before applying it.".into());
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    if !applying {
        // Not blocked, so the payment is settled: only too much can be refused here.
        if let Err(RefundError::ExceedsAvailable { available }) =
            check_refund(&payment, Some(amount))
        {
            page.amount_error = Some(format!(
                "At most {} of this payment is left to refund.",
                available.display()
            ));
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    }
    page.amount = kassa_core::money::format_minor(amount.minor());
    page.reason = reason.clone().unwrap_or_default();
    match step.as_str() {
        "review" => {
            page.review = Some(Review {
                amount: amount.display(),
                after: Money::new(
                    refundable(&payment).minor() - amount.minor(),
                    amount.currency(),
                )
                .display(),
                key: random_base62(24),
            });
            render(StatusCode::OK, &page)
        }
        "apply" => {
            let key = field(&form, "key");
            if key.len() != 24 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                page.notice = Some("Please review the refund again before applying it.".into());
                return render(StatusCode::BAD_REQUEST, &page);
            }
            let new = NewRefund {
                id: RefundId::generate(),
                amount: Some(amount),
                reason,
                // Bound to this payment: a key replayed on another one refunds nothing here.
                idempotency_key: Some(format!("dashboard_{}_{key}", payment.id)),
            };
            let begun = match crate::money::refund(
                &state,
                signed.partner(),
                &signed.caller,
                payment.id.clone(),
                new,
            )
            .await
            {
                Ok(b) => b,
                Err(e) => return internal_error_page(e),
            };
            match crate::money::refund_outcome(begun) {
                Ok(refund) => Redirect::to(&format!(
                    "/dashboard/transactions/{}?refund={}",
                    payment.id, refund.id
                ))
                .into_response(),
                Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
                Err(e) => {
                    page.notice = Some(sentence(e.message()));
                    render(e.status(), &page)
                }
            }
        }
        _ => render(StatusCode::BAD_REQUEST, &page),
    }
}
