//! Hosted pages (HTML): the creation link, the pay page and its states, the receipt (`pay/`),
//! the partner's uploaded logo (`logo.rs`) and the dashboard. A partner is found by the
//! request's host (its billing host) or by the `/p/{slug}` path prefix.

mod assets;
pub mod dashboard;
mod landing;
mod logo;
mod pay;

use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kassa_core::partner::Slug;
use kassa_store::{LogoRef, Partner};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(dashboard::routes())
        .route("/", get(landing::page))
        .merge(assets::routes())
        .route("/static/brand/{slug}", get(brand_stylesheet))
        .route("/static/logo/{slug}/{hash}", get(logo::serve))
        .route("/payment-request", get(pay::creation_link))
        .route("/p/{slug}/payment-request", get(pay::creation_link))
        .route("/pay/{id}", get(pay::pay_page).post(pay::pay_submit))
        .route(
            "/p/{slug}/pay/{id}",
            get(pay::pay_page).post(pay::pay_submit),
        )
        .route("/dashboard", get(dashboard::home))
        .route("/dashboard/transactions", get(dashboard::transactions))
        .route(
            "/dashboard/transactions.csv",
            get(dashboard::transactions_csv),
        )
        .route("/dashboard/transactions/{id}", get(dashboard::transaction))
        .route(
            "/dashboard/transactions/{id}/refund",
            get(dashboard::refund_form).post(dashboard::refund_submit),
        )
        .route(
            "/dashboard/payment-requests",
            get(dashboard::payment_requests).post(dashboard::create_payment_request),
        )
        .route(
            "/dashboard/payment-requests/new",
            get(dashboard::new_payment_request),
        )
        .route(
            "/dashboard/payment-requests/link",
            get(dashboard::creation_link_builder),
        )
        .route(
            "/dashboard/payment-requests/{id}",
            get(dashboard::payment_request),
        )
        .route(
            "/dashboard/payment-requests/{id}/cancel",
            post(dashboard::cancel_payment_request),
        )
        .route(
            "/dashboard/payment-requests/{id}/send",
            post(dashboard::emails::send_link),
        )
        .route(
            "/dashboard/transactions/{id}/receipt",
            post(dashboard::emails::send_receipt),
        )
        .route("/dashboard/audit", get(dashboard::audit_page))
        .route("/dashboard/audit.csv", get(dashboard::audit_csv))
        .route("/dashboard/payouts", get(dashboard::payouts))
        .route("/dashboard/payouts/{id}", get(dashboard::payout))
        .route(
            "/dashboard/settings",
            get(dashboard::settings_page).post(dashboard::save_settings),
        )
        .route("/dashboard/settings/logo", post(dashboard::upload_logo))
        .route(
            "/dashboard/settings/logo/remove",
            post(dashboard::remove_logo),
        )
        .route(
            "/dashboard/settings/billing-host/verify",
            post(dashboard::verify_billing_host),
        )
        .route(
            "/dashboard/settings/api-keys",
            post(dashboard::create_api_key),
        )
        .route(
            "/dashboard/settings/api-keys/{id}/revoke",
            post(dashboard::revoke_api_key),
        )
        .route("/dashboard/settings/users", post(dashboard::add_user))
        .route(
            "/dashboard/settings/users/{id}/remove",
            post(dashboard::remove_user),
        )
        .route(
            "/dashboard/webhooks",
            get(dashboard::webhooks_page).post(dashboard::create_webhook),
        )
        .route("/dashboard/webhooks/{id}", get(dashboard::webhook_page))
        .route(
            "/dashboard/webhooks/{id}/{action}",
            post(dashboard::webhook_action),
        )
        .route(
            "/dashboard/webhooks/deliveries/{id}/retry",
            post(dashboard::retry_delivery),
        )
        .route(
            "/static/brand-preview.css",
            get(dashboard::brand_preview_css),
        )
        .route(
            "/dashboard/login",
            get(dashboard::login_page).post(dashboard::login),
        )
        .route(
            "/dashboard/login/code",
            get(dashboard::login_code_page).post(dashboard::login_code),
        )
        .route(
            "/dashboard/login/choose",
            get(dashboard::login_choose_page).post(dashboard::login_choose),
        )
        .route("/dashboard/logout", post(dashboard::logout))
        .route("/dashboard/security", get(dashboard::security_page))
        .route(
            "/dashboard/security/two-factor/setup",
            post(dashboard::two_factor_setup),
        )
        .route(
            "/dashboard/security/two-factor/confirm",
            post(dashboard::two_factor_confirm),
        )
        .route(
            "/dashboard/security/two-factor/disable",
            post(dashboard::two_factor_disable),
        )
        .route(
            "/dashboard/settings/users/{id}/role",
            post(dashboard::change_user_role),
        )
        .route("/pay/{id}/confirmation", get(pay::confirmation))
        .route("/p/{slug}/pay/{id}/confirmation", get(pay::confirmation))
}

/// The partner whose pages are being served, and the path prefix its links live under.
#[derive(Clone)]
pub struct Site {
    pub partner: Partner,
    /// The partner's uploaded logo, if it has one.
    pub logo: Option<LogoRef>,
    /// `""` on the partner's billing host, `/p/{slug}` otherwise.
    pub base: String,
    /// Whether the browser reached us over https (cookies are then `Secure`).
    pub secure: bool,
}

impl FromRequestParts<AppState> for Site {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let PageParams(params) = PageParams::from_request_parts(parts, state).await?;
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(normalize_host)
            .unwrap_or_default();
        let on_billing_host = match host.is_empty() {
            true => None,
            false => state
                .store
                .partner_by_host(&host)
                .await
                .map_err(internal_error_page)?,
        };
        let public_https = state.config.public_base().starts_with("https://");
        let found = match params.get("slug") {
            // A partner's billing host serves that partner's pages only.
            Some(_) if on_billing_host.is_some() => None,
            Some(slug) => match Slug::parse(slug) {
                Ok(slug) => state
                    .store
                    .partner_by_slug(slug.as_str())
                    .await
                    .map_err(internal_error_page)?
                    .map(|p| (p, format!("/p/{slug}"), public_https)),
                Err(_) => None,
            },
            None => on_billing_host.map(|p| (p, String::new(), true)),
        };
        let Some((partner, base, secure)) = found else {
            return Err(not_found_page());
        };
        let logo = state
            .store
            .logo_ref(&partner.id)
            .await
            .map_err(internal_error_page)?;
        Ok(Site {
            partner,
            logo,
            base,
            secure,
        })
    }
}

/// `Host` as billing hosts are stored: lowercase, without a trailing dot or a default port.
fn normalize_host(raw: &str) -> String {
    let host = raw.trim().to_ascii_lowercase();
    let host = host
        .strip_suffix(":443")
        .or_else(|| host.strip_suffix(":80"))
        .unwrap_or(&host);
    match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || port.is_empty() => {
            format!("{}:{port}", name.trim_end_matches('.'))
        }
        _ => host.trim_end_matches('.').to_string(),
    }
}

/// A page route's path parameters; a path that cannot be read (bad UTF-8) is simply not found.
pub struct PageParams(pub HashMap<String, String>);

impl PageParams {
    /// The `{id}` of the route ("" when it has none).
    pub fn id(&self) -> &str {
        self.0.get("id").map(String::as_str).unwrap_or("")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageParams {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| PageParams(p))
            .map_err(|_| not_found_page())
    }
}

impl Site {
    /// The partner's brand on its own pages: its colour, and its logo when it uploaded one.
    pub fn brand(&self) -> Brand {
        let mut brand = Brand::of(&self.partner).with_logo(&self.partner, self.logo.as_ref());
        brand.contact = contact_links(&self.partner.contact);
        brand
    }
}

/// What the layout shows of the partner.
pub struct Brand {
    pub name: String,
    /// The uploaded logo (never a hot-linked URL); without one the name shows as text.
    pub logo: Option<LogoImage>,
    pub css_url: Option<String>,
    /// The partner's contact and policy links for the footer of its payer pages (docs/api.md
    /// §11): only those it set.
    pub contact: Vec<ContactLink>,
}

/// One link of a payer page's footer.
pub struct ContactLink {
    pub href: String,
    pub label: String,
}

/// The links a partner's contact settings give, in the footer's order: email, phone, support
/// page, terms, privacy. The URLs are `https` (`PolicyUrl`), the phone digits only.
fn contact_links(contact: &kassa_core::contact::Contact) -> Vec<ContactLink> {
    let mut links = Vec::new();
    let mut add = |href: String, label: &str| {
        links.push(ContactLink {
            href,
            label: label.to_string(),
        })
    };
    if let Some(email) = &contact.support_email {
        add(format!("mailto:{}", email.as_str()), email.as_str());
    }
    if let Some(phone) = &contact.support_phone {
        add(phone.tel_href(), phone.as_str());
    }
    for (url, label) in [
        (&contact.support_url, "Support"),
        (&contact.terms_url, "Terms"),
        (&contact.privacy_url, "Privacy"),
    ] {
        if let Some(url) = url {
            add(url.as_str().to_string(), label);
        }
    }
    links
}

/// An `<img>` of an uploaded logo: its Kassa URL and the size it is drawn at.
pub struct LogoImage {
    pub url: String,
    pub width: u32,
    pub height: u32,
}

/// The box a logo is drawn in, in CSS pixels.
const LOGO_BOX: (u32, u32) = (220, 48);

impl LogoImage {
    pub fn of(partner: &Partner, logo: &LogoRef) -> LogoImage {
        let (width, height) =
            kassa_core::logo::fit(logo.width, logo.height, LOGO_BOX.0, LOGO_BOX.1);
        LogoImage {
            url: logo_path(partner, logo),
            width,
            height,
        }
    }
}

/// Where Kassa serves a partner's logo, on its own host and on the partner's billing host:
/// named by its hash, so it can be cached for good.
pub fn logo_path(partner: &Partner, logo: &LogoRef) -> String {
    format!("/static/logo/{}/{}", partner.slug, logo.sha256)
}

impl Brand {
    /// The partner's name and colour (pages that have its logo add it with [`Brand::with_logo`]).
    pub fn of(partner: &Partner) -> Brand {
        Brand {
            name: partner.name.clone(),
            logo: None,
            contact: Vec::new(),
            // Versioned by the color, so a new color shows at once and the old one can be cached.
            css_url: Some(format!(
                "/static/brand/{}?v={}",
                partner.slug,
                partner.brand_color.as_str().trim_start_matches('#')
            )),
        }
    }

    pub fn with_logo(mut self, partner: &Partner, logo: Option<&LogoRef>) -> Brand {
        self.logo = logo.map(|l| LogoImage::of(partner, l));
        self
    }

    pub fn kassa() -> Brand {
        Brand {
            name: "Kassa".into(),
            logo: None,
            contact: Vec::new(),
            css_url: None,
        }
    }
}

/// A titled message page: payment states without a form, and every error.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub brand: Brand,
    pub title: String,
    pub heading: String,
    pub body: String,
    pub link: Option<(String, String)>,
}

/// Renders a template with a status, never caching pages that carry payer state.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut resp = (status, Html(html)).into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => internal_error_page(e),
    }
}

pub fn message(
    status: StatusCode,
    brand: Brand,
    title: &str,
    heading: &str,
    body: &str,
) -> Response {
    render(
        status,
        &MessagePage {
            brand,
            title: title.into(),
            heading: heading.into(),
            body: body.into(),
            link: None,
        },
    )
}

pub fn method_not_allowed_page() -> Response {
    message(
        StatusCode::METHOD_NOT_ALLOWED,
        Brand::kassa(),
        "Not allowed",
        "This page cannot be used that way",
        "Please open the payment link you were sent in your browser.",
    )
}

pub fn not_found_page() -> Response {
    message(
        StatusCode::NOT_FOUND,
        Brand::kassa(),
        "Not found",
        "Page not found",
        "This payment page does not exist. Please check the link you were sent.",
    )
}

/// The plain 429 page of a limit (docs/api.md §8), with `Retry-After`.
pub fn rate_limited_page(retry_after_secs: u64, heading: &str, body: &str) -> Response {
    let mut resp = message(
        StatusCode::TOO_MANY_REQUESTS,
        Brand::kassa(),
        "Too many attempts",
        heading,
        body,
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, retry_after_secs.max(1).into());
    resp
}

/// A plain page for a server fault; the cause (with its chain) goes to the log only.
pub fn internal_error_page(cause: impl Into<anyhow::Error>) -> Response {
    tracing::error!(error = format!("{:#}", cause.into()), "page failed");
    let html = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title>\
                <link rel=\"stylesheet\" href=\"/static/kassa.css\"></head><body><main><h1>Something went wrong</h1>\
                <p>We could not complete this request. Please try again in a moment.</p></main></body></html>";
    (StatusCode::INTERNAL_SERVER_ERROR, Html(html)).into_response()
}

/// The partner's color as a stylesheet, so no inline style is needed under the CSP. Its URL
/// carries the colour (`?v=`), so it is cached for a day, with an `ETag` of the rules.
async fn brand_stylesheet(
    State(state): State<AppState>,
    PageParams(params): PageParams,
    headers: HeaderMap,
) -> Response {
    let Some(slug) = params.get("slug").and_then(|s| Slug::parse(s).ok()) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/css")],
            "",
        )
            .into_response();
    };
    match state.store.partner_by_slug(slug.as_str()).await {
        Ok(Some(p)) => {
            let css = brand_css(":root", &p.brand_color);
            assets::conditional(
                &headers,
                &assets::etag_of(css.as_bytes()),
                HeaderValue::from_static("public, max-age=86400"),
                HeaderValue::from_static("text/css; charset=utf-8"),
                || css.into_response(),
            )
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/css")],
            "",
        )
            .into_response(),
        Err(e) => internal_error_page(e),
    }
}

/// The custom properties a brand colour sets on `selector`: the colour, the text drawn on it and
/// its shade for text on white, chosen for contrast (`kassa_core::contrast`).
pub fn brand_css(selector: &str, color: &kassa_core::partner::BrandColor) -> String {
    let palette = kassa_core::contrast::Palette::of(color);
    format!(
        "{selector} {{ --brand: {}; --on-brand: {}; --brand-ink: {}; }}\n",
        palette.brand, palette.on_brand, palette.ink
    )
}

/// The value of one cookie from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::normalize_host;

    #[test]
    fn hosts_compare_without_default_ports_case_or_trailing_dot() {
        assert_eq!(normalize_host("Pay.Acme.Example"), "pay.acme.example");
        assert_eq!(normalize_host("pay.acme.example:443"), "pay.acme.example");
        assert_eq!(normalize_host("pay.acme.example.:80"), "pay.acme.example");
        assert_eq!(normalize_host("pay.acme.example."), "pay.acme.example");
        assert_eq!(normalize_host("localhost:8081"), "localhost:8081");
    }
}
