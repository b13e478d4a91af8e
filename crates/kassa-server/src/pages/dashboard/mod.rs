//! The partner dashboard: sign-in with server-side sessions, the layout every page shares, and
//! the home page. Transactions, payment requests, payouts and settings have their own modules.
//!
//! Sessions: a random token in an HttpOnly, SameSite=Lax cookie (`__Host-` and Secure when the
//! service is served over https); only its SHA-256 is stored. Every sign-in makes a new session,
//! sign-out deletes it, and every form carries a CSRF token bound to the session (or, on the
//! sign-in form, to a pre-session cookie). Failed sign-ins are throttled per email.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::audit::{Actor, Caller};
use kassa_core::id::random_base62;
use kassa_core::secret::Secret;
use kassa_store::{PageRequest, PaymentFilter, SessionRecord};
use sha2::{Digest, Sha256};

use super::{cookie, internal_error_page, render, Brand};

use crate::client_ip::ClientIp;
use crate::limits::{Limit, LimitError};
use crate::sign_in::SESSION_LIFETIME;
use crate::state::AppState;

mod payment_requests;
mod payouts;
mod settings;
mod transactions;
mod webhooks;

pub use payment_requests::*;
pub use payouts::*;
pub use settings::*;
pub use transactions::*;
pub use webhooks::*;

fn secure(state: &AppState) -> bool {
    state.config.public_base().starts_with("https://")
}

fn session_cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        "__Host-kassa_session"
    } else {
        "kassa_session"
    }
}

fn login_cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        "__Host-kassa_login"
    } else {
        "kassa_login"
    }
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("cookie values are base62")
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn well_formed(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A signed-in dashboard user; pages that need one redirect to the sign-in page without it.
pub struct Signed {
    pub session: SessionRecord,
    /// The user, from the client's address, for the audit log.
    pub caller: Caller,
    /// The raw token, for CSRF tokens bound to this session.
    token: String,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = cookie(&parts.headers, session_cookie_name(state))
            .filter(|t| well_formed(t))
            .map(str::to_string);
        let Some(token) = token else {
            return Err(Redirect::to("/dashboard/login").into_response());
        };
        match state
            .store
            .session(&token_hash(&token), state.clock.now())
            .await
        {
            Ok(Some(session)) => {
                let Ok(client) = ClientIp::from_request_parts(parts, state).await;
                let user_agent = parts
                    .headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok());
                let caller = Caller::new(
                    Actor::user(session.user.id.as_str(), &session.user.email),
                    state.clock.now(),
                    Some(client.0.to_string()),
                    user_agent,
                );
                Ok(Signed {
                    session,
                    caller,
                    token,
                })
            }
            Ok(None) => Err(Redirect::to("/dashboard/login").into_response()),
            Err(e) => Err(internal_error_page(e)),
        }
    }
}

impl Signed {
    fn csrf(&self, state: &AppState) -> String {
        state.vault.csrf_token(&self.token, "dashboard")
    }

    fn partner(&self) -> &kassa_store::Partner {
        &self.session.partner
    }

    /// The layout's navigation for a page of `section`, with an optional confirmation.
    fn nav(&self, state: &AppState, section: &'static str, flash: Option<String>) -> Nav {
        Nav {
            csrf_token: self.csrf(state),
            section,
            flash,
        }
    }

    /// Checks a form's CSRF token: the answer to send instead when it is not valid.
    fn refuse_form(&self, state: &AppState, form: &HashMap<String, String>) -> Option<Response> {
        (!self.csrf_valid(state, form)).then(expired_form)
    }

    fn csrf_valid(&self, state: &AppState, form: &HashMap<String, String>) -> bool {
        let given = form.get("csrfToken").map(String::as_str).unwrap_or("");
        state.vault.csrf_valid(&self.token, "dashboard", given)
    }
}

#[derive(Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    brand: Brand,
    csrf_token: String,
    email: String,
    notice: Option<String>,
}

/// `GET /dashboard/login`.
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (value, set) = login_cookie(&state, &headers);
    let mut resp = render(
        StatusCode::OK,
        &LoginPage {
            brand: Brand::kassa(),
            csrf_token: state.vault.csrf_token(&value, "login"),
            email: String::new(),
            notice: None,
        },
    );
    if let Some(set) = set {
        resp.headers_mut().append(header::SET_COOKIE, set);
    }
    resp
}

/// The pre-session cookie the sign-in form's CSRF token is bound to.
fn login_cookie(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, login_cookie_name(state)).filter(|v| well_formed(v)) {
        Some(v) => (v.to_string(), None),
        None => {
            let v = random_base62(43);
            let set = set_cookie(state, login_cookie_name(state), &v, 3600);
            (v, Some(set))
        }
    }
}

fn login_again(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    notice: &str,
) -> Response {
    let (value, set) = login_cookie(state, headers);
    let mut resp = render(
        status,
        &LoginPage {
            brand: Brand::kassa(),
            csrf_token: state.vault.csrf_token(&value, "login"),
            email: email.to_string(),
            notice: Some(notice.to_string()),
        },
    );
    if let Some(set) = set {
        resp.headers_mut().append(header::SET_COOKIE, set);
    }
    resp
}

/// `POST /dashboard/login`: checks the password (Argon2id), then starts a new session.
pub async fn login(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let now = state.clock.now();
    let email = form
        .get("email")
        .map(|e| e.trim().to_lowercase())
        .unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let login_value = cookie(&headers, login_cookie_name(&state)).unwrap_or("");
    let given = form.get("csrfToken").map(String::as_str).unwrap_or("");
    if login_value.is_empty() || !state.vault.csrf_valid(login_value, "login", given) {
        return login_again(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            &email,
            "This form expired. Please sign in again.",
        );
    }
    if email.is_empty() || password.is_empty() {
        return login_again(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            &email,
            "Enter your email and password.",
        );
    }
    // Counted as a failure before the password is checked, so concurrent guesses count as
    // they arrive; given back when it was right.
    let counted = state
        .limits
        .take(
            &state,
            &[
                (Limit::SignInFailurePerEmail, &email),
                (Limit::SignInFailurePerIp, &client.network().to_string()),
            ],
        )
        .await;
    let counted = match counted {
        Ok(counted) => counted,
        Err(LimitError::Refused { retry_after_secs }) => {
            let mut resp = login_again(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &email,
                &format!(
                    "Too many failed sign-ins. Please wait {} and try again.",
                    wait_text(retry_after_secs)
                ),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, retry_after_secs.into());
            return resp;
        }
        Err(LimitError::Store(e)) => return internal_error_page(e),
    };
    let found = match state.store.user_by_email(&email).await {
        Ok(found) => found,
        Err(e) => return internal_error_page(e),
    };
    // Verified even for an unknown email, so the answer takes as long either way.
    let stored = found
        .as_ref()
        .map(|(_, hash)| hash.expose().clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    // At most `limits.passwordHashes` checks at once: each takes about 19 MB.
    let Some(slot) = state.limits.password_hash_slot().await else {
        state.limits.give_back(&state, counted).await;
        let mut resp = login_again(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            &email,
            "Kassa is busy signing other people in. Please try again in a few seconds.",
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return resp;
    };
    let password_ok = state
        .passwords
        .verify(Secret::new(password), stored, slot)
        .await;
    let user = match found {
        Some((user, _)) if password_ok && user.disabled_at.is_none() => user,
        _ => {
            return login_again(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                &email,
                "That email and password do not match.",
            );
        }
    };
    state.limits.give_back(&state, counted).await;
    // Always a new session id at sign-in.
    let token = random_base62(43);
    if let Err(e) = state
        .store
        .create_session(&token_hash(&token), &user, now + SESSION_LIFETIME, now)
        .await
    {
        return internal_error_page(e);
    }
    let mut resp = Redirect::to("/dashboard").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            &state,
            session_cookie_name(&state),
            &token,
            SESSION_LIFETIME.whole_seconds(),
        ),
    );
    resp
}

/// "3 minutes", "40 seconds": how long to wait, for people.
fn wait_text(secs: u64) -> String {
    match secs {
        0..=1 => "a second".into(),
        2..=90 => format!("{secs} seconds"),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

/// An Argon2id hash of a random password, checked when the email is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2WRr6yQ3Bq6W7dy8j3rE0Q2Zr6lN2YbqkXyI9e2c3o0";

/// What every dashboard page's layout needs: the sections, the sign-out form's token, and a
/// confirmation of what was just done.
pub struct Nav {
    pub csrf_token: String,
    pub section: &'static str,
    pub flash: Option<String>,
}

impl Nav {
    /// (href, label, current) for each section.
    pub fn links(&self) -> Vec<(&'static str, &'static str, bool)> {
        [
            ("/dashboard", "Home", "home"),
            ("/dashboard/transactions", "Transactions", "transactions"),
            (
                "/dashboard/payment-requests",
                "Payment requests",
                "payment_requests",
            ),
            ("/dashboard/payouts", "Payouts", "payouts"),
            ("/dashboard/webhooks", "Webhooks", "webhooks"),
            ("/dashboard/settings", "Settings", "settings"),
        ]
        .into_iter()
        .map(|(href, label, section)| (href, label, section == self.section))
        .collect()
    }
}

fn expired_form() -> Response {
    super::message(
        StatusCode::FORBIDDEN,
        Brand::kassa(),
        "Expired",
        "This form expired",
        "Please go back, reload the page and try again.",
    )
}

/// A dashboard page for something that does not exist (or belongs to another partner).
fn not_found(partner: &kassa_store::Partner, what: &str) -> Response {
    super::message(
        StatusCode::NOT_FOUND,
        Brand::of(partner),
        "Not found",
        &format!("No such {what}"),
        &format!("This {what} does not exist in your account."),
    )
}

/// A dashboard form's fields, trimmed; absent fields read as empty.
fn field(form: &HashMap<String, String>, name: &str) -> String {
    form.get(name)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// `POST /dashboard/logout`.
pub async fn logout(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    if let Err(e) = state.store.delete_session(&token_hash(&signed.token)).await {
        return internal_error_page(e);
    }
    let mut resp = Redirect::to("/dashboard/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, session_cookie_name(&state), "", 0),
    );
    resp
}

#[derive(Template)]
#[template(path = "dashboard/home.html")]
struct HomePage {
    brand: Brand,
    partner_name: String,
    email: String,
    available: String,
    pending: String,
    paid_out: String,
    payments: Vec<transactions::TxRow>,
    nav: Nav,
    /// Until when the pay pages are in challenge mode (docs/api.md §8), when they are.
    challenge_until: Option<String>,
}

/// A time as the dashboard shows it: "2026-11-21 14:05 UTC" (the CSV export keeps RFC 3339).
pub(super) fn when(at: time::OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_else(|_| kassa_core::clock::format_rfc3339(utc))
}

fn usd(minor: i64) -> String {
    kassa_core::money::Money::new(minor, kassa_core::money::Currency::Usd).display()
}

/// `GET /dashboard`: the balance and the latest payments.
pub async fn home(State(state): State<AppState>, signed: Signed) -> Response {
    let partner = &signed.session.partner;
    let balances = match state.store.balances(&partner.id).await {
        Ok(b) => b,
        Err(e) => return internal_error_page(e),
    };
    let page = PageRequest {
        limit: 10,
        starting_after: None,
    };
    let payments = match state
        .store
        .list_payments(&partner.id, &PaymentFilter::default(), &page)
        .await
    {
        Ok(kassa_store::Page::Items { data, .. }) => data,
        Ok(kassa_store::Page::UnknownCursor) => Vec::new(),
        Err(e) => return internal_error_page(e),
    };
    let challenge_until = match crate::challenge_mode::active_until(&state, &partner.id).await {
        Ok(until) => until.map(when),
        Err(e) => return internal_error_page(e),
    };
    render(
        StatusCode::OK,
        &HomePage {
            brand: Brand::of(partner),
            partner_name: partner.name.clone(),
            email: signed.session.user.email.clone(),
            available: usd(balances.available),
            pending: usd(balances.pending),
            paid_out: usd(balances.paid_out),
            payments: payments.iter().map(transactions::tx_row).collect(),
            nav: signed.nav(&state, "home", None),
            challenge_until,
        },
    )
}
