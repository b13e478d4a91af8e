//! The partner dashboard: sign-in with server-side sessions, and the home page.
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
use kassa_core::clock::format_rfc3339;
use kassa_core::id::random_base62;
use kassa_core::money::format_minor;
use kassa_store::{PageRequest, PaymentFilter, SessionRecord};
use sha2::{Digest, Sha256};

use super::{cookie, internal_error_page, render, Brand};
use crate::app::AppState;

/// How long a session lasts.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(12);
/// Failed sign-ins per email within [`THROTTLE_WINDOW`] before sign-in is refused for a while.
pub const MAX_FAILED_LOGINS: i64 = 5;
pub const THROTTLE_WINDOW: time::Duration = time::Duration::minutes(15);

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
            Ok(Some(session)) => Ok(Signed { session, token }),
            Ok(None) => Err(Redirect::to("/dashboard/login").into_response()),
            Err(e) => Err(internal_error_page(e)),
        }
    }
}

impl Signed {
    fn csrf(&self, state: &AppState) -> String {
        state.vault.csrf_token(&self.token, "dashboard")
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
    match state
        .store
        .login_failures_since(&email, now - THROTTLE_WINDOW)
        .await
    {
        Ok(n) if n >= MAX_FAILED_LOGINS => {
            return login_again(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                &email,
                "Too many failed sign-ins for this email. Please wait 15 minutes and try again.",
            )
        }
        Ok(_) => {}
        Err(e) => return internal_error_page(e),
    }
    let found = match state.store.user_by_email(&email).await {
        Ok(found) => found,
        Err(e) => return internal_error_page(e),
    };
    // Verified even for an unknown email, so the answer takes as long either way.
    let stored = found
        .as_ref()
        .map(|(_, hash)| hash.expose().clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let password_ok =
        tokio::task::spawn_blocking(move || crate::admin::verify_password(&password, &stored))
            .await
            .unwrap_or(false);
    let user = match found {
        Some((user, _)) if password_ok && user.disabled_at.is_none() => user,
        _ => {
            if let Err(e) = state.store.record_login_failure(&email, now).await {
                return internal_error_page(e);
            }
            return login_again(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                &email,
                "That email and password do not match.",
            );
        }
    };
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

/// An Argon2id hash of a random password, checked when the email is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2WRr6yQ3Bq6W7dy8j3rE0Q2Zr6lN2YbqkXyI9e2c3o0";

/// `POST /dashboard/logout`.
pub async fn logout(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !signed.csrf_valid(&state, &form) {
        return super::message(
            StatusCode::FORBIDDEN,
            Brand::kassa(),
            "Expired",
            "This form expired",
            "Please go back, reload the page and try again.",
        );
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

struct Row {
    status: String,
    amount: String,
    reference: String,
    method: String,
    created: String,
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
    payments: Vec<Row>,
    csrf_token: String,
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
    render(
        StatusCode::OK,
        &HomePage {
            brand: Brand::of(partner),
            partner_name: partner.name.clone(),
            email: signed.session.user.email.clone(),
            available: format_minor(balances.available),
            pending: format_minor(balances.pending),
            paid_out: format_minor(balances.paid_out),
            payments: payments
                .iter()
                .map(|p| Row {
                    status: p.status.as_str().to_string(),
                    amount: p.amount.display(),
                    reference: p.reference_id.clone().unwrap_or_default(),
                    method: p.payment_method.describe(),
                    created: format_rfc3339(p.created_at),
                })
                .collect(),
            csrf_token: signed.csrf(&state),
        },
    )
}

/// Rows a CSV export holds at most.
pub const CSV_MAX_ROWS: usize = 10_000;

/// The transactions filters, read from the query string; the same for the page and its CSV.
struct TransactionsQuery {
    raw: HashMap<String, String>,
    filter: PaymentFilter,
    problems: Vec<String>,
}

fn transactions_query(params: HashMap<String, String>) -> TransactionsQuery {
    let get = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut problems = Vec::new();
    let mut filter = PaymentFilter::default();
    if let Some(s) = get("status") {
        match kassa_core::payment::PaymentStatus::parse_str(s) {
            Some(st) => filter.status = Some(st),
            None => problems.push("Unknown status.".to_string()),
        }
    }
    if let Some(s) = get("source") {
        match kassa_core::payment::PaymentSource::parse_str(s) {
            Some(src) => filter.source = Some(src),
            None => problems.push("Unknown source.".to_string()),
        }
    }
    if let Some(m) = get("method") {
        if ["card", "ach", "google_pay"].contains(&m) {
            filter.method = Some(m.to_string());
        } else {
            problems.push("Unknown method.".to_string());
        }
    }
    let date = |v: &str| {
        time::Date::parse(v, time::macros::format_description!("[year]-[month]-[day]")).ok()
    };
    if let Some(v) = get("from") {
        match date(v) {
            Some(d) => filter.created_from = Some(d.midnight().assume_utc()),
            None => problems.push("From must be a date like 2026-11-21.".to_string()),
        }
    }
    if let Some(v) = get("to") {
        match date(v) {
            // Through the end of that day.
            Some(d) => {
                filter.created_to = Some(
                    d.midnight().assume_utc() + time::Duration::days(1)
                        - time::Duration::microseconds(1),
                )
            }
            None => problems.push("To must be a date like 2026-11-21.".to_string()),
        }
    }
    filter.reference_contains = get("q").map(|q| q.chars().take(100).collect());
    TransactionsQuery {
        raw: params,
        filter,
        problems,
    }
}

impl TransactionsQuery {
    fn value(&self, k: &str) -> String {
        self.raw.get(k).cloned().unwrap_or_default()
    }

    /// The filters as a query string (without the page cursor).
    fn query_string(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for k in ["q", "status", "method", "source", "from", "to"] {
            if let Some(v) = self.raw.get(k).filter(|v| !v.trim().is_empty()) {
                q.append_pair(k, v.trim());
            }
        }
        q.finish()
    }
}

/// One option of a filter's select.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn choices(current: &str, options: &[(&'static str, &'static str)]) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value,
            label,
            selected: *value == current.trim(),
        })
        .collect()
}

struct TxRow {
    status: String,
    amount: String,
    reference: String,
    method: String,
    created: String,
    completed: String,
}

fn tx_row(p: &kassa_core::payment::Payment) -> TxRow {
    TxRow {
        status: p.status.as_str().to_string(),
        amount: p.amount.display(),
        reference: p.reference_id.clone().unwrap_or_default(),
        method: p.payment_method.describe(),
        created: format_rfc3339(p.created_at),
        completed: p.completed_at.map(format_rfc3339).unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "dashboard/transactions.html")]
struct TransactionsPage {
    brand: Brand,
    notice: Option<String>,
    q: String,
    from: String,
    to: String,
    statuses: Vec<Choice>,
    methods: Vec<Choice>,
    sources: Vec<Choice>,
    query: String,
    rows: Vec<TxRow>,
    next: Option<String>,
}

/// `GET /dashboard/transactions`: every payment of the partner, filtered, 50 a page.
pub async fn transactions(
    State(state): State<AppState>,
    signed: Signed,
    axum::extract::Query(params): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let partner = &signed.session.partner;
    let tq = transactions_query(params);
    let after = tq
        .raw
        .get("after")
        .filter(|a| a.len() <= 64 && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .cloned();
    let (rows, next) = if tq.problems.is_empty() {
        let page = PageRequest {
            limit: 50,
            starting_after: after,
        };
        match state
            .store
            .list_payments(&partner.id, &tq.filter, &page)
            .await
        {
            Ok(kassa_store::Page::Items { data, has_more }) => {
                let next = has_more.then(|| {
                    let last = data.last().map(|p| p.id.to_string()).unwrap_or_default();
                    let q = tq.query_string();
                    if q.is_empty() {
                        format!("after={last}")
                    } else {
                        format!("{q}&after={last}")
                    }
                });
                (data.iter().map(tx_row).collect(), next)
            }
            Ok(kassa_store::Page::UnknownCursor) => (Vec::new(), None),
            Err(e) => return internal_error_page(e),
        }
    } else {
        (Vec::new(), None)
    };
    let status = if tq.problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    render(
        status,
        &TransactionsPage {
            brand: Brand::of(partner),
            notice: (!tq.problems.is_empty()).then(|| tq.problems.join(" ")),
            q: tq.value("q"),
            from: tq.value("from"),
            to: tq.value("to"),
            statuses: choices(
                &tq.value("status"),
                &[
                    ("", "Any"),
                    ("pending", "Pending"),
                    ("completed", "Completed"),
                    ("failed", "Failed"),
                    ("partially_refunded", "Partially refunded"),
                    ("refunded", "Refunded"),
                ],
            ),
            methods: choices(
                &tq.value("method"),
                &[
                    ("", "Any"),
                    ("card", "Card"),
                    ("ach", "Bank account"),
                    ("google_pay", "Google Pay"),
                ],
            ),
            sources: choices(
                &tq.value("source"),
                &[
                    ("", "Any"),
                    ("payment_request", "Payment requests"),
                    ("api", "API"),
                ],
            ),
            query: tq.query_string(),
            rows,
            next,
        },
    )
}

/// One CSV field: quoted when needed, and never read as a formula by a spreadsheet.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// `GET /dashboard/transactions.csv`: exactly what the same filters show, every page.
pub async fn transactions_csv(
    State(state): State<AppState>,
    signed: Signed,
    axum::extract::Query(params): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let partner = &signed.session.partner;
    let tq = transactions_query(params);
    if !tq.problems.is_empty() {
        return (StatusCode::BAD_REQUEST, tq.problems.join(" ")).into_response();
    }
    let mut out = String::from(
        "id,status,amount,currency,reference_id,method,source,created_at,completed_at\n",
    );
    let mut after = None;
    let mut rows = 0;
    loop {
        let page = PageRequest {
            limit: 100,
            starting_after: after.take(),
        };
        let (data, has_more) = match state
            .store
            .list_payments(&partner.id, &tq.filter, &page)
            .await
        {
            Ok(kassa_store::Page::Items { data, has_more }) => (data, has_more),
            Ok(kassa_store::Page::UnknownCursor) => break,
            Err(e) => return internal_error_page(e),
        };
        for p in &data {
            let fields = [
                p.id.to_string(),
                p.status.as_str().to_string(),
                kassa_core::money::format_minor(p.amount.minor()),
                p.currency.as_str().to_string(),
                p.reference_id.clone().unwrap_or_default(),
                p.payment_method.type_str().to_string(),
                p.source.as_str().to_string(),
                format_rfc3339(p.created_at),
                p.completed_at.map(format_rfc3339).unwrap_or_default(),
            ];
            out.push_str(
                &fields
                    .iter()
                    .map(|f| csv_field(f))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
            rows += 1;
        }
        if !has_more || rows >= CSV_MAX_ROWS {
            break;
        }
        after = data.last().map(|p| p.id.to_string());
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"transactions.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response()
}
