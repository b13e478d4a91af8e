//! The Security page: a user's own two-factor sign-in. Setting it up shows a new secret (as
//! text and as a QR code, inline SVG) and asks for a current code; once confirmed, the 10
//! recovery codes are shown this once. Turning it off needs a current code, and is refused to an
//! owner whose account requires it. Every user may open this page whatever their role; an owner
//! who must set up two-factor sign-in can open nothing else.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::role::Role;
use kassa_core::two_factor::{self, parse_code, EnteredCode};

use super::{act, field, Can, Nav, Signed};
use crate::client_ip::ClientIp;
use crate::limits::{Limit, LimitError};
use crate::pages::{internal_error_page, render, Brand};
use crate::state::AppState;

/// A secret being set up: what the page shows and the sealed field that carries it.
struct Setup {
    secret_base32: String,
    qr_svg: String,
    sealed: String,
}

#[derive(Template)]
#[template(path = "dashboard/security.html")]
struct SecurityPage {
    brand: Brand,
    nav: Nav,
    email: String,
    enabled: bool,
    /// The account requires it of this user (an owner).
    required: bool,
    notice: Option<String>,
    setup: Option<Setup>,
    recovery_codes: Vec<String>,
}

impl SecurityPage {
    fn new(state: &AppState, signed: &Signed, flash: Option<String>) -> SecurityPage {
        SecurityPage {
            brand: Brand::of(signed.partner()),
            nav: signed.nav(state, "security", flash),
            email: signed.session.user.email.clone(),
            enabled: signed.session.user.two_factor,
            required: required(signed),
            notice: None,
            setup: None,
            recovery_codes: Vec::new(),
        }
    }
}

pub(super) fn required(signed: &Signed) -> bool {
    signed.partner().require_two_factor && signed.role() == Role::Owner
}

/// `GET /dashboard/security`.
pub async fn security_page(
    State(state): State<AppState>,
    signed: Can<act::ManageOwnAccount>,
) -> Response {
    let mut page = SecurityPage::new(&state, &signed, None);
    if signed.must_enrol() {
        page.notice = Some(
            "Your account requires two-factor sign-in for owners. Set it up to continue.".into(),
        );
    }
    render(StatusCode::OK, &page)
}

fn setup_of(state: &AppState, signed: &Signed, secret: &[u8]) -> Setup {
    let user = &signed.session.user;
    let issuer = format!("Kassa ({})", signed.partner().name);
    Setup {
        secret_base32: two_factor::secret_base32(secret),
        qr_svg: crate::two_factor::qr_svg(&two_factor::otpauth_uri(&issuer, &user.email, secret)),
        sealed: crate::two_factor::seal_setup(state, user, secret),
    }
}

/// `POST /dashboard/security/two-factor/setup`: a new secret to scan; nothing is stored yet.
pub async fn two_factor_setup(
    State(state): State<AppState>,
    signed: Can<act::ManageOwnAccount>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    if signed.session.user.two_factor {
        return Redirect::to("/dashboard/security").into_response();
    }
    let secret = two_factor::new_secret();
    let mut page = SecurityPage::new(&state, &signed, None);
    page.setup = Some(setup_of(&state, &signed, secret.expose()));
    render(StatusCode::OK, &page)
}

/// `POST /dashboard/security/two-factor/confirm`: a current code of the new secret turns
/// two-factor sign-in on; the recovery codes are shown this once.
pub async fn two_factor_confirm(
    State(state): State<AppState>,
    signed: Can<act::ManageOwnAccount>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let user = &signed.session.user;
    let Some(secret) = crate::two_factor::open_setup(&state, user, &field(&form, "setup")) else {
        return Redirect::to("/dashboard/security").into_response();
    };
    let now = state.clock.now().unix_timestamp();
    let step = match parse_code(&field(&form, "code")) {
        Some(EnteredCode::Totp(code)) => {
            two_factor::matching_step(secret.expose(), &code, now, None)
        }
        _ => None,
    };
    let Some(step) = step else {
        let mut page = SecurityPage::new(&state, &signed, None);
        page.setup = Some(Setup {
            sealed: field(&form, "setup"),
            ..setup_of(&state, &signed, secret.expose())
        });
        page.notice = Some(
            "That code is not right. Check your phone's clock, and enter the code your app shows now."
                .into(),
        );
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let codes = two_factor::new_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| two_factor::recovery_code_hash(user.id.as_str(), c.expose()))
        .collect();
    let sealed = crate::two_factor::seal(&state, user, secret.expose());
    match state
        .store
        .enable_two_factor(&user.id, &sealed, step, &hashes, &signed.caller)
        .await
    {
        Ok(true) => {
            let mut page =
                SecurityPage::new(&state, &signed, Some("Two-factor sign-in is on.".into()));
            page.enabled = true;
            page.recovery_codes = codes.iter().map(|c| c.expose().clone()).collect();
            // `render` marks every page no-store, so the codes linger in no cache.
            render(StatusCode::OK, &page)
        }
        Ok(false) => Redirect::to("/dashboard/security").into_response(),
        Err(e) => internal_error_page(e),
    }
}

/// `POST /dashboard/security/two-factor/disable`, from its confirmation page (`confirm=yes`): a
/// current code (or a recovery code) turns it off, unless the account requires it of this user.
/// Wrong codes count as failed sign-ins.
pub async fn two_factor_disable(
    State(state): State<AppState>,
    signed: Can<act::ManageOwnAccount>,
    client: ClientIp,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let confirm_at = "/dashboard/security/two-factor/disable";
    if let Some(resp) = super::confirm::unconfirmed(&form, confirm_at) {
        return resp;
    }
    let user = &signed.session.user;
    let again = |status: StatusCode, notice: &str| {
        let mut page = SecurityPage::new(&state, &signed, None);
        page.notice = Some(notice.to_string());
        render(status, &page)
    };
    if required(&signed) {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Your account requires two-factor sign-in for owners, so it stays on.",
        );
    }
    let stored = match state.store.totp_secret(&user.id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return Redirect::to("/dashboard/security").into_response(),
        Err(e) => return internal_error_page(e),
    };
    let counted = state
        .limits
        .take(
            &state,
            &[
                (Limit::SignInFailurePerEmail, &user.email),
                (Limit::SignInFailurePerIp, &client.network().to_string()),
            ],
        )
        .await;
    let counted = match counted {
        Ok(counted) => counted,
        Err(e @ LimitError::Refused { .. }) => {
            return e.into_page("Too many wrong codes", "Please wait and try again.")
        }
        Err(LimitError::Store(e)) => return internal_error_page(e),
    };
    let factor = parse_code(&field(&form, "code"))
        .and_then(|entered| crate::two_factor::factor_for(&state, user, &stored, &entered));
    let disabled = match factor {
        Some(factor) => {
            state
                .store
                .disable_two_factor(&user.id, &factor, &signed.caller)
                .await
        }
        None => Ok(false),
    };
    match disabled {
        Ok(true) => {
            state.limits.give_back(&state, counted).await;
            let mut page =
                SecurityPage::new(&state, &signed, Some("Two-factor sign-in is off.".into()));
            page.enabled = false;
            render(StatusCode::OK, &page)
        }
        Ok(false) => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That code is not right, or was used already. Two-factor sign-in stays on.",
        ),
        Err(e) => internal_error_page(e),
    }
}
