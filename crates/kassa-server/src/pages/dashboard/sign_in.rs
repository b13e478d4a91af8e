//! Signing in to the dashboard and out of it. Sign-in is a password and, for a user with
//! two-factor sign-in, a code (TOTP or a recovery code) on a second page. An email may have users
//! at several partners: the password is checked against each, and when it matches more than one
//! the person picks the account. Between the steps there is only a *pending* sign-in (its own
//! cookie and table, for a few minutes), which opens no dashboard page. Wrong passwords and wrong
//! codes count against the same limits (`limits.signInFailures*`).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::audit::{Action, Actor, Caller, Entry, Outcome};
use kassa_core::id::random_base62;
use kassa_core::secret::Secret;
use kassa_core::two_factor::parse_code;
use kassa_store::{FinishSignIn, PendingSignIn, User};

use super::{
    act, field, login_cookie_name, pending_cookie_name, session_cookie_name, set_cookie,
    token_hash, well_formed, Can,
};
use crate::client_ip::ClientIp;
use crate::limits::{Limit, LimitError, Taken};
use crate::pages::{cookie, internal_error_page, render, Brand};
use crate::sign_in::{PENDING_LIFETIME, SESSION_LIFETIME};
use crate::state::AppState;

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

/// `POST /dashboard/login`: checks the password (Argon2id) against every user with the email,
/// then starts a session, or a pending sign-in when a code or a choice of account is needed.
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
    let counted = match count_failure(&state, &client, &email).await {
        Ok(counted) => counted,
        Err(resp) => return login_again_with(&state, &headers, &email, resp),
    };
    let candidates = match state.store.users_by_email(&email).await {
        Ok(found) => found,
        Err(e) => return internal_error_page(e),
    };
    let tried: Vec<User> = candidates.iter().map(|(u, _)| u.clone()).collect();
    let matched = match check_password(&state, &password, candidates).await {
        Some(matched) => matched,
        None => {
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
        }
    };
    if matched.is_empty() {
        if let Err(e) = record_failure(&state, &tried, &email, client, &headers, "password").await {
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
    state.limits.give_back(&state, counted).await;
    if let [user] = matched.as_slice() {
        if !user.two_factor {
            // Always a new session id at sign-in.
            let token = random_base62(43);
            if let Err(e) = state
                .store
                .create_session(
                    &token_hash(&token),
                    user,
                    now + SESSION_LIFETIME,
                    &user_caller((user.id.as_str(), &user.email), now, client, &headers),
                )
                .await
            {
                return internal_error_page(e);
            }
            return signed_in(&state, &token);
        }
    }
    let pending = random_base62(43);
    let ids: Vec<_> = matched.iter().map(|u| u.id.clone()).collect();
    if let Err(e) = state
        .store
        .create_pending_sign_in(&token_hash(&pending), &ids, now + PENDING_LIFETIME)
        .await
    {
        return internal_error_page(e);
    }
    let next = if matched.len() == 1 {
        "/dashboard/login/code"
    } else {
        "/dashboard/login/choose"
    };
    let mut resp = Redirect::to(next).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            &state,
            pending_cookie_name(&state),
            &pending,
            PENDING_LIFETIME.whole_seconds(),
        ),
    );
    resp
}

/// Counts one sign-in failure for the email and the client before anything is checked, so
/// concurrent guesses count as they arrive; given back when the password or code was right.
/// The refusal as (status, notice, retry after) when the limit is reached.
async fn count_failure(state: &AppState, client: &ClientIp, email: &str) -> Result<Taken, Refusal> {
    let counted = state
        .limits
        .take(
            state,
            &[
                (Limit::SignInFailurePerEmail, email),
                (Limit::SignInFailurePerIp, &client.network().to_string()),
            ],
        )
        .await;
    match counted {
        Ok(counted) => Ok(counted),
        Err(LimitError::Refused { retry_after_secs }) => Err(Refusal::Limited(retry_after_secs)),
        Err(LimitError::Store(e)) => Err(Refusal::Internal(internal_error_page(e))),
    }
}

/// Why a sign-in step was not even tried.
enum Refusal {
    /// Too many failures: wait this many seconds.
    Limited(u64),
    Internal(Response),
}

fn limited_notice(retry_after_secs: u64) -> String {
    format!(
        "Too many failed sign-ins. Please wait {} and try again.",
        wait_text(retry_after_secs)
    )
}

fn login_again_with(
    state: &AppState,
    headers: &HeaderMap,
    email: &str,
    refusal: Refusal,
) -> Response {
    match refusal {
        Refusal::Internal(resp) => resp,
        Refusal::Limited(secs) => {
            let mut resp = login_again(
                state,
                headers,
                StatusCode::TOO_MANY_REQUESTS,
                email,
                &limited_notice(secs),
            );
            resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
            resp
        }
    }
}

/// The enabled users among `candidates` whose password this is. Each candidate's hash is
/// checked (and a dummy one when there is none), so the time taken tells nothing about where
/// else the email is used. None when no password-hash slot freed up in time.
async fn check_password(
    state: &AppState,
    password: &str,
    candidates: Vec<(User, Secret<String>)>,
) -> Option<Vec<User>> {
    let checks: Vec<(Option<User>, String)> = if candidates.is_empty() {
        vec![(None, DUMMY_HASH.to_string())]
    } else {
        candidates
            .into_iter()
            .map(|(u, hash)| (Some(u), hash.expose().clone()))
            .collect()
    };
    let mut matched = Vec::new();
    for (user, stored) in checks {
        // At most `limits.passwordHashes` checks at once: each takes about 19 MB.
        let slot = state.limits.password_hash_slot().await?;
        let ok = state
            .passwords
            .verify(Secret::new(password.to_string()), stored, slot)
            .await;
        if let Some(user) = user.filter(|u| ok && u.disabled_at.is_none()) {
            matched.push(user);
        }
    }
    Some(matched)
}

/// Sets the new session's cookie (and forgets the pending sign-in's) and opens the dashboard.
fn signed_in(state: &AppState, token: &str) -> Response {
    let mut resp = Redirect::to("/dashboard").into_response();
    let headers = resp.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(
            state,
            session_cookie_name(state),
            token,
            SESSION_LIFETIME.whole_seconds(),
        ),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(state, pending_cookie_name(state), "", 0),
    );
    resp
}

/// The pending sign-in of the request's cookie: its token and the users it may become. None
/// when there is none (or it expired): the person starts again at the password.
async fn pending(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, Vec<PendingSignIn>)>, Response> {
    let Some(token) = cookie(headers, pending_cookie_name(state)).filter(|t| well_formed(t)) else {
        return Ok(None);
    };
    match state
        .store
        .pending_sign_in(&token_hash(token), state.clock.now())
        .await
    {
        Ok(users) if users.is_empty() => Ok(None),
        Ok(users) => Ok(Some((token.to_string(), users))),
        Err(e) => Err(internal_error_page(e)),
    }
}

fn start_again() -> Response {
    Redirect::to("/dashboard/login").into_response()
}

#[derive(Template)]
#[template(path = "dashboard/login_code.html")]
struct CodePage {
    brand: Brand,
    csrf_token: String,
    user_id: String,
    email: String,
    partner_name: String,
    notice: Option<String>,
}

fn code_page(
    state: &AppState,
    token: &str,
    p: &PendingSignIn,
    status: StatusCode,
    notice: Option<String>,
) -> Response {
    render(
        status,
        &CodePage {
            brand: Brand::kassa(),
            csrf_token: state.vault.csrf_token(token, "sign-in-step"),
            user_id: p.user.id.to_string(),
            email: p.user.email.clone(),
            partner_name: p.partner.name.clone(),
            notice,
        },
    )
}

/// `GET /dashboard/login/code[?user=usr_…]`: the second step, for a user with two-factor
/// sign-in.
pub async fn login_code_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (token, users) = match pending(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return start_again(),
        Err(resp) => return resp,
    };
    let wanted = query.get("user").map(String::as_str);
    let chosen = users
        .iter()
        .filter(|p| p.user.two_factor)
        .find(|p| wanted.is_none_or(|id| p.user.id.as_str() == id));
    match chosen {
        Some(p) if wanted.is_some() || users.len() == 1 => {
            code_page(&state, &token, p, StatusCode::OK, None)
        }
        _ => start_again(),
    }
}

/// The pending sign-in a second-step form continues (its token and users) and the user it names,
/// once the form's CSRF token is checked; the answer to send instead otherwise.
async fn second_step(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(String, Vec<PendingSignIn>, String), Response> {
    let (token, users) = match pending(state, headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(start_again()),
        Err(resp) => return Err(resp),
    };
    let given = form.get("csrfToken").map(String::as_str).unwrap_or("");
    if !state.vault.csrf_valid(&token, "sign-in-step", given) {
        return Err(super::expired_form());
    }
    Ok((token, users, field(form, "user")))
}

/// `POST /dashboard/login/code`: checks the code and, when it is right and unused, signs in.
pub async fn login_code(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (token, users, user_id) = match second_step(&state, &headers, &form).await {
        Ok(step) => step,
        Err(resp) => return resp,
    };
    let Some(p) = users
        .iter()
        .find(|p| p.user.id.as_str() == user_id && p.user.two_factor)
    else {
        return start_again();
    };
    let counted = match count_failure(&state, &client, &p.user.email).await {
        Ok(counted) => counted,
        Err(Refusal::Internal(resp)) => return resp,
        Err(Refusal::Limited(secs)) => {
            let mut resp = code_page(
                &state,
                &token,
                p,
                StatusCode::TOO_MANY_REQUESTS,
                Some(limited_notice(secs)),
            );
            resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
            return resp;
        }
    };
    let wrong = |state: &AppState| {
        code_page(
            state,
            &token,
            p,
            StatusCode::UNAUTHORIZED,
            Some("That code is not right, or was used already. Please try again.".into()),
        )
    };
    let stored = match state.store.totp_secret(&p.user.id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return wrong(&state),
        Err(e) => return internal_error_page(e),
    };
    let factor = parse_code(form.get("code").map(String::as_str).unwrap_or(""))
        .and_then(|entered| crate::two_factor::factor_for(&state, &p.user, &stored, &entered));
    let Some(factor) = factor else {
        let tried = [p.user.clone()];
        if let Err(e) =
            record_failure(&state, &tried, &p.user.email, client, &headers, "code").await
        {
            return internal_error_page(e);
        }
        return wrong(&state);
    };
    let now = state.clock.now();
    let session = random_base62(43);
    match state
        .store
        .finish_sign_in(
            &token_hash(&token),
            &p.user.id,
            Some(&factor),
            &token_hash(&session),
            now + SESSION_LIFETIME,
            &user_caller((p.user.id.as_str(), &p.user.email), now, client, &headers),
        )
        .await
    {
        Ok(FinishSignIn::SignedIn(_)) => {
            state.limits.give_back(&state, counted).await;
            signed_in(&state, &session)
        }
        Ok(FinishSignIn::FactorRefused) => {
            let tried = [p.user.clone()];
            if let Err(e) =
                record_failure(&state, &tried, &p.user.email, client, &headers, "code").await
            {
                return internal_error_page(e);
            }
            wrong(&state)
        }
        Ok(FinishSignIn::NoPending) => start_again(),
        Err(e) => internal_error_page(e),
    }
}

struct Choice {
    user_id: String,
    partner_name: String,
}

#[derive(Template)]
#[template(path = "dashboard/login_choose.html")]
struct ChoosePage {
    brand: Brand,
    csrf_token: String,
    choices: Vec<Choice>,
}

/// `GET /dashboard/login/choose`: the password matched users of several accounts; which one?
pub async fn login_choose_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (token, users) = match pending(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return start_again(),
        Err(resp) => return resp,
    };
    render(
        StatusCode::OK,
        &ChoosePage {
            brand: Brand::kassa(),
            csrf_token: state.vault.csrf_token(&token, "sign-in-step"),
            choices: users
                .iter()
                .map(|p| Choice {
                    user_id: p.user.id.to_string(),
                    partner_name: p.partner.name.clone(),
                })
                .collect(),
        },
    )
}

/// `POST /dashboard/login/choose`: signs in to the chosen account, or asks its code first.
pub async fn login_choose(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (token, users, user_id) = match second_step(&state, &headers, &form).await {
        Ok(step) => step,
        Err(resp) => return resp,
    };
    let Some(p) = users.iter().find(|p| p.user.id.as_str() == user_id) else {
        return start_again();
    };
    if p.user.two_factor {
        return Redirect::to(&format!("/dashboard/login/code?user={}", p.user.id)).into_response();
    }
    let now = state.clock.now();
    let session = random_base62(43);
    match state
        .store
        .finish_sign_in(
            &token_hash(&token),
            &p.user.id,
            None,
            &token_hash(&session),
            now + SESSION_LIFETIME,
            &user_caller((p.user.id.as_str(), &p.user.email), now, client, &headers),
        )
        .await
    {
        Ok(FinishSignIn::SignedIn(_)) => signed_in(&state, &session),
        Ok(_) => start_again(),
        Err(e) => internal_error_page(e),
    }
}

/// Who is signing in, for the audit log: the user, from the client's address.
fn user_caller(
    user: (&str, &str),
    now: time::OffsetDateTime,
    client: ClientIp,
    headers: &HeaderMap,
) -> Caller {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    Caller::new(
        Actor::user(user.0, user.1),
        now,
        Some(client.0.to_string()),
        user_agent,
    )
}

/// A failed sign-in in the audit log: on the chain of each partner with a user of that email
/// (so each partner sees attempts on its own users and nothing of another's), or on the
/// installation's chain when the email has no user. `step` is `password` or `code`.
async fn record_failure(
    state: &AppState,
    tried: &[User],
    email: &str,
    client: ClientIp,
    headers: &HeaderMap,
    step: &str,
) -> Result<(), kassa_store::StoreError> {
    let now = state.clock.now();
    let entry = |user: Option<&User>| Entry {
        action: Action::UserSignedIn,
        outcome: Outcome::Failed,
        object_id: user.map(|u| u.id.to_string()),
        details: serde_json::json!({"failedStep": step}),
    };
    if tried.is_empty() {
        // No user has this email: the email as typed (bounded), and no id.
        let email = kassa_core::text::truncate_chars(email, 254);
        let by = user_caller(("", &email), now, client, headers);
        return state
            .store
            .record_audit(None, &by, &entry(None))
            .await
            .map(drop);
    }
    for user in tried {
        let by = user_caller((user.id.as_str(), &user.email), now, client, headers);
        state
            .store
            .record_audit(Some(&user.partner_id), &by, &entry(Some(user)))
            .await?;
    }
    Ok(())
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

/// `POST /dashboard/logout`.
pub async fn logout(
    State(state): State<AppState>,
    signed: Can<act::ManageOwnAccount>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    if let Err(e) = state
        .store
        .delete_session(&token_hash(&signed.token), &signed.caller)
        .await
    {
        return internal_error_page(e);
    }
    let mut resp = Redirect::to("/dashboard/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, session_cookie_name(&state), "", 0),
    );
    resp
}
