//! The partner dashboard: the cookies and helpers its pages share, the layout's navigation, and
//! the routes added since the first dashboard (the rest are listed in `pages/mod.rs`). Who may
//! do what is `guard.rs` (every handler takes a `Can<act::…>`); signing in and out is
//! `sign_in.rs`; two-factor set-up is `security.rs`; every time shown goes through `times.rs`
//! (the partner's timezone); each destructive action asks first (`confirm.rs`); the home page,
//! transactions, payment requests, payouts, webhooks and settings have their own modules.
//!
//! Sessions: a random token in an HttpOnly, SameSite=Lax cookie (`__Host-` and Secure when the
//! service is served over https); only its SHA-256 is stored. Every sign-in makes a new session,
//! sign-out deletes it, and every form carries a CSRF token bound to the session (or, on the
//! sign-in forms, to a pre-session cookie). A session ends after `sessionIdleTimeout` unused and
//! after 12 hours at most. Failed sign-ins (wrong passwords and wrong codes) are throttled.

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use kassa_core::role::{DashboardAction, Role};
use sha2::{Digest, Sha256};

use super::Brand;

use crate::state::AppState;

mod audit;
mod chart;
mod confirm;
mod csv;
pub mod emails;
mod guard;
mod home;
mod logo;
mod payment_requests;
mod payouts;
mod refund;
mod security;
mod settings;
mod sign_in;
mod times;
mod transaction;
mod transactions;
mod webhooks;

pub use audit::*;
pub use guard::{act, Can, Signed};
pub use home::*;
pub use logo::{remove_logo, upload_logo};
pub use payment_requests::*;
pub use payouts::*;
pub use refund::*;
pub use security::*;
pub use settings::*;
pub use sign_in::*;
pub use transaction::*;
pub use transactions::*;
pub use webhooks::*;

/// The dashboard's routes added with its confirmation steps, payout statements as CSV and the QR
/// code of a payment link (its stylesheet and script are `pages/assets.rs`); merged into `pages::routes`, where a path
/// both list (a confirmation's GET here, its POST there) is one route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/dashboard/payment-requests/{id}/cancel",
            get(confirm::cancel_payment_request),
        )
        .route(
            "/dashboard/payment-requests/{id}/qr.svg",
            get(payment_requests::qr_code),
        )
        .route(
            "/dashboard/settings/api-keys/{id}/revoke",
            get(confirm::revoke_api_key),
        )
        .route(
            "/dashboard/settings/users/{id}/remove",
            get(confirm::remove_user),
        )
        .route("/dashboard/settings/logo/remove", get(confirm::remove_logo))
        .route("/dashboard/webhooks/{id}/{action}", get(confirm::webhook))
        .route(
            "/dashboard/security/two-factor/disable",
            get(confirm::disable_two_factor),
        )
        .route(
            "/dashboard/payouts/{id}/statement.csv",
            get(payouts::payout_csv),
        )
}

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

/// What every dashboard page's layout needs: the sections, the sign-out form's token, a
/// confirmation of what was just done, and the timezone its times are in.
pub struct Nav {
    pub csrf_token: String,
    pub section: &'static str,
    pub flash: Option<String>,
    /// The user's role: pages show only what it may do.
    pub role: Role,
    /// The partner's timezone ("America/New_York").
    pub zone: String,
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

/// The `from` and `to` dates of a list's filters (`2026-11-21`, days in the partner's
/// timezone): from the start of the first day through the end of the last; a date that does not
/// read is said in `problems`.
fn day_range(
    from: Option<&str>,
    to: Option<&str>,
    times: &times::Times,
    problems: &mut Vec<String>,
) -> (Option<time::OffsetDateTime>, Option<time::OffsetDateTime>) {
    let mut day = |v: Option<&str>, name: &str| {
        let v = v?;
        let date =
            time::Date::parse(v, time::macros::format_description!("[year]-[month]-[day]")).ok();
        if date.is_none() {
            problems.push(format!("{name} must be a date like 2026-11-21."));
        }
        date
    };
    let start = day(from, "From").map(|d| times.span(d, d).0);
    let end = day(to, "To").map(|d| times.span(d, d).1 - time::Duration::microseconds(1));
    (start, end)
}

/// A time as the pay page's challenge notice writes it: "2026-11-21 14:05 UTC" (the
/// dashboard's own times go through `times.rs`, in the partner's timezone).
pub(super) fn when(at: time::OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_else(|_| kassa_core::clock::format_rfc3339(utc))
}

/// An API message as a sentence on a page.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
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
