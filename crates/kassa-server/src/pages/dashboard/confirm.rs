//! The confirmation step of every destructive action: cancelling a payment request, revoking an
//! API key, removing a user, removing the logo, rotating a webhook endpoint's secret or deleting the endpoint, and
//! turning off two-factor sign-in. The button of each goes to a page (a GET, so it works without
//! JavaScript) that says what will happen, with the destructive button and a "Keep it" link; that
//! form posts the action with `confirm=yes`. The action's POST handler refuses a form without it
//! ([`unconfirmed`]), so one click — or a form made elsewhere — never does it.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::payment_request::PaymentRequestStatus;

use super::{act, not_found, Can, Nav, Signed};
use crate::pages::{internal_error_page, render, Brand, PageParams};
use crate::settings;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "dashboard/confirm.html")]
struct ConfirmPage {
    brand: Brand,
    nav: Nav,
    /// The question, as the page's title and heading.
    question: String,
    /// What happens, in a sentence or two.
    consequence: String,
    /// The action's POST address.
    action: String,
    /// The destructive button's label.
    button: &'static str,
    /// Where "Keep it" leads back to.
    back: String,
    /// The action needs a current two-factor code.
    code: bool,
}

impl ConfirmPage {
    fn new(state: &AppState, signed: &Signed, section: &'static str) -> ConfirmPage {
        ConfirmPage {
            brand: Brand::of(signed.partner()),
            nav: signed.nav(state, section, None),
            question: String::new(),
            consequence: String::new(),
            action: String::new(),
            button: "",
            back: String::new(),
            code: false,
        }
    }
}

/// What a destructive action's POST answers when its form did not come from the confirmation
/// page (`confirm=yes` missing): that page, and nothing changed.
/// `confirm_at` carries ids from the path: anything but a plain path goes to the home page.
pub(super) fn unconfirmed(form: &HashMap<String, String>, confirm_at: &str) -> Option<Response> {
    let plain = confirm_at
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b));
    (form.get("confirm").map(String::as_str) != Some("yes"))
        .then(|| Redirect::to(if plain { confirm_at } else { "/dashboard" }).into_response())
}

/// `GET /dashboard/payment-requests/{id}/cancel`.
pub async fn cancel_payment_request(
    State(state): State<AppState>,
    signed: Can<act::CancelPaymentRequest>,
    params: PageParams,
) -> Response {
    let pr = match super::payment_requests::load_request(&state, &signed, &params).await {
        Ok(pr) => pr,
        Err(resp) => return resp,
    };
    let back = format!("/dashboard/payment-requests/{}", pr.id);
    if pr.status != PaymentRequestStatus::Open {
        return crate::pages::message(
            StatusCode::CONFLICT,
            Brand::of(signed.partner()),
            "Not canceled",
            "This payment request cannot be canceled",
            &format!(
                "Only an open payment request can be canceled; this one is {}.",
                pr.status.as_str()
            ),
        );
    }
    let mut page = ConfirmPage::new(&state, &signed, "payment_requests");
    page.question = format!(
        "Cancel payment request {} for {}?",
        pr.reference_id.as_str(),
        pr.amount.display()
    );
    page.consequence = format!(
        "Its link ({}) stops taking payments at once. This cannot be undone.",
        pr.id
    );
    page.action = format!("{back}/cancel");
    page.button = "Cancel payment request";
    page.back = back;
    render(StatusCode::OK, &page)
}

/// `GET /dashboard/settings/api-keys/{id}/revoke`.
pub async fn revoke_api_key(
    State(state): State<AppState>,
    signed: Can<act::ManageApiKeys>,
    params: PageParams,
) -> Response {
    let keys = match settings::api_keys(&state, signed.partner()).await {
        Ok(keys) => keys,
        Err(e) => return internal_error_page(e.into_cause()),
    };
    let Some(key) = keys
        .iter()
        .find(|k| k.id.as_str() == params.id() && k.revoked_at.is_none())
    else {
        return not_found(signed.partner(), "API key");
    };
    let mut page = ConfirmPage::new(&state, &signed, "settings");
    page.question = format!("Revoke the API key “{}” ({}…)?", key.label, key.prefix);
    page.consequence =
        "Every request made with it is refused from now on. This cannot be undone.".into();
    page.action = format!("/dashboard/settings/api-keys/{}/revoke", key.id);
    page.button = "Revoke key";
    page.back = "/dashboard/settings#keys-heading".into();
    render(StatusCode::OK, &page)
}

/// `GET /dashboard/settings/logo/remove`.
pub async fn remove_logo(
    State(state): State<AppState>,
    signed: Can<act::ManageSettings>,
) -> Response {
    let mut page = ConfirmPage::new(&state, &signed, "settings");
    page.question = "Remove your logo?".into();
    page.consequence =
        "Your pay pages, receipts and emails show your business name instead until you upload a logo again."
            .into();
    page.action = "/dashboard/settings/logo/remove".into();
    page.button = "Remove logo";
    page.back = "/dashboard/settings".into();
    render(StatusCode::OK, &page)
}

/// `GET /dashboard/settings/users/{id}/remove`.
pub async fn remove_user(
    State(state): State<AppState>,
    signed: Can<act::ManageUsers>,
    params: PageParams,
) -> Response {
    let users = match settings::users(&state, signed.partner()).await {
        Ok(users) => users,
        Err(e) => return internal_error_page(e.into_cause()),
    };
    let Some(user) = users.iter().find(|u| u.id.as_str() == params.id()) else {
        return not_found(signed.partner(), "user");
    };
    let mut page = ConfirmPage::new(&state, &signed, "settings");
    page.question = format!("Remove {} from your team?", user.email);
    page.consequence = if user.id == signed.session.user.id {
        "This is you: you are signed out at once and can no longer sign in. This cannot be undone."
            .into()
    } else {
        "They are signed out at once and can no longer sign in. This cannot be undone.".into()
    };
    page.action = format!("/dashboard/settings/users/{}/remove", user.id);
    page.button = "Remove user";
    page.back = "/dashboard/settings#team-heading".into();
    render(StatusCode::OK, &page)
}

/// `GET /dashboard/webhooks/{id}/rotate-secret` and `…/delete`.
pub async fn webhook(
    State(state): State<AppState>,
    signed: Can<act::ManageWebhooks>,
    params: PageParams,
) -> Response {
    let partner = signed.partner();
    let endpoint = match crate::webhooks::get(&state, partner, params.id()).await {
        Ok(e) => e,
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            return not_found(partner, "webhook endpoint")
        }
        Err(e) => return internal_error_page(e.into_cause()),
    };
    let back = format!("/dashboard/webhooks/{}", endpoint.id);
    let mut page = ConfirmPage::new(&state, &signed, "webhooks");
    match params.0.get("action").map(String::as_str) {
        Some("rotate-secret") => {
            page.question = format!("Rotate the signing secret of {}?", endpoint.url.as_str());
            page.consequence = "A new secret is made and shown once. The old one keeps signing \
                                deliveries for 24 hours; then only the new one does."
                .into();
            page.action = format!("{back}/rotate-secret");
            page.button = "Rotate secret";
        }
        Some("delete") => {
            page.question = format!("Delete the webhook endpoint {}?", endpoint.url.as_str());
            page.consequence =
                "Nothing more is sent to it, and its deliveries are no longer listed. This \
                 cannot be undone."
                    .into();
            page.action = format!("{back}/delete");
            page.button = "Delete endpoint";
        }
        _ => return not_found(partner, "page"),
    }
    page.back = back;
    render(StatusCode::OK, &page)
}

/// `GET /dashboard/security/two-factor/disable`: asks for a current code too.
pub async fn disable_two_factor(
    State(state): State<AppState>,
    signed: Can<act::ManageOwnAccount>,
) -> Response {
    if !signed.session.user.two_factor || super::security::required(&signed) {
        return Redirect::to("/dashboard/security").into_response();
    }
    let mut page = ConfirmPage::new(&state, &signed, "security");
    page.question = "Turn off two-factor sign-in?".into();
    page.consequence = "Signing in will need only your password. To confirm, enter a current \
                        code from your app, or one of your recovery codes."
        .into();
    page.action = "/dashboard/security/two-factor/disable".into();
    page.button = "Turn off two-factor sign-in";
    page.back = "/dashboard/security".into();
    page.code = true;
    render(StatusCode::OK, &page)
}
