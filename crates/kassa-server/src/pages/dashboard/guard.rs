//! Who may open a dashboard page or send a dashboard form, decided once per request: the
//! [`Can`] extractor reads the session (ended after `sessionIdleTimeout` idle or 12 hours), sends
//! an owner who must set up two-factor sign-in to the Security page, and asks
//! `kassa_core::role` whether the user's role may do the handler's action. A handler names its
//! action in its signature (`Can<act::Refund>`); [`Signed`] cannot be extracted on its own, so a
//! page without a check does not compile.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::audit::{Action, Actor, Caller, Entry, Outcome};
use kassa_core::role::{DashboardAction, Role};
use kassa_store::{SessionRecord, SESSION_TOUCH_INTERVAL};

use super::{session_cookie_name, token_hash, well_formed, Nav};
use crate::client_ip::ClientIp;
use crate::pages::{cookie, internal_error_page, Brand};
use crate::state::AppState;

/// A signed-in dashboard user, as a [`Can`] found them.
pub struct Signed {
    pub session: SessionRecord,
    /// The user, from the client's address, for the audit log.
    pub caller: Caller,
    /// The raw token, for CSRF tokens bound to this session.
    pub(super) token: String,
}

impl Signed {
    pub(super) fn csrf(&self, state: &AppState) -> String {
        state.vault.csrf_token(&self.token, "dashboard")
    }

    pub(super) fn partner(&self) -> &kassa_store::Partner {
        &self.session.partner
    }

    pub(super) fn role(&self) -> Role {
        self.session.user.role
    }

    /// The layout's navigation for a page of `section`, with an optional confirmation.
    pub(super) fn nav(
        &self,
        state: &AppState,
        section: &'static str,
        flash: Option<String>,
    ) -> Nav {
        Nav {
            csrf_token: self.csrf(state),
            section,
            flash,
            role: self.role(),
            zone: self.times().name().to_string(),
        }
    }

    /// How this partner's times are written (its timezone).
    pub(super) fn times(&self) -> super::times::Times {
        super::times::Times::of(self.partner())
    }

    /// Checks a form's CSRF token: the answer to send instead when it is not valid.
    pub(super) fn refuse_form(
        &self,
        state: &AppState,
        form: &HashMap<String, String>,
    ) -> Option<Response> {
        let given = form.get("csrfToken").map(String::as_str).unwrap_or("");
        (!state.vault.csrf_valid(&self.token, "dashboard", given)).then(super::expired_form)
    }

    /// Whether the user must set up two-factor sign-in before anything else: an owner of a
    /// partner that requires it, without it.
    pub(super) fn must_enrol(&self) -> bool {
        self.session.partner.require_two_factor
            && self.session.user.role == Role::Owner
            && !self.session.user.two_factor
    }
}

/// A handler's action, as a type: `Can<act::Refund>`.
pub trait Act {
    const ACTION: DashboardAction;
}

/// One type per [`DashboardAction`].
pub mod act {
    use super::{Act, DashboardAction};

    macro_rules! acts {
        ($($name:ident),*) => {$(
            pub struct $name;
            impl Act for $name {
                const ACTION: DashboardAction = DashboardAction::$name;
            }
        )*};
    }

    acts!(
        View,
        CreatePaymentRequest,
        CancelPaymentRequest,
        Refund,
        ManageSettings,
        ManageApiKeys,
        ManageUsers,
        ManageWebhooks,
        ManageOwnAccount,
        ViewAudit
    );
}

/// A signed-in user whose role may do `A`; without a session, the sign-in page; with a role
/// that may not, [`refuse`]'s 403.
pub struct Can<A: Act> {
    signed: Signed,
    _act: PhantomData<A>,
}

impl<A: Act> Deref for Can<A> {
    type Target = Signed;
    fn deref(&self) -> &Signed {
        &self.signed
    }
}

impl<A: Act> FromRequestParts<AppState> for Can<A> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let signed = signed_in(parts, state).await?;
        if signed.must_enrol() && A::ACTION != DashboardAction::ManageOwnAccount {
            return Err(Redirect::to("/dashboard/security").into_response());
        }
        if !signed.role().may(A::ACTION) {
            return Err(refuse(state, &signed, A::ACTION).await);
        }
        Ok(Can {
            signed,
            _act: PhantomData,
        })
    }
}

/// The session of the request's cookie, if it is live; touched when last used more than a
/// minute ago (so most requests write nothing).
async fn signed_in(parts: &mut Parts, state: &AppState) -> Result<Signed, Response> {
    let token = cookie(&parts.headers, session_cookie_name(state))
        .filter(|t| well_formed(t))
        .map(str::to_string);
    let Some(token) = token else {
        return Err(Redirect::to("/dashboard/login").into_response());
    };
    let now = state.clock.now();
    let hash = token_hash(&token);
    let session = match state
        .store
        .session(&hash, now, now - state.config.session_idle_timeout)
        .await
    {
        Ok(Some(session)) => session,
        Ok(None) => return Err(Redirect::to("/dashboard/login").into_response()),
        Err(e) => return Err(internal_error_page(e)),
    };
    crate::request_log::note_partner(&parts.extensions, &session.partner.id);
    if now - session.last_seen_at > SESSION_TOUCH_INTERVAL {
        if let Err(e) = state.store.touch_session(&hash, now).await {
            return Err(internal_error_page(e));
        }
    }
    let Ok(client) = ClientIp::from_request_parts(parts, state).await;
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let caller = Caller::new(
        Actor::user(session.user.id.as_str(), &session.user.email),
        now,
        Some(client.0.to_string()),
        user_agent,
    );
    Ok(Signed {
        session,
        caller,
        token,
    })
}

/// The answer to an action the user's role may not do: a plain 403 page; nothing was changed.
/// Every role refusal passes here, and is written to the audit log.
pub async fn refuse(state: &AppState, signed: &Signed, action: DashboardAction) -> Response {
    let entry = Entry {
        action: Action::AccessDenied,
        outcome: Outcome::Denied,
        object_id: None,
        details: serde_json::json!({
            "dashboardAction": action.as_str(),
            "role": signed.role().to_string(),
        }),
    };
    if let Err(e) = state
        .store
        .record_audit(Some(&signed.partner().id), &signed.caller, &entry)
        .await
    {
        return internal_error_page(e);
    }
    let resp = crate::pages::message(
        StatusCode::FORBIDDEN,
        Brand::of(signed.partner()),
        "Not allowed",
        "You may not do this",
        &format!(
            "Your role ({}) does not allow it. An owner of your account can do it, or give you \
             another role.",
            signed.role()
        ),
    );
    resp
}
