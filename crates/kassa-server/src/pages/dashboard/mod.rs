//! The partner dashboard: the cookies and helpers its pages share, the layout's navigation, and
//! the home page. Who may do what is `guard.rs` (every handler takes a `Can<act::…>`); signing
//! in and out is `sign_in.rs`; two-factor set-up is `security.rs`; transactions, payment
//! requests, payouts, webhooks and settings have their own modules.
//!
//! Sessions: a random token in an HttpOnly, SameSite=Lax cookie (`__Host-` and Secure when the
//! service is served over https); only its SHA-256 is stored. Every sign-in makes a new session,
//! sign-out deletes it, and every form carries a CSRF token bound to the session (or, on the
//! sign-in forms, to a pre-session cookie). A session ends after `sessionIdleTimeout` unused and
//! after 12 hours at most. Failed sign-ins (wrong passwords and wrong codes) are throttled.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use kassa_core::role::{DashboardAction, Role};
use kassa_store::{PageRequest, PaymentFilter};
use sha2::{Digest, Sha256};

use super::{internal_error_page, render, Brand};

use crate::state::AppState;

mod audit;
mod csv;
pub mod emails;
mod guard;
mod logo;
mod payment_requests;
mod payouts;
mod security;
mod settings;
mod sign_in;
mod transactions;
mod webhooks;

pub use audit::*;
pub use guard::{act, Can, Signed};
pub use logo::{remove_logo, upload_logo};
pub use payment_requests::*;
pub use payouts::*;
pub use security::*;
pub use settings::*;
pub use sign_in::*;
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

/// The cookie of a sign-in waiting for its second step (a code, or a choice of account).
fn pending_cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        "__Host-kassa_pending"
    } else {
        "kassa_pending"
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

/// What every dashboard page's layout needs: the sections, the sign-out form's token, and a
/// confirmation of what was just done.
pub struct Nav {
    pub csrf_token: String,
    pub section: &'static str,
    pub flash: Option<String>,
    /// The user's role: pages show only what it may do.
    pub role: Role,
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
            ("/dashboard/audit", "Audit", "audit"),
            ("/dashboard/security", "Security", "security"),
        ]
        .into_iter()
        .filter(|(_, _, section)| *section != "audit" || self.role.may(DashboardAction::ViewAudit))
        .map(|(href, label, section)| (href, label, section == self.section))
        .collect()
    }
}

/// What the user's role may do, for templates to show only that.
impl Nav {
    pub fn may_create_requests(&self) -> bool {
        self.role.may(DashboardAction::CreatePaymentRequest)
    }
    pub fn may_cancel_requests(&self) -> bool {
        self.role.may(DashboardAction::CancelPaymentRequest)
    }
    pub fn may_refund(&self) -> bool {
        self.role.may(DashboardAction::Refund)
    }
    pub fn may_manage_settings(&self) -> bool {
        self.role.may(DashboardAction::ManageSettings)
    }
    pub fn may_manage_keys(&self) -> bool {
        self.role.may(DashboardAction::ManageApiKeys)
    }
    pub fn may_manage_users(&self) -> bool {
        self.role.may(DashboardAction::ManageUsers)
    }
    pub fn may_manage_webhooks(&self) -> bool {
        self.role.may(DashboardAction::ManageWebhooks)
    }
}

/// The `from` and `to` dates of a list's filters (`2026-11-21`, UTC): from the start of the
/// first day through the end of the last; a date that does not read is said in `problems`.
fn day_range(
    from: Option<&str>,
    to: Option<&str>,
    problems: &mut Vec<String>,
) -> (Option<time::OffsetDateTime>, Option<time::OffsetDateTime>) {
    let mut day = |v: Option<&str>, name: &str| {
        let v = v?;
        let date =
            time::Date::parse(v, time::macros::format_description!("[year]-[month]-[day]")).ok();
        if date.is_none() {
            problems.push(format!("{name} must be a date like 2026-11-21."));
        }
        date.map(|d| d.midnight().assume_utc())
    };
    let start = day(from, "From");
    let end = day(to, "To").map(|d| d + time::Duration::days(1) - time::Duration::microseconds(1));
    (start, end)
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
pub async fn home(State(state): State<AppState>, signed: Can<act::View>) -> Response {
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
