//! The partner's own settings: `/v1/partner` (name, branding, billing host and its verification,
//! and whether its pay pages are in challenge mode), `/v1/api-keys` and `/v1/users` (dashboard users). The rules live in `crate::settings`, which the dashboard uses
//! too.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kassa_core::error::FieldErrors;
use kassa_core::id::{ApiKeyId, PartnerId, UserId};
use kassa_core::role::Role;
use kassa_core::scope::{may_grant, Scope, Scopes};
use kassa_store::{ApiKeyRecord, Page, PageRequest, Partner, User};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::access;
use super::{json_created, list_response, ApiAuth, ApiJson, ListBody, ListQuery, Paging, PathId};
use crate::error::{ApiError, ErrorBody};
use crate::idempotency::ShownOnce;
use crate::settings::{self, SettingsInput};
use crate::state::AppState;

/// The partner, as it shows itself to its own API key. The link secret is never shown.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Partner)]
pub struct PartnerBody {
    id: PartnerId,
    #[schema(inline)]
    object: PartnerObject,
    name: String,
    /// The handle in `/p/{slug}` links; set when the partner is made.
    slug: String,
    /// The host the partner's pay pages and creation links are served on, once verified.
    billing_host: Option<String>,
    /// `pending_verification` until the TXT record of `billingHostVerification` is found
    /// (`POST /v1/partner/billing-host/verify`), then `verified`; `null` without a billing host.
    /// Only a verified host serves pages and links.
    #[schema(inline)]
    billing_host_status: Option<BillingHostStatusBody>,
    /// The DNS record that proves the host is yours; `null` without a billing host.
    billing_host_verification: Option<BillingHostVerificationBody>,
    /// `#rrggbb`.
    brand_color: String,
    #[schema(format = "uri")]
    logo_url: Option<String>,
    #[schema(format = "uri")]
    default_redirect_url: Option<String>,
    require_signed_links: bool,
    /// The hosts an unsigned creation link's `redirectUrl` may lead to, besides the host of
    /// `defaultRedirectUrl`; each matches exactly, in any case (not its subdomains).
    allowed_redirect_hosts: Vec<String>,
    /// Whether the partner's owners must sign in to the dashboard with a second factor.
    require_two_factor: bool,
    #[serde(with = "kassa_core::clock::rfc3339")]
    created_at: OffsetDateTime,
    /// Until when the partner's pay pages are in challenge mode: after many declines in a short
    /// time, their forms ask the payer's browser for a short proof of work. `null` when they
    /// are not.
    #[serde(with = "kassa_core::clock::rfc3339_option")]
    challenge_mode_until: Option<OffsetDateTime>,
    /// Which processor the partner's new payments go through (set by the operator with
    /// `kassa processor set`); never its keys.
    processor: ProcessorBody,
    /// Shown to payers on the pay page, the receipt and in emails (docs/api.md §11).
    #[schema(format = "email")]
    support_email: Option<String>,
    support_phone: Option<String>,
    #[schema(format = "uri")]
    support_url: Option<String>,
    #[schema(format = "uri")]
    terms_url: Option<String>,
    #[schema(format = "uri")]
    privacy_url: Option<String>,
    /// Where Kassa emails the partner when a payment completes, a bank debit is returned or a
    /// webhook endpoint is disabled; `null`: no such email.
    #[schema(format = "email")]
    notification_email: Option<String>,
    /// The IANA time zone every time in the dashboard, CSV files, receipts and emails is shown
    /// in, e.g. `America/New_York`; `UTC` by default.
    timezone: String,
}

/// `processor` on the partner.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PartnerProcessor)]
pub struct ProcessorBody {
    connector: kassa_core::processor::Connector,
    /// The address Kassa calls; `null` for the sandbox.
    #[schema(format = "uri")]
    api_base: Option<String>,
}

/// Where a billing host stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillingHostStatusBody {
    PendingVerification,
    Verified,
}

/// The TXT record a partner publishes to prove it holds its billing host.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BillingHostVerification)]
pub struct BillingHostVerificationBody {
    /// Always `dns_txt`.
    #[serde(rename = "type")]
    #[schema(inline)]
    kind: DnsTxt,
    /// Where to publish it, e.g. `_kassa.pay.acme.example`.
    name: String,
    /// What it must say: `kassa-verification=` and the token.
    value: String,
}

/// The `type` field: always `"dns_txt"`.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub enum DnsTxt {
    #[default]
    #[serde(rename = "dns_txt")]
    DnsTxt,
}

/// The `object` field: always `"partner"`.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub enum PartnerObject {
    #[default]
    #[serde(rename = "partner")]
    Partner,
}

impl PartnerBody {
    /// The partner as its API key sees it now, with its challenge mode and processor.
    async fn read(state: &AppState, p: &Partner) -> Result<Self, ApiError> {
        let challenge = crate::challenge_mode::active_until(state, &p.id).await?;
        let processor = crate::processors::show(state.store.as_ref(), None, p)
            .await
            .map_err(ApiError::internal)?;
        Ok(Self::new(
            p,
            challenge,
            ProcessorBody {
                connector: processor.connector,
                api_base: processor.api_base,
            },
        ))
    }

    fn new(
        p: &Partner,
        challenge_mode_until: Option<OffsetDateTime>,
        processor: ProcessorBody,
    ) -> Self {
        PartnerBody {
            id: p.id.clone(),
            object: PartnerObject::Partner,
            name: p.name.clone(),
            slug: p.slug.to_string(),
            billing_host: p.billing_host.as_ref().map(ToString::to_string),
            billing_host_status: p.billing_host_verification.as_ref().map(|v| {
                if v.is_verified() {
                    BillingHostStatusBody::Verified
                } else {
                    BillingHostStatusBody::PendingVerification
                }
            }),
            billing_host_verification: match (&p.billing_host, &p.billing_host_verification) {
                (Some(host), Some(v)) => Some(BillingHostVerificationBody {
                    kind: DnsTxt::DnsTxt,
                    name: kassa_core::billing_host::record_name(host),
                    value: v.record_value(),
                }),
                _ => None,
            },
            brand_color: p.brand_color.to_string(),
            logo_url: p.logo_url.as_ref().map(ToString::to_string),
            default_redirect_url: p.default_redirect_url.as_ref().map(ToString::to_string),
            require_signed_links: p.require_signed_links,
            allowed_redirect_hosts: p
                .allowed_redirect_hosts
                .iter()
                .map(str::to_string)
                .collect(),
            require_two_factor: p.require_two_factor,
            created_at: p.created_at,
            challenge_mode_until,
            processor,
            support_email: p.contact.support_email.as_ref().map(ToString::to_string),
            support_phone: p.contact.support_phone.as_ref().map(ToString::to_string),
            support_url: p.contact.support_url.as_ref().map(ToString::to_string),
            terms_url: p.contact.terms_url.as_ref().map(ToString::to_string),
            privacy_url: p.contact.privacy_url.as_ref().map(ToString::to_string),
            notification_email: p.notification_email.as_ref().map(ToString::to_string),
            timezone: p.timezone.name().to_owned(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/partner",
    tag = "Settings",
    operation_id = "getPartner",
    summary = "Get your settings",
    description = "The partner the API key belongs to: its name, branding, billing host, \
        whether creation links must be signed and where unsigned ones may redirect to, and until \
        when its pay pages are in challenge mode. The link secret is never shown.",
    responses(
        (status = 200, description = "The partner", body = PartnerBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
    ),
    security(("apiKey" = ["read"])),
)]
pub async fn get_partner(
    State(state): State<AppState>,
    auth: ApiAuth,
) -> Result<Json<PartnerBody>, ApiError> {
    // Read again: the key's partner was read when the key was checked.
    let partner = state
        .store
        .partner_by_id(&auth.partner.id)
        .await?
        .ok_or_else(|| ApiError::not_found("partner"))?;
    Ok(Json(PartnerBody::read(&state, &partner).await?))
}

#[utoipa::path(
    patch,
    path = "/v1/partner",
    tag = "Settings",
    operation_id = "updatePartner",
    summary = "Change your settings",
    description = "Changes the fields given; absent fields stay as they are, and `null` (or an \
        empty string) clears `billingHost`, `logoUrl`, `defaultRedirectUrl` and the contact, \
        policy and notification fields; \
        `allowedRedirectHosts` is replaced by the list given (`null` or `[]` clears it). Every \
        invalid field is listed at once and nothing is changed. A billing host is unique across \
        partners; a new one is `pending_verification` until verified \
        (`POST /v1/partner/billing-host/verify`). IP addresses, `localhost` and Kassa's own host \
        are refused.",
    request_body = SettingsInput,
    responses(
        (status = 200, description = "The changed partner", body = PartnerBody),
        (status = 400, description = "Invalid fields (all listed in `errors`) or malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 403, description = "`insufficient_scope`: the security settings \
            (`requireSignedLinks`, `billingHost`, `allowedRedirectHosts`) need the `admin` scope", body = ErrorBody),
        (status = 409, description = "`billing_host_taken`: another partner uses this billing host", body = ErrorBody),
    ),
    security(("apiKey" = ["settings"])),
)]
pub async fn update_partner(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<SettingsInput>,
) -> Result<Json<PartnerBody>, ApiError> {
    if !body.security_fields().is_empty() {
        let operation = format!("PATCH /v1/partner {}", body.security_fields().join(", "));
        access::require(&state, &auth, Scope::Admin, Some(&operation)).await?;
    }
    let partner = settings::update_partner(&state, &auth.partner, &auth.caller, body).await?;
    Ok(Json(PartnerBody::read(&state, &partner).await?))
}

#[utoipa::path(
    post,
    path = "/v1/partner/billing-host/verify",
    tag = "Settings",
    operation_id = "verifyBillingHost",
    summary = "Verify your billing host",
    description = "Looks up the TXT record of `billingHostVerification` (at \
        `_kassa.<billingHost>`) and, when it carries the value shown, makes the billing host \
        `verified`: from then on it serves your pay pages and creation links. A host that is \
        verified already answers as it is. Nothing changes when the record is missing or wrong.",
    responses(
        (status = 200, description = "The partner, its billing host verified", body = PartnerBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`billing_host_changed`: the host changed during the \
            lookup; or `idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`billing_host_not_verified`: no TXT record with the \
            expected value (the message says what was looked up and found); `no_billing_host`", body = ErrorBody),
        (status = 503, description = "`dns_lookup_failed`: the DNS lookup failed or timed out; \
            try again", body = ErrorBody),
    ),
    security(("apiKey" = ["admin"])),
)]
pub async fn verify_billing_host(
    State(state): State<AppState>,
    auth: ApiAuth,
) -> Result<Json<PartnerBody>, ApiError> {
    let partner = settings::verify_billing_host(&state, &auth.partner, &auth.caller).await?;
    Ok(Json(PartnerBody::read(&state, &partner).await?))
}

/// An API key as listed: never the key itself, only its first characters.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiKey)]
pub struct ApiKeyBody {
    id: ApiKeyId,
    #[schema(inline)]
    object: ApiKeyObject,
    label: String,
    /// The first characters of the key (`sk_` and four more), to recognise it by.
    prefix: String,
    /// What the key may do.
    scopes: Vec<Scope>,
    #[serde(with = "kassa_core::clock::rfc3339")]
    created_at: OffsetDateTime,
    /// When it was revoked; a revoked key no longer authenticates.
    #[serde(with = "kassa_core::clock::rfc3339_option")]
    revoked_at: Option<OffsetDateTime>,
}

/// The `object` field: always `"api_key"`.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub enum ApiKeyObject {
    #[default]
    #[serde(rename = "api_key")]
    ApiKey,
}

impl From<&ApiKeyRecord> for ApiKeyBody {
    fn from(k: &ApiKeyRecord) -> Self {
        ApiKeyBody {
            id: k.id.clone(),
            object: ApiKeyObject::ApiKey,
            label: k.label.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.iter().collect(),
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new API key, with the key itself: shown in this answer only.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CreatedApiKey)]
pub struct CreatedApiKeyBody {
    id: ApiKeyId,
    #[schema(inline)]
    object: ApiKeyObject,
    label: String,
    prefix: String,
    scopes: Vec<Scope>,
    #[serde(with = "kassa_core::clock::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "kassa_core::clock::rfc3339_option")]
    revoked_at: Option<OffsetDateTime>,
    /// The key (`sk_…`), shown this once: only a hash of it is kept. `null` when this is the
    /// replay of an earlier request with the same `Idempotency-Key`.
    key: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateApiKeyBody)]
pub struct CreateKeyBody {
    /// What the key is for, e.g. `billing-server`: 1 to 100 characters.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 100)]
    label: Option<String>,
    /// What the key may do; default: every scope but `admin`. A key can only make keys with
    /// scopes it has itself.
    #[schema(value_type = Option<Vec<Scope>>, nullable = false)]
    scopes: Option<Vec<String>>,
}

/// The scopes of a new key as the request names them: known names, at least one.
fn parse_scopes(names: &[String]) -> Result<Scopes, ApiError> {
    let mut errors = FieldErrors::new();
    let mut scopes = Scopes::NONE;
    for (i, name) in names.iter().enumerate() {
        match Scope::parse(name) {
            Some(scope) => scopes = scopes.iter().chain([scope]).collect(),
            None => errors.add(
                format!("scopes[{i}]"),
                "invalid_value",
                "must be one of read, payments, refunds, webhooks, settings, admin",
            ),
        }
    }
    if names.is_empty() {
        errors.add("scopes", "invalid_value", "must name at least one scope");
    }
    errors.finish().map_err(ApiError::validation)?;
    Ok(scopes)
}

/// A page of the list, under its own name in the OpenAPI document.
type ApiKeyList = ListBody<ApiKeyBody>;

/// The page of `items` (newest first) that `page` asks for; `id` names an item for the cursor.
fn page_of<T>(items: Vec<T>, page: &PageRequest, id: impl Fn(&T) -> &str) -> Page<T> {
    let start = match &page.starting_after {
        None => 0,
        Some(after) => match items.iter().position(|i| id(i) == after) {
            Some(at) => at + 1,
            None => return Page::UnknownCursor,
        },
    };
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let has_more = items.len().saturating_sub(start) > limit;
    let data = items.into_iter().skip(start).take(limit).collect();
    Page::Items { data, has_more }
}

#[utoipa::path(
    get,
    path = "/v1/api-keys",
    tag = "Settings",
    operation_id = "listApiKeys",
    summary = "List API keys",
    description = "Your API keys, revoked ones too, newest first. Keys themselves are never shown \
        again; `prefix` tells them apart.",
    params(Paging),
    responses(
        (status = 200, description = "A page of API keys", body = ApiKeyList),
        (status = 400, description = "An invalid or unknown query parameter, or an unknown \
            `startingAfter`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
    ),
    security(("apiKey" = ["admin"])),
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    auth: ApiAuth,
    query: ListQuery,
) -> Result<Response, ApiError> {
    query.only(&[])?;
    let page = query.page()?;
    let keys = settings::api_keys(&state, &auth.partner).await?;
    let keys = page_of(keys, &page, |k| k.id.as_str());
    Ok(list_response(keys.map(|k| ApiKeyBody::from(&k)))?.into_response())
}

#[utoipa::path(
    post,
    path = "/v1/api-keys",
    tag = "Settings",
    operation_id = "createApiKey",
    summary = "Create an API key",
    description = "The answer carries the key itself (`key`), this once: only a hash of it is \
        kept, so store it now.",
    request_body = CreateKeyBody,
    responses(
        (status = 201, description = "The new key, with the key itself", body = CreatedApiKeyBody),
        (status = 400, description = "Invalid fields (all listed in `errors`) or malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["admin"])),
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<CreateKeyBody>,
) -> Result<Response, ApiError> {
    let label = body.label.unwrap_or_default();
    let scopes = match body.scopes {
        None => Scopes::default_for_new_key(),
        Some(names) => parse_scopes(&names)?,
    };
    // A key never makes a key that may do more than itself.
    if let Err(missing) = may_grant(auth.key.scopes, scopes) {
        let operation = "POST /v1/api-keys (granting scopes the key lacks)";
        for scope in missing.into_iter().take(1) {
            access::deny(&state, &auth, scope, Some(operation)).await?;
        }
    }
    let (record, key) =
        settings::create_api_key(&state, &auth.partner, &auth.caller, &label, scopes).await?;
    let mut resp = json_created(CreatedApiKeyBody {
        id: record.id,
        object: ApiKeyObject::ApiKey,
        label: record.label,
        prefix: record.prefix,
        scopes: record.scopes.iter().collect(),
        created_at: record.created_at,
        revoked_at: record.revoked_at,
        key: Some(key.expose().clone()),
    });
    resp.extensions_mut().insert(ShownOnce(&["key"]));
    Ok(resp)
}

#[utoipa::path(
    post,
    path = "/v1/api-keys/{id}/revoke",
    tag = "Settings",
    operation_id = "revokeApiKey",
    summary = "Revoke an API key",
    description = "The key stops authenticating at once (also when it is the key making this \
        call). Revoking a revoked key changes nothing and answers the key again.",
    params(("id" = ApiKeyId, Path, description = "The key's id (`key_…`)")),
    responses(
        (status = 200, description = "The revoked key", body = ApiKeyBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such API key", body = ErrorBody),
        (status = 409, description = "`idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["admin"])),
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<ApiKeyId>,
) -> Result<Json<ApiKeyBody>, ApiError> {
    let key = settings::revoke_api_key(&state, &auth.partner, &auth.caller, id.as_str()).await?;
    Ok(Json(ApiKeyBody::from(&key)))
}

/// A dashboard user of the partner.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct UserBody {
    id: UserId,
    #[schema(inline)]
    object: UserObject,
    /// Lowercased; signs in to the dashboard.
    #[schema(format = Email)]
    email: String,
    /// `owner` (everything), `staff` (views; payment requests and refunds) or `viewer` (views
    /// only).
    role: Role,
    /// Whether they sign in with a second factor (a TOTP code).
    two_factor: bool,
    #[serde(with = "kassa_core::clock::rfc3339")]
    created_at: OffsetDateTime,
}

/// The `object` field: always `"user"`.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub enum UserObject {
    #[default]
    #[serde(rename = "user")]
    User,
}

impl From<&User> for UserBody {
    fn from(u: &User) -> Self {
        UserBody {
            id: u.id.clone(),
            object: UserObject::User,
            email: u.email.clone(),
            role: u.role,
            two_factor: u.two_factor,
            created_at: u.created_at,
        }
    }
}

#[derive(Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = CreateUserBody)]
pub struct CreateUserBody {
    /// Signs in to the dashboard; one user per email in a partner.
    #[schema(required = true, nullable = false, format = Email)]
    email: Option<String>,
    /// `owner`, `staff` (the default) or `viewer`.
    #[schema(value_type = Option<Role>, nullable = false)]
    role: Option<String>,
    /// At least 12 characters; kept only as an Argon2id hash.
    #[schema(required = true, nullable = false, min_length = 12, format = Password)]
    password: Option<String>,
}

/// Never shows the password.
impl std::fmt::Debug for CreateUserBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateUserBody")
            .field("email", &self.email)
            .field("role", &self.role)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// A page of the list, under its own name in the OpenAPI document.
type UserList = ListBody<UserBody>;

#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "Settings",
    operation_id = "listUsers",
    summary = "List dashboard users",
    description = "The people who sign in to your dashboard, newest first.",
    params(Paging),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 400, description = "An invalid or unknown query parameter, or an unknown \
            `startingAfter`", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
    ),
    security(("apiKey" = ["admin"])),
)]
pub async fn list_users(
    State(state): State<AppState>,
    auth: ApiAuth,
    query: ListQuery,
) -> Result<Response, ApiError> {
    query.only(&[])?;
    let page = query.page()?;
    let users = settings::users(&state, &auth.partner).await?;
    let users = page_of(users, &page, |u| u.id.as_str());
    Ok(list_response(users.map(|u| UserBody::from(&u)))?.into_response())
}

#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "Settings",
    operation_id = "createUser",
    summary = "Add a dashboard user",
    request_body = CreateUserBody,
    responses(
        (status = 201, description = "The new user", body = UserBody),
        (status = 400, description = "Invalid fields (all listed in `errors`) or malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 409, description = "`email_taken`: a user of yours has this email; or \
            `idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`idempotency_key_reused` with another body", body = ErrorBody),
    ),
    security(("apiKey" = ["admin"])),
)]
pub async fn create_user(
    State(state): State<AppState>,
    auth: ApiAuth,
    ApiJson(body): ApiJson<CreateUserBody>,
) -> Result<Response, ApiError> {
    let user = settings::add_user(
        &state,
        &auth.partner,
        &auth.caller,
        body.email.as_deref().unwrap_or_default(),
        body.password.as_deref().unwrap_or_default(),
        body.role.as_deref(),
    )
    .await?;
    Ok(json_created(UserBody::from(&user)))
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeletedUser)]
pub struct DeletedUser {
    id: UserId,
    #[schema(inline)]
    object: UserObject,
    /// Always `true`.
    deleted: bool,
}

#[utoipa::path(
    delete,
    path = "/v1/users/{id}",
    tag = "Settings",
    operation_id = "deleteUser",
    summary = "Remove a dashboard user",
    description = "The user can no longer sign in, and their sessions end at once. Your last \
        owner cannot be removed (`last_owner`), so the dashboard always has someone to manage it.",
    params(("id" = UserId, Path, description = "The user's id (`usr_…`)")),
    responses(
        (status = 200, description = "Removed", body = DeletedUser),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "`last_owner`: the only owner left", body = ErrorBody),
    ),
    security(("apiKey" = ["admin"])),
)]
pub async fn delete_user(
    State(state): State<AppState>,
    auth: ApiAuth,
    PathId(id): PathId<UserId>,
) -> Result<Json<DeletedUser>, ApiError> {
    let user = settings::remove_user(&state, &auth.partner, &auth.caller, id.as_str()).await?;
    Ok(Json(DeletedUser {
        id: user.id,
        object: UserObject::User,
        deleted: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(limit: i64, after: Option<&str>) -> PageRequest {
        PageRequest {
            limit,
            starting_after: after.map(str::to_string),
        }
    }

    fn items(p: Page<&'static str>) -> (Vec<&'static str>, bool) {
        match p {
            Page::Items { data, has_more } => (data, has_more),
            Page::UnknownCursor => panic!("unknown cursor"),
        }
    }

    #[test]
    fn pages_of_a_list() {
        let all = vec!["c", "b", "a"];
        fn id<'a>(s: &'a &'static str) -> &'a str {
            s
        }
        assert_eq!(
            items(page_of(all.clone(), &page(20, None), id)),
            (vec!["c", "b", "a"], false)
        );
        assert_eq!(
            items(page_of(all.clone(), &page(2, None), id)),
            (vec!["c", "b"], true)
        );
        assert_eq!(
            items(page_of(all.clone(), &page(2, Some("b")), id)),
            (vec!["a"], false)
        );
        assert_eq!(
            items(page_of(all.clone(), &page(1, Some("a")), id)),
            (vec![], false)
        );
        assert!(matches!(
            page_of(all, &page(2, Some("x")), id),
            Page::UnknownCursor
        ));
    }
}
