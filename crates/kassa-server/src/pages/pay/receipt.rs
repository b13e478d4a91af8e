//! `GET …/pay/{id}/confirmation`: the receipt of a paid (or processing) request — its receipt
//! number (`kassa_core::receipt`), amount, partner, reference, method and last 4, and the time
//! in the partner's timezone — with a "Return to {partner}" button when there is somewhere to
//! return to.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::payment::Payment;
use kassa_core::payment_request::PaymentRequestStatus;
use kassa_core::processor::Connector;

use super::load;
use crate::pages::{internal_error_page, render, Brand, PageParams, Site};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    brand: Brand,
    heading: String,
    lead: String,
    receipt_number: String,
    amount: String,
    reference_id: String,
    date: String,
    method: String,
    payment_id: String,
    return_url: Option<String>,
    /// A sandbox payment: the receipt says no money moved.
    test_mode: bool,
}

pub async fn confirmation(
    State(state): State<AppState>,
    site: Site,
    PageParams(params): PageParams,
) -> Response {
    let pr = match load(&state, &site, &params).await {
        Ok(pr) => pr,
        Err(resp) => return resp,
    };
    let to_pay_page = || Redirect::to(&format!("{}/pay/{}", site.base, pr.id)).into_response();
    let Some(payment_id) = pr.payment_id.clone() else {
        return to_pay_page();
    };
    let payment: Payment = match state.store.payment(&site.partner.id, &payment_id).await {
        Ok(Some(p)) => p,
        Ok(None) => return to_pay_page(),
        Err(e) => return internal_error_page(e),
    };
    let (heading, lead) = match pr.status {
        PaymentRequestStatus::Completed => (
            "Payment complete".to_string(),
            format!("Thank you. {} has received your payment.", site.partner.name),
        ),
        PaymentRequestStatus::Processing => (
            "Bank payment submitted".to_string(),
            "Thank you. Your bank payment is processing; it usually clears within a few business days.".to_string(),
        ),
        _ => return to_pay_page(),
    };
    let page = ReceiptPage {
        brand: site.brand(),
        heading,
        lead,
        receipt_number: payment.receipt_number(),
        amount: pr.amount.display(),
        reference_id: pr.reference_id.to_string(),
        // In the partner's timezone (a setting; UTC by default), named: "Dec 6, 2026, 2:10 PM EST".
        date: kassa_core::timezone::format_datetime(
            &site.partner.timezone,
            pr.completed_at.unwrap_or(payment.created_at),
        ),
        method: payment.payment_method.describe(),
        payment_id: payment.id.to_string(),
        // The request's own redirect URL, else the partner's default; no button without either.
        return_url: pr
            .redirect_url
            .as_ref()
            .or(site.partner.default_redirect_url.as_ref())
            .map(|u| u.as_str().to_string()),
        test_mode: payment.processor.connector == Connector::Sandbox,
    };
    render(StatusCode::OK, &page)
}
