//! Settings: branding (with a preview of the pay page), billing host (and its DNS verification),
//! default redirect URL, allowed redirect hosts and signed links; API keys (a new key is shown once) and team users. Every change goes through
//! [`crate::settings`], the same code as the API's `/v1/partner`, `/v1/api-keys` and `/v1/users`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kassa_core::partner::BrandColor;
use kassa_core::scope::{Scope, Scopes};
use kassa_store::Partner;

use super::{act, field, Can, Nav, Signed};
use crate::error::ApiError;
use crate::pages::{internal_error_page, render, Brand, LogoImage, PageParams};
use crate::settings::{self, SettingsInput};
use crate::state::AppState;

/// The settings form's values as shown (saved, or as typed when refused).
struct Values {
    name: String,
    brand_color: String,
    billing_host: String,
    default_redirect_url: String,
    /// One host a line (commas and spaces separate too).
    allowed_redirect_hosts: String,
    require_signed_links: bool,
    require_two_factor: bool,
    support_email: String,
    support_phone: String,
    support_url: String,
    terms_url: String,
    privacy_url: String,
    notification_email: String,
    timezone: String,
}

/// An optional setting as the form shows it: empty when unset.
fn shown<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

impl Values {
    fn of(p: &Partner) -> Values {
        Values {
            name: p.name.clone(),
            brand_color: p.brand_color.as_str().to_lowercase(),
            billing_host: p
                .billing_host
                .as_ref()
                .map(|h| h.as_str().to_string())
                .unwrap_or_default(),
            default_redirect_url: p
                .default_redirect_url
                .as_ref()
                .map(|u| u.as_str().to_string())
                .unwrap_or_default(),
            allowed_redirect_hosts: p
                .allowed_redirect_hosts
                .iter()
                .collect::<Vec<_>>()
                .join("\n"),
            require_signed_links: p.require_signed_links,
            require_two_factor: p.require_two_factor,
            support_email: shown(&p.contact.support_email),
            support_phone: shown(&p.contact.support_phone),
            support_url: shown(&p.contact.support_url),
            terms_url: shown(&p.contact.terms_url),
            privacy_url: shown(&p.contact.privacy_url),
            notification_email: shown(&p.notification_email),
            timezone: p.timezone.name().to_owned(),
        }
    }

    fn from_form(form: &HashMap<String, String>) -> Values {
        Values {
            name: form.get("name").cloned().unwrap_or_default(),
            brand_color: field(form, "brandColor"),
            billing_host: field(form, "billingHost"),
            default_redirect_url: field(form, "defaultRedirectUrl"),
            allowed_redirect_hosts: field(form, "allowedRedirectHosts"),
            require_signed_links: form.contains_key("requireSignedLinks"),
            require_two_factor: form.contains_key("requireTwoFactor"),
            support_email: field(form, "supportEmail"),
            support_phone: field(form, "supportPhone"),
            support_url: field(form, "supportUrl"),
            terms_url: field(form, "termsUrl"),
            privacy_url: field(form, "privacyUrl"),
            notification_email: field(form, "notificationEmail"),
            timezone: field(form, "timezone"),
        }
    }

    fn input(&self) -> SettingsInput {
        let clearable = |v: &str| Some(Some(v.to_string()).filter(|v| !v.is_empty()));
        SettingsInput {
            name: Some(self.name.clone()),
            billing_host: clearable(&self.billing_host),
            brand_color: Some(self.brand_color.clone()),
            // The old hot-linked logo URL is no longer set here: the logo is uploaded.
            logo_url: None,
            default_redirect_url: clearable(&self.default_redirect_url),
            require_signed_links: Some(self.require_signed_links),
            allowed_redirect_hosts: Some(Some(self.redirect_hosts())),
            require_two_factor: Some(self.require_two_factor),
            support_email: clearable(&self.support_email),
            support_phone: clearable(&self.support_phone),
            support_url: clearable(&self.support_url),
            terms_url: clearable(&self.terms_url),
            privacy_url: clearable(&self.privacy_url),
            notification_email: clearable(&self.notification_email),
            // A blank zone is UTC, the default.
            timezone: Some(if self.timezone.trim().is_empty() {
                "UTC".to_owned()
            } else {
                self.timezone.clone()
            }),
        }
    }

    /// The allowed redirect hosts as typed, one an entry.
    fn redirect_hosts(&self) -> Vec<String> {
        self.allowed_redirect_hosts
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// What the pay page would look like with these values.
struct Preview {
    name: String,
    /// The uploaded logo (the form does not change it).
    logo: Option<LogoImage>,
    /// The stylesheet carrying the color.
    css: String,
    /// Said when the colour is too light to draw marks on white with.
    warning: Option<String>,
}

/// The billing host's verification as shown: its status and the TXT record that proves it.
struct HostRow {
    host: String,
    verified: bool,
    record_name: String,
    record_value: String,
}

impl HostRow {
    fn of(p: &Partner) -> Option<HostRow> {
        let (host, verification) = (
            p.billing_host.as_ref()?,
            p.billing_host_verification.as_ref()?,
        );
        Some(HostRow {
            host: host.to_string(),
            verified: verification.is_verified(),
            record_name: kassa_core::billing_host::record_name(host),
            record_value: verification.record_value(),
        })
    }
}

struct KeyRow {
    id: String,
    label: String,
    prefix: String,
    scopes: String,
    created: String,
    revoked: Option<String>,
}

/// One scope's checkbox on the new-key form.
struct ScopeChoice {
    name: &'static str,
    checked: bool,
}

struct UserRow {
    id: String,
    email: String,
    role: &'static str,
    two_factor: bool,
    created: String,
    is_you: bool,
}

#[derive(Template)]
#[template(path = "dashboard/settings.html")]
struct SettingsPage {
    brand: Brand,
    nav: Nav,
    notice: Option<String>,
    values: Values,
    errors: HashMap<String, String>,
    preview: Preview,
    host: Option<HostRow>,
    keys: Vec<KeyRow>,
    new_key: Option<String>,
    key_label: String,
    key_error: Option<String>,
    scope_choices: Vec<ScopeChoice>,
    scopes_error: Option<String>,
    users: Vec<UserRow>,
    user_email: String,
    user_errors: HashMap<String, String>,
    processor: ProcessorRow,
    /// The uploaded logo, shown in its own section with the upload form.
    logo: Option<LogoImage>,
    /// Why the last upload was refused.
    logo_error: Option<String>,
}

/// Which processor the partner's payments go through (set by the operator), and where it sends
/// its notifications.
struct ProcessorRow {
    connector: &'static str,
    api_base: Option<String>,
    notification_url: Option<String>,
}

impl SettingsPage {
    fn error(&self, field: &str) -> Option<&String> {
        self.errors.get(field)
    }
    fn user_error(&self, field: &str) -> Option<&String> {
        self.user_errors.get(field)
    }
}

/// The new-key form's checkboxes, with `checked` ticked.
fn scope_choices(checked: Scopes) -> Vec<ScopeChoice> {
    Scope::ALL
        .into_iter()
        .map(|scope| ScopeChoice {
            name: scope.as_str(),
            checked: checked.contains(scope),
        })
        .collect()
}

/// The page as saved, before a form's outcome is added to it.
async fn page(
    state: &AppState,
    signed: &Signed,
    flash: Option<String>,
) -> Result<SettingsPage, Response> {
    let partner = signed.partner();
    let keys = settings::api_keys(state, partner)
        .await
        .map_err(|e| internal_error_page(e.into_cause()))?;
    let users = settings::users(state, partner)
        .await
        .map_err(|e| internal_error_page(e.into_cause()))?;
    let shown = crate::processors::show(state.store.as_ref(), None, partner)
        .await
        .map_err(internal_error_page)?;
    let processor = ProcessorRow {
        connector: shown.connector.as_str(),
        api_base: shown.api_base,
        notification_url: (shown.connector != kassa_core::processor::Connector::Sandbox).then(
            || {
                format!(
                    "{}/hooks/{}/{}",
                    state.config.public_base(),
                    shown.connector.hook_segment(),
                    partner.slug
                )
            },
        ),
    };
    let values = Values::of(partner);
    let logo = state
        .store
        .logo_ref(&partner.id)
        .await
        .map_err(internal_error_page)?
        .map(|l| LogoImage::of(partner, &l));
    let times = signed.times();
    Ok(SettingsPage {
        brand: Brand::of(partner),
        nav: signed.nav(state, "settings", flash),
        notice: None,
        preview: preview(partner, &values, logo.as_ref()),
        host: HostRow::of(partner),
        values,
        errors: HashMap::new(),
        keys: keys
            .iter()
            .rev()
            .map(|k| KeyRow {
                id: k.id.to_string(),
                label: k.label.clone(),
                prefix: k.prefix.clone(),
                scopes: k
                    .scopes
                    .iter()
                    .map(Scope::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                created: times.when(k.created_at),
                revoked: k.revoked_at.map(|t| times.when(t)),
            })
            .collect(),
        new_key: None,
        key_label: String::new(),
        key_error: None,
        scope_choices: scope_choices(Scopes::default_for_new_key()),
        scopes_error: None,
        users: users
            .iter()
            .map(|u| UserRow {
                id: u.id.to_string(),
                email: u.email.clone(),
                role: u.role.as_str(),
                two_factor: u.two_factor,
                created: times.when(u.created_at),
                is_you: u.id == signed.session.user.id,
            })
            .collect(),
        user_email: String::new(),
        user_errors: HashMap::new(),
        processor,
        logo,
        logo_error: None,
    })
}

/// The Settings page after a refused logo upload, saying why (nothing was changed).
pub(super) async fn with_logo_error(
    state: &AppState,
    signed: &Signed,
    message: String,
) -> Response {
    match page(state, signed, None).await {
        Ok(mut p) => {
            p.logo_error = Some(message);
            render(StatusCode::BAD_REQUEST, &p)
        }
        Err(resp) => resp,
    }
}

/// The preview shows what parses; a value that does not keeps the saved one.
fn preview(partner: &Partner, values: &Values, logo: Option<&LogoImage>) -> Preview {
    let color = BrandColor::parse(values.brand_color.trim())
        .unwrap_or_else(|_| partner.brand_color.clone());
    let palette = kassa_core::contrast::Palette::of(&color);
    let warning = palette.too_light_for_marks().then(|| {
        format!(
            "{} is too light to read on white ({:.1}:1; at least {:.0}:1 is needed). The pay \
             button's text is {} so it stays readable, and links and focus outlines use the \
             darker {} instead.",
            palette.brand,
            palette.on_white,
            kassa_core::contrast::MARK_CONTRAST,
            if palette.on_brand == "#000000" {
                "black"
            } else {
                "white"
            },
            palette.ink
        )
    });
    let color = color.as_str().to_string();
    let name = values.name.trim();
    Preview {
        name: if name.is_empty() {
            partner.name.clone()
        } else {
            name.to_string()
        },
        logo: logo.map(|l| LogoImage {
            url: l.url.clone(),
            width: l.width,
            height: l.height,
        }),
        css: format!(
            "/static/brand-preview.css?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("color", &color)
                .finish()
        ),
        warning,
    }
}

/// The errors of `allowedRedirectHosts[i]` shown as one at the list's field, naming the hosts
/// (the page escapes them).
fn redirect_host_errors(errors: &mut HashMap<String, String>, hosts: &[String]) {
    let bad: Vec<&str> = hosts
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            errors
                .remove(&format!("allowedRedirectHosts[{i}]"))
                .is_some()
        })
        .map(|(_, h)| h.as_str())
        .collect();
    if !bad.is_empty() {
        errors.insert(
            "allowedRedirectHosts".into(),
            format!(
                "Not a host name: {}. Give host names only, like shop.example.com, without https:// or a path.",
                bad.join(", ")
            ),
        );
    }
}

fn field_errors(e: &ApiError) -> HashMap<String, String> {
    e.field_errors()
        .iter()
        .map(|fe| (fe.field.clone(), super::sentence(&fe.message)))
        .collect()
}

/// `GET /dashboard/settings`.
pub async fn settings_page(
    State(state): State<AppState>,
    signed: Can<act::View>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let flash = match query.get("done").map(String::as_str) {
        Some("saved") => Some("Settings saved.".to_string()),
        Some("revoked") => Some("API key revoked. Requests with it are now refused.".to_string()),
        Some("user-added") => Some("User added. They can sign in now.".to_string()),
        Some("user-removed") => Some("User removed and signed out.".to_string()),
        Some("role-changed") => Some("Role changed.".to_string()),
        Some("logo-saved") => Some("Logo saved. Your pages show it now.".to_string()),
        Some("logo-removed") => {
            Some("Logo removed. Your pages show your business name.".to_string())
        }
        Some("host-verified") => {
            Some("Billing host verified. Your pay pages and creation links use it now.".to_string())
        }
        _ => None,
    };
    match page(&state, &signed, flash).await {
        Ok(p) => render(StatusCode::OK, &p),
        Err(resp) => resp,
    }
}

/// `POST /dashboard/settings`: `action=preview` shows the pay page with the typed branding
/// without saving; `action=save` saves every field or, if any is invalid, none.
pub async fn save_settings(
    State(state): State<AppState>,
    signed: Can<act::ManageSettings>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let values = Values::from_form(&form);
    let mut p = match page(&state, &signed, None).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    p.preview = preview(signed.partner(), &values, p.logo.as_ref());
    if field(&form, "action") == "preview" {
        p.values = values;
        p.notice =
            Some("This is a preview; nothing is saved until you press Save settings.".into());
        return render(StatusCode::OK, &p);
    }
    match settings::update_partner(&state, signed.partner(), &signed.caller, values.input()).await {
        Ok(_) => Redirect::to("/dashboard/settings?done=saved").into_response(),
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) => {
            p.errors = field_errors(&e);
            redirect_host_errors(&mut p.errors, &values.redirect_hosts());
            if p.errors.is_empty() {
                p.notice = Some(super::sentence(e.message()));
            } else {
                p.notice =
                    Some("Nothing was saved. Please correct the fields marked below.".into());
            }
            p.values = values;
            render(e.status(), &p)
        }
    }
}

/// `POST /dashboard/settings/billing-host/verify`: looks the TXT record up ("Verify now"); a
/// record missing or wrong, or a failed lookup, is said on the page and changes nothing.
pub async fn verify_billing_host(
    State(state): State<AppState>,
    signed: Can<act::ManageSettings>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    match settings::verify_billing_host(&state, signed.partner(), &signed.caller).await {
        Ok(_) => Redirect::to("/dashboard/settings?done=host-verified").into_response(),
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) => {
            let mut p = match page(&state, &signed, None).await {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            p.notice = Some(format!(
                "The billing host is not verified yet: {}",
                super::sentence(e.message())
            ));
            render(e.status(), &p)
        }
    }
}

/// `POST /dashboard/settings/api-keys`: makes a key and shows it this once.
pub async fn create_api_key(
    State(state): State<AppState>,
    signed: Can<act::ManageApiKeys>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let label = field(&form, "label");
    // One checkbox per scope (`scope_read`, …); an owner may grant any of them.
    let scopes: Scopes = Scope::ALL
        .into_iter()
        .filter(|scope| form.contains_key(&format!("scope_{scope}")))
        .collect();
    match settings::create_api_key(&state, signed.partner(), &signed.caller, &label, scopes).await {
        Ok((_, key)) => {
            let mut p = match page(&state, &signed, None).await {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            p.nav.flash = Some("API key created. Copy it now: it will not be shown again.".into());
            p.new_key = Some(key.expose().clone());
            // `render` marks every page no-store, so the key lingers in no cache.
            render(StatusCode::CREATED, &p)
        }
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) => {
            let mut p = match page(&state, &signed, None).await {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            p.key_label = label;
            p.scope_choices = scope_choices(scopes);
            for fe in e.field_errors() {
                let message = Some(super::sentence(&fe.message));
                match fe.field.as_str() {
                    "scopes" => p.scopes_error = message,
                    _ => p.key_error = message,
                }
            }
            if p.key_error.is_none() && p.scopes_error.is_none() {
                p.key_error = Some(super::sentence(e.message()));
            }
            render(e.status(), &p)
        }
    }
}

/// `POST /dashboard/settings/api-keys/{id}/revoke`, from its confirmation page (`confirm=yes`).
pub async fn revoke_api_key(
    State(state): State<AppState>,
    signed: Can<act::ManageApiKeys>,
    params: PageParams,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let id = params.id();
    let confirm_at = format!("/dashboard/settings/api-keys/{id}/revoke");
    if let Some(resp) = super::confirm::unconfirmed(&form, &confirm_at) {
        return resp;
    }
    match settings::revoke_api_key(&state, signed.partner(), &signed.caller, id).await {
        Ok(_) => Redirect::to("/dashboard/settings?done=revoked").into_response(),
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(_) => super::not_found(signed.partner(), "API key"),
    }
}

/// `POST /dashboard/settings/users`: adds a team user with a password.
pub async fn add_user(
    State(state): State<AppState>,
    signed: Can<act::ManageUsers>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let email = field(&form, "email");
    let password = form.get("password").cloned().unwrap_or_default();
    let role = field(&form, "role");
    match settings::add_user(
        &state,
        signed.partner(),
        &signed.caller,
        &email,
        &password,
        Some(&role),
    )
    .await
    {
        Ok(_) => Redirect::to("/dashboard/settings?done=user-added").into_response(),
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) => {
            let mut p = match page(&state, &signed, None).await {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            p.user_email = email;
            p.user_errors = field_errors(&e);
            if p.user_errors.is_empty() {
                p.user_errors
                    .insert("email".into(), super::sentence(e.message()));
            }
            render(e.status(), &p)
        }
    }
}

/// `POST /dashboard/settings/users/{id}/role`: gives a user another role; never demotes the
/// last owner.
pub async fn change_user_role(
    State(state): State<AppState>,
    signed: Can<act::ManageUsers>,
    params: PageParams,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let role = field(&form, "role");
    match settings::set_user_role(&state, signed.partner(), &signed.caller, params.id(), &role)
        .await
    {
        Ok(_) => Redirect::to("/dashboard/settings?done=role-changed").into_response(),
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) if e.status() == StatusCode::NOT_FOUND => super::not_found(signed.partner(), "user"),
        Err(e) => {
            let mut p = match page(&state, &signed, None).await {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            p.notice = Some(super::sentence(
                e.field_errors()
                    .first()
                    .map(|fe| fe.message.as_str())
                    .unwrap_or(e.message()),
            ));
            render(e.status(), &p)
        }
    }
}

/// `POST /dashboard/settings/users/{id}/remove`, from its confirmation page (`confirm=yes`):
/// never the last owner.
pub async fn remove_user(
    State(state): State<AppState>,
    signed: Can<act::ManageUsers>,
    params: PageParams,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(resp) = signed.refuse_form(&state, &form) {
        return resp;
    }
    let id = params.id();
    let confirm_at = format!("/dashboard/settings/users/{id}/remove");
    if let Some(resp) = super::confirm::unconfirmed(&form, &confirm_at) {
        return resp;
    }
    match settings::remove_user(&state, signed.partner(), &signed.caller, id).await {
        Ok(_) => Redirect::to("/dashboard/settings?done=user-removed").into_response(),
        Err(e) if e.is_internal() => internal_error_page(e.into_cause()),
        Err(e) if e.status() == StatusCode::NOT_FOUND => super::not_found(signed.partner(), "user"),
        Err(e) => {
            let mut p = match page(&state, &signed, None).await {
                Ok(p) => p,
                Err(resp) => return resp,
            };
            p.notice = Some(super::sentence(e.message()));
            render(e.status(), &p)
        }
    }
}

/// `GET /static/brand-preview.css?color=%23RRGGBB`: a color for the settings preview only.
pub async fn brand_preview_css(Query(query): Query<HashMap<String, String>>) -> Response {
    match query
        .get("color")
        .and_then(|c| BrandColor::parse(c.trim()).ok())
    {
        Some(color) => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            crate::pages::brand_css(".preview", &color),
        )
            .into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
            "",
        )
            .into_response(),
    }
}
