//! `GET …/payment-request?amount=&referenceId=[&redirectUrl=][&signature=]` (docs/api.md §2): a
//! payment link anyone can type, which creates the request (or finds the one with this
//! reference) and sends the payer to its page. Unsigned links are counted (docs/api.md §8).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::audit::{Actor, Caller};
use kassa_core::error::ValidationError;
use kassa_core::money::{Currency, Money};
use kassa_core::reference::ReferenceId;
use kassa_core::url::RedirectUrl;
use kassa_store::CreateOutcome;

use crate::client_ip::ClientIp;
use crate::limits::Limit;
use crate::new_request::{create_or_get, link_may_redirect, NewRequestFields};
use crate::pages::{internal_error_page, message, Site};
use crate::state::AppState;

/// `GET …/payment-request?amount=&referenceId=[&redirectUrl=][&signature=]`: creates the request
/// (or finds the one with this reference) and sends the payer to its page.
pub async fn creation_link(
    State(state): State<AppState>,
    client: ClientIp,
    site: Site,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let brand = || site.brand();
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
