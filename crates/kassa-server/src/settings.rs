//! What a partner manages itself — its name, branding, billing host and redirect hosts, its API
//! keys and its dashboard users — shared by the JSON API (`api/settings.rs`) and the dashboard's Settings
//! pages. Inputs are plain strings, as a form or a JSON body gives them; failures are
//! [`ApiError`]s whose field errors carry the API's camelCase field names.

use kassa_core::audit::Caller;
use kassa_core::billing_host::{self, TxtCheck};
use kassa_core::contact::{Contact, PolicyUrl, SupportPhone};
use kassa_core::email::Email;
use kassa_core::error::FieldErrors;
use kassa_core::error::ValidationError;
use kassa_core::id::{ApiKeyId, UserId};
use kassa_core::partner::{
    BillingHost, BrandColor, LogoUrl, RedirectHost, RedirectHosts, RedirectHostsError,
    MAX_REDIRECT_HOSTS,
};
use kassa_core::role::Role;
use kassa_core::scope::Scopes;
use kassa_core::secret::Secret;
use kassa_core::timezone::Timezone;
use kassa_core::url::RedirectUrl;
use kassa_store::{
    ApiKeyRecord, DeleteUserOutcome, Partner, PartnerSettings, SetRoleOutcome, StoreError, User,
};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use crate::admin::{self, AdminError};
use crate::error::ApiError;
use crate::state::AppState;

/// A change to the partner's settings: an absent field stays as it is; `null` (or an empty
/// string) clears an optional one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = PartnerSettingsInput)]
pub struct SettingsInput {
    /// Shown to payers: 1 to 100 characters, no control characters.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Option<String>, nullable = false, min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// The host your pay pages and creation links are served on, e.g. `pay.acme.example`
    /// (optionally with a `:port`); unique across partners.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 253)]
    pub billing_host: Option<Option<String>>,
    /// `#RRGGBB`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Option<String>, nullable = false, pattern = "^#[0-9A-Fa-f]{6}$")]
    pub brand_color: Option<String>,
    /// An absolute `https` URL of your logo.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "uri", max_length = 2048)]
    pub logo_url: Option<Option<String>>,
    /// Where payers return to after paying when a request names no `redirectUrl`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "uri", max_length = 2048)]
    pub default_redirect_url: Option<Option<String>>,
    /// Whether creation links must carry a valid `signature`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub require_signed_links: Option<bool>,
    /// The hosts an unsigned creation link's `redirectUrl` may lead to, e.g.
    /// `["shop.acme.example"]`: host names only (no scheme, port or path), at most 50. A host
    /// matches exactly, in any case; it does not cover its subdomains. The host of
    /// `defaultRedirectUrl` is always allowed. The list replaces the one stored; `null` or `[]`
    /// clears it.
    #[serde(default, deserialize_with = "nullable_list")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    pub allowed_redirect_hosts: Option<Option<Vec<String>>>,
    /// Whether the partner's owners must sign in to the dashboard with a second factor (a TOTP
    /// code); an owner without one is sent to set it up after their password.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub require_two_factor: Option<bool>,
    /// Shown to payers on the pay page, the receipt and in emails (docs/api.md §11).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "email", max_length = 254)]
    pub support_email: Option<Option<String>>,
    /// E.g. `+1 (415) 555-0100`: 5 to 20 digits with spaces, `+`, `-`, `.`, `(`, `)`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 30)]
    pub support_phone: Option<Option<String>>,
    /// Your help page: an absolute `https` URL.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "uri", max_length = 2048)]
    pub support_url: Option<Option<String>>,
    /// Your terms: an absolute `https` URL.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "uri", max_length = 2048)]
    pub terms_url: Option<Option<String>>,
    /// Your privacy policy: an absolute `https` URL.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "uri", max_length = 2048)]
    pub privacy_url: Option<Option<String>>,
    /// Where Kassa emails you when a payment completes, a bank debit is returned or a webhook
    /// endpoint is disabled.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = "email", max_length = 254)]
    pub notification_email: Option<Option<String>>,
    /// An IANA time zone name such as `America/New_York`: every time in the dashboard, CSV
    /// files, receipts and emails is shown in it.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Option<String>, nullable = false, max_length = 64)]
    pub timezone: Option<String>,
}

impl SettingsInput {
    /// The security settings this change touches, by their API names: changing them needs the
    /// `admin` scope (docs/api.md §9), the rest `settings`.
    pub fn security_fields(&self) -> Vec<&'static str> {
        [
            ("requireSignedLinks", self.require_signed_links.is_some()),
            ("billingHost", self.billing_host.is_some()),
            (
                "allowedRedirectHosts",
                self.allowed_redirect_hosts.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect()
    }
}

/// A field that may be left out but not sent as `null`.
fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Tells a field sent as `null` (Some(None)) from one left out (None, via `default`).
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Tells a list sent as `null` (Some(None)) from one left out (None, via `default`).
fn nullable_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Vec<String>>>, D::Error> {
    Option::<Vec<String>>::deserialize(d).map(Some)
}

/// The parsed change: None keeps a setting, Some(None) clears an optional one.
struct SettingsChange {
    name: Option<String>,
    billing_host: Option<Option<BillingHost>>,
    brand_color: Option<BrandColor>,
    logo_url: Option<Option<LogoUrl>>,
    default_redirect_url: Option<Option<RedirectUrl>>,
    require_signed_links: Option<bool>,
    allowed_redirect_hosts: Option<RedirectHosts>,
    require_two_factor: Option<bool>,
    support_email: Option<Option<Email>>,
    support_phone: Option<Option<SupportPhone>>,
    support_url: Option<Option<PolicyUrl>>,
    terms_url: Option<Option<PolicyUrl>>,
    privacy_url: Option<Option<PolicyUrl>>,
    notification_email: Option<Option<Email>>,
    timezone: Option<Timezone>,
}

/// A clearable field: left out keeps it, `null` or blank clears it, anything else is parsed
/// (trimmed).
fn clearable<T, E: ValidationError>(
    errors: &mut FieldErrors,
    field: &str,
    value: Option<Option<String>>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    let value = value?;
    match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Some(None),
        Some(v) => errors.take(field, parse(v)).map(Some),
    }
}

impl SettingsInput {
    /// Checks every field at once.
    fn validate(self, public_host: &str) -> Result<SettingsChange, ApiError> {
        let mut errors = FieldErrors::new();
        let name = self.name.and_then(|n| admin::partner_name(&mut errors, &n));
        let billing_host = clearable(
            &mut errors,
            "billingHost",
            self.billing_host,
            BillingHost::parse,
        );
        // Kassa's own host serves every partner's /p/{slug} pages, and the names under it are
        // the operator's; a partner claiming one would take them over.
        if let Some(Some(host)) = &billing_host {
            if billing_host::reserved_for_kassa(host, public_host) {
                errors.add(
                    "billingHost",
                    "reserved_host",
                    "is Kassa's own host or a name under it; use a host of yours",
                );
            }
        }
        let brand_color = self
            .brand_color
            .and_then(|c| errors.take("brandColor", BrandColor::parse(c.trim())));
        let logo_url = clearable(&mut errors, "logoUrl", self.logo_url, LogoUrl::parse);
        let default_redirect_url = clearable(
            &mut errors,
            "defaultRedirectUrl",
            self.default_redirect_url,
            RedirectUrl::parse,
        );
        let allowed_redirect_hosts = self
            .allowed_redirect_hosts
            .map(|list| redirect_hosts(&mut errors, list.unwrap_or_default()));
        let support_email = clearable(
            &mut errors,
            "supportEmail",
            self.support_email,
            Email::parse,
        );
        let support_phone = clearable(
            &mut errors,
            "supportPhone",
            self.support_phone,
            SupportPhone::parse,
        );
        let support_url = clearable(
            &mut errors,
            "supportUrl",
            self.support_url,
            PolicyUrl::parse,
        );
        let terms_url = clearable(&mut errors, "termsUrl", self.terms_url, PolicyUrl::parse);
        let privacy_url = clearable(
            &mut errors,
            "privacyUrl",
            self.privacy_url,
            PolicyUrl::parse,
        );
        let notification_email = clearable(
            &mut errors,
            "notificationEmail",
            self.notification_email,
            Email::parse,
        );
        let timezone = self
            .timezone
            .and_then(|tz| errors.take("timezone", Timezone::parse(&tz)));
        errors.finish().map_err(ApiError::validation)?;
        Ok(SettingsChange {
            name,
            billing_host,
            brand_color,
            logo_url,
            default_redirect_url,
            require_signed_links: self.require_signed_links,
            allowed_redirect_hosts: allowed_redirect_hosts.map(|h| h.expect("validated")),
            require_two_factor: self.require_two_factor,
            support_email,
            support_phone,
            support_url,
            terms_url,
            privacy_url,
            notification_email,
            timezone,
        })
    }
}

/// `allowedRedirectHosts`: each entry trimmed and checked (an error names its index), then the
/// list as a whole.
fn redirect_hosts(errors: &mut FieldErrors, list: Vec<String>) -> Option<RedirectHosts> {
    // Refused whole before any entry is read, so a huge list is never a huge answer.
    if list.len() > MAX_REDIRECT_HOSTS {
        return errors.take("allowedRedirectHosts", Err(RedirectHostsError::TooMany));
    }
    let hosts: Vec<Option<RedirectHost>> = list
        .iter()
        .enumerate()
        .map(|(i, h)| {
            errors.take(
                &format!("allowedRedirectHosts[{i}]"),
                RedirectHost::parse(h.trim()),
            )
        })
        .collect();
    let hosts: Option<Vec<RedirectHost>> = hosts.into_iter().collect();
    errors.take("allowedRedirectHosts", RedirectHosts::new(hosts?))
}

impl SettingsChange {
    fn apply_to(self, current: &Partner) -> PartnerSettings {
        PartnerSettings {
            name: self.name.unwrap_or_else(|| current.name.clone()),
            billing_host: self
                .billing_host
                .unwrap_or_else(|| current.billing_host.clone()),
            brand_color: self
                .brand_color
                .unwrap_or_else(|| current.brand_color.clone()),
            logo_url: self.logo_url.unwrap_or_else(|| current.logo_url.clone()),
            default_redirect_url: self
                .default_redirect_url
                .unwrap_or_else(|| current.default_redirect_url.clone()),
            require_signed_links: self
                .require_signed_links
                .unwrap_or(current.require_signed_links),
            allowed_redirect_hosts: self
                .allowed_redirect_hosts
                .unwrap_or_else(|| current.allowed_redirect_hosts.clone()),
            require_two_factor: self
                .require_two_factor
                .unwrap_or(current.require_two_factor),
            contact: Contact {
                support_email: self
                    .support_email
                    .unwrap_or_else(|| current.contact.support_email.clone()),
                support_phone: self
                    .support_phone
                    .unwrap_or_else(|| current.contact.support_phone.clone()),
                support_url: self
                    .support_url
                    .unwrap_or_else(|| current.contact.support_url.clone()),
                terms_url: self
                    .terms_url
                    .unwrap_or_else(|| current.contact.terms_url.clone()),
                privacy_url: self
                    .privacy_url
                    .unwrap_or_else(|| current.contact.privacy_url.clone()),
            },
            notification_email: self
                .notification_email
                .unwrap_or_else(|| current.notification_email.clone()),
            timezone: self.timezone.unwrap_or_else(|| current.timezone.clone()),
        }
    }
}

/// The host of the public URL as a request for it names it: lowercase, without a default port.
pub(crate) fn public_host(public_base: &str) -> String {
    let base = public_base.to_ascii_lowercase();
    let (rest, default_port) = match base.split_once("://") {
        Some(("https", rest)) => (rest, ":443"),
        Some((_, rest)) => (rest, ":80"),
        None => (base.as_str(), ":80"),
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    host.strip_suffix(default_port).unwrap_or(host).to_string()
}

/// For the operator's `kassa partner create --billing-host`: refuses Kassa's own host and the
/// names under it, as the API does (the rest of the host is checked when the partner is made).
pub fn refuse_kassa_host(public_base: &str, host: &str) -> anyhow::Result<()> {
    if let Ok(host) = BillingHost::parse(host.trim()) {
        if billing_host::reserved_for_kassa(&host, &public_host(public_base)) {
            anyhow::bail!("billingHost: {host} is Kassa's own host or a name under it");
        }
    }
    Ok(())
}

/// Changes the partner's settings; every invalid field is reported at once, and a billing host
/// another partner has is a 409 `billing_host_taken`. Nothing is changed when it fails.
pub async fn update_partner(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    input: SettingsInput,
) -> Result<Partner, ApiError> {
    let change = input.validate(&public_host(&state.config.public_base()))?;
    // Merged into what is stored now rather than into the caller's copy, which may be older.
    let current = state
        .store
        .partner_by_id(&partner.id)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))?;
    let settings = change.apply_to(&current);
    let updated = state
        .store
        .update_partner_settings(&partner.id, &settings, by)
        .await
        .map_err(|e| match e {
            StoreError::Taken("billing host") => ApiError::conflict_on(
                "billingHost",
                "billing_host_taken",
                "this billing host is used, or was used, by another partner",
            ),
            e => ApiError::from(e),
        })?;
    updated.ok_or_else(|| ApiError::not_found("partner"))
}

/// Looks the partner's billing host's TXT record up and, when it carries the token, marks the
/// host verified. A missing or wrong record is a 422 `billing_host_not_verified` naming what was
/// looked up and what was found; a failed lookup is a 503 `dns_lookup_failed`. Neither changes
/// anything. A verified host answers the partner as it is.
pub async fn verify_billing_host(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
) -> Result<Partner, ApiError> {
    let current = state
        .store
        .partner_by_id(&partner.id)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))?;
    let (Some(host), Some(verification)) =
        (&current.billing_host, &current.billing_host_verification)
    else {
        return Err(ApiError::invalid_state(
            "no_billing_host",
            "there is no billing host to verify; set billingHost first",
        ));
    };
    if verification.is_verified() {
        return Ok(current);
    }
    let name = billing_host::record_name(host);
    let expected = verification.record_value();
    let records = crate::dns::lookup_txt(&state.config.dns, &name)
        .await
        .map_err(|e| {
            ApiError::unavailable(
                "dns_lookup_failed",
                format!("looking up the TXT record at {name} failed ({e}); try again later"),
            )
        })?;
    match billing_host::check_txt(&records, &expected) {
        TxtCheck::Found => {}
        TxtCheck::Missing => {
            return Err(ApiError::invalid_state(
                "billing_host_not_verified",
                format!("found no TXT record at {name}; create one with the value {expected}"),
            ))
        }
        TxtCheck::Mismatch(found) => {
            return Err(ApiError::invalid_state(
                "billing_host_not_verified",
                format!(
                    "the TXT records at {name} are {}, not {expected}",
                    shown_records(&found)
                ),
            ))
        }
    }
    state
        .store
        .verify_billing_host(&current.id, host, Some(&verification.token), by)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_state_conflict(
                "billing_host_changed",
                "the billing host changed while it was being verified; verify the new one",
            )
        })
}

/// TXT values found, for an error message: at most three, each quoted and cut short.
fn shown_records(found: &[String]) -> String {
    let mut shown: Vec<String> = found
        .iter()
        .take(3)
        .map(|r| {
            let r: String = r.chars().filter(|c| !c.is_control()).take(80).collect();
            format!("{r:?}")
        })
        .collect();
    if found.len() > 3 {
        shown.push(format!("and {} more", found.len() - 3));
    }
    shown.join(", ")
}

/// The partner's API keys, revoked ones too, newest first.
pub async fn api_keys(state: &AppState, partner: &Partner) -> Result<Vec<ApiKeyRecord>, ApiError> {
    Ok(state.store.list_api_keys(&partner.id).await?)
}

/// Makes an API key labelled `label` (required, 1 to 100 characters) with `scopes`; the key
/// itself is returned this once and only its hash is kept.
pub async fn create_api_key(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    label: &str,
    scopes: Scopes,
) -> Result<(ApiKeyRecord, Secret<String>), ApiError> {
    admin::create_api_key(state.store.as_ref(), &partner.id, label, scopes, by)
        .await
        .map_err(admin_error)
}

/// Revokes one of the partner's keys (`key_…`) and returns it; revoking a revoked key changes
/// nothing and returns it too. An unknown id, or another partner's, is a 404.
pub async fn revoke_api_key(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    id: &str,
) -> Result<ApiKeyRecord, ApiError> {
    let id = ApiKeyId::parse(id).map_err(|_| ApiError::not_found("API key"))?;
    state
        .store
        .revoke_api_key(&partner.id, &id, by.at, by)
        .await?;
    state
        .store
        .api_key(&partner.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))
}

/// The partner's dashboard users, newest first.
pub async fn users(state: &AppState, partner: &Partner) -> Result<Vec<User>, ApiError> {
    let mut users = state.store.list_users(&partner.id).await?;
    users.reverse();
    Ok(users)
}

/// Adds a dashboard user with a role (`owner`, `staff` or `viewer`; empty: `staff`); an email
/// that already has a user of this partner is a 409 `email_taken` (another partner's users are
/// neither counted nor revealed); an invalid email or role, or a password under 12 characters,
/// are field errors.
pub async fn add_user(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    email: &str,
    password: &str,
    role: Option<&str>,
) -> Result<User, ApiError> {
    let role = match role.map(str::trim).filter(|r| !r.is_empty()) {
        None => Role::Staff,
        Some(r) => Role::parse(r).map_err(role_error)?,
    };
    // Hashing the password takes one of the `limits.passwordHashes` slots, held by a task of its
    // own until the hash is done, even if the caller goes away meanwhile.
    let slot = state.limits.password_hash_slot().await.ok_or_else(|| {
        ApiError::rate_limited(
            5,
            "Kassa is busy hashing other passwords; try again shortly",
        )
    })?;
    let store = state.store.clone();
    let (partner, email, password) = (partner.id.clone(), email.to_string(), password.to_string());
    let by = by.clone();
    tokio::spawn(async move {
        let created =
            admin::create_user(store.as_ref(), &partner, &email, &password, role, &by).await;
        drop(slot);
        created
    })
    .await
    .map_err(|e| ApiError::internal(anyhow::anyhow!("creating a user failed: {e}")))?
    .map_err(admin_error)
}

/// Removes one of the partner's users (`usr_…`) and signs out their sessions. An unknown id, or
/// another partner's, is a 404; the partner's last enabled owner is kept (422 `last_owner`), so
/// a partner never locks itself out of its dashboard.
pub async fn remove_user(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    id: &str,
) -> Result<User, ApiError> {
    let id = UserId::parse(id).map_err(|_| ApiError::not_found("user"))?;
    match state.store.delete_user(&partner.id, &id, by).await? {
        DeleteUserOutcome::Deleted(user) => Ok(user),
        DeleteUserOutcome::NotFound => Err(ApiError::not_found("user")),
        DeleteUserOutcome::LastOwner => Err(last_owner()),
    }
}

fn role_error(e: kassa_core::role::RoleError) -> ApiError {
    ApiError::validation(vec![kassa_core::error::FieldError::new(
        "role",
        e.code(),
        e.message(),
    )])
}

fn last_owner() -> ApiError {
    ApiError::invalid_state(
        "last_owner",
        "this is the last owner of the account; make another user an owner first",
    )
}

/// Gives one of the partner's users (`usr_…`) another role; the last enabled owner keeps theirs
/// (422 `last_owner`).
pub async fn set_user_role(
    state: &AppState,
    partner: &Partner,
    by: &Caller,
    id: &str,
    role: &str,
) -> Result<User, ApiError> {
    let id = UserId::parse(id).map_err(|_| ApiError::not_found("user"))?;
    let role = Role::parse(role.trim()).map_err(role_error)?;
    match state
        .store
        .set_user_role(&partner.id, &id, role, by)
        .await?
    {
        SetRoleOutcome::Changed(user) => Ok(user),
        SetRoleOutcome::NotFound => Err(ApiError::not_found("user")),
        SetRoleOutcome::LastOwner => Err(last_owner()),
    }
}

fn admin_error(e: AdminError) -> ApiError {
    match e {
        AdminError::Invalid(errors) => ApiError::validation(errors),
        AdminError::Taken("email") => ApiError::conflict_on(
            "email",
            "email_taken",
            "a user with this email already exists",
        ),
        AdminError::Store(e) => ApiError::from(e),
        e => ApiError::internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> SettingsInput {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn absent_keeps_null_and_blank_clear() {
        let change = input(r#"{"logoUrl": null, "defaultRedirectUrl": "  "}"#)
            .validate("kassa.test")
            .unwrap();
        assert!(change.name.is_none());
        assert!(change.billing_host.is_none());
        assert_eq!(change.logo_url, Some(None));
        assert_eq!(change.default_redirect_url, Some(None));
        assert!(change.require_signed_links.is_none());
    }

    #[test]
    fn null_is_refused_where_nothing_can_be_cleared() {
        for field in ["name", "brandColor", "requireSignedLinks"] {
            let r: Result<SettingsInput, _> =
                serde_json::from_str(&format!("{{\"{field}\": null}}"));
            assert!(r.is_err(), "{field}");
        }
    }

    #[test]
    fn every_invalid_field_is_reported() {
        let e = input(
            r#"{"name": " ", "billingHost": "https://x", "brandColor": "red",
                "logoUrl": "http://cdn.example/l.png", "defaultRedirectUrl": "nope"}"#,
        )
        .validate("kassa.test")
        .err()
        .unwrap();
        let fields: Vec<_> = e.field_errors().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "billingHost",
                "brandColor",
                "logoUrl",
                "defaultRedirectUrl"
            ]
        );
    }

    #[test]
    fn allowed_redirect_hosts_are_replaced_cleared_or_kept() {
        let hosts = |json: &str| {
            input(json)
                .validate("kassa.test")
                .unwrap()
                .allowed_redirect_hosts
                .map(|h| h.iter().map(str::to_string).collect::<Vec<_>>())
        };
        assert_eq!(
            hosts(
                r#"{"allowedRedirectHosts": ["Shop.Acme.Example", " www.acme.example ", "shop.acme.example"]}"#
            ),
            Some(vec![
                "shop.acme.example".to_string(),
                "www.acme.example".to_string()
            ])
        );
        assert_eq!(hosts(r#"{"allowedRedirectHosts": []}"#), Some(vec![]));
        assert_eq!(hosts(r#"{"allowedRedirectHosts": null}"#), Some(vec![]));
        assert_eq!(hosts(r#"{"name": "Acme"}"#), None);
    }

    #[test]
    fn each_bad_redirect_host_is_named_by_its_index() {
        let e = input(
            r#"{"allowedRedirectHosts": ["ok.example", "https://x.example", "x.example:443", ""]}"#,
        )
        .validate("kassa.test")
        .err()
        .unwrap();
        let got: Vec<_> = e
            .field_errors()
            .iter()
            .map(|f| (f.field.as_str(), f.code))
            .collect();
        assert_eq!(
            got,
            [
                ("allowedRedirectHosts[1]", "invalid_host"),
                ("allowedRedirectHosts[2]", "invalid_host"),
                ("allowedRedirectHosts[3]", "invalid_host"),
            ]
        );
        let many: Vec<String> = (0..51).map(|i| format!("h{i}.example")).collect();
        let e = input(&serde_json::json!({ "allowedRedirectHosts": many }).to_string())
            .validate("kassa.test")
            .err()
            .unwrap();
        let got: Vec<_> = e
            .field_errors()
            .iter()
            .map(|f| (f.field.as_str(), f.code))
            .collect();
        assert_eq!(got, [("allowedRedirectHosts", "too_many_hosts")]);
    }

    #[test]
    fn the_public_host_is_read_from_the_public_url() {
        assert_eq!(public_host("http://kassa.test"), "kassa.test");
        assert_eq!(
            public_host("https://Pay.Kassa.Example:443/base"),
            "pay.kassa.example"
        );
        assert_eq!(public_host("http://127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(
            public_host("https://kassa.example:8443/"),
            "kassa.example:8443"
        );
    }

    #[test]
    fn kassas_own_host_is_reserved() {
        let e = input(r#"{"billingHost": "Kassa.Test"}"#)
            .validate("kassa.test")
            .err()
            .unwrap();
        assert_eq!(e.field_errors()[0].code, "reserved_host");
        for reserved in ["kassa.test:8443", "pay.kassa.test"] {
            let e = input(&format!(r#"{{"billingHost": "{reserved}"}}"#))
                .validate("kassa.test")
                .err()
                .unwrap();
            assert_eq!(e.field_errors()[0].code, "reserved_host", "{reserved}");
        }
        assert!(input(r#"{"billingHost": "pay.notkassa.test"}"#)
            .validate("kassa.test")
            .is_ok());
    }

    #[test]
    fn ip_literals_and_localhost_are_refused_on_the_field() {
        for (host, code) in [
            ("127.0.0.1", "ip_address_not_allowed"),
            ("[::1]:8080", "ip_address_not_allowed"),
            ("2001:db8::1", "ip_address_not_allowed"),
            ("localhost:8081", "localhost_not_allowed"),
            ("shop.localhost", "localhost_not_allowed"),
        ] {
            let e = input(&serde_json::json!({ "billingHost": host }).to_string())
                .validate("kassa.test")
                .err()
                .unwrap();
            let got: Vec<_> = e
                .field_errors()
                .iter()
                .map(|f| (f.field.as_str(), f.code))
                .collect();
            assert_eq!(got, [("billingHost", code)], "{host}");
        }
    }

    #[test]
    fn found_records_are_shown_short() {
        let found: Vec<String> = ["a", "b\u{7}c", &"x".repeat(200), "d"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let shown = shown_records(&found);
        assert!(shown.starts_with(r#""a", "bc", "xxx"#), "{shown}");
        assert!(shown.ends_with("and 1 more"), "{shown}");
        assert!(shown.len() < 120, "{shown}");
    }
}
