//! The payer's side (docs/api.md §2, "Creation link and hosted page"): the creation link
//! (`creation_link.rs`); the pay page with its one form — card or bank account, chosen by a
//! radio group that works without JavaScript — rendered by `page.rs`, read by `form.rs` and
//! paid by `submit.rs`; and the receipt (`receipt.rs`). In challenge mode (docs/api.md §8) the
//! form carries a proof-of-work challenge, and a form sent without its answer is refused before
//! anything is recorded.

mod creation_link;
mod form;
mod page;
mod receipt;
mod submit;

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use kassa_core::id::PaymentRequestId;
use kassa_core::payment_request::{PaymentRequest, PaymentRequestStatus};

pub use creation_link::creation_link;
pub use page::pay_page;
pub use receipt::confirmation;
pub use submit::pay_submit;

use super::{cookie, internal_error_page, not_found_page, render, MessagePage, Site};
use crate::state::AppState;

fn csrf_cookie_name(site: &Site) -> &'static str {
    if site.secure {
        "__Host-kassa_csrf"
    } else {
        "kassa_csrf"
    }
}

/// The CSRF cookie this browser sent, when it is one of ours (32 letters and digits).
fn sent_csrf_cookie<'a>(headers: &'a HeaderMap, site: &Site) -> Option<&'a str> {
    cookie(headers, csrf_cookie_name(site))
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The CSRF cookie of this browser, or a new one to set.
fn csrf_cookie(headers: &HeaderMap, site: &Site) -> (String, Option<HeaderValue>) {
    if let Some(v) = sent_csrf_cookie(headers, site) {
        return (v.to_string(), None);
    }
    let name = csrf_cookie_name(site);
    let value = kassa_core::id::random_base62(32);
    let secure = if site.secure { "; Secure" } else { "" };
    let header = HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("ascii cookie");
    (value, Some(header))
}

fn request_id(params: &HashMap<String, String>) -> Option<PaymentRequestId> {
    params
        .get("id")
        .and_then(|id| PaymentRequestId::parse(id).ok())
}

/// The request the path names, among the site's partner's.
async fn load(
    state: &AppState,
    site: &Site,
    params: &HashMap<String, String>,
) -> Result<PaymentRequest, Response> {
    let id = request_id(params).ok_or_else(not_found_page)?;
    match state.store.payment_request(&site.partner.id, &id).await {
        Ok(Some(pr)) => Ok(pr.seen_at(state.clock.now())),
        Ok(None) => Err(not_found_page()),
        Err(e) => Err(internal_error_page(e)),
    }
}

/// The page for a request that takes no payment now, or None when it is open.
fn state_page(status: StatusCode, site: &Site, pr: &PaymentRequest) -> Option<Response> {
    let amount = pr.amount.display();
    let (title, heading, body) = match pr.status {
        PaymentRequestStatus::Open if pr.attempt_payment_id.is_none() => return None,
        PaymentRequestStatus::Open => (
            "Payment in progress",
            "A payment is being processed",
            "Another payment for this request is being processed right now. Please wait a moment and reload this page.".to_string(),
        ),
        PaymentRequestStatus::Completed => (
            "Payment completed",
            "This payment has already been completed",
            format!("The payment of {amount} for reference {} has been received. No further payment can be made.", pr.reference_id),
        ),
        PaymentRequestStatus::Processing => (
            "Payment processing",
            "Your bank payment is processing",
            format!("The bank payment of {amount} for reference {} has been submitted and is waiting for the bank to clear it. No further payment is needed.", pr.reference_id),
        ),
        PaymentRequestStatus::Canceled => (
            "Payment canceled",
            "This payment request was canceled",
            format!("{} canceled this payment request. No payment can be made. Please contact them if you think this is a mistake.", site.partner.name),
        ),
        PaymentRequestStatus::Expired => (
            "Payment link expired",
            "This payment link has expired",
            format!("This payment request is no longer payable. Please ask {} for a new link.", site.partner.name),
        ),
    };
    let mut page = MessagePage {
        brand: site.brand(),
        title: title.into(),
        heading: heading.into(),
        body,
        link: None,
    };
    if matches!(
        pr.status,
        PaymentRequestStatus::Processing | PaymentRequestStatus::Completed
    ) && pr.payment_id.is_some()
    {
        page.link = Some((
            format!("{}/pay/{}/confirmation", site.base, pr.id),
            "View receipt".into(),
        ));
    }
    Some(render(status, &page))
}
