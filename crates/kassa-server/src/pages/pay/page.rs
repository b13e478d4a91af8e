//! The pay page: the amount, the partner and one form whose "Pay by" radio group shows the
//! card or the bank account fields (CSS only, so it works without JavaScript), an optional
//! email for the receipt, and — after any refusal — an error summary that links to each field
//! in error. `/static/pay.js` adds card number spacing, the card's brand and Luhn and expiry
//! checks before the form is sent; the server checks everything again.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use kassa_core::ach::authorization_text;
use kassa_core::payment_request::PaymentRequest;
use kassa_core::processor::Connector;
use time::OffsetDateTime;

use super::form::{FormValues, Problems};
use super::{csrf_cookie, load, state_page};
use crate::challenge_mode;
use crate::pages::{render, Brand, PageParams, Site};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "pay.html")]
struct PayPage {
    brand: Brand,
    amount: String,
    reference_id: String,
    description: Option<String>,
    /// Where the form posts: the page itself, at the error summary, so that without JavaScript
    /// the browser shows the summary of a refused form first.
    action: String,
    csrf_token: String,
    problems: Problems,
    values: FormValues,
    challenge: Option<Challenge>,
    /// The bank debit authorization the payer must accept (docs/api.md §10).
    ach_text: String,
    /// The partner pays through the sandbox: the page says it is a test (docs/api.md §11).
    test_mode: bool,
}

impl PayPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.problems.field(field)
    }
}

/// What the page shows in challenge mode.
struct Challenge {
    /// What the form sends back with the answer (`powChallenge`).
    text: String,
    /// When challenge mode ends, as the page says it.
    until: String,
}

/// The form for an open request, showing `values` again and `problems` in its summary.
pub(super) struct Shown {
    pub status: StatusCode,
    pub values: FormValues,
    pub problems: Problems,
}

/// The pay page for `pr`, with a CSRF token bound to this browser's cookie.
pub(super) fn form_page(
    state: &AppState,
    site: &Site,
    pr: &PaymentRequest,
    cookie_value: &str,
    shown: Shown,
) -> Response {
    // The partner was read with the page: its challenge-mode end came with it.
    let challenge = challenge_mode::active_for(state, &site.partner).map(|until| Challenge {
        text: challenge_mode::issue(state, pr),
        until: crate::pages::dashboard::when(until),
    });
    let page = PayPage {
        brand: site.brand(),
        amount: pr.amount.display(),
        reference_id: pr.reference_id.to_string(),
        description: pr.description.clone(),
        action: format!("{}/pay/{}#error-summary", site.base, pr.id),
        csrf_token: state.vault.csrf_token(cookie_value, pr.id.as_str()),
        problems: shown.problems,
        values: shown.values,
        challenge,
        ach_text: ach_text(site, pr, state.clock.now()),
        test_mode: site.partner.processor == Connector::Sandbox,
    };
    render(shown.status, &page)
}

/// The authorization text for this request today, as the page shows it and the payer accepts it.
fn ach_text(site: &Site, pr: &PaymentRequest, now: OffsetDateTime) -> String {
    let date = now
        .date()
        .format(time::macros::format_description!(
            "[month repr:long] [day padding:none], [year]"
        ))
        .unwrap_or_else(|_| now.date().to_string());
    authorization_text(&site.partner.name, &pr.amount.display(), &date)
}

/// `GET …/pay/{id}`: the form, or the page of a request that takes no payment now.
pub async fn pay_page(
    State(state): State<AppState>,
    site: Site,
    PageParams(params): PageParams,
    headers: HeaderMap,
) -> Response {
    let pr = match load(&state, &site, &params).await {
        Ok(pr) => pr,
        Err(resp) => return resp,
    };
    if let Some(resp) = state_page(StatusCode::OK, &site, &pr) {
        return resp;
    }
    let (cookie_value, set_cookie) = csrf_cookie(&headers, &site);
    // The request's payer email is where the receipt goes unless the payer says otherwise.
    let values = FormValues {
        email: pr
            .payer_email
            .as_ref()
            .map(|e| e.as_str().to_string())
            .unwrap_or_default(),
        ..FormValues::default()
    };
    let shown = Shown {
        status: StatusCode::OK,
        values,
        problems: Problems::default(),
    };
    let resp = form_page(&state, &site, &pr, &cookie_value, shown);
    with_cookie(resp, set_cookie)
}

/// Adds a new CSRF cookie to the answer, when one was made.
pub(super) fn with_cookie(mut resp: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}
