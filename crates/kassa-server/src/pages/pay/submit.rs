//! `POST …/pay/{id}`: the pay form sent. Whatever refuses it before or after the processor — an
//! expired form (CSRF), a failed security check (challenge mode), invalid fields, too many
//! declines, a decline — shows the same form again with the payer's entries (never the card
//! number, CVC or account number) and an error summary; nothing is charged in any of them.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::payment_method::NewInstrument;
use kassa_core::proof_of_work::Refusal;
use time::OffsetDateTime;

use super::form::{parse_form, Acceptance, FormValues, Problems};
use super::page::{form_page, with_cookie, Shown};
use super::{csrf_cookie, load, sent_csrf_cookie, state_page};
use crate::challenge_mode;
use crate::client_ip::ClientIp;
use crate::limits::{Limit, LimitError};
use crate::money::{pay, PayOutcome};
use crate::pages::{
    internal_error_page, message, not_found_page, render, MessagePage, PageParams, Site,
};
use crate::state::AppState;

const MAX_FORM: usize = 16 * 1024;

/// What a payer is told when the form comes back after a decline or a refusal, besides why:
/// the numbers are never shown again.
const REENTER: &str =
    "For your security, card and account numbers are never shown again: please enter them again.";

pub async fn pay_submit(
    State(state): State<AppState>,
    client: ClientIp,
    site: Site,
    PageParams(params): PageParams,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pr = match load(&state, &site, &params).await {
        Ok(pr) => pr,
        Err(resp) => return resp,
    };
    if body.len() > MAX_FORM {
        return message(
            StatusCode::PAYLOAD_TOO_LARGE,
            site.brand(),
            "Invalid form",
            "The form was too large",
            "Please go back and try again.",
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let values = FormValues::kept(&form);
    let token = form.get("csrfToken").map(String::as_str).unwrap_or("");
    let sent_cookie = sent_csrf_cookie(&headers, &site);
    let csrf_ok =
        sent_cookie.is_some_and(|cookie| state.vault.csrf_valid(cookie, pr.id.as_str(), token));
    if !csrf_ok {
        if let Some(resp) = state_page(StatusCode::CONFLICT, &site, &pr) {
            return resp;
        }
        // Shown again with a token for this browser (and a cookie, when it sent none).
        let (cookie_value, set_cookie) = csrf_cookie(&headers, &site);
        let shown = Shown {
            status: StatusCode::FORBIDDEN,
            values,
            problems: Problems::general(format!(
                "This form has expired. Nothing was charged. For your security the payment form must be sent from this page: please check your details and send it again. {REENTER}"
            )),
        };
        return with_cookie(
            form_page(&state, &site, &pr, &cookie_value, shown),
            set_cookie,
        );
    }
    let cookie_value = sent_cookie.unwrap_or_default().to_string();
    if let Some(resp) = state_page(StatusCode::CONFLICT, &site, &pr) {
        return resp;
    }
    let again = |status: StatusCode, values: FormValues, problems: Problems| {
        form_page(
            &state,
            &site,
            &pr,
            &cookie_value,
            Shown {
                status,
                values,
                problems,
            },
        )
    };
    if let Some(until) = challenge_mode::active_for(&state, &site.partner) {
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
        let answer =
            challenge_mode::verify(&state, &pr, field("powChallenge"), field("powSolution"));
        if let Err(why) = answer {
            let now = state.clock.now();
            let resp = again(
                StatusCode::TOO_MANY_REQUESTS,
                values,
                Problems::general(refusal_text(why, until)),
            );
            return with_retry_after(resp, refusal_wait(why, until, now));
        }
    }
    let acceptance = Acceptance {
        at: state.clock.now(),
        ip: client.0.to_string(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| kassa_core::text::truncate_chars(ua, 300)),
    };
    let input = match parse_form(&form, acceptance) {
        Ok(input) => input,
        Err(problems) => return again(StatusCode::BAD_REQUEST, values, problems),
    };
    // Counted as a decline before it is tried, so card testing in parallel counts as it
    // arrives; given back unless it was declined.
    let ip_text = client.network().to_string();
    let mut counters = vec![(Limit::DeclinePerIp, ip_text.as_str())];
    if let NewInstrument::Card { number, .. } = &input.instrument {
        counters.push((Limit::DeclinePerCard, number.expose()));
    }
    let counted = match state.limits.take(&state, &counters).await {
        Ok(counted) => counted,
        Err(LimitError::Refused { retry_after_secs }) => {
            let resp = again(
                StatusCode::TOO_MANY_REQUESTS,
                values,
                Problems::general(format!(
                    "Too many payments were declined from here or with this card. Nothing was charged. Please wait before trying again, or use another payment method later. {REENTER}"
                )),
            );
            return with_retry_after(resp, retry_after_secs.max(1) as i64);
        }
        Err(LimitError::Store(e)) => return internal_error_page(e),
    };
    let outcome = pay(&state, &site.partner, &pr.id, input).await;
    match &outcome {
        Ok(PayOutcome::Declined(..)) | Err(_) => drop(counted),
        Ok(_) => state.limits.give_back(&state, counted).await,
    }
    match outcome {
        Ok(PayOutcome::Completed | PayOutcome::Processing) => {
            Redirect::to(&format!("{}/pay/{}/confirmation", site.base, pr.id)).into_response()
        }
        Ok(PayOutcome::Declined(request, code)) => {
            let pr = request.seen_at(state.clock.now());
            // This decline may just have switched challenge mode on: the page that tells of it
            // asks for the proof already.
            let mut site = site.clone();
            match state.store.challenge_mode_until(&site.partner.id).await {
                Ok(until) => site.partner.challenge_mode_until = until,
                Err(e) => return internal_error_page(e),
            }
            let shown = Shown {
                status: StatusCode::PAYMENT_REQUIRED,
                values,
                problems: Problems::general(format!("{} {REENTER}", code.payer_message())),
            };
            form_page(&state, &site, &pr, &cookie_value, shown)
        }
        Ok(
            PayOutcome::AlreadyCompleted(pr) | PayOutcome::InProgress(pr) | PayOutcome::NotOpen(pr),
        ) => state_page(StatusCode::CONFLICT, &site, &pr).unwrap_or_else(|| {
            message(
                StatusCode::CONFLICT,
                site.brand(),
                "Payment in progress",
                "A payment is being processed",
                "Please wait a moment and reload this page.",
            )
        }),
        Ok(PayOutcome::TooManyAttempts) => {
            // The link takes no payment for a while, so there is no form to show again. At
            // most one window until the oldest failure leaves it.
            let window = state.config.limits.failed_attempts_per_link.per.as_secs();
            let resp = message(
                StatusCode::TOO_MANY_REQUESTS,
                site.brand(),
                "Too many attempts",
                "Too many failed attempts",
                &format!(
                    "For your security this link takes no more payments for now. Please try again later, or contact {}.",
                    site.partner.name
                ),
            );
            with_retry_after(resp, window.max(1) as i64)
        }
        Ok(PayOutcome::NotFound) => not_found_page(),
        Err(e) => {
            // The payment may or may not have gone through: never invite a second try blindly.
            tracing::error!(error = format!("{e:#}"), request = %pr.id, "payment could not be completed");
            let page = MessagePage {
                brand: site.brand(),
                title: "Payment not confirmed".into(),
                heading: "We could not confirm your payment".into(),
                body: "Please do not pay again yet. Open this payment page again in a few minutes: it will show whether the payment went through.".into(),
                link: Some((
                    format!("{}/pay/{}", site.base, pr.id),
                    "Open the payment page".into(),
                )),
            };
            render(StatusCode::SERVICE_UNAVAILABLE, &page)
        }
    }
}

/// Why a form sent in challenge mode without a valid proof of work was refused, and what to do.
fn refusal_text(why: Refusal, until: OffsetDateTime) -> String {
    match why {
        Refusal::Missing => format!(
            "This payment needs a security check first. Because of unusual activity on these payment pages, the form runs a short security check in your browser before it is sent, and that needs JavaScript. Nothing was charged. Please turn JavaScript on and send the form again, or come back after {}. {REENTER}",
            crate::pages::dashboard::when(until)
        ),
        Refusal::Expired | Refusal::OtherAttempt => format!(
            "The security check has expired. Nothing was charged. Please send the form again; it repeats the check for you. {REENTER}"
        ),
        Refusal::Malformed | Refusal::Forged | Refusal::TooEasy | Refusal::Unsolved => format!(
            "The security check did not pass. Nothing was charged. Please send the form again; it repeats the check for you. {REENTER}"
        ),
    }
}

/// A missing check: without JavaScript the page takes payments again once challenge mode is
/// over. A check that failed or expired: the form shown again carries a fresh one at once.
fn refusal_wait(why: Refusal, until: OffsetDateTime, now: OffsetDateTime) -> i64 {
    match why {
        Refusal::Missing => (until - now).whole_seconds().max(1),
        _ => 1,
    }
}

fn with_retry_after(mut resp: Response, secs: i64) -> Response {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    resp
}
