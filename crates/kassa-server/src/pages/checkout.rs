//! The payer's side: the creation link, the pay page with its card and bank forms, and the
//! receipt (docs/api.md §2, "Creation link and hosted page"). In challenge mode (docs/api.md
//! §8) the forms carry a proof-of-work challenge, and a form sent without its answer is refused
//! before anything is recorded.

use std::collections::HashMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::ach::{
    authorization_text, AccountNumber, AccountType, AchAuthorization, RoutingNumber,
    AUTHORIZATION_TEXT_VERSION,
};
use kassa_core::audit::{Actor, Caller};
use kassa_core::card::{CardNumber, Cvc, Expiry};
use kassa_core::error::ValidationError;
use kassa_core::id::PaymentRequestId;
use kassa_core::money::{Currency, Money};
use kassa_core::payment::Payment;
use kassa_core::payment_method::NewInstrument;
use kassa_core::payment_request::{PaymentRequest, PaymentRequestStatus};
use kassa_core::processor::Connector;
use kassa_core::proof_of_work::Refusal;
use kassa_core::reference::ReferenceId;
use kassa_core::url::RedirectUrl;
use kassa_store::CreateOutcome;
use time::OffsetDateTime;

use super::{
    cookie, internal_error_page, message, not_found_page, render, Brand, MessagePage, PageParams,
    Site,
};
use crate::challenge_mode;
use crate::client_ip::ClientIp;
use crate::limits::Limit;
use crate::money::{pay, PayInput, PayOutcome};
use crate::new_request::{create_or_get, link_may_redirect, NewRequestFields};
use crate::state::AppState;

const MAX_FORM: usize = 16 * 1024;

fn csrf_cookie_name(site: &Site) -> &'static str {
    if site.secure {
        "__Host-kassa_csrf"
    } else {
        "kassa_csrf"
    }
}

// ---------------------------------------------------------------- creation link

/// `GET …/payment-request?amount=&referenceId=[&redirectUrl=][&signature=]`: creates the request
/// (or finds the one with this reference) and sends the payer to its page.
pub async fn creation_link(
    State(state): State<AppState>,
    client: ClientIp,
    site: Site,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let brand = || Brand::of(&site.partner);
    let bad = |body: &str| {
        message(
            StatusCode::BAD_REQUEST,
            brand(),
            "Invalid payment link",
            "This payment link is not valid",
            body,
        )
    };
    let query = match crate::links::CreationQuery::parse(query.as_deref().unwrap_or("")) {
        Ok(q) => q,
        Err(crate::links::QueryError::Repeated(name)) => {
            return bad(&format!(
                "The link gives “{name}” more than once. Please ask for a new link."
            ))
        }
        Err(crate::links::QueryError::NotUtf8(name)) => {
            return bad(&format!(
                "The link's “{name}” is not readable text. Please ask for a new link."
            ))
        }
    };
    // The link secret is opened here only; a secret that does not open signs nothing.
    let signed = match state.vault.open_link_secret(&site.partner) {
        Ok(secret) => query.signature_valid(secret.expose()),
        Err(_) => {
            tracing::error!(partner = %site.partner.id, "the partner's link secret does not open");
            false
        }
    };
    if site.partner.require_signed_links && !signed {
        return message(
            StatusCode::FORBIDDEN,
            brand(),
            "Invalid payment link",
            "This payment link is not valid",
            "The link's signature is missing or does not match. Please ask the sender for a new link.",
        );
    }
    // Anyone can type an unsigned link: each one counts, per client and per partner.
    if !signed {
        let counted = state
            .limits
            .take(
                &state,
                &[
                    (Limit::UnsignedLinkPerIp, &client.network().to_string()),
                    (Limit::UnsignedLinkPerPartner, site.partner.id.as_str()),
                ],
            )
            .await;
        if let Err(e) = counted {
            return e.into_page(
                "Too many payment links",
                "Too many payment links were opened here in a short time. Please wait a little and open the link again.",
            );
        }
    }
    let reference_id = match ReferenceId::parse(query.reference_id.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(e) => {
            return bad(&format!(
                "The reference id {}. A payment link needs a reference id.",
                e.message()
            ))
        }
    };
    let amount = match query.amount.as_deref() {
        None | Some("") => return bad("The link has no amount."),
        Some(text) => {
            match Money::parse_positive(text, Currency::Usd, state.config.max_amount_minor) {
                Ok(m) => m,
                Err(e) => {
                    return bad(&format!(
                        "The amount “{text}” is not valid: it {}.",
                        e.message()
                    ))
                }
            }
        }
    };
    let redirect_url = match query.redirect_url.as_deref() {
        None | Some("") => None,
        Some(u) => match RedirectUrl::parse(u) {
            Ok(u) if link_may_redirect(&site.partner, &u, signed) => Some(u),
            Ok(u) => {
                return bad(&format!(
                    "The return address leads to {}, where this link may not send you. Please ask the sender for a new link.",
                    u.host()
                ))
            }
            Err(e) => return bad(&format!("The return address {}.", e.message())),
        },
    };
    let fields = NewRequestFields {
        amount,
        reference_id,
        redirect_url,
        description: None,
        payer_email: None,
        expires_at: None,
        metadata: Default::default(),
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let by = Caller::new(
        Actor::creation_link(),
        state.clock.now(),
        Some(client.0.to_string()),
        user_agent,
    );
    match create_or_get(&state, &site.partner, &by, fields).await {
        Ok(CreateOutcome::Created(pr) | CreateOutcome::Existing(pr)) => {
            Redirect::to(&format!("{}/pay/{}", site.base, pr.id)).into_response()
        }
        Ok(CreateOutcome::Conflict(pr)) => message(
            StatusCode::CONFLICT,
            brand(),
            "Payment link conflict",
            "This reference is already used for another amount",
            &format!(
                "A payment for reference “{}” already exists for {}. Please ask the sender for a corrected link.",
                pr.reference_id,
                pr.amount.display()
            ),
        ),
        Err(e) => internal_error_page(e),
    }
}

// ---------------------------------------------------------------- pay page

#[derive(Default)]
struct FormValues {
    method: String,
    cardholder_name: String,
    expiry: String,
    postal_code: String,
    account_holder_name: String,
    routing_number: String,
    account_type: String,
}

#[derive(Template)]
#[template(path = "pay.html")]
struct PayPage {
    brand: Brand,
    amount: String,
    reference_id: String,
    description: Option<String>,
    action: String,
    csrf_token: String,
    notice: Option<String>,
    errors: HashMap<&'static str, String>,
    values: FormValues,
    challenge: Option<Challenge>,
    /// The bank debit authorization the payer must accept (docs/api.md §10).
    ach_text: String,
    /// The partner pays through the sandbox: the page says it is a test (docs/api.md §11).
    test_mode: bool,
}

/// What the page shows in challenge mode.
struct Challenge {
    /// What the forms send back with the answer (`powChallenge`).
    text: String,
    /// When challenge mode ends, as the page says it.
    until: String,
}

impl PayPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    brand: Brand,
    heading: String,
    lead: String,
    amount: String,
    reference_id: String,
    date: String,
    method: String,
    payment_id: String,
    return_url: Option<String>,
    /// A sandbox payment: the receipt says no money moved.
    test_mode: bool,
}

fn request_id(params: &HashMap<String, String>) -> Option<PaymentRequestId> {
    params
        .get("id")
        .and_then(|id| PaymentRequestId::parse(id).ok())
}

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
    let brand = Brand::of(&site.partner);
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
        brand,
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

/// The CSRF cookie of this browser, or a new one to set.
fn csrf_cookie(headers: &HeaderMap, site: &Site) -> (String, Option<HeaderValue>) {
    let name = csrf_cookie_name(site);
    if let Some(v) = cookie(headers, name)
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return (v.to_string(), None);
    }
    let value = kassa_core::id::random_base62(32);
    let secure = if site.secure { "; Secure" } else { "" };
    let header = HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("ascii cookie");
    (value, Some(header))
}

/// The challenge for the page's forms while the partner's pay pages are in challenge mode.
async fn challenge(
    state: &AppState,
    site: &Site,
    pr: &PaymentRequest,
) -> Result<Option<Challenge>, Response> {
    // The partner was just read with the page: its challenge-mode end came with it.
    Ok(
        challenge_mode::active_for(state, &site.partner).map(|until| Challenge {
            text: challenge_mode::issue(state, pr),
            until: super::dashboard::when(until),
        }),
    )
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    site: &Site,
    pr: &PaymentRequest,
    cookie_value: &str,
    status: StatusCode,
    notice: Option<String>,
    errors: HashMap<&'static str, String>,
    values: FormValues,
) -> Response {
    let challenge = match challenge(state, site, pr).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let page = PayPage {
        brand: Brand::of(&site.partner),
        amount: pr.amount.display(),
        reference_id: pr.reference_id.to_string(),
        description: pr.description.clone(),
        action: format!("{}/pay/{}", site.base, pr.id),
        csrf_token: state.vault.csrf_token(cookie_value, pr.id.as_str()),
        notice,
        errors,
        values,
        challenge,
        ach_text: ach_text(site, pr, state.clock.now()),
        test_mode: site.partner.processor == Connector::Sandbox,
    };
    render(status, &page)
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

/// Who accepted a bank debit's authorization, and from where, as the payment keeps it.
struct Acceptance {
    at: OffsetDateTime,
    ip: String,
    user_agent: Option<String>,
}

/// The answer to a form sent in challenge mode without a valid proof of work: nothing was
/// recorded, and the page says why and what to do.
fn refused(
    site: &Site,
    pr: &PaymentRequest,
    until: OffsetDateTime,
    why: Refusal,
    now: OffsetDateTime,
) -> Response {
    let until_text = super::dashboard::when(until);
    let (heading, body) = match why {
        Refusal::Missing => (
            "This payment needs a security check first",
            format!(
                "Because of unusual activity on these payment pages, the payment form now runs a short security check in your browser before it is sent (the page may have been opened before the check began). Nothing was charged. Please open the payment page again and retry; the check needs JavaScript. Without it, please come back after {until_text}."
            ),
        ),
        Refusal::Expired | Refusal::OtherAttempt => (
            "The security check has expired",
            "Nothing was charged. Please open the payment page again and retry; it repeats the check for you.".to_string(),
        ),
        Refusal::Malformed | Refusal::Forged | Refusal::TooEasy | Refusal::Unsolved => (
            "The security check did not pass",
            "Nothing was charged. Please open the payment page again and retry; it repeats the check for you.".to_string(),
        ),
    };
    let page = MessagePage {
        brand: Brand::of(&site.partner),
        title: "Security check".into(),
        heading: heading.into(),
        body,
        link: Some((
            format!("{}/pay/{}", site.base, pr.id),
            "Open the payment page".into(),
        )),
    };
    let mut resp = render(StatusCode::TOO_MANY_REQUESTS, &page);
    // A missing check: without JavaScript the page takes payments again once challenge mode is
    // over. A check that failed or expired: reopening the page gives a fresh one at once.
    let wait = match why {
        Refusal::Missing => (until - now).whole_seconds().max(1),
        _ => 1,
    };
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    resp
}

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
    let mut resp = form_page(
        &state,
        &site,
        &pr,
        &cookie_value,
        StatusCode::OK,
        None,
        HashMap::new(),
        FormValues::default(),
    )
    .await;
    if let Some(c) = set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// The values to show again and a message per invalid field.
type FormProblem = (FormValues, HashMap<&'static str, String>);

/// Reads the posted form: the payer's instrument, or every field message at once.
fn parse_form(
    form: &HashMap<String, String>,
    acceptance: Acceptance,
) -> Result<PayInput, Box<FormProblem>> {
    let today = acceptance.at.date();
    let get = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or("");
    let mut errors: HashMap<&'static str, String> = HashMap::new();
    let values = FormValues {
        method: get("method").to_string(),
        cardholder_name: get("cardholderName").to_string(),
        expiry: get("expiry").to_string(),
        postal_code: get("postalCode").to_string(),
        account_holder_name: get("accountHolderName").to_string(),
        routing_number: get("routingNumber").to_string(),
        account_type: get("accountType").to_string(),
    };
    let name = |field: &'static str, errors: &mut HashMap<&'static str, String>| {
        let v = get(field);
        if v.is_empty() {
            errors.insert(
                field,
                if field == "cardholderName" {
                    "Enter the name on the card."
                } else {
                    "Enter the name on the account."
                }
                .into(),
            );
        } else if v.chars().count() > 100 || v.chars().any(char::is_control) {
            errors.insert(field, "The name must be at most 100 characters.".into());
        }
        v.to_string()
    };
    fn take<T, E: ValidationError>(
        errors: &mut HashMap<&'static str, String>,
        field: &'static str,
        r: Result<T, E>,
    ) -> Option<T> {
        r.map_err(|e| {
            let mut msg = e.message();
            if let Some(first) = msg.get(..1) {
                msg = first.to_uppercase() + &msg[1..];
            }
            errors.insert(field, format!("{msg}."));
        })
        .ok()
    }
    let input = match values.method.as_str() {
        "card" => {
            let holder_name = name("cardholderName", &mut errors);
            let number = take(
                &mut errors,
                "cardNumber",
                CardNumber::parse(get("cardNumber")),
            );
            let expiry = take(&mut errors, "expiry", Expiry::parse(get("expiry"), today));
            let cvc = take(
                &mut errors,
                "cvc",
                Cvc::parse(get("cvc"), number.as_ref().map(CardNumber::brand)),
            );
            let postal = get("postalCode");
            if postal.chars().count() < 2
                || postal.chars().count() > 20
                || postal.chars().any(char::is_control)
            {
                errors.insert("postalCode", "Enter the billing ZIP or postal code.".into());
            }
            match (number, expiry, cvc) {
                (Some(number), Some(expiry), Some(cvc)) if errors.is_empty() => Some(PayInput {
                    holder_name,
                    postal_code: Some(postal.to_string()),
                    instrument: NewInstrument::Card {
                        number,
                        expiry,
                        cvc: Some(cvc),
                    },
                    ach_authorization: None,
                    payer_email: None,
                }),
                _ => None,
            }
        }
        "ach" => {
            let holder_name = name("accountHolderName", &mut errors);
            let routing = take(
                &mut errors,
                "routingNumber",
                RoutingNumber::parse(get("routingNumber")),
            );
            let account = take(
                &mut errors,
                "accountNumber",
                AccountNumber::parse(get("accountNumber")),
            );
            let account_type = take(
                &mut errors,
                "accountType",
                AccountType::parse(get("accountType")),
            );
            // The payer's own act, on the wording this page version shows.
            if get("achAuthorization") != "accepted" {
                errors.insert(
                    "achAuthorization",
                    "Check the box to authorize the debit from your account.".into(),
                );
            }
            match (routing, account, account_type) {
                (Some(routing_number), Some(account_number), Some(account_type))
                    if errors.is_empty() =>
                {
                    Some(PayInput {
                        holder_name,
                        postal_code: None,
                        instrument: NewInstrument::Ach {
                            routing_number,
                            account_number,
                            account_type,
                        },
                        ach_authorization: Some(AchAuthorization {
                            accepted_at: acceptance.at,
                            ip: Some(acceptance.ip),
                            user_agent: acceptance.user_agent,
                            text_version: AUTHORIZATION_TEXT_VERSION.to_string(),
                        }),
                        payer_email: None,
                    })
                }
                _ => None,
            }
        }
        _ => {
            errors.insert("method", "Choose to pay by card or by bank account.".into());
            None
        }
    };
    input.ok_or_else(|| Box::new((values, errors)))
}

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
    let brand = || Brand::of(&site.partner);
    if body.len() > MAX_FORM {
        return message(
            StatusCode::PAYLOAD_TOO_LARGE,
            brand(),
            "Invalid form",
            "The form was too large",
            "Please go back and try again.",
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let cookie_value = cookie(&headers, csrf_cookie_name(&site))
        .unwrap_or("")
        .to_string();
    let token = form.get("csrfToken").map(String::as_str).unwrap_or("");
    if cookie_value.is_empty() || !state.vault.csrf_valid(&cookie_value, pr.id.as_str(), token) {
        let mut page = MessagePage {
            brand: brand(),
            title: "Form expired".into(),
            heading: "This form has expired".into(),
            body: "For your security the payment form must be sent from this page. Nothing was charged. Please open the payment page again and retry.".into(),
            link: None,
        };
        page.link = Some((
            format!("{}/pay/{}", site.base, pr.id),
            "Open the payment page".into(),
        ));
        return render(StatusCode::FORBIDDEN, &page);
    }
    if let Some(resp) = state_page(StatusCode::CONFLICT, &site, &pr) {
        return resp;
    }
    if let Some(until) = challenge_mode::active_for(&state, &site.partner) {
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
        let answer =
            challenge_mode::verify(&state, &pr, field("powChallenge"), field("powSolution"));
        if let Err(why) = answer {
            return refused(&site, &pr, until, why, state.clock.now());
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
        Err(problem) => {
            let (values, errors) = *problem;
            let notice = Some("Please correct the highlighted fields.".to_string());
            return form_page(
                &state,
                &site,
                &pr,
                &cookie_value,
                StatusCode::BAD_REQUEST,
                notice,
                errors,
                values,
            )
            .await;
        }
    };
    let method = input.instrument.type_str();
    // Counted as a decline before it is tried, so card testing in parallel counts as it
    // arrives; given back unless it was declined.
    let ip_text = client.network().to_string();
    let mut counters = vec![(Limit::DeclinePerIp, ip_text.as_str())];
    if let NewInstrument::Card { number, .. } = &input.instrument {
        counters.push((Limit::DeclinePerCard, number.expose()));
    }
    let counted = match state.limits.take(&state, &counters).await {
        Ok(counted) => counted,
        Err(e) => {
            return e.into_page(
                "Too many declined payments",
                "Too many payments were declined from here or with this card. Nothing was charged. Please wait before trying again, or use another payment method later.",
            )
        }
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
            // The names, ZIP and account type stay for the retry; numbers never come back.
            let kept = |name: &str| {
                form.get(name)
                    .map(|v| v.trim().to_string())
                    .unwrap_or_default()
            };
            let values = FormValues {
                method: method.into(),
                cardholder_name: kept("cardholderName"),
                postal_code: kept("postalCode"),
                account_holder_name: kept("accountHolderName"),
                account_type: kept("accountType"),
                ..Default::default()
            };
            let pr = request.seen_at(state.clock.now());
            // This decline may just have switched challenge mode on: the page that tells of it
            // asks for the proof already.
            let mut site = site.clone();
            match state.store.challenge_mode_until(&site.partner.id).await {
                Ok(until) => site.partner.challenge_mode_until = until,
                Err(e) => return internal_error_page(e),
            }
            form_page(
                &state,
                &site,
                &pr,
                &cookie_value,
                StatusCode::PAYMENT_REQUIRED,
                Some(code.payer_message().into()),
                HashMap::new(),
                values,
            )
            .await
        }
        Ok(
            PayOutcome::AlreadyCompleted(pr) | PayOutcome::InProgress(pr) | PayOutcome::NotOpen(pr),
        ) => state_page(StatusCode::CONFLICT, &site, &pr).unwrap_or_else(|| {
            message(
                StatusCode::CONFLICT,
                brand(),
                "Payment in progress",
                "A payment is being processed",
                "Please wait a moment and reload this page.",
            )
        }),
        Ok(PayOutcome::TooManyAttempts) => {
            // At most one window until the oldest failure leaves it.
            let window = state.config.limits.failed_attempts_per_link.per.as_secs();
            let mut resp = message(
                StatusCode::TOO_MANY_REQUESTS,
                brand(),
                "Too many attempts",
                "Too many failed attempts",
                &format!(
                    "For your security this link takes no more payments for now. Please try again later, or contact {}.",
                    site.partner.name
                ),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, window.max(1).into());
            resp
        }
        Ok(PayOutcome::NotFound) => not_found_page(),
        Err(e) => {
            // The payment may or may not have gone through: never invite a second try blindly.
            tracing::error!(error = format!("{e:#}"), request = %pr.id, "payment could not be completed");
            let mut page = MessagePage {
                brand: brand(),
                title: "Payment not confirmed".into(),
                heading: "We could not confirm your payment".into(),
                body: "Please do not pay again yet. Open this payment page again in a few minutes: it will show whether the payment went through.".into(),
                link: None,
            };
            page.link = Some((
                format!("{}/pay/{}", site.base, pr.id),
                "Open the payment page".into(),
            ));
            render(StatusCode::SERVICE_UNAVAILABLE, &page)
        }
    }
}

// ---------------------------------------------------------------- receipt

fn long_date(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[month repr:long] [day padding:none], [year] at [hour]:[minute] UTC"
    );
    t.format(&format).unwrap_or_default()
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
        PaymentRequestStatus::Completed => ("Payment complete".to_string(), format!("Thank you. {} has received your payment.", site.partner.name)),
        PaymentRequestStatus::Processing => (
            "Bank payment submitted".to_string(),
            "Thank you. Your bank payment is processing; it usually clears within a few business days.".to_string(),
        ),
        _ => return to_pay_page(),
    };
    let page = ReceiptPage {
        brand: Brand::of(&site.partner),
        heading,
        lead,
        amount: pr.amount.display(),
        reference_id: pr.reference_id.to_string(),
        date: long_date(pr.completed_at.unwrap_or(payment.created_at)),
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
